import Executor
import Foundation
import XCTest

/// Crash consistency and concurrency of the real `pipeline` binary: a run killed with SIGKILL
/// mid-stage needs no unlock step, and two runs started together both succeed with every stage
/// computed once.
final class ProcessTests: PipelineTestCase {
    private func command(_ run: String, outputs: [String], inputs: [String] = [], vars: [String: JSONValue] = [:]) -> JSONValue {
        var s: [String: JSONValue] = ["kind": "command",
                                      "params": ["run": .string(run), "outputs": .array(outputs.map { .string($0) }),
                                                 "vars": .object(vars)]]
        if !inputs.isEmpty { s["inputs"] = .array(inputs.map { .string($0) }) }
        return .object(s)
    }

    private func states(_ ws: String, file: StaticString = #filePath, line: UInt = #line) throws -> [String: String] {
        let r = try cli(ws, ["status", "--json"], file: file, line: line)
        XCTAssertEqual(r.status, 0, "pipeline status failed: \(r.stderr)", file: file, line: line)
        let list = try XCTUnwrap(try JSONParser.parse(r.stdout).arrayValue, file: file, line: line)
        var out: [String: String] = [:]
        for s in list { out[s["stage"]?.stringValue ?? "?"] = s["state"]?.stringValue }
        return out
    }

    func testKilledRunLeavesAConsistentStoreAndTheRerunTakesOver() throws {
        let marker = root + "/started", delay = root + "/delay"
        try writeText(delay, "30")
        // The sleep reads its length from a file outside the key, so the rerun has the same key
        // as the killed attempt and must take over its lease.
        let ws = try makeWorkspace("kill", ["version": 1, "stages": [
            "first": command("printf first > {out:first.txt}", outputs: ["first.txt"]),
            "slow": command("echo started > {var:marker}; sleep \"$(cat {var:delay})\"; cat {in:first/first.txt} > {out:slow.txt}",
                            outputs: ["slow.txt"], inputs: ["first"], vars: ["marker": .string(marker), "delay": .string(delay)]),
        ]])
        let run = try start(ws, ["run", "all"])
        let deadline = Date().addingTimeInterval(30)
        while !FileManager.default.fileExists(atPath: marker), run.isRunning, Date() < deadline { usleep(10_000) }
        XCTAssertTrue(FileManager.default.fileExists(atPath: marker), "the slow stage never started: \(run.stderr)")
        XCTAssertTrue(run.isRunning)

        run.killGroup()
        XCTAssertEqual(run.signalNumber, SIGKILL)
        let gone = Date().addingTimeInterval(5)
        while !liveMembers(ofGroup: run.pid).isEmpty, Date() < gone { usleep(10_000) }
        XCTAssertEqual(liveMembers(ofGroup: run.pid), [], "the killed run's shell or sleep survived")

        // Inspecting the store needs no unlock step.
        XCTAssertEqual(try states(ws), ["first": "cached", "slow": "never run"])
        let before = try XCTUnwrap(try Store(root: ws + "/artifacts").attempts(stage: "slow").first)
        XCTAssertEqual(before.outcome, "running")
        XCTAssertEqual(before.pid, run.pid)

        try writeText(delay, "0")
        let rerun = try runAll(ws)
        XCTAssertEqual(rerun.executed, 1)
        XCTAssertEqual(rerun.cached, 1)
        XCTAssertEqual(try readText(ws + "/artifacts/out/slow/slow.txt"), "first")
        let attempts = try Store(root: ws + "/artifacts").attempts(stage: "slow")
        XCTAssertEqual(attempts.map(\.outcome), ["succeeded", "interrupted"])
        XCTAssertEqual(attempts.last?.key, attempts.first?.key, "the rerun computed the key the killed run held")
        XCTAssertTrue(attempts.last?.error?.contains("killed or crashed") ?? false)
        XCTAssertEqual(try states(ws), ["first": "cached", "slow": "cached"])

        // The killed attempt's directory is garbage for gc.
        let gc = try cli(ws, ["gc", "--apply"])
        XCTAssertEqual(gc.status, 0, gc.stderr)
        XCTAssertTrue(gc.stdout.contains("1 attempt directories"), gc.stdout)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: ws + "/artifacts/tmp"), [])
    }

    func testTwoRunsStartedTogetherBothSucceedAndComputeEachStageOnce() throws {
        let count = root + "/executions.log"
        func step(_ name: String, inputs: [String] = []) -> JSONValue {
            command("sleep 0.5; echo \(name) >> {var:count}; echo \(name) > {out:o.txt}", outputs: ["o.txt"], inputs: inputs,
                    vars: ["count": .string(count)])
        }
        let ws = try makeWorkspace("twice", ["version": 1, "stages": [
            "a": step("a"), "b": step("b", inputs: ["a"]), "c": step("c"), "d": step("d", inputs: ["b", "c"]),
        ]])
        let one = try start(ws, ["run", "all", "-j", "2"])
        let two = try start(ws, ["run", "all", "-j", "2"])
        XCTAssertEqual(one.wait(timeout: 60), 0, one.stderr)
        XCTAssertEqual(two.wait(timeout: 60), 0, two.stderr)
        let lines = try readText(count).split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.sorted(), ["a", "b", "c", "d"], "every stage runs exactly once across both processes")
        let s1 = try XCTUnwrap(summaryCounts(one.stdout)), s2 = try XCTUnwrap(summaryCounts(two.stdout))
        XCTAssertEqual(s1.executed + s2.executed, 4)
        XCTAssertEqual(s1.executed + s1.cached, 4)
        XCTAssertEqual(s2.executed + s2.cached, 4)
        XCTAssertEqual(try readText(ws + "/artifacts/out/d/o.txt"), "d\n")
        XCTAssertEqual(try states(ws), ["a": "cached", "b": "cached", "c": "cached", "d": "cached"])
    }
}
