import Foundation
import XCTest
@testable import Evaluation
import SeededRandom

/// ROC curves against scikit-learn 1.9.1 / numpy 2.4.6. For each case the expected arrays were
/// printed (repr of each float) by
///     y = np.r_[np.ones(len(sig)), -np.ones(len(bkg))]; s = np.r_[sig, bkg]
///     fpr, tpr, thr = sklearn.metrics.roc_curve(y, s, drop_intermediate=True)
///     a = sklearn.metrics.auc(fpr, tpr)
///     if a < 0.5: fpr, tpr, thr = roc_curve(-y, s); a = auc(fpr, tpr)     # the reference's flip
///     first  = tpr[np.searchsorted(fpr, eb)]
///     interp = np.interp(eb, fpr, tpr)
/// Curves, thresholds and AUCs of the small cases are compared EXACTLY: the counts are integers,
/// fpr/tpr are one division each, and numpy's trapezoid sum is sequential below 9 terms.
private struct SklearnCase {
    let name: String
    let signal: [Double]
    let background: [Double]
    let fpr: [Double]
    let tpr: [Double]
    let thresholds: [Double]
    let auc: Double
    /// (eb, tpr[searchsorted(fpr, eb)], np.interp(eb, fpr, tpr)), on the (possibly flipped) curve.
    let efficiencies: [(eb: Double, first: Double, interpolated: Double)]
}

private func sorted(_ scores: [Double]) -> SortedScores {
    try! SortedScores(scores)
}

private func curve(_ signal: [Double], _ background: [Double]) -> ROCCurve {
    rocCurve(signal: sorted(signal), background: sorted(background))
}

final class ROCTests: XCTestCase {

    private let cases: [SklearnCase] = [
        // Ties between the classes (0.8, 0.5, 0.3) and within each (0.8 ×2 and 0.3 ×2 in the
        // signal, 0.5 ×2 and 0.3 ×2 in the background). The point at threshold 0.1 is collinear
        // with its neighbours and dropped.
        SklearnCase(name: "ties",
                    signal: [0.9, 0.8, 0.8, 0.5, 0.3, 0.3],
                    background: [0.8, 0.5, 0.4, 0.3, 0.3, 0.1, 0.0, 0.5],
                    fpr: [0.0, 0.0, 0.125, 0.375, 0.5, 0.75, 1.0],
                    tpr: [0.0, 0.16666666666666666, 0.5, 0.6666666666666666, 0.6666666666666666, 1.0, 1.0],
                    thresholds: [.infinity, 0.9, 0.8, 0.5, 0.4, 0.3, 0.0],
                    auc: 0.7291666666666666,
                    efficiencies: [(0.1, 0.5, 0.43333333333333335), (0.25, 0.6666666666666666, 0.5833333333333333),
                                   (0.3, 0.6666666666666666, 0.6166666666666666), (0.5, 0.6666666666666666, 0.6666666666666666),
                                   (1.0 / 3.0, 0.6666666666666666, 0.6388888888888888), (0.9, 1.0, 1.0), (1.0, 1.0, 1.0)]),
        // Every score equal: one threshold, the diagonal, AUC ½ (not flipped: the test is a < ½).
        SklearnCase(name: "all tied",
                    signal: [1, 1, 1], background: [1, 1],
                    fpr: [0.0, 1.0], tpr: [0.0, 1.0], thresholds: [.infinity, 1.0], auc: 0.5,
                    efficiencies: [(0.0, 0.0, 0.0), (0.1, 1.0, 0.1), (0.25, 1.0, 0.25), (0.3, 1.0, 0.3),
                                   (1.0 / 3.0, 1.0, 0.3333333333333333), (0.9, 1.0, 0.9), (1.0, 1.0, 1.0)]),
        // Perfect separation; the points at thresholds 6, 4, 3, 2 are collinear and dropped.
        SklearnCase(name: "separated",
                    signal: [5, 6, 7], background: [1, 2, 3, 4],
                    fpr: [0.0, 0.0, 0.0, 1.0], tpr: [0.0, 0.3333333333333333, 1.0, 1.0],
                    thresholds: [.infinity, 7.0, 5.0, 1.0], auc: 1.0,
                    efficiencies: [(0.1, 1.0, 1.0), (0.5, 1.0, 1.0), (1.0, 1.0, 1.0)]),
        SklearnCase(name: "separated, more collinear points",
                    signal: [10, 9, 8, 7, 7.5], background: [6, 5, 4, 3, 2, 1],
                    fpr: [0.0, 0.0, 0.0, 1.0], tpr: [0.0, 0.2, 1.0, 1.0],
                    thresholds: [.infinity, 10.0, 7.0, 1.0], auc: 1.0,
                    efficiencies: [(0.1, 1.0, 1.0), (0.5, 1.0, 1.0)]),
        // Interleaved, with vertical and horizontal steps.
        SklearnCase(name: "interleaved",
                    signal: [3, 1, 2, 0.5, 2.5, 1.5, 0.2], background: [2.2, 1, 0.1, 3, 0.3, 0.4],
                    fpr: [0.0, 0.16666666666666666, 0.16666666666666666, 0.3333333333333333, 0.3333333333333333,
                          0.5, 0.5, 0.8333333333333334, 0.8333333333333334, 1.0],
                    tpr: [0.0, 0.14285714285714285, 0.2857142857142857, 0.2857142857142857, 0.5714285714285714,
                          0.7142857142857143, 0.8571428571428571, 0.8571428571428571, 1.0, 1.0],
                    thresholds: [.infinity, 3.0, 2.5, 2.2, 1.5, 1.0, 0.5, 0.3, 0.2, 0.1],
                    auc: 0.6190476190476191,
                    efficiencies: [(0.0, 0.0, 0.0), (0.1, 0.14285714285714285, 0.08571428571428572),
                                   (0.25, 0.2857142857142857, 0.2857142857142857), (0.3, 0.2857142857142857, 0.2857142857142857),
                                   (0.5, 0.7142857142857143, 0.8571428571428571),
                                   (1.0 / 3.0, 0.2857142857142857, 0.5714285714285714), (0.9, 1.0, 1.0)]),
    ]

    func testCurvesMatchSklearnExactly() {
        for c in cases {
            let r = curve(c.signal, c.background)
            XCTAssertEqual(r.fpr, c.fpr, c.name)
            XCTAssertEqual(r.tpr, c.tpr, c.name)
            XCTAssertEqual(r.thresholds, c.thresholds, c.name)
            XCTAssertEqual(r.auc, c.auc, c.name)
            let a = AnomalyDetection(signal: sorted(c.signal), background: sorted(c.background))
            XCTAssertFalse(a.flipped, c.name)
            XCTAssertEqual(a.auc, c.auc, c.name)
            XCTAssertEqual(a.curve, r, c.name)
        }
    }

    func testCurveDoesNotDependOnInputOrder() {
        for c in cases {
            let rotated = Array(c.background[1...] + c.background[..<1])
            XCTAssertEqual(curve(c.signal.reversed(), rotated), curve(c.signal, c.background), c.name)
        }
    }

    func testSignalEfficiencyAtFirstPointMatchesSearchsorted() {
        for c in cases {
            let r = curve(c.signal, c.background)
            for e in c.efficiencies {
                XCTAssertEqual(r.signalEfficiencyAtFirstPoint(backgroundEfficiency: e.eb), e.first, "\(c.name): eb = \(e.eb)")
                XCTAssertEqual(AnomalyDetection(signal: sorted(c.signal), background: sorted(c.background))
                    .signalEfficiency(atBackground: e.eb).firstPoint, e.first, "\(c.name): eb = \(e.eb)")
            }
            // np.searchsorted(fpr, eb) = len(fpr) beyond the last point: the reference would raise.
            XCTAssertNil(r.signalEfficiencyAtFirstPoint(backgroundEfficiency: 1.5), c.name)
        }
    }

    func testSignalEfficiencyInterpolatedMatchesNumpyInterp() {
        for c in cases {
            let r = curve(c.signal, c.background)
            for e in c.efficiencies {
                XCTAssertEqual(r.signalEfficiencyInterpolated(backgroundEfficiency: e.eb), e.interpolated, "\(c.name): eb = \(e.eb)")
            }
        }
    }

    /// np.interp(x, xp, fp) with x equal to a repeated xp value returns fp at the LAST of the
    /// repeats — also when x equals xp[0] (numpy's binary_search_with_guess finds the last index
    /// with xp[j] ≤ x; only x < xp[0] returns fp[0]). The doc comment of
    /// signalEfficiencyInterpolated promises exactly that, but its `if eb <= first { return tpr[0] }`
    /// returns tpr[0] = 0 whenever eb = 0 and the curve starts with several fpr = 0 points (every
    /// curve whose highest scores are signal). numpy, printed with repr:
    ///   np.interp(0.0, [0, 0, 0.125, ...], [0, 1/6, 0.5, ...])  = 0.16666666666666666  ("ties")
    ///   np.interp(0.0, [0, 0, 0, 1], [0, 1/3, 1, 1])            = 1.0                  ("separated")
    func testSignalEfficiencyInterpolatedAtZeroBackgroundEfficiencyTakesTheLastZeroPoint() {
        XCTAssertEqual(curve(cases[0].signal, cases[0].background).signalEfficiencyInterpolated(backgroundEfficiency: 0),
                       0.16666666666666666)
        XCTAssertEqual(curve(cases[2].signal, cases[2].background).signalEfficiencyInterpolated(backgroundEfficiency: 0), 1.0)
    }

    // MARK: flipping

    func testAUCBelowHalfFlipsTheLabels() {
        let signal: [Double] = [0.1, 0.2, 0.2, 0.4], background: [Double] = [0.3, 0.5, 0.2, 0.9, 0.7]
        // roc_curve(y, s): AUC 0.15.
        let raw = curve(signal, background)
        XCTAssertEqual(raw.fpr, [0.0, 0.2, 0.6, 0.6, 0.8, 1.0, 1.0])
        XCTAssertEqual(raw.tpr, [0.0, 0.0, 0.0, 0.25, 0.25, 0.75, 1.0])
        XCTAssertEqual(raw.auc, 0.15)

        // roc_curve(-y, s): the background is the positive class.
        let a = AnomalyDetection(signal: sorted(signal), background: sorted(background))
        XCTAssertTrue(a.flipped)
        XCTAssertEqual(a.curve.fpr, [0.0, 0.0, 0.0, 0.25, 0.25, 0.75, 1.0])
        XCTAssertEqual(a.curve.tpr, [0.0, 0.2, 0.6, 0.6, 0.8, 1.0, 1.0])
        XCTAssertEqual(a.curve.thresholds, [.infinity, 0.9, 0.5, 0.4, 0.3, 0.2, 0.1])
        XCTAssertEqual(a.auc, 0.85)
        XCTAssertEqual(a.curve.auc, 0.85)

        // Efficiencies are read off the flipped curve.
        let expected: [(eb: Double, first: Double, interpolated: Double)] = [
            (0.1, 0.6, 0.6), (0.25, 0.6, 0.8), (0.3, 1.0, 0.8200000000000001), (0.5, 1.0, 0.9),
            (1.0 / 3.0, 1.0, 0.8333333333333334), (0.9, 1.0, 1.0), (1.0, 1.0, 1.0),
        ]
        for e in expected {
            let got = a.signalEfficiency(atBackground: e.eb)
            XCTAssertEqual(got.firstPoint, e.first, "eb = \(e.eb)")
            XCTAssertEqual(got.interpolated, e.interpolated, "eb = \(e.eb)")
        }
    }

    // MARK: SortedScores

    func testSortedScoresRejectsNaN() {
        XCTAssertThrowsError(try SortedScores([0.5, 1, .nan, 2, .nan])) { error in
            XCTAssertEqual(error as? ROCError, .nanScore(index: 2))
        }
        XCTAssertThrowsError(try SortedScores([.nan]))
        XCTAssertNoThrow(try SortedScores([]))
        XCTAssertNoThrow(try SortedScores([.infinity, -.infinity, 0]))
        XCTAssertEqual(try SortedScores([3, -1, 2, 2, .infinity]).descending, [.infinity, 3, 2, 2, -1])
    }

    func testSortedScoresMergingEqualsSortingTheConcatenation() throws {
        let parts: [[Double]] = [[0.3, 0.9, 0.3, -1], [], [0.5, 0.3, 2, .infinity], [-0.0, 0.0, 7]]
        let merged = SortedScores(merging: try parts.map { try SortedScores($0) })
        let whole = try SortedScores(parts.flatMap { $0 })
        XCTAssertEqual(merged.descending, whole.descending)
        XCTAssertEqual(merged.count, 11)
        XCTAssertEqual(SortedScores(merging: []).count, 0)
    }

    // MARK: a larger case with many ties

    /// 1200 signal and 800 background integer scores, so ties are everywhere (147 distinct values):
    ///     sig[k] = float((k*7919 + 13) % 97 + (k*31) % 53)          k in range(1200)
    ///     bkg[k] = float((k*104729 + 7) % 89 + (k*17 + 3) % 41)     k in range(800)
    private func largeScores() -> (signal: [Double], background: [Double]) {
        let signal: [Double] = (0..<1200).map { (k: Int) -> Double in
            let a: Int = (k * 7919 + 13) % 97
            let b: Int = (k * 31) % 53
            return Double(a + b)
        }
        let background: [Double] = (0..<800).map { (k: Int) -> Double in
            let a: Int = (k * 104729 + 7) % 89
            let b: Int = (k * 17 + 3) % 41
            return Double(a + b)
        }
        return (signal, background)
    }

    func testLargeTiedCaseMatchesSklearn() {
        let (s, b) = largeScores()
        let r = curve(s, b)
        XCTAssertEqual(r.fpr.count, 125)
        XCTAssertEqual(r.tpr.count, 125)
        XCTAssertEqual(r.thresholds.count, 125)
        // sklearn's auc is 0.5874255208333334; a sequential trapezoid sum of the same curve gives
        // 0.5874255208333332 (numpy sums pairwise, 8 accumulators): allow those 2 ulps.
        XCTAssertEqual(r.auc, 0.5874255208333334, accuracy: 3e-16)
        XCTAssertEqual(Array(r.fpr.prefix(6)), [0.0, 0.0, 0.0, 0.0, 0.0, 0.0])
        XCTAssertEqual(Array(r.tpr.prefix(6)), [0.0, 0.0008333333333333334, 0.0033333333333333335, 0.006666666666666667, 0.0075, 0.0125])
        XCTAssertEqual(Array(r.thresholds.prefix(6)), [.infinity, 148.0, 144.0, 142.0, 141.0, 138.0])
        XCTAssertEqual(Array(r.fpr.suffix(3)), [0.99875, 1.0, 1.0])
        XCTAssertEqual(Array(r.tpr.suffix(3)), [0.9975, 0.9991666666666666, 1.0])
        XCTAssertEqual(Array(r.thresholds.suffix(3)), [3.0, 2.0, 1.0])
        // np.sum(fpr) = 56.80875, np.sum(tpr) = 65.54916666666668, np.sum(thr[1:]) = 8754.0.
        XCTAssertEqual(r.fpr.reduce(0, +), 56.80875, accuracy: 1e-12)
        XCTAssertEqual(r.tpr.reduce(0, +), 65.54916666666668, accuracy: 1e-12)
        XCTAssertEqual(r.thresholds.dropFirst().reduce(0, +), 8754.0)
        // (eb, tpr[searchsorted], np.interp)
        for (eb, first, interp) in [(0.1, 0.21916666666666668, 0.2163888888888889), (0.01, 0.085, 0.0775),
                                    (0.001, 0.05333333333333334, 0.050333333333333334), (0.5, 0.6075, 0.6020833333333333)] {
            XCTAssertEqual(r.signalEfficiencyAtFirstPoint(backgroundEfficiency: eb), first, "eb = \(eb)")
            XCTAssertEqual(r.signalEfficiencyInterpolated(backgroundEfficiency: eb), interp, "eb = \(eb)")
        }
        // The curve is the same whether the signal is sorted whole or merged from parts.
        let parts = [Array(s[0..<500]), Array(s[500..<501]), Array(s[501...])]
        let merged = SortedScores(merging: parts.map { sorted($0) })
        XCTAssertEqual(rocCurve(signal: merged, background: sorted(b)), r)
    }

    func testLargeTiedCaseWithNegatedScoresFlips() {
        // roc_curve(y, -s) has AUC 0.4125744791666667 → the reference recomputes
        // roc_curve(-y, -s): 124 points, AUC 0.5874255208333333.
        let (s, b) = largeScores()
        let ns = s.map { -$0 }, nb = b.map { -$0 }
        let raw = curve(ns, nb)
        XCTAssertEqual(raw.fpr.count, 124)
        XCTAssertEqual(raw.auc, 0.4125744791666667, accuracy: 3e-16)
        let a = AnomalyDetection(signal: sorted(ns), background: sorted(nb))
        XCTAssertTrue(a.flipped)
        XCTAssertEqual(a.curve.fpr.count, 124)
        XCTAssertEqual(a.auc, 0.5874255208333333, accuracy: 3e-16)
        XCTAssertEqual(Array(a.curve.fpr.prefix(4)), [0.0, 0.0008333333333333334, 0.0025, 0.0033333333333333335])
        XCTAssertEqual(Array(a.curve.tpr.prefix(4)), [0.0, 0.0, 0.00125, 0.0025])
        XCTAssertEqual(Array(a.curve.thresholds.prefix(4)), [.infinity, -1.0, -2.0, -3.0])
        for (eb, first, interp) in [(0.1, 0.14375, 0.1390625), (0.01, 0.0125, 0.0125), (0.001, 0.00125, 0.000125)] {
            let got = a.signalEfficiency(atBackground: eb)
            XCTAssertEqual(got.firstPoint, first, "eb = \(eb)")
            XCTAssertEqual(got.interpolated, interp, "eb = \(eb)")
        }
    }

    /// The radix sort behind SortedScores against the standard library's comparison sort, on scores
    /// with both signs, ±0, infinities, subnormals, huge and tiny magnitudes and many ties.
    func testRadixSortAgreesWithComparisonSort() throws {
        var g = Xoshiro256StarStar(seed: 7)
        for n in [511, 512, 513, 4_000, 40_000] {
            var v: [Double] = []
            for k in 0..<n {
                switch g.nextBelow(8) {
                case 0: v.append(Double(g.nextBelow(5)))                        // ties
                case 1: v.append(-Double(g.nextBelow(5)) / 4)
                case 2: v.append(k % 2 == 0 ? 0.0 : -0.0)
                case 3: v.append([Double.infinity, -.infinity, .leastNonzeroMagnitude, -.greatestFiniteMagnitude][Int(g.nextBelow(4))])
                case 4: v.append((g.nextUniform() - 0.5) * 1e300)
                default: v.append((g.nextUniform() - 0.5) * 1e-3)
                }
            }
            let radix = try SortedScores(v).descending, reference = v.sorted(by: >)
            XCTAssertEqual(radix.count, n)
            XCTAssertTrue(zip(radix, reference).allSatisfy { $0 == $1 }, "n = \(n)")
            XCTAssertEqual(radix.map(\.bitPattern).sorted(), v.map(\.bitPattern).sorted(), "the same values, bit for bit (n = \(n))")
        }
        // Merging sorted parts is the sorted whole.
        let parts = try [[3.0, 1, 1, -2], [2.0, 1], [], [5.0, -7]].map { try SortedScores($0) }
        XCTAssertEqual(SortedScores(merging: parts).descending, [5, 3, 2, 1, 1, 1, -2, -7])
    }
}
