import Foundation

extension Runner {
    /// W3C PROV-JSON for the current results of the given stages (and what they need):
    /// entities are content-addressed files, activities the attempts that made them, the agent
    /// this tool. Other provenance tools (e.g. the `prov` Python package) read it.
    public func provJSON(targets: [String] = []) throws -> JSONValue {
        var entities: [String: JSONValue] = [:], activities: [String: JSONValue] = [:]
        var used: [String: JSONValue] = [:], generated: [String: JSONValue] = [:], associated: [String: JSONValue] = [:]
        var agents: [String: JSONValue] = [:]
        let stages = targets.isEmpty ? config.stages : config.closure(of: targets)
        for spec in stages {
            guard let e = try currentEntry(stage: spec.name) else { continue }
            let act: String
            if let id = e.attemptID, let a = try store.attempt(id) {
                act = "pipeline:attempt-\(a.id)"
                var attrs: [String: JSONValue] = [
                    "prov:label": .string(spec.name), "prov:startTime": .string(iso8601(a.started)),
                    "pipeline:kind": .string(e.components.kind), "pipeline:key": .string(e.key),
                    "pipeline:code": .string(e.components.code), "pipeline:params": .string(e.components.params.canonical),
                    "pipeline:host": .string(a.host), "pipeline:os": .string(a.os), "pipeline:profile": .string(a.profile),
                ]
                if let t = a.ended { attrs["prov:endTime"] = .string(iso8601(t)) }
                if let c = a.gitCommit { attrs["pipeline:gitCommit"] = .string(c) }
                if let d = a.gitDirty { attrs["pipeline:gitDirty"] = .bool(d) }
                if let s = a.seed { attrs["pipeline:seed"] = .number(Double(s)) }
                if let w = a.wall { attrs["pipeline:wallSeconds"] = .number(w) }
                if let c = a.cpu { attrs["pipeline:cpuSeconds"] = .number(c) }
                activities[act] = .object(attrs)
                let agent = "pipeline:tool-\(e.components.env["tool"] ?? "unknown")"
                agents[agent] = .object(["prov:type": "prov:SoftwareAgent",
                                         "pipeline:swift": .string(e.components.env["swift"] ?? "")])
                associated["_:assoc-\(a.id)"] = .object(["prov:activity": .string(act), "prov:agent": .string(agent)])
            } else {
                continue
            }
            for (label, digest) in e.components.inputs.sorted(by: { $0.key < $1.key }) {
                let ent = "sha256:" + digest
                if entities[ent] == nil { entities[ent] = .object(["prov:label": .string(label)]) }
                used["_:used-\(used.count)"] = .object(["prov:activity": .string(act), "prov:entity": .string(ent)])
            }
            for o in e.outputs {
                let ent = "sha256:" + o.digest
                entities[ent] = .object(["prov:label": .string("\(spec.name)/\(o.name)"), "pipeline:size": .number(Double(o.size))])
                generated["_:gen-\(generated.count)"] = .object(["prov:entity": .string(ent), "prov:activity": .string(act)])
            }
        }
        return .object([
            "prefix": .object(["pipeline": "urn:pipeline:", "sha256": "urn:sha256:"]),
            "entity": .object(entities), "activity": .object(activities), "agent": .object(agents),
            "used": .object(used), "wasGeneratedBy": .object(generated), "wasAssociatedWith": .object(associated),
        ])
    }
}
