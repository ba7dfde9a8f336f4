import XCTest
import SeededRandom
@testable import Baselines

// Gradient checks by central differences for each CNNAE kernel and for the whole loss, hand-worked
// convolutions that pin TensorFlow's "same" padding, and the network's shapes, initialisation and
// determinism (spec §12.2).

private func cnnRandom(_ count: Int, _ rng: inout Xoshiro256StarStar, _ lower: Double = -1, _ upper: Double = 1) -> [Double] {
    (0..<count).map { _ in lower + (upper - lower) * rng.nextUniform() }
}


/// A dense h × w × c channels-last array copied into a zero-ringed `ConvPaddedMap` buffer.
private func cnnPadded(_ values: [Double], height: Int, width: Int, channels: Int) -> (ConvPaddedMap, [Double]) {
    let map = ConvPaddedMap(height: height, width: width, channels: channels)
    var buffer = [Double](repeating: 0, count: map.count)
    for y in 0..<height {
        for e in 0..<(width * channels) { buffer[map.origin + y * map.rowStride + e] = values[y * width * channels + e] }
    }
    return (map, buffer)
}

private func cnnWithOptional<R>(_ array: [Double]?, _ body: (UnsafePointer<Double>?) -> R) -> R {
    guard let array else { return body(nil) }
    return array.withUnsafeBufferPointer { body($0.baseAddress!) }
}

/// `kernel`'s register-tile panels (`convPackPanels`), or nil when there are no whole blocks.
private func cnnPanels(_ kernel: [Double], depth: Int, columns: Int, transposed: Bool) -> [Double]? {
    guard columns >= 8 else { return nil }
    var panels = [Double](repeating: .nan, count: convPanelCount(depth: depth, columns: columns))
    convPackPanels(kernel, depth: depth, columns: columns, transposed: transposed, into: &panels)
    return panels
}

/// y = convStride2(x; K in (3, 3, a, b), bias) as a dense (h/2) × (w/2) × b array.
private func cnnConvForward(_ x: [Double], _ k: [Double], _ bias: [Double]?, height: Int, width: Int, a: Int, b: Int,
                            relu: Bool = false) -> [Double] {
    let (map, padded) = cnnPadded(x, height: height, width: width, channels: a)
    let panels = cnnPanels(k, depth: a, columns: b, transposed: false)
    var y = [Double](repeating: .nan, count: (height / 2) * (width / 2) * b)
    padded.withUnsafeBufferPointer { p in
        y.withUnsafeMutableBufferPointer { out in
            cnnWithOptional(bias) { biasPointer in
                cnnWithOptional(panels) { panelPointer in
                    convStride2(input: p.baseAddress! + map.origin, inputRowStride: map.rowStride, height: height, width: width,
                                inputChannels: a, kernel: k, panels: panelPointer, outputChannels: b, bias: biasPointer,
                                output: out.baseAddress!, outputRowStride: (width / 2) * b, relu: relu)
                }
            }
        }
    }
    return y
}

/// Y = convTransposeStride2(X; K in (3, 3, b, a), bias) as a dense 2h × 2w × b array.
private func cnnTransposeForward(_ x: [Double], _ k: [Double], _ bias: [Double]?, height: Int, width: Int, a: Int, b: Int,
                                 relu: Bool = false) -> [Double] {
    let (map, padded) = cnnPadded(x, height: height, width: width, channels: a)
    let panels = cnnPanels(k, depth: a, columns: b, transposed: true)
    var y = [Double](repeating: .nan, count: 4 * height * width * b)
    padded.withUnsafeBufferPointer { p in
        y.withUnsafeMutableBufferPointer { out in
            cnnWithOptional(bias) { biasPointer in
                cnnWithOptional(panels) { panelPointer in
                    convTransposeStride2(input: p.baseAddress! + map.origin, inputRowStride: map.rowStride, height: height,
                                         width: width, inputChannels: a, kernel: k, panels: panelPointer,
                                         outputChannels: b, bias: biasPointer, output: out.baseAddress!,
                                         outputRowStride: 2 * width * b, relu: relu)
                }
            }
        }
    }
    return y
}

/// ∂/∂K by `convStride2KernelGradient` (added to zeros), with its scratch.
private func cnnKernelGradient(big: [Double], bigMap: ConvPaddedMap, small: [Double], smallRowStride: Int,
                               height: Int, width: Int, smallChannels q: Int) -> [Double] {
    var gradient = [Double](repeating: 0, count: 9 * bigMap.channels * q)
    var scratch = [Double](repeating: .nan, count: convKernelGradientScratchCount(pixels: height * width, smallChannels: q))
    big.withUnsafeBufferPointer { b in
        convStride2KernelGradient(big: b.baseAddress! + bigMap.origin, bigRowStride: bigMap.rowStride,
                                  bigChannels: bigMap.channels, small: small, smallRowStride: smallRowStride,
                                  height: height, width: width, smallChannels: q, gradient: &gradient, scratch: &scratch)
    }
    return gradient
}

final class CNNAETests: XCTestCase {
    let tolerance = 1e-6

    // MARK: - Hand-worked convolutions (TensorFlow "same" padding)

    /// x = [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12], [13, 14, 15, 16]], K = [[1, 2, 3], [4, 5, 6],
    /// [7, 8, 9]], stride 2, "same": padding 0 before and 1 after (ConvKernels.swift), so
    /// y[o] = Σ_k x[2o + k]·K[k] with x = 0 past the bottom and right edges:
    ///   y[0,0] = 1·1 + 2·2 + 3·3 + 5·4 + 6·5 + 7·6 + 9·7 + 10·8 + 11·9   = 14 + 92 + 242 = 348
    ///   y[0,1] = 3·1 + 4·2 + 0 + 7·4 + 8·5 + 0 + 11·7 + 12·8 + 0        = 11 + 68 + 173 = 252
    ///   y[1,0] = 9·1 + 10·2 + 11·3 + 13·4 + 14·5 + 15·6 + 0              = 62 + 212      = 274
    ///   y[1,1] = 11·1 + 12·2 + 15·4 + 16·5                               = 35 + 140      = 175
    /// (TensorFlow 2.21's tf.nn.conv2d and keras Conv2D give the same; symmetric padding would give
    /// y[0,0] = 6·5 + 7·6 + 10·8 + 11·9 = 251.) With bias 0.5 every output gains 0.5.
    func testHandWorkedConvolution() {
        let x = (1...16).map(Double.init), k = (1...9).map(Double.init)
        XCTAssertEqual(cnnConvForward(x, k, nil, height: 4, width: 4, a: 1, b: 1), [348, 252, 274, 175])
        XCTAssertEqual(cnnConvForward(x, k, [0.5], height: 4, width: 4, a: 1, b: 1), [348.5, 252.5, 274.5, 175.5])
        // Two output channels, the second with the negated kernel, and ReLU: the second is all 0.
        let k2 = (0..<9).flatMap { [k[$0], -k[$0]] }
        XCTAssertEqual(cnnConvForward(x, k2, nil, height: 4, width: 4, a: 1, b: 2, relu: true), [348, 0, 252, 0, 274, 0, 175, 0])
    }

    /// X = [[1, 2], [3, 4]], the same K, stride 2, "same" → 4 × 4: Y[2i + kh, 2j + kw] += X[i, j]·K[kh, kw],
    /// index 4 dropped. Each X pixel stamps K with its top-left corner at (2i, 2j):
    ///   row 0: 1·1, 1·2, 1·3 + 2·1, 2·2                  = 1, 2, 5, 4
    ///   row 1: 1·4, 1·5, 1·6 + 2·4, 2·5                  = 4, 5, 14, 10
    ///   row 2: 1·7 + 3·1, 1·8 + 3·2, 1·9 + 2·7 + 3·3 + 4·1, 2·8 + 4·2 = 10, 14, 36, 24
    ///   row 3: 3·4, 3·5, 3·6 + 4·4, 4·5                  = 12, 15, 34, 20
    /// (keras Conv2DTranspose(1, 3, strides=2, padding="same") in TensorFlow 2.21 gives the same.)
    func testHandWorkedTransposedConvolution() {
        let x: [Double] = [1, 2, 3, 4], k = (1...9).map(Double.init)
        let expected: [Double] = [1, 2, 5, 4, 4, 5, 14, 10, 10, 14, 36, 24, 12, 15, 34, 20]
        XCTAssertEqual(cnnTransposeForward(x, k, nil, height: 2, width: 2, a: 1, b: 1), expected)
        // Through the register tiles (b = 8 output channels, channel o scaled by o + 1), with bias −1 and ReLU.
        let k8 = (0..<9).flatMap { t in (0..<8).map { o in Double(o + 1) * k[t] } }
        let y = cnnTransposeForward(x, k8, [Double](repeating: -1, count: 8), height: 2, width: 2, a: 1, b: 8, relu: true)
        for pixel in 0..<16 {
            for o in 0..<8 { XCTAssertEqual(y[8 * pixel + o], Double(o + 1) * expected[pixel] - 1) }
        }
    }

    // MARK: - Finite-difference checks, kernel by kernel

    /// Conv2D stride 2 "same": ∂/∂K (convStride2KernelGradient), ∂/∂bias, ∂/∂x (convTransposeStride2)
    /// of Σ y·U. The shapes cover the register tiles (b ≥ 8), the column remainder (b mod 8 ≠ 0),
    /// short row tiles (pixel counts not multiples of 6), the packed transpose (a ≥ 8) and a = 1.
    func testConvolutionGradients() {
        var rng = Xoshiro256StarStar(seed: 1)
        for (h, w, a, b) in [(6, 6, 3, 10), (8, 4, 1, 9), (4, 6, 10, 8)] {
            let k = cnnRandom(9 * a * b, &rng), bias = cnnRandom(b, &rng), x = cnnRandom(h * w * a, &rng)
            let upstream = cnnRandom((h / 2) * (w / 2) * b, &rng)
            func loss(_ k: [Double], _ bias: [Double], _ x: [Double]) -> Double {
                dot(cnnConvForward(x, k, bias, height: h, width: w, a: a, b: b), upstream)
            }
            let (xMap, xPadded) = cnnPadded(x, height: h, width: w, channels: a)
            let (uMap, uPadded) = cnnPadded(upstream, height: h / 2, width: w / 2, channels: b)
            let kernelGradient = cnnKernelGradient(big: xPadded, bigMap: xMap, small: upstream, smallRowStride: (w / 2) * b,
                                                   height: h / 2, width: w / 2, smallChannels: b)
            var biasGradient = [Double](repeating: 0, count: b)
            convBiasGradient(upstream, rowStride: (w / 2) * b, height: h / 2, width: w / 2, channels: b, gradient: &biasGradient)
            // The input gradient is the transposed convolution with the same kernel read as (3, 3, B' = a, A' = b).
            let panels = cnnPanels(k, depth: b, columns: a, transposed: true)
            var inputGradient = [Double](repeating: .nan, count: x.count)
            uPadded.withUnsafeBufferPointer { u in
                cnnWithOptional(panels) { panelPointer in
                    convTransposeStride2(input: u.baseAddress! + uMap.origin, inputRowStride: uMap.rowStride, height: h / 2,
                                         width: w / 2, inputChannels: b, kernel: k, panels: panelPointer,
                                         outputChannels: a, bias: nil, output: &inputGradient, outputRowStride: w * a, relu: false)
                }
            }
            let errorK = relativeGradientError(kernelGradient, centralDifferences(k, indices: Array(k.indices)) { loss($0, bias, x) })
            let errorB = relativeGradientError(biasGradient, centralDifferences(bias, indices: Array(bias.indices)) { loss(k, $0, x) })
            let errorX = relativeGradientError(inputGradient, centralDifferences(x, indices: Array(x.indices)) { loss(k, bias, $0) })
            print("FD conv \(h)×\(w)×\(a)→\(b): kernel \(errorK), bias \(errorB), input \(errorX)")
            XCTAssertLessThan(errorK, tolerance)
            XCTAssertLessThan(errorB, tolerance)
            XCTAssertLessThan(errorX, tolerance)
        }
    }

    /// Conv2DTranspose stride 2 "same": ∂/∂K (convStride2KernelGradient with big = U), ∂/∂bias,
    /// ∂/∂X (convStride2) of Σ Y·U, over the same kinds of shapes, including the C → 1 output layer.
    func testTransposedConvolutionGradients() {
        var rng = Xoshiro256StarStar(seed: 2)
        for (h, w, a, b) in [(3, 3, 5, 10), (2, 4, 9, 1), (3, 2, 8, 8)] {
            let k = cnnRandom(9 * b * a, &rng), bias = cnnRandom(b, &rng), x = cnnRandom(h * w * a, &rng)
            let upstream = cnnRandom(4 * h * w * b, &rng)
            func loss(_ k: [Double], _ bias: [Double], _ x: [Double]) -> Double {
                dot(cnnTransposeForward(x, k, bias, height: h, width: w, a: a, b: b), upstream)
            }
            let (uMap, uPadded) = cnnPadded(upstream, height: 2 * h, width: 2 * w, channels: b)
            let kernelGradient = cnnKernelGradient(big: uPadded, bigMap: uMap, small: x, smallRowStride: w * a,
                                                   height: h, width: w, smallChannels: a)
            var biasGradient = [Double](repeating: 0, count: b)
            convBiasGradient(upstream, rowStride: 2 * w * b, height: 2 * h, width: 2 * w, channels: b, gradient: &biasGradient)
            // The input gradient is the stride-2 convolution with the same kernel read as (3, 3, A' = b, B' = a).
            let panels = cnnPanels(k, depth: b, columns: a, transposed: false)
            let inputGradient = uPadded.withUnsafeBufferPointer { u in
                var g = [Double](repeating: .nan, count: x.count)
                cnnWithOptional(panels) { panelPointer in
                    convStride2(input: u.baseAddress! + uMap.origin, inputRowStride: uMap.rowStride, height: 2 * h, width: 2 * w,
                                inputChannels: b, kernel: k, panels: panelPointer, outputChannels: a, bias: nil, output: &g,
                                outputRowStride: w * a, relu: false)
                }
                return g
            }
            let errorK = relativeGradientError(kernelGradient, centralDifferences(k, indices: Array(k.indices)) { loss($0, bias, x) })
            let errorB = relativeGradientError(biasGradient, centralDifferences(bias, indices: Array(bias.indices)) { loss(k, $0, x) })
            let errorX = relativeGradientError(inputGradient, centralDifferences(x, indices: Array(x.indices)) { loss(k, bias, $0) })
            print("FD conv-transpose \(h)×\(w)×\(a)→\(b): kernel \(errorK), bias \(errorB), input \(errorX)")
            XCTAssertLessThan(errorK, tolerance)
            XCTAssertLessThan(errorB, tolerance)
            XCTAssertLessThan(errorX, tolerance)
        }
    }

    /// ReLU: ∂/∂x of Σ max(x, 0)·U is U where x > 0 and 0 elsewhere (convReLUBackward, on a map
    /// with row padding so the strides are exercised).
    func testReLUGradient() {
        var rng = Xoshiro256StarStar(seed: 3)
        let (h, w, c) = (3, 4, 5)
        let x = cnnRandom(h * w * c, &rng).map { $0 + ($0 < 0 ? -1e-3 : 1e-3) }  // clear of the kink
        let upstream = cnnRandom(h * w * c, &rng)
        func loss(_ x: [Double]) -> Double { dot(x.map { max($0, 0) }, upstream) }
        let (map, activation) = cnnPadded(x.map { max($0, 0) }, height: h, width: w, channels: c)
        var (_, gradient) = cnnPadded(upstream, height: h, width: w, channels: c)
        activation.withUnsafeBufferPointer { a in
            gradient.withUnsafeMutableBufferPointer { g in
                convReLUBackward(output: a.baseAddress! + map.origin, outputRowStride: map.rowStride,
                                 gradient: g.baseAddress! + map.origin, gradientRowStride: map.rowStride,
                                 height: h, width: w, channels: c)
            }
        }
        let analytic = (0..<h).flatMap { y in (0..<(w * c)).map { gradient[map.origin + y * map.rowStride + $0] } }
        let error = relativeGradientError(analytic, centralDifferences(x, indices: Array(x.indices), loss))
        XCTAssertTrue(x.contains { $0 < 0 } && x.contains { $0 > 0 })
        XCTAssertLessThan(error, tolerance)
        XCTAssertTrue(zip(gradient, activation).allSatisfy { $1 > 0 || $0 == 0 })
    }

    /// Dense with ReLU, and with a ReLU'd input whose gradient the backward fuses (the bottleneck
    /// reading conv2's output): ∂/∂W, ∂/∂bias, ∂/∂u of Σ act(W·relu(u) + b)·U.
    func testDenseGradients() {
        var rng = Xoshiro256StarStar(seed: 4)
        let (inputs, outputs) = (13, 7)
        let weights = cnnRandom(inputs * outputs, &rng), bias = cnnRandom(outputs, &rng)
        let u = cnnRandom(inputs, &rng).map { $0 + ($0 < 0 ? -1e-3 : 1e-3) }, upstream = cnnRandom(outputs, &rng)
        for (reluInput, reluOutput) in [(false, true), (true, false)] {
            func layer(_ w: [Double], _ b: [Double], _ u: [Double]) -> [Double] {
                let x = reluInput ? u.map { max($0, 0) } : u
                var y = [Double](repeating: .nan, count: outputs)
                convDenseForward(input: x, inputs: inputs, weights: w, bias: b, outputs: outputs, output: &y, relu: reluOutput)
                return y
            }
            func loss(_ w: [Double], _ b: [Double], _ u: [Double]) -> Double { dot(layer(w, b, u), upstream) }
            let y = layer(weights, bias, u)
            let g = zip(upstream, y).map { reluOutput && !($1 > 0) ? 0 : $0 }
            XCTAssertTrue(!reluOutput || (y.contains { $0 == 0 } && y.contains { $0 > 0 }))
            XCTAssertGreaterThan(y.map(abs).filter { $0 > 0 }.min()!, 1e-4)
            var weightGradient = [Double](repeating: 0, count: weights.count), biasGradient = [Double](repeating: 0, count: outputs)
            var inputGradient = [Double](repeating: .nan, count: inputs)
            let x = reluInput ? u.map { max($0, 0) } : u
            convDenseBackward(input: x, inputs: inputs, weights: weights, outputs: outputs, outputGradient: g,
                              inputGradient: &inputGradient, inputIsReLUOutput: reluInput,
                              weightGradient: &weightGradient, biasGradient: &biasGradient)
            let errorW = relativeGradientError(weightGradient, centralDifferences(weights, indices: Array(weights.indices)) { loss($0, bias, u) })
            let errorB = relativeGradientError(biasGradient, centralDifferences(bias, indices: Array(bias.indices)) { loss(weights, $0, u) })
            let errorU = relativeGradientError(inputGradient, centralDifferences(u, indices: Array(u.indices)) { loss(weights, bias, $0) })
            print("FD dense (ReLU input \(reluInput), ReLU output \(reluOutput)): weight \(errorW), bias \(errorB), input \(errorU)")
            XCTAssertLessThan(errorW, tolerance)
            XCTAssertLessThan(errorB, tolerance)
            XCTAssertLessThan(errorU, tolerance)
        }
    }

    /// Softmax over all pixels: ∂/∂z of Σ s(z)·U.
    func testSoftmaxGradient() {
        var rng = Xoshiro256StarStar(seed: 5)
        let z = cnnRandom(16, &rng, -3, 3), upstream = cnnRandom(16, &rng)
        func softmax(_ z: [Double]) -> [Double] {
            var s = [Double](repeating: .nan, count: z.count)
            convSoftmax(z, count: z.count, output: &s)
            return s
        }
        let s = softmax(z)
        XCTAssertEqual(s.reduce(0, +), 1, accuracy: 1e-15)
        // Invariant under a common shift (the max subtraction is exact mathematics, not an approximation).
        XCTAssertEqual(softmax(z.map { $0 + 700 }).reduce(0, +), 1, accuracy: 1e-15)
        var gradient = upstream
        convSoftmaxBackward(output: s, outputGradient: upstream, count: s.count, inputGradient: &gradient)
        let error = relativeGradientError(gradient, centralDifferences(z, indices: Array(z.indices)) { dot(softmax($0), upstream) })
        print("FD softmax: \(error)")
        XCTAssertLessThan(error, tolerance)
    }

    /// MSE, the mean over pixels of (r − t)²: ∂/∂r.
    func testMeanSquaredErrorGradient() {
        var rng = Xoshiro256StarStar(seed: 6)
        let r = cnnRandom(12, &rng), t = cnnRandom(12, &rng)
        var gradient = [Double](repeating: .nan, count: 12)
        convMeanSquaredErrorBackward(r, t, count: 12, gradient: &gradient)
        let error = relativeGradientError(gradient, centralDifferences(r, indices: Array(r.indices)) {
            convSquaredError($0, t, count: 12) / 12
        })
        XCTAssertLessThan(error, tolerance)
        XCTAssertEqual(convSquaredError([1, 2], [0, 4], count: 2), 5)
    }

    // MARK: - The whole loss

    /// ∂(loss)/∂θ for every parameter of small networks: 8 × 8 images, C = 2 (every convolution on
    /// its plain-loop path) and C = 9 (register tiles plus a remainder column), random parameters
    /// and a random normalised image.
    func testWholeLossGradient() {
        for (channels, latent, seed) in [(2, 3, UInt64(7)), (9, 5, UInt64(12))] {
            let config = CNNAEConfig(imageSize: 8, channels: channels, latentDimension: latent)
            let layout = CNNAEParameterLayout(config: config)
            var rng = Xoshiro256StarStar(seed: seed)
            // U(−0.5, 0.5) everywhere, conv1's kernel ×30: a normalised image has pixels ~1/64, and
            // this brings conv1's pre-activations to the size of its biases, so that every ReLU
            // layer has dead and live units.
            var parameters = cnnRandom(layout.count, &rng, -0.5, 0.5)
            for i in layout.block(named: "conv1.kernel").range { parameters[i] *= 30 }
            let raw = cnnRandom(config.pixelCount, &rng, 0, 1)
            let image = raw.map { $0 / raw.reduce(0, +) }
            let workspace = CNNAEWorkspace(config: config)
            let model = CNNAE(config: config, parameters: parameters)
            var gradient = [Double](repeating: 0, count: layout.count)
            let loss = model.lossAndGradient(image: image, workspace: workspace, accumulatingInto: &gradient)
            XCTAssertEqual(loss, model.loss(image: image, workspace: workspace))

            // Every ReLU layer has dead and live units, so both branches are checked, and no
            // pre-activation lies within reach of the finite-difference steps below (a kink inside
            // a step would spoil the difference, not the gradient).
            let c = channels, q = config.quarterSize, h = config.halfSize
            func slice(_ block: String) -> [Double] { Array(parameters[layout.block(named: block).range]) }
            let pre: [String: [Double]] = [
                "conv1": cnnConvForward(image, slice("conv1.kernel"), slice("conv1.bias"), height: 8, width: 8, a: 1, b: c),
                "conv2": cnnConvForward(workspace.activation("conv1"), slice("conv2.kernel"), slice("conv2.bias"),
                                        height: h, width: h, a: c, b: c),
                "dense": (0..<config.flatLength).map { f in
                    (0..<latent).reduce(parameters[layout.dense.bias + f]) {
                        $0 + workspace.latent[$1] * parameters[layout.dense.kernel + $1 * config.flatLength + f]
                    }
                },
                "deconv1": cnnTransposeForward(workspace.activation("dense"), slice("deconv1.kernel"), slice("deconv1.bias"),
                                               height: q, width: q, a: c, b: c),
            ]
            for (name, values) in pre {
                let difference = zip(values, workspace.activation(name)).map { abs(max($0, 0) - $1) }.max()!
                XCTAssertLessThan(difference, 1e-12, name)
                XCTAssertTrue(values.contains { $0 < 0 } && values.contains { $0 > 0 }, "\(name): dead and live units")
                XCTAssertGreaterThan(values.map(abs).min()!, 1e-3, "\(name): a pre-activation near the ReLU kink")
            }

            func lossAt(_ p: [Double]) -> Double { CNNAE(config: config, parameters: p).loss(image: image, workspace: workspace) }
            let scale = gradient.map(abs).max()!
            for block in layout.blocks {
                if block.name == "deconv2.bias" {
                    // A common shift of all logits leaves the softmax unchanged, so this gradient is
                    // exactly 0 in exact arithmetic (and in Keras); only rounding remains.
                    XCTAssertLessThan(abs(gradient[block.offset]), 1e-12 * scale)
                    continue
                }
                // Step 1e-5: the loss is ~1e-4 and some gradient blocks ~1e-8 to 1e-6, so at 1e-6
                // the rounding error of the difference (~1e-16·loss/h) reaches ~1e-6 of a block; the
                // truncation error, O(h²), stays far below at 1e-5 (checked: the error falls as 1/h).
                let numeric = centralDifferences(parameters, indices: Array(block.range), step: 1e-5, lossAt)
                let error = relativeGradientError(Array(gradient[block.range]), numeric)
                print("FD CNNAE C=\(channels) \(block.name): \(error)")
                XCTAssertLessThan(error, tolerance, "\(block.name), C = \(channels)")
            }
        }
    }

    // MARK: - Shapes, parameter counts, initialisation

    /// The paper's network: S = 40, C = 128, latent 55.
    ///   conv1      3·3·1·128 + 128        =   1,280
    ///   conv2      3·3·128·128 + 128      = 147,584
    ///   bottleneck 12,800·55 + 55         = 704,055
    ///   dense      55·12,800 + 12,800     = 716,800
    ///   deconv1    3·3·128·128 + 128      = 147,584
    ///   deconv2    3·3·1·128 + 1          =   1,153
    ///   total                             = 1,718,456
    func testPaperShapesAndParameterCount() {
        let config = CNNAEConfig()
        XCTAssertEqual([config.imageSize, config.channels, config.latentDimension], [40, 128, 55])
        let layout = CNNAEParameterLayout(config: config)
        let expected: [(String, [Int])] = [
            ("conv1.kernel", [3, 3, 1, 128]), ("conv1.bias", [128]), ("conv2.kernel", [3, 3, 128, 128]), ("conv2.bias", [128]),
            ("bottleneck.kernel", [12_800, 55]), ("bottleneck.bias", [55]), ("dense.kernel", [55, 12_800]),
            ("dense.bias", [12_800]), ("deconv1.kernel", [3, 3, 128, 128]), ("deconv1.bias", [128]),
            ("deconv2.kernel", [3, 3, 1, 128]), ("deconv2.bias", [1]),
        ]
        XCTAssertEqual(layout.blocks.map(\.name), expected.map(\.0))
        XCTAssertEqual(layout.blocks.map(\.shape), expected.map(\.1))
        XCTAssertEqual(layout.count, 1_718_456)
        XCTAssertEqual(zip(layout.blocks.dropLast(), layout.blocks.dropFirst()).filter { $0.range.upperBound != $1.offset }.count, 0)

        let model = CNNAE(config: config, seed: 1)
        let workspace = CNNAEWorkspace(config: config)
        var rng = Xoshiro256StarStar(seed: 9)
        let raw = cnnRandom(1600, &rng, 0, 1)
        model.forward(image: raw.map { $0 / raw.reduce(0, +) }, workspace: workspace)
        let shapes = Dictionary(uniqueKeysWithValues: workspace.intermediateShapes.map { ($0.name, $0.shape) })
        XCTAssertEqual(shapes["conv1"], [20, 20, 128])
        XCTAssertEqual(shapes["conv2"], [10, 10, 128])
        XCTAssertEqual(shapes["flatten"], [12_800])
        XCTAssertEqual(shapes["bottleneck"], [55])
        XCTAssertEqual(shapes["reshape"], [10, 10, 128])
        XCTAssertEqual(shapes["deconv1"], [20, 20, 128])
        XCTAssertEqual(shapes["deconv2"], [40, 40, 1])
        for (name, count) in [("input", 1600), ("conv1", 51_200), ("conv2", 12_800), ("bottleneck", 55), ("dense", 12_800),
                              ("deconv1", 51_200), ("deconv2", 1600), ("softmax", 1600)] {
            let a = workspace.activation(name)
            XCTAssertEqual(a.count, count, name)
            XCTAssertTrue(a.allSatisfy(\.isFinite), name)
        }
        XCTAssertEqual(workspace.reconstruction.reduce(0, +), 1, accuracy: 1e-12)
        XCTAssertTrue(workspace.reconstruction.allSatisfy { $0 > 0 })
    }

    /// Keras' initialisation: Glorot-uniform kernels within ±√(6/(fan_in + fan_out)), zero biases,
    /// and the draws spread over the whole interval.
    func testGlorotInitialisation() {
        let config = CNNAEConfig(imageSize: 40, channels: 16, latentDimension: 55)
        let layout = CNNAEParameterLayout(config: config)
        let parameters = layout.initialParameters(seed: 3)
        XCTAssertEqual(layout.block(named: "conv2.kernel").glorotBound!, (6.0 / 288).squareRoot(), accuracy: 1e-15)
        XCTAssertEqual(layout.block(named: "bottleneck.kernel").glorotBound!, (6.0 / (1600 + 55)).squareRoot(), accuracy: 1e-15)
        for block in layout.blocks {
            let values = parameters[block.range]
            if let bound = block.glorotBound {
                XCTAssertLessThanOrEqual(values.map(abs).max()!, bound, block.name)
                XCTAssertGreaterThan(values.map(abs).max()!, 0.8 * bound, block.name)
                XCTAssertLessThan(abs(values.reduce(0, +) / Double(values.count)), 0.6 * bound / Double(values.count).squareRoot() * 3,
                                  block.name)
            } else {
                XCTAssertTrue(values.allSatisfy { $0 == 0 }, block.name)
            }
        }
    }

    func testCompressionRate() {
        XCTAssertEqual(CNNAEConfig().compressionRate, 55.0 / 90, accuracy: 1e-15)
        XCTAssertEqual(CNNAEConfig().paperCompressionRateLabel, "61.67%")  // the paper's figure, not 61.11%
        XCTAssertEqual(CNNAEConfig(latentDimension: 16).paperCompressionRateLabel, "17.78%")
        XCTAssertThrowsError(try CNNAEConfig(imageSize: 42).validate())
    }

    // MARK: - Against the reference implementation

    /// The same network built with Keras (TensorFlow 2.21, float64, the layers of cnnae_ucsd.py)
    /// for S = 8, C = 9, latent 4, with every weight set from the flat vector θ_i = 0.3·sin(1.7·i + 0.3)
    /// in this layout's order (Keras' `model.weights` order and shapes: `set_weights` takes the
    /// blocks unchanged) and the image (1 + cos(0.9·j)) / Σ, j = 0…63 row-major. The values below
    /// are TensorFlow's (forward and GradientTape of MeanSquaredError), so this pins the padding,
    /// the kernel orientations, the flatten order and the softmax axes all at once.
    func testMatchesKerasReference() {
        let config = CNNAEConfig(imageSize: 8, channels: 9, latentDimension: 4)
        let layout = CNNAEParameterLayout(config: config)
        XCTAssertEqual(layout.count, 1976)
        let model = CNNAE(config: config, parameters: (0..<layout.count).map { 0.3 * sin(1.7 * Double($0) + 0.3) })
        let raw = (0..<64).map { 1 + cos(0.9 * Double($0)) }
        let image = raw.map { $0 / raw.reduce(0, +) }
        let workspace = CNNAEWorkspace(config: config)
        var gradient = [Double](repeating: 0, count: layout.count)
        let loss = model.lossAndGradient(image: image, workspace: workspace, accumulatingInto: &gradient)
        let latent = [-0.079442494693819, 0.24088223336305967, 0.017369795608932287, -0.24535823842557358]
        for (mine, keras) in zip(workspace.latent, latent) { XCTAssertEqual(mine, keras, accuracy: 1e-14) }
        let reconstruction = [(0, 0.01220839415059131), (9, 0.016155422500867624), (27, 0.01836202648366382),
                              (63, 0.018842541390161987)]
        for (pixel, keras) in reconstruction { XCTAssertEqual(workspace.reconstruction[pixel], keras, accuracy: 1e-15) }
        XCTAssertEqual(loss, 0.0001295445416342745, accuracy: 1e-17)
        XCTAssertEqual(model.anomalyScore(image: image, workspace: workspace), 0.008290850664593567, accuracy: 1e-15)
        // Per block: Σ g, Σ |g| and the middle element, as Keras reports them (its names in comments).
        let keras: [(String, Double, Double, Double)] = [
            ("conv1.kernel", -1.5089836394373774e-06, 3.317033768145917e-06, 9.730655277818375e-09),        // conv2d
            ("conv1.bias", -7.262988279275921e-06, 1.4617845754019713e-05, 3.677428737371896e-06),
            ("conv2.kernel", 1.2465754287291793e-05, 5.926796519313075e-05, 0.0),                          // conv2d_1
            ("conv2.bias", 2.4140272664254677e-07, 2.1753001654451626e-06, 0.0),
            ("bottleneck.kernel", 3.8192470363668895e-06, 0.00014935739922977443, 0.0),
            ("bottleneck.bias", 6.170570485355362e-07, 2.4130943892369658e-05, -8.952910184321714e-06),
            ("dense.kernel", -3.1517513073232554e-06, 3.351066471997156e-05, 1.1420857947360308e-07),
            ("dense.bias", 4.7360070307940975e-05, 5.7474497847793886e-05, 0.0),
            ("deconv1.kernel", 6.805793566326832e-05, 0.00018230873741796662, -1.1482589302896898e-07),  // conv2d_transpose
            ("deconv1.bias", 4.403026865981905e-05, 6.306921869995577e-05, 1.5154429034364858e-05),
            ("deconv2.kernel", 4.406689762513427e-05, 0.00019924125625446568, -4.835022634137305e-06),   // conv2d_transpose_1
        ]
        for (name, sum, absoluteSum, middle) in keras {
            let g = Array(gradient[layout.block(named: name).range])
            let tolerance = 1e-11 * absoluteSum
            XCTAssertEqual(g.reduce(0, +), sum, accuracy: tolerance, name)
            XCTAssertEqual(g.map(abs).reduce(0, +), absoluteSum, accuracy: tolerance, name)
            XCTAssertEqual(g[g.count / 2], middle, accuracy: tolerance, name)
        }
        // deconv2.bias: Keras gets 3e-21, rounding around the exact 0 of a softmax shift.
        XCTAssertLessThan(abs(gradient[layout.deconv2.bias]), 1e-18)
    }

    // MARK: - Determinism and workspace reuse

    /// Same seed → same parameters; same image → bit-identical loss and gradient, also after the
    /// workspace has served another image; the gradient is added, not written.
    func testDeterminismAndAccumulation() {
        let config = CNNAEConfig(imageSize: 16, channels: 16, latentDimension: 6)
        let model = CNNAE(config: config, seed: 42)
        XCTAssertEqual(model.parameters, CNNAE(config: config, seed: 42).parameters)
        XCTAssertNotEqual(model.parameters, CNNAE(config: config, seed: 43).parameters)
        var rng = Xoshiro256StarStar(seed: 10)
        let images = (0..<2).map { _ -> [Double] in
            let raw = cnnRandom(config.pixelCount, &rng, 0, 1).map { $0 < 0.7 ? 0 : $0 }  // sparse, like a jet
            return raw.map { $0 / raw.reduce(0, +) }
        }
        let workspace = CNNAEWorkspace(config: config)
        var first = [Double](repeating: 0, count: model.layout.count)
        let loss = model.lossAndGradient(image: images[0], workspace: workspace, accumulatingInto: &first)
        var other = [Double](repeating: 0, count: model.layout.count)
        model.lossAndGradient(image: images[1], workspace: workspace, accumulatingInto: &other)
        var again = [Double](repeating: 0, count: model.layout.count)
        XCTAssertEqual(model.lossAndGradient(image: images[0], workspace: CNNAEWorkspace(config: config), accumulatingInto: &again), loss)
        XCTAssertEqual(again, first)
        var reused = [Double](repeating: 0, count: model.layout.count)
        XCTAssertEqual(model.lossAndGradient(image: images[0], workspace: workspace, accumulatingInto: &reused), loss)
        XCTAssertEqual(reused, first)
        // Accumulation: the second image's gradient lands on top of the first's.
        model.lossAndGradient(image: images[1], workspace: workspace, accumulatingInto: &reused)
        let scale = zip(first, other).map { abs($0) + abs($1) }.max()!
        for i in reused.indices { XCTAssertEqual(reused[i], first[i] + other[i], accuracy: 1e-13 * scale) }
        XCTAssertTrue(first.contains { $0 != 0 })

        let (reconstruction, latent) = model.forward(image: images[0])
        XCTAssertEqual(reconstruction.count, 256)
        XCTAssertEqual(latent.count, 6)
        XCTAssertEqual(reconstruction.reduce(0, +), 1, accuracy: 1e-13)
        let score = model.anomalyScore(image: images[0], workspace: workspace)
        XCTAssertEqual(score, zip(reconstruction, images[0]).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }, accuracy: 1e-15)
        XCTAssertEqual(score / 256, loss, accuracy: 1e-18)
    }

    /// The batch entry points (kernels packed once per call) give bit for bit what the per-image
    /// calls give in the same order.
    func testBatchCallsMatchPerImageCalls() {
        let config = CNNAEConfig(imageSize: 12, channels: 10, latentDimension: 5)
        let model = CNNAE(config: config, seed: 5)
        var rng = Xoshiro256StarStar(seed: 11)
        let images = (0..<3).map { _ -> [Double] in
            let raw = cnnRandom(config.pixelCount, &rng, 0, 1)
            return raw.map { $0 / raw.reduce(0, +) }
        }
        let workspace = CNNAEWorkspace(config: config)
        var one = [Double](repeating: 0, count: model.layout.count)
        let perImage = images.map { model.lossAndGradient(image: $0, workspace: workspace, accumulatingInto: &one) }
        var batched = [Double](repeating: 0, count: model.layout.count)
        var losses = [Double](repeating: .nan, count: 3)
        let flat = images.flatMap { $0 }
        let total = flat.withUnsafeBufferPointer { i in
            batched.withUnsafeMutableBufferPointer { g in
                losses.withUnsafeMutableBufferPointer { model.lossAndGradient(images: i, workspace: workspace, accumulatingInto: g, losses: $0) }
            }
        }
        XCTAssertEqual(batched, one)
        XCTAssertEqual(losses, perImage)
        XCTAssertEqual(total, perImage.reduce(0, +))
        var scores = [Double](repeating: .nan, count: 3)
        flat.withUnsafeBufferPointer { i in scores.withUnsafeMutableBufferPointer { model.anomalyScores(images: i, workspace: workspace, into: $0) } }
        XCTAssertEqual(scores, images.map { model.anomalyScore(image: $0, workspace: workspace) })
        XCTAssertEqual(scores.map { $0 / Double(config.pixelCount) }, perImage)
    }
}
