import Foundation

/// The ε the reference adds to denominators (and to p_y inside atan2) so that padded particles,
/// which are exactly (0, 0, 0, 0), give finite coordinates (lgae.md §11.1).
public let referenceEpsilon = 1e-16

/// Transverse momentum, pseudorapidity and azimuth of a momentum, computed the way the reference
/// does for particles and for jets in §11.1: pT = √(px² + py²), η = asinh(pz / (pT + ε)),
/// φ = atan2(py + ε, px). The ε keeps η and φ finite for a zero momentum (η = 0, φ = π/2).
/// The anomaly-score code of the reference adds ε to px as well (`xEpsilon`), which puts a zero
/// momentum at φ = π/4 instead.
@inlinable
public func polarCoordinates(px: Double, py: Double, pz: Double, xEpsilon: Double = 0) -> (pt: Double, eta: Double, phi: Double) {
    let pt = (px * px + py * py).squareRoot()
    return (pt, asinh(pz / (pt + referenceEpsilon)), atan2(py + referenceEpsilon, px + xEpsilon))
}

/// φ mapped into [−π, π) as the reference does: ((φ + π) mod 2π) − π with a floored modulo
/// (Python's and torch's `%`: an exact fmod, moved into [0, 2π) when negative), so that −π stays
/// −π and +π becomes −π.
@inlinable
public func wrappedPhi(_ phi: Double) -> Double {
    let period = 2 * Double.pi
    var r = fmod(phi + Double.pi, period)
    if r < 0 { r += period }
    if r >= period { r -= period }  // a tiny negative remainder plus 2π rounds to 2π; keep [−π, π)
    return r - Double.pi
}

/// A jet's four-momentum: the sum of all its particle slots, padded ones included (§11.1 step 1 —
/// a reconstruction that puts energy into padded slots is charged for it).
@inlinable
public func jetMomentum(_ p4: UnsafeBufferPointer<Double>) -> SIMD4<Double> {
    var sum = SIMD4<Double>(repeating: 0)
    var i = 0
    while i + 3 < p4.count {
        sum += SIMD4(p4[i], p4[i + 1], p4[i + 2], p4[i + 3])
        i += 4
    }
    return sum
}

/// The reference computes relative coordinates with two slightly different functions.
public enum RelativePolarConvention: Sendable {
    /// Particle features (Table 2, §11.1): φ = atan2(py + ε, px); η_rel, φ_rel = jet − particle.
    case particleFeatures
    /// Anomaly scores (§11.3 (e)): φ = atan2(py + ε, px + ε); η_rel, φ_rel = particle − jet. The sign
    /// does not change a distance, but a padded slot's φ does (π/4 here, π/2 above).
    case anomalyScores
}

/// Particles in relative polar coordinates (pT_rel, η_rel, φ_rel), each relative to the jet made of
/// all the slots of the same cloud (§11.1 steps 1–3), in the reference's `convention`. For Table 2,
/// η_rel and φ_rel are jet minus particle as in the reference — the opposite sign to the paper's
/// definition, which changes neither distances nor relative errors.
///
/// - Parameters:
///   - p4: `n × 4` Cartesian (E, px, py, pz), row-major.
///   - out: receives `n × 3` (pT_rel, η_rel, φ_rel), row-major.
public func relativePolarCoordinates(_ p4: UnsafeBufferPointer<Double>, into out: UnsafeMutableBufferPointer<Double>,
                                     convention: RelativePolarConvention = .particleFeatures) {
    let n = p4.count / 4
    precondition(p4.count == 4 * n && out.count >= 3 * n, "relativePolarCoordinates: need n×4 inputs and n×3 outputs")
    let xEpsilon = convention == .anomalyScores ? referenceEpsilon : 0
    let sign: Double = convention == .anomalyScores ? -1 : 1
    let jet = jetMomentum(p4)
    let j = polarCoordinates(px: jet[1], py: jet[2], pz: jet[3], xEpsilon: xEpsilon)
    for i in 0..<n {
        let p = polarCoordinates(px: p4[4 * i + 1], py: p4[4 * i + 2], pz: p4[4 * i + 3], xEpsilon: xEpsilon)
        out[3 * i] = p.pt / (j.pt + referenceEpsilon)
        out[3 * i + 1] = sign * (j.eta - p.eta)
        out[3 * i + 2] = wrappedPhi(sign * (j.phi - p.phi))
    }
}

/// Jet-level features of Table 3 (§11.2): the invariant mass M = sign(m²)·√|m²| with
/// m² = E² − |p|² (a reconstruction may be spacelike, and the sign keeps that visible), pT,
/// η = asinh(pz / (pT + ε)) and φ = atan2(py, px) — the reference's jet φ has no ε.
public struct JetFeatures: Hashable, Sendable {
    public var mass: Double
    public var pt: Double
    public var eta: Double
    public var phi: Double

    public init(mass: Double, pt: Double, eta: Double, phi: Double) {
        self.mass = mass
        self.pt = pt
        self.eta = eta
        self.phi = phi
    }

    public init(momentum p: SIMD4<Double>) {
        let m2 = p[0] * p[0] - p[1] * p[1] - p[2] * p[2] - p[3] * p[3]
        let mass = m2 < 0 ? -(-m2).squareRoot() : m2.squareRoot()
        let pt = (p[1] * p[1] + p[2] * p[2]).squareRoot()
        self.init(mass: mass, pt: pt, eta: asinh(p[3] / (pt + referenceEpsilon)), phi: atan2(p[2], p[1]))
    }

    /// The features in the order of Table 3's columns.
    public var values: [Double] { [mass, pt, eta, phi] }
    public static let names = ["mass", "pt", "eta", "phi"]
}
