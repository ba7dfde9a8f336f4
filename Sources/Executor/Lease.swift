import Foundation
import GRDB

/// Per-key leases: when two `pipeline run` processes need the same stage, one computes it and the
/// other waits and reuses the result. A lease whose process is gone (same host) or whose
/// heartbeat is older than `staleAfter` (another host, or a reused pid) is taken over, so a
/// killed process never leaves a lock for a human to clear.
extension Store {
    public static let leaseStaleAfter: Double = 120

    public enum LeaseState: Sendable {
        case acquired
        case held(pid: Int32, host: String)
    }

    public func acquireLease(key: String, stage: String) throws -> LeaseState {
        let me = getpid()
        return try db.write { db in
            let t = now()
            if let r = try Row.fetchOne(db, sql: "SELECT pid, host, heartbeat FROM leases WHERE key = ?", arguments: [key]) {
                let pid: Int32 = r["pid"], h: String = r["host"], beat: Double = r["heartbeat"]
                let stale = (h == host && !processAlive(pid)) || t - beat > Store.leaseStaleAfter
                if !stale { return .held(pid: pid, host: h) }
            }
            try db.execute(sql: "INSERT OR REPLACE INTO leases(key, stage, host, pid, acquired, heartbeat) VALUES (?,?,?,?,?,?)",
                           arguments: [key, stage, host, me, t, t])
            return .acquired
        }
    }

    public func releaseLease(key: String) throws {
        try db.write { db in
            try db.execute(sql: "DELETE FROM leases WHERE key = ? AND pid = ? AND host = ?", arguments: [key, getpid(), host])
        }
    }

    public func heartbeat(keys: [String]) throws {
        guard !keys.isEmpty else { return }
        try db.write { db in
            let t = now()
            for k in keys {
                try db.execute(sql: "UPDATE leases SET heartbeat = ? WHERE key = ? AND pid = ? AND host = ?",
                               arguments: [t, k, getpid(), host])
            }
        }
    }
}
