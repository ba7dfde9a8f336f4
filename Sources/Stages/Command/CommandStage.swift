import Executor
import Foundation

/// `command`: a shell command with declared outputs, so users can add their own steps (compile a
/// paper from the tables, plot with their own scripts) and get caching and provenance for free.
///
/// The command runs under `/bin/sh -c` in a private scratch directory. Placeholders, replaced by
/// shell-quoted values: `{in:STAGE/FILE}` an input file, `{file:PATH}` a workspace file listed in
/// `files`, `{out:NAME}` where to write a declared output, `{var:NAME}` a value from `vars`,
/// `{outdir}`, `{workspace}`. The same values are in the environment as PIPELINE_OUTDIR,
/// PIPELINE_WORKSPACE, PIPELINE_STAGE and PIPELINE_VAR_<NAME>.
struct CommandStage: StageKind {
    let kind = "command"
    let summary = "a shell command with declared input and output files"
    static let code = ["Stages/Command/"]
    let codeDigest = Stages.codeDigest(CommandStage.code + commonCode)
    let parameters: [ParamSpec] = [
        ParamSpec("run", .string, doc: "the shell command, e.g. \"sort {in:a/x.txt} > {out:y.txt}\""),
        ParamSpec("outputs", .stringArray, doc: "the files the command writes, e.g. [\"y.txt\"]"),
        ParamSpec("vars", .object, default: .object([:]), doc: "values for {var:NAME}; part of the stage key"),
    ]

    func declaredOutputs(params: [String: JSONValue]) -> [String]? {
        params["outputs"]?.arrayValue?.compactMap(\.stringValue)
    }

    func check(params: [String: JSONValue]) -> [ParamIssue] {
        var issues: [ParamIssue] = []
        let outs = declaredOutputs(params: params) ?? []
        if outs.isEmpty {
            issues.append(ParamIssue(path: "outputs", message: "a command must declare at least one output",
                                     fix: "list the files it writes, e.g. \"outputs\": [\"result.txt\"]"))
        }
        for o in outs where o.isEmpty || o.hasPrefix("/") || o.split(separator: "/").contains("..") {
            issues.append(ParamIssue(path: "outputs", message: "output '\(o)' must be a relative path inside the stage",
                                     fix: "use a plain file name such as \"result.txt\""))
        }
        let run = params["run"]?.stringValue ?? ""
        let vars = params["vars"]?.objectValue ?? [:]
        for (kind, name) in placeholders(in: run) {
            switch kind {
            case "out" where !outs.contains(name):
                issues.append(ParamIssue(path: "run", message: "{out:\(name)} is not a declared output",
                                         fix: "add \"\(name)\" to outputs"))
            case "var" where vars[name] == nil:
                issues.append(ParamIssue(path: "run", message: "{var:\(name)} has no value",
                                         fix: "add \"\(name)\" to vars"))
            case "in", "out", "var", "file": break
            default:
                issues.append(ParamIssue(path: "run", message: "unknown placeholder {\(kind):\(name)}",
                                         fix: "use {in:STAGE/FILE}, {file:PATH}, {out:NAME}, {var:NAME}, {outdir} or {workspace}"))
            }
        }
        return issues
    }

    func run(_ ctx: StageContext) throws -> JSONValue {
        let vars = ctx.params["vars"]?.objectValue ?? [:]
        func text(_ v: JSONValue) -> String { v.stringValue ?? v.canonical }
        var command = try ctx.string("run")
        for (kind, name) in placeholders(in: command) {
            let value: String
            switch kind {
            case "in":
                guard let i = ctx.inputs.first(where: { $0.label == name }) else {
                    throw StageFailure("stage '\(ctx.stage)': {in:\(name)} is not among its inputs (\(ctx.inputs.map(\.label).joined(separator: ", "))). Fix: add \"\(name.split(separator: "/").first ?? "")\" to `stages.\(ctx.stage).inputs`.")
                }
                value = i.path
            case "file":
                guard let i = ctx.inputs.first(where: { $0.label == "file:" + name }) else {
                    throw StageFailure("stage '\(ctx.stage)': {file:\(name)} is not listed in `stages.\(ctx.stage).files`. Fix: add \"\(name)\" there so its content is part of the key.")
                }
                value = i.path
            case "out": value = ctx.outputPath(name)
            default: value = text(vars[name] ?? .null)
            }
            command = command.replacingOccurrences(of: "{\(kind):\(name)}", with: shellQuote(value))
        }
        command = command.replacingOccurrences(of: "{outdir}", with: shellQuote(ctx.outputDirectory))
            .replacingOccurrences(of: "{workspace}", with: shellQuote(ctx.workspace))
        for o in declaredOutputs(params: ctx.params) ?? [] where o.contains("/") {
            try FileManager.default.createDirectory(atPath: ctx.outputPath(o.split(separator: "/").dropLast().joined(separator: "/")),
                                                    withIntermediateDirectories: true)
        }

        // Scratch space and the log live beside the output directory, never inside it.
        let scratch = ctx.outputDirectory + "/../work"
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        let log = ctx.outputDirectory + "/../command.log"
        var env = ProcessInfo.processInfo.environment
        env["PIPELINE_OUTDIR"] = ctx.outputDirectory
        env["PIPELINE_WORKSPACE"] = ctx.workspace
        env["PIPELINE_STAGE"] = ctx.stage
        for (k, v) in vars { env["PIPELINE_VAR_" + k.uppercased()] = text(v) }

        // The shell changes into the scratch directory itself, so the command never runs in the workspace by accident.
        let script = "cd \(shellQuote(scratch)) || exit 125\n" + command
        let result = try spawnProcess(["/bin/sh", "-c", script], stdoutPath: log, environment: env)
        ctx.recordChildUsage(cpu: result.cpu, maxRSS: result.maxRSS)
        guard result.exitCode == 0 else {
            let tail = (try? String(contentsOfFile: log, encoding: .utf8))?.split(separator: "\n").suffix(15).joined(separator: "\n") ?? ""
            let why = result.signal != 0 ? "was killed by signal \(result.signal)" : "exited with status \(result.exitCode)"
            throw StageFailure("stage '\(ctx.stage)': the command \(why). Last lines of its output:\n\(tail)")
        }
        return .object(["exit_status": 0, "cpu_seconds": .number(result.cpu)])
    }
}

/// `{kind:name}` placeholders in order of appearance.
func placeholders(in text: String) -> [(String, String)] {
    var out: [(String, String)] = []
    var rest = Substring(text)
    while let open = rest.firstIndex(of: "{") {
        let after = rest[rest.index(after: open)...]
        guard let close = after.firstIndex(of: "}") else { break }
        let body = after[..<close]
        if let colon = body.firstIndex(of: ":"), !body.contains(" "), !body.contains("{") {
            out.append((String(body[..<colon]), String(body[body.index(after: colon)...])))
        }
        rest = after[after.index(after: close)...]
    }
    return out
}

func shellQuote(_ s: String) -> String {
    "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
}
