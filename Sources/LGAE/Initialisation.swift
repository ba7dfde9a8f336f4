import Foundation

// Initialisation (§7) from a seeded, fully specified generator, so that a model is reproducible
// from (config, seed) alone. The generator is the project's xoshiro256** seeded by SplitMix64 (the
// same algorithm and constants as JetData's `Xoshiro256StarStar`, whose doc comment gives the
// reference values); it is repeated here privately because LGAE must not depend on JetData.

struct ParameterRandom {
    private var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64
    /// The second Box–Muller value, used by the next `nextGaussian()`.
    private var spareGaussian: Double?

    init(seed: UInt64) {
        var x = seed
        func splitMix() -> UInt64 {
            x &+= 0x9e37_79b9_7f4a_7c15
            var z = x
            z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
            z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
            return z ^ (z >> 31)
        }
        s0 = splitMix()
        s1 = splitMix()
        s2 = splitMix()
        s3 = splitMix()
    }

    mutating func next() -> UInt64 {
        let result = rotl(s1 &* 5, 7) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = rotl(s3, 45)
        return result
    }

    /// U[0, 1): the top 53 bits of one output times 2^-53 (as JetData's `nextUniform`).
    mutating func nextUniform() -> Double {
        Double(next() >> 11) * 0x1p-53
    }

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

    private func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 {
        (x << k) | (x >> (64 - k))
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
