import Baselines
import Executor
import Foundation
import JetData
import Training

/// `train-gnnae`: trains one GNNAE baseline (spec §12.1) on the QCD training jets in JetNet's
/// relative coordinates (pT_rel, η_rel, φ_rel), on the same loop as the LGAE (Adam, L1, early
/// stopping on the validation jets, per-epoch checkpoints that resume bit for bit).
///
/// Inputs: a `load` stage (the particle features) and the `split` (which jets). Outputs:
/// `model.gnnae` (the best epoch's model), `final.ckpt`, `losses.csv`, `training.json`.
struct TrainGNNAEStage: StageKind {
    let kind = "train-gnnae"
    let summary = "train one GNNAE baseline (MPNN; jet- or particle-level latent) on JetNet relative coordinates"
    static let code = ["Stages/Model/TrainBaselineStages.swift", "Stages/Model/BaselineData.swift", "Stages/Model/TrainingRun.swift",
                       "Baselines/GNNAE.swift", "Baselines/GNNAE+Backward.swift", "Baselines/MPNNKernels.swift", "Baselines/Lanes.swift",
                       "Baselines/BaselineTraining.swift", "Training/", "SeededRandom/", "JetData/Npy.swift",
                       "JetData/Random.swift", "JetData/JetNetFile.swift"]
    let codeDigest = Stages.codeDigest(TrainGNNAEStage.code + commonCode)
    static let outputs = ["model.gnnae", "final.ckpt", "losses.csv", "training.json"]

    let parameters: [ParamSpec] = [
        ParamSpec("encoding", .string, doc: "JL (jet level: the mean over nodes of δ = latent features) or PL (particle level: latent features per particle)"),
        ParamSpec("latent", .integer, doc: "JL: dim L (paper 10, 40, 45, 80, 90); PL: d per particle (paper 2, 3)"),
        ParamSpec("loss", .string, default: "auto",
                  doc: "chamfer (the Chamfer distance the paper describes), chamferJetTermOnly (what the reference code computes: only ||Σx − Σy||², spec §12.1), mse, or auto (chamfer for JL, mse for PL)"),
        ParamSpec("nodeWidths", .array, default: .array(GNNAEConfig.paperNodeWidths.map { .number(Double($0)) }),
                  doc: "encoder node widths H_t per MPNN layer; the input is zero-padded to the first (paper [30, 15, 8])"),
        ParamSpec("edgeWidths", .array, default: .array(GNNAEConfig.paperEdgeWidths.map { .array($0.map { .number(Double($0)) }) }),
                  doc: "encoder EdgeNet widths per MPNN layer (paper [[50, 40, 30], [30, 30, 30], [16, 20, 30]])"),
        ParamSpec("decoderNodeWidths", .any, default: .null, doc: "decoder node widths; null: the encoder's (the paper does not give them)"),
        ParamSpec("decoderEdgeWidths", .any, default: .null, doc: "decoder EdgeNet widths; null: the encoder's"),
        ParamSpec("leakyReLUSlope", .number, default: 0.2, doc: "negative slope of the LeakyReLU after every Linear layer (reference 0.2)"),
        ParamSpec("particles", .integer, default: 30, doc: "particle slots per jet N (JetNet: 30)"),
    ] + trainingLoopParameters(batchSize: 64, learningRate: 1e-3, adamEpsilon: 1e-8, l1Lambda: 1e-8,
                               reference: "paper 1e-3; the reference's batch 64 and L1 1e-8")

    func declaredOutputs(params: [String: JSONValue]) -> [String]? { TrainGNNAEStage.outputs }

    func check(params: [String: JSONValue]) -> [ParamIssue] {
        var issues = checkTrainingLoopParameters(params)
        if let e = params["encoding"]?.stringValue, !["JL", "PL"].contains(e) {
            issues.append(ParamIssue(path: "encoding", message: "unknown value '\(e)'", fix: "use JL (jet level) or PL (particle level)"))
        }
        if let l = params["loss"]?.stringValue, !(["auto"] + GNNAELoss.allCases.map(\.rawValue)).contains(l) {
            issues.append(ParamIssue(path: "loss", message: "unknown value '\(l)'", fix: "use auto, chamfer, chamferJetTermOnly or mse"))
        }
        for key in ["latent", "particles"] {
            if let v = params[key]?.intValue, v < 1 {
                issues.append(ParamIssue(path: key, message: "must be at least 1, found \(v)", fix: "see `pipeline kinds`"))
            }
        }
        if params["nodeWidths"].map({ intList($0) == nil }) == true {
            issues.append(ParamIssue(path: "nodeWidths", message: "must be a non-empty array of positive integers", fix: "write e.g. [30, 15, 8]"))
        }
        if params["edgeWidths"].map({ intLists($0) == nil }) == true {
            issues.append(ParamIssue(path: "edgeWidths", message: "must be an array of non-empty arrays of positive integers", fix: "write e.g. [[50, 40, 30], [30, 30, 30], [16, 20, 30]]"))
        }
        if let v = params["decoderNodeWidths"], v != .null, intList(v) == nil {
            issues.append(ParamIssue(path: "decoderNodeWidths", message: "must be null or a non-empty array of positive integers", fix: "write null to use the encoder's"))
        }
        if let v = params["decoderEdgeWidths"], v != .null, intLists(v) == nil {
            issues.append(ParamIssue(path: "decoderEdgeWidths", message: "must be null or an array of arrays of positive integers", fix: "write null to use the encoder's"))
        }
        return issues
    }

    static func modelConfig(_ ctx: StageContext) throws -> GNNAEConfig {
        let latent = try ctx.int("latent")
        let encoding: GNNAEConfig.Encoding = try ctx.string("encoding") == "JL" ? .jetLevel(latent: latent) : .particleLevel(perNode: latent)
        let nodes = intList(ctx.params["nodeWidths"] ?? .null) ?? [], edges = intLists(ctx.params["edgeWidths"] ?? .null) ?? []
        let config = GNNAEConfig(encoding: encoding, particleCount: try ctx.int("particles"),
                                 encoderNodeWidths: nodes, encoderEdgeWidths: edges,
                                 decoderNodeWidths: intList(ctx.params["decoderNodeWidths"] ?? .null),
                                 decoderEdgeWidths: intLists(ctx.params["decoderEdgeWidths"] ?? .null),
                                 leakyReLUSlope: try ctx.double("leakyReLUSlope"))
        do { try config.validate() } catch {
            throw StageFailure("stage '\(ctx.stage)': \(error). Fix: correct `stages.\(ctx.stage).params` (nodeWidths and edgeWidths need one entry per MPNN layer).")
        }
        return config
    }

    func run(_ ctx: StageContext) throws -> JSONValue {
        let config = try TrainGNNAEStage.modelConfig(ctx)
        let lossName = try ctx.string("loss")
        let loss: GNNAELoss = lossName == "auto" ? (config.encoding.isJetLevel ? .chamfer : .mse) : GNNAELoss(rawValue: lossName)!
        let (train, valid) = try RelativeJets.trainingAndValidation(ctx)
        guard train.particles == config.particleCount else {
            throw StageFailure("stage '\(ctx.stage)': the jets have \(train.particles) particles but the model is configured for \(config.particleCount). Fix: set `particles` to \(train.particles).")
        }
        let options = try epochOptions(ctx, kind: kind)
        let perJet = config.particleCount * config.particleFeatures
        let objective = GNNAEObjective(config: config, loss: loss,
                                       train: FlatExamples(values: train.gnnaeInputs(), width: perJet),
                                       valid: FlatExamples(values: valid.gnnaeInputs(), width: perJet), threads: ctx.threads)
        let layout = GNNAEParameterLayout(config: config)
        ctx.note(String(format: "GNNAE-%@ latent %d, compression rate %.2f%%, %d parameters; %d training / %d validation jets, batch %d, %@ loss",
                        config.encoding.label, config.encoding.latentSize, 100 * config.compressionRate, layout.count,
                        train.count, valid.count, options.batchSize, loss.rawValue))
        let outcome = try trainFromInitialisation(ctx, kind: kind, objective: objective, options: options, unit: "jets",
                                                  initialParameters: layout.initialParameters(seed:))
        let best = GNNAEModel(config: config, parameters: outcome.state.bestParameters)
        try Data(best.serialized()).write(to: URL(fileURLWithPath: ctx.outputPath("model.gnnae")))
        var report = trainingReport(outcome, options: options, train: train.count, valid: valid.count)
        report["model"] = [
            "family": "GNNAE", "encoding": .string(config.encoding.label), "latent": .number(Double(config.encoding.latentSize)),
            "latentCount": .number(Double(config.latentCount)), "compressionRate": .number(config.compressionRate),
            "nodeWidths": .array(config.encoderNodeWidths.map { .number(Double($0)) }),
            "edgeWidths": .array(config.encoderEdgeWidths.map { .array($0.map { .number(Double($0)) }) }),
            "decoderNodeWidths": .array(config.decoderNodeWidths.map { .number(Double($0)) }),
            "decoderEdgeWidths": .array(config.decoderEdgeWidths.map { .array($0.map { .number(Double($0)) }) }),
            "leakyReLUSlope": .number(config.leakyReLUSlope), "particles": .number(Double(config.particleCount)),
            "parameters": .number(Double(layout.count)),
        ]
        report["loss"] = .string(loss.rawValue)
        report["inputs"] = "relative polar (pT_rel, eta_rel, phi_rel), JetNet"
        try writeTrainingJSON(ctx, report)
        return trainingSummary(outcome, compressionRate: config.compressionRate, parameters: layout.count, unit: "jets")
    }
}

/// `train-cnnae`: trains the CNNAE baseline (spec §12.2) on jet images of the QCD training jets,
/// on the same loop as the LGAE. Keras's defaults where the reference script relies on them:
/// Adam in Keras's update form with ε 1e-7, no L1 term, the batch loss the mean of the per-image MSEs.
///
/// Inputs: `load` and `split`. Outputs: `model.cnnae`, `final.ckpt`, `losses.csv`, `training.json`.
struct TrainCNNAEStage: StageKind {
    let kind = "train-cnnae"
    let summary = "train the CNNAE baseline (40×40 jet images, convolutional autoencoder) on JetNet relative coordinates"
    static let code = ["Stages/Model/TrainBaselineStages.swift", "Stages/Model/BaselineData.swift", "Stages/Model/TrainingRun.swift",
                       "Baselines/CNNAE.swift", "Baselines/CNNAE+Backward.swift", "Baselines/ConvKernels.swift", "Baselines/Lanes.swift",
                       "Baselines/JetImage.swift", "Baselines/BaselineTraining.swift", "Training/", "SeededRandom/", "JetData/Npy.swift",
                       "JetData/Random.swift", "JetData/JetNetFile.swift"]
    let codeDigest = Stages.codeDigest(TrainCNNAEStage.code + commonCode)
    static let outputs = ["model.cnnae", "final.ckpt", "losses.csv", "training.json"]

    let parameters: [ParamSpec] = [
        ParamSpec("latent", .integer, default: 55, doc: "bottleneck width (paper 55; the reference script's default 16)"),
        ParamSpec("channels", .integer, default: 128, doc: "channels of every hidden convolution (paper 128)"),
        ParamSpec("imagePixels", .integer, default: 40, doc: "pixels per side of the jet image (paper 40; a multiple of 4)"),
        ParamSpec("imageRadius", .number, default: 0.8, doc: "the image covers [−R, R] in η_rel and φ_rel (reference TF script 0.8; the paper gives no value)"),
    ] + trainingLoopParameters(batchSize: 64, learningRate: 1e-3, adamEpsilon: 1e-7, l1Lambda: 0, adamUpdate: .keras,
                               reference: "Keras default 1e-3; the reference script's batch 64")

    func declaredOutputs(params: [String: JSONValue]) -> [String]? { TrainCNNAEStage.outputs }

    func check(params: [String: JSONValue]) -> [ParamIssue] {
        var issues = checkTrainingLoopParameters(params)
        for key in ["latent", "channels"] {
            if let v = params[key]?.intValue, v < 1 {
                issues.append(ParamIssue(path: key, message: "must be at least 1, found \(v)", fix: "see `pipeline kinds`"))
            }
        }
        if let v = params["imagePixels"]?.intValue, v < 4 || v % 4 != 0 {
            issues.append(ParamIssue(path: "imagePixels", message: "must be a positive multiple of 4 (two stride-2 halvings), found \(v)", fix: "use 40"))
        }
        if let r = params["imageRadius"]?.doubleValue, !(r > 0 && r.isFinite) {
            issues.append(ParamIssue(path: "imageRadius", message: "must be positive, found \(r)", fix: "use 0.8"))
        }
        return issues
    }

    static func binning(_ ctx: StageContext) throws -> JetImageBinning {
        JetImageBinning(pixelCount: try ctx.int("imagePixels"), radius: try ctx.double("imageRadius"))
    }

    func run(_ ctx: StageContext) throws -> JSONValue {
        let binning = try TrainCNNAEStage.binning(ctx)
        let config = CNNAEConfig(imageSize: binning.pixelCount, channels: try ctx.int("channels"), latentDimension: try ctx.int("latent"))
        let (trainJets, validJets) = try RelativeJets.trainingAndValidation(ctx)
        let train = trainJets.images(binning), valid = validJets.images(binning)
        let options = try epochOptions(ctx, kind: kind)
        let objective = CNNAEObjective(config: config, train: FlatExamples(values: train.values, width: config.pixelCount),
                                       valid: FlatExamples(values: valid.values, width: config.pixelCount), threads: ctx.threads)
        let layout = CNNAEParameterLayout(config: config)
        ctx.note(String(format: "CNNAE %d×%d images (R = %g; %d training particles outside), %d channels, latent %d, %d parameters; %d training / %d validation images, batch %d",
                        config.imageSize, config.imageSize, binning.radius, train.droppedParticles, config.channels, config.latentDimension,
                        layout.count, trainJets.count, validJets.count, options.batchSize))
        let outcome = try trainFromInitialisation(ctx, kind: kind, objective: objective, options: options, unit: "images",
                                                  initialParameters: layout.initialParameters(seed:))
        let best = CNNAE(config: config, parameters: outcome.state.bestParameters)
        try Data(best.serialized()).write(to: URL(fileURLWithPath: ctx.outputPath("model.cnnae")))
        var report = trainingReport(outcome, options: options, train: trainJets.count, valid: validJets.count)
        report["model"] = [
            "family": "CNNAE", "latent": .number(Double(config.latentDimension)), "channels": .number(Double(config.channels)),
            "imagePixels": .number(Double(config.imageSize)), "imageRadius": .number(binning.radius),
            "compressionRate": .number(config.compressionRate), "parameters": .number(Double(layout.count)),
        ]
        report["loss"] = "mse"
        report["droppedTrainingParticles"] = .number(Double(train.droppedParticles))
        try writeTrainingJSON(ctx, report)
        return trainingSummary(outcome, compressionRate: config.compressionRate, parameters: layout.count, unit: "images")
    }
}

extension GNNAEConfig.Encoding {
    var isJetLevel: Bool { if case .jetLevel = self { return true } else { return false } }
    /// "JL" or "PL", as the paper's tables and `reconstruction.json` name them.
    var label: String { isJetLevel ? "JL" : "PL" }
    /// dim L (JL) or d (PL).
    var latentSize: Int {
        switch self {
        case .jetLevel(let latent): return latent
        case .particleLevel(let perNode): return perNode
        }
    }
}

/// A JSON array of positive integers, or nil.
func intList(_ v: JSONValue) -> [Int]? {
    guard let a = v.arrayValue, !a.isEmpty else { return nil }
    let ints = a.compactMap(\.intValue)
    return ints.count == a.count && ints.allSatisfy({ $0 >= 1 }) ? ints : nil
}

/// A JSON array of non-empty arrays of positive integers, or nil.
func intLists(_ v: JSONValue) -> [[Int]]? {
    guard let a = v.arrayValue, !a.isEmpty else { return nil }
    let lists = a.compactMap(intList)
    return lists.count == a.count ? lists : nil
}
