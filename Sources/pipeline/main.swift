import ArgumentParser
import Executor
import Foundation
import Stages

/// The CLI stays thin: parse, call the executor, print.
@main
struct Pipeline: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Regenerate the LGAE paper's results from raw data, with every number traceable to its inputs.",
        subcommands: [Run.self, Status.self, Show.self, Diff.self, Dag.self, Prov.self, GC.self, Verify.self, Kinds.self],
        defaultSubcommand: Status.self)
}

struct Common: ParsableArguments {
    @Option(help: "The pipeline file (default: pipeline.json in this or a parent directory).")
    var config: String?

    @Option(help: "Profile from pipeline.json, e.g. sample or paper (default: its defaultProfile).")
    var profile: String?

    @Option(help: "Store directory (default: $PIPELINE_STORE, else artifacts/ beside pipeline.json).")
    var store: String?

    func configPath() throws -> String {
        if let c = config { return c }
        var dir = FileManager.default.currentDirectoryPath
        while true {
            let candidate = dir + "/pipeline.json"
            if FileManager.default.fileExists(atPath: candidate) { return candidate }
            let parent = (dir as NSString).deletingLastPathComponent
            if parent == dir || parent.isEmpty {
                throw ValidationError("no pipeline.json in \(FileManager.default.currentDirectoryPath) or its parents. Fix: run from the repository, or pass --config PATH.")
            }
            dir = parent
        }
    }

    func open(quiet: Bool = false) throws -> Runner {
        let path = try configPath()
        let config: PipelineConfig
        do {
            config = try PipelineConfig.load(path: path, profile: profile, kinds: allStageKinds)
        } catch {
            throw CLIError("\(error)")
        }
        let root = store ?? ProcessInfo.processInfo.environment["PIPELINE_STORE"] ?? (config.workspace + "/artifacts")
        let s = try Store(root: absolute(root))
        return Runner(config: config, store: s, progress: TerminalProgress(quiet: quiet))
    }
}

func absolute(_ path: String) -> String {
    path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
}

struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

extension ParsableCommand {
    /// Print a failure cleanly (no stack, no Swift error dump) and exit non-zero.
    func guarded(_ body: () throws -> Void) throws {
        do { try body() } catch let e as ExitCode { throw e } catch let e as ValidationError { throw e } catch {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode(2)
        }
    }
}

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Bring stages up to date (all, or the named ones and what they need).")

    @OptionGroup var common: Common

    @Argument(help: "Stages to run, or 'all' (the default).")
    var stages: [String] = []

    @Option(name: .customLong("force"), help: "Execute this stage even if cached (repeatable).")
    var force: [String] = []

    @Option(name: .short, help: "Run up to N independent stages at once.")
    var j: Int = 1

    @Option(help: "Threads per stage (training, evaluation); default: the CPUs available. Outputs do not depend on it.")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    @Flag(help: "Print only the final summary.")
    var quiet = false

    func run() throws {
        var report: RunReport?
        try guarded {
            let runner = try common.open(quiet: quiet)
            let targets = stages.filter { $0 != "all" }
            report = try runner.run(RunOptions(targets: targets, force: Set(force), jobs: j, threads: threads, argv: CommandLine.arguments))
            let r = report!
            print(String(format: "pipeline: %d executed, %d cached, %d failed in %.3f s (profile %@)",
                         r.executed, r.cached, r.failed.count, r.wall, runner.config.profile.name))
            for f in r.failed {
                switch f.status {
                case let .failed(m): FileHandle.standardError.write(Data("error: stage \(f.stage) failed: \(m)\n".utf8))
                case let .skipped(m): FileHandle.standardError.write(Data("stage \(f.stage) not run: \(m)\n".utf8))
                default: break
                }
            }
        }
        if let r = report, !r.failed.isEmpty { throw ExitCode(1) }
    }
}

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "For each stage: cached, stale (and what changed), or never run.")

    @OptionGroup var common: Common

    @Argument(help: "Limit to these stages and what they need.")
    var stages: [String] = []

    @Flag(help: "Machine-readable output.")
    var json = false

    func run() throws {
        try guarded {
            let runner = try common.open()
            let states = try runner.status(targets: stages.filter { $0 != "all" })
            if json {
                print(JSONValue.array(states.map { s in
                    .object(["stage": .string(s.stage), "state": .string(s.state.rawValue),
                             "reasons": .array(s.reasons.map { .string($0) }), "key": s.key.map { .string($0) } ?? .null])
                }).pretty)
                return
            }
            let width = states.map(\.stage.count).max() ?? 0
            print("profile \(runner.config.profile.name):")
            for s in states {
                let pad = s.stage.padding(toLength: width, withPad: " ", startingAt: 0)
                print("  \(pad)  \(s.state.rawValue)")
                for r in s.reasons { print("  \(String(repeating: " ", count: width))    - \(r)") }
            }
        }
    }
}

struct Show: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Everything about a stage's current result: key, inputs, outputs, provenance, figures.")

    @OptionGroup var common: Common

    @Option(help: "The stage to show.")
    var stage: String

    @Flag(help: "Machine-readable output.")
    var json = false

    func run() throws {
        try guarded {
            let runner = try common.open()
            guard runner.config.stage(stage) != nil else {
                throw CLIError("no stage named '\(stage)'. Fix: use one of: \(runner.config.stages.map(\.name).joined(separator: ", "))")
            }
            let v = try runner.show(stage: stage)
            if json { print(v.pretty); return }
            // A kind that renders its summary (roc: a table) replaces the raw JSON with it.
            let rendered = v["summary"].flatMap { runner.config.stage(stage)!.kind.render(summary: $0) }
            print(renderShow(v, summary: rendered == nil))
            if let rendered { print(rendered) }
        }
    }
}

/// The human form of `show`: aligned sections, digests shortened.
func renderShow(_ v: JSONValue, summary showSummary: Bool = true) -> String {
    var lines: [String] = []
    func s(_ key: String) -> String { v[key]?.stringValue ?? "" }
    lines.append("stage \(s("stage")) [\(s("kind"))], profile \(s("profile")): \(s("state"))")
    if let d = v["description"]?.stringValue { lines.append("  \(d)") }
    for r in v["stale_reasons"]?.arrayValue ?? [] { lines.append("  stale: \(r.stringValue ?? "")") }
    if let k = v["key"]?.stringValue {
        lines.append("key      \(k)")
        if let c = v["key_components"] {
            lines.append("  code   \(c["code"]?.stringValue ?? "")")
            lines.append("  env    " + (c["env"]?.objectValue ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.stringValue ?? "")" }.joined(separator: " "))
        }
    }
    lines.append("params")
    for (k, p) in (v["params"]?.objectValue ?? [:]).sorted(by: { $0.key < $1.key }) { lines.append("  \(k) = \(p.canonical)") }
    func sizeText(_ n: JSONValue?) -> String {
        guard let b = n?.doubleValue else { return "" }
        if b >= 1_048_576 { return String(format: "%.1f MiB", b / 1_048_576) }
        if b >= 1024 { return String(format: "%.1f KiB", b / 1024) }
        return "\(Int(b)) B"
    }
    if let ins = v["inputs"]?.arrayValue {
        lines.append("inputs")
        let w = ins.map { $0["label"]?.stringValue?.count ?? 0 }.max() ?? 0
        for i in ins {
            lines.append("  \((i["label"]?.stringValue ?? "").padding(toLength: w, withPad: " ", startingAt: 0))  \(String((i["digest"]?.stringValue ?? "").prefix(16)))  \(sizeText(i["size"]))")
        }
    }
    if let outs = v["outputs"]?.arrayValue {
        lines.append("outputs")
        let w = outs.map { $0["name"]?.stringValue?.count ?? 0 }.max() ?? 0
        for o in outs {
            lines.append("  \((o["name"]?.stringValue ?? "").padding(toLength: w, withPad: " ", startingAt: 0))  \(String((o["digest"]?.stringValue ?? "").prefix(16)))  \(sizeText(o["size"]))")
        }
    }
    if let p = v["provenance"]?.objectValue {
        lines.append("provenance")
        for k in ["started", "ended", "wall_seconds", "cpu_seconds", "peak_rss_bytes", "seed", "git_commit", "git_dirty",
                  "tool_version", "swift", "host", "os", "pid", "run", "attempt", "outcome"] {
            if let x = p[k] { lines.append("  \(k.padding(toLength: 15, withPad: " ", startingAt: 0)) \(x.stringValue ?? x.canonical)") }
        }
    }
    if let p = v["published"]?.stringValue { lines.append("published at \(p)") }
    if showSummary, let sum = v["summary"], sum != .null, sum != .object([:]) {
        lines.append("summary")
        for line in sum.pretty.split(separator: "\n") { lines.append("  " + line) }
    }
    return lines.joined(separator: "\n")
}

struct Diff: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compare two results of a stage cell by cell (profiles, run numbers, commit:SHA or keys).",
        discussion: """
            A and B each name a result: a profile (its current result, e.g. sample), a run number \
            (12 or run:12: the result last computed up to that run), commit:SHA (the last result \
            computed at that commit) or a stored key prefix. Stages whose summary has a `cells` \
            object (roc) are compared on those cells unless --everything.
            """)

    @OptionGroup var common: Common

    @Argument(help: "The first result.")
    var a: String

    @Argument(help: "The second result.")
    var b: String

    @Option(help: "The stage to compare.")
    var stage: String

    @Flag(help: "Also list the cells that are equal.")
    var all = false

    @Flag(help: "Compare the whole summary, not only its `cells`.")
    var everything = false

    @Flag(help: "Machine-readable output.")
    var json = false

    func run() throws {
        try guarded {
            let runner = try common.open()
            let (ea, da) = try runner.result(of: stage, at: a)
            let (eb, db) = try runner.result(of: stage, at: b)
            func part(_ s: JSONValue) -> JSONValue { !everything && s["cells"] != nil ? s["cells"]! : s }
            let diffs = runner.differences(part(ea.summary), part(eb.summary))
            let shown = all ? diffs : diffs.filter(\.changed)
            if json {
                print(JSONValue.object([
                    "stage": .string(stage), "a": .string(da), "b": .string(db),
                    "cells": .array(shown.map { d in
                        .object(["cell": .string(d.cell), "a": d.a ?? .null, "b": d.b ?? .null, "delta": d.delta.map { .number($0) } ?? .null])
                    }),
                ]).pretty)
                return
            }
            print("\(stage): A = \(da); B = \(db)")
            if ea.key == eb.key { print("  the same result (same key): no differences") ; return }
            guard !shown.isEmpty else { print("  \(diffs.count) cells compared, all equal"); return }
            func text(_ v: JSONValue?) -> String {
                guard let v else { return "(absent)" }
                if let d = v.doubleValue { return String(format: "%.6g", d) }
                return v.stringValue ?? v.canonical
            }
            let w0 = max(4, shown.map(\.cell.count).max() ?? 0)
            let w1 = max(1, shown.map { text($0.a).count }.max() ?? 0), w2 = max(1, shown.map { text($0.b).count }.max() ?? 0)
            print("  " + "cell".padding(toLength: w0, withPad: " ", startingAt: 0) + "  " + "A".padding(toLength: w1, withPad: " ", startingAt: 0)
                  + "  " + "B".padding(toLength: w2, withPad: " ", startingAt: 0) + "  B − A")
            for d in shown {
                let delta = d.delta.map { String(format: "%+.3g", $0) } ?? (d.changed ? "changed" : "")
                print("  " + d.cell.padding(toLength: w0, withPad: " ", startingAt: 0) + "  " + text(d.a).padding(toLength: w1, withPad: " ", startingAt: 0)
                      + "  " + text(d.b).padding(toLength: w2, withPad: " ", startingAt: 0) + "  " + delta)
            }
            print("  \(diffs.filter(\.changed).count) of \(diffs.count) cells differ")
        }
    }
}

struct Dag: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the stage graph (text, or Graphviz dot).")

    @OptionGroup var common: Common

    @Flag(help: "Graphviz dot instead of text.")
    var dot = false

    func run() throws {
        try guarded {
            let config = try PipelineConfig.load(path: try common.configPath(), profile: common.profile, kinds: allStageKinds)
            print(dot ? config.dagDot : config.dagText)
        }
    }
}

struct Prov: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Export the provenance of the current results as W3C PROV-JSON.")

    @OptionGroup var common: Common

    @Argument(help: "Limit to these stages and what they need.")
    var stages: [String] = []

    func run() throws {
        try guarded {
            let runner = try common.open()
            print(try runner.provJSON(targets: stages.filter { $0 != "all" }).pretty)
        }
    }
}

struct GC: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gc",
        abstract: "Remove stored results no profile's stages resolve to any more (dry run unless --apply).")

    @OptionGroup var common: Common

    @Flag(help: "Actually delete.")
    var apply = false

    func run() throws {
        try guarded {
            let runner = try common.open()
            let r = try runner.store.collectGarbage(apply: apply)
            let verb = apply ? "removed" : "would remove"
            print(String(format: "gc: %@ %d cache entries, %d objects (%.1f MiB), %d attempt directories, %d published directories, %d finished checkpoint directories",
                         verb, r.entries.count, r.objects.count, Double(r.bytes) / 1_048_576, r.tmpDirectories.count,
                         r.publishedDirectories.count, r.checkpointDirectories.count))
            if !apply { print("gc: dry run; pass --apply to delete") }
        }
    }
}

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Re-hash every stored object; with --repair, drop corrupted ones so they are recomputed.")

    @OptionGroup var common: Common

    @Flag(help: "Delete corrupted objects and the results that refer to them.")
    var repair = false

    func run() throws {
        var bad = 0
        try guarded {
            let runner = try common.open()
            let (n, corrupted) = try runner.store.verify(repair: repair)
            bad = corrupted.count
            print("verify: \(n) objects checked, \(corrupted.count) corrupted")
            for d in corrupted { print("  corrupted: \(d)\(repair ? " (removed)" : "")") }
        }
        if bad > 0 && !repair { throw ExitCode(1) }
    }
}

struct Kinds: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List stage kinds and their parameters.")

    func run() throws {
        for (name, k) in allStageKinds.sorted(by: { $0.key < $1.key }) {
            print("\(name): \(k.summary)")
            for p in k.parameters {
                let d = p.isSeed ? " (default: the profile's seed)" : p.defaultValue.map { " (default \($0.canonical))" } ?? " (required)"
                print("  \(p.name): \(p.type.rawValue)\(d) — \(p.doc)")
            }
        }
    }
}
