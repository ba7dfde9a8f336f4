import Foundation

/// Facts about where and from what a stage ran, gathered once per process and only when a
/// stage actually executes (a no-op run spawns no `git`).
public struct SourceState: Sendable {
    public let commit: String?
    public let dirty: Bool?

    static func read(workspace: String) -> SourceState {
        guard let head = runGit(["-C", workspace, "rev-parse", "HEAD"]) else { return SourceState(commit: nil, dirty: nil) }
        let status = runGit(["-C", workspace, "status", "--porcelain", "--untracked-files=no"])
        return SourceState(commit: head.trimmingCharacters(in: .whitespacesAndNewlines), dirty: status.map { !$0.isEmpty })
    }

    private static func runGit(_ args: [String]) -> String? {
        guard let r = try? spawnProcess(["git"] + args, stderrPath: "/dev/null"), r.exitCode == 0 else { return nil }
        return r.output
    }
}

public enum HostInfo {
    /// gethostname(2) directly: Foundation's hostName may resolve the name over the network.
    public static var name: String {
        var buf = [CChar](repeating: 0, count: 256)
        gethostname(&buf, buf.count - 1)
        return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public static var osDescription: String {
        var u = utsname()
        uname(&u)
        func field<T>(_ t: T) -> String {
            withUnsafeBytes(of: t) { raw in String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self) }
        }
        return "\(field(u.sysname)) \(field(u.release)) \(field(u.machine))"
    }
}

/// CPU seconds and peak resident memory, from getrusage.
struct ResourceSample {
    let cpu: Double
    let maxRSS: Int64

    // Linux values of RUSAGE_THREAD / RUSAGE_SELF (the enum constants don't import as Int32).
    static func thread() -> ResourceSample { sample(1) }
    static func process() -> ResourceSample { sample(0) }

    private static func sample(_ who: Int32) -> ResourceSample {
        var u = rusage()
        getrusage(who, &u)
        return ResourceSample(rusage: u)
    }

    init(rusage u: rusage) {
        cpu = Double(u.ru_utime.tv_sec) + Double(u.ru_utime.tv_usec) / 1e6 + Double(u.ru_stime.tv_sec) + Double(u.ru_stime.tv_usec) / 1e6
        maxRSS = Int64(u.ru_maxrss) * 1024
    }

    init(cpu: Double, maxRSS: Int64) {
        self.cpu = cpu
        self.maxRSS = maxRSS
    }
}
