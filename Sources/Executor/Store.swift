import Digest
import Foundation
import GRDB

/// One output file of a stage: its name within the stage and its content digest.
public struct OutputFile: Sendable, Hashable {
    public let name: String
    public let digest: String
    public let size: Int64

    var json: JSONValue { .object(["name": .string(name), "digest": .string(digest), "size": .number(Double(size))]) }

    static func list(_ text: String) -> [OutputFile] {
        guard let a = (try? JSONParser.parse(text))?.arrayValue else { return [] }
        return a.compactMap { v in
            guard let n = v["name"]?.stringValue, let d = v["digest"]?.stringValue, let s = v["size"]?.intValue else { return nil }
            return OutputFile(name: n, digest: d, size: Int64(s))
        }
    }
}

/// A constructive trace: for a stage key, the outputs it produced.
public struct CacheEntry: Sendable {
    public let key: String
    public let stage: String
    public let components: KeyComponents
    public let outputs: [OutputFile]
    public let summary: JSONValue
    public let attemptID: Int64?
    public let created: Double
}

/// One execution attempt with its provenance.
public struct Attempt: Sendable {
    public var id: Int64 = 0
    public var runID: Int64
    public var stage: String
    public var profile: String
    public var key: String
    public var components: KeyComponents
    public var outputs: [OutputFile] = []
    public var seed: Int?
    public var gitCommit: String?
    public var gitDirty: Bool?
    public var host: String
    public var os: String
    public var pid: Int32
    public var started: Double
    public var ended: Double?
    public var wall: Double?
    public var cpu: Double?
    public var maxRSS: Int64?
    public var outcome: String
    public var error: String?
}

/// The SQLite database (WAL) plus the content-addressed object directory.
///
/// Crash safety: a stage's files are hashed and renamed into `objects/` first, and the
/// transaction that records them commits last, so a process killed at any instant leaves either
/// no record (the next run reruns the stage; stray objects are collected by `gc`) or a
/// complete one. Nothing ever needs unlocking: leases of dead processes expire by themselves.
public final class Store: @unchecked Sendable {
    public let root: String
    let db: DatabasePool
    public let host: String

    public var objectsDirectory: String { root + "/objects" }
    public var tmpDirectory: String { root + "/tmp" }
    public var outDirectory: String { root + "/out" }
    public var databasePath: String { root + "/pipeline.sqlite" }
    /// Resumable state of long stages, one directory per stage key (see `StageContext.checkpointDirectory`).
    public var checkpointsDirectory: String { root + "/checkpoints" }
    public func checkpointDirectory(key: String) -> String { checkpointsDirectory + "/" + key }

    public init(root: String) throws {
        self.root = root
        host = HostInfo.name
        let fm = FileManager.default
        for d in [root, root + "/objects", root + "/tmp", root + "/out", root + "/cache"] where !fm.fileExists(atPath: d) {
            try fm.createDirectory(atPath: d, withIntermediateDirectories: true)
        }
        var config = Configuration()
        config.busyMode = .timeout(30)
        config.prepareDatabase { db in
            // WAL with synchronous=NORMAL: commits are atomic and survive a killed process.
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
        }
        // Two processes opening a new store would both try to create the schema: serialise the
        // open with flock, which the kernel releases if the process dies.
        let lockFD = open(root + "/.open.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        if lockFD >= 0 { flock(lockFD, LOCK_EX) }
        defer {
            if lockFD >= 0 {
                flock(lockFD, LOCK_UN)
                close(lockFD)
            }
        }
        db = try DatabasePool(path: root + "/pipeline.sqlite", configuration: config)
        try Store.migrator.migrate(db)
    }

    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1: cache, attempts, runs, leases, file stats") { db in
            try db.execute(sql: """
                CREATE TABLE objects(digest TEXT PRIMARY KEY, size INTEGER NOT NULL, created REAL NOT NULL);
                CREATE TABLE cache(
                    key TEXT PRIMARY KEY, stage TEXT NOT NULL, kind TEXT NOT NULL, code TEXT NOT NULL,
                    params TEXT NOT NULL, inputs TEXT NOT NULL, env TEXT NOT NULL,
                    outputs TEXT NOT NULL, summary TEXT NOT NULL, attempt_id INTEGER, created REAL NOT NULL);
                CREATE TABLE runs(
                    id INTEGER PRIMARY KEY AUTOINCREMENT, profile TEXT NOT NULL, argv TEXT NOT NULL,
                    host TEXT NOT NULL, pid INTEGER NOT NULL, started REAL NOT NULL, ended REAL,
                    executed INTEGER, cached INTEGER, failed INTEGER);
                CREATE TABLE attempts(
                    id INTEGER PRIMARY KEY AUTOINCREMENT, run_id INTEGER NOT NULL, stage TEXT NOT NULL,
                    profile TEXT NOT NULL, key TEXT NOT NULL, components TEXT NOT NULL, outputs TEXT,
                    seed INTEGER, git_commit TEXT, git_dirty INTEGER, host TEXT NOT NULL, os TEXT NOT NULL,
                    pid INTEGER NOT NULL, started REAL NOT NULL, ended REAL, wall REAL, cpu REAL, max_rss INTEGER,
                    outcome TEXT NOT NULL, error TEXT);
                CREATE INDEX attempts_by_stage ON attempts(stage, id);
                CREATE TABLE leases(key TEXT PRIMARY KEY, stage TEXT NOT NULL, host TEXT NOT NULL, pid INTEGER NOT NULL,
                    acquired REAL NOT NULL, heartbeat REAL NOT NULL);
                CREATE TABLE heads(profile TEXT NOT NULL, stage TEXT NOT NULL, key TEXT NOT NULL, updated REAL NOT NULL,
                    PRIMARY KEY(profile, stage));
                CREATE TABLE file_stats(path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
                    inode INTEGER NOT NULL, digest TEXT NOT NULL);
                """)
        }
        return m
    }

    // MARK: objects

    public func objectPath(_ digest: String) -> String {
        objectsDirectory + "/" + digest.prefix(2) + "/" + digest.dropFirst(2)
    }

    /// The object is present with the recorded size (a full re-hash is `verify`'s job).
    public func hasObject(_ o: OutputFile) -> Bool {
        var st = stat()
        return stat(objectPath(o.digest), &st) == 0 && Int64(st.st_size) == o.size
    }

    /// Hash a finished file and move it into the object store (read-only). Returns its digest.
    public func ingest(_ path: String) throws -> (digest: String, size: Int64) {
        let (digest, size) = try fileDigest(path)
        let dest = objectPath(digest)
        // An existing object is trusted only if it still hashes right: a forced rerun repairs a corrupted one.
        if access(dest, F_OK) == 0, (try? fileDigest(dest))?.digest == digest {
            unlink(path)
        } else {
            let dir = objectsDirectory + "/" + digest.prefix(2)
            mkdir(dir, 0o755)
            chmod(path, 0o444)
            guard rename(path, dest) == 0 else {
                throw StageFailure("cannot move \(path) into the store at \(dest): \(String(cString: strerror(errno)))")
            }
        }
        return (digest, size)
    }

    // MARK: cache

    public func cacheEntry(_ key: String) throws -> CacheEntry? {
        try db.read { db in try Store.cacheEntry(db, key) }
    }

    public func cachedOutputs(_ key: String) throws -> [OutputFile]? {
        try db.read { db in
            try String.fetchOne(db, sql: "SELECT outputs FROM cache WHERE key = ?", arguments: [key]).map(OutputFile.list)
        }
    }

    /// Outputs of the results a profile's stages last resolved to, in one query: a no-op run
    /// then needs no per-stage database round trip.
    public func headOutputs(profile: String) throws -> [String: [OutputFile]] {
        try db.read { db in
            var out: [String: [OutputFile]] = [:]
            let rows = try Row.fetchAll(db, sql: """
                SELECT c.key AS key, c.outputs AS outputs FROM heads h JOIN cache c ON c.key = h.key WHERE h.profile = ?
                """, arguments: [profile])
            for r in rows { out[r["key"]] = OutputFile.list(r["outputs"]) }
            return out
        }
    }

    static func cacheEntry(_ db: Database, _ key: String) throws -> CacheEntry? {
        guard let r = try Row.fetchOne(db, sql: "SELECT * FROM cache WHERE key = ?", arguments: [key]) else { return nil }
        return cacheEntry(row: r)
    }

    static func cacheEntry(row r: Row) -> CacheEntry? {
        let params = (try? JSONParser.parse(r["params"] as String)) ?? .object([:])
        let inputs = ((try? JSONParser.parse(r["inputs"] as String))?.objectValue ?? [:]).compactMapValues(\.stringValue)
        let env = ((try? JSONParser.parse(r["env"] as String))?.objectValue ?? [:]).compactMapValues(\.stringValue)
        return CacheEntry(
            key: r["key"], stage: r["stage"],
            components: KeyComponents(kind: r["kind"], code: r["code"], params: params, inputs: inputs, env: env),
            outputs: OutputFile.list(r["outputs"]), summary: (try? JSONParser.parse(r["summary"] as String)) ?? .null,
            attemptID: r["attempt_id"], created: r["created"])
    }

    /// All cache entries, for `gc` and `verify`.
    public func allCacheEntries() throws -> [CacheEntry] {
        try db.read { db in try Row.fetchAll(db, sql: "SELECT * FROM cache ORDER BY created").compactMap(Store.cacheEntry(row:)) }
    }

    // MARK: attempts and runs

    public func beginRun(profile: String, argv: [String]) throws -> Int64 {
        try db.write { db in
            try db.execute(sql: "INSERT INTO runs(profile, argv, host, pid, started) VALUES (?,?,?,?,?)",
                           arguments: [profile, argv.joined(separator: " "), host, getpid(), now()])
            return db.lastInsertedRowID
        }
    }

    public func endRun(_ id: Int64, executed: Int, cached: Int, failed: Int) throws {
        try db.write { db in
            try db.execute(sql: "UPDATE runs SET ended = ?, executed = ?, cached = ?, failed = ? WHERE id = ?",
                           arguments: [now(), executed, cached, failed, id])
        }
    }

    /// Record that an attempt started (outcome `running`), so a killed attempt leaves a trace.
    public func beginAttempt(_ a: Attempt) throws -> Int64 {
        try db.write { db in
            try db.execute(sql: """
                INSERT INTO attempts(run_id, stage, profile, key, components, seed, git_commit, git_dirty, host, os, pid, started, outcome)
                VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)
                """, arguments: [a.runID, a.stage, a.profile, a.key, a.components.json.canonical, a.seed, a.gitCommit,
                                 a.gitDirty, a.host, a.os, a.pid, a.started, "running"])
            return db.lastInsertedRowID
        }
    }

    /// Finish an attempt; on success, record its cache entry in the same transaction (committed last).
    public func finishAttempt(_ a: Attempt, summary: JSONValue?) throws {
        try db.write { db in
            try db.execute(sql: """
                UPDATE attempts SET outputs = ?, ended = ?, wall = ?, cpu = ?, max_rss = ?, outcome = ?, error = ? WHERE id = ?
                """, arguments: [JSONValue.array(a.outputs.map(\.json)).canonical, a.ended, a.wall, a.cpu, a.maxRSS,
                                 a.outcome, a.error, a.id])
            guard a.outcome == "succeeded", let summary else { return }
            for o in a.outputs {
                try db.execute(sql: "INSERT OR IGNORE INTO objects(digest, size, created) VALUES (?,?,?)",
                               arguments: [o.digest, o.size, now()])
            }
            let c = a.components
            try db.execute(sql: """
                INSERT OR REPLACE INTO cache(key, stage, kind, code, params, inputs, env, outputs, summary, attempt_id, created)
                VALUES (?,?,?,?,?,?,?,?,?,?,?)
                """, arguments: [a.key, a.stage, c.kind, c.code, c.params.canonical,
                                 JSONValue.object(c.inputs.mapValues { .string($0) }).canonical,
                                 JSONValue.object(c.env.mapValues { .string($0) }).canonical,
                                 JSONValue.array(a.outputs.map(\.json)).canonical, summary.canonical, a.id, now()])
        }
    }

    public func attempt(_ id: Int64) throws -> Attempt? {
        try db.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM attempts WHERE id = ?", arguments: [id]).map(Store.attempt(row:))
        }
    }

    public func attempts(stage: String, limit: Int = 20) throws -> [Attempt] {
        try db.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM attempts WHERE stage = ? ORDER BY id DESC LIMIT ?", arguments: [stage, limit])
                .map(Store.attempt(row:))
        }
    }

    static func attempt(row r: Row) -> Attempt {
        let comps = (try? JSONParser.parse(r["components"] as String)).flatMap(KeyComponents.init(json:))
            ?? KeyComponents(kind: "", code: "", params: .object([:]), inputs: [:], env: [:])
        return Attempt(
            id: r["id"], runID: r["run_id"], stage: r["stage"], profile: r["profile"], key: r["key"], components: comps,
            outputs: (r["outputs"] as String?).map(OutputFile.list) ?? [], seed: r["seed"], gitCommit: r["git_commit"],
            gitDirty: r["git_dirty"], host: r["host"], os: r["os"], pid: r["pid"], started: r["started"], ended: r["ended"],
            wall: r["wall"], cpu: r["cpu"], maxRSS: r["max_rss"], outcome: r["outcome"], error: r["error"])
    }

    /// Attempts left `running` by processes that no longer exist become `interrupted`.
    public func markInterruptedAttempts() throws {
        let rows = try db.read { db in
            try Row.fetchAll(db, sql: "SELECT id, pid, host FROM attempts WHERE outcome = 'running'")
        }
        let dead = rows.filter { ($0["host"] as String) == host && !processAlive($0["pid"]) }.map { $0["id"] as Int64 }
        guard !dead.isEmpty else { return }
        try db.write { db in
            for id in dead {
                try db.execute(sql: "UPDATE attempts SET outcome = 'interrupted', error = 'the process running this attempt ended without finishing it (killed or crashed)' WHERE id = ? AND outcome = 'running'", arguments: [id])
            }
        }
    }

    // MARK: heads (the key each stage last resolved to, per profile)

    public func heads(profile: String) throws -> [String: String] {
        try db.read { db in
            var out: [String: String] = [:]
            for r in try Row.fetchAll(db, sql: "SELECT stage, key FROM heads WHERE profile = ?", arguments: [profile]) {
                out[r["stage"]] = r["key"]
            }
            return out
        }
    }

    public func allHeads() throws -> [(profile: String, stage: String, key: String)] {
        try db.read { db in
            try Row.fetchAll(db, sql: "SELECT profile, stage, key FROM heads").map { ($0["profile"], $0["stage"], $0["key"]) }
        }
    }

    public func setHeads(profile: String, _ heads: [String: String]) throws {
        guard !heads.isEmpty else { return }
        try db.write { db in
            for (stage, key) in heads.sorted(by: { $0.key < $1.key }) {
                try db.execute(sql: "INSERT OR REPLACE INTO heads(profile, stage, key, updated) VALUES (?,?,?,?)",
                               arguments: [profile, stage, key, now()])
            }
        }
    }

    /// The most recent successful attempt of a stage (any key): the baseline `status` compares with.
    public func lastSucceeded(stage: String, profile: String) throws -> Attempt? {
        try db.read { db in
            try Row.fetchOne(db, sql: """
                SELECT * FROM attempts WHERE stage = ? AND outcome = 'succeeded'
                ORDER BY (profile = ?) DESC, id DESC LIMIT 1
                """, arguments: [stage, profile]).map(Store.attempt(row:))
        }
    }

    /// Successful attempts of a stage, newest first, for `pipeline diff`: the latest one with
    /// `run_id ≤ run`, or whose commit starts with `commitPrefix`.
    public func succeededAttempts(stage: String, upToRun run: Int64? = nil, commitPrefix: String? = nil) throws -> [Attempt] {
        try db.read { db in
            var sql = "SELECT * FROM attempts WHERE stage = ? AND outcome = 'succeeded'"
            var args: [DatabaseValueConvertible] = [stage]
            if let run { sql += " AND run_id <= ?"; args.append(run) }
            if let commitPrefix { sql += " AND git_commit LIKE ?"; args.append(commitPrefix + "%") }
            sql += " ORDER BY id DESC LIMIT 1"
            return try Row.fetchAll(db, sql: sql, arguments: StatementArguments(args)).map(Store.attempt(row:))
        }
    }

    /// Cache entries of a stage whose key starts with `prefix`.
    public func cacheEntries(stage: String, keyPrefix prefix: String) throws -> [CacheEntry] {
        try db.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM cache WHERE stage = ? AND key LIKE ? LIMIT 2", arguments: [stage, prefix + "%"])
                .compactMap(Store.cacheEntry(row:))
        }
    }

    /// The run with this id, if any: its profile.
    public func runProfile(_ id: Int64) throws -> String? {
        try db.read { db in try String.fetchOne(db, sql: "SELECT profile FROM runs WHERE id = ?", arguments: [id]) }
    }

    // MARK: workspace file digests (a stat cache: content digests without re-reading unchanged files)

    public func workspaceFileDigest(_ path: String) throws -> (digest: String, size: Int64) {
        var st = stat()
        guard stat(path, &st) == 0 else {
            throw StageFailure("cannot read \(path): \(String(cString: strerror(errno)))")
        }
        let mtime = Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec)
        let size = Int64(st.st_size), inode = Int64(bitPattern: UInt64(st.st_ino))
        if let r = try db.read({ db in try Row.fetchOne(db, sql: "SELECT * FROM file_stats WHERE path = ?", arguments: [path]) }),
           (r["size"] as Int64) == size, (r["mtime_ns"] as Int64) == mtime, (r["inode"] as Int64) == inode
        {
            return (r["digest"], size)
        }
        let (digest, n) = try fileDigest(path)
        // A file modified within the last seconds could change again within the same mtime tick
        // without us noticing (git's "racy" case): hash it again next time instead of trusting the stat.
        guard Double(st.st_mtim.tv_sec) < now() - 2 else { return (digest, n) }
        try db.write { db in
            try db.execute(sql: "INSERT OR REPLACE INTO file_stats(path, size, mtime_ns, inode, digest) VALUES (?,?,?,?,?)",
                           arguments: [path, n, mtime, inode, digest])
        }
        return (digest, n)
    }

    // MARK: maintenance

    public func deleteCacheEntries(_ keys: [String]) throws {
        try db.write { db in
            for k in keys { try db.execute(sql: "DELETE FROM cache WHERE key = ?", arguments: [k]) }
        }
    }

    public func forgetObjects(_ digests: [String]) throws {
        try db.write { db in
            for d in digests { try db.execute(sql: "DELETE FROM objects WHERE digest = ?", arguments: [d]) }
        }
    }
}

func now() -> Double { Date().timeIntervalSince1970 }

func processAlive(_ pid: Int32) -> Bool {
    kill(pid, 0) == 0 || errno == EPERM
}
