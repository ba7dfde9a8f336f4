import Evaluation
import Executor
import Foundation
import JetData

/// `errors`: the reconstruction errors of Tables 2 and 3 for every model among its inputs.
///
/// Particle relative errors (Table 2, §11.1): (pT_rel, η_rel, φ_rel) of each real target particle
/// against the reconstructed slot the `match` stage paired it with, δx = (x̂ − x)/(x + ε), pooled
/// over the QCD test jets. Jet relative errors (Table 3, §11.2): mass, pT, η, φ of the summed
/// four-momentum in GeV, under both definitions — `code` ((x̂ − x)/(x̂ + ε), what the reference
/// computes and what the published Table 3 shows) and `paper` ((x̂ − x)/(x + ε)).
///
/// Outputs: `particle_errors.csv`, `jet_errors.csv` (median, IQR, quartiles, mean, standard deviation
/// and counts per model and feature) and `errors.json` (the same, for the `tables` stage).
struct ErrorsStage: StageKind {
    let kind = "errors"
    let summary = "particle (Table 2) and jet (Table 3) relative reconstruction errors: median and IQR"
    static let code = ["Stages/Evaluation/ErrorsStage.swift", "Stages/Evaluation/EvaluationData.swift", "Evaluation/", "JetData/Npy.swift"]
    let codeDigest = Stages.codeDigest(ErrorsStage.code + commonCode)
    static let outputs = ["particle_errors.csv", "jet_errors.csv", "errors.json"]

    let parameters: [ParamSpec] = [
        ParamSpec("part", .string, default: "qcd_test", doc: "the jets the errors are computed on (the paper: QCD test jets)"),
    ]

    func declaredOutputs(params: [String: JSONValue]) -> [String]? { ErrorsStage.outputs }

    func run(_ ctx: StageContext) throws -> JSONValue {
        let part = try ctx.string("part")
        let recos = try ModelReconstruction.all(ctx)
        // Each match stage names the reconstruction it paired.
        var matchings: [String: (info: JSONValue, file: StageInput)] = [:]
        for meta in ctx.inputs where meta.name == "matching.json" {
            let info = try readJSON(ctx, meta, fix: "rerun `\(meta.stage ?? "match")`")
            guard let reco = info["reconstruction"]?.stringValue else {
                throw StageFailure("stage '\(ctx.stage)': \(meta.label) does not name its reconstruction. Fix: rerun the `match` stage \(meta.stage ?? "") with the current code.")
            }
            guard let file = ctx.inputs.first(where: { $0.stage == meta.stage && $0.name == "\(part)_matching.npy" }) else {
                throw StageFailure("stage '\(ctx.stage)': \(meta.stage ?? "?") did not match '\(part)'. Fix: add \"\(part)\" to `stages.\(meta.stage ?? "?").params.parts`.")
            }
            if matchings[reco] != nil {
                throw StageFailure("stage '\(ctx.stage)': two match stages pair \(reco). Fix: keep one of them in `stages.\(ctx.stage).inputs`.")
            }
            matchings[reco] = (info, file)
        }
        var particleCSV = "stage,model,aggregation,latent_vectors,compression_rate,matching,feature,count,padded_slots,median,iqr,q25,q75,mean,std\n"
        var jetCSV = "stage,model,aggregation,latent_vectors,compression_rate,definition,feature,count,dropped_jets,median,iqr,q25,q75,mean,std\n"
        var rows: [JSONValue] = []
        for reco in recos {
            guard let matching = matchings[reco.stage] else {
                throw StageFailure("stage '\(ctx.stage)': no `match` stage among its inputs pairs \(reco.stage). Fix: add a stage {\"kind\": \"match\", \"inputs\": [\"\(reco.stage)\"]} and list it in `stages.\(ctx.stage).inputs`.")
            }
            let n = reco.particles
            let target = try reco.momenta(ctx, part: part, "target"), output = try reco.momenta(ctx, part: part, "output")
            let jets = target.count / (4 * n)
            let slots = try readNpy(matching.file.path, as: Int64.self)
            guard slots.shape == [jets, n] else {
                throw StageFailure("stage '\(ctx.stage)': \(matching.file.label) has shape \(slots.shape) but \(reco.stage) has [\(jets), \(n)] jets. Fix: rerun the match stage on this reconstruction.")
            }
            if let bad = slots.values.firstIndex(where: { $0 < 0 || $0 >= n }) {
                throw StageFailure("stage '\(ctx.stage)': \(matching.file.label) pairs jet \(bad / n) particle \(bad % n) with slot \(slots.values[bad]), outside 0..<\(n). Fix: rerun the match stage.")
            }
            let slot32 = slots.values.map { Int32($0) }
            // Per-chunk accumulators joined in chunk order: the pooled arrays, hence every quantile,
            // are the same for any thread count.
            let chunks = try inChunks(count: jets, threads: ctx.threads) { first, end -> (ParticleRelativeErrors, [JetRelativeErrors]) in
                var particles = ParticleRelativeErrors(particles: n)
                var jetErrors = JetErrorDefinition.allCases.map { JetRelativeErrors(definition: $0) }
                target.withUnsafeBufferPointer { t in
                    output.withUnsafeBufferPointer { o in
                        slot32.withUnsafeBufferPointer { s in
                            for j in first..<end {
                                let range = (j * 4 * n)..<((j + 1) * 4 * n)
                                let tj = UnsafeBufferPointer(rebasing: t[range]), oj = UnsafeBufferPointer(rebasing: o[range])
                                particles.append(target: tj, reconstruction: oj, slotOfParticle: UnsafeBufferPointer(rebasing: s[(j * n)..<((j + 1) * n)]))
                                // §11.2: jet features in GeV.
                                let tf = JetFeatures(momentum: 1000 * jetMomentum(tj)), of = JetFeatures(momentum: 1000 * jetMomentum(oj))
                                for d in jetErrors.indices { jetErrors[d].append(target: tf, reconstruction: of) }
                            }
                        }
                    }
                }
                return (particles, jetErrors)
            }
            let head = "\(reco.stage),\(reco.model),\(reco.aggregation),\(reco.latentVectors),\(reco.compressionRate)"
            var particleStats: [String: JSONValue] = [:]
            let padded = chunks.reduce(0) { $0 + $1.0.paddedSlots }
            for (f, name) in ParticleRelativeErrors.featureNames.enumerated() {
                let s = DistributionSummary(chunks.flatMap { $0.0.errors[f] })
                particleStats[name] = summaryJSON(s)
                particleCSV += "\(head),\(matching.info["matching"]?.stringValue ?? ""),\(name),\(s.count),\(padded),\(statsCSV(s))\n"
            }
            var jetStats: [String: JSONValue] = [:]
            for (d, definition) in JetErrorDefinition.allCases.enumerated() {
                let dropped = chunks.reduce(0) { $0 + $1.1[d].droppedJets }
                var perFeature: [String: JSONValue] = [:]
                for (f, name) in JetFeatures.names.enumerated() {
                    let s = DistributionSummary(chunks.flatMap { $0.1[d].errors[f] })
                    perFeature[name] = summaryJSON(s)
                    jetCSV += "\(head),\(definition.rawValue),\(name),\(s.count),\(dropped),\(statsCSV(s))\n"
                }
                jetStats[definition.rawValue] = .object(perFeature)
            }
            let ptRel = particleStats["pt_rel"]
            ctx.note(String(format: "%@: %d jets; pT_rel error median %.3g, IQR %.3g; jet mass error median %.3g, IQR %.3g (code definition)",
                            reco.stage, jets, ptRel?["median"]?.doubleValue ?? .nan, ptRel?["iqr"]?.doubleValue ?? .nan,
                            jetStats["code"]?["mass"]?["median"]?.doubleValue ?? .nan, jetStats["code"]?["mass"]?["iqr"]?.doubleValue ?? .nan))
            rows.append([
                "stage": .string(reco.stage), "model": .string(reco.model), "aggregation": .string(reco.aggregation),
                "latentVectors": .number(Double(reco.latentVectors)), "compressionRate": .number(reco.compressionRate),
                "matching": matching.info["matching"] ?? .null, "jets": .number(Double(jets)),
                "particle": .object(particleStats), "jet": .object(jetStats),
            ])
        }
        let report: JSONValue = ["part": .string(part), "tableJetDefinition": "code", "models": .array(rows)]
        // The medians and IQRs of Tables 2 and 3 per model, keyed by name, for `pipeline diff`.
        var cells: [String: JSONValue] = [:]
        for r in rows {
            var c: [String: JSONValue] = [:]
            for f in ParticleRelativeErrors.featureNames {
                for q in ["median", "iqr"] { c["particle_\(f)_\(q)"] = r["particle"]?[f]?[q] ?? .null }
            }
            for d in JetErrorDefinition.allCases.map(\.rawValue) {
                for f in JetFeatures.names {
                    for q in ["median", "iqr"] { c["jet_\(d)_\(f)_\(q)"] = r["jet"]?[d]?[f]?[q] ?? .null }
                }
            }
            cells[r["stage"]?.stringValue ?? "?"] = .object(c)
        }
        try particleCSV.write(toFile: ctx.outputPath("particle_errors.csv"), atomically: false, encoding: .utf8)
        try jetCSV.write(toFile: ctx.outputPath("jet_errors.csv"), atomically: false, encoding: .utf8)
        try (report.pretty + "\n").write(toFile: ctx.outputPath("errors.json"), atomically: false, encoding: .utf8)
        return ["part": .string(part), "models": .number(Double(rows.count)), "cells": .object(cells)]
    }
}

func summaryJSON(_ s: DistributionSummary) -> JSONValue {
    ["count": .number(Double(s.count)), "median": .number(s.median), "iqr": .number(s.iqr), "q25": .number(s.q25),
     "q75": .number(s.q75), "mean": .number(s.mean), "std": .number(s.standardDeviation)]
}

func statsCSV(_ s: DistributionSummary) -> String {
    [s.median, s.iqr, s.q25, s.q75, s.mean, s.standardDeviation].map(csvNumber).joined(separator: ",")
}
