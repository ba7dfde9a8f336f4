import Foundation
import XCTest

@testable import Executor

/// A failed stage is recorded and never cached; a corrupted object is detected, never used.
final class FailureTests: XCTestCase {
    private var ws: Workspace!

    override func setUpWithError() throws { ws = try Workspace("failure") }
    override func tearDown() { ws.remove() }

    func testDeclaredButUnwrittenOutputFailsAndOtherBranchesComplete() throws {
        let doc = pipeline([
            "a": text("a"),
            "lazy": stage("lazy", inputs: ["a"]),
            "after": text("x", inputs: ["lazy"]),
            "other": text("o", inputs: ["a"]),
        ])
        let r = try ws.run(doc)
        XCTAssertEqual(r.executedStages, ["a", "other"])
        XCTAssertContains(r.failureMessage("lazy"), "stage 'lazy' finished without producing its declared outputs: b.txt. Nothing was cached.")
        XCTAssertEqual(r.skipReason("after"), "upstream 'lazy' did not complete")
        XCTAssertEqual(r.failed.map(\.stage).sorted(), ["after", "lazy"])
        XCTAssertEqual(ws.log.count("after"), 0)

        XCTAssertFalse(try ws.store.allCacheEntries().contains { $0.stage == "lazy" }, "a failed attempt must not be cached")
        let attempts = try ws.store.attempts(stage: "lazy")
        XCTAssertEqual(attempts.count, 1)
        XCTAssertEqual(attempts.first?.outcome, "failed")
        XCTAssertContains(attempts.first?.error, "declared outputs: b.txt")
        XCTAssertNotNil(attempts.first?.ended)
        XCTAssertEqual(attempts.first?.outputs, [])
        XCTAssertEqual(try ws.store.attempts(stage: "after").count, 0)
        XCTAssertFalse(FileManager.default.fileExists(atPath: ws.store.outDirectory + "/lazy"))

        // The failure is not remembered as a result: the next run tries again.
        let again = try ws.run(doc)
        XCTAssertEqual(again.cachedStages, ["a", "other"])
        XCTAssertNotNil(again.failureMessage("lazy"))
        XCTAssertEqual(ws.log.count("lazy"), 2)
        XCTAssertEqual(try ws.store.attempts(stage: "lazy").count, 2)
        XCTAssertEqual(try ws.status(doc)["lazy"]?.state, .neverRun)
    }

    func testThrowingStageIsRecordedWithItsError() throws {
        let r = try ws.run(pipeline(["boom": stage("fail"), "after": text("x", inputs: ["boom"]), "free": text("f")]))
        XCTAssertContains(r.failureMessage("boom"), "deliberate failure for the test")
        XCTAssertContains(r.failureMessage("boom"), "attempt files kept in")
        XCTAssertEqual(r.skipReason("after"), "upstream 'boom' did not complete")
        XCTAssertEqual(r.executedStages, ["free"])
        let a = try XCTUnwrap(try ws.store.attempts(stage: "boom").first)
        XCTAssertEqual(a.outcome, "failed")
        XCTAssertEqual(a.error, "stage 'boom': deliberate failure for the test")
        XCTAssertTrue(ws.progress.events.contains { $0.hasPrefix("FAILED boom: ") }, "\(ws.progress.events)")
    }

    /// Makes an object writable and replaces its bytes with others of the same size.
    private func corrupt(_ digest: String) throws {
        let path = ws.store.objectPath(digest)
        XCTAssertEqual(chmod(path, 0o644), 0)
        let old = try Data(contentsOf: URL(fileURLWithPath: path))
        try Data(old.map { $0 ^ 0x5A }).write(to: URL(fileURLWithPath: path))
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)).count, old.count)
    }

    private let corruptible = pipeline(["a": text("a"), "b": text("b", inputs: ["a"])])

    private func outputDigest(_ report: RunReport, _ stage: String) throws -> String {
        let entry = try XCTUnwrap(try ws.store.cacheEntry(XCTUnwrap(report.key(stage))))
        return try XCTUnwrap(entry.outputs.first?.digest)
    }

    func testObjectsAreReadOnlyInTheStore() throws {
        let digest = try outputDigest(try ws.run(corruptible), "a")
        var st = stat()
        XCTAssertEqual(stat(ws.store.objectPath(digest), &st), 0)
        XCTAssertEqual(st.st_mode & 0o222, 0, "objects must not be writable")
    }

    func testVerifyReportsACorruptedObjectAndAForcedDownstreamRunRefusesIt() throws {
        let first = try ws.run(corruptible)
        let digest = try outputDigest(first, "a")
        XCTAssertEqual(try ws.store.verify(repair: false).corrupted, [])
        try corrupt(digest)

        let report = try ws.store.verify(repair: false)
        XCTAssertEqual(report.checked, 2)
        XCTAssertEqual(report.corrupted, [digest])
        XCTAssertTrue(FileManager.default.fileExists(atPath: ws.store.objectPath(digest)), "verify without repair deletes nothing")

        let forced = try ws.run(corruptible, force: ["b"])
        let message = try XCTUnwrap(forced.failureMessage("b"))
        XCTAssertContains(message, "input a/out.txt of stage 'b' is corrupted in the store (expected sha256 \(digest.prefix(12)), found ")
        XCTAssertContains(message, "run `pipeline run` again to recompute it")
        XCTAssertEqual(ws.log.count("b"), 1, "the stage body must never see a corrupted input")
        XCTAssertNil(try ws.store.cacheEntry(XCTUnwrap(first.key("a"))), "the corrupted result is forgotten")

        let healed = try ws.run(corruptible)
        XCTAssertEqual(healed.executedStages, ["a"])
        XCTAssertEqual(healed.cachedStages, ["b"], "a's recomputed bytes equal the originals: b stays cached")
        XCTAssertEqual(try ws.store.verify(repair: false).corrupted, [])
        XCTAssertEqual(try ws.published("a"), "\"a\"\n")
    }

    /// Forcing the producer to recompute must leave correct bytes in the store: ingesting an
    /// output whose digest names an existing object may not trust that object blindly.
    func testForcedRerunOfTheProducerReplacesItsCorruptedObject() throws {
        let first = try ws.run(corruptible)
        let digest = try outputDigest(first, "a")
        try corrupt(digest)
        let forced = try ws.run(corruptible, force: ["a"])
        XCTAssertEqual(forced.executedStages, ["a"])
        XCTAssertEqual(forced.key("a"), first.key("a"))
        XCTAssertEqual(try ws.store.verify(repair: false).corrupted, [], "the recomputed bytes must replace the corrupted object")
        XCTAssertEqual(try ws.published("a"), "\"a\"\n")
        XCTAssertNil(try ws.run(corruptible, force: ["b"]).failureMessage("b"))
    }

    func testVerifyRepairDropsTheCorruptedResultAndARunRecomputesIt() throws {
        let first = try ws.run(corruptible)
        let digest = try outputDigest(first, "b")
        try corrupt(digest)
        let repaired = try ws.store.verify(repair: true)
        XCTAssertEqual(repaired.corrupted, [digest])
        XCTAssertFalse(FileManager.default.fileExists(atPath: ws.store.objectPath(digest)))
        XCTAssertNil(try ws.store.cacheEntry(XCTUnwrap(first.key("b"))))
        XCTAssertEqual(try ws.store.verify(repair: false).corrupted, [])

        let states = try ws.status(corruptible)
        XCTAssertEqual(states["a"]?.state, .cached)
        XCTAssertEqual(states["b"]?.state, .stale)
        XCTAssertEqual(states["b"]?.reasons, ["no stored result for this key"])

        let rerun = try ws.run(corruptible)
        XCTAssertEqual(rerun.executedStages, ["b"])
        XCTAssertEqual(rerun.key("b"), first.key("b"))
        XCTAssertEqual(try ws.published("b"), "\"b\"\na/out.txt: \"a\"\n\n")
        let clean = try ws.store.verify(repair: false)
        XCTAssertEqual(clean.checked, 2)
        XCTAssertEqual(clean.corrupted, [])
    }
}
