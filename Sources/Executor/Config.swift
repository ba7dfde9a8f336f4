import Foundation

/// An error in pipeline.json: where (a JSON path), what, and how to fix it.
public struct ConfigError: Error, CustomStringConvertible {
    public let file: String
    public let path: String
    public let message: String
    public let fix: String
    public var description: String { "\(file): \(path): \(message). Fix: \(fix)" }
}

/// Several problems at once, so one edit-run cycle fixes them all.
public struct ConfigErrors: Error, CustomStringConvertible {
    public let errors: [ConfigError]
    public var description: String {
        errors.map(\.description).joined(separator: "\n")
    }
}

/// A reference to upstream outputs: a whole stage, or one of its files (`stage/file`).
public struct InputRef: Sendable, Hashable {
    public let stage: String
    public let file: String?
    public var text: String { file.map { "\(stage)/\($0)" } ?? stage }
}

/// A stage as the user declared it, with the active profile applied.
public struct StageSpec: Sendable {
    public let name: String
    public let kind: any StageKind
    public let inputs: [InputRef]
    /// Workspace files this stage reads, relative to the workspace.
    public let files: [String]
    /// Every declared parameter of the kind, with defaults and the profile's overrides applied.
    public let params: [String: JSONValue]
    public let description: String?
    /// A name under the store root (e.g. `tables`) where the stage's current outputs are also
    /// linked, for results people open by path; nil for most stages.
    public let publish: String?
    public var upstream: [String] {
        var seen = Set<String>()
        return inputs.map(\.stage).filter { seen.insert($0).inserted }
    }
}

public struct Profile: Sendable {
    public let name: String
    public let description: String?
    public let seed: Int
}

/// pipeline.json, validated and resolved for one profile.
public struct PipelineConfig: Sendable {
    public let file: String
    public let workspace: String
    public let profile: Profile
    public let profileNames: [String]
    /// Stages in a deterministic topological order (inputs before users, then by name).
    public let stages: [StageSpec]
    public let byName: [String: Int]

    public func stage(_ name: String) -> StageSpec? { byName[name].map { stages[$0] } }

    static let topKeys: Set<String> = ["version", "defaultProfile", "seed", "stages", "profiles", "description"]
    static let stageKeys: Set<String> = ["kind", "inputs", "files", "params", "description", "publish"]
    static let profileKeys: Set<String> = ["description", "seed", "params", "exclude"]

    /// Load and validate. `profile` nil means the file's `defaultProfile`.
    public static func load(path: String, profile requested: String?, kinds: [String: any StageKind]) throws -> PipelineConfig {
        let url = URL(fileURLWithPath: path)
        let file = url.lastPathComponent
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError(file: path, path: "$", message: "cannot read the file",
                              fix: "run pipeline from the directory holding pipeline.json, or pass --config PATH")
        }
        let root = try JSONParser.parse(data, file: file)
        return try resolve(root, file: file, workspace: url.deletingLastPathComponent().path, profile: requested, kinds: kinds)
    }

    public static func resolve(_ root: JSONValue, file: String, workspace: String, profile requested: String?,
                               kinds: [String: any StageKind]) throws -> PipelineConfig
    {
        var errors: [ConfigError] = []
        func fail(_ path: String, _ message: String, _ fix: String) {
            errors.append(ConfigError(file: file, path: path, message: message, fix: fix))
        }
        guard let top = root.objectValue else {
            throw ConfigErrors(errors: [ConfigError(file: file, path: "$", message: "the document must be an object",
                                                    fix: "start from the pipeline.json in the repository")])
        }
        for k in top.keys.sorted() where !topKeys.contains(k) {
            fail(k, "unknown key '\(k)'", "remove it, or use one of: \(topKeys.sorted().joined(separator: ", "))")
        }
        if let v = top["version"], v.intValue != 1 {
            fail("version", "unsupported version \(v.canonical)", "set \"version\": 1")
        }
        let globalSeed: Int
        if let s = top["seed"] {
            if let i = s.intValue { globalSeed = i } else { fail("seed", "must be an integer, found \(s.typeName)", "write e.g. \"seed\": 42"); globalSeed = 0 }
        } else {
            globalSeed = 0
        }

        // Profiles.
        let profilesObj = top["profiles"]?.objectValue ?? [:]
        if let p = top["profiles"], p.objectValue == nil {
            fail("profiles", "must be an object, found \(p.typeName)", "write \"profiles\": {\"sample\": {...}}")
        }
        let profileNames = profilesObj.keys.sorted()
        var profileName = requested
        if profileName == nil {
            if let d = top["defaultProfile"] {
                if let s = d.stringValue { profileName = s } else { fail("defaultProfile", "must be a string", "name one of the profiles") }
            }
        }
        var overrides: [String: JSONValue] = [:]
        var profileSeed = globalSeed
        var profileDescription: String?
        // Stages a profile leaves out (e.g. the sample trains 2 of the paper's 8 models). They vanish
        // from the graph, and input references to them are dropped, so a stage that gathers "every
        // model" gathers the ones this profile trains.
        var excluded: [String] = []
        if let name = profileName {
            if let p = profilesObj[name] {
                let base = "profiles.\(name)"
                if let po = p.objectValue {
                    for k in po.keys.sorted() where !profileKeys.contains(k) {
                        fail("\(base).\(k)", "unknown key '\(k)'", "use one of: \(profileKeys.sorted().joined(separator: ", "))")
                    }
                    if let s = po["seed"] {
                        if let i = s.intValue { profileSeed = i } else { fail("\(base).seed", "must be an integer", "write e.g. \"seed\": 42") }
                    }
                    profileDescription = po["description"]?.stringValue
                    if let ex = po["exclude"] {
                        if let a = ex.arrayValue, a.allSatisfy({ $0.stringValue != nil }) { excluded = a.compactMap(\.stringValue) }
                        else { fail("\(base).exclude", "must be an array of stage names", "write \"exclude\": [\"STAGE\"]") }
                    }
                    if let ps = po["params"] {
                        if let o = ps.objectValue { overrides = o } else { fail("\(base).params", "must be an object of stage name → parameters", "write \"params\": {\"STAGE\": {\"KEY\": VALUE}}") }
                    }
                } else {
                    fail(base, "must be an object, found \(p.typeName)", "write \"\(name)\": {\"params\": {...}}")
                }
            } else {
                let where_ = requested != nil ? "--profile" : "defaultProfile"
                let known = profileNames.isEmpty ? "(none defined)" : profileNames.joined(separator: ", ")
                if requested != nil {
                    throw ConfigErrors(errors: [ConfigError(file: file, path: "profiles", message: "no profile named '\(name)' (from \(where_))", fix: "use one of: \(known)")])
                }
                fail("defaultProfile", "no profile named '\(name)'", "use one of: \(known)")
            }
        }

        // Stages.
        guard let stagesObj = top["stages"]?.objectValue else {
            fail("stages", top["stages"] == nil ? "missing" : "must be an object", "declare \"stages\": {\"NAME\": {\"kind\": ...}}")
            throw ConfigErrors(errors: errors)
        }
        for (i, x) in excluded.enumerated() where stagesObj[x] == nil {
            fail("profiles.\(profileName ?? "").exclude[\(i)]", "no stage named '\(x)'", "use one of: \(stagesObj.keys.sorted().joined(separator: ", "))")
        }
        let names = stagesObj.keys.sorted().filter { !excluded.contains($0) }
        struct Raw { var kind: (any StageKind)?; var inputs: [InputRef]; var files: [String]; var params: [String: JSONValue]; var description: String?; var publish: String? }
        var raws: [String: Raw] = [:]
        let knownKinds = kinds.keys.sorted().joined(separator: ", ")
        for name in names {
            let base = "stages.\(name)"
            if name.isEmpty || name.contains("/") || name.hasPrefix(".") || name.contains(" ") || name == "all" {
                fail(base, "invalid stage name '\(name)'", "use letters, digits, '-' and '_' (not 'all', no '/')")
            }
            guard let so = stagesObj[name]!.objectValue else {
                fail(base, "must be an object", "write \"\(name)\": {\"kind\": \"...\"}")
                continue
            }
            for k in so.keys.sorted() where !stageKeys.contains(k) {
                fail("\(base).\(k)", "unknown key '\(k)'", "use one of: \(stageKeys.sorted().joined(separator: ", "))")
            }
            var raw = Raw(kind: nil, inputs: [], files: [], params: [:], description: so["description"]?.stringValue, publish: nil)
            if let p = so["publish"] {
                let reserved: Set<String> = ["out", "objects", "tmp", "cache", "checkpoints", "inputs", "pipeline.sqlite"]
                if let s = p.stringValue, !s.isEmpty, !s.contains("/"), !s.hasPrefix("."), !reserved.contains(s), !s.hasPrefix("pipeline.sqlite") {
                    raw.publish = s
                } else {
                    fail("\(base).publish", "must be a plain directory name under the store, found \(p.canonical)",
                         "use e.g. \"tables\" (not one of \(reserved.sorted().joined(separator: ", ")), no '/')")
                }
            }
            if let k = so["kind"] {
                if let ks = k.stringValue {
                    if let kind = kinds[ks] { raw.kind = kind } else { fail("\(base).kind", "unknown stage kind '\(ks)'", "use one of: \(knownKinds)") }
                } else { fail("\(base).kind", "must be a string", "use one of: \(knownKinds)") }
            } else { fail("\(base).kind", "missing", "add \"kind\": one of \(knownKinds)") }
            if let ins = so["inputs"] {
                if let a = ins.arrayValue {
                    for (i, e) in a.enumerated() {
                        guard let s = e.stringValue, !s.isEmpty else { fail("\(base).inputs[\(i)]", "must be a stage name or \"stage/file\"", "write e.g. \"fetch\""); continue }
                        if excluded.contains(String(s.prefix { $0 != "/" })) { continue }
                        if let slash = s.firstIndex(of: "/") {
                            raw.inputs.append(InputRef(stage: String(s[..<slash]), file: String(s[s.index(after: slash)...])))
                        } else {
                            raw.inputs.append(InputRef(stage: s, file: nil))
                        }
                    }
                } else { fail("\(base).inputs", "must be an array", "write \"inputs\": [\"STAGE\"]") }
            }
            if let fs = so["files"] {
                if let a = fs.arrayValue, a.allSatisfy({ $0.stringValue != nil }) {
                    for (i, f) in a.compactMap(\.stringValue).enumerated() {
                        if f.hasPrefix("/") || f.split(separator: "/").contains("..") {
                            fail("\(base).files[\(i)]", "'\(f)' leaves the workspace", "use a path relative to the directory of pipeline.json")
                        } else { raw.files.append(f) }
                    }
                } else { fail("\(base).files", "must be an array of paths", "write \"files\": [\"paper/main.tex\"]") }
            }
            var params: [String: JSONValue] = [:]
            if let ps = so["params"] {
                if let o = ps.objectValue { params = o } else { fail("\(base).params", "must be an object", "write \"params\": {\"KEY\": VALUE}") }
            }
            if let ov = overrides[name] {
                if let o = ov.objectValue { params.merge(o) { _, new in new } } else { fail("profiles.\(profileName ?? "").params.\(name)", "must be an object", "write \"\(name)\": {\"KEY\": VALUE}") }
            }
            if let kind = raw.kind {
                let specs = Dictionary(uniqueKeysWithValues: kind.parameters.map { ($0.name, $0) })
                let knownParams = kind.parameters.map(\.name).sorted().joined(separator: ", ")
                for k in params.keys.sorted() {
                    let p = overrides[name]?.objectValue?[k] != nil ? "profiles.\(profileName ?? "").params.\(name).\(k)" : "\(base).params.\(k)"
                    guard let spec = specs[k] else {
                        fail(p, "unknown parameter '\(k)' for stage kind '\(kind.kind)'", "use one of: \(knownParams)")
                        continue
                    }
                    if !spec.type.accepts(params[k]!) {
                        fail(p, "must be \(article(spec.type.rawValue)) \(spec.type.rawValue), found \(params[k]!.typeName) \(params[k]!.canonical)", "\(spec.doc)")
                    }
                }
                for spec in kind.parameters where params[spec.name] == nil {
                    if let d = spec.defaultValue { params[spec.name] = d }
                    else if spec.isSeed { params[spec.name] = .number(Double(profileSeed)) }
                    else { fail("\(base).params.\(spec.name)", "missing required parameter '\(spec.name)' of kind '\(kind.kind)'", "add it: \(spec.doc)") }
                }
                for issue in kind.check(params: params) {
                    fail("\(base).params\(issue.path.isEmpty ? "" : "." + issue.path)", issue.message, issue.fix)
                }
            }
            raw.params = params
            raws[name] = raw
        }
        for sname in overrides.keys.sorted() where stagesObj[sname] == nil {
            fail("profiles.\(profileName ?? "").params.\(sname)", "no stage named '\(sname)'", "use one of: \(names.joined(separator: ", "))")
        }

        // Inputs must name existing stages (and declared files, when known).
        for name in names {
            guard let raw = raws[name] else { continue }
            for (i, ref) in raw.inputs.enumerated() {
                let p = "stages.\(name).inputs[\(i)]"
                guard let up = raws[ref.stage] else {
                    fail(p, "no stage named '\(ref.stage)'", "define it under \"stages\", or use one of: \(names.joined(separator: ", "))")
                    continue
                }
                if ref.stage == name { fail(p, "stage '\(name)' cannot read its own outputs", "remove this input") }
                if let f = ref.file, let kind = up.kind, let outs = kind.declaredOutputs(params: up.params), !outs.contains(f) {
                    fail(p, "stage '\(ref.stage)' produces no file '\(f)'", "use one of: \(outs.joined(separator: ", "))")
                }
            }
        }
        if !errors.isEmpty { throw ConfigErrors(errors: errors) }

        // Topological order (Kahn, ties by name so the order never depends on hashing); report a cycle by its members.
        var indegree: [String: Int] = [:]
        var users: [String: [String]] = [:]
        for name in names {
            let ups = Set(raws[name]!.inputs.map(\.stage))
            indegree[name] = ups.count
            for u in ups { users[u, default: []].append(name) }
        }
        var ready = names.filter { indegree[$0] == 0 }
        var order: [String] = []
        while !ready.isEmpty {
            ready.sort()
            let n = ready.removeFirst()
            order.append(n)
            for u in users[n] ?? [] {
                indegree[u]! -= 1
                if indegree[u] == 0 { ready.append(u) }
            }
        }
        if order.count != names.count {
            let cycle = findCycle(among: Set(names).subtracting(order), raws: raws.mapValues { $0.inputs.map(\.stage) })
            throw ConfigErrors(errors: [ConfigError(file: file, path: "stages.\(cycle[0]).inputs",
                                                    message: "the stages form a cycle: \(cycle.joined(separator: " needs "))",
                                                    fix: "remove one of these inputs so that data flows one way")])
        }
        let stages = order.map { n -> StageSpec in
            let r = raws[n]!
            var files = r.files
            for f in r.kind!.implicitFiles(params: r.params) where !files.contains(f) { files.append(f) }
            return StageSpec(name: n, kind: r.kind!, inputs: r.inputs, files: files, params: r.params, description: r.description,
                             publish: r.publish)
        }
        return PipelineConfig(
            file: file, workspace: workspace,
            profile: Profile(name: profileName ?? "default", description: profileDescription, seed: profileSeed),
            profileNames: profileNames, stages: stages,
            byName: Dictionary(uniqueKeysWithValues: order.enumerated().map { ($1, $0) }))
    }

    /// Follow inputs inside the leftover (cyclic) set until a stage repeats.
    static func findCycle(among left: Set<String>, raws: [String: [String]]) -> [String] {
        var path: [String] = []
        var cur = left.sorted()[0]
        while !path.contains(cur) {
            path.append(cur)
            cur = (raws[cur] ?? []).filter { left.contains($0) }.sorted().first ?? cur
        }
        let start = path.firstIndex(of: cur)!
        return Array(path[start...]) + [cur]
    }

    /// The named stages and everything they need, in topological order.
    public func closure(of targets: [String]) -> [StageSpec] {
        var need = Set<String>()
        var stack = targets
        while let n = stack.popLast() {
            guard need.insert(n).inserted, let s = stage(n) else { continue }
            stack.append(contentsOf: s.upstream)
        }
        return stages.filter { need.contains($0.name) }
    }
}

private func article(_ word: String) -> String {
    ["a", "e", "i", "o", "u"].contains(word.prefix(1)) ? "an" : "a"
}
