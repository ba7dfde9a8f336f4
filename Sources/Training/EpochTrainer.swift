import Foundation
import SeededRandom

// The training loop shared by the LGAE and the baselines (lgae.md §10, §12): epochs of shuffled
// mini-batches, one Adam step per batch on the data loss plus an L1 penalty, validation after every
// epoch, early stopping with patience, the best epoch's parameters kept. The loop knows nothing
// about the model: a `TrainingObjective` gives the loss and gradient of a batch of examples and the
// validation loss; everything else lives here once.
//
// Everything the loop needs to go on is one value, `TrainingState`, which serialises to bytes; a
// run that is stopped after any epoch and resumed from those bytes ends bit-identical to one that
// never stopped, because every random choice is a pure function of (seed, epoch) and every sum has
// a fixed order (objectives sum their examples in fixed chunks, see `ChunkedGradientSum`).

/// A model and its data as the training loop sees them.
public protocol TrainingObjective: Sendable {
    /// The length of the flat parameter buffer.
    var parameterCount: Int { get }
    /// Examples (jets or images) in the training set; batches index into 0..<trainingExamples.
    var trainingExamples: Int { get }
    /// The data loss's name in messages, e.g. "chamfer".
    var lossName: String { get }
    /// The batch's data loss (as the reference reduces it: a sum or a mean over the batch), the sum
    /// of the examples' own losses (for the epoch's mean training loss), and the gradient of the
    /// data loss. Must give the same bits for every `threads`.
    func batchLossAndGradient(parameters: [Double], examples: ArraySlice<Int>, threads: Int) -> BatchLossAndGradient
    /// The mean per-example validation loss, no regulariser; the same bits for every `threads`.
    func validationLoss(parameters: [Double], threads: Int) -> Double
    /// A parameter's name for messages, e.g. "encoder.level0.mix[12]".
    func parameterName(_ index: Int) -> String
}

/// A named block of a model's flat parameter buffer (e.g. "encoder.level0.mix").
public protocol NamedParameterBlock {
    var name: String { get }
    var offset: Int { get }
    var range: Range<Int> { get }
}

/// "block[index]" for parameter offset `x` of a layout with these blocks, for messages.
public func parameterName<Block: NamedParameterBlock>(_ x: Int, in blocks: [Block]) -> String {
    guard let block = blocks.first(where: { $0.range.contains(x) }) else { return "offset \(x)" }
    return "\(block.name)[\(x - block.offset)]"
}

public struct BatchLossAndGradient: Sendable {
    public var loss: Double
    public var exampleLossSum: Double
    public var gradient: [Double]

    public init(loss: Double, exampleLossSum: Double, gradient: [Double]) {
        self.loss = loss
        self.exampleLossSum = exampleLossSum
        self.gradient = gradient
    }
}

/// The loop's settings: optimiser, regulariser, batches, stopping, shuffles.
public struct EpochOptions: Hashable, Sendable {
    public var adam: AdamConfiguration
    /// λ of the L1 regulariser (training loss only; 1e-8 in the references).
    public var l1Lambda: Double
    public var batchSize: Int
    public var maxEpochs: Int
    /// Stop when the validation loss has not improved for more than this many epochs.
    public var patience: Int
    /// Seeds the per-epoch shuffles (see `EpochTrainer.shuffleGenerator(seed:epoch:)`).
    public var shuffleSeed: UInt64

    public init(adam: AdamConfiguration = AdamConfiguration(), l1Lambda: Double = 1e-8, batchSize: Int, maxEpochs: Int,
                patience: Int, shuffleSeed: UInt64) {
        self.adam = adam
        self.l1Lambda = l1Lambda
        self.batchSize = batchSize
        self.maxEpochs = maxEpochs
        self.patience = patience
        self.shuffleSeed = shuffleSeed
    }
}

/// One row of the loss curve: per-example means without the regulariser.
public struct EpochRecord: Hashable, Sendable {
    public var epoch: Int
    /// The mean training loss over the epoch's batches (the parameters move during the epoch);
    /// NaN for epoch 0, the untrained model.
    public var trainLoss: Double
    public var validLoss: Double
    /// Seconds the epoch took, for progress only: it is not serialised (a checkpoint must not
    /// depend on timing) and reads back as 0.
    public var seconds: Double

    public init(epoch: Int, trainLoss: Double, validLoss: Double, seconds: Double) {
        self.epoch = epoch
        self.trainLoss = trainLoss
        self.validLoss = validLoss
        self.seconds = seconds
    }
}

/// Everything a training needs to continue after an epoch.
public struct TrainingState: Sendable, Equatable {
    /// Epochs completed (0: initialised and validated, not trained).
    public var epoch: Int
    public var parameters: [Double]
    public var optimiser: Adam
    public var bestParameters: [Double]
    public var bestValidLoss: Double
    public var bestEpoch: Int
    /// Epochs since the last improvement.
    public var stale: Int
    /// Epoch 0 (untrained) to `epoch`.
    public var history: [EpochRecord]

    public static func == (a: TrainingState, b: TrainingState) -> Bool {
        a.serialized() == b.serialized()
    }
}

/// Why a training stopped.
public enum TrainingStop: String, Sendable {
    case maxEpochs = "max-epochs"
    case earlyStopping = "early-stopping"
}

/// A non-finite loss or gradient during training, with where it happened. The state before the
/// failing batch's epoch is whatever the caller last checkpointed.
public struct TrainingError: Error, CustomStringConvertible {
    public let epoch: Int
    public let batch: Int
    public let batches: Int
    public let detail: String
    public var description: String {
        "epoch \(epoch), batch \(batch) of \(batches): \(detail)"
    }
}

/// Progress inside an epoch, for the caller's display.
public struct BatchProgress: Sendable {
    public let epoch: Int
    public let batch: Int
    public let batches: Int
    /// Examples (jets or images) trained on so far in this epoch.
    public let jetsDone: Int
    /// Mean training loss per example so far in this epoch.
    public let runningLoss: Double
}

/// A training step that produced a non-finite loss or gradient; the parameters and optimiser were
/// left as they were before the step. The caller adds the epoch and batch.
public struct TrainingStepError: Error, CustomStringConvertible, Equatable {
    /// The Adam step that failed (1 for the first update).
    public let step: Int
    public let detail: String

    public init(step: Int, detail: String) {
        self.step = step
        self.detail = detail
    }

    public var description: String {
        "training step \(step): \(detail); lower the learning rate, check the batch's jets for NaN/Inf or zero normalisation, or resume from the last checkpoint"
    }
}

/// The losses of one training step, before the update.
public struct TrainingStepResult: Hashable, Sendable {
    /// The data loss, as validation reports it for the batch (sum or mean, per the objective).
    public let loss: Double
    /// λ·Σ|θ|, the L1 penalty (training only).
    public let regulariser: Double
    /// loss + regulariser, the quantity whose gradient the step followed.
    public var total: Double { loss + regulariser }

    public init(loss: Double, regulariser: Double) {
        self.loss = loss
        self.regulariser = regulariser
    }
}

/// The training-only L1 regulariser: λ·Σ|θ| over every parameter (λ = 1e-8 in the references).
/// ADDS its gradient λ·sign(θ) to `gradient` (sign(0) = 0, as torch.sign); returns the penalty.
public func addL1Regulariser(parameters: [Double], lambda: Double, gradient: inout [Double]) -> Double {
    precondition(parameters.count == gradient.count,
                 "addL1Regulariser: \(parameters.count) parameters but a gradient of \(gradient.count); both must follow one layout")
    var sum = 0.0
    for x in parameters.indices {
        let theta = parameters[x]
        sum += abs(theta)
        gradient[x] += theta > 0 ? lambda : (theta < 0 ? -lambda : 0)
    }
    return lambda * sum
}

/// The update after a batch's loss and gradient are known: the L1 term added to the gradient, the
/// loss and every gradient checked for NaN/Inf (naming the offending parameter), then one Adam
/// update. Nothing changes if it throws.
public func optimisationStep(parameters: inout [Double], optimiser: inout Adam, dataLoss: Double, gradient: inout [Double],
                             l1Lambda: Double, describeLoss: () -> String,
                             parameterName: (Int) -> String) throws -> TrainingStepResult {
    precondition(optimiser.parameterCount == parameters.count,
                 "optimisationStep: the Adam state is for \(optimiser.parameterCount) parameters but there are \(parameters.count); make it with Adam(parameterCount:) for this model")
    let step = optimiser.step + 1
    guard dataLoss.isFinite else {
        throw TrainingStepError(step: step, detail: "\(describeLoss()) is \(dataLoss)")
    }
    let regulariser = addL1Regulariser(parameters: parameters, lambda: l1Lambda, gradient: &gradient)
    if let x = gradient.firstIndex(where: { !$0.isFinite }) {
        throw TrainingStepError(step: step, detail: "the gradient of parameter \(parameterName(x)) is \(gradient[x])")
    }
    optimiser.update(parameters: &parameters, gradient: gradient)
    return TrainingStepResult(loss: dataLoss, regulariser: regulariser)
}

/// The epoch loop over any `TrainingObjective`.
public struct EpochTrainer<Objective: TrainingObjective>: Sendable {
    public let objective: Objective
    public let options: EpochOptions
    public let threads: Int

    public init(objective: Objective, options: EpochOptions, threads: Int) {
        precondition(options.batchSize >= 1 && options.maxEpochs >= 0 && options.patience >= 0,
                     "EpochTrainer: batchSize must be ≥ 1 and maxEpochs, patience ≥ 0; got \(options.batchSize), \(options.maxEpochs), \(options.patience)")
        precondition(objective.trainingExamples > 0, "EpochTrainer: needs at least one training example")
        self.objective = objective
        self.options = options
        self.threads = max(1, threads)
    }

    public var batchesPerEpoch: Int { (objective.trainingExamples + options.batchSize - 1) / options.batchSize }

    /// The generator that shuffles epoch `epoch` (1-based): xoshiro256** seeded with
    /// seed ⊕ epoch·0x9E3779B97F4A7C15, so that any epoch's order is known without replaying
    /// the ones before it.
    public static func shuffleGenerator(seed: UInt64, epoch: Int) -> Xoshiro256StarStar {
        Xoshiro256StarStar(seed: seed ^ (UInt64(epoch) &* 0x9E37_79B9_7F4A_7C15))
    }

    /// The untrained `parameters`, validated once (epoch 0 of the loss curve).
    public func initialState(parameters: [Double]) throws -> TrainingState {
        precondition(parameters.count == objective.parameterCount,
                     "EpochTrainer.initialState: \(parameters.count) parameters, the objective has \(objective.parameterCount)")
        let validLoss = objective.validationLoss(parameters: parameters, threads: threads)
        guard validLoss.isFinite else {
            throw TrainingError(epoch: 0, batch: 0, batches: 0, detail: "the validation loss of the initialised model is \(validLoss); check the validation jets for NaN/Inf or zero normalisation")
        }
        return TrainingState(epoch: 0, parameters: parameters,
                             optimiser: Adam(parameterCount: parameters.count, configuration: options.adam),
                             bestParameters: parameters, bestValidLoss: validLoss, bestEpoch: 0, stale: 0,
                             history: [EpochRecord(epoch: 0, trainLoss: .nan, validLoss: validLoss, seconds: 0)])
    }

    /// Nil while the training should go on.
    public func stopReason(_ state: TrainingState) -> TrainingStop? {
        if state.epoch >= options.maxEpochs { return .maxEpochs }
        if state.stale > options.patience { return .earlyStopping }
        return nil
    }

    /// One optimisation step on the examples `batch`.
    public func step(parameters: inout [Double], optimiser: inout Adam, batch: ArraySlice<Int>) throws -> (TrainingStepResult, exampleLossSum: Double) {
        var result = objective.batchLossAndGradient(parameters: parameters, examples: batch, threads: threads)
        let step = try optimisationStep(parameters: &parameters, optimiser: &optimiser, dataLoss: result.loss, gradient: &result.gradient,
                                        l1Lambda: options.l1Lambda,
                                        describeLoss: { "the \(objective.lossName) loss of the batch of \(batch.count) jets" },
                                        parameterName: objective.parameterName)
        return (step, result.exampleLossSum)
    }

    /// One epoch: shuffled mini-batches with one Adam step each, then the validation loss and
    /// the early-stopping bookkeeping. `state` is changed only if the epoch completes.
    public func runEpoch(_ state: inout TrainingState, onBatch: (BatchProgress) -> Void = { _ in }) throws {
        let start = Date()
        let epoch = state.epoch + 1
        let count = objective.trainingExamples
        var rng = EpochTrainer.shuffleGenerator(seed: options.shuffleSeed, epoch: epoch)
        let order = fisherYatesPermutation(count: count, rng: &rng)
        var parameters = state.parameters
        var optimiser = state.optimiser
        let batches = batchesPerEpoch
        var lossSum = 0.0, done = 0
        for b in 0..<batches {
            let batch = order[(b * options.batchSize)..<min(count, (b + 1) * options.batchSize)]
            do {
                let (_, exampleLosses) = try step(parameters: &parameters, optimiser: &optimiser, batch: batch)
                lossSum += exampleLosses
            } catch let e as TrainingStepError {
                throw TrainingError(epoch: epoch, batch: b + 1, batches: batches, detail: e.description)
            }
            done += batch.count
            onBatch(BatchProgress(epoch: epoch, batch: b + 1, batches: batches, jetsDone: done, runningLoss: lossSum / Double(done)))
        }
        let validLoss = objective.validationLoss(parameters: parameters, threads: threads)
        guard validLoss.isFinite else {
            throw TrainingError(epoch: epoch, batch: batches, batches: batches, detail: "the validation loss after the epoch is \(validLoss); lower the learning rate or resume from the last checkpoint")
        }
        state.epoch = epoch
        state.parameters = parameters
        state.optimiser = optimiser
        if validLoss < state.bestValidLoss {
            state.bestValidLoss = validLoss
            state.bestParameters = parameters
            state.bestEpoch = epoch
            state.stale = 0
        } else {
            state.stale += 1
        }
        state.history.append(EpochRecord(epoch: epoch, trainLoss: lossSum / Double(done), validLoss: validLoss,
                                         seconds: Date().timeIntervalSince(start)))
    }
}

/// Sums per-example losses and gradients over a batch on several threads with the same bits for
/// every thread count. Floating-point addition is not associative, so the examples are cut into
/// fixed chunks of `chunkSize` consecutive examples whatever the thread count; each chunk adds its
/// examples in order into its own gradient buffer, and the buffers are then summed in chunk order.
/// Buffers are allocated once and reused batch after batch; one batch at a time.
public final class ChunkedGradientSum: @unchecked Sendable {
    public let parameterCount: Int
    public let chunkSize: Int
    public let threads: Int
    private var buffers: UnsafeMutablePointer<Double>
    private var losses: UnsafeMutablePointer<Double>
    private var capacity = 0

    public init(parameterCount: Int, threads: Int, chunkSize: Int = 8) {
        precondition(parameterCount >= 0 && threads >= 1 && chunkSize >= 1,
                     "ChunkedGradientSum: need parameterCount ≥ 0, threads ≥ 1, chunkSize ≥ 1; got \(parameterCount), \(threads), \(chunkSize)")
        self.parameterCount = parameterCount
        self.threads = threads
        self.chunkSize = chunkSize
        buffers = .allocate(capacity: 1)
        losses = .allocate(capacity: 1)
    }

    deinit {
        buffers.deallocate()
        losses.deallocate()
    }

    /// Calls `chunk(examples, worker, gradient)` for consecutive ranges of at most `chunkSize`
    /// positions of 0..<count, on up to `threads` workers (worker w in 0..<threads takes chunks
    /// w, w + workers, …, so per-worker scratch indexed by w is never shared). `chunk` ADDS the
    /// gradients of its examples, in order, into the zeroed `gradient` and returns the sum of
    /// their losses. Returns the loss sum and the gradient sum, both in chunk order.
    public func sum(count: Int, threads requested: Int,
                    _ chunk: @Sendable (Range<Int>, Int, UnsafeMutableBufferPointer<Double>) -> Double) -> (loss: Double, gradient: [Double]) {
        precondition(requested >= 1 && requested <= threads, "ChunkedGradientSum: threads = \(requested), made for \(threads)")
        let chunks = (count + chunkSize - 1) / chunkSize
        if chunks > capacity {
            buffers.deallocate()
            losses.deallocate()
            buffers = .allocate(capacity: max(1, chunks * parameterCount))
            losses = .allocate(capacity: chunks)
            capacity = chunks
        }
        buffers.initialize(repeating: 0, count: chunks * parameterCount)
        nonisolated(unsafe) let base = buffers, lossSlots = losses
        let p = parameterCount, size = chunkSize
        let workers = max(1, min(requested, chunks))
        @Sendable func run(_ c: Int, _ w: Int) {
            let range = (c * size)..<min(count, (c + 1) * size)
            lossSlots[c] = chunk(range, w, UnsafeMutableBufferPointer(start: base + c * p, count: p))
        }
        if workers == 1 {
            for c in 0..<chunks { run(c, 0) }
        } else {
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                var c = w
                while c < chunks {
                    run(c, w)
                    c += workers
                }
            }
        }
        var total = [Double](repeating: 0, count: p)
        var loss = 0.0
        for c in 0..<chunks {
            loss += lossSlots[c]
            let g = base + c * p
            for x in 0..<p { total[x] += g[x] }
        }
        return (loss, total)
    }
}
