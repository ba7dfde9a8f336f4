import Foundation
import XCTest
@testable import Evaluation

/// Kinematics of lgae.md §11.1–11.2. Expected numbers were worked by hand where the arithmetic is
/// exact, and otherwise evaluated with CPython 3.11 `math` using the reference formulas
///     pt = sqrt(px² + py²), eta = asinh(pz / (pt + 1e-16)), phi = atan2(py + 1e-16, px),
///     wrap(x) = ((x + pi) % (2*pi)) - pi
/// and pasted in with `repr` (17 significant digits). Values that only involve +, −, ×, ÷ and √
/// are compared exactly; values through asinh/atan2 to within 1e-15 (a libm ulp or so).
final class KinematicsTests: XCTestCase {

    // MARK: polarCoordinates

    func testPolarCoordinatesOfHandWorkedMomenta() {
        // (3, 4, 12): pt = 5 exactly; eta = asinh(12/5) = ln 5; phi = atan2(4, 3).
        var p = polarCoordinates(px: 3, py: 4, pz: 12)
        XCTAssertEqual(p.pt, 5)
        XCTAssertEqual(p.eta, 1.6094379124341003, accuracy: 1e-15)   // math.log(5)
        XCTAssertEqual(p.phi, 0.9272952180016122, accuracy: 1e-15)   // math.atan2(4, 3)

        // (0, −2, 1): pt = 2, eta = asinh(1/2), phi = atan2(−2 + 1e-16, 0) = −π/2.
        p = polarCoordinates(px: 0, py: -2, pz: 1)
        XCTAssertEqual(p.pt, 2)
        XCTAssertEqual(p.eta, 0.48121182505960347, accuracy: 1e-15)  // math.asinh(0.5)
        XCTAssertEqual(p.phi, -Double.pi / 2, accuracy: 1e-15)

        // Along −x: atan2(1e-16, −1) = π − 1e-16, which rounds to π (the ulp of π is 4.4e-16).
        p = polarCoordinates(px: -1, py: 0, pz: 0)
        XCTAssertEqual(p.pt, 1)
        XCTAssertEqual(p.eta, 0)
        XCTAssertEqual(p.phi, Double.pi)
    }

    func testPolarCoordinatesOfZeroAndTinyMomenta() {
        // A padded particle (0, 0, 0): pt = 0, eta = asinh(0 / 1e-16) = 0, and
        // phi = atan2(1e-16, 0) = π/2 — the reference's ε makes a zero momentum point along +y.
        // (The doc comment of polarCoordinates says η and φ "come out as 0"; φ is π/2.)
        let zero = polarCoordinates(px: 0, py: 0, pz: 0)
        XCTAssertEqual(zero.pt, 0)
        XCTAssertEqual(zero.eta, 0)
        XCTAssertEqual(zero.phi, Double.pi / 2)

        // A small momentum: the ε competes with pT. Without it eta would be asinh(1) = 0.88 and phi 0.
        // Python: pt = 1e-20, eta = asinh(1e-20/(1e-20 + 1e-16)) = 9.999000083328332e-05,
        // phi = atan2(1e-16, 1e-20) = 1.5706963267952299.
        let small = polarCoordinates(px: 1e-20, py: 0, pz: 1e-20)
        XCTAssertEqual(small.pt, 1e-20, accuracy: 1e-35)
        XCTAssertEqual(small.eta, 9.999000083328332e-05, accuracy: 1e-19)
        XCTAssertEqual(small.phi, 1.5706963267952299, accuracy: 1e-15)

        // A tiny one: px² underflows to 0, so pT = 0 (as in the reference's (px**2 + py**2)**0.5), and
        // eta = asinh(1e-300 / 1e-16) = 1e-284; phi = atan2(1e-16, 1e-300) = π/2.
        let tiny = polarCoordinates(px: 1e-300, py: 0, pz: 1e-300)
        XCTAssertEqual(tiny.pt, 0)
        XCTAssertEqual(tiny.eta, 1e-284, accuracy: 1e-299)
        XCTAssertEqual(tiny.phi, Double.pi / 2)
    }

    // MARK: wrappedPhi

    /// (input, CPython's ((x + pi) % (2*pi)) - pi), printed with repr.
    private let pythonWrap: [(Double, Double)] = [
        (-Double.pi, -3.141592653589793),
        (Double.pi, -3.141592653589793),
        (9.42477796076938, -3.141592653589793),      // 3π
        (-9.42477796076938, -3.141592653589793),     // −3π
        (6.283185307179586, 0.0),                    // 2π
        (-6.283185307179586, 0.0),                   // −2π
        (0.0, 0.0),
        (-0.0, 0.0),
        (1e-300, 0.0),                               // tiny values vanish against π
        (-1e-300, 0.0),
        (5e-324, 0.0),
        (-5e-324, 0.0),
        (1e-17, 0.0),
        (-1e-17, 0.0),
        (1.0, 1.0),
        (-1.0, -1.0),
        (Double.pi.nextUp, -3.141592653589793),      // 3.1415926535897936
        (Double.pi.nextDown, -3.141592653589793),    // 3.1415926535897927: x + π rounds to 2π
        ((-Double.pi).nextUp, -3.1415926535897927),  // just inside the range: unchanged
        (7.0, 0.7168146928204138),
        (-7.0, -0.7168146928204138),
        (100.0, -0.5309649148733762),
        (-100.0, 0.5309649148733833),
    ]

    func testWrappedPhiMatchesPythonFlooredModulo() {
        for (x, expected) in pythonWrap {
            XCTAssertEqual(wrappedPhi(x), expected, "wrappedPhi(\(x))")
        }
    }

    func testWrappedPhiStaysInHalfOpenRange() {
        // Just below −π, CPython's floored modulo gives +π: (−π.nextDown + π) = −4.4e-16, and
        // −4.4e-16 % 2π = 2π − 4.4e-16, which rounds to 2π; 2π − π = +π, outside [−π, π).
        // The Swift function documents [−π, π) (lgae.md §11.1 says "into [−π,π)") and returns −π.
        XCTAssertEqual(wrappedPhi((-Double.pi).nextDown), -Double.pi)

        // Every difference of two atan2 outputs lies in [−2π, 2π]: sweep it (and a bit beyond).
        var x = -7.0
        while x <= 7.0 {
            let w = wrappedPhi(x)
            XCTAssertGreaterThanOrEqual(w, -Double.pi, "x = \(x)")
            XCTAssertLessThan(w, Double.pi, "x = \(x)")
            let turns = (x - w) / (2 * Double.pi)
            XCTAssertEqual(turns, turns.rounded(), accuracy: 1e-14, "x = \(x)")
            x += 0.0137
        }
    }

    /// wrappedPhi's doc promises Python's floored `%`. CPython computes it with an exact fmod,
    /// whereas `shifted − 2π·floor(shifted/2π)` rounds the product 2π·k: for |x| beyond ~20 the two
    /// differ in the last bits (a random sample of x in [−100, 100] differs in ~19% of cases, up to
    /// ~1e-12 absolute at |x| ≈ 1e4). Harmless for the package's own callers (their arguments lie in
    /// [−2π, 2π], where the two agree exactly), but a deviation from the documented contract.
    func testWrappedPhiMatchesPythonModuloForLargeAngles() {
        XCTAssertEqual(wrappedPhi(71.7906673030661), 2.675628924090656)   // Swift gives 2.675628924090663
        XCTAssertEqual(wrappedPhi(1e6), -0.3575641670518799)              // Swift gives -0.35756416700827387
    }

    // MARK: relativePolarCoordinates

    /// Jet of four slots (E, px, py, pz):
    ///   a = (13, 3, 4, 12), b = (5, 3, −4, 0), c = (1, −1, 0, 0), d = (0, 0, 0, 0) (padded).
    /// Jet = (19, 5, 0, 12): Pt = 5, Eta = asinh(12/5) = ln 5, Phi = atan2(0 + 1e-16, 5) = 2e-17.
    ///   a: pt 5 → pt_rel 5/(5 + 1e-16) = 1; eta = Eta → eta_rel 0 exactly;
    ///      phi_rel = wrap(2e-17 − atan2(4, 3)) = −0.9272952180016123 (the ±π round trip inside
    ///      wrap lands one ulp from −atan2(4, 3) = −0.9272952180016122).
    ///   b: pt_rel 1; eta 0 → eta_rel ln 5; phi = atan2(−4, 3) → phi_rel = +0.9272952180016123.
    ///   c: pt_rel 1/5; eta_rel ln 5; phi = π → phi_rel = wrap(2e-17 − π) = −π.
    ///   d: pt_rel 0; eta_rel ln 5; phi = atan2(1e-16, 0) = π/2 → phi_rel = −π/2.
    /// (η_rel and φ_rel are jet − particle, the reference's sign.)
    func testRelativePolarCoordinatesOfHandWorkedJet() {
        let p4: [Double] = [13, 3, 4, 12,
                            5, 3, -4, 0,
                            1, -1, 0, 0,
                            0, 0, 0, 0]
        var out = [Double](repeating: .nan, count: 12)
        p4.withUnsafeBufferPointer { p in out.withUnsafeMutableBufferPointer { relativePolarCoordinates(p, into: $0) } }

        let ln5 = 1.6094379124341003
        let expected: [Double] = [1.0, 0.0, -0.9272952180016123,
                                  1.0, ln5, 0.9272952180016123,
                                  0.2, ln5, -Double.pi,
                                  0.0, ln5, -Double.pi / 2]
        for k in 0..<12 {
            XCTAssertEqual(out[k], expected[k], accuracy: 1e-15, "slot \(k / 3), coordinate \(k % 3)")
        }
        // The exact ones.
        XCTAssertEqual(out[0], 1)
        XCTAssertEqual(out[1], 0)
        XCTAssertEqual(out[6], 0.2)
        XCTAssertEqual(out[8], -Double.pi)
        XCTAssertEqual(out[9], 0)
    }

    func testRelativePolarCoordinatesIgnoreEnergyAndUseEverySlotForTheJet() {
        // Changing E changes nothing; a non-zero "padded" slot of a reconstruction moves the jet.
        let base: [Double] = [13, 3, 4, 12, 5, 3, -4, 0, 1, -1, 0, 0, 0, 0, 0, 0]
        var otherEnergies = base
        otherEnergies[0] = 100; otherEnergies[4] = -7; otherEnergies[12] = 3
        var a = [Double](repeating: 0, count: 12), b = a
        base.withUnsafeBufferPointer { p in a.withUnsafeMutableBufferPointer { relativePolarCoordinates(p, into: $0) } }
        otherEnergies.withUnsafeBufferPointer { p in b.withUnsafeMutableBufferPointer { relativePolarCoordinates(p, into: $0) } }
        XCTAssertEqual(a, b)

        // Slot d = (0, 5, 0, 0) → jet (19, 10, 0, 12), Pt = 10: a's pt_rel becomes 5/10.
        var moved = base
        moved[13] = 5
        moved.withUnsafeBufferPointer { p in b.withUnsafeMutableBufferPointer { relativePolarCoordinates(p, into: $0) } }
        XCTAssertEqual(b[0], 0.5)
        XCTAssertEqual(b[9], 0.5)
        // d's eta_rel = Eta − 0 = asinh(12/10) (Python: math.asinh(1.2)).
        XCTAssertEqual(b[10], 1.015973134179692, accuracy: 1e-15)
    }

    func testJetMomentumSumsEverySlot() {
        let p4: [Double] = [13, 3, 4, 12, 5, 3, -4, 0, 1, -1, 0, 0, 0.5, 0.25, -0.125, 2]
        let jet = p4.withUnsafeBufferPointer { jetMomentum($0) }
        XCTAssertEqual(jet, SIMD4(19.5, 5.25, -0.125, 14))
    }

    // MARK: JetFeatures

    func testJetFeaturesOfHandWorkedMomenta() {
        // Timelike (19, 5, 0, 12): m² = 361 − 25 − 144 = 192, M = √192; pT 5; eta ln 5;
        // phi = atan2(0, 5) = 0 exactly (no ε in the jet φ of §11.2).
        var f = JetFeatures(momentum: SIMD4(19, 5, 0, 12))
        XCTAssertEqual(f.mass, 192.0.squareRoot())              // 13.856406460551018
        XCTAssertEqual(f.pt, 5)
        XCTAssertEqual(f.eta, 1.6094379124341003, accuracy: 1e-15)
        XCTAssertEqual(f.phi, 0)
        XCTAssertEqual(f.values, [f.mass, 5, f.eta, 0])
        XCTAssertEqual(JetFeatures.names, ["mass", "pt", "eta", "phi"])

        // Spacelike (3, 0, 4, 0): m² = 9 − 16 = −7, M = −√7 (sign kept); pT 4; eta 0; phi π/2.
        f = JetFeatures(momentum: SIMD4(3, 0, 4, 0))
        XCTAssertEqual(f.mass, -2.6457513110645907)
        XCTAssertEqual(f.pt, 4)
        XCTAssertEqual(f.eta, 0)
        XCTAssertEqual(f.phi, Double.pi / 2)

        // Spacelike, all negative (10, −3, −4, −12): m² = 100 − 169 = −69, M = −√69; pT 5;
        // eta = asinh(−12/5) = −ln 5; phi = atan2(−4, −3) = −(π − atan(4/3)) = −2.214297435588181.
        f = JetFeatures(momentum: SIMD4(10, -3, -4, -12))
        XCTAssertEqual(f.mass, -8.306623862918075)
        XCTAssertEqual(f.pt, 5)
        XCTAssertEqual(f.eta, -1.6094379124341003, accuracy: 1e-15)
        XCTAssertEqual(f.phi, -2.214297435588181, accuracy: 1e-15)

        // Lightlike (5, 3, 4, 0): M = 0 (neither sign).
        f = JetFeatures(momentum: SIMD4(5, 3, 4, 0))
        XCTAssertEqual(f.mass, 0)
        XCTAssertEqual(f.mass.sign, .plus)
        XCTAssertEqual(f.phi, 0.9272952180016122, accuracy: 1e-15)

        // Along −x, py = 0: phi = atan2(0, −1) = π.
        f = JetFeatures(momentum: SIMD4(2, -1, 0, 0))
        XCTAssertEqual(f.mass, 3.0.squareRoot())
        XCTAssertEqual(f.phi, Double.pi)

        // The zero jet: everything 0.
        XCTAssertEqual(JetFeatures(momentum: SIMD4(0, 0, 0, 0)), JetFeatures(mass: 0, pt: 0, eta: 0, phi: 0))
    }
}
