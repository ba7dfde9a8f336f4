import Executor
import Foundation
import XCTest

@testable import Stages

/// The `command` kind: placeholders, workspace files in the key, and failures that say why.
final class CommandStageTests: PipelineTestCase {
    private func run(_ ws: String) throws -> RunReport {
        let config = try PipelineConfig.load(path: ws + "/pipeline.json", profile: nil, kinds: allStageKinds)
        let runner = Runner(config: config, store: try Store(root: ws + "/artifacts"), progress: RecordingProgress())
        return try runner.run(RunOptions(argv: ["test"]))
    }

    private func command(_ run: String, outputs: [String], inputs: [String] = [], files: [String] = [],
                         vars: [String: JSONValue] = [:]) -> JSONValue
    {
        var s: [String: JSONValue] = ["kind": "command",
                                      "params": ["run": .string(run), "outputs": .array(outputs.map { .string($0) }),
                                                 "vars": .object(vars)]]
        if !inputs.isEmpty { s["inputs"] = .array(inputs.map { .string($0) }) }
        if !files.isEmpty { s["files"] = .array(files.map { .string($0) }) }
        return .object(s)
    }

    private func outcome(_ r: RunReport, _ stage: String) -> StageStatus? { r.outcomes.first { $0.stage == stage }?.status }

    private func executed(_ r: RunReport) -> [String] { r.outcomes.filter { $0.status == .executed }.map(\.stage).sorted() }

    private func failure(_ r: RunReport, _ stage: String) -> String? {
        if case let .failed(m)? = outcome(r, stage) { return m }
        XCTFail("stage \(stage) did not fail: \(String(describing: outcome(r, stage)))")
        return nil
    }

    private func twoStages(greeting: String) -> JSONValue {
        ["version": 1, "stages": [
            "gen": command("printf '%s|%s' {var:greeting} \"$PIPELINE_VAR_WHO\" > {out:hello.txt}", outputs: ["hello.txt"],
                           vars: ["greeting": .string(greeting), "who": "you"]),
            "use": command("cat {in:gen/hello.txt} {file:data/in.txt} > {out:sub/both.txt}; "
                + "test -f {workspace}/pipeline.json && echo workspace-ok >> {out:sub/both.txt}; "
                + "echo \"$PIPELINE_STAGE\" > {outdir}/stage.txt",
                outputs: ["sub/both.txt", "stage.txt"], inputs: ["gen"], files: ["data/in.txt"]),
        ]]
    }

    func testPlaceholdersAndWorkspaceFilesInTheKey() throws {
        let ws = try makeWorkspace("cmd", twoStages(greeting: "it's {ok}"))
        let data = ws + "/data/in.txt"
        try writeText(data, "data one\n")
        let first = try run(ws)
        XCTAssertEqual(executed(first), ["gen", "use"], "\(first.outcomes)")
        let out = ws + "/artifacts/out/use/"
        XCTAssertEqual(try readText(ws + "/artifacts/out/gen/hello.txt"), "it's {ok}|you")
        XCTAssertEqual(try readText(out + "sub/both.txt"), "it's {ok}|youdata one\nworkspace-ok\n")
        XCTAssertEqual(try readText(out + "stage.txt"), "use\n")

        // Editing a listed workspace file reruns its stage only.
        try writeText(data, "data two, longer\n")
        let edited = try run(ws)
        XCTAssertEqual(executed(edited), ["use"])
        XCTAssertEqual(outcome(edited, "gen"), .cached)
        XCTAssertEqual(try readText(out + "sub/both.txt"), "it's {ok}|youdata two, longer\nworkspace-ok\n")

        // Touching it without changing its bytes does not.
        let later = Date().addingTimeInterval(5)
        try FileManager.default.setAttributes([.modificationDate: later], ofItemAtPath: data)
        XCTAssertEqual(executed(try run(ws)), [])

        // A var is part of the key, and its change reaches the dependent through the content.
        try writeConfig(ws, twoStages(greeting: "hello"))
        let changed = try run(ws)
        XCTAssertEqual(executed(changed), ["gen", "use"])
        XCTAssertEqual(try readText(out + "sub/both.txt"), "hello|youdata two, longer\nworkspace-ok\n")
    }

    func testNonZeroExitFailsWithTheTailOfTheCommandOutput() throws {
        var lines = (1...30).map { "echo line-\($0)" }.joined(separator: "; ")
        lines += "; echo the-detail >&2; exit 3"
        let ws = try makeWorkspace("exit", ["version": 1, "stages": [
            "bad": command(lines, outputs: ["x.txt"]),
            "after": command("cat {in:bad/x.txt} > {out:y.txt}", outputs: ["y.txt"], inputs: ["bad"]),
        ]])
        let r = try run(ws)
        let m = try XCTUnwrap(failure(r, "bad"))
        XCTAssertTrue(m.hasPrefix("stage 'bad': the command exited with status 3. Last lines of its output:\n"), m)
        XCTAssertTrue(m.contains("line-30\nthe-detail"), m)
        XCTAssertFalse(m.contains("line-10\n"), "only the tail of the output: \(m)")
        if case let .skipped(why)? = outcome(r, "after") { XCTAssertEqual(why, "upstream 'bad' did not complete") } else {
            XCTFail("after should be skipped")
        }
        let attempt = try XCTUnwrap(try Store(root: ws + "/artifacts").attempts(stage: "bad").first)
        XCTAssertEqual(attempt.outcome, "failed")
        XCTAssertTrue(attempt.error?.contains("the-detail") ?? false)
    }

    func testKilledCommandSaysWhichSignal() throws {
        let ws = try makeWorkspace("signal", ["version": 1, "stages": ["k": command("kill -9 $$", outputs: ["x.txt"])]])
        XCTAssertTrue(try XCTUnwrap(failure(try run(ws), "k")).contains("the command was killed by signal 9"))
    }

    func testUndeclaredOrMissingOutputsFail() throws {
        let ws = try makeWorkspace("outputs", ["version": 1, "stages": [
            "extra": command("echo a > {out:a.txt}; echo b > {outdir}/extra.txt", outputs: ["a.txt"]),
            "missing": command("echo a > {out:a.txt}", outputs: ["a.txt", "b.txt"]),
            "fine": command("echo a > {out:a.txt}", outputs: ["a.txt"]),
        ]])
        let r = try run(ws)
        XCTAssertTrue(failure(r, "extra")?.contains("stage 'extra' wrote undeclared files: extra.txt") ?? false)
        XCTAssertTrue(failure(r, "missing")?.contains("finished without producing its declared outputs: b.txt") ?? false)
        XCTAssertEqual(outcome(r, "fine"), .executed)
        let store = try Store(root: ws + "/artifacts")
        XCTAssertEqual(try store.allCacheEntries().map(\.stage), ["fine"])
    }

    func testPlaceholderMistakesAreConfigErrors() throws {
        let ws = try makeWorkspace("check", ["version": 1, "stages": [
            "a": command("echo {var:nope} {bogus:x} > {out:undeclared.txt}", outputs: ["a.txt"]),
            "b": command("true", outputs: []),
        ]])
        XCTAssertThrowsError(try PipelineConfig.load(path: ws + "/pipeline.json", profile: nil, kinds: allStageKinds)) { e in
            let text = "\(e)"
            XCTAssertTrue(text.contains("stages.a.params.run: {var:nope} has no value. Fix: add \"nope\" to vars"), text)
            XCTAssertTrue(text.contains("stages.a.params.run: unknown placeholder {bogus:x}"), text)
            XCTAssertTrue(text.contains("stages.a.params.run: {out:undeclared.txt} is not a declared output"), text)
            XCTAssertTrue(text.contains("stages.b.params.outputs: a command must declare at least one output"), text)
        }
    }

    func testCommandProvenanceCountsTheChildProcess() throws {
        let ws = try makeWorkspace("usage", ["version": 1, "stages": [
            "spin": command("i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; echo $i > {out:n.txt}", outputs: ["n.txt"]),
        ]])
        XCTAssertEqual(executed(try run(ws)), ["spin"])
        let a = try XCTUnwrap(try Store(root: ws + "/artifacts").attempts(stage: "spin").first)
        XCTAssertEqual(a.outcome, "succeeded")
        XCTAssertGreaterThan(try XCTUnwrap(a.cpu), 0, "the shell's CPU time comes from wait4")
        XCTAssertGreaterThan(try XCTUnwrap(a.maxRSS), 0)
        XCTAssertEqual(try readText(ws + "/artifacts/out/spin/n.txt"), "20000\n")
    }
}
