import Digest
import Foundation

/// What a stage's result depends on. Each component is stored separately so `status` can say
/// which one changed; the key is SHA-256 over their canonical JSON (sorted keys, quoted strings:
/// no two different component sets can encode to the same text).
public struct KeyComponents: Sendable, Equatable {
    public var kind: String
    public var code: String
    public var params: JSONValue
    /// Input label (`stage/file` or `file:path`) → content digest.
    public var inputs: [String: String]
    public var env: [String: String]

    public var json: JSONValue {
        .object([
            "kind": .string(kind),
            "code": .string(code),
            "params": params,
            "inputs": .object(inputs.mapValues { .string($0) }),
            "env": .object(env.mapValues { .string($0) }),
        ])
    }

    public var key: String { sha256(json.canonical) }

    public init(kind: String, code: String, params: JSONValue, inputs: [String: String], env: [String: String]) {
        self.kind = kind
        self.code = code
        self.params = params
        self.inputs = inputs
        self.env = env
    }

    public init?(json: JSONValue) {
        guard let kind = json["kind"]?.stringValue, let code = json["code"]?.stringValue, let params = json["params"],
              let inputs = json["inputs"]?.objectValue, let env = json["env"]?.objectValue else { return nil }
        self.init(kind: kind, code: code, params: params,
                  inputs: inputs.compactMapValues(\.stringValue), env: env.compactMapValues(\.stringValue))
    }

    /// Human-readable reasons why `self` differs from an earlier `old`, e.g. `params.lr 0.001 -> 0.0005`.
    public func changes(since old: KeyComponents) -> [String] {
        var out: [String] = []
        if kind != old.kind { out.append("kind \(old.kind) -> \(kind)") }
        if code != old.code { out.append("code of stage kind '\(kind)' changed (\(short(old.code)) -> \(short(code)))") }
        let np = params.objectValue ?? [:], op = old.params.objectValue ?? [:]
        for k in Set(np.keys).union(op.keys).sorted() where np[k] != op[k] {
            out.append("params.\(k) \(op[k]?.canonical ?? "(unset)") -> \(np[k]?.canonical ?? "(unset)")")
        }
        for k in Set(inputs.keys).union(old.inputs.keys).sorted() where inputs[k] != old.inputs[k] {
            switch (old.inputs[k], inputs[k]) {
            case (nil, _): out.append("new input \(k)")
            case (_, nil): out.append("input \(k) removed")
            case let (a?, b?): out.append("input \(k) changed (\(short(a)) -> \(short(b)))")
            }
        }
        for k in Set(env.keys).union(old.env.keys).sorted() where env[k] != old.env[k] {
            out.append("env.\(k) \(old.env[k] ?? "(unset)") -> \(env[k] ?? "(unset)")")
        }
        return out
    }
}

func short(_ digest: String) -> String { String(digest.prefix(12)) }

/// The environment fingerprint: what can change results without any input changing.
public enum ToolInfo {
    /// Bumped with releases of this tool; part of every stage key.
    public static let version = "0.1.0"

    public static var swiftVersion: String {
        #if compiler(>=6.4)
        return "6.4+"
        #elseif compiler(>=6.3)
        return "6.3"
        #elseif compiler(>=6.2)
        return "6.2"
        #else
        return "6.1"
        #endif
    }

    public static var os: String {
        #if os(Linux)
        return "linux"
        #elseif os(macOS)
        return "macos"
        #else
        return "other"
        #endif
    }

    public static var arch: String {
        #if arch(x86_64)
        return "x86_64"
        #elseif arch(arm64)
        return "arm64"
        #else
        return "other"
        #endif
    }

    public static var fingerprint: [String: String] {
        ["tool": version, "swift": swiftVersion, "os": os, "arch": arch]
    }
}
