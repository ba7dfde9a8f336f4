import Executor
import Foundation
import JetData

/// `fetch`: download files (https with resume, or a local path / file://) and verify their
/// published checksums. Zenodo publishes md5; sha256 is accepted too.
struct FetchStage: StageKind {
    let kind = "fetch"
    let summary = "download or copy files and verify their md5/sha256"
    static let code = ["Stages/Data/FetchStage.swift", "JetData/Fetch"]
    let codeDigest = Stages.codeDigest(FetchStage.code + commonCode)
    let parameters: [ParamSpec] = [
        ParamSpec("files", .array, doc: "a list of {\"source\": URL or path, \"md5\": hex, \"sha256\": hex, \"name\": optional output name}"),
    ]

    struct Entry {
        let name: String
        let request: FetchRequest
    }

    func entries(_ params: [String: JSONValue]) -> [Entry] {
        (params["files"]?.arrayValue ?? []).compactMap { v in
            guard let source = v["source"]?.stringValue else { return nil }
            let name = v["name"]?.stringValue ?? defaultName(source)
            return Entry(name: name, request: FetchRequest(source: source, md5: v["md5"]?.stringValue, sha256: v["sha256"]?.stringValue))
        }
    }

    /// The last path component of the URL without its query (`g.hdf5?download=1` → `g.hdf5`).
    func defaultName(_ source: String) -> String {
        let noQuery = source.split(separator: "?", maxSplits: 1).first.map(String.init) ?? source
        return noQuery.split(separator: "/").last.map(String.init) ?? noQuery
    }

    func declaredOutputs(params: [String: JSONValue]) -> [String]? { entries(params).map(\.name) }

    /// A local source's bytes are part of the key, so replacing the file reruns the stage.
    func implicitFiles(params: [String: JSONValue]) -> [String] {
        entries(params).compactMap { e in
            let s = e.request.source
            if s.contains("://") { return nil }
            return s.hasPrefix("/") ? nil : s
        }
    }

    func check(params: [String: JSONValue]) -> [ParamIssue] {
        var issues: [ParamIssue] = []
        let list = params["files"]?.arrayValue ?? []
        if list.isEmpty {
            issues.append(ParamIssue(path: "files", message: "no files to fetch", fix: "add {\"source\": ..., \"md5\": ...}"))
        }
        var names = Set<String>()
        for (i, v) in list.enumerated() {
            let p = "files[\(i)]"
            guard let o = v.objectValue else {
                issues.append(ParamIssue(path: p, message: "must be an object", fix: "write {\"source\": \"https://...\", \"md5\": \"...\"}"))
                continue
            }
            for k in o.keys.sorted() where !["source", "md5", "sha256", "name"].contains(k) {
                issues.append(ParamIssue(path: "\(p).\(k)", message: "unknown key '\(k)'", fix: "use source, md5, sha256, name"))
            }
            guard let source = o["source"]?.stringValue, !source.isEmpty else {
                issues.append(ParamIssue(path: "\(p).source", message: "missing", fix: "give a URL or a path relative to pipeline.json"))
                continue
            }
            for (alg, len) in [("md5", 32), ("sha256", 64)] {
                if let v = o[alg] {
                    let hexPart = v.stringValue.map { $0.hasPrefix(alg + ":") ? String($0.dropFirst(alg.count + 1)) : $0 } ?? ""
                    if hexPart.count != len || !hexPart.allSatisfy(\.isHexDigit) {
                        issues.append(ParamIssue(path: "\(p).\(alg)", message: "must be \(len) hex digits, found \(v.canonical)",
                                                 fix: "copy the checksum published with the file"))
                    }
                }
            }
            let remote = source.hasPrefix("http://") || source.hasPrefix("https://")
            if remote, o["md5"] == nil, o["sha256"] == nil {
                issues.append(ParamIssue(path: p, message: "a download needs a published checksum (md5 or sha256) to pin its content",
                                         fix: "add \"md5\": \"...\" from the record's file list"))
            }
            let name = o["name"]?.stringValue ?? defaultName(source)
            if !names.insert(name).inserted {
                issues.append(ParamIssue(path: p, message: "two files would both be named '\(name)'", fix: "give one of them a \"name\""))
            }
        }
        return issues
    }

    func run(_ ctx: StageContext) throws -> JSONValue {
        var summary: [String: JSONValue] = [:]
        for e in entries(ctx.params) {
            let r = try fetchFile(e.request, to: ctx.outputPath(e.name), baseDirectory: ctx.workspace,
                                  partialDirectory: ctx.cacheDirectory) { p in
                ctx.progress(Double(p.received), of: p.expected.map(Double.init), unit: .bytes)
            }
            summary[e.name] = .object([
                "bytes": .number(Double(r.bytes)), "md5": .string(r.md5), "sha256": .string(r.sha256),
                "resumed_from": .number(Double(r.resumedFrom)), "source": .string(e.request.source),
            ])
        }
        return .object(summary)
    }
}
