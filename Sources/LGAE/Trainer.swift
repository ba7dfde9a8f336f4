import Foundation
import SeededRandom
// The shared loop's types (TrainingState, Adam, …) are part of the LGAE's training API.
@_exported import Training

// The LGAE's training (§10) on the shared epoch loop of the Training module (early stopping,
// checkpoints that resume bit for bit): the LGAE objective, the training sets, and the model file.

/// Jets for training or validation: the network inputs and their N×4 targets, both in
/// normalised units (§2.3).
public struct TrainingSet: Sendable {
    public var jets: [JetInput]
    public var targets: [[Double]]

    public init(jets: [JetInput], targets: [[Double]]) {
        precondition(jets.count == targets.count, "TrainingSet: \(jets.count) jets but \(targets.count) targets; give one target per jet")
        self.jets = jets
        self.targets = targets
    }

    public var count: Int { jets.count }
}

/// The settings of one training (§9, §10).
public struct TrainingOptions: Hashable, Sendable {
    public var loss: TrainingLoss
    public var adam: AdamConfiguration
    /// λ of the L1 regulariser (training loss only; 1e-8 in the reference).
    public var l1Lambda: Double
    public var batchSize: Int
    public var maxEpochs: Int
    /// Stop when the validation loss has not improved for more than this many epochs.
    public var patience: Int
    /// Seeds the §7 initialisation.
    public var parameterSeed: UInt64
    /// Seeds the per-epoch shuffles (epoch e shuffles with `Trainer.shuffleGenerator(seed:epoch:)`).
    public var shuffleSeed: UInt64

    public init(loss: TrainingLoss, adam: AdamConfiguration = AdamConfiguration(), l1Lambda: Double = 1e-8,
                batchSize: Int, maxEpochs: Int, patience: Int, parameterSeed: UInt64, shuffleSeed: UInt64) {
        self.loss = loss
        self.adam = adam
        self.l1Lambda = l1Lambda
        self.batchSize = batchSize
        self.maxEpochs = maxEpochs
        self.patience = patience
        self.parameterSeed = parameterSeed
        self.shuffleSeed = shuffleSeed
    }

    /// The settings of the shared epoch loop.
    public var epochOptions: EpochOptions {
        EpochOptions(adam: adam, l1Lambda: l1Lambda, batchSize: batchSize, maxEpochs: maxEpochs, patience: patience, shuffleSeed: shuffleSeed)
    }
}

/// The LGAE as a `TrainingObjective`: its batch loss and gradient (§9, threaded in fixed chunks by
/// `batchLossAndGradient`) and its validation loss.
public struct LGAEObjective: TrainingObjective {
    public let config: LGAEConfig
    public let loss: TrainingLoss
    public let train: TrainingSet
    public let valid: TrainingSet
    let layout: ParameterLayout
    private let workspace: TrainingWorkspace

    public init(config: LGAEConfig, loss: TrainingLoss, train: TrainingSet, valid: TrainingSet, threads: Int) {
        precondition(train.count > 0 && valid.count > 0, "LGAEObjective: needs at least one training and one validation jet, got \(train.count) and \(valid.count)")
        self.config = config
        self.loss = loss
        self.train = train
        self.valid = valid
        layout = ParameterLayout(config: config)
        // The workspace only needs the configuration's shapes, not initialised parameters.
        workspace = TrainingWorkspace(model: LGAEModel(config: config, parameters: [Double](repeating: 0, count: layout.count)),
                                      threads: max(1, threads))
    }

    public var parameterCount: Int { layout.count }
    public var trainingExamples: Int { train.count }
    public var lossName: String { "\(loss)" }

    public func batchLossAndGradient(parameters: [Double], examples: ArraySlice<Int>, threads: Int) -> BatchLossAndGradient {
        let jets = examples.map { train.jets[$0] }, targets = examples.map { train.targets[$0] }
        let (value, gradients) = LGAE.batchLossAndGradient(model: LGAEModel(config: config, parameters: parameters), jets: jets, targets: targets,
                                                           loss: loss, threads: min(threads, workspace.threads), workspace: workspace)
        // Chamfer is summed over the batch and MSE averaged: both become per-jet sums here.
        return BatchLossAndGradient(loss: value, exampleLossSum: loss == .chamfer ? value : value * Double(jets.count),
                                    gradient: gradients.values)
    }

    public func validationLoss(parameters: [Double], threads: Int) -> Double {
        meanLoss(model: LGAEModel(config: config, parameters: parameters), set: valid, loss: loss, threads: threads)
    }

    public func parameterName(_ x: Int) -> String {
        layout.parameterName(x)
    }
}

/// The LGAE's training (§10): the shared epoch loop over `LGAEObjective`, initialised by §7.
public struct Trainer: Sendable {
    public let config: LGAEConfig
    public let options: TrainingOptions
    public let loop: EpochTrainer<LGAEObjective>
    public var train: TrainingSet { loop.objective.train }
    public var valid: TrainingSet { loop.objective.valid }
    public var threads: Int { loop.threads }

    public init(config: LGAEConfig, options: TrainingOptions, train: TrainingSet, valid: TrainingSet, threads: Int) {
        self.config = config
        self.options = options
        loop = EpochTrainer(objective: LGAEObjective(config: config, loss: options.loss, train: train, valid: valid, threads: threads),
                            options: options.epochOptions, threads: threads)
    }

    public var batchesPerEpoch: Int { loop.batchesPerEpoch }

    /// See `EpochTrainer.shuffleGenerator(seed:epoch:)`.
    public static func shuffleGenerator(seed: UInt64, epoch: Int) -> Xoshiro256StarStar {
        EpochTrainer<LGAEObjective>.shuffleGenerator(seed: seed, epoch: epoch)
    }

    /// The §7 initialisation, validated once (epoch 0 of the loss curve).
    public func initialState() throws -> TrainingState {
        try loop.initialState(parameters: LGAEModel(config: config, seed: options.parameterSeed).parameters)
    }

    public func stopReason(_ state: TrainingState) -> TrainingStop? { loop.stopReason(state) }

    public func runEpoch(_ state: inout TrainingState, onBatch: (BatchProgress) -> Void = { _ in }) throws {
        try loop.runEpoch(&state, onBatch: onBatch)
    }

    /// The mean per-jet validation loss (no regulariser) of `parameters`.
    public func validationLoss(parameters: [Double]) -> Double {
        loop.objective.validationLoss(parameters: parameters, threads: threads)
    }
}

/// The mean per-jet loss of §9 over a set (Chamfer of each jet, or each jet's MSE over its N·4
/// entries), forward passes only. The per-jet losses are computed in parallel and summed in jet
/// order, so the result is the same for every thread count.
public func meanLoss(model: LGAEModel, set: TrainingSet, loss: TrainingLoss, threads: Int) -> Double {
    let perJet = perJetLosses(model: model, set: set, loss: loss, threads: threads)
    return perJet.reduce(0, +) / Double(perJet.count)
}

/// Each jet's loss (see `meanLoss`).
public func perJetLosses(model: LGAEModel, set: TrainingSet, loss: TrainingLoss, threads: Int) -> [Double] {
    let n = model.config.particleCount
    var losses = [Double](repeating: 0, count: set.count)
    losses.withUnsafeMutableBufferPointer { out in
        nonisolated(unsafe) let out = out
        forEachJet(model: model, count: set.count, threads: threads) { b, encoderCache, decoderCache in
            model.reconstruct(set.jets[b], encoderCache: encoderCache, decoderCache: decoderCache)
            let x = decoderCache.output.array
            switch loss {
            case .chamfer: out[b] = chamferLoss(reconstruction: x, target: set.targets[b], particles: n)
            case .mse: out[b] = mseLoss(reconstruction: x, target: set.targets[b])
            }
        }
    }
    return losses
}

/// Calls `body(j, encoderCache, decoderCache)` for every jet j in 0..<count on up to `threads`
/// workers, worker w taking jets w, w + workers, …, each with its own caches. `body` must write
/// only jet j's own result slot; then the results do not depend on the thread count.
func forEachJet(model: LGAEModel, count: Int, threads: Int,
                _ body: @Sendable (Int, EncoderCache, DecoderCache) -> Void) {
    let workers = max(1, min(threads, count))
    DispatchQueue.concurrentPerform(iterations: workers) { w in
        let encoderCache = model.makeEncoderCache(), decoderCache = model.makeDecoderCache()
        var j = w
        while j < count {
            body(j, encoderCache, decoderCache)
            j += workers
        }
    }
}

extension LGAEModel {
    private static let magic = "LGAEMODL"

    /// The model as bytes: its configuration and parameters (see Training/Checkpoint.swift). Deterministic.
    public func serialized() -> [UInt8] {
        modelFileBytes(magic: LGAEModel.magic, config: config, parameters: parameters)
    }

    /// Reads a model written by `serialized()`.
    public init(serialized bytes: [UInt8]) throws {
        let (config, parameters) = try readModelFile(bytes, magic: LGAEModel.magic, what: "LGAE model file", as: LGAEConfig.self) {
            try $0.validate()
            return ParameterLayout(config: $0).count
        }
        self.init(config: config, parameters: parameters)
    }
}
