import Executor
import Foundation
import JetData
import LGAE

/// `train-lgae`: trains one LGAE (lgae.md §4–§10) on the QCD training jets with early stopping on
/// the validation jets, checkpointing every epoch into the store so that a killed run resumes
/// where it stopped and ends with the same bytes as one that never stopped.
///
/// Outputs: `model.lgae` (the best epoch's model), `final.ckpt` (the complete state after the
/// last epoch, optimiser included, to continue training), `losses.csv` (the loss curve) and
/// `training.json` (configuration, compression rate, epochs, losses). No output depends on timing
/// or thread count; timings go to the stage summary shown by `pipeline show`.
struct TrainStage: StageKind {
    let kind = "train-lgae"
    let summary = "train one Lorentz group equivariant autoencoder (early stopping, resumable checkpoints)"
    static let code = ["Stages/Model/TrainStage.swift", "Stages/Model/ModelData.swift", "Stages/Model/TrainingRun.swift", "LGAE/", "Training/", "SeededRandom/",
                       "JetData/Npy.swift", "JetData/Random.swift"]
    let codeDigest = Stages.codeDigest(TrainStage.code + commonCode)
    static let outputs = ["model.lgae", "final.ckpt", "losses.csv", "training.json"]

    let parameters: [ParamSpec] = [
        ParamSpec("aggregation", .string, default: "minmax", doc: "latent aggregation: minmax (LGAE-Min-Max), mix (LGAE-Mix) or mean"),
        ParamSpec("latentVectors", .integer, doc: "τ(1/2,1/2) = k, the latent 4-vectors per aggregation copy (paper: 2, 4, 7, 9, 13)"),
        ParamSpec("encoderChannels", .array, default: [3, 3, 4, 4], doc: "encoder widths: W(0) then one LMP level per further entry (§5.2)"),
        ParamSpec("decoderChannels", .array, default: [4, 4, 3, 3], doc: "decoder widths, read the same way (§6)"),
        ParamSpec("basisFunctions", .integer, default: 10, doc: "num_basis_fn; each level has twice as many Lorentzian bells (§4.2)"),
        ParamSpec("mlpDepth", .integer, default: 6, doc: "hidden layers of the scalar MLP after every level (§4.7)"),
        ParamSpec("mlpWidthMultiplier", .integer, default: 6, doc: "MLP hidden width = this × 2C (§4.7)"),
        ParamSpec("complexToReal", .string, default: "sum", doc: "complex → real output rule: sum (the paper's scripts), real, imag, mean or norm (§6.6, §14)"),
        ParamSpec("mode", .string, default: "faithful", doc: "faithful (reference, padding quirks included) or clean (padded particles masked out)"),
        ParamSpec("particles", .integer, default: 30, doc: "particle slots per jet N (JetNet: 30)"),
        ParamSpec("loss", .string, default: "auto", doc: "chamfer, mse, or auto (chamfer for minmax and mean, mse for mix, as the paper)"),
        ParamSpec("normalisation", .boolean, default: true, doc: "divide every jet by its factor from `preprocess` (§2.3; the reference default)"),
    ] + trainingLoopParameters(batchSize: 512, learningRate: 1e-3, adamEpsilon: 1e-8, l1Lambda: 1e-8,
                               reference: "paper 1e-3; batch 512 as the README")

    func declaredOutputs(params: [String: JSONValue]) -> [String]? { TrainStage.outputs }

    func check(params: [String: JSONValue]) -> [ParamIssue] {
        var issues: [ParamIssue] = []
        func oneOf(_ key: String, _ allowed: [String]) {
            if let v = params[key]?.stringValue, !allowed.contains(v) {
                issues.append(ParamIssue(path: key, message: "unknown value '\(v)'", fix: "use one of: \(allowed.joined(separator: ", "))"))
            }
        }
        oneOf("aggregation", Array(TrainStage.aggregations.keys).sorted())
        oneOf("complexToReal", ComplexToRealRule.allCases.map(\.rawValue))
        oneOf("mode", PaddingMode.allCases.map(\.rawValue))
        oneOf("loss", ["auto"] + TrainingLoss.allCases.map(\.rawValue))
        for key in ["latentVectors", "basisFunctions", "mlpDepth", "mlpWidthMultiplier", "particles"] {
            if let v = params[key]?.intValue, v < 1 {
                issues.append(ParamIssue(path: key, message: "must be at least 1, found \(v)", fix: "see `pipeline kinds` for the meaning"))
            }
        }
        for key in ["encoderChannels", "decoderChannels"] {
            if let a = params[key]?.arrayValue, a.isEmpty || !a.allSatisfy({ ($0.intValue ?? 0) >= 1 }) {
                issues.append(ParamIssue(path: key, message: "must be a non-empty array of positive integers", fix: "write e.g. [3, 3, 4, 4]"))
            }
        }
        issues += checkTrainingLoopParameters(params)
        return issues
    }

    static let aggregations: [String: LatentAggregation] = ["minmax": .minMax, "mix": .mix, "mean": .mean]

    static func modelConfig(_ ctx: StageContext) throws -> LGAEConfig {
        func ints(_ key: String) throws -> [Int] {
            (ctx.params[key]?.arrayValue ?? []).compactMap(\.intValue)
        }
        let config = LGAEConfig(
            particleCount: try ctx.int("particles"), encoderChannels: try ints("encoderChannels"),
            decoderChannels: try ints("decoderChannels"), basisFunctionCount: try ctx.int("basisFunctions"),
            mlpDepth: try ctx.int("mlpDepth"), mlpWidthMultiplier: try ctx.int("mlpWidthMultiplier"),
            aggregation: aggregations[try ctx.string("aggregation")]!, latentVectorCount: try ctx.int("latentVectors"),
            complexToReal: ComplexToRealRule(rawValue: try ctx.string("complexToReal"))!,
            mode: PaddingMode(rawValue: try ctx.string("mode"))!)
        do { try config.validate() } catch { throw StageFailure("stage '\(ctx.stage)': \(error)") }
        return config
    }

    func run(_ ctx: StageContext) throws -> JSONValue {
        let config = try TrainStage.modelConfig(ctx)
        let lossName = try ctx.string("loss")
        let loss = lossName == "auto" ? (config.aggregation == .mix ? TrainingLoss.mse : .chamfer) : TrainingLoss(rawValue: lossName)!
        let seed = try ctx.seed()
        let options = TrainingOptions(
            loss: loss,
            adam: try adamConfiguration(ctx),
            l1Lambda: try ctx.double("l1Lambda"), batchSize: try ctx.int("batchSize"), maxEpochs: try ctx.int("maxEpochs"),
            patience: try ctx.int("patience"),
            parameterSeed: deriveSeed(seed, "train-lgae", "parameters"), shuffleSeed: deriveSeed(seed, "train-lgae", "shuffle"))
        let normalised = try ctx.bool("normalisation")
        let trainLimit = try ctx.int("trainJets"), validLimit = try ctx.int("validJets")
        let train = try JetArrays(ctx, part: "qcd_train", particles: config.particleCount)
            .trainingSet(normalised: normalised, limit: trainLimit > 0 ? trainLimit : nil)
        let valid = try JetArrays(ctx, part: "qcd_valid", particles: config.particleCount)
            .trainingSet(normalised: normalised, limit: validLimit > 0 ? validLimit : nil)
        try requireTrainingJets(ctx, train: train.count, valid: valid.count)
        let layout = ParameterLayout(config: config)
        let trainer = Trainer(config: config, options: options, train: train, valid: valid, threads: ctx.threads)
        ctx.note(String(format: "LGAE %@ τ=%d, compression rate %.2f%%, %d parameters; %d training / %d validation jets, batch %d, %@ loss",
                        "\(config.aggregation)", config.latentVectorCount, 100 * config.compressionRate, layout.count,
                        train.count, valid.count, options.batchSize, "\(loss)"))
        let outcome = try runTraining(ctx, loop: trainer.loop, unit: "jets", initialState: trainer.initialState)
        let best = LGAEModel(config: config, parameters: outcome.state.bestParameters)
        try Data(best.serialized()).write(to: URL(fileURLWithPath: ctx.outputPath("model.lgae")))
        var report = trainingReport(outcome, options: options.epochOptions, train: train.count, valid: valid.count)
        report["model"] = modelDescription(config, parameters: layout)
        report["loss"] = .string("\(loss)")
        report["normalisation"] = .bool(normalised)
        try writeTrainingJSON(ctx, report)
        return trainingSummary(outcome, compressionRate: config.compressionRate, parameters: layout.count, unit: "jets")
    }
}

/// The configuration and derived figures of a model, as written into `training.json`.
func modelDescription(_ config: LGAEConfig, parameters layout: ParameterLayout) -> JSONValue {
    [
        "aggregation": .string(config.aggregation.rawValue), "latentVectors": .number(Double(config.latentVectorCount)),
        "compressionRate": .number(config.compressionRate),
        "encoderChannels": .array(config.encoderChannels.map { .number(Double($0)) }),
        "decoderChannels": .array(config.decoderChannels.map { .number(Double($0)) }),
        "basisFunctions": .number(Double(config.basisFunctionCount)), "mlpDepth": .number(Double(config.mlpDepth)),
        "mlpWidthMultiplier": .number(Double(config.mlpWidthMultiplier)), "particles": .number(Double(config.particleCount)),
        "complexToReal": .string(config.complexToReal.rawValue), "mode": .string(config.mode.rawValue),
        "parameters": .number(Double(layout.count)),
        "encoderParameters": .number(Double(layout.encoderCount)), "decoderParameters": .number(Double(layout.decoderCount)),
    ]
}
