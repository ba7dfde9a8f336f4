import Foundation
import SeededRandom

// The training loop of §10: epochs of shuffled mini-batches, validation after every epoch, early
// stopping with patience, the best epoch's parameters kept. Everything the loop needs to go on is
// one value, `TrainingState`, which serialises to bytes; a run that is stopped after any epoch and
// resumed from those bytes ends bit-identical to a run that never stopped, because every random
// choice is a pure function of (seed, epoch) and every sum has a fixed order.

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
}

/// One row of the loss curve. Both losses are per-jet means without the regulariser: Chamfer
/// summed over a jet's particles (§9) averaged over jets, or the MSE of a jet averaged over jets
/// (which is the MSE over all entries).
public struct EpochRecord: Hashable, Sendable {
    public var epoch: Int
    /// The mean training loss over the epoch's batches (the parameters move during the epoch);
    /// NaN for epoch 0, the untrained model.
    public var trainLoss: Double
    public var validLoss: Double
    /// Seconds the epoch took, for progress only: it is not serialised (a checkpoint must not
    /// depend on timing) and reads back as 0.
    public var seconds: Double
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
    public let jetsDone: Int
    /// Mean training loss per jet so far in this epoch.
    public let runningLoss: Double
}

public struct Trainer: Sendable {
    public let config: LGAEConfig
    public let options: TrainingOptions
    public let train: TrainingSet
    public let valid: TrainingSet
    public let threads: Int
    private let workspace: TrainingWorkspace

    public init(config: LGAEConfig, options: TrainingOptions, train: TrainingSet, valid: TrainingSet, threads: Int) {
        precondition(options.batchSize >= 1 && options.maxEpochs >= 0 && options.patience >= 0,
                     "Trainer: batchSize must be ≥ 1 and maxEpochs, patience ≥ 0; got \(options.batchSize), \(options.maxEpochs), \(options.patience)")
        precondition(train.count > 0 && valid.count > 0, "Trainer: needs at least one training and one validation jet, got \(train.count) and \(valid.count)")
        self.config = config
        self.options = options
        self.train = train
        self.valid = valid
        self.threads = max(1, threads)
        // The workspace only needs the configuration's shapes, not initialised parameters.
        let layout = ParameterLayout(config: config)
        workspace = TrainingWorkspace(model: LGAEModel(config: config, parameters: [Double](repeating: 0, count: layout.count)),
                                      threads: self.threads)
    }

    public var batchesPerEpoch: Int { (train.count + options.batchSize - 1) / options.batchSize }

    /// The generator that shuffles epoch `epoch` (1-based): xoshiro256** seeded with
    /// seed ⊕ epoch·0x9E3779B97F4A7C15, so that any epoch's order is known without replaying
    /// the ones before it.
    public static func shuffleGenerator(seed: UInt64, epoch: Int) -> Xoshiro256StarStar {
        Xoshiro256StarStar(seed: seed ^ (UInt64(epoch) &* 0x9E37_79B9_7F4A_7C15))
    }

    /// The §7 initialisation, validated once (epoch 0 of the loss curve).
    public func initialState() throws -> TrainingState {
        let model = LGAEModel(config: config, seed: options.parameterSeed)
        let validLoss = validationLoss(parameters: model.parameters)
        guard validLoss.isFinite else {
            throw TrainingError(epoch: 0, batch: 0, batches: 0, detail: "the validation loss of the initialised model is \(validLoss); check the validation jets for NaN/Inf or zero normalisation")
        }
        return TrainingState(epoch: 0, parameters: model.parameters,
                             optimiser: Adam(parameterCount: model.parameters.count, configuration: options.adam),
                             bestParameters: model.parameters, bestValidLoss: validLoss, bestEpoch: 0, stale: 0,
                             history: [EpochRecord(epoch: 0, trainLoss: .nan, validLoss: validLoss, seconds: 0)])
    }

    /// Nil while the training should go on.
    public func stopReason(_ state: TrainingState) -> TrainingStop? {
        if state.epoch >= options.maxEpochs { return .maxEpochs }
        if state.stale > options.patience { return .earlyStopping }
        return nil
    }

    /// One epoch: shuffled mini-batches with one Adam step each, then the validation loss and
    /// the early-stopping bookkeeping of §10. `state` is changed only if the epoch completes.
    public func runEpoch(_ state: inout TrainingState, onBatch: (BatchProgress) -> Void = { _ in }) throws {
        let start = Date()
        let epoch = state.epoch + 1
        var rng = Trainer.shuffleGenerator(seed: options.shuffleSeed, epoch: epoch)
        let order = fisherYatesPermutation(count: train.count, rng: &rng)
        var model = LGAEModel(config: config, parameters: state.parameters)
        var optimiser = state.optimiser
        let batches = batchesPerEpoch
        var lossSum = 0.0, jetsDone = 0
        for b in 0..<batches {
            let indices = order[(b * options.batchSize)..<min(train.count, (b + 1) * options.batchSize)]
            let jets = indices.map { train.jets[$0] }, targets = indices.map { train.targets[$0] }
            let result: TrainingStepResult
            do {
                result = try trainStep(model: &model, optimiser: &optimiser, jets: jets, targets: targets,
                                       loss: options.loss, l1Lambda: options.l1Lambda, threads: threads, workspace: workspace)
            } catch let e as TrainingStepError {
                throw TrainingError(epoch: epoch, batch: b + 1, batches: batches, detail: e.description)
            }
            // Chamfer is summed over the batch and MSE averaged: both become per-jet sums here.
            lossSum += options.loss == .chamfer ? result.loss : result.loss * Double(jets.count)
            jetsDone += jets.count
            onBatch(BatchProgress(epoch: epoch, batch: b + 1, batches: batches, jetsDone: jetsDone, runningLoss: lossSum / Double(jetsDone)))
        }
        let validLoss = validationLoss(parameters: model.parameters)
        guard validLoss.isFinite else {
            throw TrainingError(epoch: epoch, batch: batches, batches: batches, detail: "the validation loss after the epoch is \(validLoss); lower the learning rate or resume from the last checkpoint")
        }
        state.epoch = epoch
        state.parameters = model.parameters
        state.optimiser = optimiser
        if validLoss < state.bestValidLoss {
            state.bestValidLoss = validLoss
            state.bestParameters = model.parameters
            state.bestEpoch = epoch
            state.stale = 0
        } else {
            state.stale += 1
        }
        state.history.append(EpochRecord(epoch: epoch, trainLoss: lossSum / Double(jetsDone), validLoss: validLoss,
                                         seconds: Date().timeIntervalSince(start)))
    }

    /// The mean per-jet validation loss (no regulariser) of `parameters`.
    public func validationLoss(parameters: [Double]) -> Double {
        meanLoss(model: LGAEModel(config: config, parameters: parameters), set: valid, loss: options.loss, threads: threads)
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

// MARK: - Bytes

/// A byte string that cannot be read back as what it claims to be.
public struct CheckpointFormatError: Error, CustomStringConvertible, Equatable {
    public let detail: String
    public var description: String { detail }
}

/// Little-endian writer and reader for the checkpoint formats. Doubles are stored as their bit
/// patterns, so a value read back is the value written.
struct ByteWriter {
    var bytes: [UInt8] = []
    mutating func append<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }
    mutating func append(_ value: Double) { append(value.bitPattern) }
    mutating func append(_ values: [Double]) {
        append(UInt64(values.count))
        for v in values { append(v.bitPattern) }
    }
    mutating func append(blob: [UInt8]) {
        append(UInt64(blob.count))
        bytes.append(contentsOf: blob)
    }
}

struct ByteReader {
    let bytes: [UInt8]
    let what: String
    var offset = 0

    mutating func read<T: FixedWidthInteger>(_: T.Type) throws -> T {
        let size = MemoryLayout<T>.size
        guard offset + size <= bytes.count else { throw truncated() }
        var value = T.zero
        withUnsafeMutableBytes(of: &value) { target in
            for k in 0..<size { target[k] = bytes[offset + k] }
        }
        offset += size
        return T(littleEndian: value)
    }
    mutating func readDouble() throws -> Double { Double(bitPattern: try read(UInt64.self)) }
    mutating func readCount(elementSize: Int) throws -> Int {
        let n = try read(UInt64.self)
        guard n <= UInt64((bytes.count - offset) / max(elementSize, 1)) else { throw truncated() }
        return Int(n)
    }
    mutating func readDoubles() throws -> [Double] {
        let n = try readCount(elementSize: 8)
        return try (0..<n).map { _ in try readDouble() }
    }
    mutating func readBlob() throws -> [UInt8] {
        let n = try readCount(elementSize: 1)
        defer { offset += n }
        return Array(bytes[offset..<(offset + n)])
    }
    mutating func expectMagic(_ magic: String, version: UInt32) throws {
        let m = Array(magic.utf8)
        guard bytes.count >= m.count + 4, Array(bytes[0..<m.count]) == m else {
            throw CheckpointFormatError(detail: "\(what): expected the magic bytes \"\(magic)\", found \(Array(bytes.prefix(m.count))); the file is not a \(what)")
        }
        offset = m.count
        let v = try read(UInt32.self)
        guard v == version else {
            throw CheckpointFormatError(detail: "\(what): format version \(v), this build reads version \(version); re-create it with this build")
        }
    }
    func expectEnd() throws {
        guard offset == bytes.count else {
            throw CheckpointFormatError(detail: "\(what): \(bytes.count - offset) unexpected bytes after the end; the file is corrupt")
        }
    }
    func truncated() -> CheckpointFormatError {
        CheckpointFormatError(detail: "\(what): the data end at byte \(bytes.count) before the record does (offset \(offset)); the file is truncated or corrupt")
    }
}

extension TrainingState {
    // Format: "LGAETRST", UInt32 version 1, UInt64 epoch, best epoch, stale; f64 best validation
    // loss; UInt64 history count then per row UInt64 epoch, f64 train, f64 valid;
    // parameters and best parameters as (UInt64 count, f64…); the Adam state as a length-prefixed blob.
    private static let magic = "LGAETRST"

    public func serialized() -> [UInt8] {
        var w = ByteWriter()
        w.bytes = Array(TrainingState.magic.utf8)
        w.append(UInt32(1))
        w.append(UInt64(epoch))
        w.append(UInt64(bestEpoch))
        w.append(UInt64(stale))
        w.append(bestValidLoss)
        w.append(UInt64(history.count))
        for r in history {
            w.append(UInt64(r.epoch))
            w.append(r.trainLoss)
            w.append(r.validLoss)
        }
        w.append(parameters)
        w.append(bestParameters)
        w.append(blob: optimiser.serialized())
        return w.bytes
    }

    public init(serialized bytes: [UInt8]) throws {
        var r = ByteReader(bytes: bytes, what: "training checkpoint")
        try r.expectMagic(TrainingState.magic, version: 1)
        epoch = Int(try r.read(UInt64.self))
        bestEpoch = Int(try r.read(UInt64.self))
        stale = Int(try r.read(UInt64.self))
        bestValidLoss = try r.readDouble()
        let rows = try r.readCount(elementSize: 24)
        history = try (0..<rows).map { _ in
            EpochRecord(epoch: Int(try r.read(UInt64.self)), trainLoss: try r.readDouble(), validLoss: try r.readDouble(), seconds: 0)
        }
        parameters = try r.readDoubles()
        bestParameters = try r.readDoubles()
        do {
            optimiser = try Adam(serialized: try r.readBlob())
        } catch let e as AdamStateError {
            throw CheckpointFormatError(detail: "training checkpoint: \(e.description)")
        }
        try r.expectEnd()
        guard bestParameters.count == parameters.count, optimiser.parameterCount == parameters.count,
              history.count == epoch + 1 else {
            throw CheckpointFormatError(detail: "training checkpoint: inconsistent record (\(parameters.count) parameters, \(bestParameters.count) best, Adam \(optimiser.parameterCount), \(history.count) loss rows for epoch \(epoch)); the file is corrupt")
        }
    }
}

extension LGAEModel {
    // Format: "LGAEMODL", UInt32 version 1, the configuration as JSON with sorted keys
    // (length-prefixed), then the parameters as (UInt64 count, f64…).
    private static let magic = "LGAEMODL"

    /// The model as bytes: its configuration and parameters. Deterministic.
    public func serialized() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        // Encoding a struct of numbers, strings and arrays cannot fail.
        let json = try! encoder.encode(config)
        var w = ByteWriter()
        w.bytes = Array(LGAEModel.magic.utf8)
        w.append(UInt32(1))
        w.append(blob: Array(json))
        w.append(parameters)
        return w.bytes
    }

    /// Reads a model written by `serialized()`.
    public init(serialized bytes: [UInt8]) throws {
        var r = ByteReader(bytes: bytes, what: "LGAE model file")
        try r.expectMagic(LGAEModel.magic, version: 1)
        let json = try r.readBlob()
        let config: LGAEConfig
        do {
            config = try JSONDecoder().decode(LGAEConfig.self, from: Data(json))
            try config.validate()
        } catch {
            throw CheckpointFormatError(detail: "LGAE model file: the configuration cannot be read (\(error)); the file is corrupt or from another version")
        }
        let parameters = try r.readDoubles()
        try r.expectEnd()
        let expected = ParameterLayout(config: config).count
        guard parameters.count == expected else {
            throw CheckpointFormatError(detail: "LGAE model file: \(parameters.count) parameters, but its configuration needs \(expected); the file is corrupt")
        }
        self.init(config: config, parameters: parameters)
    }
}
