import Baselines
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
/// Image models (the CNNAE, `"outputs": "images"`) need no match stage and have no particle rows:
/// their jet features come from the target and output images as the paper's footnote 3 computes
/// them, placed in each jet's frame (pT, η, Φ) when the reconstruction gives it, so that mass and pT
/// are in GeV and η, φ absolute like the momentum rows (column `jet_features` = image_GeV; without
/// frames image_relative; momentum models momenta_GeV).
///
/// Outputs: `particle_errors.csv`, `jet_errors.csv` (median, IQR, quartiles, mean, standard deviation
/// and counts per model and feature) and `errors.json` (the same, for the `tables` stage).
struct ErrorsStage: StageKind {
    let kind = "errors"
    let summary = "particle (Table 2) and jet (Table 3) relative reconstruction errors: median and IQR"
    static let code = ["Stages/Evaluation/ErrorsStage.swift", "Stages/Evaluation/EvaluationData.swift", "Evaluation/", "Baselines/JetImage.swift", "JetData/Npy.swift"]
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
        var particleCSV = identityCSVHeader + ",matching,feature,count,padded_slots,median,iqr,q25,q75,mean,std\n"
        var jetCSV = identityCSVHeader + ",jet_features,definition,feature,count,dropped_jets,median,iqr,q25,q75,mean,std\n"
        var rows: [JSONValue] = []
        for reco in recos {
            var row = reco.identity
            let jets: Int
            // Per chunk of jets, one accumulator per definition (JetErrorDefinition.allCases order).
            let jetChunks: [[JetRelativeErrors]]
            if reco.outputsImages {
                // No particles, hence no Table 2 row and no match stage: jet features only.
                let image = try imageJetErrors(ctx, reco: reco, part: part)
                jets = image.jets
                jetChunks = image.chunks
                row["matching"] = .null
                row["particle"] = .null
                row["jetFeatures"] = .string(image.features)
            } else {
                guard let matching = matchings[reco.stage] else {
                    throw StageFailure("stage '\(ctx.stage)': no `match` stage among its inputs pairs \(reco.stage). Fix: add a stage {\"kind\": \"match\", \"inputs\": [\"\(reco.stage)\"]} and list it in `stages.\(ctx.stage).inputs`.")
                }
                let n = reco.particles
                let (target, output, count) = try reco.momentumPair(ctx, part: part)
                jets = count
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
                jetChunks = chunks.map(\.1)
                var particleStats: [String: JSONValue] = [:]
                let padded = chunks.reduce(0) { $0 + $1.0.paddedSlots }
                for (f, name) in ParticleRelativeErrors.featureNames.enumerated() {
                    let s = DistributionSummary(chunks.flatMap { $0.0.errors[f] })
                    particleStats[name] = summaryJSON(s)
                    particleCSV += "\(reco.identityCSV),\(matching.info["matching"]?.stringValue ?? ""),\(name),\(s.count),\(padded),\(statsCSV(s))\n"
                }
                row["matching"] = matching.info["matching"] ?? .null
                row["particle"] = .object(particleStats)
                row["jetFeatures"] = .string(ErrorsStage.momentumJetFeatures)
            }
            var jetStats: [String: JSONValue] = [:]
            for (d, definition) in JetErrorDefinition.allCases.enumerated() {
                let dropped = jetChunks.reduce(0) { $0 + $1[d].droppedJets }
                var perFeature: [String: JSONValue] = [:]
                for (f, name) in JetFeatures.names.enumerated() {
                    let s = DistributionSummary(jetChunks.flatMap { $0[d].errors[f] })
                    perFeature[name] = summaryJSON(s)
                    jetCSV += "\(reco.identityCSV),\(row["jetFeatures"]?.stringValue ?? ""),\(definition.rawValue),\(name),\(s.count),\(dropped),\(statsCSV(s))\n"
                }
                jetStats[definition.rawValue] = .object(perFeature)
            }
            let mass = jetStats["code"]?["mass"]
            if let ptRel = row["particle"]?["pt_rel"] {
                ctx.note(String(format: "%@: %d jets; pT_rel error median %.3g, IQR %.3g; jet mass error median %.3g, IQR %.3g (code definition)",
                                reco.stage, jets, ptRel["median"]?.doubleValue ?? .nan, ptRel["iqr"]?.doubleValue ?? .nan,
                                mass?["median"]?.doubleValue ?? .nan, mass?["iqr"]?.doubleValue ?? .nan))
            } else {
                ctx.note(String(format: "%@: %d jets (images); jet mass error median %.3g, IQR %.3g (code definition)",
                                reco.stage, jets, mass?["median"]?.doubleValue ?? .nan, mass?["iqr"]?.doubleValue ?? .nan))
            }
            row["jets"] = .number(Double(jets))
            row["jet"] = .object(jetStats)
            rows.append(.object(row))
        }
        let report: JSONValue = ["part": .string(part), "tableJetDefinition": "code", "models": .array(rows)]
        // The medians and IQRs of Tables 2 and 3 per model, keyed by name, for `pipeline diff`.
        var cells: [String: JSONValue] = [:]
        for r in rows {
            var c: [String: JSONValue] = [:]
            // Image models have no particle cells (rather than null ones): they have no Table 2 row.
            for f in ParticleRelativeErrors.featureNames where r["particle"]?.objectValue != nil {
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

extension ErrorsStage {
    /// The `jet_features` column of jet_errors.csv and `jetFeatures` of errors.json: where a model's
    /// jet features come from, and so in which units they are.
    static let momentumJetFeatures = "momenta_GeV"
    /// Image models: the features of footnote 3 (every pixel a massless particle at its centre).
    /// With the jets' frames (`PART_jet_frame.npy`: pT in GeV, η, Φ, which `reconstruct` writes)
    /// the pixels are placed in each jet's frame, so mass and pT are in GeV and η, φ absolute — the
    /// same quantities as the momentum rows of Table 3.
    static let imageFrameJetFeatures = "image_GeV"
    /// Without frames: the image's relative units — pT and mass relative to the jet pT, η and φ
    /// about the jet axis; relative errors of η and φ about an axis near zero are then not
    /// comparable with the momentum rows'.
    static let imageJetFeatures = "image_relative"

    /// Jet relative errors of an image model (§12.2, paper footnote 3): the features of the target
    /// image against those of the output image, both definitions. Fixed chunks of jets, results in
    /// chunk order, as for the momenta, so the pooled errors do not depend on the thread count.
    func imageJetErrors(_ ctx: StageContext, reco: ModelReconstruction, part: String) throws -> (jets: Int, chunks: [[JetRelativeErrors]], features: String) {
        let (target, output, jets) = try reco.imagePair(ctx, part: part)
        let binning = JetImageBinning(pixelCount: reco.imageSize, radius: reco.imageRadius)
        let pixels = reco.imageSize * reco.imageSize
        var readFrames: [JetFrame]? = nil
        if let file = reco.files["\(part)_jet_frame.npy"] {
            let a = try readNpy(file.path, as: Double.self)
            guard a.shape == [jets, 3], a.values.allSatisfy(\.isFinite) else {
                throw StageFailure("stage '\(ctx.stage)': \(file.label) has shape \(a.shape) (or non-finite values), expected [\(jets), 3] finite (pT GeV, η, Φ). Fix: rerun `\(reco.stage)`.")
            }
            readFrames = (0..<jets).map { JetFrame(pt: a.values[3 * $0], eta: a.values[3 * $0 + 1], phi: a.values[3 * $0 + 2]) }
        }
        let frames = readFrames
        let chunks = try inChunks(count: jets, threads: ctx.threads) { first, end -> [JetRelativeErrors] in
            var jetErrors = JetErrorDefinition.allCases.map { JetRelativeErrors(definition: $0) }
            target.withUnsafeBufferPointer { t in
                output.withUnsafeBufferPointer { o in
                    for j in first..<end {
                        let range = (j * pixels)..<((j + 1) * pixels)
                        let tf = JetFeatures(JetImageFeatures(image: UnsafeBufferPointer(rebasing: t[range]), binning: binning, frame: frames?[j]))
                        let of = JetFeatures(JetImageFeatures(image: UnsafeBufferPointer(rebasing: o[range]), binning: binning, frame: frames?[j]))
                        for d in jetErrors.indices { jetErrors[d].append(target: tf, reconstruction: of) }
                    }
                }
            }
            return jetErrors
        }
        return (jets, chunks, frames == nil ? ErrorsStage.imageJetFeatures : ErrorsStage.imageFrameJetFeatures)
    }
}

extension JetFeatures {
    /// The Table 3 features of a jet image, in the image's relative units.
    init(_ image: JetImageFeatures) { self.init(mass: image.mass, pt: image.pt, eta: image.eta, phi: image.phi) }
}

func summaryJSON(_ s: DistributionSummary) -> JSONValue {
    ["count": .number(Double(s.count)), "median": .number(s.median), "iqr": .number(s.iqr), "q25": .number(s.q25),
     "q75": .number(s.q75), "mean": .number(s.mean), "std": .number(s.standardDeviation)]
}

func statsCSV(_ s: DistributionSummary) -> String {
    [s.median, s.iqr, s.q25, s.q75, s.mean, s.standardDeviation].map(csvNumber).joined(separator: ",")
}
