import Foundation

/// The type a parameter must have in pipeline.json.
public enum ParamType: String, Sendable {
    case string, integer, number, boolean, stringArray = "array of strings", array, object, any

    func accepts(_ v: JSONValue) -> Bool {
        switch (self, v) {
        case (.any, _): return true
        case (.string, .string), (.number, .number), (.boolean, .bool), (.array, .array), (.object, .object): return true
        case (.integer, .number): return v.intValue != nil
        case let (.stringArray, .array(a)): return a.allSatisfy { $0.stringValue != nil }
        default: return false
        }
    }
}

/// One parameter a stage kind reads. Only declared parameters enter the stage key, so a
/// stage is never invalidated by a setting it does not read.
public struct ParamSpec: Sendable {
    public let name: String
    public let type: ParamType
    public let defaultValue: JSONValue?
    public let doc: String
    /// Taken from the profile/top-level `seed` when the stage does not set it.
    public let isSeed: Bool

    public init(_ name: String, _ type: ParamType, default defaultValue: JSONValue? = nil, doc: String) {
        self.name = name
        self.type = type
        self.defaultValue = defaultValue
        self.doc = doc
        isSeed = false
    }

    public static func seed(doc: String = "seed of the stage's random generator; defaults to the profile's seed") -> ParamSpec {
        ParamSpec(seedNamed: "seed", doc: doc)
    }

    private init(seedNamed name: String, doc: String) {
        self.name = name
        type = .integer
        defaultValue = nil
        self.doc = doc
        isSeed = true
    }

    public var isRequired: Bool { defaultValue == nil && !isSeed }
}

/// A problem a stage kind finds in its own parameters, relative to `stages.NAME.params`.
public struct ParamIssue: Sendable {
    public let path: String
    public let message: String
    public let fix: String
    public init(path: String, message: String, fix: String) {
        self.path = path
        self.message = message
        self.fix = fix
    }
}

/// One input file handed to a stage: an upstream output or a workspace file.
public struct StageInput: Sendable, Hashable {
    /// `stage/name` for an upstream output, `file:PATH` for a workspace file.
    public let label: String
    /// The upstream stage, or nil for a workspace file.
    public let stage: String?
    /// The file's name within its stage's outputs (or the workspace-relative path).
    public let name: String
    public let path: String
    public let digest: String
    public let size: Int64
}

/// A stage kind: its parameters, its outputs and one `run`. Implementations live above the
/// executor (the executor knows no physics); the executor only hashes, schedules and stores.
public protocol StageKind: Sendable {
    /// The `kind` string used in pipeline.json.
    var kind: String { get }
    /// One line for `pipeline kinds` and for error messages.
    var summary: String { get }
    /// Digest of the source code implementing this kind, generated at build time.
    var codeDigest: String { get }
    var parameters: [ParamSpec] { get }
    /// Extra checks beyond types (e.g. a checksum that is not hex).
    func check(params: [String: JSONValue]) -> [ParamIssue]
    /// The files `run` must produce, when known from the parameters alone; nil when they
    /// depend on the input data (at least one file is then required).
    func declaredOutputs(params: [String: JSONValue]) -> [String]?
    /// Workspace files (relative paths) that the parameters point at, e.g. a local archive:
    /// their content enters the key like `files`.
    func implicitFiles(params: [String: JSONValue]) -> [String]
    /// Turn inputs into files in `context.outputDirectory`; return summary figures for `show`.
    /// A top-level `cells` object in the summary holds the figures `pipeline diff` compares by default.
    func run(_ context: StageContext) throws -> JSONValue
    /// The summary as people read it in `pipeline show` (e.g. an aligned table), or nil for none.
    func render(summary: JSONValue) -> String?
}

extension StageKind {
    public func check(params: [String: JSONValue]) -> [ParamIssue] { [] }
    public func implicitFiles(params: [String: JSONValue]) -> [String] { [] }
    public func render(summary: JSONValue) -> String? { nil }
}

/// An error a stage raises itself; the message should already name the file, field and fix.
public struct StageFailure: Error, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// What a running stage sees: its parameters, its inputs, a private output directory.
public final class StageContext: @unchecked Sendable {
    public let stage: String
    public let params: [String: JSONValue]
    public let inputs: [StageInput]
    /// Private to this attempt; everything written here becomes the stage's outputs.
    public let outputDirectory: String
    /// The directory holding pipeline.json; relative paths in parameters resolve against it.
    public let workspace: String
    /// Kept across attempts of this stage kind (e.g. partial downloads to resume).
    public let cacheDirectory: String
    /// Kept across attempts with this very stage key, and deleted once an attempt succeeds: where
    /// a long stage writes checkpoints so that a killed or failed attempt resumes where it stopped.
    /// Same key means same code, parameters and inputs, so a checkpoint is never resumed by a
    /// stage it does not belong to.
    public let checkpointDirectory: String
    /// Threads the stage may use (`pipeline run --threads`, default: the CPUs available).
    public let threads: Int
    let progressSink: ProgressSink

    init(stage: String, params: [String: JSONValue], inputs: [StageInput], outputDirectory: String,
         workspace: String, cacheDirectory: String, checkpointDirectory: String, threads: Int, progressSink: ProgressSink)
    {
        self.stage = stage
        self.params = params
        self.inputs = inputs
        self.outputDirectory = outputDirectory
        self.workspace = workspace
        self.cacheDirectory = cacheDirectory
        self.checkpointDirectory = checkpointDirectory
        self.threads = threads
        self.progressSink = progressSink
    }

    public func outputPath(_ name: String) -> String { outputDirectory + "/" + name }

    /// Exact CPU seconds and peak memory of child processes the stage waited for (from wait4),
    /// so provenance is right even when stages run in parallel.
    public func recordChildUsage(cpu: Double, maxRSS: Int64) {
        lock.lock()
        childCPU += cpu
        childMaxRSS = max(childMaxRSS, maxRSS)
        lock.unlock()
    }

    private let lock = NSLock()
    private(set) var childCPU: Double = 0
    private(set) var childMaxRSS: Int64 = 0

    /// Report progress of a long stage (shown only on a terminal).
    public func progress(_ done: Double, of total: Double?, unit: ProgressUnit = .items, detail: String? = nil) {
        progressSink.update(stage: stage, done: done, total: total, unit: unit, detail: detail)
    }

    /// A line for the run's log (printed on stderr unless --quiet, terminal or not), for
    /// milestones of a long stage such as the end of a training epoch.
    public func note(_ line: String) {
        progressSink.event("  \(stage): \(line)")
    }

    /// The unique input with this file name (e.g. `g.hdf5`), whichever stage made it.
    public func input(named name: String) throws -> StageInput {
        let hits = inputs.filter { $0.name == name }
        guard let first = hits.first else {
            let have = inputs.map(\.label).joined(separator: ", ")
            throw StageFailure("stage '\(stage)': needs an input file named '\(name)', but its inputs are [\(have)]. Fix: add the stage producing '\(name)' to `stages.\(stage).inputs` in pipeline.json.")
        }
        guard hits.count == 1 else {
            throw StageFailure("stage '\(stage)': several inputs are named '\(name)' (\(hits.map(\.label).joined(separator: ", "))). Fix: list only one of them in `stages.\(stage).inputs`, e.g. as \"STAGE/\(name)\".")
        }
        return first
    }

    public func string(_ key: String) throws -> String {
        guard let s = params[key]?.stringValue else { throw missing(key, "a string") }
        return s
    }

    public func optionalString(_ key: String) -> String? { params[key]?.stringValue }

    public func int(_ key: String) throws -> Int {
        guard let v = params[key]?.intValue else { throw missing(key, "an integer") }
        return v
    }

    public func double(_ key: String) throws -> Double {
        guard let v = params[key]?.doubleValue else { throw missing(key, "a number") }
        return v
    }

    public func bool(_ key: String) throws -> Bool {
        guard let v = params[key]?.boolValue else { throw missing(key, "a boolean") }
        return v
    }

    public func strings(_ key: String) throws -> [String] {
        guard let a = params[key]?.arrayValue else { throw missing(key, "an array of strings") }
        return a.compactMap(\.stringValue)
    }

    /// The seed as an unsigned 64-bit value (negative seeds wrap, so every integer is usable).
    public func seed() throws -> UInt64 { UInt64(bitPattern: Int64(try int("seed"))) }

    private func missing(_ key: String, _ what: String) -> StageFailure {
        StageFailure("stage '\(stage)': parameter '\(key)' must be \(what). Fix: set `stages.\(stage).params.\(key)` in pipeline.json.")
    }
}
