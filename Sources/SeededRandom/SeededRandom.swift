import Foundation

// The reference code draws its random jet azimuths, particle masses and train/valid split from
// unseeded numpy/torch generators, so its data are not reproducible (lgae.md §2.2, §2.4).
// Swift's own `SystemRandomNumberGenerator` is unseedable and `Double.random(in:)` /
// `Int.random(in:)` do not promise the same algorithm across platforms or toolchain versions.
// Everything random in this project therefore goes through the small, fully specified generator
// below, which a physicist can re-implement in a dozen lines of Python or C to check a file.

/// xoshiro256** 1.0 (D. Blackman and S. Vigna, "Scrambled linear pseudorandom number
/// generators", ACM TOMS 47 (2021); reference C code at prng.di.unimi.it), seeded by SplitMix64.
///
/// Seeding: the 256-bit state `s[0...3]` is the first four outputs of SplitMix64 started at
/// `seed`, where one SplitMix64 step (all arithmetic modulo 2^64) is
///
///     x += 0x9e3779b97f4a7c15
///     z = x
///     z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
///     z = (z ^ (z >> 27)) * 0x94d049bb133111eb
///     output z ^ (z >> 31)
///
/// (SplitMix64 started at 0 first outputs 0xe220a8397b1dcdaf.) SplitMix64's output function is a
/// bijection of distinct counters, so at most one of the four words is zero and the state can
/// never be all-zero.
///
/// One xoshiro256** step (modulo 2^64, `rotl` a 64-bit left rotation):
///
///     result = rotl(s[1] * 5, 7) * 9
///     t = s[1] << 17
///     s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3]
///     s[2] ^= t; s[3] = rotl(s[3], 45)
///     output result
///
/// With seed 0 the first output is 0x99ec5f36cb75f2b4.
public struct Xoshiro256StarStar: RandomNumberGenerator, Sendable {
    private var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

    public init(seed: UInt64) {
        var seeder = SplitMix64(state: seed)
        s0 = seeder.next()
        s1 = seeder.next()
        s2 = seeder.next()
        s3 = seeder.next()
    }

    public mutating func next() -> UInt64 {
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

    /// A double in [0, 1): the top 53 bits of one `next()` output times 2^-53, i.e.
    /// `(next() >> 11) * 2**-53` in Python. Every value is exact, so results agree bit for bit
    /// with any IEEE-754 re-implementation.
    public mutating func nextUniform() -> Double {
        Double(next() >> 11) * 0x1p-53
    }

    /// An unbiased integer in [0, n) by Lemire's multiply-shift method with rejection
    /// (D. Lemire, "Fast random integer generation in an interval", ACM TOMACS 29 (2019)), which
    /// consumes one `next()` output except in rare rejections. With 128-bit products:
    ///
    ///     m = next() * n                    # full 128-bit product
    ///     if (m mod 2^64) < n:
    ///         t = (2^64 - n) mod n          # = 2^64 mod n
    ///         while (m mod 2^64) < t:
    ///             m = next() * n
    ///     return m >> 64                    # high 64 bits
    ///
    /// The order of these draws is part of the contract: a re-implementation must reject exactly
    /// when this one does, so it stays in step with the stream.
    public mutating func nextBelow(_ n: UInt64) -> UInt64 {
        precondition(n > 0, "nextBelow(_:) needs a positive bound, got 0")
        var m = next().multipliedFullWidth(by: n)
        if m.low < n {
            let t = (0 &- n) % n
            while m.low < t {
                m = next().multipliedFullWidth(by: n)
            }
        }
        return m.high
    }
}

/// SplitMix64 (G. Steele, D. Lea, C. Flood, OOPSLA 2014), used only to expand a 64-bit seed into
/// the xoshiro256** state, as its authors recommend.
struct SplitMix64 {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}

@inline(__always)
private func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 {
    (x << k) | (x >> (64 - k))
}

/// A uniformly random permutation of 0..<count by the Fisher–Yates (Durstenfeld) shuffle:
///
///     p = [0, 1, ..., count-1]
///     for i from count-1 down to 1:
///         j = rng.nextBelow(i + 1)
///         swap p[i], p[j]
///
/// It consumes exactly count-1 `nextBelow` calls (none for count ≤ 1).
public func fisherYatesPermutation(count: Int, rng: inout Xoshiro256StarStar) -> [Int] {
    precondition(count >= 0, "fisherYatesPermutation needs count >= 0, got \(count)")
    var p = Array(0..<count)
    var i = count - 1
    while i >= 1 {
        let j = Int(rng.nextBelow(UInt64(i + 1)))
        p.swapAt(i, j)
        i -= 1
    }
    return p
}

extension Xoshiro256StarStar {
    /// A standard normal by Box–Muller: two uniforms per draw and no cached second value, so that
    /// the stream is simple to reproduce elsewhere (the benchmarks' synthetic jets).
    public mutating func nextStandardNormal() -> Double {
        let u1 = 1 - nextUniform()   // (0, 1]
        let u2 = nextUniform()
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }

    /// Exp(1) by inversion.
    public mutating func nextExponential() -> Double {
        -log(1 - nextUniform())
    }
}
