import XCTest
@testable import LGAE
import SeededRandom

/// The training loop of §10: it learns, it stops early after `patience` stale epochs, a resumed
/// run ends with the bytes of an uninterrupted one, the thread count changes nothing, and a NaN
/// is reported with its epoch and batch.
final class TrainerTests: XCTestCase {
    private func sets(seed: UInt64 = 31) -> (train: TrainingSet, valid: TrainingSet) {
        var generator = JetGenerator(state: seed)
        let train = generator.batch(48, slots: trainingConfig.particleCount, real: 2...6)
        let valid = generator.batch(16, slots: trainingConfig.particleCount, real: 2...6)
        return (TrainingSet(jets: train.jets, targets: train.targets), TrainingSet(jets: valid.jets, targets: valid.targets))
    }

    private func options(epochs: Int = 4, patience: Int = 10, learningRate: Double = 3e-3, loss: TrainingLoss = .chamfer) -> TrainingOptions {
        TrainingOptions(loss: loss, adam: AdamConfiguration(learningRate: learningRate), batchSize: 8, maxEpochs: epochs,
                        patience: patience, parameterSeed: 11, shuffleSeed: 12)
    }

    private func trainToTheEnd(_ trainer: Trainer, from start: TrainingState? = nil) throws -> TrainingState {
        var state = try start ?? trainer.initialState()
        while trainer.stopReason(state) == nil { try trainer.runEpoch(&state) }
        return state
    }

    func testTrainingLowersTheValidationLoss() throws {
        let (train, valid) = sets()
        let trainer = Trainer(config: trainingConfig, options: options(epochs: 12, learningRate: 1e-2), train: train, valid: valid, threads: 2)
        let state = try trainToTheEnd(trainer)
        XCTAssertEqual(state.epoch, 12)
        XCTAssertEqual(state.history.map(\.epoch), Array(0...12))
        let initial = state.history[0].validLoss
        print("trainer: validation Chamfer \(initial) → \(state.bestValidLoss) at epoch \(state.bestEpoch) (\(initial / state.bestValidLoss)× lower)")
        XCTAssertLessThan(state.bestValidLoss, initial / 2, "12 epochs (72 steps) must at least halve the validation loss")
        XCTAssertEqual(state.bestValidLoss, state.history.map(\.validLoss).min())
        // The best parameters are the ones that give the best validation loss.
        XCTAssertEqual(trainer.validationLoss(parameters: state.bestParameters), state.bestValidLoss)
    }

    func testResumedTrainingEndsWithTheBytesOfAnUninterruptedOne() throws {
        let (train, valid) = sets()
        let straight = try trainToTheEnd(Trainer(config: trainingConfig, options: options(), train: train, valid: valid, threads: 1))

        // Stop after epoch 2, keep only the checkpoint bytes, go on in a fresh trainer.
        let first = Trainer(config: trainingConfig, options: options(), train: train, valid: valid, threads: 1)
        var state = try first.initialState()
        for _ in 0..<2 { try first.runEpoch(&state) }
        let bytes = state.serialized()
        let second = Trainer(config: trainingConfig, options: options(), train: train, valid: valid, threads: 1)
        let resumed = try trainToTheEnd(second, from: try TrainingState(serialized: bytes))
        XCTAssertEqual(resumed.epoch, straight.epoch)
        XCTAssertTrue(resumed.serialized() == straight.serialized(), "the resumed checkpoint differs from the uninterrupted one")
        XCTAssertTrue(LGAEModel(config: trainingConfig, parameters: resumed.bestParameters).serialized()
            == LGAEModel(config: trainingConfig, parameters: straight.bestParameters).serialized())
    }

    func testOneAndTwoThreadsTrainIdentically() throws {
        let (train, valid) = sets()
        for loss in TrainingLoss.allCases {
            let one = try trainToTheEnd(Trainer(config: trainingConfig, options: options(epochs: 2, loss: loss), train: train, valid: valid, threads: 1))
            let two = try trainToTheEnd(Trainer(config: trainingConfig, options: options(epochs: 2, loss: loss), train: train, valid: valid, threads: 2))
            XCTAssertTrue(one.serialized() == two.serialized(), "\(loss): 1 and 2 threads trained differently")
        }
    }

    func testEarlyStoppingAfterPatienceStaleEpochs() throws {
        // With lr = 0 nothing moves, so no epoch improves on epoch 0.
        let (train, valid) = sets()
        let trainer = Trainer(config: trainingConfig, options: options(epochs: 50, patience: 2, learningRate: 0), train: train, valid: valid, threads: 1)
        let state = try trainToTheEnd(trainer)
        XCTAssertEqual(trainer.stopReason(state), .earlyStopping)
        XCTAssertEqual(state.epoch, 3, "stale 3 > patience 2 after epoch 3")
        XCTAssertEqual(state.bestEpoch, 0)
        XCTAssertEqual(state.stale, 3)
    }

    func testANaNJetIsReportedWithItsEpochAndBatch() throws {
        var (train, valid) = sets()
        let bad = 29
        train.jets[bad].p4[1] = .nan
        let opts = options()
        let trainer = Trainer(config: trainingConfig, options: opts, train: train, valid: valid, threads: 2)
        var state = try trainer.initialState()
        let before = state.serialized()
        var rng = Trainer.shuffleGenerator(seed: opts.shuffleSeed, epoch: 1)
        let position = fisherYatesPermutation(count: train.count, rng: &rng).firstIndex(of: bad)!
        XCTAssertThrowsError(try trainer.runEpoch(&state)) { error in
            guard let e = error as? TrainingError else { return XCTFail("expected a TrainingError, got \(error)") }
            XCTAssertEqual(e.epoch, 1)
            XCTAssertEqual(e.batch, position / opts.batchSize + 1)
            XCTAssertEqual(e.batches, 6)
            XCTAssertTrue(e.description.contains("epoch 1, batch \(e.batch) of 6"), e.description)
            XCTAssertTrue(e.description.contains("nan"), e.description)
        }
        XCTAssertEqual(state.serialized(), before, "a failed epoch must leave the state as it was")
    }

    func testCheckpointAndModelBytesRoundTripAndRejectDamage() throws {
        let (train, valid) = sets()
        let trainer = Trainer(config: trainingConfig, options: options(epochs: 1), train: train, valid: valid, threads: 1)
        let state = try trainToTheEnd(trainer)
        let bytes = state.serialized()
        XCTAssertEqual(try TrainingState(serialized: bytes).serialized(), bytes)
        XCTAssertThrowsError(try TrainingState(serialized: Array(bytes.dropLast(3))))
        XCTAssertThrowsError(try TrainingState(serialized: bytes + [0]))
        var wrongMagic = bytes
        wrongMagic[0] = UInt8(ascii: "X")
        XCTAssertThrowsError(try TrainingState(serialized: wrongMagic)) { error in
            XCTAssertTrue("\(error)".contains("not a training checkpoint"), "\(error)")
        }

        let model = LGAEModel(config: LGAEConfig(aggregation: .mix, latentVectorCount: 3, mode: .clean), seed: 4)
        let modelBytes = model.serialized()
        let back = try LGAEModel(serialized: modelBytes)
        XCTAssertEqual(back.config, model.config)
        XCTAssertEqual(back.parameters, model.parameters)
        XCTAssertThrowsError(try LGAEModel(serialized: Array(modelBytes.dropLast(8))))
    }
}
