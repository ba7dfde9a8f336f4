import XCTest
@testable import LGAE

/// SplitMix64, so every finite-difference test draws the same inputs on every run.
private struct SeededGenerator {
    var state: UInt64
    mutating func nextBits() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [lower, upper).
    mutating func uniform(_ lower: Double = -1, _ upper: Double = 1) -> Double {
        lower + (upper - lower) * Double(nextBits() >> 11) / Double(UInt64(1) << 53)
    }
    mutating func array(_ count: Int, _ lower: Double = -1, _ upper: Double = 1) -> [Double] {
        (0..<count).map { _ in uniform(lower, upper) }
    }
}

/// Central finite differences of `f` at the given indices of `x`, step 1e-6·max(1, |x|).
private func centralDifferences(_ x: [Double], indices: [Int], _ f: ([Double]) -> Double) -> [Double] {
    indices.map { index in
        var plus = x, minus = x
        let h = 1e-6 * max(1, abs(x[index]))
        plus[index] += h
        minus[index] -= h
        return (f(plus) - f(minus)) / (2 * h)
    }
}

/// max |analytic − numeric| / max |numeric| over one gradient block: a norm-wise relative error,
/// so a component that is tiny compared with the block is not judged against its own rounding.
private func relativeError(_ analytic: [Double], _ numeric: [Double], file: StaticString = #filePath, line: UInt = #line) -> Double {
    XCTAssertEqual(analytic.count, numeric.count, file: file, line: line)
    let scale = numeric.map(abs).max() ?? 0
    XCTAssertGreaterThan(scale, 1e-8, "the gradient block is (numerically) zero, so the test would not check it",
                         file: file, line: line)
    return zip(analytic, numeric).map { abs($0 - $1) }.max()! / scale
}

private func dot(_ a: [Double], _ b: [Double]) -> Double { zip(a, b).reduce(0) { $0 + $1.0 * $1.1 } }

/// A small configuration: N = 5, levels 2 → 3 → 2, K = 6 bells, MLP 2 hidden layers of width 4·C.
private let smallConfig = LGAEConfig(particleCount: 5, encoderChannels: [2, 3, 2], decoderChannels: [2, 2],
                                     basisFunctionCount: 3, mlpDepth: 2, mlpWidthMultiplier: 2,
                                     latentVectorCount: 1)

final class BackwardGradientTests: XCTestCase {
    let tolerance = 1e-6

    // MARK: 1. Gradient buffer

    func testGradientBufferSharesTheParameterLayout() {
        let layout = ParameterLayout(config: smallConfig)
        var gradients = ParameterGradients(layout: layout)
        XCTAssertEqual(gradients.count, layout.count)
        XCTAssertTrue(gradients.values.allSatisfy { $0 == 0 })
        let layer = layout.encoder.levels[1].mlp[1]
        gradients.values[layer.weight + 3] = 7
        gradients.values[layout.decoder.outputVector.im] = -2
        XCTAssertEqual(Array(gradients[block: "encoder.level1.mlp.1.weight"])[3], 7)
        XCTAssertEqual(Array(gradients[block: "decoder.out.v.im"])[0], -2)
        XCTAssertEqual(gradients[block: "encoder.level1.mlp.1.weight"].count, layer.outputs * layer.inputs)
        gradients.setZero()
        XCTAssertTrue(gradients.values.allSatisfy { $0 == 0 })
    }

    // MARK: 2. Mixing matrices and the scalar MLP

    func testComplexMixingGradients() {
        let layout = ParameterLayout(config: smallConfig)
        let level = layout.encoder.levels[0]
        let n = smallConfig.particleCount
        var rng = SeededGenerator(state: 11)
        let parameters = rng.array(layout.count)
        for vector in [false, true] {
            let w = vector ? level.mixVector : level.mixScalar
            let width = vector ? 8 : 2
            let input = rng.array(width * w.columns * n)
            let upstream = rng.array(width * w.rows * n)
            func loss(_ p: [Double], _ x: [Double]) -> Double {
                var y = [Double](repeating: 0, count: width * w.rows * n)
                if vector { mixVectors(w, p, input: x, output: &y, nodes: n) } else { mixScalars(w, p, input: x, output: &y, nodes: n) }
                return dot(y, upstream)
            }
            var gradients = [Double](repeating: 0, count: layout.count)
            var inputGradient = [Double](repeating: 0, count: input.count)
            if vector {
                mixVectorsBackward(w, parameters, input: input, outputGradient: upstream, inputGradient: &inputGradient,
                                   gradients: &gradients, nodes: n)
            } else {
                mixScalarsBackward(w, parameters, input: input, outputGradient: upstream, inputGradient: &inputGradient,
                                   gradients: &gradients, nodes: n)
            }
            let weights = Array(w.re..<(w.re + w.rows * w.columns)) + Array(w.im..<(w.im + w.rows * w.columns))
            let numericW = centralDifferences(parameters, indices: weights) { loss($0, input) }
            let numericX = centralDifferences(input, indices: Array(input.indices)) { loss(parameters, $0) }
            let errorW = relativeError(weights.map { gradients[$0] }, numericW)
            let errorX = relativeError(inputGradient, numericX)
            print("FD mix\(vector ? "Vectors" : "Scalars"): weights \(errorW), inputs \(errorX)")
            XCTAssertLessThan(errorW, tolerance)
            XCTAssertLessThan(errorX, tolerance)
        }
    }

    func testScalarMLPGradients() {
        let layout = ParameterLayout(config: smallConfig)
        let layers = layout.encoder.levels[1].mlp
        let n = smallConfig.particleCount, channels = layout.encoder.levels[1].outputChannels
        let slope = smallConfig.leakyReLUSlope
        var rng = SeededGenerator(state: 22)
        let parameters = rng.array(layout.count)
        let input = rng.array(2 * channels * n)
        let upstream = rng.array(2 * channels * n)
        let cache = MLPCache(layers: layers, nodes: n)
        func loss(_ p: [Double], _ x: [Double]) -> Double {
            let scalarsIn = NodeScalars(nodes: n, channels: channels), scalarsOut = NodeScalars(nodes: n, channels: channels)
            for e in x.indices { scalarsIn.buffer[e] = x[e] }
            p.withUnsafeBufferPointer {
                runScalarMLP(layers, $0.baseAddress!, cache: cache, input: scalarsIn, output: scalarsOut, slope: slope)
            }
            return dot(scalarsOut.buffer.array, upstream)
        }
        _ = loss(parameters, input)
        // Both LeakyReLU branches must be exercised, or the slope path would go untested.
        let pre = (0..<(layers.count - 1)).flatMap { j in (0..<layers[j].outputs).flatMap { o in
            (0..<n).map { cache.preActivation(layer: j, feature: o, node: $0) } } }
        XCTAssertTrue(pre.contains { $0 < 0 } && pre.contains { $0 > 0 })
        XCTAssertGreaterThan(pre.map(abs).min()!, 1e-4, "an activation near the LeakyReLU kink would spoil the FD test")

        var gradients = [Double](repeating: 0, count: layout.count)
        var inputGradient = [Double](repeating: 0, count: input.count)
        let workspace = MLPBackwardWorkspace(cache: cache)
        scalarMLPBackward(layers, parameters, cache: cache, workspace: workspace, outputGradient: upstream,
                          inputGradient: &inputGradient, gradients: &gradients, slope: slope)
        for (j, layer) in layers.enumerated() {
            let weights = Array(layer.weight..<(layer.weight + layer.outputs * layer.inputs))
            let biases = Array(layer.bias..<(layer.bias + layer.outputs))
            let errorW = relativeError(weights.map { gradients[$0] }, centralDifferences(parameters, indices: weights) { loss($0, input) })
            let errorB = relativeError(biases.map { gradients[$0] }, centralDifferences(parameters, indices: biases) { loss($0, input) })
            print("FD scalarMLP layer \(j): weight \(errorW), bias \(errorB)")
            XCTAssertLessThan(errorW, tolerance)
            XCTAssertLessThan(errorB, tolerance)
        }
        let errorX = relativeError(inputGradient, centralDifferences(input, indices: Array(input.indices)) { loss(parameters, $0) })
        print("FD scalarMLP input: \(errorX)")
        XCTAssertLessThan(errorX, tolerance)
    }

    // MARK: 3. The fused encoder edge kernel with the self-interaction

    func testEncoderEdgeKernelGradients() {
        let layout = ParameterLayout(config: smallConfig)
        let level = layout.encoder.levels[1]
        let n = smallConfig.particleCount, cin = level.inputChannels, bellCount = level.bells.count
        var rng = SeededGenerator(state: 33)
        let parameters = rng.array(layout.count)
        let scalars = rng.array(2 * cin * n), vectors = rng.array(8 * cin * n)
        let positions = rng.array(4 * n)
        // Generic positions: no interval of a distinct pair near the kink of the signed norm.
        for i in 0..<n {
            for j in 0..<n where j != i {
                var q = 0.0
                for mu in 0..<4 {
                    let d = positions[4 * i + mu] - positions[4 * j + mu]
                    q += (mu == 0 ? 1 : -1) * d * d
                }
                XCTAssertGreaterThan(abs(q), 1e-3)
            }
        }
        let mask = [true, true, true, true, false]
        let upstreamS = rng.array(10 * cin * n), upstreamV = rng.array(40 * cin * n)
        let stride = (4 * cin + 15) / 16 * 16

        for clean in [false, true] {
            /// Runs encoderEdgeMessages + selfInteraction on copies of the inputs, then `body`.
            func withForward<R>(_ p: [Double], _ s: [Double], _ v: [Double], _ x: [Double],
                                _ body: (EncoderEdgeArguments, DoubleBuffer, DoubleBuffer) -> R) -> R {
                func buffer(_ values: [Double]) -> DoubleBuffer {
                    let b = DoubleBuffer(count: values.count)
                    for e in values.indices { b[e] = values[e] }
                    return b
                }
                let pb = buffer(p), sb = buffer(s), vb = buffer(v), xb = buffer(x)
                let norms = DoubleBuffer(count: n * n)
                realEdgeNorms(positions: xb.base, count: n, norms: norms.base)
                // The packing of Encoder.packRadialWeights: [L_0; L_1] transposed, zero-padded.
                let packed = DoubleBuffer(count: bellCount * stride), bias = DoubleBuffer(count: stride)
                for (block, layer) in [level.radialScalar, level.radialVector].enumerated() {
                    for o in 0..<(2 * cin) {
                        bias[block * 2 * cin + o] = p[layer.bias + o]
                        for k in 0..<bellCount { packed[k * stride + block * 2 * cin + o] = p[layer.weight + o * bellCount + k] }
                    }
                }
                let maskStorage = UnsafeMutablePointer<Bool>.allocate(capacity: n)
                defer { maskStorage.deallocate() }
                maskStorage.initialize(from: mask, count: n)
                let scratch = DoubleBuffer(count: 8 * n), phi = DoubleBuffer(count: n * n * bellCount)
                let radial = DoubleBuffer(count: n * n * stride)
                let catS = DoubleBuffer(count: 10 * cin * n), catV = DoubleBuffer(count: 40 * cin * n)
                let arguments = EncoderEdgeArguments(
                    nodes: n, channels: cin, bellCount: bellCount, clean: clean, positions: xb.base, mask: maskStorage,
                    norms: norms.base, bellA: pb.base + level.bells.a, bellB: pb.base + level.bells.b,
                    bellC: pb.base + level.bells.c, radialStride: stride, radialWeightsTransposed: packed.base,
                    radialBias: bias.base, scalars: sb.base, vectors: vb.base, rowScratch: scratch.base, phi: phi.base,
                    radial: radial.base, concatScalars: catS.base, concatVectors: catV.base)
                encoderEdgeMessages(arguments)
                selfInteraction(nodes: n, channels: cin, scalars: sb.base, vectors: vb.base,
                                concatScalars: catS.base, concatVectors: catV.base)
                return withExtendedLifetime((pb, sb, vb, xb, norms, packed, bias, scratch, phi, radial)) {
                    body(arguments, catS, catV)
                }
            }
            func loss(_ p: [Double], _ s: [Double], _ v: [Double], _ x: [Double]) -> Double {
                withForward(p, s, v, x) { _, catS, catV in dot(catS.array, upstreamS) + dot(catV.array, upstreamV) }
            }

            var gradients = [Double](repeating: 0, count: layout.count)
            var gS = [Double](repeating: 0, count: scalars.count), gV = [Double](repeating: 0, count: vectors.count)
            var gX = [Double](repeating: 0, count: positions.count)
            withForward(parameters, scalars, vectors, positions) { arguments, _, _ in
                // The argument struct holds raw pointers, so the gradient arrays are pinned for the whole call.
                gradients.withUnsafeMutableBufferPointer { g in
                    gS.withUnsafeMutableBufferPointer { s in
                        gV.withUnsafeMutableBufferPointer { v in
                            gX.withUnsafeMutableBufferPointer { x in
                                upstreamS.withUnsafeBufferPointer { uS in
                                    upstreamV.withUnsafeBufferPointer { uV in
                                        encoderEdgeMessagesBackward(arguments, EncoderEdgeGradientArguments(
                                            parameters: arguments.bellA - level.bells.a, bells: level.bells,
                                            radialScalar: level.radialScalar, radialVector: level.radialVector,
                                            concatScalarGradients: uS.baseAddress!, concatVectorGradients: uV.baseAddress!,
                                            gradients: g.baseAddress!, scalarGradients: s.baseAddress!,
                                            vectorGradients: v.baseAddress!, positionGradients: x.baseAddress!))
                                    }
                                }
                            }
                        }
                    }
                }
                selfInteractionBackward(nodes: n, channels: cin, scalars: arguments.scalars, vectors: arguments.vectors,
                                        concatScalarGradients: upstreamS, concatVectorGradients: upstreamV,
                                        scalarGradients: &gS, vectorGradients: &gV)
            }

            let blocks: [(String, [Int])] = [
                ("bell.a", Array(level.bells.a..<(level.bells.a + bellCount))),
                ("bell.b", Array(level.bells.b..<(level.bells.b + bellCount))),
                ("bell.c", Array(level.bells.c..<(level.bells.c + bellCount))),
                ("L0.weight", Array(level.radialScalar.weight..<(level.radialScalar.weight + 2 * cin * bellCount))),
                ("L0.bias", Array(level.radialScalar.bias..<(level.radialScalar.bias + 2 * cin))),
                ("L1.weight", Array(level.radialVector.weight..<(level.radialVector.weight + 2 * cin * bellCount))),
                ("L1.bias", Array(level.radialVector.bias..<(level.radialVector.bias + 2 * cin))),
            ]
            for (name, indices) in blocks {
                let numeric = centralDifferences(parameters, indices: indices) { loss($0, scalars, vectors, positions) }
                let error = relativeError(indices.map { gradients[$0] }, numeric)
                print("FD edge kernel (clean: \(clean)) \(name): \(error)")
                XCTAssertLessThan(error, tolerance, "\(name), clean: \(clean)")
            }
            let errorS = relativeError(gS, centralDifferences(scalars, indices: Array(scalars.indices)) { loss(parameters, $0, vectors, positions) })
            let errorV = relativeError(gV, centralDifferences(vectors, indices: Array(vectors.indices)) { loss(parameters, scalars, $0, positions) })
            let errorX = relativeError(gX, centralDifferences(positions, indices: Array(positions.indices)) { loss(parameters, scalars, vectors, $0) })
            print("FD edge kernel (clean: \(clean)) scalars \(errorS), vectors \(errorV), positions \(errorX)")
            XCTAssertLessThan(errorS, tolerance)
            XCTAssertLessThan(errorV, tolerance)
            XCTAssertLessThan(errorX, tolerance)
            // No gradient may leak into parameters the kernel does not use.
            let used = Set(blocks.flatMap(\.1))
            XCTAssertTrue(gradients.indices.allSatisfy { used.contains($0) || gradients[$0] == 0 })
        }
    }

    // MARK: 4. Losses (§9)

    func testChamferWorkedExampleAndTieRule() {
        // §9: x = {(1,0,0,0),(0,1,0,0)}, y = {(1,0,0,1),(0,0,0,0)}, D = [[1,1],[3,1]], L = 2.
        let x: [Double] = [1, 0, 0, 0, 0, 1, 0, 0], y: [Double] = [1, 0, 0, 1, 0, 0, 0, 0]
        var gradient = [Double](repeating: .nan, count: 8)
        XCTAssertEqual(chamferLoss(reconstruction: x, target: y, particles: 2, gradient: &gradient), 2, accuracy: 1e-15)
        // Row 0 ties (D = 1, 1) and column 1 ties (D = 1, 1): the first index wins, so x_0 pairs
        // with y_0 in its row term and also takes column 1's term: ∂L/∂x_0 = 2(x_0 − y_0) + (x_0 − y_1).
        XCTAssertEqual(gradient, [1, 0, 0, -2, 0, 1, 0, 0])
        XCTAssertEqual(chamferLoss(reconstruction: x + x, target: y + y, particles: 2), 4, accuracy: 1e-15,
                       "the batch is summed, not averaged")
    }

    func testChamferGradient() {
        var rng = SeededGenerator(state: 44)
        let n = 5, jets = 2
        let x = rng.array(4 * n * jets), y = rng.array(4 * n * jets)
        var gradient = [Double](repeating: 0, count: x.count)
        _ = chamferLoss(reconstruction: x, target: y, particles: n, gradient: &gradient)
        let numeric = centralDifferences(x, indices: Array(x.indices)) { chamferLoss(reconstruction: $0, target: y, particles: n) }
        let error = relativeError(gradient, numeric)
        print("FD chamferLoss: \(error)")
        XCTAssertLessThan(error, tolerance)
    }

    func testMSEValueAndGradient() {
        XCTAssertEqual(mseLoss(reconstruction: [1, 0, 0, 0, 0, 1, 0, 0], target: [1, 0, 0, 1, 0, 0, 0, 0]), 2.0 / 8,
                       "(0,0,0,−1) and (0,1,0,0) differences, 8 entries")
        var rng = SeededGenerator(state: 55)
        let x = rng.array(4 * 5 * 2), y = rng.array(4 * 5 * 2)
        var gradient = [Double](repeating: 0, count: x.count)
        _ = mseLoss(reconstruction: x, target: y, gradient: &gradient)
        let numeric = centralDifferences(x, indices: Array(x.indices)) { mseLoss(reconstruction: $0, target: y) }
        let error = relativeError(gradient, numeric)
        print("FD mseLoss: \(error)")
        XCTAssertLessThan(error, tolerance)
    }

    func testComplexToRealGradients() {
        var rng = SeededGenerator(state: 66)
        let n = 5
        let complex = rng.array(8 * n), upstream = rng.array(4 * n)
        for rule in ComplexToRealRule.allCases {
            func loss(_ o: [Double]) -> Double {
                var real = [Double](repeating: 0, count: 4 * n)
                applyComplexToReal(rule, complex: o, real: &real, particles: n)
                return dot(real, upstream)
            }
            var gradient = [Double](repeating: .nan, count: 8 * n)
            applyComplexToRealBackward(rule, complex: complex, realGradient: upstream, complexGradient: &gradient, particles: n)
            let error = relativeError(gradient, centralDifferences(complex, indices: Array(complex.indices), loss))
            print("FD applyComplexToReal .\(rule): \(error)")
            XCTAssertLessThan(error, tolerance, "\(rule)")
        }
    }

    func testDecoderMessageGradients() {
        let layout = ParameterLayout(config: smallConfig)
        let level = layout.decoder.levels[0]
        let n = smallConfig.particleCount, cin = level.inputChannels
        var rng = SeededGenerator(state: 77)
        let parameters = rng.array(layout.count)
        let positions = rng.array(8 * n), scalars = rng.array(2 * cin * n), vectors = rng.array(8 * cin * n)
        let upstreamS = rng.array(10 * cin * n), upstreamV = rng.array(40 * cin * n)
        let model = LGAEModel(config: smallConfig, parameters: parameters)
        let cache = model.makeDecoderCache()
        /// decoderMessages + selfInteraction of decoder level 0 on the given inputs.
        func forward(_ p: [Double], _ x: [Double], _ s: [Double], _ v: [Double]) -> Double {
            for e in x.indices { cache.positions.buffer[e] = x[e] }
            for e in s.indices { cache.nodeScalars[0].buffer[e] = s[e] }
            for e in v.indices { cache.nodeVectors[0].buffer[e] = v[e] }
            let levelCache = cache.levels[0]
            p.withUnsafeBufferPointer {
                model.decoderMessages(level, $0.baseAddress!, positions: cache.positions, scalars: cache.nodeScalars[0],
                                      vectors: cache.nodeVectors[0], cache: levelCache)
            }
            selfInteraction(nodes: n, channels: cin, scalars: cache.nodeScalars[0].buffer.base,
                            vectors: cache.nodeVectors[0].buffer.base, concatScalars: levelCache.concatScalars.buffer.base,
                            concatVectors: levelCache.concatVectors.buffer.base)
            return dot(levelCache.concatScalars.buffer.array, upstreamS) + dot(levelCache.concatVectors.buffer.array, upstreamV)
        }
        _ = forward(parameters, positions, scalars, vectors)
        var gradients = [Double](repeating: 0, count: layout.count)
        var gX = [Double](repeating: 0, count: positions.count)
        var gS = [Double](repeating: 0, count: scalars.count), gV = [Double](repeating: 0, count: vectors.count)
        model.decoderMessagesBackward(level, parameters, positions: cache.positions, scalars: cache.nodeScalars[0],
                                      vectors: cache.nodeVectors[0], cache: cache.levels[0],
                                      concatScalarGradients: upstreamS, concatVectorGradients: upstreamV,
                                      gradients: &gradients, scalarGradients: &gS, vectorGradients: &gV, positionGradients: &gX)
        selfInteractionBackward(nodes: n, channels: cin, scalars: scalars, vectors: vectors,
                                concatScalarGradients: upstreamS, concatVectorGradients: upstreamV,
                                scalarGradients: &gS, vectorGradients: &gV)
        let biases = Array(level.radialScalar.bias..<(level.radialScalar.bias + cin)) + Array(level.radialVector.bias..<(level.radialVector.bias + cin))
        let errorB = relativeError(biases.map { gradients[$0] },
                                   centralDifferences(parameters, indices: biases) { forward($0, positions, scalars, vectors) })
        let errorX = relativeError(gX, centralDifferences(positions, indices: Array(positions.indices)) { forward(parameters, $0, scalars, vectors) })
        let errorS = relativeError(gS, centralDifferences(scalars, indices: Array(scalars.indices)) { forward(parameters, positions, $0, vectors) })
        let errorV = relativeError(gV, centralDifferences(vectors, indices: Array(vectors.indices)) { forward(parameters, positions, scalars, $0) })
        print("FD decoder messages: radial biases \(errorB), positions \(errorX), scalars \(errorS), vectors \(errorV)")
        for error in [errorB, errorX, errorS, errorV] { XCTAssertLessThan(error, tolerance) }
        // §4.2 QUIRK: φ ≡ 0 in the decoder, so only the radial biases may receive a gradient.
        let used = Set(biases)
        XCTAssertTrue(gradients.indices.allSatisfy { used.contains($0) || gradients[$0] == 0 })
    }

    func testLatentAggregationGradients() {
        for aggregation in LatentAggregation.allCases {
            for mode in [PaddingMode.faithful, .clean] {
                var config = smallConfig
                config.aggregation = aggregation
                config.mode = mode
                config.latentVectorCount = 2
                let layout = ParameterLayout(config: config)
                let n = config.particleCount, channels = config.encoderChannels.last!, k = config.latentVectorCount
                var rng = SeededGenerator(state: 88)
                let parameters = rng.array(layout.count)
                let scalars = rng.array(2 * channels * n), vectors = rng.array(8 * channels * n)
                let upstreamS = rng.array(2 * config.latentScalarCount), upstreamV = rng.array(8 * config.latentVectorTotal)
                let model = LGAEModel(config: config, parameters: parameters)
                let cache = model.makeEncoderCache()
                let last = config.encoderChannels.count - 1
                for i in 0..<n { cache.maskStorage[i] = i < n - 1 }
                func forward(_ p: [Double], _ s: [Double], _ v: [Double]) -> Double {
                    for e in s.indices { cache.nodeScalars[last].buffer[e] = s[e] }
                    for e in v.indices { cache.nodeVectors[last].buffer[e] = v[e] }
                    p.withUnsafeBufferPointer { model.aggregateLatent(parameters: $0.baseAddress!, cache: cache) }
                    return dot(cache.latentScalars.buffer.array, upstreamS) + dot(cache.latentVectors.buffer.array, upstreamV)
                }
                _ = forward(parameters, scalars, vectors)
                var gradients = [Double](repeating: 0, count: layout.count)
                var gS = [Double](repeating: 0, count: scalars.count), gV = [Double](repeating: 0, count: vectors.count)
                var gZs = [Double](repeating: 0, count: 2 * n), gZv = [Double](repeating: 0, count: 8 * k * n)
                model.aggregateLatentBackward(parameters: parameters, cache: cache, latentScalarGradients: upstreamS,
                                              latentVectorGradients: upstreamV, gradients: &gradients,
                                              scalarGradients: &gS, vectorGradients: &gV,
                                              particleScalarGradients: &gZs, particleVectorGradients: &gZv)
                let u = layout.encoder.latentScalar, U = layout.encoder.latentVector
                let weights = Array(u.re..<(u.re + u.rows * u.columns)) + Array(u.im..<(u.im + u.rows * u.columns))
                    + Array(U.re..<(U.re + U.rows * U.columns)) + Array(U.im..<(U.im + U.rows * U.columns))
                let errorW = relativeError(weights.map { gradients[$0] },
                                           centralDifferences(parameters, indices: weights) { forward($0, scalars, vectors) })
                let errorS = relativeError(gS, centralDifferences(scalars, indices: Array(scalars.indices)) { forward(parameters, $0, vectors) })
                let errorV = relativeError(gV, centralDifferences(vectors, indices: Array(vectors.indices)) { forward(parameters, scalars, $0) })
                print("FD aggregateLatent .\(aggregation) .\(mode): weights \(errorW), scalars \(errorS), vectors \(errorV)")
                for error in [errorW, errorS, errorV] { XCTAssertLessThan(error, tolerance, "\(aggregation), \(mode)") }
            }
        }
    }

    // MARK: 5. The whole model

    func testEndToEndParameterGradients() {
        let cases: [(LatentAggregation, PaddingMode, Bool)] = [(.minMax, .faithful, true), (.mix, .clean, false), (.mean, .faithful, false)]
        for (aggregation, mode, chamfer) in cases {
            var config = smallConfig
            config.aggregation = aggregation
            config.mode = mode
            var rng = SeededGenerator(state: 99)
            let n = config.particleCount
            // Massive particles (E > |p|) with one padded slot; the last slot's p4 is zero.
            var p4 = [Double](repeating: 0, count: 4 * n)
            for i in 0..<(n - 1) {
                let momentum = rng.array(3, -0.5, 0.5)
                let mass = rng.uniform(0.1, 0.3)
                p4[4 * i] = (mass * mass + momentum.reduce(0) { $0 + $1 * $1 }).squareRoot()
                for mu in 0..<3 { p4[4 * i + 1 + mu] = momentum[mu] }
            }
            let jet = JetInput(p4: p4, mask: (0..<n).map { $0 < n - 1 })
            let layout = ParameterLayout(config: config)
            // Scaled up from the §7 initialisation so that outputs (and gradients) are O(1).
            let parameters = rng.array(layout.count, -0.8, 0.8)
            let target = rng.array(4 * n, -0.05, 0.05)
            let model = LGAEModel(config: config, parameters: parameters)
            let encoderCache = model.makeEncoderCache(), decoderCache = model.makeDecoderCache()
            func loss(_ output: [Double], _ gradient: UnsafeMutablePointer<Double>?) -> Double {
                chamfer ? chamferLoss(reconstruction: output, target: target, particles: n, gradient: gradient)
                        : mseLoss(reconstruction: output, target: target, gradient: gradient)
            }
            func lossOf(_ p: [Double]) -> Double {
                let probe = LGAEModel(config: config, parameters: p)
                return loss(probe.reconstruct(jet), nil)
            }
            model.reconstruct(jet, encoderCache: encoderCache, decoderCache: decoderCache)
            var outputGradient = [Double](repeating: 0, count: 4 * n)
            _ = loss(decoderCache.output.array, &outputGradient)
            var gradients = ParameterGradients(layout: layout)
            model.backward(encoderCache: encoderCache, decoderCache: decoderCache,
                           encoderWorkspace: EncoderGradientWorkspace(cache: encoderCache),
                           decoderWorkspace: DecoderGradientWorkspace(cache: decoderCache),
                           outputGradient: outputGradient, gradients: &gradients)
            let numeric = centralDifferences(parameters, indices: Array(parameters.indices), lossOf)
            var worst = (0.0, "")
            for block in layout.blocks {
                let scale = block.range.map { abs(numeric[$0]) }.max()!
                let error = block.range.map { abs(gradients.values[$0] - numeric[$0]) }.max()! / max(scale, 1e-300)
                if scale < 1e-10 {
                    // Blocks with no influence (dead latent scalars, decoder bells) must be exactly zero.
                    XCTAssertTrue(block.range.allSatisfy { gradients.values[$0] == 0 }, "\(block.name) should get no gradient")
                } else if error > worst.0 {
                    worst = (error, block.name)
                }
            }
            let total = relativeError(gradients.values, numeric)
            print("FD end-to-end .\(aggregation) .\(mode) \(chamfer ? "chamfer" : "mse"): all parameters \(total), worst block \(worst.1) \(worst.0)")
            XCTAssertLessThan(total, tolerance)
            XCTAssertLessThan(worst.0, tolerance, "worst block \(worst.1)")
        }
    }

    func testL1RegulariserGradient() {
        let layout = ParameterLayout(config: smallConfig)
        var rng = SeededGenerator(state: 111)
        // Away from θ = 0, the kink of |θ|.
        let parameters = rng.array(layout.count).map { $0 + ($0 < 0 ? -0.01 : 0.01) }
        let lambda = 1e-8
        var gradients = ParameterGradients(layout: layout)
        gradients.values[0] = 1
        let penalty = addL1Regulariser(parameters: parameters, lambda: lambda, gradients: &gradients)
        XCTAssertEqual(penalty, lambda * parameters.reduce(0) { $0 + abs($1) }, accuracy: 1e-22)
        gradients.values[0] -= 1   // it accumulates
        let numeric = centralDifferences(parameters, indices: Array(parameters.indices)) { p in
            var scratch = ParameterGradients(layout: layout)
            return addL1Regulariser(parameters: p, lambda: lambda, gradients: &scratch)
        }
        let error = relativeError(gradients.values, numeric)
        print("FD addL1Regulariser: \(error)")
        XCTAssertLessThan(error, tolerance)
    }
}
