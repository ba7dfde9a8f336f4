import Digest
import Foundation

public struct RunOptions: Sendable {
    /// Stages to bring up to date with everything they need; empty means all.
    public var targets: [String] = []
    /// Stages to execute even when cached (their dependents still benefit from early cutoff).
    public var force: Set<String> = []
    /// Stages run at once.
    public var jobs: Int = 1
    /// Threads each in-process stage may use (`StageContext.threads`). Not part of any key: stages
    /// must give the same bytes for every thread count.
    public var threads: Int = ProcessInfo.processInfo.activeProcessorCount
    public var argv: [String] = []
    public init(targets: [String] = [], force: Set<String> = [], jobs: Int = 1,
                threads: Int = ProcessInfo.processInfo.activeProcessorCount, argv: [String] = []) {
        self.targets = targets
        self.force = force
        self.jobs = jobs
        self.threads = threads
        self.argv = argv
    }
}

public enum StageStatus: Sendable, Equatable {
    case executed
    case cached
    case failed(String)
    case skipped(String)
}

public struct StageOutcome: Sendable {
    public let stage: String
    public let status: StageStatus
    public let key: String?
    public let seconds: Double
}

public struct RunReport: Sendable {
    public let outcomes: [StageOutcome]
    public let wall: Double
    public var executed: Int { outcomes.filter { $0.status == .executed }.count }
    public var cached: Int { outcomes.filter { $0.status == .cached }.count }
    public var failed: [StageOutcome] {
        outcomes.filter { if case .failed = $0.status { return true }; if case .skipped = $0.status { return true }; return false }
    }
}

/// Resolves each stage's key from its inputs' content, reuses a stored result when one exists,
/// and otherwise executes the stage in a private directory and records it. Topological
/// scheduling with constructive traces and early cutoff ("Build systems à la carte").
public final class Runner: @unchecked Sendable {
    public let config: PipelineConfig
    public let store: Store
    let sink: ProgressSink

    private let lock = NSCondition()
    private var results: [String: [OutputFile]] = [:]
    private var heldLeases: Set<String> = []
    private var sourceState: SourceState?
    private var attemptCounter = 0
    // Scheduler state, guarded by `lock`.
    private var outcomes: [String: StageOutcome] = [:]
    private var keys: [String: String] = [:]
    private var running = 0
    /// True when stages run one at a time (-j 1): a stage's CPU time is then the whole process's,
    /// worker threads included.
    private var exclusiveStages = true
    private var runID: Int64?
    /// Outputs of the profile's current results, read once at the start of a run (never mutated while stages run).
    private var prefetched: [String: [OutputFile]] = [:]
    private var runArgv: [String] = []

    public init(config: PipelineConfig, store: Store, progress: ProgressSink) {
        self.config = config
        self.store = store
        sink = progress
    }

    // MARK: keys

    /// The key components of a stage given its upstream outputs; nil if an upstream is unresolved.
    func components(of stage: StageSpec, upstream: [String: [OutputFile]]) throws -> (KeyComponents, [StageInput])? {
        var inputs: [StageInput] = []
        for ref in stage.inputs {
            guard let outs = upstream[ref.stage] else { return nil }
            let chosen = ref.file.map { f in outs.filter { $0.name == f } } ?? outs
            if ref.file != nil, chosen.isEmpty {
                throw StageFailure("stage '\(stage.name)': its input '\(ref.text)' does not exist; stage '\(ref.stage)' produced \(outs.map(\.name).joined(separator: ", ")). Fix: change `stages.\(stage.name).inputs` in pipeline.json.")
            }
            for o in chosen {
                inputs.append(StageInput(label: "\(ref.stage)/\(o.name)", stage: ref.stage, name: o.name,
                                         path: store.objectPath(o.digest), digest: o.digest, size: o.size))
            }
        }
        for f in stage.files {
            let path = config.workspace + "/" + f
            let d: String, n: Int64
            do {
                (d, n) = try store.workspaceFileDigest(path)
            } catch {
                throw StageFailure("stage '\(stage.name)' reads the workspace file '\(f)', which cannot be read (\(error)). Fix: restore the file, or change the path in pipeline.json.")
            }
            inputs.append(StageInput(label: "file:\(f)", stage: nil, name: f, path: path, digest: d, size: n))
        }
        var seen = Set<String>()
        inputs = inputs.filter { seen.insert($0.label).inserted }
        let comps = KeyComponents(
            kind: stage.kind.kind, code: stage.kind.codeDigest, params: .object(stage.params),
            inputs: Dictionary(uniqueKeysWithValues: inputs.map { ($0.label, $0.digest) }), env: ToolInfo.fingerprint)
        return (comps, inputs)
    }

    /// A stored result whose objects are all present.
    func usableEntry(_ key: String) throws -> CacheEntry? {
        guard let e = try store.cacheEntry(key), e.outputs.allSatisfy(store.hasObject) else { return nil }
        return e
    }

    /// The hot path of a no-op run: only the outputs of a stored result, and only if all present.
    func usableOutputs(_ key: String) throws -> [OutputFile]? {
        guard let outs = try prefetched[key] ?? store.cachedOutputs(key), outs.allSatisfy(store.hasObject) else { return nil }
        return outs
    }

    // MARK: run

    public func run(_ options: RunOptions) throws -> RunReport {
        let t0 = now()
        for t in options.targets + Array(options.force) where config.stage(t) == nil {
            throw ConfigError(file: config.file, path: "stages", message: "no stage named '\(t)'",
                              fix: "use one of: \(config.stages.map(\.name).joined(separator: ", "))")
        }
        let stages = options.targets.isEmpty ? config.stages : config.closure(of: options.targets)
        try store.markInterruptedAttempts()
        // The run is recorded when its first stage executes: a no-op run writes nothing.
        lock.withLock {
            runID = nil
            runArgv = options.argv
        }
        let oldHeads = try store.heads(profile: config.profile.name)
        prefetched = try store.headOutputs(profile: config.profile.name)

        let heartbeat = Thread { [weak self] in
            while let self, !Thread.current.isCancelled {
                Thread.sleep(forTimeInterval: 5)
                let keys = self.lock.withLock { Array(self.heldLeases) }
                try? self.store.heartbeat(keys: keys)
            }
        }
        heartbeat.start()
        defer { heartbeat.cancel() }

        var pending = stages.map(\.name)
        lock.withLock {
            outcomes = [:]
            keys = [:]
            results = [:]
            running = 0
        }
        let jobs = max(1, options.jobs)
        exclusiveStages = jobs == 1
        lock.lock()
        while !pending.isEmpty || running > 0 {
            // Start every stage whose upstream is settled, up to `jobs` at a time, in topological order.
            var i = 0
            while i < pending.count, running < jobs {
                let name = pending[i]
                let spec = config.stage(name)!
                let ups = spec.upstream
                if let bad = ups.first(where: { u in outcomes[u].map { $0.status != .executed && $0.status != .cached } ?? false }) {
                    outcomes[name] = StageOutcome(stage: name, status: .skipped("upstream '\(bad)' did not complete"), key: nil, seconds: 0)
                    pending.remove(at: i)
                    continue
                }
                guard ups.allSatisfy({ outcomes[$0] != nil }) else { i += 1; continue }
                pending.remove(at: i)
                running += 1
                let upstream = results
                let work: @Sendable () -> Void = { [self] in
                    let (outcome, outs) = self.resolve(spec, upstream: upstream, force: options.force.contains(name), threads: max(1, options.threads))
                    self.lock.withLock {
                        self.outcomes[name] = outcome
                        if let key = outcome.key { self.keys[name] = key }
                        if let outs { self.results[name] = outs }
                        self.running -= 1
                        self.lock.broadcast()
                    }
                }
                if jobs == 1 {
                    lock.unlock()
                    work()
                    lock.lock()
                } else {
                    Thread.detachNewThread { work() }
                }
            }
            if pending.isEmpty && running == 0 { break }
            if running > 0 { lock.wait() }
        }
        lock.unlock()

        let changed = keys.filter { oldHeads[$0.key] != $0.value }
        try store.setHeads(profile: config.profile.name, changed)
        let ordered = stages.compactMap { outcomes[$0.name] }
        let report = RunReport(outcomes: ordered, wall: now() - t0)
        if let id = lock.withLock({ runID }) {
            try store.endRun(id, executed: report.executed, cached: report.cached, failed: report.failed.count)
        }
        return report
    }

    /// Bring one stage up to date: reuse, wait for another process, or execute.
    private func resolve(_ spec: StageSpec, upstream: [String: [OutputFile]], force: Bool, threads: Int)
        -> (StageOutcome, [OutputFile]?)
    {
        let t0 = now()
        func fail(_ message: String, key: String? = nil) -> (StageOutcome, [OutputFile]?) {
            sink.event("FAILED \(spec.name): \(message)")
            return (StageOutcome(stage: spec.name, status: .failed(message), key: key, seconds: now() - t0), nil)
        }
        do {
            guard let (comps, inputs) = try components(of: spec, upstream: upstream) else {
                return fail("an upstream stage did not produce outputs")
            }
            let key = comps.key
            if !force, let outs = try usableOutputs(key) {
                try publish(spec, key: key, outputs: outs)
                return (StageOutcome(stage: spec.name, status: .cached, key: key, seconds: now() - t0), outs)
            }
            var announcedWait = false
            while true {
                switch try store.acquireLease(key: key, stage: spec.name) {
                case .acquired:
                    lock.withLock { _ = heldLeases.insert(key) }
                    defer {
                        try? store.releaseLease(key: key)
                        lock.withLock { _ = heldLeases.remove(key) }
                    }
                    // Another process may have finished this key while we waited.
                    if !force, let outs = try usableOutputs(key) {
                        try publish(spec, key: key, outputs: outs)
                        return (StageOutcome(stage: spec.name, status: .cached, key: key, seconds: now() - t0), outs)
                    }
                    let outs = try execute(spec, comps: comps, inputs: inputs, threads: threads)
                    try publish(spec, key: key, outputs: outs)
                    let dt = now() - t0
                    sink.event(String(format: "ran %@ in %.2f s", spec.name, dt))
                    return (StageOutcome(stage: spec.name, status: .executed, key: key, seconds: dt), outs)
                case let .held(pid, host):
                    if !announcedWait {
                        sink.event("waiting for \(spec.name): process \(pid) on \(host) is computing it")
                        announcedWait = true
                    }
                    Thread.sleep(forTimeInterval: 0.1)
                    if !force, let outs = try usableOutputs(key) {
                        try publish(spec, key: key, outputs: outs)
                        return (StageOutcome(stage: spec.name, status: .cached, key: key, seconds: now() - t0), outs)
                    }
                }
            }
        } catch {
            return fail("\(error)")
        }
    }

    private func execute(_ spec: StageSpec, comps: KeyComponents, inputs: [StageInput], threads: Int) throws -> [OutputFile] {
        try verifyInputs(spec, inputs)
        let (source, serial, run) = try lock.withLock { () throws -> (SourceState, Int, Int64) in
            if sourceState == nil { sourceState = SourceState.read(workspace: config.workspace) }
            if self.runID == nil { self.runID = try store.beginRun(profile: config.profile.name, argv: runArgv) }
            attemptCounter += 1
            return (sourceState!, attemptCounter, self.runID!)
        }
        let key = comps.key
        let dir = store.tmpDirectory + "/\(spec.name)-\(key.prefix(12))-\(getpid())-\(serial)"
        let outDir = dir + "/out"
        try FileManager.default.createDirectory(atPath: outDir, withIntermediateDirectories: true)
        let cacheDir = store.root + "/cache/" + spec.kind.kind
        try FileManager.default.createDirectory(atPath: cacheDir, withIntermediateDirectories: true)
        let checkpointDir = store.checkpointDirectory(key: key)
        try FileManager.default.createDirectory(atPath: checkpointDir, withIntermediateDirectories: true)

        var attempt = Attempt(
            runID: run, stage: spec.name, profile: config.profile.name, key: key, components: comps,
            seed: spec.kind.parameters.contains(where: \.isSeed) ? spec.params["seed"]?.intValue : nil,
            gitCommit: source.commit, gitDirty: source.dirty, host: store.host, os: HostInfo.osDescription,
            pid: getpid(), started: now(), outcome: "running")
        attempt.id = try store.beginAttempt(attempt)

        let ctx = StageContext(stage: spec.name, params: spec.params, inputs: inputs, outputDirectory: outDir,
                               workspace: config.workspace, cacheDirectory: cacheDir, checkpointDirectory: checkpointDir,
                               threads: threads, progressSink: sink)
        let r0 = ResourceSample.thread(), p0 = ResourceSample.process()
        var summary: JSONValue?
        var failure: Error?
        do {
            summary = try spec.kind.run(ctx)
            attempt.outputs = try collectOutputs(spec, outDir: outDir)
        } catch {
            failure = error
        }
        let r1 = ResourceSample.thread(), p = ResourceSample.process()
        attempt.ended = now()
        attempt.wall = attempt.ended! - attempt.started
        // In-process stages: the process's CPU (worker threads included) when stages run one at a
        // time, else this thread's (a lower bound: other stages share the process), and the
        // process's peak RSS; commands: their own rusage.
        attempt.cpu = (exclusiveStages ? p.cpu - p0.cpu : r1.cpu - r0.cpu) + ctx.childCPU
        attempt.maxRSS = ctx.childMaxRSS > 0 ? ctx.childMaxRSS : p.maxRSS
        if let failure {
            attempt.outcome = "failed"
            attempt.error = "\(failure)"
            try store.finishAttempt(attempt, summary: nil)
            // Keep checkpoints to resume from; a stage that wrote none leaves no empty directory.
            rmdir(checkpointDir)
            throw StageFailure("\(failure)\n  (attempt files kept in \(dir); `pipeline gc --apply` removes them)")
        }
        attempt.outcome = "succeeded"
        try store.finishAttempt(attempt, summary: summary ?? .object([:]))
        try? FileManager.default.removeItem(atPath: dir)
        // The outputs are committed; the checkpoints that led to them are no longer needed.
        try? FileManager.default.removeItem(atPath: checkpointDir)
        return attempt.outputs
    }

    /// Inputs from the store are re-hashed before a stage consumes them: a corrupted object is
    /// never silently used. Its producing entry is dropped so the next run recomputes it.
    private func verifyInputs(_ spec: StageSpec, _ inputs: [StageInput]) throws {
        for i in inputs where i.stage != nil {
            let (d, _) = try fileDigest(i.path)
            if d != i.digest {
                let bad = try store.allCacheEntries().filter { $0.outputs.contains { $0.digest == i.digest } }.map(\.key)
                try store.deleteCacheEntries(bad)
                unlink(i.path)
                throw StageFailure("input \(i.label) of stage '\(spec.name)' is corrupted in the store (expected sha256 \(short(i.digest)), found \(short(d))). It was removed; run `pipeline run` again to recompute it.")
            }
        }
    }

    /// Every regular file in the output directory; declared outputs must all be there and nothing else.
    private func collectOutputs(_ spec: StageSpec, outDir: String) throws -> [OutputFile] {
        var files: [String] = []
        let fm = FileManager.default
        guard let e = fm.enumerator(atPath: outDir) else { return [] }
        while let rel = e.nextObject() as? String {
            let path = outDir + "/" + rel
            var st = stat()
            lstat(path, &st)
            switch st.st_mode & S_IFMT {
            case S_IFREG: files.append(rel)
            case S_IFDIR: continue
            default:
                throw StageFailure("stage '\(spec.name)' wrote '\(rel)', which is not a regular file (symlinks and devices cannot be stored). Fix: write a regular file instead.")
            }
        }
        files.sort()
        if let declared = spec.kind.declaredOutputs(params: spec.params) {
            let missing = declared.filter { !files.contains($0) }
            if !missing.isEmpty {
                throw StageFailure("stage '\(spec.name)' finished without producing its declared outputs: \(missing.joined(separator: ", ")). Nothing was cached.")
            }
            let extra = files.filter { !declared.contains($0) }
            if !extra.isEmpty {
                throw StageFailure("stage '\(spec.name)' wrote undeclared files: \(extra.joined(separator: ", ")). Fix: declare them as outputs, or write scratch files elsewhere.")
            }
        } else if files.isEmpty {
            throw StageFailure("stage '\(spec.name)' produced no output files. Nothing was cached.")
        }
        return try files.map { rel in
            let (d, n) = try store.ingest(outDir + "/" + rel)
            return OutputFile(name: rel, digest: d, size: n)
        }
    }

    // MARK: publishing

    /// `out/STAGE` is a symlink to `out/.keys/KEY/`, a directory of links into `objects/`;
    /// switching a stage to another result is one atomic rename of the symlink. A stage with
    /// `publish: NAME` also gets `STORE/NAME` pointing at the same directory.
    func publish(_ spec: StageSpec, key: String, outputs: [OutputFile]) throws {
        let keyDir = store.outDirectory + "/.keys/" + key
        let fm = FileManager.default
        if !fm.fileExists(atPath: keyDir + "/.complete") {
            let tmp = keyDir + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
            try fm.createDirectory(atPath: tmp, withIntermediateDirectories: true)
            for o in outputs {
                let depth = o.name.split(separator: "/").count - 1
                if depth > 0 {
                    try fm.createDirectory(atPath: tmp + "/" + o.name.split(separator: "/").dropLast().joined(separator: "/"),
                                           withIntermediateDirectories: true)
                }
                let rel = String(repeating: "../", count: 3 + depth) + "objects/" + o.digest.prefix(2) + "/" + o.digest.dropFirst(2)
                symlink(rel, tmp + "/" + o.name)
            }
            _ = fm.createFile(atPath: tmp + "/.complete", contents: Data())
            if rename(tmp, keyDir) != 0 {
                try? fm.removeItem(atPath: tmp)  // another process published the same key first
            }
        }
        try pointLink(store.outDirectory + "/" + spec.name, to: ".keys/" + key, stage: spec.name)
        if let name = spec.publish {
            try pointLink(store.root + "/" + name, to: "out/.keys/" + key, stage: spec.name)
        }
    }

    /// Makes `link` a symlink to `target` by an atomic rename (no-op when it already is). Refuses to
    /// replace anything that is not a symlink, so a user's own directory is never clobbered.
    private func pointLink(_ link: String, to target: String, stage: String) throws {
        var buf = [CChar](repeating: 0, count: 4096)
        let n = readlink(link, &buf, buf.count - 1)
        if n > 0, String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) == target { return }
        var st = stat()
        if n < 0, lstat(link, &st) == 0 {
            throw StageFailure("cannot publish outputs of '\(stage)' at \(link): something that is not a symlink is there. Fix: move it away; the pipeline only replaces its own links.")
        }
        let tmpLink = link + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        symlink(target, tmpLink)
        if rename(tmpLink, link) != 0 {
            unlink(tmpLink)
            throw StageFailure("cannot publish outputs of '\(stage)' at \(link): \(String(cString: strerror(errno)))")
        }
    }
}

extension NSCondition {
    func withLock<T>(_ body: () throws -> T) rethrows -> T {
        lock()
        defer { unlock() }
        return try body()
    }
}
