import Digest
import Foundation

/// Why a stage would or would not run, without running anything.
public struct StageState: Sendable {
    public enum State: String, Sendable { case cached, stale, neverRun = "never run" }
    public let stage: String
    public let state: State
    /// For stale stages: which key components changed (or which upstream must run first).
    public let reasons: [String]
    public let key: String?
}

extension Runner {
    /// `pipeline status`: each stage cached, stale with the changed component, or never run.
    public func status(targets: [String] = []) throws -> [StageState] {
        let stages = targets.isEmpty ? config.stages : config.closure(of: targets)
        let heads = try store.heads(profile: config.profile.name)
        var outputs: [String: [OutputFile]] = [:]
        var states: [StageState] = []
        for spec in stages {
            let baseline: KeyComponents? = try heads[spec.name].flatMap { try store.cacheEntry($0)?.components }
                ?? store.lastSucceeded(stage: spec.name, profile: config.profile.name)?.components
            let resolved: (KeyComponents, [StageInput])?
            do {
                resolved = try components(of: spec, upstream: outputs)
            } catch {
                states.append(StageState(stage: spec.name, state: baseline == nil ? .neverRun : .stale, reasons: ["\(error)"], key: nil))
                continue
            }
            guard let (comps, _) = resolved else {
                let blockers = spec.upstream.filter { outputs[$0] == nil }
                var reasons = blockers.map { "upstream '\($0)' must run first" }
                if let b = baseline {
                    // Compare what can be compared without the upstream's new outputs.
                    var partial = b
                    partial.inputs = [:]
                    let mine = KeyComponents(kind: spec.kind.kind, code: spec.kind.codeDigest, params: .object(spec.params),
                                             inputs: [:], env: ToolInfo.fingerprint)
                    reasons += mine.changes(since: partial)
                }
                states.append(StageState(stage: spec.name, state: baseline == nil ? .neverRun : .stale, reasons: reasons, key: nil))
                continue
            }
            let key = comps.key
            if let outs = try usableOutputs(key) {
                outputs[spec.name] = outs
                states.append(StageState(stage: spec.name, state: .cached, reasons: [], key: key))
                continue
            }
            guard let b = baseline else {
                states.append(StageState(stage: spec.name, state: .neverRun, reasons: [], key: key))
                continue
            }
            var reasons = comps.changes(since: b)
            if reasons.isEmpty {
                reasons = (try store.cacheEntry(key)) != nil
                    ? ["its stored outputs are missing from artifacts/objects"] : ["no stored result for this key"]
            }
            states.append(StageState(stage: spec.name, state: .stale, reasons: reasons, key: key))
        }
        return states
    }

    /// The stored result a stage currently resolves to: the current key when it is computable and
    /// cached, else the last key this profile resolved the stage to.
    public func currentEntry(stage name: String) throws -> CacheEntry? {
        guard config.stage(name) != nil else {
            throw ConfigError(file: config.file, path: "stages", message: "no stage named '\(name)'",
                              fix: "use one of: \(config.stages.map(\.name).joined(separator: ", "))")
        }
        var outputs: [String: [OutputFile]] = [:]
        for spec in config.closure(of: [name]) {
            guard let (comps, _) = try components(of: spec, upstream: outputs), let e = try usableEntry(comps.key) else { break }
            outputs[spec.name] = e.outputs
            if spec.name == name { return e }
        }
        if let k = try store.heads(profile: config.profile.name)[name] { return try store.cacheEntry(k) }
        return nil
    }

    /// `pipeline show --stage NAME --json`: everything known about a stage's current result.
    public func show(stage name: String) throws -> JSONValue {
        let spec = config.stage(name)!
        var out: [String: JSONValue] = [
            "stage": .string(name), "kind": .string(spec.kind.kind), "profile": .string(config.profile.name),
            "inputs_declared": .array(spec.inputs.map { .string($0.text) } + spec.files.map { .string("file:" + $0) }),
        ]
        if let d = spec.description { out["description"] = .string(d) }
        guard let e = try currentEntry(stage: name) else {
            out["state"] = "never run"
            out["params"] = .object(spec.params)
            return .object(out)
        }
        let stateNow = try status(targets: [name]).last
        out["state"] = .string(stateNow?.state.rawValue ?? "unknown")
        if let r = stateNow?.reasons, !r.isEmpty { out["stale_reasons"] = .array(r.map { .string($0) }) }
        out["key"] = .string(e.key)
        out["key_components"] = .object([
            "kind": .string(e.components.kind), "code": .string(e.components.code),
            "env": .object(e.components.env.mapValues { .string($0) }),
        ])
        out["params"] = e.components.params
        let sizes = try inputSizes(e)
        out["inputs"] = .array(e.components.inputs.keys.sorted().map { label in
            .object(["label": .string(label), "digest": .string(e.components.inputs[label]!),
                     "size": sizes[label].map { .number(Double($0)) } ?? .null])
        })
        out["outputs"] = .array(e.outputs.map { o in
            .object(["name": .string(o.name), "digest": .string(o.digest), "size": .number(Double(o.size)),
                     "path": .string(store.outDirectory + "/" + name + "/" + o.name),
                     "object": .string(store.objectPath(o.digest))])
        })
        out["summary"] = e.summary
        if let name = spec.publish { out["published"] = .string(store.root + "/" + name) }
        if let id = e.attemptID, let a = try store.attempt(id) {
            var prov: [String: JSONValue] = [
                "attempt": .number(Double(a.id)), "run": .number(Double(a.runID)), "profile": .string(a.profile),
                "host": .string(a.host), "os": .string(a.os), "pid": .number(Double(a.pid)),
                "tool_version": .string(a.components.env["tool"] ?? ""), "swift": .string(a.components.env["swift"] ?? ""),
                "started": .string(iso8601(a.started)), "outcome": .string(a.outcome),
            ]
            if let s = a.seed { prov["seed"] = .number(Double(s)) }
            if let c = a.gitCommit { prov["git_commit"] = .string(c) }
            if let d = a.gitDirty { prov["git_dirty"] = .bool(d) }
            if let t = a.ended { prov["ended"] = .string(iso8601(t)) }
            if let w = a.wall { prov["wall_seconds"] = .number(w) }
            if let c = a.cpu { prov["cpu_seconds"] = .number(c) }
            if let m = a.maxRSS { prov["peak_rss_bytes"] = .number(Double(m)) }
            out["provenance"] = .object(prov)
        }
        return .object(out)
    }

    private func inputSizes(_ e: CacheEntry) throws -> [String: Int64] {
        var sizes: [String: Int64] = [:]
        for (label, digest) in e.components.inputs {
            var st = stat()
            let path = label.hasPrefix("file:") ? config.workspace + "/" + label.dropFirst(5) : store.objectPath(digest)
            if stat(path, &st) == 0 { sizes[label] = Int64(st.st_size) }
        }
        return sizes
    }
}

func iso8601(_ t: Double) -> String {
    let f = ISO8601DateFormatter()
    f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    return f.string(from: Date(timeIntervalSince1970: t))
}

// MARK: DAG

extension PipelineConfig {
    /// One line per stage in execution order, with what it reads.
    public var dagText: String {
        stages.map { s in
            let ins = s.inputs.map(\.text) + s.files.map { "file:" + $0 }
            return "\(s.name) [\(s.kind.kind)]" + (ins.isEmpty ? "" : " <- " + ins.joined(separator: ", "))
        }.joined(separator: "\n")
    }

    /// Graphviz dot.
    public var dagDot: String {
        var lines = ["digraph pipeline {", "  rankdir=LR;", "  node [shape=box, fontname=\"Helvetica\"];"]
        for s in stages {
            lines.append("  \"\(s.name)\" [label=\"\(s.name)\\n(\(s.kind.kind))\"];")
        }
        for s in stages {
            for u in s.upstream { lines.append("  \"\(u)\" -> \"\(s.name)\";") }
            for f in s.files {
                lines.append("  \"file:\(f)\" [shape=note];")
                lines.append("  \"file:\(f)\" -> \"\(s.name)\";")
            }
        }
        lines.append("}")
        return lines.joined(separator: "\n")
    }
}

// MARK: gc and verify

public struct GCReport: Sendable {
    public var entries: [String] = []
    public var objects: [(digest: String, size: Int64)] = []
    public var tmpDirectories: [String] = []
    public var publishedDirectories: [String] = []
    /// Checkpoints of keys that have completed (their outputs are stored, so they are no longer
    /// needed). Checkpoints of unfinished keys are kept: they are a long training's way back.
    public var checkpointDirectories: [String] = []
    public var bytes: Int64 { objects.reduce(0) { $0 + $1.size } }
}

extension Store {
    /// Reachability: the roots are the results every profile's stages last resolved to
    /// (`heads`). Other cache entries, their unreferenced objects, leftover attempt directories
    /// of dead processes and stale published directories are garbage.
    public func collectGarbage(apply: Bool) throws -> GCReport {
        var report = GCReport()
        let roots = Set(try allHeads().map(\.key))
        let entries = try allCacheEntries()
        let kept = entries.filter { roots.contains($0.key) }
        report.entries = entries.filter { !roots.contains($0.key) }.map(\.key)
        let live = Set(kept.flatMap { $0.outputs.map(\.digest) })
        let fm = FileManager.default
        for prefix in (try? fm.contentsOfDirectory(atPath: objectsDirectory)) ?? [] {
            for rest in (try? fm.contentsOfDirectory(atPath: objectsDirectory + "/" + prefix)) ?? [] {
                let d = prefix + rest
                if !live.contains(d) {
                    var st = stat()
                    stat(objectsDirectory + "/" + prefix + "/" + rest, &st)
                    report.objects.append((d, Int64(st.st_size)))
                }
            }
        }
        for t in (try? fm.contentsOfDirectory(atPath: tmpDirectory)) ?? [] {
            // name: STAGE-KEY12-PID-N; keep directories of live processes on this host.
            let parts = t.split(separator: "-")
            if parts.count >= 3, let pid = Int32(parts[parts.count - 2]), processAlive(pid) { continue }
            report.tmpDirectories.append(tmpDirectory + "/" + t)
        }
        let keyDirs = (try? fm.contentsOfDirectory(atPath: outDirectory + "/.keys")) ?? []
        report.publishedDirectories = keyDirs.filter { !roots.contains($0) }.map { outDirectory + "/.keys/" + $0 }
        let completed = Set(entries.map(\.key))
        report.checkpointDirectories = ((try? fm.contentsOfDirectory(atPath: checkpointsDirectory)) ?? []).sorted()
            .filter { completed.contains($0) }.map { checkpointsDirectory + "/" + $0 }
        guard apply else { return report }
        try deleteCacheEntries(report.entries)
        try forgetObjects(report.objects.map(\.digest))
        for o in report.objects { unlink(objectPath(o.digest)) }
        for d in report.tmpDirectories + report.publishedDirectories + report.checkpointDirectories { try? fm.removeItem(atPath: d) }
        return report
    }

    /// Re-hash every stored object; corrupted ones are deleted so the next run recomputes them.
    public func verify(repair: Bool) throws -> (checked: Int, corrupted: [String]) {
        var checked = 0
        var bad: [String] = []
        var seen = Set<String>()
        for e in try allCacheEntries() {
            for o in e.outputs where seen.insert(o.digest).inserted {
                checked += 1
                let path = objectPath(o.digest)
                let ok = (try? fileDigest(path))?.digest == o.digest
                if !ok { bad.append(o.digest) }
            }
        }
        if repair, !bad.isEmpty {
            let badSet = Set(bad)
            let keys = try allCacheEntries().filter { $0.outputs.contains { badSet.contains($0.digest) } }.map(\.key)
            try deleteCacheEntries(keys)
            for d in bad { unlink(objectPath(d)) }
        }
        return (checked, bad)
    }
}

// MARK: comparing two results of a stage

/// One cell of `pipeline diff`: a leaf of two stage summaries.
public struct SummaryDifference: Sendable {
    public let cell: String
    public let a: JSONValue?
    public let b: JSONValue?
    /// b − a when both are numbers.
    public var delta: Double? {
        guard let x = a?.doubleValue, let y = b?.doubleValue else { return nil }
        return y - x
    }
    public var changed: Bool { a != b }
}

extension Runner {
    /// The stored result of `stage` that `reference` names: a profile (its current result), a run
    /// number (`12` or `run:12`: the result last computed up to that run), `commit:SHA` (the last
    /// result computed at that commit), or a key prefix.
    public func result(of stage: String, at reference: String) throws -> (entry: CacheEntry, description: String) {
        guard config.stage(stage) != nil else {
            throw ConfigError(file: config.file, path: "stages", message: "no stage named '\(stage)'",
                              fix: "use one of: \(config.stages.map(\.name).joined(separator: ", "))")
        }
        func entry(_ key: String, _ what: String) throws -> (CacheEntry, String) {
            guard let e = try store.cacheEntry(key) else {
                throw StageFailure("the result of '\(stage)' at \(what) (key \(key.prefix(16))) is no longer stored (garbage-collected?). Fix: rerun that profile or commit.")
            }
            return (e, "\(what), key \(key.prefix(12))")
        }
        if config.profileNames.contains(reference) || reference == config.profile.name {
            guard let key = try store.heads(profile: reference)[stage] else {
                throw StageFailure("profile '\(reference)' has no result for '\(stage)' yet. Fix: pipeline run --profile \(reference) \(stage)")
            }
            return try entry(key, "profile \(reference)")
        }
        let runText = reference.hasPrefix("run:") ? String(reference.dropFirst(4)) : reference
        if let run = Int64(runText) {
            guard try store.runProfile(run) != nil else {
                throw StageFailure("there is no run \(run). Fix: pick a run number from `pipeline show --stage \(stage)` (provenance: run).")
            }
            guard let a = try store.succeededAttempts(stage: stage, upToRun: run).first else {
                throw StageFailure("'\(stage)' had not been computed by run \(run). Fix: name a later run.")
            }
            return try entry(a.key, "run \(run) (computed in run \(a.runID))")
        }
        if reference.hasPrefix("commit:") {
            let sha = String(reference.dropFirst(7))
            guard sha.count >= 4, let a = try store.succeededAttempts(stage: stage, commitPrefix: sha).first else {
                throw StageFailure("no result of '\(stage)' was computed at a commit starting with '\(sha)'. Fix: check the commit (`pipeline show --stage \(stage)` prints git_commit).")
            }
            return try entry(a.key, "commit \(a.gitCommit?.prefix(12) ?? "") (run \(a.runID))")
        }
        let hits = reference.count >= 6 ? try store.cacheEntries(stage: stage, keyPrefix: reference) : []
        guard hits.count == 1 else {
            throw StageFailure(hits.isEmpty
                ? "'\(reference)' is not a profile (\(config.profileNames.joined(separator: ", "))), a run number, commit:SHA, or a stored key of '\(stage)'. Fix: use one of those."
                : "the key prefix '\(reference)' is ambiguous for '\(stage)'. Fix: give more characters.")
        }
        return (hits[0], "key \(hits[0].key.prefix(12))")
    }

    /// Every leaf of the two summaries, by path (objects by key, arrays by position).
    public func differences(_ a: JSONValue, _ b: JSONValue) -> [SummaryDifference] {
        var left: [String: JSONValue] = [:], right: [String: JSONValue] = [:]
        flatten(a, "", into: &left)
        flatten(b, "", into: &right)
        return Set(left.keys).union(right.keys).sorted().map { SummaryDifference(cell: $0, a: left[$0], b: right[$0]) }
    }

    private func flatten(_ v: JSONValue, _ path: String, into out: inout [String: JSONValue]) {
        switch v {
        case let .object(o):
            for (k, x) in o { flatten(x, path.isEmpty ? k : path + "." + k, into: &out) }
        case let .array(a):
            for (i, x) in a.enumerated() { flatten(x, "\(path)[\(i)]", into: &out) }
        default:
            out[path] = v
        }
    }
}
