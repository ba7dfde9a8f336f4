import Foundation
import XCTest
@testable import JetData
@testable import SeededRandom

/// An independent Python re-implementation of the generator, seed derivation and shuffle, written
/// from the doc comments of Random.swift. Tests append `print(...)` lines to it.
let pythonRandomReference = """
import hashlib
M = (1 << 64) - 1
def rotl(x, k): return ((x << k) | (x >> (64 - k))) & M
class Xoshiro:
    def __init__(self, seed):
        x = seed
        self.s = []
        for _ in range(4):
            x = (x + 0x9e3779b97f4a7c15) & M
            z = x
            z = ((z ^ (z >> 30)) * 0xbf58476d1ce4e5b9) & M
            z = ((z ^ (z >> 27)) * 0x94d049bb133111eb) & M
            self.s.append(z ^ (z >> 31))
    def next(self):
        s = self.s
        r = (rotl((s[1] * 5) & M, 7) * 9) & M
        t = (s[1] << 17) & M
        s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3]; s[2] ^= t; s[3] = rotl(s[3], 45)
        return r
    def uniform(self): return (self.next() >> 11) * 2.0 ** -53
    def below(self, n):
        m = self.next() * n
        if (m & M) < n:
            t = ((1 << 64) - n) % n
            while (m & M) < t:
                m = self.next() * n
        return m >> 64
def derive(seed, *labels):
    return int(hashlib.sha256("/".join([str(seed)] + list(labels)).encode()).hexdigest()[:16], 16)
def permutation(n, rng):
    p = list(range(n))
    for i in range(n - 1, 0, -1):
        j = rng.below(i + 1)
        p[i], p[j] = p[j], p[i]
    return p

"""

/// Runs `script` with python3 and returns its standard output lines, or skips the test when no
/// python3 is on PATH.
func runPython(_ script: String) throws -> [String] {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    guard let python = path.split(separator: ":")
        .map({ "\($0)/python3" })
        .first(where: { FileManager.default.isExecutableFile(atPath: $0) })
    else {
        throw XCTSkip("python3 not found on PATH; the hard-coded known answers still run")
    }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: python)
    process.arguments = ["-c", script]
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        XCTFail("python3 failed (\(process.terminationStatus)): \(String(decoding: errData, as: UTF8.self))")
        return []
    }
    return String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
}

final class RandomTests: XCTestCase {
    func testSplitMix64KnownAnswers() {
        // Seed 0 is the widely published SplitMix64 test vector.
        var zero = SplitMix64(state: 0)
        XCTAssertEqual((0..<4).map { _ in zero.next() },
                       [0xe220_a839_7b1d_cdaf, 0x6e78_9e6a_a1b9_65f4, 0x06c4_5d18_8009_454f, 0xf88b_b8a8_724c_81ec])
        var one = SplitMix64(state: 1)
        XCTAssertEqual((0..<4).map { _ in one.next() },
                       [0x910a_2dec_8902_5cc1, 0xbeeb_8da1_658e_ec67, 0xf893_a2ee_fb32_555e, 0x71c1_8690_ee42_c90b])
    }

    func testXoshiroKnownAnswers() {
        // Values computed with the Python implementation in `pythonRandomReference`.
        let expected: [UInt64: [UInt64]] = [
            0: [0x99ec_5f36_cb75_f2b4, 0xbf6e_1f78_4956_452a, 0x1a5f_849d_4933_e6e0, 0x6aa5_94f1_262d_2d2c, 0xbba5_ad4a_1f84_2e59],
            1: [0xb3f2_af6d_0fc7_10c5, 0x853b_5596_4736_4cea, 0x92f8_9756_082a_4514, 0x642e_1c7b_c266_a3a7, 0xb27a_48e2_9a23_3673],
            42: [0x1578_0b2e_0c2e_c716, 0x6104_d986_6d11_3a7e, 0xae17_5332_39e4_99a1, 0xecb8_ad47_03b3_60a1, 0xfde6_dc7f_e2ec_5e64],
        ]
        for (seed, outputs) in expected {
            var rng = Xoshiro256StarStar(seed: seed)
            XCTAssertEqual((0..<5).map { _ in rng.next() }, outputs, "xoshiro256** stream for seed \(seed)")
        }
        var rng = Xoshiro256StarStar(seed: 42)
        XCTAssertEqual((0..<10).map { _ in rng.nextBelow(10) }, [0, 3, 6, 9, 9, 7, 7, 8, 7, 5])
        var half = Xoshiro256StarStar(seed: 3)
        // n = 2^63 + 1 rejects about half of all draws, so this pins the rejection rule.
        XCTAssertEqual((0..<4).map { _ in half.nextBelow((1 << 63) + 1) },
                       [6_370_013_938_770_462_304, 5_908_316_944_864_129_655, 2_013_115_070_431_952_552, 4_924_926_734_617_779_701])
        var u = Xoshiro256StarStar(seed: 5)
        XCTAssertEqual(u.nextUniform(), 0.2884112281702357)
    }

    func testAgreesWithIndependentPythonImplementation() throws {
        let seeds: [UInt64] = [0, 1, 42, 123_456_789, .max]
        let bounds: [UInt64] = [1, 2, 3, 7, 10, 1000, 1 << 32, (1 << 63) + 1, .max]
        var script = pythonRandomReference
        for seed in seeds {
            script += "r = Xoshiro(\(seed)); print(' '.join(str(r.next()) for _ in range(20)))\n"
            script += "r = Xoshiro(\(seed)); print(' '.join(repr(r.uniform()) for _ in range(5)))\n"
            for n in bounds {
                script += "r = Xoshiro(\(seed)); print(' '.join(str(r.below(\(n))) for _ in range(50)))\n"
            }
            script += "print(' '.join(str(x) for x in permutation(37, Xoshiro(\(seed)))))\n"
            script += "print(derive(\(seed), 'split'), derive(\(seed)), derive(\(seed), 'four-momenta', 'g'))\n"
        }
        let lines = try runPython(script)
        var expected: [String] = []
        for seed in seeds {
            var r = Xoshiro256StarStar(seed: seed)
            expected.append((0..<20).map { _ in String(r.next()) }.joined(separator: " "))
            r = Xoshiro256StarStar(seed: seed)
            expected.append((0..<5).map { _ in "\(r.nextUniform())" }.joined(separator: " "))
            for n in bounds {
                r = Xoshiro256StarStar(seed: seed)
                expected.append((0..<50).map { _ in String(r.nextBelow(n)) }.joined(separator: " "))
            }
            r = Xoshiro256StarStar(seed: seed)
            expected.append(fisherYatesPermutation(count: 37, rng: &r).map(String.init).joined(separator: " "))
            expected.append("\(deriveSeed(seed, "split")) \(deriveSeed(seed)) \(deriveSeed(seed, "four-momenta", "g"))")
        }
        XCTAssertEqual(lines.count, expected.count)
        for (swiftLine, pythonLine) in zip(expected, lines) {
            XCTAssertEqual(swiftLine, pythonLine)
        }
    }

    func testNextUniformIsTheTop53Bits() {
        var a = Xoshiro256StarStar(seed: 99)
        var b = a
        for _ in 0..<1000 {
            let u = a.nextUniform()
            XCTAssertEqual(u, Double(b.next() >> 11) / 9_007_199_254_740_992)
            XCTAssert(u >= 0 && u < 1)
        }
    }

    func testNextBelowStaysBelowAndIsUniform() {
        var rng = Xoshiro256StarStar(seed: 2024)
        for _ in 0..<100 { XCTAssertEqual(rng.nextBelow(1), 0) }
        for n: UInt64 in [2, 3, 5, 1 << 40, (1 << 63) + 1, .max] {
            for _ in 0..<2000 { XCTAssertLessThan(rng.nextBelow(n), n) }
        }
        // Chi-square with 9 degrees of freedom over 100,000 draws; 27.88 is the 0.1% critical value.
        var histogram = [Int](repeating: 0, count: 10)
        let draws = 100_000
        for _ in 0..<draws { histogram[Int(rng.nextBelow(10))] += 1 }
        let expected = Double(draws) / 10
        let chiSquare = histogram.reduce(0.0) { $0 + (Double($1) - expected) * (Double($1) - expected) / expected }
        XCTAssertLessThan(chiSquare, 27.88, "nextBelow(10) histogram \(histogram)")
    }

    func testDeriveSeed() {
        // sha256("0") = 5feceb66ffc86f38d952786c6d696c79c2dbc239dd4e91b46729d73a27fb57e9.
        XCTAssertEqual(deriveSeed(0), 0x5fec_eb66_ffc8_6f38)
        XCTAssertEqual(deriveSeed(42, "split"), 0xad1a_65cd_9de1_fdd8)
        XCTAssertEqual(deriveSeed(42, "four-momenta", "g"), 0xa2c6_dabd_33e5_f2a5)
        XCTAssertNotEqual(deriveSeed(42, "a", "b"), deriveSeed(42, "b", "a"))
        XCTAssertNotEqual(deriveSeed(42, "split"), deriveSeed(43, "split"))
    }

    func testFisherYatesPermutation() {
        var rng = Xoshiro256StarStar(seed: 2023)
        XCTAssertEqual(fisherYatesPermutation(count: 10, rng: &rng), [6, 0, 7, 1, 8, 2, 4, 3, 9, 5])
        var empty = Xoshiro256StarStar(seed: 1)
        XCTAssertEqual(fisherYatesPermutation(count: 0, rng: &empty), [])
        XCTAssertEqual(fisherYatesPermutation(count: 1, rng: &empty), [0])
        // count ≤ 1 consumes nothing.
        let afterEmpty = empty.next()
        var fresh = Xoshiro256StarStar(seed: 1)
        XCTAssertEqual(afterEmpty, fresh.next())

        var a = Xoshiro256StarStar(seed: 7), b = Xoshiro256StarStar(seed: 7)
        let pa = fisherYatesPermutation(count: 1000, rng: &a)
        XCTAssertEqual(pa.sorted(), Array(0..<1000))
        XCTAssertEqual(pa, fisherYatesPermutation(count: 1000, rng: &b))
        XCTAssertNotEqual(pa, fisherYatesPermutation(count: 1000, rng: &a))

        // All 6 orderings of 3 elements equally often: chi-square, 5 dof, 0.1% critical 20.52.
        var counts: [[Int]: Int] = [:]
        let trials = 60_000
        for _ in 0..<trials { counts[fisherYatesPermutation(count: 3, rng: &a), default: 0] += 1 }
        XCTAssertEqual(counts.count, 6)
        let expected = Double(trials) / 6
        let chiSquare = counts.values.reduce(0.0) { $0 + (Double($1) - expected) * (Double($1) - expected) / expected }
        XCTAssertLessThan(chiSquare, 20.52, "permutation counts \(counts)")
    }
}
