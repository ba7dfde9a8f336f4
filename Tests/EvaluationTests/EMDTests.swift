import Foundation
import XCTest
@testable import Evaluation
import SeededRandom

// Tests of EMDSolver against hand-worked values, a brute-force linear program, and values computed
// with the real energyflow package.

/// The project's generator (xoshiro256**) with the draws these tests need, so every case is
/// reproducible.
private struct EMDRandom {
    var generator: Xoshiro256StarStar
    init(seed: UInt64) { generator = Xoshiro256StarStar(seed: seed) }
    /// Uniform in [0, 1).
    mutating func uniform() -> Double { generator.nextUniform() }
    /// Uniform integer in 0..<bound.
    mutating func int(_ bound: Int) -> Int { Int(generator.nextBelow(UInt64(bound))) }
    /// Standard normal (Box–Muller).
    mutating func normal() -> Double {
        let u1 = max(uniform(), 1e-300), u2 = uniform()
        return (-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * Double.pi * u2)
    }

    /// A jet-like event in relative coordinates: `count` particles, steeply falling pT summing to
    /// about 1, (y, φ) spread ~0.2 around the axis.
    mutating func jet(_ count: Int) -> [Double] {
        var event: [Double] = []
        for _ in 0..<count {
            let e = -Foundation.log(max(uniform(), 1e-300))
            event += [e * e / Double(count), 0.2 * normal(), 0.2 * normal()]
        }
        return event
    }

    /// A highly degenerate event: small-integer weights (zeros included) on a coarse grid, so that
    /// ties between weights, partial sums and distances abound.
    mutating func gridEvent(_ count: Int) -> [Double] {
        var event: [Double] = []
        for _ in 0..<count {
            event += [Double(int(4)), 0.5 * Double(int(3) - 1), 0.5 * Double(int(3) - 1)]
        }
        return event
    }
}

/// Minimum of energyflow's linear program by brute force over all bases, built the way energyflow
/// (via Wasserstein) builds it and independent of the solver's shortcuts: every particle is kept
/// (zero weights included), the lighter event gets an extra particle of weight |ΔW| at cost 1 to
/// everything, and costs are (θ/R)^β computed as pow(θ/R, β). A vertex of the balanced
/// transportation polytope is a spanning tree of rows + columns − 1 cells whose flows, fixed by
/// peeling leaves, are non-negative; the optimum is the cheapest vertex. Exponential: tiny only.
private func bruteForceEMD(_ a: [Double], _ b: [Double], R: Double, beta: Double) -> Double {
    var w0 = stride(from: 0, to: a.count, by: 3).map { a[$0] }
    var w1 = stride(from: 0, to: b.count, by: 3).map { b[$0] }
    let n0 = w0.count, n1 = w1.count
    let total0 = w0.reduce(0, +), total1 = w1.reduce(0, +)
    if total0 + total1 == 0 { return 0 }
    if total0 < total1 { w0.append(total1 - total0) }
    if total1 < total0 { w1.append(total0 - total1) }
    let m = w0.count, n = w1.count
    func cost(_ i: Int, _ j: Int) -> Double {
        if i >= n0 || j >= n1 { return 1 }
        let dy = a[3 * i + 1] - b[3 * j + 1], dp = a[3 * i + 2] - b[3 * j + 2]
        return Foundation.pow((dy * dy + dp * dp).squareRoot() / R, beta)
    }
    let cells = m * n, k = m + n - 1
    var best = Double.infinity
    var chosen = [Int](repeating: 0, count: k)

    func evaluate() {
        // Spanning tree? k = nodes − 1 edges without a cycle.
        var root = Array(0..<(m + n))
        func find(_ x: Int) -> Int { var x = x; while root[x] != x { x = root[x] }; return x }
        for c in chosen {
            let r = find(c / n), s = find(m + c % n)
            if r == s { return }
            root[r] = s
        }
        // Flows by peeling leaves.
        var remaining = w0 + w1
        var alive = [Bool](repeating: true, count: k)
        var degree = [Int](repeating: 0, count: m + n)
        for c in chosen { degree[c / n] += 1; degree[m + c % n] += 1 }
        var total = 0.0
        for _ in 0..<k {
            guard let e = (0..<k).first(where: { alive[$0] && (degree[chosen[$0] / n] == 1 || degree[m + chosen[$0] % n] == 1) })
            else { return }
            let row = chosen[e] / n, column = m + chosen[e] % n
            let leaf = degree[row] == 1 ? row : column, other = leaf == row ? column : row
            let f = remaining[leaf]
            if f < -1e-12 { return }
            remaining[other] -= f
            remaining[leaf] = 0
            alive[e] = false
            degree[row] -= 1; degree[column] -= 1
            total += f * cost(row, chosen[e] % n)
        }
        best = min(best, total)
    }

    func choose(_ position: Int, _ start: Int) {
        if position == k { evaluate(); return }
        if start > cells - (k - position) { return }
        for c in start...(cells - (k - position)) {
            chosen[position] = c
            choose(position + 1, c + 1)
        }
    }
    choose(0, 0)
    return best
}

private func assertClose(_ x: Double, _ y: Double, relative: Double = 1e-12, _ message: @autoclosure () -> String = "",
                         file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(x, y, accuracy: relative * max(1, abs(y)), message(), file: file, line: line)
}

/// Two small events (3 and 4 particles, each with a padded zero-weight particle) evaluated by
/// energyflow at several R and β.
private let threePlusPad: [Double] = [0.5, 0.1, 0.0, 0.3, -0.2, 0.1, 0.2, 0.05, -0.3,
                                      0.0, 0.0, 0.0]
private let fourPlusPad: [Double] = [0.4, 0.0, 0.1, 0.1, 0.3, 0.3, 0.25, -0.1, -0.1,
                                     0.35, 0.2, -0.2, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]

/// A 30-particle event used against two others.
private let thirtyParticles: [Double] = [
    0.003082, -0.390361, -0.227786, 0.012188, -0.172056, 0.054121, 0.453366, -0.076607, 0.048368,
    1.837664, 0.176897, 0.126826, 0.014211, -0.249785, -0.202772, 0.001428, -0.019044, -0.143131,
    0.033206, 0.017919, -0.118648, 0.070297, -0.300568, -0.144789, 0.060582000000000004, -0.088143, 0.056909,
    0.053361, 0.176281, 0.017002, 0.072313, -0.001875, 0.113074, 0.00044, -0.151884, 0.229212,
    0.091211, -0.052961, -0.407541, 0.00764, 0.05563, -0.054893, 0.000883, -0.163256, 0.035821,
    0.012412, -0.356413, -0.123491, 0.041537, 0.20011, -0.434527, 0.025024, -0.017903, -0.194452,
    0.005351, -0.077449, -0.263788, 0.101115, -0.071025, 0.055106, 0.00504, 0.227221, -0.505159,
    0.47992399999999996, 0.02194, 0.080808, 0.365388, 0.253212, -0.161988, 0.551378, 0.36941, -0.130616,
    0.157543, -0.310653, 0.12246, 0.022308, 0.056921, -0.017819, 0.005563, 0.09139, 0.207177,
    0.155395, 0.447075, -0.304907, 0.008893999999999999, 0.09128, -0.228233, 6.8e-05, 0.256408, 0.053924,
]

/// An unrelated 30-particle event.
private let otherThirtyParticles: [Double] = [
    0.007073, -0.005573, -0.149359, 0.024185, -0.081549, -0.315711, 0.012457999999999999, 0.099213, -0.373634,
    0.007254, -0.079866, 0.022938, 0.000137, 0.095066, -0.012021, 0.10803600000000001, -0.310041, 0.084177,
    0.157049, 0.017381, 0.071571, 0.0018089999999999998, 0.1491, -0.026995, 0.050343, -0.004462, 0.102648,
    0.0071790000000000005, -0.096222, -0.374025, 0.026036, 0.017437, -0.082413, 0.0047940000000000005, 0.12975, -0.276521,
    0.047289, 0.056847, 0.415155, 4e-06, -0.174594, 0.123087, 0.006424, -0.291674, -0.058448,
    0.008969999999999999, -0.049015, -0.118118, 0.003731, -0.272519, 0.187104, 0.082432, -0.026266, -0.204877,
    0.008043999999999999, 0.353064, -0.001425, 0.057783, -0.10194, 0.208944, 0.147978, 0.012452, 0.065621,
    0.071363, -0.021345, -0.179146, 0.048531, -0.052687, 0.035305, 0.060643, -0.151694, 0.025706,
    0.130421, 0.550043, -0.31298, 0.010698, -0.049661, 0.331994, 0.43408599999999997, 0.126691, -0.363104,
    0.01729, -0.239313, -0.143718, 2.0991120000000003, 0.160091, 0.030144, 1.3579109999999999, 0.083158, -0.157202,
]

/// 20 particles and 10 padded (zero-weight) slots.
private let twentyPlusTenPadding: [Double] = [
    0.00233, -0.115918, 0.642007, 0.11734, 0.433651, 0.311594, 0.01418, -0.133512, -0.301947,
    0.148324, 0.560128, 0.069131, 0.166092, 0.215093, 0.33689, 0.060267, -0.066373, -0.189824,
    0.210377, -0.264633, 0.355707, 1.9142839999999999, 0.070063, -0.137348, 0.016988, -0.06795, 0.248847,
    0.036962, -0.17253, 0.050536, 0.017472, 0.082778, -0.038387, 0.09223, 0.037105, 0.245012,
    0.0029400000000000003, -0.08275, 0.194594, 0.38985099999999995, -0.244464, -0.416715, 0.144947, -0.103366, 0.227613,
    0.0012439999999999999, -0.029279, 0.382165, 0.002921, -0.107143, -0.042243, 7e-06, -0.1104, -0.433824,
    7e-06, -0.151456, -0.309101, 0.000147, -0.113423, 0.20784, 0.0, 0.0, 0.0,
    0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
    0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
    0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
]

/// An event computed with energyflow and the value it gives.
private struct Golden {
    let name: String
    let R: Double
    let beta: Double
    let a: [Double]
    let b: [Double]
    let emd: Double
}

final class EMDTests: XCTestCase {
    func testOneVersusOneIsWeightTimesDistance() throws {
        var solver = EMDSolver()
        // Equal weights 2, distance sqrt(3² + 4²) = 5: all the weight moves 5 (in units of R)^β.
        let a = [2.0, 0, 0], b = [2.0, 3, 4]
        XCTAssertEqual(try solver.distance(a, b), 10)
        XCTAssertEqual(try solver.distance(a, b, R: 2), 5)
        XCTAssertEqual(try solver.distance(a, b, beta: 2), 50)
        XCTAssertEqual(try solver.distance(a, b, R: 2, beta: 2), 12.5)
    }

    func testUnbalancedEventsPayTheWeightDifference() throws {
        var solver = EMDSolver()
        // W0 = 3, W1 = 1.5: the 1.5 of event 1 is covered by the nearest weight of event 0 — 1 at
        // distance 0 and 0.5 at distance 1 — and |ΔW| = 1.5 is added: 0 + 0.5 + 1.5 = 2.
        let a = [1.0, 0, 0, 2.0, 1, 0], b = [1.5, 0, 0]
        XCTAssertEqual(try solver.distance(a, b), 2)
        XCTAssertEqual(try solver.distance(b, a), 2)
        // The difference term is |ΔW| whatever R and β: co-located particles of weights 1 and 2.
        for (R, beta) in [(1.0, 1.0), (0.1, 1.0), (0.4, 2.0), (3.0, 0.5)] {
            XCTAssertEqual(try solver.distance([1, 0.3, -0.2], [2, 0.3, -0.2], R: R, beta: beta), 1)
        }
        // Nothing against something: everything is created, at cost its total weight.
        XCTAssertEqual(try solver.distance([], [1.5, 0.2, 0.1, 2.5, -1, 3]), 4)
        XCTAssertEqual(try solver.distance([1.5, 0.2, 0.1, 2.5, -1, 3], []), 4)
        XCTAssertEqual(try solver.distance([], []), 0)
    }

    func testIdenticalEventsAreAtDistanceZero() throws {
        var solver = EMDSolver()
        var random = EMDRandom(seed: 1)
        for count in [1, 2, 5, 30] {
            let a = random.jet(count)
            XCTAssertEqual(try solver.distance(a, a), 0, accuracy: 1e-15)
            // The same particles in another order.
            var permuted: [Double] = []
            for k in stride(from: count - 1, through: 0, by: -1) { permuted += a[(3 * k)..<(3 * k + 3)] }
            XCTAssertEqual(try solver.distance(a, permuted), 0, accuracy: 1e-15)
        }
        let grid = random.gridEvent(30)
        XCTAssertEqual(try solver.distance(grid, grid), 0, accuracy: 1e-15)
    }

    func testZeroWeightParticlesAreIgnored() throws {
        var solver = EMDSolver()
        var random = EMDRandom(seed: 2)
        for _ in 0..<20 {
            let a = random.jet(1 + random.int(20)), b = random.jet(1 + random.int(20))
            let reference = try solver.distance(a, b)
            // Padding (pT = 0) anywhere, at any coordinates, changes nothing, bit for bit.
            var paddedA = a, paddedB = b
            paddedA.insert(contentsOf: [0, 5 * random.normal(), 5 * random.normal()], at: 3 * random.int(a.count / 3 + 1))
            paddedA += [0, 0, 0, 0, 0, 0]
            paddedB.insert(contentsOf: [0, 5 * random.normal(), 5 * random.normal()], at: 0)
            XCTAssertEqual(try solver.distance(paddedA, paddedB), reference)
            XCTAssertEqual(try solver.distance(paddedA, b), reference)
        }
        // Events of padding only weigh nothing.
        let zeros = [Double](repeating: 0, count: 30)
        XCTAssertEqual(try solver.distance(zeros, [2, 0.1, 0.2]), 2)
        XCTAssertEqual(try solver.distance(zeros, zeros), 0)
    }

    func testSymmetry() throws {
        var solver = EMDSolver()
        var random = EMDRandom(seed: 3)
        for trial in 0..<60 {
            let a = trial % 3 == 0 ? random.gridEvent(1 + random.int(30)) : random.jet(1 + random.int(30))
            let b = trial % 3 == 0 ? random.gridEvent(1 + random.int(30)) : random.jet(1 + random.int(30))
            let R = [1.0, 0.4, 2.0][trial % 3], beta = [1.0, 2.0, 0.5][(trial / 3) % 3]
            assertClose(try solver.distance(a, b, R: R, beta: beta), try solver.distance(b, a, R: R, beta: beta))
        }
    }

    func testAgreesWithBruteForceLinearProgram() throws {
        var solver = EMDSolver(capacity: 4)
        var bland = EMDSolver(capacity: 4, blandOnly: true)
        var random = EMDRandom(seed: 4)
        for trial in 0..<150 {
            let n0 = random.int(4), n1 = random.int(4)
            let degenerate = trial % 2 == 1
            var a = degenerate ? random.gridEvent(n0) : random.jet(n0)
            let b = degenerate ? random.gridEvent(n1) : random.jet(n1)
            if !degenerate && n0 > 0 && trial % 5 == 0 { a[0] = 0 }  // a zero weight among real ones
            let R = [1.0, 0.3, 1.7][trial % 3], beta = [1.0, 2.0, 0.5, 1.0][trial % 4]
            let expected = bruteForceEMD(a, b, R: R, beta: beta)
            assertClose(try solver.distance(a, b, R: R, beta: beta), expected, "trial \(trial)")
            assertClose(try bland.distance(a, b, R: R, beta: beta), expected, "trial \(trial), Bland's rule")
        }
    }

    func testBlandsRuleAgreesWithDantzigsOnLargerDegenerateEvents() throws {
        // Bland's rule is the anti-cycling fallback: correct but slow, rarely used. Both pricing
        // rules must reach the same optimum.
        var solver = EMDSolver()
        var bland = EMDSolver(capacity: 30, blandOnly: true)
        var random = EMDRandom(seed: 5)
        for trial in 0..<20 {
            let a = trial % 2 == 0 ? random.gridEvent(30) : random.jet(30)
            let b = trial % 2 == 0 ? random.gridEvent(10 + random.int(21)) : random.jet(30)
            assertClose(try solver.distance(a, b), try bland.distance(a, b), "trial \(trial)")
        }
    }

    func testGoldenValuesFromEnergyflow() throws {
        var solver = EMDSolver()
        for golden in goldenValues {
            assertClose(try solver.distance(golden.a, golden.b, R: golden.R, beta: golden.beta), golden.emd, golden.name)
        }
    }

    func testBuffersGrowthAndCopiesGiveTheSameValues() throws {
        var random = EMDRandom(seed: 6)
        let pairs = (0..<10).map { _ in (random.jet(30), random.jet(25)) }
        var reference = EMDSolver(capacity: 30)
        let expected = try pairs.map { try reference.distance($0.0, $0.1) }

        // A solver sized too small grows on first use.
        var small = EMDSolver(capacity: 1)
        XCTAssertEqual(try pairs.map { try small.distance($0.0, $0.1) }, expected)
        // A copy gets its own scratch memory; interleaved use of both changes nothing.
        var copy = reference
        for (k, pair) in pairs.enumerated() {
            XCTAssertEqual(try copy.distance(pair.0, pair.1), expected[k])
            XCTAssertEqual(try reference.distance(pair.1, pair.0), try copy.distance(pair.1, pair.0))
        }
        // The buffer entry point on slices of one flat array.
        let flat = pairs.flatMap { $0.0 + $0.1 }
        try flat.withUnsafeBufferPointer { all in
            var offset = 0
            for (k, pair) in pairs.enumerated() {
                let a = UnsafeBufferPointer(rebasing: all[offset..<(offset + pair.0.count)])
                let b = UnsafeBufferPointer(rebasing: all[(offset + pair.0.count)..<(offset + pair.0.count + pair.1.count)])
                XCTAssertEqual(try reference.distance(a, b), expected[k])
                offset += pair.0.count + pair.1.count
            }
        }
    }

    func testInvalidInputIsRefusedNamingTheParticle() {
        var solver = EMDSolver()
        let good = [1.0, 0, 0, 2.0, 0.5, 0.5]
        func refusal(_ a: [Double], _ b: [Double], R: Double = 1, beta: Double = 1) -> EMDError? {
            do { _ = try solver.distance(a, b, R: R, beta: beta); return nil } catch { return error as? EMDError }
        }
        XCTAssertEqual(refusal(good, [1, 0, 0, 1, 0, 0, -0.5, 0, 0]),
                       EMDError(event: 1, particle: 2, reason: .negativeWeight(-0.5)))
        let nan = refusal([1, 0, .nan], good)  // NaN ≠ NaN, so compare the parts
        XCTAssertEqual(nan?.event, 0)
        XCTAssertEqual(nan?.particle, 0)
        guard case let .nonFiniteCoordinate(component: 2, value: value)? = nan?.reason, value.isNaN else {
            return XCTFail("expected a NaN φ, got \(String(describing: nan))")
        }
        XCTAssertEqual(refusal(good, [1, 0, 0, 1, .infinity, 0]),
                       EMDError(event: 1, particle: 1, reason: .nonFiniteCoordinate(component: 1, value: .infinity)))
        XCTAssertEqual(refusal([.infinity, 0, 0], good),
                       EMDError(event: 0, particle: 0, reason: .nonFiniteWeight(.infinity)))
        XCTAssertEqual(refusal([1, 0, 0, 1], good),
                       EMDError(event: 0, particle: nil, reason: .countNotMultipleOfThree(4)))
        XCTAssertEqual(refusal(good, good, R: 0), EMDError(event: nil, particle: nil, reason: .invalidParameter(name: "R", value: 0)))
        XCTAssertEqual(refusal(good, good, beta: -1), EMDError(event: nil, particle: nil, reason: .invalidParameter(name: "beta", value: -1)))
        XCTAssertEqual(refusal([1, 1e200, 0], [1, -1e200, 0]), EMDError(event: nil, particle: nil, reason: .distanceOverflow))
        // The message names the particle.
        XCTAssertEqual(refusal(good, [1, 0, 0, 1, 0, 0, -0.5, 0, 0])?.description, "EMD: event 1, particle 2: weight (pT) -0.5 is negative")
        // A negative zero is a zero weight, not a negative one.
        XCTAssertNil(refusal([-0.0, 0, 0], good))
    }
}

// Produced by running energyflow 1.4.0 (with wasserstein 1.1.0; `pip install energyflow` in a
// Python 3.11 venv) on these events:
//     energyflow.emd.emd(a.reshape(-1, 3), b.reshape(-1, 3), R=R, beta=beta, norm=False,
//                        measure='euclidean', coords='hadronic', periodic_phi=False)
// The events were drawn once with numpy (jet-like pT, (y, φ) rounded to 6 decimals) and are fixed
// here; the values are energyflow's output printed with repr (exact doubles).
private let goldenValues: [Golden] = [
        Golden(
            name: "one vs one", R: 1.0, beta: 1.0,
            a: [2.0, 0.1, -0.2],
            b: [2.0, 0.4, 0.2],
            emd: 1.0),
        Golden(
            name: "two vs one, unbalanced", R: 1.0, beta: 1.0,
            a: [1.0, 0.0, 0.0, 2.0, 1.0, 0.0],
            b: [1.5, 0.0, 0.0],
            emd: 2.0),
        Golden(
            name: "3+pad vs 4+pad, R=0.4", R: 0.4, beta: 1.0,
            a: threePlusPad, b: fourPlusPad,
            emd: 0.5624892663442246),
        Golden(
            name: "3+pad vs 4+pad, beta=2", R: 1.0, beta: 2.0,
            a: threePlusPad, b: fourPlusPad,
            emd: 0.13550000000000004),
        Golden(
            name: "3+pad vs 4+pad, R=0.8 beta=0.5", R: 0.8, beta: 0.5,
            a: threePlusPad, b: fourPlusPad,
            emd: 0.57857257146331),
        Golden(
            name: "30 vs 30", R: 1.0, beta: 1.0,
            a: thirtyParticles,
            b: otherThirtyParticles,
            emd: 1.0043822354008562),
        Golden(
            name: "30 vs its perturbation", R: 1.0, beta: 1.0,
            a: thirtyParticles,
            b: [
                0.002971, -0.355744, -0.285993, 0.009279, -0.193733, 0.062267, 0.811299, -0.118522, 0.025668,
                2.07989, 0.212389, 0.141327, 0.022781, -0.279513, -0.208046, 0.001981, 0.00822, -0.166655,
                0.06753, -0.006275, -0.154815, 0.059462, -0.302606, -0.165372, 0.067184, -0.04804, 0.051302,
                0.068898, 0.18013, 0.050199, 0.064251, 0.004418, 0.1762, 0.000257, -0.173726, 0.188021,
                0.08276, -0.056352, -0.447544, 0.013198, 0.072402, -0.075441, 0.001513, -0.147978, 0.050667,
                0.014932, -0.407711, -0.085945, 0.045053, 0.150266, -0.417199, 0.013062, -0.025813, -0.154247,
                0.008119, -0.073675, -0.261677, 0.117358, -0.062635, 0.016795, 0.013218, 0.230543, -0.570212,
                0.567151, 0.013565, 0.021106, 0.256108, 0.254355, -0.185587, 0.455718, 0.373146, -0.120593,
                0.075554, -0.316374, 0.173125, 0.030757, 0.018202, -0.00178, 0.004641, 0.127926, 0.257095,
                0.132665, 0.455275, -0.372897, 0.002227, 0.114493, -0.229888, 5.1e-05, 0.255359, 0.089952,
            ],
            emd: 0.7003937169581255),
        Golden(
            name: "30 vs 20+10 padding, beta=2", R: 1.0, beta: 2.0,
            a: thirtyParticles,
            b: twentyPlusTenPadding,
            emd: 1.5300209864484848),
        Golden(
            name: "20+10 padding vs 30, R=0.4", R: 0.4, beta: 1.0,
            a: twentyPlusTenPadding,
            b: otherThirtyParticles,
            emd: 2.9665929597311047),
]
