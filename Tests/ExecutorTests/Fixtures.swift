import Foundation
import XCTest

@testable import Executor

// Test-only stage kinds and a throwaway workspace. The executor knows nothing about jets, so
// these tiny kinds exercise every rule of keys, caching and scheduling without any physics.

/// How often each stage body ran, and how many ran at the same moment (for `-j`).
final class ExecutionLog: @unchecked Sendable {
    private let lock = NSLock()
    private var counts: [String: Int] = [:]
    private var running = 0
    private var peak = 0

    func begin(_ stage: String) {
        lock.lock()
        counts[stage, default: 0] += 1
        running += 1
        peak = max(peak, running)
        lock.unlock()
    }

    func end() {
        lock.lock()
        running -= 1
        lock.unlock()
    }

    func count(_ stage: String) -> Int {
        lock.lock()
        defer { lock.unlock() }
        return counts[stage] ?? 0
    }

    var total: Int {
        lock.lock()
        defer { lock.unlock() }
        return counts.values.reduce(0, +)
    }

    var peakConcurrency: Int {
        lock.lock()
        defer { lock.unlock() }
        return peak
    }
}

/// `text`: writes `out.txt` = the canonical `value`, then every input (label and bytes) in label
/// order. `ignored` enters the key but not the bytes (early cutoff); `sleep` holds the stage open.
struct TextKind: StageKind {
    let kind: String
    let summary = "writes its value and its inputs to out.txt"
    let codeDigest: String
    let log: ExecutionLog
    let parameters: [ParamSpec] = [
        ParamSpec("value", .any, doc: "what to write, e.g. \"value\": \"x\""),
        ParamSpec("ignored", .number, default: 0, doc: "read by the kind but without effect on the output"),
        ParamSpec("sleep", .number, default: 0, doc: "seconds to wait before writing"),
    ]

    init(kind: String = "text", code: String = "text-code-v1", log: ExecutionLog) {
        self.kind = kind
        codeDigest = code
        self.log = log
    }

    func declaredOutputs(params: [String: JSONValue]) -> [String]? { ["out.txt"] }

    func run(_ context: StageContext) throws -> JSONValue {
        log.begin(context.stage)
        defer { log.end() }
        let pause = try context.double("sleep")
        if pause > 0 { Thread.sleep(forTimeInterval: pause) }
        var text = (context.params["value"] ?? .null).canonical + "\n"
        for input in context.inputs.sorted(by: { $0.label < $1.label }) {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: input.path))
            text += input.label + ": " + String(decoding: bytes, as: UTF8.self) + "\n"
        }
        try Data(text.utf8).write(to: URL(fileURLWithPath: context.outputPath("out.txt")))
        return ["bytes": .number(Double(text.utf8.count))]
    }
}

/// `seeded`: a kind with a seed parameter, writing a value derived from it.
struct SeededKind: StageKind {
    let kind = "seeded"
    let summary = "writes a number derived from its seed"
    let codeDigest = "seeded-code-v1"
    let log: ExecutionLog
    let parameters: [ParamSpec] = [.seed()]

    func declaredOutputs(params: [String: JSONValue]) -> [String]? { ["draw.txt"] }

    func run(_ context: StageContext) throws -> JSONValue {
        log.begin(context.stage)
        defer { log.end() }
        let seed = try context.seed()
        var text = "seed \(seed)\n"
        for input in context.inputs {
            text += String(decoding: try Data(contentsOf: URL(fileURLWithPath: input.path)), as: UTF8.self)
        }
        try Data(text.utf8).write(to: URL(fileURLWithPath: context.outputPath("draw.txt")))
        return .object([:])
    }
}

/// `fail`: always throws, as a stage with a bug would.
struct FailKind: StageKind {
    let kind = "fail"
    let summary = "always fails"
    let codeDigest = "fail-code-v1"
    let log: ExecutionLog
    let parameters: [ParamSpec] = []

    func declaredOutputs(params: [String: JSONValue]) -> [String]? { ["never.txt"] }

    func run(_ context: StageContext) throws -> JSONValue {
        log.begin(context.stage)
        defer { log.end() }
        throw StageFailure("stage '\(context.stage)': deliberate failure for the test")
    }
}

/// `lazy`: declares `a.txt` and `b.txt` but writes only `a.txt`, and returns normally.
struct LazyKind: StageKind {
    let kind = "lazy"
    let summary = "forgets one of its declared outputs"
    let codeDigest = "lazy-code-v1"
    let log: ExecutionLog
    let parameters: [ParamSpec] = []

    func declaredOutputs(params: [String: JSONValue]) -> [String]? { ["a.txt", "b.txt"] }

    func run(_ context: StageContext) throws -> JSONValue {
        log.begin(context.stage)
        defer { log.end() }
        try Data("a\n".utf8).write(to: URL(fileURLWithPath: context.outputPath("a.txt")))
        return .object([:])
    }
}

/// A temporary workspace (pipeline.json + store) removed in `tearDown`.
final class Workspace {
    let root: String
    let log = ExecutionLog()
    let store: Store
    var kinds: [String: any StageKind]
    let progress = RecordingProgress()

    var configPath: String { root + "/pipeline.json" }

    init(_ name: String = "ws") throws {
        root = FileManager.default.temporaryDirectory.path + "/executor-tests-\(name)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        store = try Store(root: root + "/artifacts")
        kinds = Workspace.standardKinds(log)
    }

    static func standardKinds(_ log: ExecutionLog, textCode: String = "text-code-v1") -> [String: any StageKind] {
        let list: [any StageKind] = [TextKind(code: textCode, log: log), TextKind(kind: "source", code: "source-code-v1", log: log),
                                     SeededKind(log: log), FailKind(log: log), LazyKind(log: log)]
        return Dictionary(uniqueKeysWithValues: list.map { ($0.kind, $0) })
    }

    func remove() {
        // Objects are read-only files in writable directories, so removal succeeds.
        try? FileManager.default.removeItem(atPath: root)
    }

    func write(_ config: JSONValue) throws {
        try Data(config.pretty.utf8).write(to: URL(fileURLWithPath: configPath))
    }

    func runner(_ config: JSONValue, profile: String? = nil) throws -> Runner {
        try write(config)
        let c = try PipelineConfig.load(path: configPath, profile: profile, kinds: kinds)
        return Runner(config: c, store: store, progress: progress)
    }

    @discardableResult
    func run(_ config: JSONValue, profile: String? = nil, force: Set<String> = [], jobs: Int = 1,
             targets: [String] = []) throws -> RunReport
    {
        try runner(config, profile: profile).run(RunOptions(targets: targets, force: force, jobs: jobs, argv: ["test"]))
    }

    func status(_ config: JSONValue, profile: String? = nil) throws -> [String: StageState] {
        let states = try runner(config, profile: profile).status()
        return Dictionary(uniqueKeysWithValues: states.map { ($0.stage, $0) })
    }

    /// The published bytes of a stage's output, read through `out/STAGE`.
    func published(_ stage: String, _ file: String = "out.txt") throws -> String {
        String(decoding: try Data(contentsOf: URL(fileURLWithPath: store.outDirectory + "/" + stage + "/" + file)), as: UTF8.self)
    }
}

/// A pipeline.json document from stage declarations.
func pipeline(_ stages: [String: JSONValue], seed: Int? = nil, profiles: [String: JSONValue]? = nil) -> JSONValue {
    var doc: [String: JSONValue] = ["version": 1, "stages": .object(stages)]
    if let seed { doc["seed"] = .number(Double(seed)) }
    if let profiles { doc["profiles"] = .object(profiles) }
    return .object(doc)
}

/// A `text` stage declaration.
func text(_ value: JSONValue, inputs: [String] = [], ignored: Double? = nil, sleep: Double? = nil, kind: String = "text") -> JSONValue {
    var params: [String: JSONValue] = ["value": value]
    if let ignored { params["ignored"] = .number(ignored) }
    if let sleep { params["sleep"] = .number(sleep) }
    var s: [String: JSONValue] = ["kind": .string(kind), "params": .object(params)]
    if !inputs.isEmpty { s["inputs"] = .array(inputs.map { .string($0) }) }
    return .object(s)
}

func stage(_ kind: String, inputs: [String] = []) -> JSONValue {
    var s: [String: JSONValue] = ["kind": .string(kind)]
    if !inputs.isEmpty { s["inputs"] = .array(inputs.map { .string($0) }) }
    return .object(s)
}

extension RunReport {
    func status(_ stage: String, file: StaticString = #filePath, line: UInt = #line) -> StageStatus? {
        guard let o = outcomes.first(where: { $0.stage == stage }) else {
            XCTFail("no outcome for stage '\(stage)' in \(outcomes.map(\.stage))", file: file, line: line)
            return nil
        }
        return o.status
    }

    func key(_ stage: String) -> String? { outcomes.first(where: { $0.stage == stage })?.key }

    /// Stage names by status, for compact assertions.
    var executedStages: [String] { outcomes.filter { $0.status == .executed }.map(\.stage).sorted() }
    var cachedStages: [String] { outcomes.filter { $0.status == .cached }.map(\.stage).sorted() }

    func failureMessage(_ stage: String) -> String? {
        guard case let .failed(m)? = outcomes.first(where: { $0.stage == stage })?.status else { return nil }
        return m
    }

    func skipReason(_ stage: String) -> String? {
        guard case let .skipped(m)? = outcomes.first(where: { $0.stage == stage })?.status else { return nil }
        return m
    }
}

/// The pid of a process that has certainly exited (spawned, then reaped).
func deadPid() throws -> Int32 {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/bin/true")
    try p.run()
    p.waitUntilExit()
    let pid = p.processIdentifier
    XCTAssertNotEqual(kill(pid, 0), 0, "pid \(pid) of the exited /bin/true should not exist")
    return pid
}

func XCTAssertContains(_ text: String?, _ part: String, file: StaticString = #filePath, line: UInt = #line) {
    guard let text else { return XCTFail("nil does not contain '\(part)'", file: file, line: line) }
    XCTAssertTrue(text.contains(part), "'\(text)' does not contain '\(part)'", file: file, line: line)
}
