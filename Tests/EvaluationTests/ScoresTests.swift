import Foundation
import XCTest
@testable import Evaluation
import SeededRandom

/// Anomaly scores of lgae.md §11.3: the Chamfer score with the NON-squared Euclidean norm and a
/// mean over the n slots, the ordered MSE score, and the point spaces.

private func chamfer(_ x: [SIMD4<Double>], _ y: [SIMD4<Double>]) -> Double {
    var minima = [Double](repeating: .nan, count: chamferScratchCount(particles: x.count))
    return x.withUnsafeBufferPointer { xb in
        y.withUnsafeBufferPointer { yb in
            minima.withUnsafeMutableBufferPointer { chamferScore(reconstruction: xb, target: yb, scratch: $0) }
        }
    }
}

private func mse(_ x: [SIMD4<Double>], _ y: [SIMD4<Double>]) -> Double {
    x.withUnsafeBufferPointer { xb in y.withUnsafeBufferPointer { mseScore(reconstruction: xb, target: $0) } }
}

/// The reference's non-batched Chamfer, written the slow way: every pair distance rooted
/// (torch.norm), minima both ways, each averaged over its n slots, the two means added.
private func naiveChamfer(_ x: [SIMD4<Double>], _ y: [SIMD4<Double>]) -> Double {
    let n = x.count
    func dist(_ a: SIMD4<Double>, _ b: SIMD4<Double>) -> Double {
        var s = 0.0
        for k in 0..<4 { s += (a[k] - b[k]) * (a[k] - b[k]) }
        return s.squareRoot()
    }
    var xToY = 0.0, yToX = 0.0
    for i in 0..<n { xToY += y.map { dist(x[i], $0) }.min()! }
    for j in 0..<n { yToX += x.map { dist($0, y[j]) }.min()! }
    return xToY / Double(n) + yToX / Double(n)
}

private func points(_ p4: [Double], space: ScoreSpace, norm: SIMD4<Double> = SIMD4(repeating: 1)) -> [SIMD4<Double>] {
    let n = p4.count / 4
    var out = [SIMD4<Double>](repeating: SIMD4(repeating: .nan), count: n)
    var scratch = [Double](repeating: .nan, count: 3 * n)
    p4.withUnsafeBufferPointer { p in
        scratch.withUnsafeMutableBufferPointer { s in
            out.withUnsafeMutableBufferPointer { scorePoints(p, space: space, norm: norm, scratch: s, into: $0) }
        }
    }
    return out
}

final class ScoresTests: XCTestCase {

    // MARK: Chamfer, hand-worked

    func testChamferOfTheSpecExampleIsTwo() {
        // lgae.md §15.1: x = {(1,0,0,0), (0,1,0,0)}, y = {(1,0,0,1), (0,0,0,0)}.
        // Distances [[1, 1], [√3, 1]]: row minima 1, 1; column minima 1, 1; (2 + 2)/2 = 2.
        let x: [SIMD4<Double>] = [SIMD4(1, 0, 0, 0), SIMD4(0, 1, 0, 0)]
        let y: [SIMD4<Double>] = [SIMD4(1, 0, 0, 1), SIMD4(0, 0, 0, 0)]
        XCTAssertEqual(chamfer(x, y), 2)
        XCTAssertEqual(chamfer(y, x), 2)
    }

    func testChamferUsesTheNonSquaredNormAndAMeanOverSlots() {
        // x = {0, (3,4,0,0), (10,0,0,0)}, y = {(0,0,0,1), (6,8,0,0), 0}. Distances ‖x_i − y_j‖:
        //          y0     y1    y2
        //   x0      1     10     0
        //   x1    √26      5     5
        //   x2   √101    √80    10
        // Row minima 0, 5, √80; column minima 1, 5, 0.
        // Score = (0 + 5 + √80 + 1 + 5 + 0)/3 = (11 + 4√5)/3 = 6.648090636666386 (Python, same
        // summation order). The squared-distance version would be (25 + 80 + 1 + 25)/3 = 43.67, the
        // summed (not averaged) one 3× larger.
        let x: [SIMD4<Double>] = [SIMD4(0, 0, 0, 0), SIMD4(3, 4, 0, 0), SIMD4(10, 0, 0, 0)]
        let y: [SIMD4<Double>] = [SIMD4(0, 0, 0, 1), SIMD4(6, 8, 0, 0), SIMD4(0, 0, 0, 0)]
        XCTAssertEqual(chamfer(x, y), 6.648090636666386, accuracy: 1e-15)
        XCTAssertEqual(chamfer(x, y), (11 + 4 * 5.0.squareRoot()) / 3, accuracy: 1e-15)
    }

    func testChamferOfOneSlotIsTwiceTheDistance() {
        XCTAssertEqual(chamfer([SIMD4(1, 2, 3, 4)], [SIMD4(1, 2, 3, 4)]), 0)
        XCTAssertEqual(chamfer([SIMD4(0, 3, 0, 4)], [SIMD4(0, 0, 0, 0)]), 10)   // 5 + 5
        XCTAssertEqual(chamfer([], []), 0)
    }

    func testChamferOfAPermutedCopyIsZero() {
        let x: [SIMD4<Double>] = [SIMD4(0.5, 1, -2, 3), SIMD4(0, 0, 0, 0), SIMD4(7, -1, 2, 0.25), SIMD4(0.5, 1, -2, 3)]
        XCTAssertEqual(chamfer(x, [x[2], x[0], x[3], x[1]]), 0)
    }

    // MARK: Chamfer, symmetry and a naive comparison

    func testChamferIsSymmetricInItsArgumentsAndUnderPermutations() {
        var rng = Xoshiro256StarStar(seed: 11)
        for n in [1, 2, 3, 5, 30] {
            let x = (0..<n).map { _ in SIMD4(rng.nextUniform(), rng.nextUniform() - 0.5, 2 * rng.nextUniform(), rng.nextUniform()) }
            let y = (0..<n).map { _ in SIMD4(rng.nextUniform(), rng.nextUniform() - 0.5, 2 * rng.nextUniform(), rng.nextUniform()) }
            let s = chamfer(x, y)
            // Swapping the clouds swaps the two sums: exactly the same number.
            XCTAssertEqual(chamfer(y, x), s, "n = \(n)")
            // Permuting either cloud only reorders the sums: equal up to rounding.
            let px = fisherYatesPermutation(count: n, rng: &rng).map { x[$0] }
            let py = fisherYatesPermutation(count: n, rng: &rng).map { y[$0] }
            XCTAssertEqual(chamfer(px, y), s, accuracy: 1e-14 * s, "n = \(n)")
            XCTAssertEqual(chamfer(x, py), s, accuracy: 1e-14 * s, "n = \(n)")
            XCTAssertEqual(chamfer(py, px), s, accuracy: 1e-14 * s, "n = \(n)")
        }
    }

    func testChamferMatchesNaiveImplementationOnRandomClouds() {
        var rng = Xoshiro256StarStar(seed: 12)
        for trial in 0..<200 {
            let n = [1, 2, 3, 4, 7, 16, 30][trial % 7]
            let scale = [1.0, 1e-3, 250.0][trial % 3]
            func draw() -> SIMD4<Double> {
                // Some zero slots (padding), some points with a zero fourth lane (3-d spaces).
                if rng.nextBelow(5) == 0 { return SIMD4(repeating: 0) }
                let w = trial % 2 == 0 ? 0 : scale * (rng.nextUniform() - 0.5)
                return SIMD4(scale * rng.nextUniform(), scale * (rng.nextUniform() - 0.5), scale * (rng.nextUniform() - 0.5), w)
            }
            let x = (0..<n).map { _ in draw() }
            var y = (0..<n).map { _ in draw() }
            if trial % 4 == 1 { y[0] = x[n - 1] }   // an exact coincidence
            let expected = naiveChamfer(x, y)
            XCTAssertEqual(chamfer(x, y), expected, accuracy: 1e-13 * max(expected, 1e-300), "trial \(trial), n = \(n)")
        }
    }

    // MARK: MSE

    func testMSEHandWorked() {
        // Slot-wise squared distances: |(0,0,0,−1)|² = 1 and |(−2,0,0,0)|² = 4; mean over 2 slots = 2.5.
        let x: [SIMD4<Double>] = [SIMD4(1, 2, 3, 4), SIMD4(0, 0, 0, 0)]
        let y: [SIMD4<Double>] = [SIMD4(1, 2, 3, 5), SIMD4(2, 0, 0, 0)]
        XCTAssertEqual(mse(x, y), 2.5)
        // Ordered: swapping the reconstruction's slots changes it.
        // |(0,0,0,0)−(1,2,3,5)|² = 39, |(1,2,3,4)−(2,0,0,0)|² = 1 + 4 + 9 + 16 = 30 → 34.5.
        XCTAssertEqual(mse([x[1], x[0]], y), 34.5)
        XCTAssertEqual(mse(x, x), 0)
        XCTAssertEqual(mse([], []), 0)
    }

    // MARK: score spaces

    private let jet: [Double] = [13, 3, 4, 12,
                                 5, 3, -4, 0,
                                 1, -1, 0, 0,
                                 0, 0, 0, 0]

    func testScorePointsCartesianCopiesTheRows() {
        let p = points(jet, space: .cartesian, norm: SIMD4(repeating: 1000))   // norm is ignored here
        XCTAssertEqual(p, [SIMD4(13, 3, 4, 12), SIMD4(5, 3, -4, 0), SIMD4(1, -1, 0, 0), SIMD4(0, 0, 0, 0)])
    }

    func testScorePointsNormalisedCartesianDividesPerComponent() {
        var p = points(jet, space: .normalisedCartesian, norm: SIMD4(repeating: 4))
        XCTAssertEqual(p, [SIMD4(3.25, 0.75, 1, 3), SIMD4(1.25, 0.75, -1, 0), SIMD4(0.25, -0.25, 0, 0), SIMD4(0, 0, 0, 0)])
        p = points(jet, space: .normalisedCartesian, norm: SIMD4(2, 4, 8, 16))
        XCTAssertEqual(p[0], SIMD4(6.5, 0.75, 0.5, 0.75))
        XCTAssertEqual(p[1], SIMD4(2.5, 0.75, -0.5, 0))
    }

    func testScorePointsRelativePolar() {
        // The hand-worked jet of KinematicsTests in the reference's anomaly-score convention
        // (§11.3 (e), `get_p4_polar` + `get_polar_rel`): particle − jet, and φ = atan2(py+ε, px+ε), so
        // the padded slot sits at φ = atan2(ε, ε) = π/4 (the jet's φ is atan2(ε, 5+ε) ≈ 2e-17, which
        // rounds away). (pt_rel, eta_rel, phi_rel, 0) per slot.
        let p = points(jet, space: .relativePolar)
        let ln5 = 1.6094379124341003
        let expected: [SIMD4<Double>] = [SIMD4(1, 0, 0.9272952180016123, 0),
                                         SIMD4(1, -ln5, -0.9272952180016123, 0),
                                         SIMD4(0.2, -ln5, -Double.pi, 0),
                                         SIMD4(0, -ln5, Double.pi / 4, 0)]
        for i in 0..<4 {
            for k in 0..<4 { XCTAssertEqual(p[i][k], expected[i][k], accuracy: 1e-15, "slot \(i) lane \(k)") }
        }
        // And exactly what relativePolarCoordinates writes in that convention.
        var rel = [Double](repeating: 0, count: 12)
        jet.withUnsafeBufferPointer { j in rel.withUnsafeMutableBufferPointer { relativePolarCoordinates(j, into: $0, convention: .anomalyScores) } }
        for i in 0..<4 { XCTAssertEqual(p[i], SIMD4(rel[3 * i], rel[3 * i + 1], rel[3 * i + 2], 0)) }
    }

    func testChamferInRelativePolarSpaceIsBlindToAnOverallScale() {
        // Each cloud is taken relative to its own jet: scaling a reconstruction by 2 leaves its
        // relative coordinates — hence the score — unchanged (dyadic scale: bit-exact).
        let recon = jet.map { 2 * $0 }
        XCTAssertEqual(chamfer(points(recon, space: .relativePolar), points(jet, space: .relativePolar)), 0)
        XCTAssertGreaterThan(chamfer(points(recon, space: .cartesian), points(jet, space: .cartesian)), 0)
    }
}
