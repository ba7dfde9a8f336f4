import Foundation

// One training batch (§9, §10): every jet's loss and parameter gradient, threaded over jets.
// Floating-point addition is not associative, so a sum whose order depended on the thread count
// would make runs differ with the machine. The jets are therefore cut into fixed chunks of
// `TrainingWorkspace.chunkSize` consecutive jets regardless of the thread count; each chunk sums
// its jets in order into its own buffer, and the chunk buffers are summed in chunk order.

/// The training loss of §9.
public enum TrainingLoss: String, Sendable, Codable, CaseIterable {
    /// Chamfer, summed over the batch (LGAE-Min-Max).
    case chamfer
    /// MSE, the mean over all B·N·4 entries (LGAE-Mix).
    case mse
}

/// Per-worker caches and per-chunk gradient buffers for `batchLossAndGradient`, allocated once
/// and reused batch after batch. Not thread-safe itself: one workspace per concurrent batch.
public final class TrainingWorkspace: @unchecked Sendable {
    /// Jets per reduction chunk; fixed so the sum order is the same for every thread count.
    public static let chunkSize = 8

    final class Worker {
        let encoderCache: EncoderCache
        let decoderCache: DecoderCache
        let encoderWorkspace: EncoderGradientWorkspace
        let decoderWorkspace: DecoderGradientWorkspace
        var outputGradient: [Double]
        /// The running gradient of the chunk being processed (`backward` adds each jet into it);
        /// copied into the chunk's buffer when the chunk is done.
        var jetGradients: ParameterGradients

        init(model: LGAEModel) {
            encoderCache = model.makeEncoderCache()
            decoderCache = model.makeDecoderCache()
            encoderWorkspace = EncoderGradientWorkspace(cache: encoderCache)
            decoderWorkspace = DecoderGradientWorkspace(cache: decoderCache)
            outputGradient = [Double](repeating: 0, count: 4 * model.config.particleCount)
            jetGradients = ParameterGradients(layout: model.layout)
        }
    }

    public let config: LGAEConfig
    public let threads: Int
    let workers: [Worker]
    let parameterCount: Int
    /// Chunk c's gradient at chunkGradients + c·parameterCount; raw storage so that workers can
    /// write their own chunks concurrently without sharing a Swift array.
    private(set) var chunkGradients: UnsafeMutablePointer<Double>
    private var chunkCapacity = 0
    private(set) var chunkLosses: UnsafeMutablePointer<Double>

    /// Workspaces for `threads` concurrent workers of `model`'s configuration.
    public init(model: LGAEModel, threads: Int) {
        precondition(threads >= 1, "TrainingWorkspace: threads must be at least 1, got \(threads)")
        config = model.config
        self.threads = threads
        workers = (0..<threads).map { _ in Worker(model: model) }
        parameterCount = model.layout.count
        chunkGradients = .allocate(capacity: 1)
        chunkLosses = .allocate(capacity: 1)
    }

    deinit {
        chunkGradients.deallocate()
        chunkLosses.deallocate()
    }

    /// Makes sure there is one zeroed gradient buffer and loss per chunk.
    func prepareChunks(_ count: Int) {
        if count > chunkCapacity {
            chunkGradients.deallocate()
            chunkLosses.deallocate()
            chunkGradients = .allocate(capacity: count * parameterCount)
            chunkLosses = .allocate(capacity: count)
            chunkCapacity = count
        }
        chunkGradients.initialize(repeating: 0, count: count * parameterCount)
        chunkLosses.initialize(repeating: 0, count: count)
    }
}

/// The loss of one batch and its gradient with respect to every parameter (no regulariser).
/// `jets` and `targets` are in normalised units (§2.3); each target is N×4 row-major
/// (E, px, py, pz), padded particles zero. Chamfer is summed over the batch, MSE is the mean over
/// B·N·4 entries (§9). The result is bit-identical for every `threads` (see the file comment);
/// the work runs on min(threads, chunks) workers of `workspace`.
public func batchLossAndGradient(model: LGAEModel, jets: [JetInput], targets: [[Double]], loss: TrainingLoss,
                                 threads: Int, workspace: TrainingWorkspace) -> (loss: Double, gradients: ParameterGradients) {
    let n = model.config.particleCount
    precondition(!jets.isEmpty && jets.count == targets.count,
                 "batchLossAndGradient: \(jets.count) jets but \(targets.count) targets; give one N×4 target per jet and at least one jet")
    precondition(workspace.config == model.config,
                 "batchLossAndGradient: the TrainingWorkspace was made for another LGAEConfig; make it with TrainingWorkspace(model:threads:) for this model")
    precondition(threads >= 1 && threads <= workspace.threads,
                 "batchLossAndGradient: threads = \(threads), but the workspace has \(workspace.threads) workers; need 1 ≤ threads ≤ \(workspace.threads)")
    for (b, target) in targets.enumerated() {
        precondition(target.count == 4 * n, "batchLossAndGradient: target \(b) has \(target.count) numbers, expected N×4 = \(4 * n)")
    }
    let chunkSize = TrainingWorkspace.chunkSize
    let chunkCount = (jets.count + chunkSize - 1) / chunkSize
    workspace.prepareChunks(chunkCount)
    let mseScale = 1 / Double(jets.count * n * 4)
    let parameterCount = workspace.parameterCount
    // Worker w owns chunks w, w + workers, …, and each chunk writes only its own gradient buffer
    // and loss slot, so the workers never touch the same memory.
    let workerCount = min(threads, chunkCount)
    nonisolated(unsafe) let gradientBase = workspace.chunkGradients
    nonisolated(unsafe) let losses = workspace.chunkLosses

    @Sendable func runChunk(_ c: Int, worker: TrainingWorkspace.Worker) {
        let g = gradientBase + c * parameterCount
        var chunkLoss = 0.0
        worker.jetGradients.setZero()
        for b in (c * chunkSize)..<min(jets.count, (c + 1) * chunkSize) {
            model.reconstruct(jets[b], encoderCache: worker.encoderCache, decoderCache: worker.decoderCache)
            let output = worker.decoderCache.output
            let target = targets[b]
            switch loss {
            case .chamfer:
                let x = output.array
                chunkLoss += worker.outputGradient.withUnsafeMutableBufferPointer {
                    chamferLoss(reconstruction: x, target: target, particles: n, gradient: $0.baseAddress!)
                }
            case .mse:
                var sum = 0.0
                for e in 0..<(4 * n) {
                    let d = output[e] - target[e]
                    sum += d * d
                    worker.outputGradient[e] = 2 * d * mseScale
                }
                chunkLoss += sum * mseScale
            }
            // The chunk's jets accumulate in order into one buffer: the same order whichever
            // worker runs the chunk.
            model.backward(encoderCache: worker.encoderCache, decoderCache: worker.decoderCache,
                           encoderWorkspace: worker.encoderWorkspace, decoderWorkspace: worker.decoderWorkspace,
                           outputGradient: worker.outputGradient, gradients: &worker.jetGradients)
        }
        worker.jetGradients.values.withUnsafeBufferPointer { chunk in
            g.update(from: chunk.baseAddress!, count: parameterCount)
        }
        losses[c] = chunkLoss
    }

    if workerCount == 1 {
        for c in 0..<chunkCount { runChunk(c, worker: workspace.workers[0]) }
    } else {
        DispatchQueue.concurrentPerform(iterations: workerCount) { w in
            var c = w
            while c < chunkCount {
                runChunk(c, worker: workspace.workers[w])
                c += workerCount
            }
        }
    }

    var total = ParameterGradients(layout: model.layout)
    var totalLoss = 0.0
    for c in 0..<chunkCount {
        totalLoss += losses[c]
        let g = gradientBase + c * parameterCount
        for x in 0..<parameterCount { total.values[x] += g[x] }
    }
    return (totalLoss, total)
}

/// One optimisation step (§9, §10): the batch loss and gradient, plus the L1 regulariser with
/// weight `l1Lambda` (1e-8 in the reference), then one Adam update of `model.parameters`.
/// Throws `TrainingStepError` naming the step and the first offending parameter block if the loss
/// or any gradient is NaN or infinite; nothing is updated then.
@discardableResult
public func trainStep(model: inout LGAEModel, optimiser: inout Adam, jets: [JetInput], targets: [[Double]],
                      loss: TrainingLoss, l1Lambda: Double = 1e-8, threads: Int,
                      workspace: TrainingWorkspace) throws -> TrainingStepResult {
    precondition(optimiser.parameterCount == model.parameters.count,
                 "trainStep: the Adam state is for \(optimiser.parameterCount) parameters but the model has \(model.parameters.count); make it with Adam(parameterCount: model.layout.count)")
    var (dataLoss, gradients) = batchLossAndGradient(model: model, jets: jets, targets: targets, loss: loss,
                                                     threads: threads, workspace: workspace)
    let layout = model.layout
    return try optimisationStep(parameters: &model.parameters, optimiser: &optimiser, dataLoss: dataLoss, gradient: &gradients.values,
                                l1Lambda: l1Lambda, describeLoss: { "the \(loss) loss of the batch of \(jets.count) jets" },
                                parameterName: layout.parameterName)
}
