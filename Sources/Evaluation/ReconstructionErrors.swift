/// How reconstructed particle slots are paired with target particles before relative errors are
/// taken (§11.1 step 4).
public enum ParticleMatching: String, Sendable, CaseIterable {
    /// Optimal one-to-one assignment on the Euclidean distance in (pT_rel, η_rel, φ_rel): for models
    /// whose loss does not care about order (Chamfer).
    case assignment
    /// Slot i against particle i: for models trained with the ordered MSE loss (LGAE-Mix, GNNAE-PL).
    case ordered
}

/// Pairs each target particle with a reconstructed slot by Jonker–Volgenant on the cost
/// ‖target_i − reconstruction_j‖₂ in (pT_rel, η_rel, φ_rel), as the reference does with scipy's
/// solver (§11.1). The full n × n problem is solved, padded target slots included, because the
/// reference does so: a padded target then competes for a slot, which decides the pairing of the
/// real particles too. Reusable; allocates nothing per jet.
public final class ParticleMatcher {
    public let particles: Int
    private let solver: AssignmentSolver
    private var cost: [Double]
    private var targetRel: [Double]
    private var reconRel: [Double]
    private var columns: [Int]

    public init(particles: Int) {
        self.particles = particles
        solver = AssignmentSolver(size: particles)
        cost = Array(repeating: 0, count: particles * particles)
        targetRel = Array(repeating: 0, count: 3 * particles)
        reconRel = Array(repeating: 0, count: 3 * particles)
        columns = Array(repeating: 0, count: particles)
    }

    /// - Parameters:
    ///   - target, reconstruction: `particles × 4` Cartesian (E, px, py, pz) of one jet.
    ///   - slotOfParticle: receives, for every target particle i, the reconstructed slot paired with it.
    /// - Returns: the total matched distance Σ_i cost[i][slot(i)].
    @discardableResult
    public func match(target: UnsafeBufferPointer<Double>, reconstruction: UnsafeBufferPointer<Double>,
                      into slotOfParticle: UnsafeMutableBufferPointer<Int32>) -> Double {
        let n = particles
        precondition(target.count == 4 * n && reconstruction.count == 4 * n && slotOfParticle.count == n,
                     "ParticleMatcher.match: expected \(n)×4 jets and \(n) slots")
        targetRel.withUnsafeMutableBufferPointer { relativePolarCoordinates(target, into: $0) }
        reconRel.withUnsafeMutableBufferPointer { relativePolarCoordinates(reconstruction, into: $0) }
        let total = targetRel.withUnsafeBufferPointer { t in
            reconRel.withUnsafeBufferPointer { r in
                cost.withUnsafeMutableBufferPointer { c in
                    for i in 0..<n {
                        let a = SIMD4(t[3 * i], t[3 * i + 1], t[3 * i + 2], 0)
                        for j in 0..<n {
                            let d = a - SIMD4(r[3 * j], r[3 * j + 1], r[3 * j + 2], 0)
                            c[i * n + j] = (d * d).sum().squareRoot()
                        }
                    }
                    return columns.withUnsafeMutableBufferPointer { solver.solve(c.baseAddress!, into: $0.baseAddress!) }
                }
            }
        }
        for i in 0..<n { slotOfParticle[i] = Int32(columns[i]) }
        return total
    }
}

/// Particle relative errors of Table 2 over many jets: δx = (x̂_slot(i) − x_i)/(x_i + ε) for
/// x ∈ (pT_rel, η_rel, φ_rel) (§11.1 step 5), every real target particle of every jet pooled.
public struct ParticleRelativeErrors: Sendable {
    public static let featureNames = ["pt_rel", "eta_rel", "phi_rel"]
    public let particles: Int
    /// Pooled errors per feature, in the order jets and particles were appended.
    public private(set) var errors: [[Double]] = [[], [], []]
    /// Target slots skipped as padding.
    public private(set) var paddedSlots = 0
    private var targetRel: [Double]
    private var reconRel: [Double]

    public init(particles: Int) {
        self.particles = particles
        targetRel = Array(repeating: 0, count: 3 * particles)
        reconRel = Array(repeating: 0, count: 3 * particles)
    }

    /// Adds one jet. A target slot counts as padding when any of its Cartesian px, py, pz is exactly
    /// zero: that is the reference's rule (§11.1 step 6), which drops the particles whose Cartesian
    /// relative error is infinite. (The reference would keep a slot whose reconstruction is exactly
    /// zero in that same component, a 0/0; no trained model outputs an exact zero, and we drop it.)
    public mutating func append(target: UnsafeBufferPointer<Double>, reconstruction: UnsafeBufferPointer<Double>,
                                slotOfParticle: UnsafeBufferPointer<Int32>) {
        let n = particles
        precondition(target.count == 4 * n && reconstruction.count == 4 * n && slotOfParticle.count == n,
                     "ParticleRelativeErrors.append: expected \(n)×4 jets and \(n) slots")
        targetRel.withUnsafeMutableBufferPointer { relativePolarCoordinates(target, into: $0) }
        reconRel.withUnsafeMutableBufferPointer { relativePolarCoordinates(reconstruction, into: $0) }
        for i in 0..<n {
            if target[4 * i + 1] == 0 || target[4 * i + 2] == 0 || target[4 * i + 3] == 0 {
                paddedSlots += 1
                continue
            }
            let s = Int(slotOfParticle[i])
            for f in 0..<3 {
                let x = targetRel[3 * i + f]
                errors[f].append((reconRel[3 * s + f] - x) / (x + referenceEpsilon))
            }
        }
    }

    public var count: Int { errors[0].count }
}

/// Which denominator a jet relative error uses (§11.2).
public enum JetErrorDefinition: String, Sendable, CaseIterable {
    /// (reconstruction − target)/(reconstruction + ε): what the reference computes, because it passes
    /// its arguments swapped. The paper's published Table 3 was made this way.
    case code
    /// (reconstruction − target)/(target + ε): the definition the paper's text implies.
    case paper

    @inlinable
    public func relativeError(reconstruction r: Double, target t: Double) -> Double {
        switch self {
        case .code: return (r - t) / (r + referenceEpsilon)
        case .paper: return (r - t) / (t + referenceEpsilon)
        }
    }
}

/// Jet relative errors of Table 3 over many jets, for mass, pT, η and φ of the summed four-momentum.
public struct JetRelativeErrors: Sendable {
    public let definition: JetErrorDefinition
    /// Errors per feature (mass, pT, η, φ), one per kept jet.
    public private(set) var errors: [[Double]] = [[], [], [], []]
    /// Jets skipped because a target feature is exactly zero (§11.2).
    public private(set) var droppedJets = 0

    public init(definition: JetErrorDefinition) { self.definition = definition }

    /// Adds one jet given its target and reconstructed features (any unit, the same for both).
    public mutating func append(target: JetFeatures, reconstruction: JetFeatures) {
        let t = target.values, r = reconstruction.values
        if t.contains(0) {
            droppedJets += 1
            return
        }
        for f in 0..<4 { errors[f].append(definition.relativeError(reconstruction: r[f], target: t[f])) }
    }

    public var count: Int { errors[0].count }
}
