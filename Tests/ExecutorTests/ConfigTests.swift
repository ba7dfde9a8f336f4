import Foundation
import XCTest

@testable import Executor

/// Every mistake in pipeline.json is reported with its JSON path, what is wrong and how to fix it,
/// and all of them at once.
final class ConfigTests: XCTestCase {
    private var ws: Workspace!

    override func setUpWithError() throws { ws = try Workspace("config") }
    override func tearDown() { ws.remove() }

    /// The errors of a document that must not load.
    private func errors(_ doc: JSONValue, profile: String? = nil, file: StaticString = #filePath, line: UInt = #line) -> [ConfigError] {
        do {
            try ws.write(doc)
            let c = try PipelineConfig.load(path: ws.configPath, profile: profile, kinds: ws.kinds)
            XCTFail("loaded an invalid config with stages \(c.stages.map(\.name))", file: file, line: line)
            return []
        } catch let e as ConfigErrors {
            XCTAssertFalse(e.errors.isEmpty, file: file, line: line)
            return e.errors
        } catch {
            XCTFail("unexpected error \(error)", file: file, line: line)
            return []
        }
    }

    /// The single error at `path`, checked to name a fix.
    private func error(at path: String, in errors: [ConfigError], file: StaticString = #filePath, line: UInt = #line) -> ConfigError? {
        let hits = errors.filter { $0.path == path }
        guard hits.count == 1 else {
            XCTFail("expected one error at \(path), got \(errors.map(\.description))", file: file, line: line)
            return nil
        }
        XCTAssertFalse(hits[0].fix.isEmpty, "error at \(path) has no fix", file: file, line: line)
        XCTAssertTrue(hits[0].description.hasPrefix("pipeline.json: \(path): "), hits[0].description, file: file, line: line)
        XCTAssertContains(hits[0].description, "Fix: ", file: file, line: line)
        return hits[0]
    }

    func testValidConfigResolvesDefaultsProfilesAndTopologicalOrder() throws {
        let doc = pipeline([
            "c": text("c", inputs: ["b", "a/out.txt"]),
            "b": text("b", inputs: ["a"]),
            "a": text("a"),
            "z": text("z"),
            "r": stage("seeded"),
        ], seed: 11, profiles: [
            "alt": ["seed": 5, "params": ["a": ["value": "A", "ignored": 2]]],
        ])
        try ws.write(doc)
        let plain = try PipelineConfig.load(path: ws.configPath, profile: nil, kinds: ws.kinds)
        XCTAssertEqual(plain.stages.map(\.name), ["a", "b", "c", "r", "z"])
        XCTAssertEqual(plain.stage("a")?.params, ["value": "a", "ignored": 0, "sleep": 0])
        XCTAssertEqual(plain.stage("r")?.params["seed"], 11)
        XCTAssertEqual(plain.stage("c")?.upstream, ["b", "a"])
        XCTAssertEqual(plain.closure(of: ["b"]).map(\.name), ["a", "b"])
        let alt = try PipelineConfig.load(path: ws.configPath, profile: "alt", kinds: ws.kinds)
        XCTAssertEqual(alt.profile.name, "alt")
        XCTAssertEqual(alt.stage("a")?.params, ["value": "A", "ignored": 2, "sleep": 0])
        XCTAssertEqual(alt.stage("r")?.params["seed"], 5)
        XCTAssertEqual(alt.stage("b")?.params["value"], "b")
    }

    func testProfileExcludesStagesAndTheInputsNamingThem() throws {
        let doc = pipeline([
            "a": text("a"),
            "m1": text("m1", inputs: ["a"]),
            "m2": text("m2", inputs: ["a"]),
            "table": text("t", inputs: ["m1/out.txt", "m2"]),
        ], profiles: ["small": ["exclude": ["m2"]]])
        try ws.write(doc)
        let full = try PipelineConfig.load(path: ws.configPath, profile: nil, kinds: ws.kinds)
        XCTAssertEqual(full.stages.map(\.name), ["a", "m1", "m2", "table"])
        XCTAssertEqual(full.stage("table")?.upstream, ["m1", "m2"])
        let small = try PipelineConfig.load(path: ws.configPath, profile: "small", kinds: ws.kinds)
        XCTAssertEqual(small.stages.map(\.name), ["a", "m1", "table"])
        XCTAssertEqual(small.stage("table")?.upstream, ["m1"])
        XCTAssertNil(small.stage("m2"))
    }

    func testProfileExcludingAnUnknownStage() throws {
        let doc = pipeline(["a": text("a")], profiles: ["small": ["exclude": ["a", "nope"]]])
        let e = error(at: "profiles.small.exclude[1]", in: errors(doc, profile: "small"))
        XCTAssertContains(e?.message, "no stage named 'nope'")
        XCTAssertContains(e?.fix, "a")
    }

    func testUnknownTopLevelKey() throws {
        var doc = pipeline(["a": text("a")]).objectValue!
        doc["stage"] = .object([:])
        let e = error(at: "stage", in: errors(.object(doc)))
        XCTAssertContains(e?.message, "unknown key 'stage'")
        XCTAssertContains(e?.fix, "stages")
    }

    func testUnknownStageKey() throws {
        let e = error(at: "stages.a.input", in: errors(pipeline(["a": ["kind": "text", "params": ["value": 1], "input": ["b"]]])))
        XCTAssertContains(e?.message, "unknown key 'input'")
        XCTAssertContains(e?.fix, "inputs")
    }

    func testUnknownParameter() throws {
        let e = error(at: "stages.a.params.valeu", in: errors(pipeline(["a": ["kind": "text", "params": ["value": 1, "valeu": 2]]])))
        XCTAssertContains(e?.message, "unknown parameter 'valeu' for stage kind 'text'")
        XCTAssertContains(e?.fix, "ignored, sleep, value")
    }

    func testWrongParameterType() throws {
        let e = error(at: "stages.a.params.ignored", in: errors(pipeline(["a": ["kind": "text", "params": ["value": 1, "ignored": "2"]]])))
        XCTAssertContains(e?.message, "must be a number, found string \"2\"")
        let seed = error(at: "stages.r.params.seed", in: errors(pipeline(["r": ["kind": "seeded", "params": ["seed": 1.5]]])))
        XCTAssertContains(seed?.message, "must be an integer, found number 1.5")
    }

    func testMissingRequiredParameter() throws {
        let e = error(at: "stages.a.params.value", in: errors(pipeline(["a": stage("text")])))
        XCTAssertContains(e?.message, "missing required parameter 'value' of kind 'text'")
        XCTAssertContains(e?.fix, "add it")
    }

    func testUnknownStageKind() throws {
        let e = error(at: "stages.a.kind", in: errors(pipeline(["a": stage("txet")])))
        XCTAssertContains(e?.message, "unknown stage kind 'txet'")
        XCTAssertContains(e?.fix, "fail, lazy, seeded, source, text")
        let missing = error(at: "stages.b.kind", in: errors(pipeline(["b": ["params": [:]]])))
        XCTAssertContains(missing?.message, "missing")
    }

    func testInputNamingAMissingStage() throws {
        let e = error(at: "stages.b.inputs[1]", in: errors(pipeline(["a": text("a"), "b": text("b", inputs: ["a", "nope"])])))
        XCTAssertContains(e?.message, "no stage named 'nope'")
        XCTAssertContains(e?.fix, "a, b")
    }

    func testInputNamingAFileTheUpstreamDoesNotDeclare() throws {
        let e = error(at: "stages.b.inputs[0]", in: errors(pipeline(["a": text("a"), "b": text("b", inputs: ["a/other.txt"])])))
        XCTAssertContains(e?.message, "stage 'a' produces no file 'other.txt'")
        XCTAssertContains(e?.fix, "out.txt")
    }

    func testCycleIsReportedWithItsMembers() throws {
        let errs = errors(pipeline([
            "root": text("r"),
            "a": text("a", inputs: ["c", "root"]),
            "b": text("b", inputs: ["a"]),
            "c": text("c", inputs: ["b"]),
            "after": text("x", inputs: ["c"]),
        ]))
        XCTAssertEqual(errs.count, 1)
        let e = errs.first
        XCTAssertEqual(e?.path, "stages.a.inputs")
        XCTAssertContains(e?.message, "the stages form a cycle: a needs c needs b needs a")
        XCTAssertContains(e?.fix, "remove one of these inputs")
        let selfLoop = error(at: "stages.a.inputs[0]", in: errors(pipeline(["a": text("a", inputs: ["a"])])))
        XCTAssertContains(selfLoop?.message, "cannot read its own outputs")
    }

    func testUnknownProfileFromTheCommandLine() throws {
        let errs = errors(pipeline(["a": text("a")], profiles: ["sample": [:], "paper": [:]]), profile: "papr")
        let e = error(at: "profiles", in: errs)
        XCTAssertContains(e?.message, "no profile named 'papr' (from --profile)")
        XCTAssertContains(e?.fix, "paper, sample")
    }

    func testUnknownDefaultProfile() throws {
        var doc = pipeline(["a": text("a")], profiles: ["sample": [:]]).objectValue!
        doc["defaultProfile"] = "smaple"
        let e = error(at: "defaultProfile", in: errors(.object(doc)))
        XCTAssertContains(e?.message, "no profile named 'smaple'")
        XCTAssertContains(e?.fix, "sample")
    }

    func testProfileOverridingAnUnknownStageOrParameter() throws {
        let doc = pipeline(["a": text("a")], profiles: ["p": ["params": ["ghost": ["value": 1], "a": ["colour": 1, "ignored": "x"]]]])
        let errs = errors(doc, profile: "p")
        let ghost = error(at: "profiles.p.params.ghost", in: errs)
        XCTAssertContains(ghost?.message, "no stage named 'ghost'")
        XCTAssertContains(ghost?.fix, "a")
        XCTAssertContains(error(at: "profiles.p.params.a.colour", in: errs)?.message, "unknown parameter 'colour'")
        XCTAssertContains(error(at: "profiles.p.params.a.ignored", in: errs)?.message, "must be a number")
        // The same file is fine without that profile.
        try ws.write(doc)
        XCTAssertNoThrow(try PipelineConfig.load(path: ws.configPath, profile: nil, kinds: ws.kinds))
    }

    func testSeveralErrorsAreReportedAtOnce() throws {
        var doc = pipeline([
            "a": ["kind": "text", "params": ["value": 1, "extra": true]],
            "b": stage("nokind"),
            "c": ["kind": "text", "params": ["value": 1], "inputs": ["zz"]],
            "d": stage("text"),
        ]).objectValue!
        doc["colour"] = "blue"
        doc["version"] = 2
        let errs = errors(.object(doc))
        for path in ["colour", "version", "stages.a.params.extra", "stages.b.kind", "stages.c.inputs[0]", "stages.d.params.value"] {
            _ = error(at: path, in: errs)
        }
        XCTAssertEqual(errs.count, 6, errs.map(\.description).joined(separator: "\n"))
        let all = ConfigErrors(errors: errs).description
        XCTAssertEqual(all.split(separator: "\n").count, 6)
    }

    func testBadStageNamesAndFilesLeavingTheWorkspace() throws {
        let errs = errors(pipeline([
            "all": text("x"),
            "a": ["kind": "text", "params": ["value": 1], "files": ["../secret.txt", "/etc/passwd", "ok.txt"]],
        ]))
        XCTAssertContains(error(at: "stages.all", in: errs)?.message, "invalid stage name 'all'")
        XCTAssertContains(error(at: "stages.a.files[0]", in: errs)?.message, "leaves the workspace")
        XCTAssertContains(error(at: "stages.a.files[1]", in: errs)?.message, "leaves the workspace")
    }

    func testSyntaxErrorsCarryLineAndColumn() throws {
        try Data("{\n  \"version\": 1,\n  \"stages\": {,}\n}".utf8).write(to: URL(fileURLWithPath: ws.configPath))
        XCTAssertThrowsError(try PipelineConfig.load(path: ws.configPath, profile: nil, kinds: ws.kinds)) { e in
            XCTAssertTrue("\(e)".hasPrefix("pipeline.json:3:14: invalid JSON"), "\(e)")
        }
    }

    func testRunningAnUnknownTargetNamesTheStages() throws {
        let r = try ws.runner(pipeline(["a": text("a"), "b": text("b")]))
        XCTAssertThrowsError(try r.run(RunOptions(targets: ["c"]))) { e in
            XCTAssertContains("\(e)", "no stage named 'c'")
            XCTAssertContains("\(e)", "a, b")
        }
        XCTAssertThrowsError(try r.run(RunOptions(force: ["zz"])))
        XCTAssertEqual(ws.log.total, 0)
    }
}
