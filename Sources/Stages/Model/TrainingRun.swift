import Executor
import Foundation
import JetData
import Training

// What every `train-*` stage shares: the optimiser and loop parameters, the epoch loop with
// progress, per-epoch checkpoints in the store (a killed run resumes where it stopped and ends with
// the bytes of one that never stopped), and the loss curve. A stage adds its model's parameters,
// data and files.

/// The loop's parameters, with each model family's reference defaults.
func trainingLoopParameters(batchSize: Int, learningRate: Double, adamEpsilon: Double, l1Lambda: Double,
                            adamUpdate: AdamUpdateForm = .pytorch, reference: String) -> [ParamSpec] {
    [
        ParamSpec("learningRate", .number, default: .number(learningRate), doc: "Adam learning rate (\(reference))"),
        ParamSpec("beta1", .number, default: 0.9, doc: "Adam β1"),
        ParamSpec("beta2", .number, default: 0.999, doc: "Adam β2"),
        ParamSpec("adamEpsilon", .number, default: .number(adamEpsilon),
                  doc: "Adam ε (PyTorch default 1e-8, Keras 1e-7). Gradients below ε (the LGAE-Mix's ~1e-10 at initialisation, §7.1; the CNNAE's softmax gradients) make Adam's steps shrink in proportion"),
        ParamSpec("adamUpdate", .string, default: .string(adamUpdate.rawValue),
                  doc: "where Adam's bias corrections enter: pytorch (torch.optim.Adam, the LGAE and GNNAE references) or keras (TensorFlow, the CNNAE reference; ε acts larger early on)"),
        ParamSpec("l1Lambda", .number, default: .number(l1Lambda), doc: "L1 regularisation weight on all parameters (training loss only)"),
        ParamSpec("batchSize", .integer, default: .number(Double(batchSize)), doc: "examples per Adam step"),
        ParamSpec("maxEpochs", .integer, default: 20000, doc: "upper limit of epochs (paper: 20,000)"),
        ParamSpec("patience", .integer, default: 200, doc: "stop after this many epochs without a better validation loss (paper: 200)"),
        ParamSpec("trainJets", .integer, default: 0, doc: "use only the first this many training jets (0: all); the split is already random"),
        ParamSpec("validJets", .integer, default: 0, doc: "use only the first this many validation jets (0: all)"),
        .seed(doc: "seeds the initialisation and the per-epoch shuffles; defaults to the profile's seed"),
    ]
}

func checkTrainingLoopParameters(_ params: [String: JSONValue]) -> [ParamIssue] {
    var issues: [ParamIssue] = []
    for key in ["batchSize", "maxEpochs"] {
        if let v = params[key]?.intValue, v < 1 {
            issues.append(ParamIssue(path: key, message: "must be at least 1, found \(v)", fix: "see `pipeline kinds` for the meaning"))
        }
    }
    for key in ["patience", "trainJets", "validJets"] {
        if let v = params[key]?.intValue, v < 0 {
            issues.append(ParamIssue(path: key, message: "must be ≥ 0, found \(v)", fix: "use 0 or a positive integer"))
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
        issues.append(ParamIssue(path: "adamEpsilon", message: "must be positive, found \(e)", fix: "use 1e-8 (PyTorch default) or 1e-7 (Keras)"))
    }
    if let f = params["adamUpdate"]?.stringValue, AdamUpdateForm(rawValue: f) == nil {
        issues.append(ParamIssue(path: "adamUpdate", message: "unknown value '\(f)'", fix: "use pytorch or keras"))
    }
    if let l = params["l1Lambda"]?.doubleValue, !(l >= 0 && l.isFinite) {
        issues.append(ParamIssue(path: "l1Lambda", message: "must be ≥ 0, found \(l)", fix: "use 1e-8 (reference) or 0"))
    }
    return issues
}

func adamConfiguration(_ ctx: StageContext) throws -> AdamConfiguration {
    AdamConfiguration(learningRate: try ctx.double("learningRate"), beta1: try ctx.double("beta1"), beta2: try ctx.double("beta2"),
                      epsilon: try ctx.double("adamEpsilon"), form: AdamUpdateForm(rawValue: try ctx.string("adamUpdate"))!)
}

/// The loop's options; the shuffles are seeded from the stage's seed and `kind`.
func epochOptions(_ ctx: StageContext, kind: String) throws -> EpochOptions {
    EpochOptions(adam: try adamConfiguration(ctx), l1Lambda: try ctx.double("l1Lambda"), batchSize: try ctx.int("batchSize"),
                 maxEpochs: try ctx.int("maxEpochs"), patience: try ctx.int("patience"),
                 shuffleSeed: deriveSeed(try ctx.seed(), kind, "shuffle"))
}

/// "use the first n" of a count, 0 meaning all.
func limited(_ count: Int, _ limit: Int) -> Int { limit > 0 ? min(count, limit) : count }

struct TrainingOutcome {
    let state: TrainingState
    let stop: TrainingStop
    let seconds: Double
    let examplesTrained: Int

    var initialValidLoss: Double { state.history[0].validLoss }
}

/// Runs `loop` from the store's checkpoint of an earlier attempt (if readable and of the right
/// size) or from `initialState`, checkpointing after every epoch, until it stops; then writes
/// `final.ckpt` and `losses.csv`. `unit` names the examples in messages ("jets", "images").
func runTraining<Objective>(_ ctx: StageContext, loop: EpochTrainer<Objective>, unit: String,
                            initialState: () throws -> TrainingState) throws -> TrainingOutcome {
    let checkpointPath = ctx.checkpointDirectory + "/state.ckpt"
    let count = loop.objective.trainingExamples
    var state = try resume(ctx, path: checkpointPath, parameterCount: loop.objective.parameterCount) ?? initialState()
    if state.epoch == 0 { try writeCheckpoint(ctx, state, to: checkpointPath) }
    let started = Date()
    var trained = 0
    let total = Double(loop.options.maxEpochs)
    while loop.stopReason(state) == nil {
        let epochStart = Date()
        let epoch = state.epoch + 1, bestSoFar = state.bestValidLoss
        do {
            try loop.runEpoch(&state) { p in
                let elapsed = Date().timeIntervalSince(epochStart)
                let rate = Double(p.jetsDone) / max(elapsed, 1e-9)
                let eta = Double(count - p.jetsDone) / max(rate, 1e-9)
                ctx.progress(Double(epoch - 1) + Double(p.batch) / Double(p.batches), of: total, unit: .epochs,
                             detail: String(format: "epoch %d batch %d/%d  train %.5g  best valid %.5g  %.0f %@/s  epoch ETA %@",
                                            epoch, p.batch, p.batches, p.runningLoss, bestSoFar, rate, unit, duration(eta)))
            }
        } catch let e as TrainingError {
            throw StageFailure("stage '\(ctx.stage)': non-finite values at \(e). The checkpoint after epoch \(state.epoch) is kept in the store; the next `pipeline run` resumes from it once the cause is fixed (a changed parameter starts a new training).")
        }
        trained += count
        try writeCheckpoint(ctx, state, to: checkpointPath)
        let r = state.history.last!
        ctx.note(String(format: "epoch %d: train %.6g, valid %.6g%@, %.0f %@/s", epoch, r.trainLoss, r.validLoss,
                        state.bestEpoch == epoch ? " (best)" : " (best \(String(format: "%.6g", state.bestValidLoss)) at epoch \(state.bestEpoch))",
                        Double(count) / max(r.seconds, 1e-9), unit))
    }
    let stop = loop.stopReason(state)!
    try Data(state.serialized()).write(to: URL(fileURLWithPath: ctx.outputPath("final.ckpt")))
    try lossCSV(state).write(toFile: ctx.outputPath("losses.csv"), atomically: false, encoding: .utf8)
    let outcome = TrainingOutcome(state: state, stop: stop, seconds: Date().timeIntervalSince(started), examplesTrained: trained)
    ctx.note(String(format: "stopped (%@) after %d epochs; best epoch %d, validation loss %.6g → %.6g (%.1f× lower)",
                    stop.rawValue, state.epoch, state.bestEpoch, outcome.initialValidLoss, state.bestValidLoss,
                    outcome.initialValidLoss / state.bestValidLoss))
    return outcome
}

/// Fails the stage unless both the training and the validation set have jets.
func requireTrainingJets(_ ctx: StageContext, train: Int, valid: Int) throws {
    guard train > 0, valid > 0 else {
        throw StageFailure("stage '\(ctx.stage)': \(train) training and \(valid) validation jets; both must be non-empty. Fix: check the `split` stage's fractions.")
    }
}

/// Trains `objective` on the shared loop from `initialParameters(seed)`, the seed derived from the
/// stage's seed and `kind` (as the shuffles are), resuming from a checkpoint if there is one.
func trainFromInitialisation<Objective: TrainingObjective>(_ ctx: StageContext, kind: String, objective: Objective, options: EpochOptions, unit: String,
                                        initialParameters: (UInt64) -> [Double]) throws -> TrainingOutcome {
    let loop = EpochTrainer(objective: objective, options: options, threads: ctx.threads)
    let seed = deriveSeed(try ctx.seed(), kind, "parameters")
    return try runTraining(ctx, loop: loop, unit: unit) { try loop.initialState(parameters: initialParameters(seed)) }
}

/// Writes `training.json`.
func writeTrainingJSON(_ ctx: StageContext, _ report: [String: JSONValue]) throws {
    try (JSONValue.object(report).pretty + "\n").write(toFile: ctx.outputPath("training.json"), atomically: false, encoding: .utf8)
}

/// The fields every `training.json` has, after the model's own.
func trainingReport(_ outcome: TrainingOutcome, options: EpochOptions, train: Int, valid: Int) -> [String: JSONValue] {
    [
        "trainJets": .number(Double(train)), "validJets": .number(Double(valid)),
        "batchSize": .number(Double(options.batchSize)), "learningRate": .number(options.adam.learningRate),
        "maxEpochs": .number(Double(options.maxEpochs)), "patience": .number(Double(options.patience)),
        "epochs": .number(Double(outcome.state.epoch)), "stop": .string(outcome.stop.rawValue),
        "bestEpoch": .number(Double(outcome.state.bestEpoch)),
        "initialValidLoss": .number(outcome.initialValidLoss), "bestValidLoss": .number(outcome.state.bestValidLoss),
        "validLossRatio": .number(outcome.state.bestValidLoss / outcome.initialValidLoss),
    ]
}

/// The stage summary `pipeline show` prints (timings live here, never in outputs).
func trainingSummary(_ outcome: TrainingOutcome, compressionRate: Double, parameters: Int, unit: String) -> JSONValue {
    [
        "epochs": .number(Double(outcome.state.epoch)), "bestEpoch": .number(Double(outcome.state.bestEpoch)),
        "initialValidLoss": .number(outcome.initialValidLoss), "bestValidLoss": .number(outcome.state.bestValidLoss),
        "compressionRate": .number(compressionRate), "parameters": .number(Double(parameters)),
        "trainSeconds": .number(outcome.seconds),
        "train\(unit == "jets" ? "Jets" : "Images")PerSecond": .number(outcome.seconds > 0 ? Double(outcome.examplesTrained) / outcome.seconds : 0),
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
private func writeCheckpoint(_ ctx: StageContext, _ state: TrainingState, to path: String) throws {
    let tmp = path + ".partial"
    try Data(state.serialized()).write(to: URL(fileURLWithPath: tmp))
    guard rename(tmp, path) == 0 else {
        throw StageFailure("stage '\(ctx.stage)': cannot move the checkpoint \(tmp) to \(path): \(String(cString: strerror(errno))). Fix: check the store directory's permissions and free space.")
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

/// "1h02m", "3m05s", "12s".
func duration(_ seconds: Double) -> String {
    guard seconds.isFinite else { return "?" }
    let s = Int(seconds.rounded())
    if s >= 3600 { return String(format: "%dh%02dm", s / 3600, (s % 3600) / 60) }
    if s >= 60 { return String(format: "%dm%02ds", s / 60, s % 60) }
    return "\(s)s"
}
