import XCTest
@testable import Baselines

// Jet images (spec §12.2) and the jet features of an image (paper footnote 3).

final class JetImageTests: XCTestCase {
    /// numpy.linspace(−0.8, 0.8, 5) = [−0.8, −0.4, 0.0, 0.40000000000000013, 0.8] (edge 3 is
    /// 3·0.4 − 0.8 rounded, as numpy computes it), and linspace(−0.8, 0.8, 41)[20] is exactly 0.
    func testEdgesMatchNumpyLinspace() {
        let small = JetImageBinning(pixelCount: 4, radius: 0.8)
        XCTAssertEqual(small.edges, [-0.8, -0.4, 0.0, 0.40000000000000013, 0.8])
        let paper = JetImageBinning()
        XCTAssertEqual(paper.pixelCount, 40)
        XCTAssertEqual(paper.radius, 0.8)
        XCTAssertEqual(paper.edges.count, 41)
        XCTAssertEqual(paper.edges[20], 0)
        XCTAssertEqual(paper.edges[18], -0.08000000000000007)
        XCTAssertEqual(paper.edges[21], 0.039999999999999925)
    }

    /// Bin i holds edges[i] ≤ x < edges[i + 1]: a coordinate on an edge goes to the bin above it,
    /// −R is the first bin, +R and beyond are outside (np.digitize(x, edges) − 1, then 0 ≤ i < npix).
    func testPixelIndicesAtEdges() {
        let b = JetImageBinning(pixelCount: 4, radius: 0.8)
        XCTAssertEqual(b.bin(-0.8), 0)                      // −R: included
        XCTAssertEqual(b.bin(-0.4), 1)                      // on the edge between bins 0 and 1
        XCTAssertEqual(b.bin((-0.4).nextDown), 0)
        XCTAssertEqual(b.bin(0), 2)
        XCTAssertEqual(b.bin(-Double.ulpOfOne), 1)
        XCTAssertEqual(b.bin(0.4), 2)                       // 0.4 < edges[3] = 0.40000000000000013
        XCTAssertEqual(b.bin(0.40000000000000013), 3)
        XCTAssertEqual(b.bin(0.8.nextDown), 3)
        XCTAssertNil(b.bin(0.8))                            // +R: excluded
        XCTAssertNil(b.bin((-0.8).nextDown))
        XCTAssertNil(b.bin(5))
        XCTAssertNil(b.bin(.nan))
        XCTAssertEqual(JetImageBinning().bin(0), 20)
        XCTAssertEqual(JetImageBinning().bin(-0.8), 0)
        XCTAssertEqual(JetImageBinning().bin(0.79), 39)
        XCTAssertEqual(b.centre(0), -0.6, accuracy: 1e-15)
        XCTAssertEqual(b.centre(3), 0.6, accuracy: 1e-15)
    }

    /// Four particles on the 4 × 4 grid of R = 0.8 plus a padded slot and two outsiders:
    ///   (η, φ, pT) = (0.1, −0.5, 0.2)  → image[φ 0][η 2]
    ///                (0.0,  0.0, 0.3)  → image[2][2]
    ///                (0.1,  0.0, 0.1)  → image[2][2] (same pixel: 0.3 + 0.1 = 0.4)
    ///                (−0.8, 0.7, 0.2)  → image[3][0]
    ///                (0.8,  0.0, 0.5)  → dropped (η = +R)
    ///                (0.0, −0.9, 0.1)  → dropped (φ < −R)
    ///                (0.0,  0.0, 0.0)  → padded slot, adds 0
    /// Sum inside = 0.8, so the image is [0][2] = 0.25, [2][2] = 0.5, [3][0] = 0.25.
    func testPixelationNormalisationAndDroppedCount() {
        let particles: [Double] = [0.1, -0.5, 0.2, 0.0, 0.0, 0.3, 0.1, 0.0, 0.1, -0.8, 0.7, 0.2,
                                   0.8, 0.0, 0.5, 0.0, -0.9, 0.1, 0.0, 0.0, 0.0]
        let image = JetImage(particles: particles, binning: JetImageBinning(pixelCount: 4, radius: 0.8))
        var expected = [Double](repeating: 0, count: 16)
        expected[0 * 4 + 2] = 0.25
        expected[2 * 4 + 2] = 0.5
        expected[3 * 4 + 0] = 0.25
        for k in 0..<16 { XCTAssertEqual(image.intensities[k], expected[k], accuracy: 1e-15, "pixel \(k)") }
        XCTAssertEqual(image.intensities.reduce(0, +), 1, accuracy: 1e-15)
        XCTAssertEqual(image.droppedParticleCount, 2)
        XCTAssertEqual(image.droppedTransverseMomentum, 0.6, accuracy: 1e-15)

        // JetNet's 4-column rows (η_rel, φ_rel, pT_rel, mask) give the same image.
        var withMask: [Double] = []
        for slot in 0..<(particles.count / 3) { withMask += particles[(3 * slot)..<(3 * slot + 3)] + [1.0] }
        XCTAssertEqual(JetImage(particles: withMask, featuresPerParticle: 4, binning: image.binning).intensities,
                       image.intensities)
    }

    /// No particle inside the window: the image stays all zeros (the reference would divide 0 by 0).
    func testEmptyImageStaysZero() {
        let image = JetImage(particles: [0.9, 0.0, 1.0, 0.0, 0.0, 0.0], binning: JetImageBinning(pixelCount: 4, radius: 0.8))
        XCTAssertTrue(image.intensities.allSatisfy { $0 == 0 })
        XCTAssertEqual(image.droppedParticleCount, 1)
        let features = image.jetFeatures
        XCTAssertEqual(features.values, [0, 0, 0, 0])
    }

    /// One pixel of intensity 1 at bin centres η_c = 0.6 (column 3), φ_c = 0.2 (row 2) on the
    /// 4 × 4, R = 0.8 grid: p = (cosh 0.6, cos 0.2, sin 0.2, sinh 0.6), a massless particle:
    /// m² = cosh² − sinh² − cos² − sin² = 0, pT = 1, η = asinh(sinh 0.6 / 1) = 0.6, φ = 0.2.
    func testJetFeaturesOfOnePixel() {
        var image = [Double](repeating: 0, count: 16)
        image[2 * 4 + 3] = 1
        let f = JetImageFeatures(image: image, binning: JetImageBinning(pixelCount: 4, radius: 0.8))
        XCTAssertEqual(f.momentum[0], cosh(0.6), accuracy: 1e-15)
        XCTAssertEqual(f.mass, 0, accuracy: 1e-7)  // √|rounding of m² ~ 1e-16|
        XCTAssertEqual(f.pt, 1, accuracy: 1e-15)
        XCTAssertEqual(f.eta, 0.6, accuracy: 1e-14)
        XCTAssertEqual(f.phi, 0.2, accuracy: 1e-15)
    }

    /// Two pixels of 0.5 at (η_c, φ_c) = (±0.6, 0.2): p = (cosh 0.6, cos 0.2, sin 0.2, 0), so
    /// pT = 1, η = 0, φ = 0.2 and m² = cosh² 0.6 − 1 = sinh² 0.6: M = sinh 0.6 = 0.63665….
    /// Two pixels of 0.5 at (η_c, φ_c) = (0.2, ±0.6): p = (cosh 0.2, cos 0.6, 0, sinh 0.2), so
    /// pT = cos 0.6, φ = 0, η = asinh(sinh 0.2 / cos 0.6) and m² = cosh² 0.2 − sinh² 0.2 − cos² 0.6
    /// = sin² 0.6: M = sin 0.6 = 0.56464….
    func testJetFeaturesOfTwoPixels() {
        let binning = JetImageBinning(pixelCount: 4, radius: 0.8)
        var alongEta = [Double](repeating: 0, count: 16)
        alongEta[2 * 4 + 3] = 0.5   // φ row 2 (0.2), η column 3 (0.6)
        alongEta[2 * 4 + 0] = 0.5   // η column 0 (−0.6)
        let f = JetImageFeatures(image: alongEta, binning: binning)
        XCTAssertEqual(f.mass, sinh(0.6), accuracy: 1e-14)
        XCTAssertEqual(f.pt, 1, accuracy: 1e-15)
        XCTAssertEqual(f.eta, 0, accuracy: 1e-15)
        XCTAssertEqual(f.phi, 0.2, accuracy: 1e-15)

        var alongPhi = [Double](repeating: 0, count: 16)
        alongPhi[0 * 4 + 2] = 0.5   // φ row 0 (−0.6), η column 2 (0.2)
        alongPhi[3 * 4 + 2] = 0.5   // φ row 3 (0.6)
        let g = JetImageFeatures(image: alongPhi, binning: binning)
        XCTAssertEqual(g.mass, sin(0.6), accuracy: 1e-14)
        XCTAssertEqual(g.pt, cos(0.6), accuracy: 1e-15)
        XCTAssertEqual(g.eta, asinh(sinh(0.2) / cos(0.6)), accuracy: 1e-14)
        XCTAssertEqual(g.phi, 0, accuracy: 1e-15)
        XCTAssertEqual(g.values, [g.mass, g.pt, g.eta, g.phi])
    }

    /// The two-pixel jet along η (M = sinh 0.6 relative to a unit pT) placed in the frame of a jet of
    /// pT 1000 GeV at η = 1.2, Φ = 3.0: the pixels sit at η = 1.2 ± 0.6, φ = 3.2 (wrapping past π
    /// is harmless, φ is read back by atan2) with pT 500 each, so p = 500·(cosh 1.8 + cosh 0.6,
    /// 2 cos 3.2, 2 sin 3.2, sinh 1.8 + sinh 0.6): pT = 1000, φ = 3.2 − 2π,
    /// η = asinh((sinh 1.8 + sinh 0.6)/2) = asinh(sinh 1.2 · cosh 0.6), and the mass is the
    /// boost-invariant √(2·500·500·(cosh 1.2 − 1)) = 1000·sinh 0.6 GeV.
    func testJetFeaturesInTheJetsFrame() {
        let binning = JetImageBinning(pixelCount: 4, radius: 0.8)
        var alongEta = [Double](repeating: 0, count: 16)
        alongEta[2 * 4 + 3] = 0.5
        alongEta[2 * 4 + 0] = 0.5
        let f = JetImageFeatures(image: alongEta, binning: binning, frame: JetFrame(pt: 1000, eta: 1.2, phi: 3.0))
        XCTAssertEqual(f.momentum[0], 500 * (cosh(1.8) + cosh(0.6)), accuracy: 1e-10)
        XCTAssertEqual(f.momentum[3], 500 * (sinh(1.8) + sinh(0.6)), accuracy: 1e-10)
        XCTAssertEqual(f.pt, 1000, accuracy: 1e-10)
        XCTAssertEqual(f.phi, 3.2 - 2 * Double.pi, accuracy: 1e-14)
        XCTAssertEqual(f.eta, asinh(sinh(1.2) * cosh(0.6)), accuracy: 1e-14)
        XCTAssertEqual(f.mass, 1000 * sinh(0.6), accuracy: 1e-8)
    }
}
