import XCTest
@testable import LGAE

/// SplitMix64 for the synthetic jets, so every run draws the same batch.
struct JetGenerator {
    var state: UInt64
    mutating func nextBits() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [lower, upper).
    mutating func uniform(_ lower: Double, _ upper: Double) -> Double {
        lower + (upper - lower) * Double(nextBits() >> 11) / Double(UInt64(1) << 53)
    }
    mutating func integer(_ range: ClosedRange<Int>) -> Int {
        range.lowerBound + Int(nextBits() % UInt64(range.count))
    }

    /// A jet-like set of massless particles (E = |p|) around a random axis, `real` of them real
    /// and the rest zero padding, normalised by the jet's overall max |component| (§2.3).
    /// Returns the network input and the N×4 target (the same normalised particles).
    mutating func jet(slots n: Int, real: Int) -> (JetInput, [Double]) {
        let axisEta = uniform(-1.5, 1.5), axisPhi = uniform(-.pi, .pi)
        var p4 = [Double](repeating: 0, count: 4 * n)
        var mask = [Bool](repeating: false, count: n)
        for i in 0..<real {
            let pt = 0.02 + 0.3 * pow(uniform(0, 1), 3)
            let eta = axisEta + uniform(-0.4, 0.4), phi = axisPhi + uniform(-0.4, 0.4)
            let px = pt * cos(phi), py = pt * sin(phi), pz = pt * sinh(eta)
            p4[4 * i] = (px * px + py * py + pz * pz).squareRoot()
            p4[4 * i + 1] = px
            p4[4 * i + 2] = py
            p4[4 * i + 3] = pz
            mask[i] = true
        }
        let scale = (p4.map(abs).max() ?? 0) + 1e-16
        let normalised = p4.map { $0 / scale }
        return (JetInput(p4: normalised, mask: mask), normalised)
    }

    mutating func batch(_ count: Int, slots n: Int, real: ClosedRange<Int>) -> (jets: [JetInput], targets: [[Double]]) {
        var jets: [JetInput] = [], targets: [[Double]] = []
        for _ in 0..<count {
            let (jet, target) = jet(slots: n, real: integer(real))
            jets.append(jet)
            targets.append(target)
        }
        return (jets, targets)
    }
}

/// Min-max with k = 2 as the paper's LGAE-Min-Max, shrunk (N = 6, one LMP level each side, K = 4
/// bells, one MLP hidden layer) so that one forward + backward pass takes ~2.5 ms in a debug build.
let trainingConfig = LGAEConfig(particleCount: 6, encoderChannels: [2, 2], decoderChannels: [2, 2],
                                basisFunctionCount: 2, mlpDepth: 1, mlpWidthMultiplier: 2,
                                aggregation: .minMax, latentVectorCount: 2)

final class AdamTests: XCTestCase {
    /// Two steps by hand (lr 0.01, β 0.9/0.999, ε 1e-8). Step 1: m̂ = g, v̂ = g², so the update is
    /// lr·g/(|g| + ε) (zero for g = 0). Step 2: m̂ = (0.09 g1 + 0.1 g2)/0.19,
    /// v̂ = (0.000999 g1² + 0.001 g2²)/0.001999, θ −= lr·m̂/(√v̂ + ε). The expected values were
    /// evaluated from these formulas in 40-digit decimal arithmetic.
    func testTwoHandComputedSteps() {
        var theta = [1.0, -2.0, 0.5]
        var adam = Adam(parameterCount: 3, configuration: AdamConfiguration(learningRate: 0.01))
        adam.update(parameters: &theta, gradient: [0.1, -0.2, 0])
        XCTAssertEqual(adam.step, 1)
        for (a, e) in zip(theta, [0.99000000099999990, -1.9900000005000000, 0.5]) { XCTAssertEqual(a, e, accuracy: 1e-15) }
        XCTAssertEqual(theta[2], 0.5, "a zero gradient on the first step must not move the parameter")
        adam.update(parameters: &theta, gradient: [0.3, 0.1, -0.5])
        XCTAssertEqual(adam.step, 2)
        for (a, e) in zip(theta, [0.98082219022055893, -1.9873366302718676, 0.50744136802524883]) {
            XCTAssertEqual(a, e, accuracy: 1e-15)
        }
    }

    func testCheckpointMidwayResumesBitExactly() throws {
        var generator = JetGenerator(state: 7)
        let gradients = (0..<6).map { _ in (0..<5).map { _ in generator.uniform(-1, 1) } }
        let start = (0..<5).map { _ in generator.uniform(-1, 1) }

        var uninterrupted = start
        var adam = Adam(parameterCount: 5, configuration: AdamConfiguration(learningRate: 3e-3))
        for g in gradients { adam.update(parameters: &uninterrupted, gradient: g) }

        var resumed = start
        var first = Adam(parameterCount: 5, configuration: AdamConfiguration(learningRate: 3e-3))
        for g in gradients[0..<3] { first.update(parameters: &resumed, gradient: g) }
        let bytes = first.serialized()
        XCTAssertEqual(bytes.count, 60 + 16 * 5)
        XCTAssertEqual(Array(bytes[0..<8]), Array("LGAEADAM".utf8))
        XCTAssertEqual(Array(bytes[8..<28]), [1, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0],
                       "little-endian version 1, step 3, 5 parameters")
        var second = try Adam(serialized: bytes)
        XCTAssertEqual(second, first)
        for g in gradients[3...] { second.update(parameters: &resumed, gradient: g) }

        XCTAssertEqual(resumed.map(\.bitPattern), uninterrupted.map(\.bitPattern))
        XCTAssertEqual(second, adam)
    }

    func testCorruptCheckpointIsRejected() {
        var adam = Adam(parameterCount: 4)
        var theta = [1.0, 2, 3, 4]
        adam.update(parameters: &theta, gradient: [1, 1, 1, 1])
        let bytes = adam.serialized()
        XCTAssertThrowsError(try Adam(serialized: Array(bytes.dropLast())))
        var badMagic = bytes
        badMagic[0] = 0
        XCTAssertThrowsError(try Adam(serialized: badMagic))
    }
}

final class TrainingTests: XCTestCase {
    private func singleJetReference(model: LGAEModel, jets: [JetInput], targets: [[Double]],
                                    loss: TrainingLoss) -> (loss: Double, gradient: [Double]) {
        let n = model.config.particleCount
        let encoderCache = model.makeEncoderCache(), decoderCache = model.makeDecoderCache()
        let encoderWorkspace = EncoderGradientWorkspace(cache: encoderCache)
        let decoderWorkspace = DecoderGradientWorkspace(cache: decoderCache)
        var total = 0.0
        var sum = [Double](repeating: 0, count: model.layout.count)
        for (jet, target) in zip(jets, targets) {
            model.reconstruct(jet, encoderCache: encoderCache, decoderCache: decoderCache)
            var outputGradient = [Double](repeating: 0, count: 4 * n)
            switch loss {
            case .chamfer:
                total += outputGradient.withUnsafeMutableBufferPointer {
                    chamferLoss(reconstruction: decoderCache.output.array, target: target, particles: n, gradient: $0.baseAddress!)
                }
            case .mse:
                total += outputGradient.withUnsafeMutableBufferPointer {
                    mseLoss(reconstruction: decoderCache.output.array, target: target, gradient: $0.baseAddress!)
                } / Double(jets.count)
                outputGradient = outputGradient.map { $0 / Double(jets.count) }
            }
            var gradients = ParameterGradients(layout: model.layout)
            model.backward(encoderCache: encoderCache, decoderCache: decoderCache, encoderWorkspace: encoderWorkspace,
                           decoderWorkspace: decoderWorkspace, outputGradient: outputGradient, gradients: &gradients)
            for x in sum.indices { sum[x] += gradients.values[x] }
        }
        return (total, sum)
    }

    /// 19 jets: two full chunks of 8 and a partial one, so the chunking itself is exercised.
    func testBatchIsThreadCountIndependentAndEqualsSumOfSingleJets() {
        let model = LGAEModel(config: trainingConfig, seed: 11)
        var generator = JetGenerator(state: 3)
        let (jets, targets) = generator.batch(19, slots: trainingConfig.particleCount, real: 2...6)
        let workspace = TrainingWorkspace(model: model, threads: 2)
        for loss in TrainingLoss.allCases {
            let one = batchLossAndGradient(model: model, jets: jets, targets: targets, loss: loss, threads: 1, workspace: workspace)
            let two = batchLossAndGradient(model: model, jets: jets, targets: targets, loss: loss, threads: 2, workspace: workspace)
            XCTAssertEqual(one.loss.bitPattern, two.loss.bitPattern, "\(loss)")
            XCTAssertEqual(one.gradients.values.map(\.bitPattern), two.gradients.values.map(\.bitPattern), "\(loss)")

            let reference = singleJetReference(model: model, jets: jets, targets: targets, loss: loss)
            XCTAssertGreaterThan(reference.loss, 0)
            XCTAssertEqual(one.loss, reference.loss, accuracy: 1e-12 * reference.loss, "\(loss)")
            let scale = reference.gradient.map(abs).max()!
            XCTAssertGreaterThan(scale, 0)
            let worst = zip(one.gradients.values, reference.gradient).map { abs($0 - $1) }.max()!
            XCTAssertLessThanOrEqual(worst, 1e-12 * scale, "\(loss): batch gradient vs sum of single-jet gradients")
        }
    }

    private func train(seed: UInt64, jets count: Int, steps: Int, threads: Int) throws -> (losses: [Double], parameters: [Double]) {
        var generator = JetGenerator(state: seed)
        let (jets, targets) = generator.batch(count, slots: trainingConfig.particleCount, real: 2...6)
        var model = LGAEModel(config: trainingConfig, seed: seed)
        var adam = Adam(parameterCount: model.layout.count, configuration: AdamConfiguration(learningRate: 1e-3))
        let workspace = TrainingWorkspace(model: model, threads: threads)
        var losses: [Double] = []
        for _ in 0..<steps {
            losses.append(try trainStep(model: &model, optimiser: &adam, jets: jets, targets: targets, loss: .chamfer,
                                        threads: threads, workspace: workspace).loss)
        }
        losses.append(batchLossAndGradient(model: model, jets: jets, targets: targets, loss: .chamfer,
                                           threads: threads, workspace: workspace).loss)
        return (losses, model.parameters)
    }

    /// 8 jets, 100 Adam steps at lr 1e-3. Measured over seeds 1–8 the Chamfer loss fell by a factor
    /// 2.15–4.18 (seed 5: 11.22 → 3.83, ×2.93); it stays near its start for ~50 steps (the
    /// near-zero initial output is a saddle of the product-form CG layers) and then drops.
    func testChamferTrainingReducesTheLoss() throws {
        let run = try train(seed: 5, jets: 8, steps: 100, threads: 1)
        let before = run.losses.first!, after = run.losses.last!
        print("Chamfer loss over 8 jets: \(before) before, \(after) after 100 steps (×\(before / after) lower)")
        XCTAssertLessThan(after, before / 2)
    }

    /// Same seed, same parameters bit for bit, whether on 1 or 2 threads (16 jets = 2 chunks).
    func testTrainingIsBitReproducible() throws {
        let first = try train(seed: 3, jets: 16, steps: 10, threads: 2)
        let second = try train(seed: 3, jets: 16, steps: 10, threads: 2)
        let serial = try train(seed: 3, jets: 16, steps: 10, threads: 1)
        XCTAssertEqual(first.parameters.map(\.bitPattern), second.parameters.map(\.bitPattern))
        XCTAssertEqual(first.parameters.map(\.bitPattern), serial.parameters.map(\.bitPattern))
        XCTAssertEqual(first.losses.map(\.bitPattern), serial.losses.map(\.bitPattern))
        XCTAssertNotEqual(first.losses.first, first.losses.last, "the parameters must actually have moved")
    }

    func testNonFiniteLossNamesTheStep() {
        var model = LGAEModel(config: trainingConfig, seed: 1)
        var generator = JetGenerator(state: 9)
        var (jets, targets) = generator.batch(4, slots: trainingConfig.particleCount, real: 2...6)
        var adam = Adam(parameterCount: model.layout.count)
        let workspace = TrainingWorkspace(model: model, threads: 1)
        XCTAssertNoThrow(try trainStep(model: &model, optimiser: &adam, jets: jets, targets: targets, loss: .mse,
                                       threads: 1, workspace: workspace))
        targets[2][5] = .nan
        jets[2].p4[5] = .infinity
        let before = model.parameters
        XCTAssertThrowsError(try trainStep(model: &model, optimiser: &adam, jets: jets, targets: targets, loss: .mse,
                                           threads: 1, workspace: workspace)) { error in
            XCTAssertEqual((error as? TrainingStepError)?.step, 2)
            XCTAssertTrue("\(error)".contains("training step 2"), "\(error)")
        }
        XCTAssertEqual(model.parameters.map(\.bitPattern), before.map(\.bitPattern), "a failed step must not update the model")
        XCTAssertEqual(adam.step, 1)
    }
}
