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
    static let code = ["Stages/Model/TrainStage.swift", "Stages/Model/ModelData.swift", "LGAE/", "SeededRandom/",
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
        ParamSpec("learningRate", .number, default: 1e-3, doc: "Adam learning rate (paper 1e-3)"),
        ParamSpec("beta1", .number, default: 0.9, doc: "Adam β1"),
        ParamSpec("beta2", .number, default: 0.999, doc: "Adam β2"),
        ParamSpec("adamEpsilon", .number, default: 1e-8, doc: "Adam ε (PyTorch default 1e-8). Gradients at initialisation can be ~1e-10 (§7.1), below ε, where steps shrink in proportion"),
        ParamSpec("l1Lambda", .number, default: 1e-8, doc: "L1 regularisation weight on all parameters (training loss only)"),
        ParamSpec("batchSize", .integer, default: 512, doc: "jets per Adam step (README: 512)"),
        ParamSpec("maxEpochs", .integer, default: 20000, doc: "upper limit of epochs (paper: 20,000)"),
        ParamSpec("patience", .integer, default: 200, doc: "stop after this many epochs without a better validation loss (paper: 200)"),
        ParamSpec("trainJets", .integer, default: 0, doc: "use only the first this many training jets (0: all); the split is already random"),
        ParamSpec("validJets", .integer, default: 0, doc: "use only the first this many validation jets (0: all)"),
        .seed(doc: "seeds the initialisation and the per-epoch shuffles; defaults to the profile's seed"),
    ]

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
        for key in ["latentVectors", "basisFunctions", "mlpDepth", "mlpWidthMultiplier", "particles", "batchSize", "maxEpochs"] {
            if let v = params[key]?.intValue, v < 1 {
                issues.append(ParamIssue(path: key, message: "must be at least 1, found \(v)", fix: "see `pipeline kinds` for the meaning"))
            }
        }
        for key in ["patience", "trainJets", "validJets"] {
            if let v = params[key]?.intValue, v < 0 {
                issues.append(ParamIssue(path: key, message: "must be ≥ 0, found \(v)", fix: "use 0 or a positive integer"))
            }
        }
        for key in ["encoderChannels", "decoderChannels"] {
            if let a = params[key]?.arrayValue, a.isEmpty || !a.allSatisfy({ ($0.intValue ?? 0) >= 1 }) {
                issues.append(ParamIssue(path: key, message: "must be a non-empty array of positive integers", fix: "write e.g. [3, 3, 4, 4]"))
            }
        }
        if let lr = params["learningRate"]?.doubleValue, !(lr > 0 && lr.isFinite) {
            issues.append(ParamIssue(path: "learningRate", message: "must be positive, found \(lr)", fix: "use 1e-3 (paper)"))
        }
        for key in ["beta1", "beta2"] {
            if let b = params[key]?.doubleValue, !(b >= 0 && b < 1) {
                issues.append(ParamIssue(path: key, message: "must lie in [0, 1), found \(b)", fix: "use 0.9 and 0.999"))
            }
        }
        if let e = params["adamEpsilon"]?.doubleValue, !(e > 0 && e.isFinite) {
            issues.append(ParamIssue(path: "adamEpsilon", message: "must be positive, found \(e)", fix: "use 1e-8 (PyTorch default)"))
        }
        if let l = params["l1Lambda"]?.doubleValue, !(l >= 0 && l.isFinite) {
            issues.append(ParamIssue(path: "l1Lambda", message: "must be ≥ 0, found \(l)", fix: "use 1e-8 (reference) or 0"))
        }
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
            adam: AdamConfiguration(learningRate: try ctx.double("learningRate"), beta1: try ctx.double("beta1"), beta2: try ctx.double("beta2"),
                                    epsilon: try ctx.double("adamEpsilon")),
            l1Lambda: try ctx.double("l1Lambda"), batchSize: try ctx.int("batchSize"), maxEpochs: try ctx.int("maxEpochs"),
            patience: try ctx.int("patience"),
            parameterSeed: deriveSeed(seed, "train-lgae", "parameters"), shuffleSeed: deriveSeed(seed, "train-lgae", "shuffle"))
        let normalised = try ctx.bool("normalisation")
        let trainLimit = try ctx.int("trainJets"), validLimit = try ctx.int("validJets")
        let train = try JetArrays(ctx, part: "qcd_train", particles: config.particleCount)
            .trainingSet(normalised: normalised, limit: trainLimit > 0 ? trainLimit : nil)
        let valid = try JetArrays(ctx, part: "qcd_valid", particles: config.particleCount)
            .trainingSet(normalised: normalised, limit: validLimit > 0 ? validLimit : nil)
        guard train.count > 0, valid.count > 0 else {
            throw StageFailure("stage '\(ctx.stage)': \(train.count) training and \(valid.count) validation jets; both must be non-empty. Fix: check the `split` stage's fractions.")
        }
        let layout = ParameterLayout(config: config)
        let trainer = Trainer(config: config, options: options, train: train, valid: valid, threads: ctx.threads)
        let checkpointPath = ctx.checkpointDirectory + "/state.ckpt"
        ctx.note(String(format: "LGAE %@ τ=%d, compression rate %.2f%%, %d parameters; %d training / %d validation jets, batch %d, %@ loss",
                        "\(config.aggregation)", config.latentVectorCount, 100 * config.compressionRate, layout.count,
                        train.count, valid.count, options.batchSize, "\(loss)"))

        var state = try resume(ctx, path: checkpointPath, parameterCount: layout.count) ?? trainer.initialState()
        if state.epoch == 0 { try writeCheckpoint(state, to: checkpointPath) }
        let started = Date()
        var jetsTrained = 0
        let total = Double(options.maxEpochs)
        while trainer.stopReason(state) == nil {
            let epochStart = Date()
            let epoch = state.epoch + 1, bestSoFar = state.bestValidLoss
            do {
                try trainer.runEpoch(&state) { p in
                    let elapsed = Date().timeIntervalSince(epochStart)
                    let rate = Double(p.jetsDone) / max(elapsed, 1e-9)
                    let eta = Double(train.count - p.jetsDone) / max(rate, 1e-9)
                    ctx.progress(Double(epoch - 1) + Double(p.batch) / Double(p.batches), of: total, unit: .epochs,
                                 detail: String(format: "epoch %d batch %d/%d  train %.5g  best valid %.5g  %.0f jets/s  epoch ETA %@",
                                                epoch, p.batch, p.batches, p.runningLoss, bestSoFar, rate, duration(eta)))
                }
            } catch let e as TrainingError {
                throw StageFailure("stage '\(ctx.stage)': non-finite values at \(e). The checkpoint after epoch \(state.epoch) is kept in the store; the next `pipeline run` resumes from it once the cause is fixed (a changed parameter starts a new training).")
            }
            jetsTrained += train.count
            try writeCheckpoint(state, to: checkpointPath)
            let r = state.history.last!
            ctx.note(String(format: "epoch %d: train %.6g, valid %.6g%@, %.0f jets/s", epoch, r.trainLoss, r.validLoss,
                            state.bestEpoch == epoch ? " (best)" : " (best \(String(format: "%.6g", state.bestValidLoss)) at epoch \(state.bestEpoch))",
                            Double(train.count) / max(r.seconds, 1e-9)))
        }
        let stop = trainer.stopReason(state)!
        let best = LGAEModel(config: config, parameters: state.bestParameters)
        try Data(best.serialized()).write(to: URL(fileURLWithPath: ctx.outputPath("model.lgae")))
        try Data(state.serialized()).write(to: URL(fileURLWithPath: ctx.outputPath("final.ckpt")))
        try lossCSV(state).write(toFile: ctx.outputPath("losses.csv"), atomically: false, encoding: .utf8)
        let initial = state.history[0].validLoss
        let report: JSONValue = [
            "model": modelDescription(config, parameters: layout),
            "loss": .string("\(loss)"),
            "normalisation": .bool(normalised),
            "trainJets": .number(Double(train.count)), "validJets": .number(Double(valid.count)),
            "batchSize": .number(Double(options.batchSize)), "learningRate": .number(options.adam.learningRate),
            "maxEpochs": .number(Double(options.maxEpochs)), "patience": .number(Double(options.patience)),
            "epochs": .number(Double(state.epoch)), "stop": .string(stop.rawValue),
            "bestEpoch": .number(Double(state.bestEpoch)),
            "initialValidLoss": .number(initial), "bestValidLoss": .number(state.bestValidLoss),
            "validLossRatio": .number(state.bestValidLoss / initial),
        ]
        try (report.pretty + "\n").write(toFile: ctx.outputPath("training.json"), atomically: false, encoding: .utf8)
        let seconds = Date().timeIntervalSince(started)
        ctx.note(String(format: "stopped (%@) after %d epochs; best epoch %d, validation loss %.6g → %.6g (%.1f× lower)",
                        stop.rawValue, state.epoch, state.bestEpoch, initial, state.bestValidLoss, initial / state.bestValidLoss))
        return [
            "epochs": .number(Double(state.epoch)), "bestEpoch": .number(Double(state.bestEpoch)),
            "initialValidLoss": .number(initial), "bestValidLoss": .number(state.bestValidLoss),
            "compressionRate": .number(config.compressionRate), "parameters": .number(Double(layout.count)),
            "trainSeconds": .number(seconds),
            "trainJetsPerSecond": .number(seconds > 0 ? Double(jetsTrained) / seconds : 0),
        ]
    }

    /// The checkpoint of an earlier attempt with the same key, if there is a readable one.
    private func resume(_ ctx: StageContext, path: String, parameterCount: Int) throws -> TrainingState? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        do {
            let state = try TrainingState(serialized: [UInt8](data))
            guard state.parameters.count == parameterCount else {
                ctx.note("ignoring checkpoint \(path): \(state.parameters.count) parameters, the model has \(parameterCount)")
                return nil
            }
            ctx.note("resuming from the checkpoint after epoch \(state.epoch) (\(path))")
            return state
        } catch {
            ctx.note("ignoring unreadable checkpoint \(path) (\(error)); starting afresh")
            return nil
        }
    }

    /// Write-then-rename, so a kill mid-write leaves the previous checkpoint intact.
    private func writeCheckpoint(_ state: TrainingState, to path: String) throws {
        let tmp = path + ".partial"
        try Data(state.serialized()).write(to: URL(fileURLWithPath: tmp))
        guard rename(tmp, path) == 0 else {
            throw StageFailure("cannot move the checkpoint \(tmp) to \(path): \(String(cString: strerror(errno))). Fix: check the store directory's permissions and free space.")
        }
    }
}

/// The loss curve: one row per epoch, epoch 0 being the untrained model (no training loss).
/// Numbers are printed with Swift's shortest round-trip form, so the file is byte-stable.
func lossCSV(_ state: TrainingState) -> String {
    var text = "epoch,train_loss,valid_loss,best_valid_loss,is_best\n"
    var best = Double.infinity
    for r in state.history {
        let isBest = r.validLoss < best
        if isBest { best = r.validLoss }
        text += "\(r.epoch),\(r.trainLoss.isNaN ? "" : "\(r.trainLoss)"),\(r.validLoss),\(best),\(isBest ? 1 : 0)\n"
    }
    return text
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

/// "1h02m", "3m05s", "12s".
func duration(_ seconds: Double) -> String {
    guard seconds.isFinite else { return "?" }
    let s = Int(seconds.rounded())
    if s >= 3600 { return String(format: "%dh%02dm", s / 3600, (s % 3600) / 60) }
    if s >= 60 { return String(format: "%dm%02ds", s / 60, s % 60) }
    return "\(s)s"
}
