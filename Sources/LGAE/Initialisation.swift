import Foundation
import SeededRandom

// Initialisation (§7) from the project's seeded generator (SeededRandom's xoshiro256** seeded by
// SplitMix64), so that a model is reproducible from (config, seed) alone.

struct ParameterRandom {
    private var generator: Xoshiro256StarStar
    /// The second Box–Muller value, used by the next `nextGaussian()`.
    private var spareGaussian: Double?

    init(seed: UInt64) {
        generator = Xoshiro256StarStar(seed: seed)
    }

    mutating func next() -> UInt64 { generator.next() }

    /// U[0, 1): the top 53 bits of one output times 2^-53.
    mutating func nextUniform() -> Double { generator.nextUniform() }

    /// N(0, 1) by the Box–Muller transform: with u1 = 1 − U[0,1) ∈ (0, 1] (so the log is finite)
    /// and u2 = U[0,1) drawn in that order, r = sqrt(−2 ln u1), the pair is r·cos(2π u2) and
    /// r·sin(2π u2). The cosine value is returned first, the sine value on the next call.
    mutating func nextGaussian() -> Double {
        if let spare = spareGaussian {
            spareGaussian = nil
            return spare
        }
        let u1 = 1 - nextUniform()
        let u2 = nextUniform()
        let r = (-2 * log(u1)).squareRoot()
        spareGaussian = r * sin(2 * Double.pi * u2)
        return r * cos(2 * Double.pi * u2)
    }
}

extension ParameterLayout {
    /// A parameter buffer initialised as §7 prescribes: blocks are filled in layout order from one
    /// generator stream; a Gaussian block takes σ·N(0,1) draws, a uniform block
    /// bound·(2·U[0,1) − 1) draws, element by element in row-major order.
    public func initialParameters(seed: UInt64) -> [Double] {
        var rng = ParameterRandom(seed: seed)
        var parameters = [Double](repeating: 0, count: count)
        for block in blocks {
            switch block.initialisation {
            case .gaussian(let std):
                for i in block.range { parameters[i] = std * rng.nextGaussian() }
            case .uniform(let bound):
                for i in block.range { parameters[i] = bound * (2 * rng.nextUniform() - 1) }
            }
        }
        return parameters
    }
}
