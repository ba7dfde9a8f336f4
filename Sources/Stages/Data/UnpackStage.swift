import Executor
import Foundation
import JetData

/// `unpack`: extract every zip / tar.gz input; other files (e.g. the record's individual
/// .hdf5 files in the `paper` profile) pass through unchanged, so one DAG serves both profiles.
struct UnpackStage: StageKind {
    let kind = "unpack"
    let summary = "extract zip and tar.gz archives safely; pass other files through"
    static let code = ["Stages/Data/UnpackStage.swift", "JetData/Archive.swift", "JetData/JetNetFile.swift"]
    let codeDigest = Stages.codeDigest(UnpackStage.code + commonCode)
    let parameters: [ParamSpec] = [
        ParamSpec("maxEntries", .integer, default: 10_000, doc: "refuse archives with more entries than this"),
        ParamSpec("maxEntryBytes", .integer, default: .number(Double(8 << 30)), doc: "refuse any entry larger than this many bytes"),
        ParamSpec("maxTotalBytes", .integer, default: .number(Double(32 << 30)), doc: "refuse archives that unpack to more bytes than this"),
    ]

    func declaredOutputs(params: [String: JSONValue]) -> [String]? { nil }

    func run(_ ctx: StageContext) throws -> JSONValue {
        let limits = ExtractionLimits(maxEntries: try ctx.int("maxEntries"), maxEntryBytes: Int64(try ctx.int("maxEntryBytes")),
                                      maxTotalBytes: Int64(try ctx.int("maxTotalBytes")))
        var produced: [String: String] = [:]  // file -> the input it came from
        var summary: [String: JSONValue] = [:]
        let scratch = ctx.outputDirectory + "/../unpack"
        for (n, input) in ctx.inputs.enumerated() {
            ctx.progress(Double(n), of: Double(ctx.inputs.count), unit: .files)
            let files: [String]
            if try archiveKind(of: input.path) == .notArchive {
                try copyFile(input.path, to: ctx.outputPath(input.name))
                files = [input.name]
            } else {
                // Extract into a scratch directory first: a clash between two archives is then an error, not an overwrite.
                let dir = scratch + "/\(n)"
                files = try extractArchive(at: input.path, to: dir, limits: limits)
                for f in files {
                    if let other = produced[f] {
                        throw StageFailure("unpack: both \(other) and \(input.label) contain '\(f)'. Fix: fetch only one of them, or rename the file inside one archive.")
                    }
                    let dest = ctx.outputPath(f)
                    try FileManager.default.createDirectory(atPath: (dest as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                    guard rename(dir + "/" + f, dest) == 0 else {
                        throw StageFailure("unpack: cannot move \(f) into place: \(String(cString: strerror(errno)))")
                    }
                }
            }
            for f in files {
                if let other = produced[f], other != input.label {
                    throw StageFailure("unpack: both \(other) and \(input.label) provide '\(f)'. Fix: fetch only one of them.")
                }
                produced[f] = input.label
            }
            summary[input.label] = .array(files.map { .string($0) })
        }
        try? FileManager.default.removeItem(atPath: scratch)
        return .object(["files": .object(summary), "count": .number(Double(produced.count))])
    }
}

/// A hard link when possible (inputs are read-only store objects), else a byte copy.
func copyFile(_ source: String, to dest: String) throws {
    if link(source, dest) == 0 { return }
    do {
        try FileManager.default.copyItem(atPath: source, toPath: dest)
    } catch {
        throw StageFailure("cannot copy \(source) to \(dest): \(error)")
    }
}
