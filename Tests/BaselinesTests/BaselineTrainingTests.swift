import XCTest
import SeededRandom
import Training
@testable import Baselines

// The baselines on the shared training loop: a batch gradient is the per-example gradients summed
// (and divided by the batch for the mean losses), training lowers the validation loss, the thread
// count changes no bit, a run resumed from checkpoint bytes ends with the bytes of an uninterrupted
// one, and model files read back exactly and refuse to be misread.

private struct ToyJets {
    var generator: Xoshiro256StarStar
    init(seed: UInt64) { generator = Xoshiro256StarStar(seed: seed) }
    mutating func uniform(_ lower: Double, _ upper: Double) -> Double { lower + (upper - lower) * generator.nextUniform() }

    /// `count` jets of N particles (pT_rel, η_rel, φ_rel), the last 0–2 slots zero-padded.
    mutating func gnnae(_ count: Int, particles n: Int) -> FlatExamples {
        var values: [Double] = []
        for _ in 0..<count {
            let padded = Int(generator.next() % 3)
            for i in 0..<n {
                values += i < n - padded ? [uniform(0.02, 0.4), uniform(-0.3, 0.3), uniform(-0.3, 0.3)] : [0, 0, 0]
            }
        }
        return FlatExamples(values: values, width: 3 * n)
    }

    /// `count` normalised S × S images like jets: a hard core in the centre pixel and 1–3 softer
    /// hits within a pixel of it (uniform noise would leave nothing to learn beyond a flat image).
    mutating func images(_ count: Int, size: Int) -> FlatExamples {
        var values: [Double] = []
        for _ in 0..<count {
            var image = [Double](repeating: 0, count: size * size)
            let c = size / 2
            image[c * size + c] = uniform(1, 2)
            for _ in 0..<(1 + Int(generator.next() % 3)) {
                let r = c - 1 + Int(generator.next() % 3), q = c - 1 + Int(generator.next() % 3)
                image[r * size + q] += uniform(0.1, 0.5)
            }
            let total = image.reduce(0, +)
            values += image.map { $0 / total }
        }
        return FlatExamples(values: values, width: size * size)
    }
}

private let smallGNNAE = GNNAEConfig(encoding: .jetLevel(latent: 4), particleCount: 5,
                                     encoderNodeWidths: [6, 5, 3], encoderEdgeWidths: [[7, 5], [6], [5]])
private let smallCNNAE = CNNAEConfig(imageSize: 8, channels: 3, latentDimension: 5)

final class BaselineTrainingTests: XCTestCase {
    private func trainToTheEnd<O: TrainingObjective>(_ loop: EpochTrainer<O>, from state: TrainingState) throws -> TrainingState {
        var s = state
        while loop.stopReason(s) == nil { try loop.runEpoch(&s) }
        return s
    }

    /// Batches of 20 span three chunks of 8, so two threads really sum chunks on two workers.
    private func options(epochs: Int, learningRate: Double = 3e-3, batch: Int = 20) -> EpochOptions {
        EpochOptions(adam: AdamConfiguration(learningRate: learningRate), l1Lambda: 1e-8, batchSize: batch,
                     maxEpochs: epochs, patience: 50, shuffleSeed: 7)
    }

    func testGNNAEBatchGradientIsTheSumOfItsJets() {
        var toy = ToyJets(seed: 3)
        let jets = toy.gnnae(19, particles: 5)
        let model = GNNAEModel(config: smallGNNAE, seed: 4)
        for loss in GNNAELoss.allCases {
            let objective = GNNAEObjective(config: smallGNNAE, loss: loss, train: jets, valid: jets, threads: 2)
            let batch = [3, 17, 0, 9, 11, 2, 5, 8, 13, 1, 4][...]
            let result = objective.batchLossAndGradient(parameters: model.parameters, examples: batch, threads: 2)
            // The same sums in the same chunks of 8, by hand: each chunk's jets in order, then the chunks.
            var expected = [Double](repeating: 0, count: model.layout.count), lossSum = 0.0
            let workspace = model.makeWorkspace()
            for chunk in stride(from: 0, to: batch.count, by: 8) {
                var g = [Double](repeating: 0, count: model.layout.count), chunkLoss = 0.0
                for k in chunk..<min(batch.count, chunk + 8) {
                    let j = batch[batch.startIndex + k]
                    let jet = Array(jets.values[(j * 15)..<((j + 1) * 15)])
                    chunkLoss += model.lossAndGradient(jet: jet, target: jet, loss: loss, workspace: workspace, accumulatingInto: &g)
                }
                lossSum += chunkLoss
                for x in g.indices { expected[x] += g[x] }
            }
            let scale = loss == .mse ? 1 / Double(batch.count) : 1
            XCTAssertEqual(result.exampleLossSum, lossSum, "\(loss)")
            XCTAssertEqual(result.loss, lossSum * scale, "\(loss): Chamfer sums over the batch, MSE averages")
            XCTAssertEqual(result.gradient, expected.map { $0 * scale }, "\(loss)")
        }
    }

    /// The same training from `initial` on 1 and on 2 threads, each to its last epoch.
    private func trainedOnOneAndTwoThreads<O: TrainingObjective>(initial: [Double], options: EpochOptions,
                                                                _ objective: (Int) -> O) throws -> [TrainingState] {
        try [1, 2].map { threads in
            let loop = EpochTrainer(objective: objective(threads), options: options, threads: threads)
            return try trainToTheEnd(loop, from: try loop.initialState(parameters: initial))
        }
    }

    func testGNNAETrainingLearnsAndIsThreadIndependent() throws {
        var toy = ToyJets(seed: 5)
        let train = toy.gnnae(48, particles: 5), valid = toy.gnnae(16, particles: 5)
        let states = try trainedOnOneAndTwoThreads(initial: GNNAEModel(config: smallGNNAE, seed: 6).parameters,
                                                   options: options(epochs: 15, learningRate: 1e-2)) {
            GNNAEObjective(config: smallGNNAE, loss: .chamfer, train: train, valid: valid, threads: $0)
        }
        for state in states {
            XCTAssertLessThan(state.bestValidLoss, 0.5 * state.history[0].validLoss,
                              "15 epochs must at least halve the GNNAE's validation Chamfer loss (\(state.history[0].validLoss) → \(state.bestValidLoss))")
        }
        XCTAssertEqual(states[0].serialized(), states[1].serialized(), "1 and 2 threads must train bit-identically")
    }

    func testGNNAEResumedTrainingEndsWithTheBytesOfAnUninterruptedOne() throws {
        var toy = ToyJets(seed: 8)
        let train = toy.gnnae(24, particles: 5), valid = toy.gnnae(8, particles: 5)
        let config = GNNAEConfig(encoding: .particleLevel(perNode: 2), particleCount: 5,
                                 encoderNodeWidths: [6, 5, 3], encoderEdgeWidths: [[7, 5], [6], [5]])
        func loop() -> EpochTrainer<GNNAEObjective> {
            EpochTrainer(objective: GNNAEObjective(config: config, loss: .mse, train: train, valid: valid, threads: 2),
                         options: options(epochs: 5), threads: 2)
        }
        let start = try loop().initialState(parameters: GNNAEModel(config: config, seed: 9).parameters)
        let straight = try trainToTheEnd(loop(), from: start)
        var partial = start
        for _ in 0..<2 { try loop().runEpoch(&partial) }
        let resumed = try trainToTheEnd(loop(), from: try TrainingState(serialized: partial.serialized()))
        XCTAssertEqual(resumed.serialized(), straight.serialized())
        XCTAssertEqual(resumed.epoch, 5)
    }

    func testCNNAETrainingLearnsAndIsThreadIndependent() throws {
        var toy = ToyJets(seed: 10)
        let train = toy.images(40, size: 8), valid = toy.images(12, size: 8)
        let states = try trainedOnOneAndTwoThreads(initial: CNNAE(config: smallCNNAE, seed: 11).parameters,
                                                   options: options(epochs: 12, learningRate: 1e-2)) {
            CNNAEObjective(config: smallCNNAE, train: train, valid: valid, threads: $0)
        }
        for state in states {
            XCTAssertLessThan(state.bestValidLoss, 0.8 * state.history[0].validLoss,
                              "12 epochs must lower the CNNAE's validation MSE by a fifth (\(state.history[0].validLoss) → \(state.bestValidLoss))")
        }
        XCTAssertEqual(states[0].serialized(), states[1].serialized(), "1 and 2 threads must train bit-identically")
    }

    func testCNNAEBatchLossIsTheMeanOfItsImages() {
        var toy = ToyJets(seed: 12)
        let images = toy.images(11, size: 8)
        let model = CNNAE(config: smallCNNAE, seed: 13)
        let objective = CNNAEObjective(config: smallCNNAE, train: images, valid: images, threads: 1)
        let batch = [4, 0, 10, 7][...]
        let result = objective.batchLossAndGradient(parameters: model.parameters, examples: batch, threads: 1)
        let workspace = CNNAEWorkspace(config: smallCNNAE)
        var g = [Double](repeating: 0, count: model.layout.count), sum = 0.0
        for j in batch {  // one chunk: the images in order into one buffer
            sum += model.lossAndGradient(image: Array(images.values[(j * 64)..<((j + 1) * 64)]), workspace: workspace, accumulatingInto: &g)
        }
        XCTAssertEqual(result.loss, sum / 4)
        XCTAssertEqual(result.gradient, g.map { $0 / 4 })
        // Validation: the mean over images of the per-pixel MSE.
        let valid = (0..<11).map { model.loss(image: Array(images.values[($0 * 64)..<(($0 + 1) * 64)]), workspace: workspace) }
        XCTAssertEqual(objective.validationLoss(parameters: model.parameters, threads: 1), valid.reduce(0, +) / 11, accuracy: 1e-15)
    }

    func testModelFilesReadBackExactlyAndRefuseOtherFiles() throws {
        let gnnae = GNNAEModel(config: smallGNNAE, seed: 14)
        let back = try GNNAEModel(serialized: gnnae.serialized())
        XCTAssertEqual(back.config, gnnae.config)
        XCTAssertEqual(back.parameters, gnnae.parameters)
        let cnnae = CNNAE(config: smallCNNAE, seed: 15)
        let cnnBack = try CNNAE(serialized: cnnae.serialized())
        XCTAssertEqual(cnnBack.config, cnnae.config)
        XCTAssertEqual(cnnBack.parameters, cnnae.parameters)
        // A CNNAE file is not a GNNAE file; a truncated file says so.
        XCTAssertThrowsError(try GNNAEModel(serialized: cnnae.serialized())) { error in
            XCTAssertTrue("\(error)".contains("GNNAEMDL"), "\(error)")
        }
        XCTAssertThrowsError(try CNNAE(serialized: Array(cnnae.serialized().dropLast(8)))) { error in
            XCTAssertTrue("\(error)".contains("truncated"), "\(error)")
        }
    }

    func testChunkedSumDoesNotDependOnThreads() {
        let sums = ChunkedGradientSum(parameterCount: 3, threads: 2, chunkSize: 4)
        // Values whose floating-point sum depends on the order: the chunking fixes the order.
        let values = (0..<23).map { Double($0 % 7) * 1e16 + Double($0) * 0.1 }
        func run(_ threads: Int) -> (Double, [Double]) {
            sums.sum(count: values.count, threads: threads) { range, _, g in
                var loss = 0.0
                for k in range {
                    loss += values[k]
                    for x in 0..<3 { g[x] += values[k] * Double(x + 1) }
                }
                return loss
            }
        }
        let one = run(1), two = run(2)
        XCTAssertEqual(one.0, two.0)
        XCTAssertEqual(one.1, two.1)
        var expected = 0.0
        for chunk in stride(from: 0, to: 23, by: 4) {
            var c = 0.0
            for k in chunk..<min(23, chunk + 4) { c += values[k] }
            expected += c
        }
        XCTAssertEqual(one.0, expected)
    }

    /// One step from θ = 1 with g = 0.5 (β = 0.9, 0.999, ε = 1e-3): m = 0.05, v = 2.5e-4, and the
    /// two update forms put ε in different places — PyTorch: lr/(1 − 0.9) · m / (√v/√(1 − 0.999) + ε)
    /// = lr · 0.5/0.501; Keras: lr·√(1 − 0.999)/(1 − 0.9) · m / (√v + ε) = lr · 0.0158114/0.0168114.
    /// The state's form survives serialisation (checkpoint format versions 1 and 2).
    func testAdamUpdateForms() throws {
        for (form, expectedStep) in [(AdamUpdateForm.pytorch, 0.5 / 0.501),
                                     (.keras, 0.001.squareRoot() / 0.1 * 0.05 / (0.00025.squareRoot() + 1e-3))] {
            var adam = Adam(parameterCount: 1, configuration: AdamConfiguration(learningRate: 0.01, epsilon: 1e-3, form: form))
            var theta = [1.0]
            adam.update(parameters: &theta, gradient: [0.5])
            XCTAssertEqual(1 - theta[0], 0.01 * expectedStep, accuracy: 1e-15, "\(form)")
            let back = try Adam(serialized: adam.serialized())
            XCTAssertEqual(back, adam)
            XCTAssertEqual(back.configuration.form, form)
        }
        XCTAssertNotEqual(0.5 / 0.501, 0.0158114 / 0.0168114, accuracy: 0.05, "the forms differ by ~6 % here")
    }
}
