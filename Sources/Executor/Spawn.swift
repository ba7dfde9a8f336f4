import Foundation

public struct SpawnResult: Sendable {
    public let exitCode: Int32
    public let signal: Int32
    /// CPU seconds (user + system) and peak resident memory of the child, from wait4.
    public let cpu: Double
    public let maxRSS: Int64
    /// What the child wrote to stdout, when captured.
    public let output: String
}

/// posix_spawn + wait4: the child's own CPU time and peak memory are known exactly, and the
/// parent notices the exit at once (Foundation's Process polls, adding ~50 ms per child).
/// stdin is /dev/null; stdout goes to `stdoutPath`, or is captured when nil; stderr goes to
/// `stderrPath`, or to stdout's destination when nil.
public func spawnProcess(_ argv: [String], stdoutPath: String? = nil, stderrPath: String? = nil,
                         environment: [String: String]? = nil) throws -> SpawnResult
{
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    var pipeFDs: [Int32] = [-1, -1]
    if let out = stdoutPath {
        posix_spawn_file_actions_addopen(&actions, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    } else {
        guard pipe(&pipeFDs) == 0 else { throw StageFailure("cannot create a pipe: \(String(cString: strerror(errno)))") }
        posix_spawn_file_actions_adddup2(&actions, pipeFDs[1], 1)
        posix_spawn_file_actions_addclose(&actions, pipeFDs[0])
        posix_spawn_file_actions_addclose(&actions, pipeFDs[1])
    }
    if let err = stderrPath {
        posix_spawn_file_actions_addopen(&actions, 2, err, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    } else {
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
    }
    let cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
    let env = environment ?? ProcessInfo.processInfo.environment
    let cEnv: [UnsafeMutablePointer<CChar>?] = env.sorted { $0.key < $1.key }.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer {
        for p in cArgs { free(p) }
        for p in cEnv { free(p) }
    }
    var pid: pid_t = 0
    let rc = posix_spawnp(&pid, argv[0], &actions, nil, cArgs, cEnv)
    if pipeFDs[1] >= 0 { close(pipeFDs[1]) }
    guard rc == 0 else {
        if pipeFDs[0] >= 0 { close(pipeFDs[0]) }
        throw StageFailure("cannot start \(argv[0]): \(String(cString: strerror(rc)))")
    }
    var captured = [UInt8]()
    if pipeFDs[0] >= 0 {
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = read(pipeFDs[0], &buf, buf.count)
            if n > 0 { captured += buf[0..<n] } else if n < 0, errno == EINTR { continue } else { break }
        }
        close(pipeFDs[0])
    }
    var status: Int32 = 0
    var usage = rusage()
    while wait4(pid, &status, 0, &usage) < 0 {
        guard errno == EINTR else { throw StageFailure("waiting for \(argv[0]) failed: \(String(cString: strerror(errno)))") }
    }
    let cpu = Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
        + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
    let signal = status & 0x7f
    return SpawnResult(exitCode: signal == 0 ? (status >> 8) & 0xff : -1, signal: signal, cpu: cpu,
                       maxRSS: Int64(usage.ru_maxrss) * 1024, output: String(decoding: captured, as: UTF8.self))
}
