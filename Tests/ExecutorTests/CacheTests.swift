import Foundation
import XCTest

@testable import Executor

/// Constructive traces with early cutoff: a stage reruns exactly when one of its key components
/// (kind, code, parameters, input contents, environment) changes, and `status` says which.
final class CacheTests: XCTestCase {
    private var ws: Workspace!

    override func setUpWithError() throws { ws = try Workspace("cache") }
    override func tearDown() { ws.remove() }

    /// a -> b -> c, and an independent d.
    private func chain(b: JSONValue = "b", aIgnored: Double? = nil) -> JSONValue {
        pipeline([
            "a": text("a", ignored: aIgnored),
            "b": text(b, inputs: ["a"]),
            "c": text("c", inputs: ["b/out.txt"]),
            "d": text("d"),
        ])
    }

    func testSecondRunExecutesNothing() throws {
        let first = try ws.run(chain())
        XCTAssertEqual(first.executedStages, ["a", "b", "c", "d"])
        XCTAssertEqual(ws.log.total, 4)
        XCTAssertEqual(try ws.published("c"), "\"c\"\nb/out.txt: \"b\"\na/out.txt: \"a\"\n\n\n")

        let second = try ws.run(chain())
        XCTAssertEqual(second.executed, 0)
        XCTAssertEqual(second.cachedStages, ["a", "b", "c", "d"])
        XCTAssertEqual(ws.log.total, 4, "a cached run must not execute any stage body")
        for s in ["a", "b", "c", "d"] { XCTAssertEqual(first.key(s), second.key(s)) }
        XCTAssertEqual(try ws.published("c"), "\"c\"\nb/out.txt: \"b\"\na/out.txt: \"a\"\n\n\n")

        // A fresh Runner over the same store (a new process) also finds everything.
        let states = try ws.status(chain())
        XCTAssertEqual(states.values.map(\.state), Array(repeating: .cached, count: 4))
        // Only runs that executed something add attempts.
        XCTAssertEqual(try ws.store.attempts(stage: "a").count, 1)
    }

    func testParameterChangeInvalidatesExactlyTheStageAndItsDependents() throws {
        try ws.run(chain())
        let changed = try ws.run(chain(b: "B"))
        XCTAssertEqual(changed.executedStages, ["b", "c"])
        XCTAssertEqual(changed.cachedStages, ["a", "d"])
        XCTAssertEqual([ws.log.count("a"), ws.log.count("b"), ws.log.count("c"), ws.log.count("d")], [1, 2, 2, 1])
        XCTAssertContains(try ws.published("c"), "b/out.txt: \"B\"")
    }

    func testRevertingAParameterRestoresFromTheStore() throws {
        let original = try ws.run(chain())
        let originalC = try ws.published("c")
        try ws.run(chain(b: "B"))
        XCTAssertNotEqual(try ws.published("c"), originalC)

        let reverted = try ws.run(chain())
        XCTAssertEqual(reverted.executed, 0, "a configuration seen before must be restored, not recomputed")
        XCTAssertEqual(ws.log.total, 6)
        XCTAssertEqual(reverted.key("c"), original.key("c"))
        XCTAssertEqual(try ws.published("c"), originalC)
        XCTAssertEqual(try ws.status(chain())["c"]?.state, .cached)
    }

    func testEarlyCutoffKeepsDependentsCachedWhenOutputBytesAreIdentical() throws {
        let first = try ws.run(chain())
        let cutoff = try ws.run(chain(aIgnored: 7))
        XCTAssertEqual(cutoff.executedStages, ["a"], "a's key changed, so it runs")
        XCTAssertEqual(cutoff.cachedStages, ["b", "c", "d"], "a's output bytes did not change, so nothing downstream reruns")
        XCTAssertNotEqual(cutoff.key("a"), first.key("a"))
        XCTAssertEqual(cutoff.key("b"), first.key("b"))
        XCTAssertEqual(ws.log.count("a"), 2)
        XCTAssertEqual(ws.log.count("b"), 1)
    }

    func testForcedStageExecutesAndItsDependentsBenefitFromEarlyCutoff() throws {
        try ws.run(chain())
        let forced = try ws.run(chain(), force: ["a"])
        XCTAssertEqual(forced.executedStages, ["a"])
        XCTAssertEqual(forced.cachedStages, ["b", "c", "d"])
    }

    func testTargetsRunOnlyWhatTheyNeed() throws {
        let r = try ws.run(chain(), targets: ["b"])
        XCTAssertEqual(r.outcomes.map(\.stage), ["a", "b"])
        XCTAssertEqual(ws.log.count("c") + ws.log.count("d"), 0)
        XCTAssertEqual(try ws.status(chain())["c"]?.state, .neverRun)
    }

    func testCodeDigestChangeRerunsThatKindAndDependents() throws {
        // a is of kind `source` (its code never changes here); b and c are `text`.
        let doc = pipeline(["a": text("a", kind: "source"), "b": text("b", inputs: ["a"]), "c": text("c", inputs: ["b"]),
                            "d": text("d", kind: "source")])
        try ws.run(doc)
        ws.kinds = Workspace.standardKinds(ws.log, textCode: "text-code-v2")

        let before = try ws.status(doc)
        XCTAssertEqual(before["a"]?.state, .cached)
        XCTAssertEqual(before["d"]?.state, .cached)
        XCTAssertEqual(before["b"]?.state, .stale)
        XCTAssertEqual(before["b"]?.reasons, ["code of stage kind 'text' changed (text-code-v1 -> text-code-v2)"])
        XCTAssertEqual(before["c"]?.state, .stale)
        XCTAssertEqual(before["c"]?.reasons.first, "upstream 'b' must run first")
        XCTAssertTrue(before["c"]?.reasons.contains { $0.hasPrefix("code of stage kind 'text' changed") } ?? false,
                      "\(before["c"]?.reasons ?? [])")

        let after = try ws.run(doc)
        XCTAssertEqual(after.executedStages, ["b", "c"])
        XCTAssertEqual(after.cachedStages, ["a", "d"])
        XCTAssertEqual(try ws.status(doc).values.filter { $0.state != .cached }.count, 0)
    }

    func testStatusNamesTheChangedParameterNewStagesAndBlockedDependents() throws {
        try ws.run(chain())
        var stages = chain(b: "B", aIgnored: 3).objectValue!["stages"]!.objectValue!
        stages["e"] = text("e", inputs: ["d"])
        let doc = pipeline(stages)

        let states = try ws.status(doc)
        XCTAssertEqual(states["a"]?.state, .stale)
        XCTAssertEqual(states["a"]?.reasons, ["params.ignored 0 -> 3"])
        XCTAssertEqual(states["b"]?.state, .stale)
        XCTAssertEqual(states["b"]?.reasons, ["upstream 'a' must run first", "params.value \"b\" -> \"B\""])
        XCTAssertEqual(states["c"]?.state, .stale)
        XCTAssertEqual(states["c"]?.reasons, ["upstream 'b' must run first"])
        XCTAssertEqual(states["d"]?.state, .cached)
        XCTAssertEqual(states["d"]?.reasons, [])
        XCTAssertEqual(states["e"]?.state, .neverRun)
        XCTAssertEqual(StageState.State.neverRun.rawValue, "never run")
        XCTAssertEqual(ws.log.total, 4, "status must not execute anything")

        // Once a has run (same bytes), b's only difference is its parameter.
        try ws.run(doc, targets: ["a"])
        let later = try ws.status(doc)
        XCTAssertEqual(later["b"]?.reasons, ["params.value \"b\" -> \"B\""])
        XCTAssertNotNil(later["b"]?.key)
    }

    func testInputContentChangeIsAReasonAndAWorkspaceFileEntersTheKey() throws {
        var s = text("b", inputs: ["a"]).objectValue!
        s["files"] = ["notes.txt"]
        let doc = pipeline(["a": text("a"), "b": .object(s)])
        let notes = ws.root + "/notes.txt"
        try Data("one".utf8).write(to: URL(fileURLWithPath: notes))
        XCTAssertEqual(try ws.run(doc).executedStages, ["a", "b"])
        XCTAssertContains(try ws.published("b"), "file:notes.txt: one")

        // A different size, so the change is seen even within one tick of the file-system clock.
        try Data("second".utf8).write(to: URL(fileURLWithPath: notes))
        let states = try ws.status(doc)
        XCTAssertEqual(states["b"]?.state, .stale)
        XCTAssertEqual(states["b"]?.reasons.count, 1)
        XCTAssertTrue(states["b"]?.reasons.first?.hasPrefix("input file:notes.txt changed (") ?? false, "\(states["b"]?.reasons ?? [])")
        XCTAssertEqual(try ws.run(doc).executedStages, ["b"])

        // Rewriting the same bytes (new mtime) is not a change.
        try Data("second".utf8).write(to: URL(fileURLWithPath: notes))
        XCTAssertEqual(try ws.run(doc).executed, 0)

        // A workspace file that disappeared fails the stage with the path.
        try FileManager.default.removeItem(atPath: notes)
        let gone = try ws.run(doc)
        XCTAssertContains(gone.failureMessage("b"), "notes.txt")
        XCTAssertEqual(gone.status("a"), .cached)
    }

    func testMissingObjectMakesTheStageStaleAndARunRestoresIt() throws {
        let first = try ws.run(chain())
        let entry = try XCTUnwrap(try ws.store.cacheEntry(XCTUnwrap(first.key("d"))))
        let object = ws.store.objectPath(entry.outputs[0].digest)
        XCTAssertEqual(unlink(object), 0)
        let states = try ws.status(chain())
        XCTAssertEqual(states["d"]?.state, .stale)
        XCTAssertEqual(states["d"]?.reasons, ["its stored outputs are missing from artifacts/objects"])
        XCTAssertEqual(try ws.run(chain()).executedStages, ["d"])
        XCTAssertTrue(FileManager.default.fileExists(atPath: object))
    }
}
