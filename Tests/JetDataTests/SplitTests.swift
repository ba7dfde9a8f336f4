import XCTest
@testable import JetData

final class SplitTests: XCTestCase {
    /// JetNet 30-particle jet counts (lgae.md §2.1).
    private let jetNetCounts: [JetClass: Int] = [.g: 177_252, .q: 170_679, .t: 177_945, .w: 177_172, .z: 176_952]

    func testFullJetNetCountsOfSpec2_4() {
        XCTAssertEqual(trainValidCount(177_252, testFraction: 0.2), 141_801)
        XCTAssertEqual(trainValidCount(170_679, testFraction: 0.2), 136_543)
        let plan = planSplit(counts: jetNetCounts, seed: 0)
        XCTAssertEqual(plan.train.count, 208_758)
        XCTAssertEqual(plan.valid.count, 69_586)
        XCTAssertEqual(plan.test.count, 69_587)
        // QCD test: g's last 35,451 rows then q's last 34,136, in row order.
        XCTAssertEqual(plan.test.first, JetIndex(jetClass: .g, row: 141_801))
        XCTAssertEqual(plan.test[35_450], JetIndex(jetClass: .g, row: 177_251))
        XCTAssertEqual(plan.test[35_451], JetIndex(jetClass: .q, row: 136_543))
        XCTAssertEqual(plan.test.last, JetIndex(jetClass: .q, row: 170_678))
        XCTAssertEqual(plan.signalTest[.t]?.count, 35_589)
        XCTAssertEqual(plan.signalTest[.w]?.count, 35_435)
        XCTAssertEqual(plan.signalTest[.z]?.count, 35_391)
        XCTAssertEqual(plan.signalTest[.t]?.first, JetIndex(jetClass: .t, row: 142_356))
        XCTAssertEqual(plan.signalTest[.z]?.last, JetIndex(jetClass: .z, row: 176_951))
        XCTAssertNil(plan.signalTest[.g])
    }

    func testSameSeedSamePlanOtherSeedOtherPlan() {
        let counts: [JetClass: Int] = [.g: 500, .q: 400, .t: 100, .w: 100, .z: 100]
        let a = planSplit(counts: counts, seed: 9), b = planSplit(counts: counts, seed: 9)
        let c = planSplit(counts: counts, seed: 10)
        XCTAssertEqual(a.train, b.train)
        XCTAssertEqual(a.valid, b.valid)
        XCTAssertEqual(a.test, b.test)
        XCTAssertEqual(a.signalTest, b.signalTest)
        XCTAssertNotEqual(a.train, c.train)
        XCTAssertEqual(a.test, c.test, "the test split does not depend on the seed")
    }

    func testTrainValidTestAreDisjointAndCoverAllQCD() {
        let counts: [JetClass: Int] = [.g: 1234, .q: 987, .t: 10, .w: 11, .z: 12]
        let plan = planSplit(counts: counts, seed: 1)
        let all = plan.train + plan.valid + plan.test
        XCTAssertEqual(Set(all).count, all.count, "a jet appears in two splits")
        let qcd = Set((0..<1234).map { JetIndex(jetClass: .g, row: $0) } + (0..<987).map { JetIndex(jetClass: .q, row: $0) })
        XCTAssertEqual(Set(all), qcd)
        // Train and valid hold exactly the first 80% of each background file.
        XCTAssert((plan.train + plan.valid).allSatisfy { $0.row < trainValidCount(counts[$0.jetClass]!, testFraction: 0.2) })
    }

    func testSixtyTwentyTwentyAndMixedClasses() {
        let plan = planSplit(counts: [.g: 2000, .q: 2000, .t: 2000, .w: 2000, .z: 2000], seed: 123)
        XCTAssertEqual(plan.train.count, 2400)
        XCTAssertEqual(plan.valid.count, 800)
        XCTAssertEqual(plan.test.count, 800)
        for c in [JetClass.t, .w, .z] {
            XCTAssertEqual(plan.signalTest[c], (1600..<2000).map { JetIndex(jetClass: c, row: $0) })
        }
        // The permutation mixes g and q: each is about half of train (binomial sd ≈ 24).
        let gluons = plan.train.filter { $0.jetClass == .g }.count
        XCTAssert(abs(gluons - 1200) < 150, "\(gluons) gluon jets out of 2400 training jets")
    }

    func testPlanMatchesTheDocumentedRecipeInPython() throws {
        let counts: [JetClass: Int] = [.g: 53, .q: 41, .t: 5, .w: 5, .z: 5]
        let plan = planSplit(counts: counts, seed: 31_337)
        let script = pythonRandomReference + """
        n = {'g': 53, 'q': 41}
        tv = [(c, r) for c in ['g', 'q'] for r in range(int(n[c] * (1 - 0.2)))]
        perm = permutation(len(tv), Xoshiro(derive(31337, 'split')))
        cut = int(0.75 * len(tv))
        print(' '.join(f'{c}{r}' for c, r in (tv[i] for i in perm[:cut])))
        print(' '.join(f'{c}{r}' for c, r in (tv[i] for i in perm[cut:])))
        """
        let lines = try runPython(script)
        func render(_ jets: [JetIndex]) -> String { jets.map { "\($0.jetClass.rawValue)\($0.row)" }.joined(separator: " ") }
        XCTAssertEqual(lines, [render(plan.train), render(plan.valid)])
    }

    func testGather() {
        let values = Array(0..<12)  // 4 rows of 3
        XCTAssertEqual(gather(values, stride: 3, rows: [2, 0, 2]), [6, 7, 8, 0, 1, 2, 6, 7, 8])
        XCTAssertEqual(gather(values, stride: 3, rows: []), [])
        let byClass: [JetClass: [Double]] = [.g: [1, 2, 3, 4], .q: [10, 20, 30, 40, 50, 60]]
        let jets = [JetIndex(jetClass: .q, row: 2), JetIndex(jetClass: .g, row: 0), JetIndex(jetClass: .q, row: 0)]
        XCTAssertEqual(gather(byClass, stride: 2, jets: jets), [50, 60, 1, 2, 10, 20])
    }
}
