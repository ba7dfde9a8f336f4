import Foundation
import Training

// The baselines on the shared training loop (Training/EpochTrainer.swift): each model is a
// `TrainingObjective` whose batch gradient is summed in fixed chunks by `ChunkedGradientSum`, so
// training is deterministic for every thread count and resumes bit for bit, exactly like the LGAE.
// Batch reductions follow the references: the GNNAE's Chamfer losses are summed over the batch and
// its MSE averaged (nn.MSELoss over B·N·3 entries); Keras averages the CNNAE's per-image MSE.

/// Training examples of one fixed size stored one after another: GNNAE jets as N × 3 relative
/// polar features (pT_rel, η_rel, φ_rel), zero-padded, or CNNAE images of S × S pixels. An
/// autoencoder reconstructs its input, so the examples are also the targets.
public struct FlatExamples: Sendable {
    public let count: Int
    /// Numbers per example.
    public let width: Int
    public let values: [Double]

    public init(values: [Double], width: Int) {
        precondition(width >= 1 && values.count % width == 0,
                     "FlatExamples: \(values.count) numbers are not a whole number of examples of \(width)")
        self.values = values
        self.width = width
        count = values.count / width
    }
}

public struct GNNAEObjective: TrainingObjective {
    public let config: GNNAEConfig
    public let loss: GNNAELoss
    public let train: FlatExamples
    public let valid: FlatExamples
    let layout: GNNAEParameterLayout
    private let sums: ChunkedGradientSum
    private let workspaces: [GNNAEWorkspace]

    public init(config: GNNAEConfig, loss: GNNAELoss, train: FlatExamples, valid: FlatExamples, threads: Int) {
        let perJet = config.particleCount * config.particleFeatures
        precondition(train.width == perJet && valid.width == perJet,
                     "GNNAEObjective: jets of \(train.width) and \(valid.width) numbers, the model takes \(config.particleCount)×\(config.particleFeatures)")
        precondition(train.count > 0 && valid.count > 0, "GNNAEObjective: needs training and validation jets, got \(train.count) and \(valid.count)")
        self.config = config
        self.loss = loss
        self.train = train
        self.valid = valid
        layout = GNNAEParameterLayout(config: config)
        let threads = max(1, threads)
        sums = ChunkedGradientSum(parameterCount: layout.count, threads: threads)
        let model = GNNAEModel(config: config, parameters: [Double](repeating: 0, count: layout.count))
        workspaces = (0..<threads).map { _ in model.makeWorkspace() }
    }

    public var parameterCount: Int { layout.count }
    public var trainingExamples: Int { train.count }
    public var lossName: String { loss.rawValue }

    public func batchLossAndGradient(parameters: [Double], examples: ArraySlice<Int>, threads: Int) -> BatchLossAndGradient {
        let model = GNNAEModel(config: config, parameters: parameters)
        let batch = Array(examples), loss = self.loss, workspaces = self.workspaces, n = train.width
        let (sum, gradient) = train.values.withUnsafeBufferPointer { jets in
            nonisolated(unsafe) let jets = jets
            return sums.sum(count: batch.count, threads: min(threads, workspaces.count)) { range, worker, g in
                var chunkLoss = 0.0
                for position in range {
                    let jet = UnsafeBufferPointer(rebasing: jets[(batch[position] * n)..<((batch[position] + 1) * n)])
                    chunkLoss += model.lossAndGradient(jet: jet, target: jet, loss: loss, workspace: workspaces[worker], accumulatingInto: g)
                }
                return chunkLoss
            }
        }
        guard loss == .mse else { return BatchLossAndGradient(loss: sum, exampleLossSum: sum, gradient: gradient) }
        let scale = 1 / Double(batch.count)
        return BatchLossAndGradient(loss: sum * scale, exampleLossSum: sum, gradient: gradient.map { $0 * scale })
    }

    public func validationLoss(parameters: [Double], threads: Int) -> Double {
        let perJet = GNNAEObjective.perJetLosses(model: GNNAEModel(config: config, parameters: parameters), jets: valid, loss: loss,
                                                 workspaces: Array(workspaces.prefix(max(1, threads))))
        return perJet.reduce(0, +) / Double(perJet.count)
    }

    /// Each jet's loss against itself, forward passes only, worker w taking jets w, w + workers, …
    static func perJetLosses(model: GNNAEModel, jets: FlatExamples, loss: GNNAELoss, workspaces: [GNNAEWorkspace]) -> [Double] {
        var losses = [Double](repeating: 0, count: jets.count)
        let workers = max(1, min(workspaces.count, jets.count)), n = jets.width
        losses.withUnsafeMutableBufferPointer { out in
            nonisolated(unsafe) let out = out
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                var j = w
                while j < jets.count {
                    let jet = Array(jets.values[(j * n)..<((j + 1) * n)])
                    out[j] = model.loss(jet: jet, target: jet, loss: loss, workspace: workspaces[w])
                    j += workers
                }
            }
        }
        return losses
    }

    public func parameterName(_ x: Int) -> String { Training.parameterName(x, in: layout.blocks) }
}

public struct CNNAEObjective: TrainingObjective {
    public let config: CNNAEConfig
    public let train: FlatExamples
    public let valid: FlatExamples
    let layout: CNNAEParameterLayout
    private let sums: ChunkedGradientSum
    private let workspaces: [CNNAEWorkspace]
    /// Per worker, room for one chunk of images gathered contiguously, so that the kernels are
    /// packed once per chunk (`CNNAE.lossAndGradient(images:…)` is bit-identical to one call per image).
    private let gathered: [ImageScratch]

    final class ImageScratch: @unchecked Sendable {
        let values: UnsafeMutableBufferPointer<Double>
        init(count: Int) { values = .allocate(capacity: count) }
        deinit { values.deallocate() }
    }

    public init(config: CNNAEConfig, train: FlatExamples, valid: FlatExamples, threads: Int) {
        precondition(train.width == config.pixelCount && valid.width == config.pixelCount,
                     "CNNAEObjective: images of \(train.width) and \(valid.width) pixels, the model takes \(config.pixelCount)")
        precondition(train.count > 0 && valid.count > 0, "CNNAEObjective: needs training and validation images, got \(train.count) and \(valid.count)")
        self.config = config
        self.train = train
        self.valid = valid
        layout = CNNAEParameterLayout(config: config)
        let threads = max(1, threads)
        let sums = ChunkedGradientSum(parameterCount: layout.count, threads: threads)
        self.sums = sums
        workspaces = (0..<threads).map { _ in CNNAEWorkspace(config: config) }
        gathered = (0..<threads).map { _ in ImageScratch(count: sums.chunkSize * config.pixelCount) }
    }

    public var parameterCount: Int { layout.count }
    public var trainingExamples: Int { train.count }
    public var lossName: String { "mse" }

    public func batchLossAndGradient(parameters: [Double], examples: ArraySlice<Int>, threads: Int) -> BatchLossAndGradient {
        let model = CNNAE(config: config, parameters: parameters)
        let batch = Array(examples), workspaces = self.workspaces, gathered = self.gathered, s2 = config.pixelCount
        let (sum, gradient) = train.values.withUnsafeBufferPointer { images in
            nonisolated(unsafe) let images = images
            return sums.sum(count: batch.count, threads: min(threads, workspaces.count)) { range, worker, g in
                let scratch = gathered[worker].values
                for (k, position) in range.enumerated() {
                    let source = images.baseAddress! + batch[position] * s2
                    (scratch.baseAddress! + k * s2).update(from: source, count: s2)
                }
                return model.lossAndGradient(images: UnsafeBufferPointer(rebasing: scratch[0..<(range.count * s2)]),
                                             workspace: workspaces[worker], accumulatingInto: g)
            }
        }
        // Keras: the batch loss is the mean of the per-image losses.
        let scale = 1 / Double(batch.count)
        return BatchLossAndGradient(loss: sum * scale, exampleLossSum: sum, gradient: gradient.map { $0 * scale })
    }

    public func validationLoss(parameters: [Double], threads: Int) -> Double {
        let scores = CNNAEObjective.squaredErrors(model: CNNAE(config: config, parameters: parameters), images: valid,
                                                  workspaces: Array(workspaces.prefix(max(1, threads))))
        return scores.reduce(0, +) / Double(scores.count * config.pixelCount)
    }

    /// Σ over pixels of (reconstruction − image)² per image (the anomaly score; ÷ S² is the loss),
    /// in contiguous blocks of images per worker.
    static func squaredErrors(model: CNNAE, images: FlatExamples, workspaces: [CNNAEWorkspace], block: Int = 64) -> [Double] {
        var scores = [Double](repeating: 0, count: images.count)
        let blocks = (images.count + block - 1) / block
        let workers = max(1, min(workspaces.count, blocks)), s2 = images.width
        images.values.withUnsafeBufferPointer { v in
            nonisolated(unsafe) let v = v
            scores.withUnsafeMutableBufferPointer { out in
                nonisolated(unsafe) let out = out
                DispatchQueue.concurrentPerform(iterations: workers) { w in
                    var b = w
                    while b < blocks {
                        let range = (b * block)..<min(images.count, (b + 1) * block)
                        model.anomalyScores(images: UnsafeBufferPointer(rebasing: v[(range.lowerBound * s2)..<(range.upperBound * s2)]),
                                            workspace: workspaces[w], into: UnsafeMutableBufferPointer(rebasing: out[range]))
                        b += workers
                    }
                }
            }
        }
        return scores
    }

    public func parameterName(_ x: Int) -> String { Training.parameterName(x, in: layout.blocks) }
}

extension GNNAEParameterBlock: NamedParameterBlock {}
extension CNNAEParameterBlock: NamedParameterBlock {}

// MARK: - Model files

extension GNNAEModel {
    // Format: "GNNAEMDL", UInt32 version 1, the configuration as JSON with sorted keys
    // (length-prefixed), then the parameters as (UInt64 count, f64…).
    private static let magic = "GNNAEMDL"

    /// The model as bytes: its configuration and parameters. Deterministic.
    public func serialized() -> [UInt8] {
        modelFileBytes(magic: GNNAEModel.magic, config: config, parameters: parameters)
    }

    /// Reads a model written by `serialized()`.
    public init(serialized bytes: [UInt8]) throws {
        let (config, parameters) = try readModelFile(bytes, magic: GNNAEModel.magic, what: "GNNAE model file", as: GNNAEConfig.self) {
            try $0.validate()
            return GNNAEParameterLayout(config: $0).count
        }
        self.init(config: config, parameters: parameters)
    }
}

extension CNNAE {
    private static let magic = "CNNAEMDL"

    /// The model as bytes: its configuration and parameters. Deterministic.
    public func serialized() -> [UInt8] {
        modelFileBytes(magic: CNNAE.magic, config: config, parameters: parameters)
    }

    /// Reads a model written by `serialized()`.
    public init(serialized bytes: [UInt8]) throws {
        let (config, parameters) = try readModelFile(bytes, magic: CNNAE.magic, what: "CNNAE model file", as: CNNAEConfig.self) {
            try $0.validate()
            return CNNAEParameterLayout(config: $0).count
        }
        self.init(config: config, parameters: parameters)
    }
}
