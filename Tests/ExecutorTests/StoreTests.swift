import Foundation
import GRDB
import XCTest

@testable import Executor

/// Parallel scheduling, garbage collection, provenance and crash consistency of the store.
final class StoreTests: XCTestCase {
    private var workspaces: [Workspace] = []
    private var children: [Process] = []

    private func workspace(_ name: String) throws -> Workspace {
        let w = try Workspace(name)
        workspaces.append(w)
        return w
    }

    override func tearDown() {
        for p in children where p.isRunning {
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
        }
        for w in workspaces { w.remove() }
    }

    // MARK: -j

    func testParallelFanOutMatchesSerialResults() throws {
        var stages: [String: JSONValue] = ["root": text("r"), "join": text("j", inputs: ["s1", "s2", "s3", "s4"])]
        for i in 1...4 { stages["s\(i)"] = text(.string("s\(i)"), inputs: ["root"], sleep: 0.3) }
        let fan = pipeline(stages)
        let serialWS = try workspace("serial"), parallelWS = try workspace("parallel")
        let serial = try serialWS.run(fan, jobs: 1)
        let parallel = try parallelWS.run(fan, jobs: 2)

        XCTAssertEqual(serial.executed, 6)
        XCTAssertEqual(parallel.executed, 6)
        XCTAssertTrue(parallel.failed.isEmpty, "\(parallel.outcomes)")
        XCTAssertEqual(serialWS.log.peakConcurrency, 1)
        XCTAssertEqual(parallelWS.log.peakConcurrency, 2, "-j 2 runs two independent stages at once, never more")
        XCTAssertEqual(parallel.outcomes.map(\.stage), serial.outcomes.map(\.stage), "the report lists stages in topological order")
        for s in stages.keys {
            XCTAssertEqual(parallel.key(s), serial.key(s), "keys depend on content only, not on scheduling")
            XCTAssertEqual(try parallelWS.published(s), try serialWS.published(s))
        }
        XCTAssertGreaterThanOrEqual(serial.wall, 1.2)
        XCTAssertLessThan(parallel.wall, serial.wall)
        XCTAssertEqual(try parallelWS.run(fan, jobs: 2).executed, 0)
    }

    func testParallelRunWithAFailingBranchCompletesTheOthers() throws {
        let w = try workspace("parallel-fail")
        let r = try w.run(pipeline([
            "boom": stage("fail"), "after": text("x", inputs: ["boom"]),
            "s1": text("1", sleep: 0.2), "s2": text("2", sleep: 0.2), "s3": text("3", inputs: ["s1", "s2"]),
        ]), jobs: 2)
        XCTAssertEqual(r.executedStages, ["s1", "s2", "s3"])
        XCTAssertNotNil(r.failureMessage("boom"))
        XCTAssertEqual(r.skipReason("after"), "upstream 'boom' did not complete")
    }

    // MARK: gc

    func testGarbageCollectionKeepsHeadsOfEveryProfileAndRemovesTheRest() throws {
        let w = try workspace("gc")
        let profiles: [String: JSONValue] = ["alt": ["params": ["a": ["value": "alt"]]]]
        func doc(_ a: String) -> JSONValue {
            pipeline(["a": text(.string(a)), "b": text("b", inputs: ["a"]), "keep": text("k")], profiles: profiles)
        }
        let alt = try w.run(doc("one"), profile: "alt")
        let old = try w.run(doc("one"))
        let current = try w.run(doc("two"))
        XCTAssertEqual(current.executedStages, ["a", "b"])
        let oldA = try w.store.cacheEntry(XCTUnwrap(old.key("a")))!.outputs[0].digest
        let oldB = try w.store.cacheEntry(XCTUnwrap(old.key("b")))!.outputs[0].digest

        // Attempt directories: one of a dead process (garbage), one of this live process (kept).
        let deadDir = w.store.tmpDirectory + "/a-0123456789ab-\(try deadPid())-1"
        let liveDir = w.store.tmpDirectory + "/b-0123456789ab-\(getpid())-7"
        for d in [deadDir, liveDir] { try FileManager.default.createDirectory(atPath: d + "/out", withIntermediateDirectories: true) }

        let dry = try w.store.collectGarbage(apply: false)
        XCTAssertEqual(Set(dry.entries), Set([old.key("a")!, old.key("b")!]))
        XCTAssertEqual(Set(dry.objects.map(\.digest)), [oldA, oldB])
        XCTAssertEqual(dry.bytes, dry.objects.reduce(0) { $0 + $1.size })
        XCTAssertGreaterThan(dry.bytes, 0)
        XCTAssertEqual(dry.tmpDirectories, [deadDir])
        XCTAssertEqual(Set(dry.publishedDirectories),
                       Set([old.key("a")!, old.key("b")!].map { w.store.outDirectory + "/.keys/" + $0 }))
        // A dry run deletes nothing.
        XCTAssertNotNil(try w.store.cacheEntry(old.key("a")!))
        XCTAssertTrue(FileManager.default.fileExists(atPath: w.store.objectPath(oldA)))
        XCTAssertTrue(FileManager.default.fileExists(atPath: deadDir))

        let applied = try w.store.collectGarbage(apply: true)
        XCTAssertEqual(Set(applied.entries), Set(dry.entries))
        XCTAssertNil(try w.store.cacheEntry(old.key("a")!))
        XCTAssertNil(try w.store.cacheEntry(old.key("b")!))
        for d in [oldA, oldB] { XCTAssertFalse(FileManager.default.fileExists(atPath: w.store.objectPath(d))) }
        XCTAssertFalse(FileManager.default.fileExists(atPath: deadDir))
        XCTAssertTrue(FileManager.default.fileExists(atPath: liveDir))
        for s in ["a", "b", "keep"] {
            XCTAssertNotNil(try w.store.cacheEntry(alt.key(s)!), "heads of profile alt are roots")
            XCTAssertNotNil(try w.store.cacheEntry(current.key(s)!), "heads of the default profile are roots")
        }
        let again = try w.store.collectGarbage(apply: false)
        XCTAssertTrue(again.entries.isEmpty && again.objects.isEmpty && again.publishedDirectories.isEmpty)
        XCTAssertEqual(try w.store.verify(repair: false).corrupted, [])

        let rerun = try w.run(doc("two"))
        XCTAssertEqual(rerun.executed, 0, "current results survive gc")
        XCTAssertEqual(try w.published("a"), "\"two\"\n")
        XCTAssertEqual(try w.run(doc("one"), profile: "alt").executed, 0)
        XCTAssertEqual(try w.run(doc("one")).executedStages, ["a", "b"], "collected results are recomputed")
    }

    // MARK: provenance

    func testAttemptsRecordProvenance() throws {
        let w = try workspace("provenance")
        let t0 = Date().timeIntervalSince1970
        let report = try w.run(pipeline(["a": text("a"), "r": stage("seeded", inputs: ["a"])], seed: 7))
        let t1 = Date().timeIntervalSince1970
        let a = try XCTUnwrap(try w.store.attempts(stage: "r").first)
        let entry = try XCTUnwrap(try w.store.cacheEntry(XCTUnwrap(report.key("r"))))
        let aEntry = try XCTUnwrap(try w.store.cacheEntry(XCTUnwrap(report.key("a"))))

        XCTAssertEqual(a.outcome, "succeeded")
        XCTAssertNil(a.error)
        XCTAssertEqual(a.host, ProcessInfo.processInfo.hostName)
        XCTAssertFalse(a.host.isEmpty)
        XCTAssertTrue(a.os.hasPrefix("Linux "), a.os)
        XCTAssertEqual(a.pid, getpid())
        XCTAssertEqual(a.profile, "default")
        XCTAssertGreaterThan(a.runID, 0)
        XCTAssertGreaterThanOrEqual(a.started, t0)
        let ended = try XCTUnwrap(a.ended)
        XCTAssertGreaterThanOrEqual(ended, a.started)
        XCTAssertLessThanOrEqual(ended, t1)
        XCTAssertEqual(try XCTUnwrap(a.wall), ended - a.started, accuracy: 1e-6)
        XCTAssertGreaterThanOrEqual(try XCTUnwrap(a.cpu), 0)
        XCTAssertGreaterThan(try XCTUnwrap(a.maxRSS), 1 << 20)
        XCTAssertEqual(a.seed, 7)
        XCTAssertEqual(a.key, report.key("r"))
        XCTAssertEqual(a.components.key, a.key)
        XCTAssertEqual(a.components, KeyComponents(kind: "seeded", code: "seeded-code-v1", params: ["seed": 7],
                                                   inputs: ["a/out.txt": aEntry.outputs[0].digest], env: ToolInfo.fingerprint))
        XCTAssertEqual(a.outputs.map(\.name), ["draw.txt"])
        XCTAssertEqual(a.outputs, entry.outputs)
        XCTAssertEqual(entry.attemptID, a.id)
        XCTAssertEqual(entry.components, a.components)
        XCTAssertNil(try w.store.attempts(stage: "a").first?.seed, "a kind without a seed parameter records none")

        let shown = try w.runner(pipeline(["a": text("a"), "r": stage("seeded", inputs: ["a"])], seed: 7)).show(stage: "r")
        XCTAssertEqual(shown["key"], .string(a.key))
        XCTAssertEqual(shown["state"], "cached")
        XCTAssertEqual(shown["provenance"]?["seed"], 7)
        XCTAssertEqual(shown["provenance"]?["outcome"], "succeeded")
        XCTAssertEqual(shown["provenance"]?["pid"], .number(Double(getpid())))
        XCTAssertEqual(shown["inputs"]?.arrayValue?.first?["label"], "a/out.txt")
        XCTAssertEqual(shown["outputs"]?.arrayValue?.first?["name"], "draw.txt")
        XCTAssertEqual(try w.published("r", "draw.txt"), "seed 7\n\"a\"\n")
    }

    // MARK: opening

    /// Two `pipeline run` processes started together on a fresh workspace both create the store:
    /// creating the database, switching it to WAL and migrating it must tolerate a concurrent opener.
    func testConcurrentFirstOpensOfAFreshStoreAllSucceed() throws {
        let w = try workspace("open")
        let failures = LockedBox<[String]>()
        failures.value = []
        for round in 0..<10 {
            let root = w.root + "/fresh-\(round)"
            let group = DispatchGroup()
            for _ in 0..<4 {
                group.enter()
                Thread.detachNewThread {
                    do {
                        let s = try Store(root: root)
                        _ = try s.heads(profile: "default")
                    } catch {
                        failures.value = (failures.value ?? []) + ["\(error)"]
                    }
                    group.leave()
                }
            }
            XCTAssertEqual(group.wait(timeout: .now() + 60), .success)
        }
        XCTAssertEqual(failures.value ?? [], [], "opening a fresh store concurrently failed")
    }

    // MARK: leases and crashes

    /// A lease row as another process would have written it.
    private func insertLease(_ store: Store, key: String, stage: String, pid: Int32, host: String, heartbeat: Double) throws {
        try store.db.write { db in
            try db.execute(sql: "INSERT OR REPLACE INTO leases(key, stage, host, pid, acquired, heartbeat) VALUES (?,?,?,?,?,?)",
                           arguments: [key, stage, host, pid, heartbeat, heartbeat])
        }
    }

    private func leaseCount(_ store: Store) throws -> Int {
        try store.db.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM leases") ?? -1 }
    }

    func testLeasesOfDeadOrSilentProcessesAreTakenOver() throws {
        let w = try workspace("lease")
        let now = Date().timeIntervalSince1970
        try insertLease(w.store, key: "k1", stage: "s", pid: 1, host: "elsewhere", heartbeat: now)
        guard case let .held(pid, host) = try w.store.acquireLease(key: "k1", stage: "s") else {
            return XCTFail("a fresh lease of another host must be respected")
        }
        XCTAssertEqual(pid, 1)
        XCTAssertEqual(host, "elsewhere")
        try insertLease(w.store, key: "k1", stage: "s", pid: 1, host: "elsewhere", heartbeat: now - Store.leaseStaleAfter - 1)
        guard case .acquired = try w.store.acquireLease(key: "k1", stage: "s") else {
            return XCTFail("a lease without heartbeat for longer than leaseStaleAfter must be taken over")
        }
        try insertLease(w.store, key: "k2", stage: "s", pid: try deadPid(), host: w.store.host, heartbeat: now)
        guard case .acquired = try w.store.acquireLease(key: "k2", stage: "s") else {
            return XCTFail("a lease of a dead process on this host must be taken over at once")
        }
        try w.store.releaseLease(key: "k1")
        try w.store.releaseLease(key: "k2")
        XCTAssertEqual(try leaseCount(w.store), 0)
    }

    func testDeadProcessLeavesNothingToUnlock() throws {
        let w = try workspace("crash")
        let doc = pipeline(["a": text("a"), "b": text("b", inputs: ["a"])])
        let runner = try w.runner(doc)
        let key = try XCTUnwrap(try runner.status().first { $0.stage == "a" }?.key)
        let comps = KeyComponents(kind: "text", code: "text-code-v1", params: .object(runner.config.stage("a")!.params),
                                  inputs: [:], env: ToolInfo.fingerprint)
        XCTAssertEqual(comps.key, key)

        // What a process killed while running stage a leaves behind.
        let pid = try deadPid()
        let started = Date().timeIntervalSince1970 - 3
        let runID = try w.store.beginRun(profile: "default", argv: ["pipeline", "run"])
        let attemptID = try w.store.beginAttempt(Attempt(
            runID: runID, stage: "a", profile: "default", key: key, components: comps, host: w.store.host,
            os: HostInfo.osDescription, pid: pid, started: started, outcome: "running"))
        try insertLease(w.store, key: key, stage: "a", pid: pid, host: w.store.host, heartbeat: started)
        let attemptDir = w.store.tmpDirectory + "/a-\(key.prefix(12))-\(pid)-1"
        try FileManager.default.createDirectory(atPath: attemptDir + "/out", withIntermediateDirectories: true)
        try Data("half-writ".utf8).write(to: URL(fileURLWithPath: attemptDir + "/out/out.txt"))

        // Inspecting needs no unlock step.
        XCTAssertEqual(try runner.status().map(\.state), [.neverRun, .neverRun])

        let report = try runner.run(RunOptions())
        XCTAssertEqual(report.executedStages, ["a", "b"])
        XCTAssertEqual(try w.published("a"), "\"a\"\n", "the half-written attempt is never used")
        let crashed = try XCTUnwrap(try w.store.attempt(attemptID))
        XCTAssertEqual(crashed.outcome, "interrupted")
        XCTAssertContains(crashed.error, "killed or crashed")
        XCTAssertEqual(try w.store.attempts(stage: "a").map(\.outcome), ["succeeded", "interrupted"])
        XCTAssertEqual(try leaseCount(w.store), 0, "the taken-over lease is released after the stage")

        let gc = try w.store.collectGarbage(apply: true)
        XCTAssertEqual(gc.tmpDirectories, [attemptDir])
        XCTAssertFalse(FileManager.default.fileExists(atPath: attemptDir))
        XCTAssertEqual(try runner.run(RunOptions()).executed, 0)
    }

    func testALiveLeaseIsWaitedForAndTakenOverWhenItsHolderDies() throws {
        let w = try workspace("wait")
        let doc = pipeline(["a": text("a")])
        let runner = try w.runner(doc)
        let key = try XCTUnwrap(try runner.status().first?.key)

        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/bin/sleep")
        holder.arguments = ["30"]
        try holder.run()
        children.append(holder)
        try insertLease(w.store, key: key, stage: "a", pid: holder.processIdentifier, host: w.store.host,
                        heartbeat: Date().timeIntervalSince1970)

        let done = DispatchSemaphore(value: 0)
        let result = LockedBox<Result<RunReport, Error>>()
        Thread.detachNewThread {
            result.value = Result { try runner.run(RunOptions()) }
            done.signal()
        }
        // While the holder lives, the runner waits instead of computing the same key.
        let deadline = Date().addingTimeInterval(10)
        while !w.progress.events.contains(where: { $0.hasPrefix("waiting for a: process \(holder.processIdentifier)") }),
              Date() < deadline
        {
            Thread.sleep(forTimeInterval: 0.02)
        }
        XCTAssertTrue(w.progress.events.contains { $0.hasPrefix("waiting for a: process \(holder.processIdentifier) on ") },
                      "\(w.progress.events)")
        Thread.sleep(forTimeInterval: 0.3)
        XCTAssertEqual(w.log.count("a"), 0)

        holder.terminate()
        holder.waitUntilExit()
        XCTAssertEqual(done.wait(timeout: .now() + 20), .success, "the runner must take over the dead holder's lease")
        let report = try XCTUnwrap(result.value).get()
        XCTAssertEqual(report.executedStages, ["a"])
        XCTAssertEqual(w.log.count("a"), 1)
    }
}

final class LockedBox<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var _value: T?
    var value: T? {
        get { lock.lock(); defer { lock.unlock() }; return _value }
        set { lock.lock(); _value = newValue; lock.unlock() }
    }
}
