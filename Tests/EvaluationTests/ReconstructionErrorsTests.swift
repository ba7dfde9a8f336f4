import Foundation
import XCTest
@testable import Evaluation
import SeededRandom

/// Particle matching and relative errors (lgae.md §11.1) and jet relative errors (§11.2).
///
/// Where numbers are not exact by construction they were computed in CPython 3.11 with `math`
/// using the reference formulas (pt = √(px²+py²), eta = asinh(pz/(pt+1e-16)),
/// phi = atan2(py+1e-16, px), rel = (pt/(Pt+1e-16), Eta − eta, ((Phi − phi + π) % 2π) − π) with
/// the jet summed over every slot), the cost matrix as the Euclidean distance between target row i
/// and reconstruction row j in those coordinates, and `scipy.optimize.linear_sum_assignment`
/// (scipy 1.17.1) for the optimal matching. Values were pasted with `repr`.

private func match(_ matcher: ParticleMatcher, target: [Double], reconstruction: [Double]) -> (slots: [Int], cost: Double) {
    var slots = [Int32](repeating: -1, count: matcher.particles)
    let cost = target.withUnsafeBufferPointer { t in
        reconstruction.withUnsafeBufferPointer { r in
            slots.withUnsafeMutableBufferPointer { matcher.match(target: t, reconstruction: r, into: $0) }
        }
    }
    return (slots.map(Int.init), cost)
}

private extension ParticleRelativeErrors {
    mutating func append(target: [Double], reconstruction: [Double], slots: [Int]) {
        let s = slots.map(Int32.init)
        target.withUnsafeBufferPointer { t in
            reconstruction.withUnsafeBufferPointer { r in
                s.withUnsafeBufferPointer { append(target: t, reconstruction: r, slotOfParticle: $0) }
            }
        }
    }
}

/// Rows (E, px, py, pz) → flat n×4.
private func flat(_ rows: [[Double]]) -> [Double] { rows.flatMap { $0 } }

final class ReconstructionErrorsTests: XCTestCase {

    // MARK: ParticleMatcher

    func testMatcherRecoversAKnownPermutation() {
        // Dyadic momenta: both jets sum to the same four-momentum exactly, so every reconstructed
        // slot has exactly the relative coordinates of its target particle and the cost is 0.
        let target: [[Double]] = [[10, 3, -1, 4], [8, -3, -2, -2], [0, 0, 0, 0],
                                  [5, 2, 1, 0.5], [7, 2, -3, 1], [3, 0.5, 0.25, -1]]
        let perm = [3, 0, 5, 1, 4, 2]                 // reconstruction slot j holds target particle perm[j]
        let recon = perm.map { target[$0] }
        let m = match(ParticleMatcher(particles: 6), target: flat(target), reconstruction: flat(recon))
        // slot(perm[j]) = j: the inverse permutation.
        XCTAssertEqual(m.slots, [1, 3, 5, 0, 4, 2])
        XCTAssertEqual(m.cost, 0)
    }

    func testMatcherRecoversRandomPermutationsOfThirtySlots() {
        var rng = Xoshiro256StarStar(seed: 21)
        let matcher = ParticleMatcher(particles: 30)   // reused across jets
        for trial in 0..<20 {
            let real = 10 + trial   // 10…29 real particles, the rest padded
            var seen = Set<[Double]>()
            var target: [[Double]] = []
            while target.count < real {
                let p = (0..<3).map { _ in Double(Int(rng.nextBelow(101)) - 50) }
                if p.contains(0) || !seen.insert(p).inserted { continue }
                target.append([100] + p)
            }
            target += Array(repeating: [0, 0, 0, 0], count: 30 - real)
            let order = fisherYatesPermutation(count: 30, rng: &rng)    // padding anywhere
            target = order.map { target[$0] }
            let perm = fisherYatesPermutation(count: 30, rng: &rng)
            let recon = perm.map { target[$0] }
            let m = match(matcher, target: flat(target), reconstruction: flat(recon))
            XCTAssertEqual(m.cost, 0, "trial \(trial)")
            for i in 0..<30 {
                // Every particle lands on a slot holding the same momentum (padded targets on any
                // zero slot; they are interchangeable).
                XCTAssertEqual(recon[m.slots[i]], target[i], "trial \(trial), particle \(i)")
                if target[i] != [0, 0, 0, 0] { XCTAssertEqual(perm[m.slots[i]], i, "trial \(trial), particle \(i)") }
            }
            XCTAssertEqual(Set(m.slots).count, 30)
        }
    }

    func testMatcherFindsANonIdentityNonGreedyOptimum() {
        // Three particles each (E is irrelevant to the coordinates):
        //   target  (3, −1, 4), (−3, −2, −2), (3, −3, 1)
        //   recon   (−3, −2, 4), (4, −2, 1), (−2, 4, −3)
        // Cost ‖target_i − recon_j‖ in (pt_rel, eta_rel, phi_rel), Python:
        //   [[3.3308723522180212, 4.795040723861265, 5.18206964683896],
        //    [3.7119660814773656, 5.706049539144014, 4.102045692694622],
        //    [2.9987636466114727, 4.619427653158079, 4.5044867881955755]]
        // scipy: columns [1, 2, 0], total 11.895850063167359. Runner-up (0, 2, 1): 12.0523; identity:
        // 13.5414. Row 0's own nearest slot (0) is not its optimal one (1).
        let target: [[Double]] = [[10, 3, -1, 4], [10, -3, -2, -2], [10, 3, -3, 1]]
        let recon: [[Double]] = [[10, -3, -2, 4], [10, 4, -2, 1], [10, -2, 4, -3]]
        let m = match(ParticleMatcher(particles: 3), target: flat(target), reconstruction: flat(recon))
        XCTAssertEqual(m.slots, [1, 2, 0])
        XCTAssertEqual(m.cost, 11.895850063167359, accuracy: 1e-13)
    }

    /// A five-slot jet with a padded target slot and a target particle with pz = 0. Shared by the
    /// matcher and relative-error tests below.
    private let target5: [[Double]] = [[10, 3, -1, 4], [0, 0, 0, 0], [8, -3, -2, -2], [5, 2, 1, 0], [7, 2, -3, 1]]
    private let recon5: [[Double]] = [[9, -3, -2, 4], [1, 0.5, 0.25, -0.5], [6, 4, -2, 1], [0.5, -0.25, 0.125, 1], [6, -2, 4, -3]]

    func testMatcherSolvesTheFullProblemIncludingPaddedTargets() {
        // scipy on the 5×5 cost (padded target row included): columns [3, 2, 1, 0, 4], total
        // 17.25189510900751; runner-up 17.4845.
        let m = match(ParticleMatcher(particles: 5), target: flat(target5), reconstruction: flat(recon5))
        XCTAssertEqual(m.slots, [3, 2, 1, 0, 4])
        XCTAssertEqual(m.cost, 17.25189510900751, accuracy: 1e-13)
    }

    // MARK: ParticleRelativeErrors

    /// Relative coordinates (Python, repr):
    ///   target: 0 (0.49386479832479485, -0.6039934087910184, -0.574304830174702)
    ///           1 padded, 3 has pz = 0 (both skipped)
    ///           2 (0.5630925063714729, 0.9824754509186568, 1.657534665470882)
    ///           4 (0.5630925063714729, 0.17896865115426236, 0.08673833867598502)
    ///   recon:  0 (4.299870799092559, 0.8559002252142804, -1.051650212548374)
    ///           1 (0.6666666666666666, 2.617274733281118, 2.214297435588181)
    ///           2 (5.333333333333333, 1.5907716498715105, -3.141592653589793)
    ///           3 (0.3333333333333333, -0.17429666394304033, 0.0)
    ///           4 (5.333333333333333, 2.441153690364258, 0.6435011087932843)
    /// With the given slots [2, 4, 0, 1, 3], errors (recon[slot] − target)/(target + 1e-16) for the
    /// kept particles 0, 2, 4, per feature:
    private let expected5: [[Double]] = [
        [9.799176923368842, 6.636171233747386, -0.40803095484024626],          // pt_rel
        [-3.633756638264769, -0.12883296532857194, -1.9738949409235071],      // eta_rel
        [4.470252884054848, -1.6344664968135765, -0.9999999999999989],        // phi_rel
    ]

    func testParticleRelativeErrorsThroughAGivenMatching() {
        var e = ParticleRelativeErrors(particles: 5)
        e.append(target: flat(target5), reconstruction: flat(recon5), slots: [2, 4, 0, 1, 3])
        XCTAssertEqual(e.count, 3)
        XCTAssertEqual(e.paddedSlots, 2)   // the zero slot and the pz = 0 particle (§11.1 step 6)
        XCTAssertEqual(ParticleRelativeErrors.featureNames, ["pt_rel", "eta_rel", "phi_rel"])
        for f in 0..<3 {
            XCTAssertEqual(e.errors[f].count, 3)
            for k in 0..<3 {
                XCTAssertEqual(e.errors[f][k], expected5[f][k], accuracy: 1e-14 * max(1, abs(expected5[f][k])), "feature \(f), particle \(k)")
            }
        }
        // The ε is in the denominator: particle 4's φ_rel (0.0867…) against slot 3's (exactly 0)
        // gives −x/(x + 1e-16) = −0.9999999999999989, not −1.
        XCTAssertNotEqual(e.errors[2][2], -1)
        XCTAssertEqual(e.errors[2][2], -0.9999999999999989, accuracy: 3e-16)
    }

    func testParticleRelativeErrorsPoolJetsInOrder() {
        var e = ParticleRelativeErrors(particles: 5)
        e.append(target: flat(target5), reconstruction: flat(recon5), slots: [2, 4, 0, 1, 3])
        // The same jet compared with itself, ordered (slot i ↔ particle i): all errors 0.
        e.append(target: flat(target5), reconstruction: flat(target5), slots: [0, 1, 2, 3, 4])
        XCTAssertEqual(e.count, 6)
        XCTAssertEqual(e.paddedSlots, 4)
        for f in 0..<3 {
            XCTAssertEqual(Array(e.errors[f][3...]), [0, 0, 0])
            XCTAssertEqual(e.errors[f][0], expected5[f][0], accuracy: 1e-14 * max(1, abs(expected5[f][0])))
        }
    }

    func testParticleIsPaddingWhenAnyCartesianComponentIsZero() {
        // px = 0, py = 0 and pz = 0 each mark a slot as padding (its Cartesian relative error
        // would be infinite); E = 0 alone does not.
        let target: [[Double]] = [[5, 0, 1, 1], [5, 1, 0, 1], [5, 1, 1, 0], [0, 1, 2, 3], [4, 2, -1, 3]]
        var e = ParticleRelativeErrors(particles: 5)
        e.append(target: flat(target), reconstruction: flat(target), slots: [0, 1, 2, 3, 4])
        XCTAssertEqual(e.paddedSlots, 3)
        XCTAssertEqual(e.count, 2)
        for f in 0..<3 { XCTAssertEqual(e.errors[f], [0, 0]) }
    }

    func testMatchedPermutationGivesZeroErrors() {
        // End to end: matcher + errors on a permuted reconstruction.
        let target: [[Double]] = [[10, 3, -1, 4], [8, -3, -2, -2], [0, 0, 0, 0], [5, 2, 1, 0.5], [7, 2, -3, 1]]
        let recon = [4, 2, 0, 3, 1].map { target[$0] }
        let m = match(ParticleMatcher(particles: 5), target: flat(target), reconstruction: flat(recon))
        var e = ParticleRelativeErrors(particles: 5)
        e.append(target: flat(target), reconstruction: flat(recon), slots: m.slots)
        XCTAssertEqual(e.count, 4)
        XCTAssertEqual(e.paddedSlots, 1)
        for f in 0..<3 { XCTAssertEqual(e.errors[f], [0, 0, 0, 0]) }
    }

    // MARK: JetRelativeErrors

    func testJetRelativeErrorsBothDefinitions() {
        // target (M, pT, eta, phi) = (10, 100, 0.5, 1), reconstruction (12, 80, 0.25, 1.5):
        //   .code  (r − t)/(r + 1e-16): 2/12, −20/80, −0.25/(0.25 + 1e-16), 0.5/1.5
        //   .paper (r − t)/(t + 1e-16): 2/10, −20/100, −0.25/(0.5 + 1e-16), 0.5/1
        // 1e-16 vanishes against 12, 80, 1.5, 10, 100 and 1 (less than half their ulp) but not
        // against 0.25 or 0.5: Python gives −0.9999999999999996 and −0.4999999999999999 there.
        let t = JetFeatures(mass: 10, pt: 100, eta: 0.5, phi: 1)
        let r = JetFeatures(mass: 12, pt: 80, eta: 0.25, phi: 1.5)
        var code = JetRelativeErrors(definition: .code)
        var paper = JetRelativeErrors(definition: .paper)
        code.append(target: t, reconstruction: r)
        paper.append(target: t, reconstruction: r)
        XCTAssertEqual(code.errors, [[0.16666666666666666], [-0.25], [-0.9999999999999996], [0.3333333333333333]])
        XCTAssertEqual(paper.errors, [[0.2], [-0.2], [-0.4999999999999999], [0.5]])
        XCTAssertEqual(code.count, 1)
        XCTAssertEqual(code.droppedJets, 0)
        XCTAssertEqual(JetErrorDefinition.code.relativeError(reconstruction: 3, target: 2), 1.0 / 3.0)
        XCTAssertEqual(JetErrorDefinition.paper.relativeError(reconstruction: 3, target: 2), 0.5)
    }

    func testJetsWithAZeroTargetFeatureAreDropped() {
        let r = JetFeatures(mass: 12, pt: 80, eta: 0.25, phi: 1.5)
        for definition in JetErrorDefinition.allCases {
            var e = JetRelativeErrors(definition: definition)
            e.append(target: JetFeatures(mass: 0, pt: 100, eta: 0.5, phi: 1), reconstruction: r)
            e.append(target: JetFeatures(mass: 10, pt: 0, eta: 0.5, phi: 1), reconstruction: r)
            e.append(target: JetFeatures(mass: 10, pt: 100, eta: 0, phi: 1), reconstruction: r)
            e.append(target: JetFeatures(mass: 10, pt: 100, eta: 0.5, phi: -0.0), reconstruction: r)
            XCTAssertEqual(e.droppedJets, 4, "\(definition)")
            XCTAssertEqual(e.count, 0, "\(definition)")
            // A zero in the reconstruction does not drop the jet.
            e.append(target: JetFeatures(mass: 10, pt: 100, eta: 0.5, phi: 1), reconstruction: JetFeatures(mass: 0, pt: 80, eta: 0.25, phi: 1.5))
            XCTAssertEqual(e.droppedJets, 4, "\(definition)")
            XCTAssertEqual(e.count, 1, "\(definition)")
            // (0 − 10)/(0 + 1e-16) = −1e17 with .code; (0 − 10)/10 = −1 with .paper.
            XCTAssertEqual(e.errors[0][0], definition == .code ? -1e17 : -1, "\(definition)")
        }
    }

    func testJetRelativeErrorsFromSummedMomenta() {
        // Target jet (19, 5, 0, 12) has φ = atan2(0, 5) = 0 exactly → dropped. Target (10, −3, −4, −12)
        // (M = −√69, pT 5, eta −ln 5, phi atan2(−4, −3)) against a reconstruction with pT 10:
        // the pT error is (10 − 5)/10 = 0.5 (.code) or (10 − 5)/5 = 1 (.paper).
        let dropped = JetFeatures(momentum: SIMD4(19, 5, 0, 12))
        let t = JetFeatures(momentum: SIMD4(10, -3, -4, -12))
        let r = JetFeatures(momentum: SIMD4(20, -6, -8, -24))   // M = −√276 = 2·(−√69): mass error exact too
        var code = JetRelativeErrors(definition: .code), paper = JetRelativeErrors(definition: .paper)
        for i in 0..<2 {
            let target = i == 0 ? dropped : t
            code.append(target: target, reconstruction: r)
            paper.append(target: target, reconstruction: r)
        }
        XCTAssertEqual(code.droppedJets, 1)
        XCTAssertEqual(code.count, 1)
        XCTAssertEqual(code.errors[0], [0.5])       // (−2√69 + √69)/(−2√69)
        XCTAssertEqual(code.errors[1], [0.5])
        XCTAssertEqual(code.errors[2], [0])         // eta and phi unchanged by the scaling
        XCTAssertEqual(code.errors[3], [0])
        XCTAssertEqual(paper.errors[0], [1])
        XCTAssertEqual(paper.errors[1], [1])
        XCTAssertEqual(paper.errors[2], [0])
        XCTAssertEqual(paper.errors[3], [0])
    }
}
