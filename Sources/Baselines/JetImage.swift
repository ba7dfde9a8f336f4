import Foundation

// Jet images for the CNNAE (spec §12.2) and the jet features computed back from an image (the
// paper's footnote 3). The reference pixelates JetNet's relative coordinates directly
// (cnn-jet-autoencoder, data/jet_image.py `pixelate`, called with abs_coord = False).

/// The pixel grid: `pixelCount` equal bins on [−R, R] in both η_rel and φ_rel.
public struct JetImageBinning: Hashable, Sendable {
    /// npix, the bins per axis (40 in the reference).
    public let pixelCount: Int
    /// R, the half-width of the window (0.8 in the reference TF script; the paper gives no value).
    public let radius: Double
    /// The npix + 1 bin edges, computed as numpy.linspace(−R, R, npix + 1) computes them
    /// (i·step + (−R) with step = 2R/npix, the last edge exactly R), so that a coordinate lying on
    /// an edge falls in the same bin as in the reference.
    public let edges: [Double]

    public init(pixelCount: Int = 40, radius: Double = 0.8) {
        precondition(pixelCount >= 1, "JetImageBinning needs at least one pixel, got \(pixelCount)")
        precondition(radius > 0 && radius.isFinite, "JetImageBinning needs a positive radius, got \(radius)")
        self.pixelCount = pixelCount
        self.radius = radius
        let start = -radius, step = (radius - start) / Double(pixelCount)
        var edges = (0...pixelCount).map { Double($0) * step + start }
        edges[pixelCount] = radius
        self.edges = edges
    }

    /// The bin i with edges[i] ≤ x < edges[i + 1], or nil outside [−R, R) (x = +R is outside, as
    /// in the reference's `np.digitize(x, edges) − 1` followed by the 0 ≤ i < npix test; NaN is
    /// outside too).
    public func bin(_ x: Double) -> Int? {
        // Binary search for the number of edges ≤ x (numpy's searchsorted(side = "right")).
        var low = 0, high = edges.count
        while low < high {
            let mid = (low + high) / 2
            if edges[mid] <= x { low = mid + 1 } else { high = mid }
        }
        let i = low - 1
        return i >= 0 && i < pixelCount ? i : nil
    }

    /// The centre of bin i, (edges[i] + edges[i + 1]) / 2.
    public func centre(_ i: Int) -> Double { (edges[i] + edges[i + 1]) / 2 }
}

/// One jet's image: `pixelCount × pixelCount` intensities, row-major image[φ bin][η bin] (the
/// reference's `jet_image[phi, eta]`, the rows and columns of its 40 × 40 × 1 Keras input).
public struct JetImage: Hashable, Sendable {
    public let binning: JetImageBinning
    /// The normalised image: Σ pT_rel per pixel divided by the sum over all pixels, so it sums to 1.
    /// A jet with no particle inside the window stays all zeros (the reference divides 0 by 0 and
    /// gets NaNs; such a jet does not occur in JetNet with R = 0.8, and zeros keep the
    /// network finite).
    public let intensities: [Double]
    /// Particles with pT_rel ≠ 0 that fell outside the window (or had a NaN coordinate) and were
    /// dropped, as the reference drops them. Padded slots (pT_rel = 0) are never counted.
    public let droppedParticleCount: Int
    /// The Σ pT_rel of the dropped particles (before normalisation).
    public let droppedTransverseMomentum: Double

    /// Pixelates one jet. `particles` holds `featuresPerParticle` numbers per particle slot whose
    /// first three are (η_rel, φ_rel, pT_rel), JetNet's particle-feature order (its fourth column,
    /// the mask, may follow: pass 4); padded slots have pT_rel = 0 and add nothing. Particles add
    /// their pT_rel to image[φ bin][η bin] in slot order, then the image is divided by its sum
    /// (summed in row-major order; numpy sums pairwise, so the last bit may differ).
    public init(particles: UnsafeBufferPointer<Double>, featuresPerParticle: Int = 3,
                binning: JetImageBinning = JetImageBinning()) {
        precondition(featuresPerParticle >= 3 && particles.count % featuresPerParticle == 0,
                     "JetImage: need (η_rel, φ_rel, pT_rel, …) rows of \(featuresPerParticle) numbers, got \(particles.count) numbers")
        let npix = binning.pixelCount
        var image = [Double](repeating: 0, count: npix * npix)
        var dropped = 0, droppedPt = 0.0
        for slot in 0..<(particles.count / featuresPerParticle) {
            let eta = particles[slot * featuresPerParticle], phi = particles[slot * featuresPerParticle + 1]
            let pt = particles[slot * featuresPerParticle + 2]
            if let i = binning.bin(eta), let j = binning.bin(phi) {
                image[j * npix + i] += pt
            } else if pt != 0 {
                dropped += 1
                droppedPt += pt
            }
        }
        var total = 0.0
        for value in image { total += value }
        if total != 0 {
            for k in image.indices { image[k] /= total }
        }
        self.binning = binning
        intensities = image
        droppedParticleCount = dropped
        droppedTransverseMomentum = droppedPt
    }

    public init(particles: [Double], featuresPerParticle: Int = 3, binning: JetImageBinning = JetImageBinning()) {
        self = particles.withUnsafeBufferPointer { JetImage(particles: $0, featuresPerParticle: featuresPerParticle, binning: binning) }
    }

    /// The jet features of this image (see `JetImageFeatures(image:binning:)`).
    public var jetFeatures: JetImageFeatures { JetImageFeatures(image: intensities, binning: binning) }
}

/// Where a jet image sits: the jet's pT (the unit of the pixel intensities; GeV for JetNet), η and
/// azimuth Φ (JetNet's jet pT and η, and the azimuth `preprocess` drew).
public struct JetFrame: Hashable, Sendable {
    public var pt: Double
    public var eta: Double
    public var phi: Double
    public init(pt: Double, eta: Double, phi: Double) {
        self.pt = pt
        self.eta = eta
        self.phi = phi
    }
}

/// Jet mass, pT, η and φ of a jet image (paper footnote 3; spec §12.2): every pixel is a massless
/// particle at its centre (η_c, φ_c) with pT equal to its intensity I, i.e. the 4-momentum
/// I·(cosh η_c, cos φ_c, sin φ_c, sinh η_c); the jet is their sum, and its features are those of
/// §11.2: M = sign(m²)·√|m²|, pT = √(px² + py²), η = asinh(pz / (pT + 1e-16)), φ = atan2(py, px).
/// The units are those of the image (pT_rel, summing to 1 for a normalised image), so M and pT
/// are relative to the jet pT and η, φ relative to the jet axis.
public struct JetImageFeatures: Hashable, Sendable {
    /// The summed 4-momentum (E, px, py, pz).
    public let momentum: SIMD4<Double>
    public let mass: Double
    public let pt: Double
    public let eta: Double
    public let phi: Double

    /// `image` row-major [φ bin][η bin] on `binning`'s grid (a reconstruction works as well as a
    /// target; pixels are summed in row-major order). With a `frame`, every pixel is placed at
    /// (η_jet + η_c, Φ + φ_c) with pT = I·pT_jet, so the features are the jet's mass and pT in the
    /// frame's units and its absolute η and φ — the same quantities as a four-momentum model's
    /// Table 3 row; without one, they are relative to the jet (pT_jet = 1, axis at 0).
    public init(image: UnsafeBufferPointer<Double>, binning: JetImageBinning = JetImageBinning(), frame: JetFrame? = nil) {
        let npix = binning.pixelCount
        precondition(image.count == npix * npix, "JetImageFeatures: an image of \(npix)×\(npix) pixels was expected, got \(image.count)")
        let scale = frame?.pt ?? 1, etaJet = frame?.eta ?? 0, phiJet = frame?.phi ?? 0
        var p = SIMD4<Double>()
        for row in 0..<npix {
            let phi = phiJet + binning.centre(row)
            let (cosPhi, sinPhi) = (cos(phi), sin(phi))
            for column in 0..<npix {
                let intensity = image[row * npix + column]
                guard intensity != 0 else { continue }
                let eta = etaJet + binning.centre(column)
                p += (scale * intensity) * SIMD4(cosh(eta), cosPhi, sinPhi, sinh(eta))
            }
        }
        momentum = p
        let m2 = p[0] * p[0] - p[1] * p[1] - p[2] * p[2] - p[3] * p[3]
        mass = m2 < 0 ? -(-m2).squareRoot() : m2.squareRoot()
        pt = (p[1] * p[1] + p[2] * p[2]).squareRoot()
        eta = asinh(p[3] / (pt + 1e-16))
        phi = atan2(p[2], p[1])
    }

    public init(image: [Double], binning: JetImageBinning = JetImageBinning(), frame: JetFrame? = nil) {
        self = image.withUnsafeBufferPointer { JetImageFeatures(image: $0, binning: binning, frame: frame) }
    }

    /// (mass, pT, η, φ), the order of Table 3's columns.
    public var values: [Double] { [mass, pt, eta, phi] }
}
