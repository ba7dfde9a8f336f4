import CArchive
import Digest
import Executor
import Foundation
import JetData
import Stages
import Training
import XCTest

// Shared fixtures for the stage tests: the real `pipeline` binary started as a child process,
// throwaway workspaces, synthetic JetNet class files and archives built with libarchive.

/// The `pipeline` executable built beside this test bundle (`<scratch>/debug/pipeline`).
func pipelineBinary() throws -> String {
    if let override = ProcessInfo.processInfo.environment["PIPELINE_BINARY"] { return override }
    var candidates: [String] = []
    if let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
        candidates.append((exe as NSString).deletingLastPathComponent)
    }
    candidates.append((CommandLine.arguments[0] as NSString).deletingLastPathComponent)
    candidates.append((Bundle.main.bundlePath as NSString).deletingLastPathComponent)
    candidates.append(Bundle.main.bundlePath)
    for dir in candidates {
        // The xctest binary may sit inside a bundle directory; walk up a few levels.
        var d = dir
        for _ in 0..<4 {
            let p = d + "/pipeline"
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: p, isDirectory: &isDir), !isDir.boolValue,
               FileManager.default.isExecutableFile(atPath: p)
            {
                return p
            }
            d = (d as NSString).deletingLastPathComponent
        }
    }
    throw FixtureError("no `pipeline` executable beside the test bundle (looked in \(candidates)). Build it first: swift build --scratch-path SCRATCH --build-tests")
}

struct FixtureError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// A child process in its own process group, so it and everything it starts can be killed at once.
final class Child {
    let pid: pid_t
    let stdoutPath: String
    let stderrPath: String
    private(set) var exitStatus: Int32?
    private(set) var signalNumber: Int32?

    init(_ executable: String, _ arguments: [String], environment: [String: String], outputPrefix: String) throws {
        stdoutPath = outputPrefix + ".stdout"
        stderrPath = outputPrefix + ".stderr"
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdoutPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETPGROUP))
        posix_spawnattr_setpgroup(&attr, 0)
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = environment.sorted { $0.key < $1.key }.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for p in argv { free(p) }
            for p in envp { free(p) }
        }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, executable, &actions, &attr, argv, envp)
        guard rc == 0 else { throw FixtureError("cannot start \(executable): \(String(cString: strerror(rc)))") }
        self.pid = pid
    }

    var isRunning: Bool { exitStatus == nil && signalNumber == nil && !reap(block: false) }

    /// Collects the exit status; true once the process has ended.
    @discardableResult
    private func reap(block: Bool) -> Bool {
        if exitStatus != nil || signalNumber != nil { return true }
        var status: Int32 = 0
        let r = waitpid(pid, &status, block ? 0 : WNOHANG)
        guard r == pid else { return false }
        if status & 0x7f == 0 { exitStatus = (status >> 8) & 0xff } else { signalNumber = status & 0x7f }
        return true
    }

    /// Waits up to `timeout` seconds; on timeout kills the whole group and fails.
    func wait(timeout: Double, file: StaticString = #filePath, line: UInt = #line) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while !reap(block: false) {
            if Date() > deadline {
                XCTFail("process \(pid) did not finish within \(timeout) s; killed. stderr: \(stderr)", file: file, line: line)
                killGroup()
                return nil
            }
            usleep(5_000)
        }
        return exitStatus
    }

    /// SIGKILL to the process group (the pipeline, its shell and the shell's children).
    func killGroup() {
        Foundation.kill(-pid, SIGKILL)
        reap(block: true)
    }

    var stdout: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
    var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }
}

/// Processes of a process group that are still alive (zombies waiting for init do not count).
func liveMembers(ofGroup pgid: pid_t) -> [pid_t] {
    var out: [pid_t] = []
    for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
        guard let pid = pid_t(entry), let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { continue }
        // After "pid (comm)": state ppid pgrp ...
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 2, let group = pid_t(fields[2]) else { continue }
        if group == pgid, fields[0] != "Z", fields[0] != "X" { out.append(pid) }
    }
    return out
}

/// A temporary directory holding one or more workspaces; removed in tearDown with every child.
class PipelineTestCase: XCTestCase {
    var root = ""
    private var children: [Child] = []

    override func setUpWithError() throws {
        root = FileManager.default.temporaryDirectory.path + "/stages-tests-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    }

    override func tearDown() {
        for c in children where c.isRunning {
            c.killGroup()
        }
        for c in children where !liveMembers(ofGroup: c.pid).isEmpty {
            Foundation.kill(-c.pid, SIGKILL)
        }
        try? FileManager.default.removeItem(atPath: root)
    }

    /// A workspace directory with the given pipeline.json.
    func makeWorkspace(_ name: String, _ config: JSONValue) throws -> String {
        let ws = root + "/" + name
        try FileManager.default.createDirectory(atPath: ws, withIntermediateDirectories: true)
        try writeConfig(ws, config)
        return ws
    }

    func writeConfig(_ ws: String, _ config: JSONValue) throws {
        try Data(config.pretty.utf8).write(to: URL(fileURLWithPath: ws + "/pipeline.json"))
    }

    private var serial = 0

    /// Starts `pipeline ARGS --config WS/pipeline.json` without waiting.
    func start(_ ws: String, _ args: [String], environment extra: [String: String] = [:]) throws -> Child {
        var env = ProcessInfo.processInfo.environment
        env["PIPELINE_STORE"] = nil
        for (k, v) in extra { env[k] = v }
        serial += 1
        let c = try Child(try pipelineBinary(), args + ["--config", ws + "/pipeline.json"], environment: env,
                          outputPrefix: root + "/cli-\(serial)")
        children.append(c)
        return c
    }

    /// Runs the CLI to completion: (exit status, stdout, stderr).
    @discardableResult
    func cli(_ ws: String, _ args: [String], timeout: Double = 60, file: StaticString = #filePath, line: UInt = #line)
        throws -> (status: Int32, stdout: String, stderr: String)
    {
        let c = try start(ws, args)
        let status = c.wait(timeout: timeout, file: file, line: line)
        return (status ?? -1, c.stdout, c.stderr)
    }

    /// `pipeline run` that must succeed; returns its summary counts.
    @discardableResult
    func runAll(_ ws: String, _ extra: [String] = [], file: StaticString = #filePath, line: UInt = #line)
        throws -> (executed: Int, cached: Int)
    {
        let r = try cli(ws, ["run", "all"] + extra, file: file, line: line)
        XCTAssertEqual(r.status, 0, "pipeline run failed: \(r.stderr)", file: file, line: line)
        return summaryCounts(r.stdout) ?? (-1, -1)
    }
}

/// (executed, cached) from "pipeline: N executed, M cached, F failed in ...".
func summaryCounts(_ stdout: String) -> (executed: Int, cached: Int)? {
    guard let line = stdout.split(separator: "\n").first(where: { $0.hasPrefix("pipeline: ") }) else { return nil }
    let words = line.split(separator: " ")
    guard words.count > 4, let e = Int(words[1]), let c = Int(words[3]) else { return nil }
    return (e, c)
}

func readText(_ path: String) throws -> String {
    String(decoding: try Data(contentsOf: URL(fileURLWithPath: path)), as: UTF8.self)
}

func writeText(_ path: String, _ text: String) throws {
    try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    try Data(text.utf8).write(to: URL(fileURLWithPath: path))
}

// MARK: synthetic JetNet data

/// Particles in jet `jet` of class `c`: between 5 and 30, so both full and padded jets occur.
func syntheticMultiplicity(_ c: JetClass, _ jet: Int) -> Int { 5 + (jet * 7 + c.index * 3) % 26 }

/// A JetNet-format class file (jetnet-data.md §1): particle_features [N,P,F] float32 (etarel,
/// phirel, ptrel, mask, highest pT first, zero padding) and jet_features [N,4] (pt, eta, mass, n).
func writeSyntheticClassFile(_ path: String, _ c: JetClass, jets: Int = 50, particles: Int = 30, features: Int = 4) throws {
    var rng = Xoshiro256StarStar(seed: deriveSeed(2023, "synthetic", c.rawValue))
    var pf = [Float](repeating: 0, count: jets * particles * features)
    var jf = [Float](repeating: 0, count: jets * 4)
    for j in 0..<jets {
        let n = syntheticMultiplicity(c, j)
        var weights = (0..<n).map { _ in 0.05 + rng.nextUniform() }
        weights.sort(by: >)
        let total = weights.reduce(0, +)
        for k in 0..<min(n, particles) {
            let base = (j * particles + k) * features
            pf[base] = Float(0.8 * rng.nextUniform() - 0.4)
            if features > 1 { pf[base + 1] = Float(0.8 * rng.nextUniform() - 0.4) }
            if features > 2 { pf[base + 2] = Float(weights[k] / total) }
            if features > 3 { pf[base + 3] = 1 }
        }
        jf[4 * j] = Float(500 + 10 * j + 100 * c.index)
        jf[4 * j + 1] = Float(rng.nextUniform() - 0.5)
        jf[4 * j + 2] = Float(20 + j + 15 * c.index)
        jf[4 * j + 3] = Float(n)
    }
    let w = try HDF5Writer(creating: path)
    try w.write(pf, shape: [jets, particles, features], to: "particle_features")
    try w.write(jf, shape: [jets, 4], to: "jet_features")
    try w.close()
}

/// A zip archive of (entry name, bytes), written with libarchive.
func writeZip(_ path: String, _ entries: [(String, Data)]) throws {
    let a = archive_write_new()
    defer { archive_write_free(a) }
    archive_write_set_format_zip(a)
    guard archive_write_open_filename(a, path) == ARCHIVE_OK else {
        throw FixtureError("cannot create \(path): \(String(cString: archive_error_string(a)))")
    }
    for (name, data) in entries {
        let e = archive_entry_new()
        defer { archive_entry_free(e) }
        archive_entry_set_pathname(e, name)
        archive_entry_set_filetype(e, 0o100000)
        archive_entry_set_perm(e, 0o644)
        archive_entry_set_size(e, la_int64_t(data.count))
        guard archive_write_header(a, e) >= ARCHIVE_WARN else {
            throw FixtureError("cannot add \(name) to \(path): \(String(cString: archive_error_string(a)))")
        }
        let written = data.withUnsafeBytes { archive_write_data(a, $0.baseAddress, $0.count) }
        guard written == data.count else { throw FixtureError("short write of \(name) into \(path)") }
    }
    guard archive_write_close(a) == ARCHIVE_OK else {
        throw FixtureError("cannot finish \(path): \(String(cString: archive_error_string(a)))")
    }
}

func md5(_ path: String) throws -> String { try fileDigest(path, .md5).digest }

/// The five-stage data pipeline of the repository, on a local archive.
func dataPipeline(source: String, md5: String, seed: Int = 42, classes: [String] = ["g", "q", "t", "w", "z"],
                  split: Bool = true) -> JSONValue
{
    var stages: [String: JSONValue] = [
        "fetch": ["kind": "fetch", "params": ["files": [["source": .string(source), "md5": .string(md5)]]]],
        "unpack": ["kind": "unpack", "inputs": ["fetch"]],
        "load": ["kind": "load", "inputs": ["unpack"], "params": ["classes": .array(classes.map { .string($0) }), "particles": 30]],
    ]
    if split {
        stages["preprocess"] = ["kind": "preprocess", "inputs": ["load"],
                                "params": ["scale": 1000, "maxParticleMass": 0.001, "normalisation": "overall_max"]]
        stages["split"] = ["kind": "split", "inputs": ["preprocess"],
                           "params": ["background": ["g", "q"], "signals": ["t", "w", "z"], "testFraction": 0.2, "trainFraction": 0.75]]
    }
    return ["version": 1, "seed": .number(Double(seed)), "stages": .object(stages),
            "profiles": ["other-seed": ["seed": .number(Double(seed + 1))]]]
}

extension PipelineTestCase {
    /// Runs `ws`'s pipeline.json in this process (no CLI) on `threads` threads; fails the test if a
    /// stage failed.
    func runInProcess(_ ws: String, threads: Int) throws -> (RunReport, Runner) {
        let config = try PipelineConfig.load(path: ws + "/pipeline.json", profile: nil, kinds: allStageKinds)
        let runner = Runner(config: config, store: try Store(root: ws + "/artifacts"), progress: RecordingProgress())
        let report = try runner.run(RunOptions(threads: threads, argv: ["test"]))
        XCTAssertTrue(report.failed.isEmpty, "\(report.failed)")
        return (report, runner)
    }

    func json(_ path: String) throws -> JSONValue { try JSONParser.parse(Data(contentsOf: URL(fileURLWithPath: path))) }

    /// A workspace holding a copy of the committed Pythia sample and the data stages that read it
    /// (fetch … split); the caller adds its stages to `stages`, puts them in `doc` and writes it.
    func sampleWorkspace(_ name: String) throws -> (ws: String, doc: [String: JSONValue], stages: [String: JSONValue]) {
        let archive = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("artifacts/inputs/jetnet30-sample.zip").path
        let ws = root + "/" + name
        try FileManager.default.createDirectory(atPath: ws + "/inputs", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: archive, toPath: ws + "/inputs/sample.zip")
        let doc = dataPipeline(source: "inputs/sample.zip", md5: try md5(ws + "/inputs/sample.zip")).objectValue!
        return (ws, doc, doc["stages"]!.objectValue!)
    }

    /// Starts `pipeline args` in `ws`, waits until a training stage has checkpointed an epoch ≥ 1,
    /// and kills the run's process group. Returns that epoch, or nil if the run ended or `timeout`
    /// seconds passed first, with the run's stderr for the failure message.
    func killAfterFirstCheckpoint(_ ws: String, _ args: [String], timeout: TimeInterval) throws -> (epoch: Int?, stderr: String) {
        let child = try start(ws, args)
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline, child.isRunning {
            if let e = checkpointEpoch(ws), e >= 1 {
                child.killGroup()
                return (e, child.stderr)
            }
            usleep(20_000)
        }
        child.killGroup()
        return (nil, child.stderr)
    }

    /// The epoch of a training checkpoint under the workspace's store, if any.
    private func checkpointEpoch(_ ws: String) -> Int? {
        let dir = ws + "/artifacts/checkpoints"
        for key in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] {
            if let data = FileManager.default.contents(atPath: dir + "/" + key + "/state.ckpt"),
               let state = try? TrainingState(serialized: [UInt8](data)) {
                return state.epoch
            }
        }
        return nil
    }
}
