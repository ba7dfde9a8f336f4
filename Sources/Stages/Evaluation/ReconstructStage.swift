import Executor
import Foundation
import JetData
import LGAE

/// `reconstruct`: runs one trained model (LGAE, or a GNNAE/CNNAE baseline, see
/// ReconstructBaselines.swift) over test jets (the QCD test split and each signal's test
/// part) and stores what every later number is computed from: the targets, the reconstructions
/// (de-normalised back to TeV, §2.3/§11), the normalisation factors and the latents.
///
/// Outputs per part P: `P_target.npy` [jets, N, 4] TeV (the split's four-momenta; identical bytes
/// are stored once), `P_output.npy` [jets, N, 4] TeV, `P_norm.npy` (the factors used),
/// `P_latent_vectors.npy` [jets, vectors, 4, 2] (re, im of each Cartesian component, normalised
/// units) and `P_latent_scalars.npy` [jets, scalars, 2]; plus `reconstruction.json` (the model's
/// identity for the tables: model, aggregation, latent size, compression rate, training loss).
struct ReconstructStage: StageKind {
    let kind = "reconstruct"
    let summary = "run a trained LGAE, GNNAE or CNNAE over the test jets: targets, reconstructions and latents as .npy"
    static let code = ["Stages/Evaluation/ReconstructStage.swift", "Stages/Evaluation/ReconstructBaselines.swift",
                       "Stages/Evaluation/EvaluationData.swift", "Stages/Model/ModelData.swift", "Stages/Model/BaselineData.swift",
                       "Stages/Model/TrainStage.swift", "Stages/Model/TrainBaselineStages.swift", "LGAE/", "Baselines/",
                       "Training/", "JetData/Npy.swift", "JetData/FourMomenta.swift", "JetData/JetNetFile.swift"]
    let codeDigest = Stages.codeDigest(ReconstructStage.code + commonCode)

    let parameters: [ParamSpec] = [
        ParamSpec("model", .string, default: "lgae",
                  doc: "the model family of the input: lgae (model.lgae), gnnae (model.gnnae; also needs `load` and `preprocess`) or cnnae (model.cnnae; also needs `load` and `preprocess`)"),
        ParamSpec("scale", .number, default: 1000, doc: "GNNAE only: `preprocess`'s scale (GeV per output unit), to turn the reconstructed relative coordinates into four-momenta"),
        ParamSpec("parts", .stringArray, default: .array(defaultEvaluationParts.map { .string($0) }),
                  doc: "split parts to reconstruct: the QCD test jets and the signals' test jets"),
        ParamSpec("jets", .integer, default: 0, doc: "use only the first this many jets of each part (0: all)"),
    ]

    static let perPart = [
        "lgae": ["target", "output", "norm", "latent_vectors", "latent_scalars"],
        "gnnae": ["target", "output", "norm", "output_relative", "latent"],
        "cnnae": ["target_image", "output_image", "latent", "jet_frame"],
    ]

    func declaredOutputs(params: [String: JSONValue]) -> [String]? {
        let parts = params["parts"]?.arrayValue?.compactMap(\.stringValue) ?? defaultEvaluationParts
        let files = ReconstructStage.perPart[params["model"]?.stringValue ?? "lgae"] ?? []
        return parts.flatMap { p in files.map { "\(p)_\($0).npy" } } + ["reconstruction.json"]
    }

    func check(params: [String: JSONValue]) -> [ParamIssue] {
        var issues: [ParamIssue] = []
        if let parts = params["parts"]?.arrayValue?.compactMap(\.stringValue) {
            if parts.isEmpty { issues.append(ParamIssue(path: "parts", message: "is empty", fix: "list e.g. [\"qcd_test\", \"t_test\"]")) }
            if Set(parts).count != parts.count { issues.append(ParamIssue(path: "parts", message: "lists a part twice", fix: "list each part once")) }
            for (i, p) in parts.enumerated() where p.isEmpty || p.contains("/") {
                issues.append(ParamIssue(path: "parts[\(i)]", message: "'\(p)' is not a part name", fix: "use a name the split writes, e.g. qcd_test"))
            }
        }
        if let m = params["model"]?.stringValue, ReconstructStage.perPart[m] == nil {
            issues.append(ParamIssue(path: "model", message: "unknown model family '\(m)'", fix: "use lgae, gnnae or cnnae"))
        }
        if let j = params["jets"]?.intValue, j < 0 {
            issues.append(ParamIssue(path: "jets", message: "must be 0 (all) or positive, found \(j)", fix: "use 0"))
        }
        return issues
    }

    func run(_ ctx: StageContext) throws -> JSONValue {
        let family = try ctx.string("model")
        for (other, file) in [("lgae", "model.lgae"), ("gnnae", "model.gnnae"), ("cnnae", "model.cnnae")] where other != family {
            if ctx.inputs.contains(where: { $0.name == file }) {
                throw StageFailure("stage '\(ctx.stage)': its input \(file) is a \(other.uppercased()) but `model` is '\(family)'. Fix: set `stages.\(ctx.stage).params.model` to \"\(other)\".")
            }
        }
        switch family {
        case "gnnae": return try reconstructGNNAE(ctx, parts: try ctx.strings("parts"), limit: try ctx.int("jets"))
        case "cnnae": return try reconstructCNNAE(ctx, parts: try ctx.strings("parts"), limit: try ctx.int("jets"))
        default: return try reconstructLGAE(ctx)
        }
    }

    private func reconstructLGAE(_ ctx: StageContext) throws -> JSONValue {
        let (model, modelFile) = try trainedModel(ctx)
        // The training report says how the model was trained: its loss decides the matching rule
        // (§11.1) and its normalisation how inputs are scaled here.
        let trainingFile = try ctx.input(named: "training.json")
        let training = try readJSON(ctx, trainingFile, fix: "feed the `training.json` of the same `train-lgae` stage as the model")
        guard let loss = training["loss"]?.stringValue, let normalised = training["normalisation"]?.boolValue else {
            throw StageFailure("stage '\(ctx.stage)': \(trainingFile.label) lacks 'loss' or 'normalisation'. Fix: feed the `training.json` of a `train-lgae` stage.")
        }
        if let a = training["model"]?["aggregation"]?.stringValue, a != model.config.aggregation.rawValue {
            throw StageFailure("stage '\(ctx.stage)': \(trainingFile.label) describes a \(a) model but \(modelFile.label) is \(model.config.aggregation.rawValue). Fix: take both inputs from the same `train-lgae` stage.")
        }
        let parts = try ctx.strings("parts")
        let limit = try ctx.int("jets")
        var counts: [String: JSONValue] = [:]
        var seconds = 0.0, totalJets = 0
        for (n, part) in parts.enumerated() {
            let data = try JetArrays(ctx, part: part, particles: model.config.particleCount)
            let count = limit > 0 ? min(limit, data.count) : data.count
            let jets = (0..<count).map { data.jet($0, normalised: normalised) }
            ctx.progress(Double(n), of: Double(parts.count), unit: .items, detail: "\(part): \(count) jets")
            let started = Date()
            var r = model.reconstructAll(jets, threads: ctx.threads)
            seconds += Date().timeIntervalSince(started)
            totalJets += count
            let np = model.config.particleCount
            // Back to TeV: multiply by the same factor the input was divided by (§2.3, §11).
            var norms: [Double] = []
            norms.reserveCapacity(count * data.normWidth)
            for j in 0..<count {
                for w in 0..<data.normWidth { norms.append(data.norm[j * data.normWidth + w]) }
                guard normalised else { continue }
                for i in 0..<np {
                    for mu in 0..<4 { r.outputs[(j * np + i) * 4 + mu] *= data.norm[j * data.normWidth + (data.normWidth == 1 ? 0 : mu)] }
                }
            }
            if let bad = r.outputs.firstIndex(where: { !$0.isFinite }) {
                throw StageFailure("stage '\(ctx.stage)': the model's output for \(part) jet \(bad / (4 * np)) is \(r.outputs[bad]). Fix: the model in \(modelFile.label) is broken; retrain it.")
            }
            let target = Array(data.p4[0..<(count * np * 4)])
            try writeNpy(target, shape: [count, np, 4], to: ctx.outputPath("\(part)_target.npy"))
            try writeNpy(r.outputs, shape: [count, np, 4], to: ctx.outputPath("\(part)_output.npy"))
            try writeNpy(norms, shape: data.normWidth == 1 ? [count] : [count, data.normWidth], to: ctx.outputPath("\(part)_norm.npy"))
            try writeNpy(r.latentVectors, shape: [count, model.config.latentVectorTotal, 4, 2], to: ctx.outputPath("\(part)_latent_vectors.npy"))
            try writeNpy(r.latentScalars, shape: [count, model.config.latentScalarCount, 2], to: ctx.outputPath("\(part)_latent_scalars.npy"))
            counts[part] = .number(Double(count))
        }
        // The aggregation under the name pipeline.json uses (minmax, mix, mean).
        let aggregation = TrainStage.aggregations.first { $0.value == model.config.aggregation }?.key ?? model.config.aggregation.rawValue
        let info: JSONValue = [
            "model": "LGAE", "aggregation": .string(aggregation),
            "latentVectors": .number(Double(model.config.latentVectorCount)),
            "compressionRate": .number(model.config.compressionRate), "loss": .string(loss),
            "particles": .number(Double(model.config.particleCount)), "normalisation": .bool(normalised),
            "units": "TeV", "parts": .object(counts),
        ]
        try (info.pretty + "\n").write(toFile: ctx.outputPath("reconstruction.json"), atomically: false, encoding: .utf8)
        ctx.note(String(format: "%d jets over %d parts in %.2f s (%.0f jets/s)", totalJets, parts.count, seconds, Double(totalJets) / max(seconds, 1e-9)))
        return ["jets": .number(Double(totalJets)), "parts": .object(counts), "jetsPerSecond": .number(Double(totalJets) / max(seconds, 1e-9))]
    }
}
