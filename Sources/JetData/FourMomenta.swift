import Foundation

// Relative JetNet coordinates → absolute Cartesian four-momenta, lgae.md §2.2, and the per-jet
// normalisation of the reference training code, lgae.md §2.3. Component order (E, px, py, pz)
// everywhere (§1). All arithmetic is Double, as in the reference model (§1 "Precision").

/// Options of the §2.2 conversion. Defaults are the reference code's values.
public struct FourMomentumOptions: Sendable, Hashable {
    /// Divisor applied last. 1000 turns GeV into TeV; the paper's "PeV" is wrong (§14.9).
    public var scale: Double = 1000
    /// Particle masses are drawn from Uniform[0, maxParticleMass) GeV, as the reference's tiny
    /// random mass (§2.2 step 4, §14.10). 0 gives massless particles; the random numbers are
    /// drawn anyway, so jet azimuths do not change when this is switched off.
    public var maxParticleMass: Double = 1e-3

    public init(scale: Double = 1000, maxParticleMass: Double = 1e-3) {
        self.scale = scale
        self.maxParticleMass = maxParticleMass
    }
}

/// Jets as absolute four-momenta, flattened row-major like the `.npy` files they are stored in.
public struct AbsoluteJets: Sendable {
    public let count: Int
    public let particles: Int
    /// [count, particles, 4] as (E, px, py, pz), in GeV / `scale` (TeV by default).
    public var p4: [Double]
    /// [count, particles], 1 for a real particle and 0 for padding (the reference's "labels").
    public var mask: [Double]
    /// [count], the drawn jet azimuth Φ in [0, 2π).
    public var jetPhi: [Double]

    public init(count: Int, particles: Int, p4: [Double], mask: [Double], jetPhi: [Double]) {
        precondition(p4.count == count * particles * 4,
                     "AbsoluteJets: p4 has \(p4.count) values, expected count*particles*4 = \(count * particles * 4)")
        precondition(mask.count == count * particles,
                     "AbsoluteJets: mask has \(mask.count) values, expected count*particles = \(count * particles)")
        precondition(jetPhi.count == count,
                     "AbsoluteJets: jetPhi has \(jetPhi.count) values, expected count = \(count)")
        self.count = count
        self.particles = particles
        self.p4 = p4
        self.mask = mask
        self.jetPhi = jetPhi
    }
}

/// Wraps an azimuth into [−π, π) as the reference's numpy `((φ + π) % 2π) − π` (§2.2 step 2).
///
/// numpy's `%` is a floor-mod (the result takes the sign of the divisor); Swift's
/// `truncatingRemainder` is C `fmod` (sign of the dividend), so negative angles are shifted up
/// by 2π here. When φ + π is a tiny negative number the shift rounds to exactly 2π, where numpy
/// would return π; that lies outside [−π, π), so this function returns −π instead.
public func wrapAzimuth(_ phi: Double) -> Double {
    let twoPi = 2 * Double.pi
    var r = (phi + Double.pi).truncatingRemainder(dividingBy: twoPi)
    if r < 0 { r += twoPi }
    if r >= twoPi { r = 0 }
    return r - Double.pi
}

/// One particle's four-momentum (E, px, py, pz) / `scale` from its JetNet relative coordinates
/// (§2.2 steps 2–4, 6; the mask of step 5 is applied by the caller):
/// pt = ptRel·jetPt, η = etaRel + jetEta, φ = wrap(phiRel + jetPhi),
/// px = pt cos φ, py = pt sin φ, pz = pt sinh η, E = sqrt((pt cosh η)² + mass²).
/// `jetPt` and `mass` are in GeV.
public func fourMomentum(ptRel: Double, etaRel: Double, phiRel: Double,
                         jetPt: Double, jetEta: Double, jetPhi: Double,
                         mass: Double, scale: Double) -> (E: Double, px: Double, py: Double, pz: Double) {
    let pt = ptRel * jetPt
    let eta = etaRel + jetEta
    let phi = wrapAzimuth(phiRel + jetPhi)
    let pCoshEta = pt * cosh(eta)
    let energy = (pCoshEta * pCoshEta + mass * mass).squareRoot()
    return (energy / scale, pt * cos(phi) / scale, pt * sin(phi) / scale, pt * sinh(eta) / scale)
}

/// Converts one JetNet file to absolute four-momenta (lgae.md §2.2).
///
/// - `particleFeatures`: [count, particles, 4] as (etarel, phirel, ptrel, mask), the raw
///   `particle_features` dataset.
/// - `jetFeatures`: [count, 4] as the raw `jet_features` columns (pt, eta, mass, nparticles).
///   Jet pt is column 0 and eta column 1: the reference reads columns 1 and 2 only because the
///   `jetnet` loader prepends a type column (§2.1).
///
/// Random numbers come from one `Xoshiro256StarStar(seed: seed)` stream, in the reference's
/// order: first `count` uniforms u (one per jet, in row order) giving Φ = 2π·u, then
/// `count*particles` uniforms v in row-major (jet, particle) order, padded slots included,
/// giving m = maxParticleMass·v GeV. So in numpy, with `u` the first `count*(1+particles)`
/// values of `nextUniform()`: `Phi = 2*pi*u[:count]`,
/// `m = maxParticleMass * u[count:].reshape(count, particles)`. The result depends only on the
/// inputs and the seed. Callers converting several files pass a different seed per file, e.g.
/// `deriveSeed(master, "four-momenta", "g")`, so that jets of different classes do not share
/// azimuths.
public func absoluteFourMomenta(particleFeatures: [Float], jetFeatures: [Float],
                                count: Int, particles: Int,
                                options: FourMomentumOptions, seed: UInt64) -> AbsoluteJets {
    precondition(count >= 0 && particles >= 0,
                 "absoluteFourMomenta: count (\(count)) and particles (\(particles)) must be non-negative")
    precondition(particleFeatures.count == count * particles * 4,
                 "absoluteFourMomenta: particle_features has \(particleFeatures.count) values, expected count*particles*4 = \(count)*\(particles)*4 = \(count * particles * 4)")
    precondition(jetFeatures.count == count * 4,
                 "absoluteFourMomenta: jet_features has \(jetFeatures.count) values, expected count*4 = \(count * 4) (columns pt, eta, mass, nparticles)")
    precondition(options.scale > 0, "absoluteFourMomenta: scale must be positive, got \(options.scale)")
    precondition(options.maxParticleMass >= 0,
                 "absoluteFourMomenta: maxParticleMass must be >= 0 GeV, got \(options.maxParticleMass)")

    var rng = Xoshiro256StarStar(seed: seed)
    var jetPhi = [Double](repeating: 0, count: count)
    for jet in 0..<count {
        jetPhi[jet] = 2 * Double.pi * rng.nextUniform()
    }

    var p4 = [Double](repeating: 0, count: count * particles * 4)
    var mask = [Double](repeating: 0, count: count * particles)
    for jet in 0..<count {
        let jetPt = Double(jetFeatures[jet * 4])
        let jetEta = Double(jetFeatures[jet * 4 + 1])
        for particle in 0..<particles {
            let slot = jet * particles + particle
            // Drawn before the mask is looked at, so the stream layout is fixed (see above).
            let mass = options.maxParticleMass * rng.nextUniform()
            let f = slot * 4
            let m = Double(particleFeatures[f + 3])
            mask[slot] = m
            // §2.2 step 5 multiplies by the mask; skipping padded slots leaves the same exact zeros.
            guard m != 0 else { continue }
            let p = fourMomentum(ptRel: Double(particleFeatures[f + 2]),
                                 etaRel: Double(particleFeatures[f]),
                                 phiRel: Double(particleFeatures[f + 1]),
                                 jetPt: jetPt, jetEta: jetEta, jetPhi: jetPhi[jet],
                                 mass: mass, scale: options.scale)
            p4[f] = p.E * m
            p4[f + 1] = p.px * m
            p4[f + 2] = p.py * m
            p4[f + 3] = p.pz * m
        }
    }
    return AbsoluteJets(count: count, particles: particles, p4: p4, mask: mask, jetPhi: jetPhi)
}

/// Per-jet normalisation of the reference training code (lgae.md §2.3; `utils/normalize_p4.py`),
/// applied to network input and target alike and undone before evaluation.
public enum JetNormalisation: String, CaseIterable, Sendable {
    /// Factor 1.
    case none
    /// max over particles and components of |p^μ|, plus 1e-16: the reference default.
    case overallMax = "overall_max"
    /// One factor per component μ: max over particles of |p^μ|, plus 1e-16. Not a Lorentz
    /// covariant operation.
    case componentMax = "component_max"
    /// Σ over particles of E, plus 1e-16 (the reference adds its EPS here too).
    case jetE = "jet_E"

    /// Factors per jet returned by `normalisationFactors`: 4 for component_max, else 1.
    public var factorsPerJet: Int { self == .componentMax ? 4 : 1 }
}

/// The reference's guard against empty jets; it matters only for all-zero jets.
private let normalisationEpsilon = 1e-16

/// Normalisation factors for jets `p4` [count, particles, 4].
///
/// Shape: `count` factors (jet-major) for none, overall_max and jet_E; `count*4` factors,
/// [count, 4] in (E, px, py, pz) order, for component_max.
public func normalisationFactors(p4: [Double], count: Int, particles: Int,
                                 method: JetNormalisation) -> [Double] {
    precondition(p4.count == count * particles * 4,
                 "normalisationFactors: p4 has \(p4.count) values, expected count*particles*4 = \(count * particles * 4)")
    let stride = particles * 4
    switch method {
    case .none:
        return [Double](repeating: 1, count: count)
    case .overallMax:
        return (0..<count).map { jet in
            var largest = 0.0
            for v in p4[(jet * stride)..<((jet + 1) * stride)] { largest = max(largest, abs(v)) }
            return largest + normalisationEpsilon
        }
    case .componentMax:
        var factors = [Double](repeating: 0, count: count * 4)
        for jet in 0..<count {
            for particle in 0..<particles {
                for mu in 0..<4 {
                    factors[jet * 4 + mu] = max(factors[jet * 4 + mu], abs(p4[jet * stride + particle * 4 + mu]))
                }
            }
        }
        return factors.map { $0 + normalisationEpsilon }
    case .jetE:
        return (0..<count).map { jet in
            var energy = 0.0
            for particle in 0..<particles { energy += p4[jet * stride + particle * 4] }
            return energy + normalisationEpsilon
        }
    }
}

/// Divides each jet by its factors (from `normalisationFactors`; `count` or `count*4` of them).
public func applyNormalisation(p4: [Double], count: Int, particles: Int, factors: [Double]) -> [Double] {
    rescale(p4: p4, count: count, particles: particles, factors: factors, divide: true)
}

/// Multiplies each jet by its factors: brings normalised reconstructions and targets back to
/// TeV before evaluation (§2.3).
public func undoNormalisation(p4: [Double], count: Int, particles: Int, factors: [Double]) -> [Double] {
    rescale(p4: p4, count: count, particles: particles, factors: factors, divide: false)
}

private func rescale(p4: [Double], count: Int, particles: Int, factors: [Double], divide: Bool) -> [Double] {
    precondition(p4.count == count * particles * 4,
                 "normalisation: p4 has \(p4.count) values, expected count*particles*4 = \(count * particles * 4)")
    precondition(factors.count == count || factors.count == count * 4,
                 "normalisation: \(factors.count) factors for \(count) jets; expected \(count) (one per jet) or \(count * 4) (component_max, one per jet and component)")
    let perComponent = factors.count == count * 4 && count * 4 != count
    var out = p4
    for jet in 0..<count {
        for particle in 0..<particles {
            for mu in 0..<4 {
                let i = (jet * particles + particle) * 4 + mu
                let f = perComponent ? factors[jet * 4 + mu] : factors[jet]
                out[i] = divide ? p4[i] / f : p4[i] * f
            }
        }
    }
    return out
}
