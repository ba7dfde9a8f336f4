import Foundation

public enum ProgressUnit: String, Sendable {
    case items, bytes, jets, files, epochs
}

/// Where stage progress and run events go. The terminal form redraws one status line on
/// stderr; when stderr is not a terminal (CI, pipes) progress is dropped and only one line per
/// executed stage is printed.
public protocol ProgressSink: Sendable {
    /// `detail` is free text after the counts (e.g. losses, rate and ETA of a training).
    func update(stage: String, done: Double, total: Double?, unit: ProgressUnit, detail: String?)
    func event(_ line: String)
}

public final class TerminalProgress: ProgressSink, @unchecked Sendable {
    private let lock = NSLock()
    private let interactive: Bool
    private var lastDraw: [String: Double] = [:]
    private var lineShown = false
    private let quiet: Bool

    public init(quiet: Bool = false) {
        interactive = isatty(2) != 0
        self.quiet = quiet
    }

    public func update(stage: String, done: Double, total: Double?, unit: ProgressUnit, detail: String?) {
        guard interactive, !quiet else { return }
        lock.lock()
        defer { lock.unlock() }
        let t = now()
        if let last = lastDraw[stage], t - last < 0.1, total.map({ done < $0 }) ?? true { return }
        lastDraw[stage] = t
        var text = "  \(stage): \(format(done, unit))"
        if let total, total > 0 {
            text += " / \(format(total, unit)) (\(Int((100 * done / total).rounded(.down)))%)"
        }
        if let detail { text += "  " + detail }
        FileHandle.standardError.write(Data(("\r\u{1B}[K" + text).utf8))
        lineShown = true
    }

    public func event(_ line: String) {
        guard !quiet else { return }
        lock.lock()
        defer { lock.unlock() }
        let prefix = lineShown ? "\r\u{1B}[K" : ""
        lineShown = false
        FileHandle.standardError.write(Data((prefix + line + "\n").utf8))
    }

    private func format(_ v: Double, _ unit: ProgressUnit) -> String {
        switch unit {
        case .bytes:
            if v >= 1_073_741_824 { return String(format: "%.2f GiB", v / 1_073_741_824) }
            if v >= 1_048_576 { return String(format: "%.1f MiB", v / 1_048_576) }
            return String(format: "%.0f KiB", v / 1024)
        default:
            return "\(Int(v)) \(unit.rawValue)"
        }
    }
}

/// Collects events in memory (tests).
public final class RecordingProgress: ProgressSink, @unchecked Sendable {
    private let lock = NSLock()
    private var _events: [String] = []
    public init() {}
    public var events: [String] { lock.lock(); defer { lock.unlock() }; return _events }
    public func update(stage: String, done: Double, total: Double?, unit: ProgressUnit, detail: String?) {}
    public func event(_ line: String) { lock.lock(); _events.append(line); lock.unlock() }
}
