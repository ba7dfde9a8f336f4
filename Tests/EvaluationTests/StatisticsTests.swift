import Foundation
import XCTest
@testable import Evaluation

/// Order statistics against numpy 2.4.6. Every expected number below was printed by
///     np.quantile(a, q)   (default method "linear")
///     np.median(a), np.mean(a), np.std(a)
/// on the unsorted input shown, with `repr(float(...))`.
///
/// Quantiles and medians are compared EXACTLY: numpy's linear method computes the position
/// h = (n − 1)·q and blends the neighbours with `_lerp` (a + (b − a)·t, or b − (b − a)·(1 − t) when
/// t ≥ ½), and the median as (a + b)/2 — the same floating-point operations as the Swift code, so
/// equal inputs must give equal bits. Mean and standard deviation are compared to within a few
/// ulps (relative 1e-15): numpy sums in input order (and pairwise from 9 elements on), the Swift
/// code sums the sorted values.
private struct NumpyCase {
    let name: String
    let values: [Double]
    let median: Double
    /// np.quantile at `StatisticsTests.qs`.
    let quantiles: [Double]
    let mean: Double
    let std: Double
}

final class StatisticsTests: XCTestCase {

    static let qs: [Double] = [0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0, 1.0 / 3.0]

    private let cases: [NumpyCase] = [
        NumpyCase(name: "n=1", values: [3.5], median: 3.5,
                  quantiles: [3.5, 3.5, 3.5, 3.5, 3.5, 3.5, 3.5, 3.5], mean: 3.5, std: 0.0),
        NumpyCase(name: "n=2", values: [2.0, 1.0], median: 1.5,
                  quantiles: [1.0, 1.1, 1.25, 1.5, 1.75, 1.9, 2.0, 1.3333333333333333], mean: 1.5, std: 0.5),
        // 0.1 + 0.6·t is inexact: numpy's rounding pattern must be reproduced bit for bit.
        NumpyCase(name: "n=2 tenths", values: [0.7, 0.1], median: 0.39999999999999997,
                  quantiles: [0.1, 0.16, 0.25, 0.39999999999999997, 0.5499999999999999, 0.64, 0.7, 0.3],
                  mean: 0.39999999999999997, std: 0.29999999999999993),
        NumpyCase(name: "odd n=5, negatives", values: [10.0, -1.0, 2.0, -3.0, 0.0], median: 0.0,
                  quantiles: [-3.0, -2.2, -1.0, 0.0, 2.0, 6.800000000000001, 10.0, -0.6666666666666667],
                  mean: 1.6, std: 4.498888751680798),
        NumpyCase(name: "even n=4", values: [0.4, 0.1, 0.3, 0.2], median: 0.25,
                  quantiles: [0.1, 0.13, 0.17500000000000002, 0.25, 0.325, 0.37000000000000005, 0.4, 0.2],
                  mean: 0.25, std: 0.11180339887498948),
        NumpyCase(name: "duplicates", values: [5.0, 2.0, 2.0, 5.0, 2.0], median: 2.0,
                  quantiles: [2.0, 2.0, 2.0, 2.0, 5.0, 5.0, 5.0, 2.0], mean: 3.2, std: 1.469693845669907),
        NumpyCase(name: "all negative, even, a duplicate", values: [-0.3, -1e-3, -7.25, -0.3, -2.0, -11.0], median: -1.15,
                  quantiles: [-11.0, -9.125, -5.9375, -1.15, -0.3, -0.1505, -0.001, -3.750000000000001],
                  mean: -3.4751666666666665, std: 4.188909978210985),
        NumpyCase(name: "awkward magnitudes", values: [0.1, 0.2, 0.30000000000000004, 1e-17, 3.3333333333333335, -2.718281828459045, 1e10],
                  median: 0.2,
                  quantiles: [-2.718281828459045, -1.0873127313836177, 0.05000000000000001, 0.2, 1.8166666666666669,
                              4000000002.0000033, 10000000000.0, 0.1],
                  mean: 1428571428.7450073, std: 3499271061.0479627),
    ]

    func testQuantileOfSortedMatchesNumpyExactly() {
        for c in cases {
            let sorted = c.values.sorted()
            for (q, expected) in zip(Self.qs, c.quantiles) {
                XCTAssertEqual(quantileOfSorted(sorted, q), expected, "\(c.name): q = \(q)")
            }
        }
    }

    func testMedianOfSortedMatchesNumpyExactly() {
        for c in cases {
            XCTAssertEqual(medianOfSorted(c.values.sorted()), c.median, c.name)
            // np.median and np.quantile(·, 0.5) agree on all these inputs.
            XCTAssertEqual(quantileOfSorted(c.values.sorted(), 0.5), c.median, c.name)
        }
    }

    func testDistributionSummaryMatchesNumpy() {
        for c in cases {
            let s = DistributionSummary(c.values)   // unsorted input
            XCTAssertEqual(s.count, c.values.count, c.name)
            XCTAssertEqual(s.median, c.median, c.name)
            XCTAssertEqual(s.q25, c.quantiles[2], c.name)
            XCTAssertEqual(s.q75, c.quantiles[4], c.name)
            XCTAssertEqual(s.iqr, c.quantiles[4] - c.quantiles[2], c.name)
            XCTAssertEqual(s.mean, c.mean, accuracy: 1e-15 * max(1, abs(c.mean)), c.name)
            XCTAssertEqual(s.standardDeviation, c.std, accuracy: 1e-15 * max(1, abs(c.std)), "\(c.name): population std (ddof 0)")
        }
    }

    func testHugeValuesDoNotOverflowTheQuantiles() {
        // np.quantile([-1e300, 1e300], q) for the same qs; np.median = 0; np.std = inf (the
        // squares overflow), as here.
        let expected: [Double] = [-1e300, -8e299, -5e299, 0.0, 5e299, 8e299, 1e300, -3.3333333333333335e299]
        for (q, e) in zip(Self.qs, expected) {
            XCTAssertEqual(quantileOfSorted([-1e300, 1e300], q), e, "q = \(q)")
        }
        let s = DistributionSummary([1e300, -1e300])
        XCTAssertEqual(s.median, 0)
        XCTAssertEqual(s.mean, 0)
        XCTAssertEqual(s.standardDeviation, .infinity)
    }

    func testUpperBranchOfNumpyLerp() {
        // numpy's `_lerp` switches to b − (b − a)(1 − t) for t ≥ ½ (exact at t = 1). These inputs
        // tell the branches apart (numpy printed the first column; the naive a + (b − a)·t gives
        // the value in the comment):
        XCTAssertEqual(quantileOfSorted([0.2, 0.7], 0.9), 0.65)                                   // naive 0.6499999999999999
        XCTAssertEqual(quantileOfSorted([0.1, 0.30000000000000004], 0.75), 0.25000000000000006)  // naive 0.25
        XCTAssertEqual(quantileOfSorted([0.1, 0.7], 1.0), 0.7)
        XCTAssertEqual(quantileOfSorted([0.1, 0.7], 0.0), 0.1)
        // With n = 5 the 0.9 quantile sits at h = 3.6 between 0.2 and 0.7 (numpy: 0.5).
        XCTAssertEqual(quantileOfSorted([0, 0, 0, 0.2, 0.7], 0.9), 0.5)
    }

    func testEmptyInputGivesNaN() {
        XCTAssertTrue(quantileOfSorted([], 0.5).isNaN)
        XCTAssertTrue(medianOfSorted([]).isNaN)
        let s = DistributionSummary([])
        XCTAssertEqual(s.count, 0)
        XCTAssertTrue(s.median.isNaN)
        XCTAssertTrue(s.q25.isNaN)
        XCTAssertTrue(s.mean.isNaN)
        XCTAssertTrue(s.standardDeviation.isNaN)
    }
}
