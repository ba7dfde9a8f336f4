import XCTest
import SeededRandom
@testable import Baselines

// The GNNAE baseline (lgae.md §12.1): every fused kernel against central finite differences, the
// whole loss likewise for both encodings and all three losses, the symmetries of the MPNN, the
// parameter counts of the paper's widths, determinism, and the losses on hand-worked examples.

/// Uniform draws from the project's generator, so every run tests the same numbers.
private struct GNNAETestRandom {
    var generator: Xoshiro256StarStar
    init(seed: UInt64) { generator = Xoshiro256StarStar(seed: seed) }
    mutating func uniform(_ lower: Double = -1, _ upper: Double = 1) -> Double {
        lower + (upper - lower) * generator.nextUniform()
    }
    mutating func array(_ count: Int, _ lower: Double = -1, _ upper: Double = 1) -> [Double] {
        (0..<count).map { _ in uniform(lower, upper) }
    }
    /// A jet of N particles (pT_rel, η_rel, φ_rel) whose last `padded` particles are zero, as JetNet
    /// pads jets with fewer than 30 particles.
    mutating func jet(particles n: Int, padded: Int) -> [Double] {
        (0..<n).flatMap { i -> [Double] in
            i < n - padded ? [uniform(0.01, 0.4), uniform(-0.4, 0.4), uniform(-0.4, 0.4)] : [0, 0, 0]
        }
    }
}


/// A small configuration with widths that are not multiples of 4 (so every kernel meets its
/// padding), EdgeNets of 1 to 3 layers, and N = 5 particles.
private func gnnaeSmallConfig(_ encoding: GNNAEConfig.Encoding) -> GNNAEConfig {
    GNNAEConfig(encoding: encoding, particleCount: 5,
                encoderNodeWidths: [6, 5, 3], encoderEdgeWidths: [[5, 13, 3], [7, 6], [9]],
                decoderNodeWidths: [5, 4, 6], decoderEdgeWidths: [[6, 3], [5, 14, 2], [4]])
}

/// Copies `values` into a zero-padded buffer of `count` doubles (the kernels read whole vectors).
private func gnnaeBuffer(_ values: [Double], count: Int? = nil) -> UnsafeMutablePointer<Double> {
    let p = UnsafeMutablePointer<Double>.allocate(capacity: max(count ?? values.count, values.count))
    p.initialize(repeating: 0, count: max(count ?? values.count, values.count))
    for (x, v) in values.enumerated() { p[x] = v }
    return p
}

/// `values` followed by zeros up to `width`.
private func gnnaePadded(_ values: [Double], to width: Int) -> [Double] {
    values + [Double](repeating: 0, count: width - values.count)
}

private func gnnaeArray(_ p: UnsafePointer<Double>, _ count: Int) -> [Double] { Array(UnsafeBufferPointer(start: p, count: count)) }

final class GNNAETests: XCTestCase {
    let tolerance = 1e-6

    // MARK: - Dense products

    /// The register-blocked product against the plain triple loop, for every column remainder
    /// (1, 2 or 3 vectors), row remainders, the three ways a block starts and the three epilogues.
    func testMatrixProductMatchesPlainLoops() {
        var rng = GNNAETestRandom(seed: 1)
        let slope = 0.2
        for (rows, inner, columns) in [(7, 5, 4), (9, 3, 8), (4, 6, 12), (13, 7, 20), (6, 2, 28), (1, 9, 16)] {
            let a = rng.array(rows * inner), b = rng.array(inner * columns), bias = rng.array(columns), c0 = rng.array(rows * columns)
            let activations = rng.array(rows * columns)
            for mode in 0..<3 {
                for epilogueKind in 0..<3 {
                    let ap = gnnaeBuffer(a), bp = gnnaeBuffer(b), biasp = gnnaeBuffer(bias), cp = gnnaeBuffer(c0), hp = gnnaeBuffer(activations)
                    defer { ap.deallocate(); bp.deallocate(); biasp.deallocate(); cp.deallocate(); hp.deallocate() }
                    let start: MPNNStart = mode == 0 ? .zero : mode == 1 ? .bias(biasp) : .accumulate
                    let epilogue: MPNNEpilogue = epilogueKind == 0 ? .none : epilogueKind == 1 ? .leakyReLU(slope: slope)
                        : .leakyReLUDerivative(slope: slope, activations: hp)
                    mpnnMultiply(rows: rows, inner: inner, columns: columns, ap, aStride: inner, bp, bStride: columns,
                                 into: cp, cStride: columns, start: start, epilogue: epilogue)
                    for r in 0..<rows {
                        for c in 0..<columns {
                            var z = mode == 0 ? 0 : mode == 1 ? bias[c] : c0[r * columns + c]
                            for k in 0..<inner { z += a[r * inner + k] * b[k * columns + c] }
                            if epilogueKind == 1, z <= 0 { z *= slope }
                            if epilogueKind == 2, activations[r * columns + c] <= 0 { z *= slope }
                            XCTAssertEqual(cp[r * columns + c], z, accuracy: 1e-13, "rows \(rows) columns \(columns) start \(mode) epilogue \(epilogueKind)")
                        }
                    }
                }
            }
            // C += Aᵀ·B.
            let m = 4 * ((inner + 3) / 4)
            let at = rng.array(rows * m), initial = rng.array(m * columns)
            let atp = gnnaeBuffer(at), bp = gnnaeBuffer(rng.array(rows * columns)), cp = gnnaeBuffer(initial)
            defer { atp.deallocate(); bp.deallocate(); cp.deallocate() }
            mpnnAccumulateTransposedProduct(rows: rows, m: m, n: columns, atp, aStride: m, bp, bStride: columns, into: cp, cStride: columns)
            for i in 0..<m {
                for c in 0..<columns {
                    var z = initial[i * columns + c]
                    for r in 0..<rows { z += at[r * m + i] * bp[r * columns + c] }
                    XCTAssertEqual(cp[i * columns + c], z, accuracy: 1e-13)
                }
            }
        }
    }

    /// A packed Linear + LeakyReLU (the EdgeNet layers after the first, and the NodeNet layers):
    /// ∂/∂W, ∂/∂b, ∂/∂x against finite differences, for output widths that leave 0, 1 or 2
    /// vectors after the 12-column blocks, and a row count that is not a multiple of 4.
    func testDenseLeakyReLUGradients() {
        for (inputs, outputs) in [(7, 13), (5, 19), (10, 24), (3, 6)] {
            let layer = GNNAELinear(outputs: outputs, inputs: inputs, weight: 0, bias: outputs * inputs)
            let rows = 11, slope = 0.2
            var rng = GNNAETestRandom(seed: UInt64(inputs * 100 + outputs))
            let parameters = rng.array(layer.parameterCount)
            let ip = mpnnPadded(inputs), op = mpnnPadded(outputs)
            let x = (0..<rows).flatMap { _ in gnnaePadded(rng.array(inputs), to: ip) }
            let upstream = (0..<rows).flatMap { _ in gnnaePadded(rng.array(outputs), to: op) }
            func loss(_ p: [Double], _ input: [Double]) -> Double {
                let arena = MPNNArena()
                let packed = MPNNPackedLinear(layer, arena: arena)
                packed.pack(p)
                let xp = gnnaeBuffer(input), h = arena.allocate(rows * op)
                defer { xp.deallocate() }
                packed.forward(rows: rows, input: xp, output: h, slope: slope)
                return dot(gnnaeArray(h, rows * op), upstream)
            }
            let arena = MPNNArena()
            let packed = MPNNPackedLinear(layer, arena: arena)
            packed.pack(parameters)
            let xp = gnnaeBuffer(x), h = arena.allocate(rows * op), g = gnnaeBuffer(upstream), gx = arena.allocate(rows * ip)
            defer { xp.deallocate(); g.deallocate() }
            packed.forward(rows: rows, input: xp, output: h, slope: slope)
            let activations = gnnaeArray(h, rows * op)
            XCTAssertTrue(activations.contains { $0 < -1e-3 } && activations.contains { $0 > 1e-3 }, "both LeakyReLU branches must be exercised")
            mpnnLeakyReLUBackward(count: rows * op, activations: h, gradients: g, slope: slope)
            packed.zeroGradients()
            packed.backward(rows: rows, input: xp, outputGradient: g, inputGradient: gx)
            var gradients = [Double](repeating: 0, count: parameters.count)
            gradients.withUnsafeMutableBufferPointer { packed.addGradients(into: $0.baseAddress!) }
            let weights = Array(0..<(outputs * inputs)), biases = Array((outputs * inputs)..<parameters.count)
            let realInputs = (0..<rows).flatMap { r in (0..<inputs).map { r * ip + $0 } }
            let errorW = relativeGradientError(weights.map { gradients[$0] }, centralDifferences(parameters, indices: weights) { loss($0, x) })
            let errorB = relativeGradientError(biases.map { gradients[$0] }, centralDifferences(parameters, indices: biases) { loss($0, x) })
            let errorX = relativeGradientError(realInputs.map { gx[$0] }, centralDifferences(x, indices: realInputs) { loss(parameters, $0) })
            XCTAssertLessThan(errorW, tolerance, "dense \(inputs)→\(outputs): weight")
            XCTAssertLessThan(errorB, tolerance, "dense \(inputs)→\(outputs): bias")
            XCTAssertLessThan(errorX, tolerance, "dense \(inputs)→\(outputs): input")
        }
    }

    // MARK: - The first EdgeNet layer, split by input piece

    /// The split h_ij = LeakyReLU(a_i + b_j + w_d·d_ij) equals LeakyReLU(W·[x_i, x_j, d_ij] + b)
    /// computed directly on every edge, and its backward (edge part, node halves, distances) matches
    /// finite differences in W, b and x.
    func testEdgeInputLayerSplitAndGradients() {
        let n = 5, h = 6, hp = mpnnPadded(h), e1 = 7, e1p = mpnnPadded(e1), slope = 0.2
        let layer = GNNAELinear(outputs: e1, inputs: 2 * h + 1, weight: 0, bias: e1 * (2 * h + 1))
        var rng = GNNAETestRandom(seed: 5)
        let parameters = rng.array(layer.parameterCount)
        let x = (0..<n).flatMap { _ in gnnaePadded(rng.array(h), to: hp) }
        let upstream = rng.array(n * n * e1p)

        /// Runs the split forward with tiles of `tile` receivers; returns h (N² × e1p) and the buffers.
        func forward(_ p: [Double], _ input: [Double], tile: Int, arena: MPNNArena)
            -> (packed: MPNNPackedLinear, x: UnsafeMutablePointer<Double>, a: UnsafeMutablePointer<Double>,
                b: UnsafeMutablePointer<Double>, d: UnsafeMutablePointer<Double>, h: UnsafeMutablePointer<Double>) {
            let packed = MPNNPackedLinear(layer, pieces: [(h, 0), (h, hp), (1, 2 * hp)], paddedInputs: 2 * hp + 4, arena: arena)
            packed.pack(p)
            let xb = arena.allocate(n * hp)
            for (k, v) in input.enumerated() { xb[k] = v }
            let a = arena.allocate(n * e1p), b = arena.allocate(n * e1p), d = arena.allocate(n * n), out = arena.allocate(n * n * e1p)
            mpnnEdgeInputNodeHalvesForward(packed, nodes: n, paddedWidth: hp, x: xb, receiverHalf: a, senderHalf: b)
            var first = 0
            while first < n {
                let receivers = first..<min(n, first + tile)
                mpnnEdgeInputForward(receivers: receivers, nodes: n, features: h, x: xb, xStride: hp, receiverHalf: a, senderHalf: b,
                                     distanceWeights: packed.weightsTransposed + 2 * hp * e1p, width: e1p, slope: slope,
                                     distances: d, output: out + first * n * e1p)
                first = receivers.upperBound
            }
            return (packed, xb, a, b, d, out)
        }
        func loss(_ p: [Double], _ input: [Double]) -> Double {
            let arena = MPNNArena()
            let f = forward(p, input, tile: 2, arena: arena)
            return dot(gnnaeArray(f.h, n * n * e1p), upstream)
        }

        // The split against the Linear on the concatenated edge input, d_ij squared with ε inside.
        let arena = MPNNArena()
        let f = forward(parameters, x, tile: 2, arena: arena)
        for i in 0..<n {
            for j in 0..<n {
                var d = 0.0
                for k in 0..<h { d += (x[j * hp + k] - x[i * hp + k] + 1e-16) * (x[j * hp + k] - x[i * hp + k] + 1e-16) }
                XCTAssertEqual(f.d[i * n + j], d, accuracy: 1e-15)
                let edge = Array(x[(i * hp)..<(i * hp + h)]) + Array(x[(j * hp)..<(j * hp + h)]) + [d]
                for o in 0..<e1 {
                    var z = parameters[layer.bias + o]
                    for c in 0..<(2 * h + 1) { z += parameters[o * (2 * h + 1) + c] * edge[c] }
                    XCTAssertEqual(f.h[(i * n + j) * e1p + o], z > 0 ? z : slope * z, accuracy: 1e-13, "edge (\(i), \(j)), output \(o)")
                }
            }
        }
        // Tiles do not change a single bit.
        let whole = forward(parameters, x, tile: n, arena: arena)
        XCTAssertEqual(gnnaeArray(whole.h, n * n * e1p), gnnaeArray(f.h, n * n * e1p))

        // Backward: ∂L/∂z, the edge part, the node halves, the distances.
        let g = gnnaeBuffer(upstream)
        defer { g.deallocate() }
        mpnnLeakyReLUBackward(count: n * n * e1p, activations: f.h, gradients: g, slope: slope)
        let ga = arena.allocate(n * e1p), gb = arena.allocate(n * e1p), gd = arena.allocate(n * n), gx = arena.allocate(n * hp)
        f.packed.zeroGradients()
        mpnnEdgeInputBackward(receivers: 0..<2, nodes: n, width: e1p, gradients: g, distances: f.d,
                              distanceWeights: f.packed.weightsTransposed + 2 * hp * e1p, receiverGradients: ga, senderGradients: gb,
                              distanceWeightGradients: f.packed.weightGradientsTransposed + 2 * hp * e1p, distanceGradients: gd)
        mpnnEdgeInputBackward(receivers: 2..<n, nodes: n, width: e1p, gradients: g + 2 * n * e1p, distances: f.d,
                              distanceWeights: f.packed.weightsTransposed + 2 * hp * e1p, receiverGradients: ga, senderGradients: gb,
                              distanceWeightGradients: f.packed.weightGradientsTransposed + 2 * hp * e1p, distanceGradients: gd)
        mpnnEdgeInputNodeHalvesBackward(f.packed, nodes: n, paddedWidth: hp, x: f.x, receiverGradients: ga, senderGradients: gb, inputGradients: gx)
        mpnnDistanceBackward(nodes: n, features: h, x: f.x, xStride: hp, distanceGradients: gd, inputGradients: gx)
        var gradients = [Double](repeating: 0, count: parameters.count)
        gradients.withUnsafeMutableBufferPointer { f.packed.addGradients(into: $0.baseAddress!) }

        for (name, columns) in [("W_a", Array(0..<h)), ("W_b", Array(h..<(2 * h))), ("w_d", [2 * h])] {
            let indices = (0..<e1).flatMap { o in columns.map { o * (2 * h + 1) + $0 } }
            let error = relativeGradientError(indices.map { gradients[$0] }, centralDifferences(parameters, indices: indices) { loss($0, x) })
            XCTAssertLessThan(error, tolerance, "first EdgeNet layer: \(name)")
        }
        let biases = Array(layer.bias..<(layer.bias + e1))
        XCTAssertLessThan(relativeGradientError(biases.map { gradients[$0] }, centralDifferences(parameters, indices: biases) { loss($0, x) }),
                          tolerance, "first EdgeNet layer: bias")
        let inputs = (0..<n).flatMap { i in (0..<h).map { i * hp + $0 } }
        XCTAssertLessThan(relativeGradientError(inputs.map { gx[$0] }, centralDifferences(x, indices: inputs) { loss(parameters, $0) }),
                          tolerance, "first EdgeNet layer: node features (node halves and distances)")
    }

    // MARK: - Messages and the NodeNet

    /// m_i = Σ_j LeakyReLU(z_ij) and its fused backward, against finite differences in z.
    func testMessageSumGradients() {
        let n = 4, width = 8, slope = 0.2
        var rng = GNNAETestRandom(seed: 7)
        let z = rng.array(n * n * width), upstream = rng.array(n * width)
        func messages(_ z: [Double]) -> [Double] {
            let h = gnnaeBuffer(z.map { $0 > 0 ? $0 : slope * $0 }), m = gnnaeBuffer([], count: n * width)
            defer { h.deallocate(); m.deallocate() }
            mpnnMessageForward(receivers: 0..<1, nodes: n, width: width, edges: h, messages: m, messageStride: width)
            mpnnMessageForward(receivers: 1..<n, nodes: n, width: width, edges: h + n * width, messages: m, messageStride: width)
            return gnnaeArray(m, n * width)
        }
        // The message of receiver i sums its own N edges, the self-edge included.
        let m = messages(z)
        for i in 0..<n {
            for o in 0..<width {
                let expected = (0..<n).map { j in z[(i * n + j) * width + o] }.map { $0 > 0 ? $0 : slope * $0 }.reduce(0, +)
                XCTAssertEqual(m[i * width + o], expected, accuracy: 1e-14)
            }
        }
        let h = gnnaeBuffer(z.map { $0 > 0 ? $0 : slope * $0 }), gm = gnnaeBuffer(upstream), g = gnnaeBuffer([], count: n * n * width)
        defer { h.deallocate(); gm.deallocate(); g.deallocate() }
        mpnnMessageBackward(receivers: 0..<n, nodes: n, width: width, edges: h, messageGradients: gm, messageStride: width,
                            edgeGradients: g, slope: slope)
        let numeric = centralDifferences(z, indices: Array(z.indices)) { dot(messages($0), upstream) }
        XCTAssertLessThan(relativeGradientError(gnnaeArray(g, z.count), numeric), tolerance)
    }

    /// The NodeNet x_i ← NodeNet([m_i, x_i]): its first Linear reads two padded pieces (message
    /// first); ∂/∂W of both layers, ∂/∂m and ∂/∂x against finite differences.
    func testNodeNetGradients() {
        let n = 6, messageWidth = 5, h = 7, output = 3, slope = 0.2
        let mp = mpnnPadded(messageWidth), hp = mpnnPadded(h), op = mpnnPadded(output)
        let first = GNNAELinear(outputs: h, inputs: messageWidth + h, weight: 0, bias: h * (messageWidth + h))
        let second = GNNAELinear(outputs: output, inputs: h, weight: first.bias + h, bias: first.bias + h + output * h)
        let count = second.bias + output
        var rng = GNNAETestRandom(seed: 9)
        let parameters = rng.array(count)
        var input: [Double] = []
        for _ in 0..<n {
            input += gnnaePadded(rng.array(messageWidth), to: mp)
            input += gnnaePadded(rng.array(h), to: hp)
        }
        let upstream = (0..<n).flatMap { _ in gnnaePadded(rng.array(output), to: op) }
        func run(_ p: [Double], _ u: [Double], arena: MPNNArena) -> (MPNNPackedLinear, MPNNPackedLinear, UnsafeMutablePointer<Double>,
                                                                     UnsafeMutablePointer<Double>, UnsafeMutablePointer<Double>) {
            let l0 = MPNNPackedLinear(first, pieces: [(messageWidth, 0), (h, mp)], paddedInputs: mp + hp, arena: arena)
            let l1 = MPNNPackedLinear(second, arena: arena)
            l0.pack(p)
            l1.pack(p)
            let ub = arena.allocate(n * (mp + hp))
            for (k, v) in u.enumerated() { ub[k] = v }
            let hidden = arena.allocate(n * hp), out = arena.allocate(n * op)
            l0.forward(rows: n, input: ub, output: hidden, slope: slope)
            l1.forward(rows: n, input: hidden, output: out, slope: slope)
            return (l0, l1, ub, hidden, out)
        }
        func loss(_ p: [Double], _ u: [Double]) -> Double {
            let arena = MPNNArena()
            return dot(gnnaeArray(run(p, u, arena: arena).4, n * op), upstream)
        }
        let arena = MPNNArena()
        let (l0, l1, ub, hidden, out) = run(parameters, input, arena: arena)
        let gOut = gnnaeBuffer(upstream), gHidden = arena.allocate(n * hp), gu = arena.allocate(n * (mp + hp))
        defer { gOut.deallocate() }
        l0.zeroGradients()
        l1.zeroGradients()
        mpnnLeakyReLUBackward(count: n * op, activations: out, gradients: gOut, slope: slope)
        // The hidden layer's LeakyReLU' is applied inside the second layer's input-gradient product.
        l1.backward(rows: n, input: hidden, outputGradient: gOut, inputGradient: gHidden, inputSlope: slope)
        l0.backward(rows: n, input: ub, outputGradient: gHidden, inputGradient: gu)
        var gradients = [Double](repeating: 0, count: count)
        gradients.withUnsafeMutableBufferPointer {
            l0.addGradients(into: $0.baseAddress!)
            l1.addGradients(into: $0.baseAddress!)
        }
        let all = Array(0..<count)
        XCTAssertLessThan(relativeGradientError(gradients, centralDifferences(parameters, indices: all) { loss($0, input) }), tolerance,
                          "NodeNet parameters")
        let messages = (0..<n).flatMap { i in (0..<messageWidth).map { i * (mp + hp) + $0 } }
        let features = (0..<n).flatMap { i in (0..<h).map { i * (mp + hp) + mp + $0 } }
        for (name, indices) in [("messages", messages), ("node features", features)] {
            let error = relativeGradientError(indices.map { gu[$0] }, centralDifferences(input, indices: indices) { loss(parameters, $0) })
            XCTAssertLessThan(error, tolerance, "NodeNet input: \(name)")
        }
    }

    // MARK: - Latent maps

    /// The JL mean over nodes, the PL per-node Linear and the JL decoder input Linear (one row),
    /// against finite differences in their parameters and inputs.
    func testLatentMapGradients() {
        var rng = GNNAETestRandom(seed: 11)
        // Row-wise Linear: PL per node (rows = N) and JL decoder input (one row).
        for (rows, inputs, outputs) in [(5, 7, 2), (5, 2, 6), (1, 3, 20)] {
            let layer = GNNAELinear(outputs: outputs, inputs: inputs, weight: 0, bias: outputs * inputs)
            let inputStride = inputs + 1, outputStride = outputs + 3
            let parameters = rng.array(layer.parameterCount), x = rng.array(rows * inputStride), upstream = rng.array(rows * outputStride)
            func loss(_ p: [Double], _ x: [Double]) -> Double {
                let y = gnnaeBuffer([], count: rows * outputStride)
                defer { y.deallocate() }
                mpnnRowLinearForward(layer, p, rows: rows, input: x, inputStride: inputStride, output: y, outputStride: outputStride)
                return (0..<rows).flatMap { r in (0..<outputs).map { y[r * outputStride + $0] * upstream[r * outputStride + $0] } }.reduce(0, +)
            }
            var gradients = [Double](repeating: 0, count: parameters.count)
            var gx = [Double](repeating: 0, count: rows * inputStride)
            mpnnRowLinearBackward(layer, parameters, rows: rows, input: x, inputStride: inputStride, outputGradients: upstream,
                                  outputStride: outputStride, gradients: &gradients, inputGradients: &gx, inputGradientStride: inputStride)
            let all = Array(parameters.indices), real = (0..<rows).flatMap { r in (0..<inputs).map { r * inputStride + $0 } }
            XCTAssertLessThan(relativeGradientError(gradients, centralDifferences(parameters, indices: all) { loss($0, x) }), tolerance,
                              "row Linear \(rows)×(\(inputs)→\(outputs)): parameters")
            XCTAssertLessThan(relativeGradientError(real.map { gx[$0] }, centralDifferences(x, indices: real) { loss(parameters, $0) }),
                              tolerance, "row Linear \(rows)×(\(inputs)→\(outputs)): input")
        }
        // Mean over the nodes.
        let n = 5, width = 3, stride = 4
        let x = rng.array(n * stride), upstream = rng.array(width)
        func mean(_ x: [Double]) -> [Double] {
            var z = [Double](repeating: 0, count: width)
            mpnnMeanOverNodesForward(nodes: n, width: width, input: x, stride: stride, output: &z)
            return z
        }
        XCTAssertEqual(mean(x)[1], (0..<n).map { x[$0 * stride + 1] }.reduce(0, +) / Double(n), accuracy: 1e-15)
        var gx = [Double](repeating: 0, count: n * stride)
        mpnnMeanOverNodesBackward(nodes: n, width: width, outputGradients: upstream, inputGradients: &gx, stride: stride)
        let real = (0..<n).flatMap { i in (0..<width).map { i * stride + $0 } }
        XCTAssertLessThan(relativeGradientError(real.map { gx[$0] }, centralDifferences(x, indices: real) { dot(mean($0), upstream) }),
                          tolerance, "JL mean over nodes")
    }

    // MARK: - The whole loss

    /// ∂L/∂θ of the whole autoencoder against central differences, block by block, for both
    /// encodings and all three losses, on jets with zero-padded particles.
    ///
    /// The parameters are the seeded initialisation times 2. At PyTorch's default scale a signal
    /// shrinks through each of the ~20 LeakyReLU layers of this small (N = 5) network, so the
    /// encoder's first-layer gradients are ~1e-6 of the decoder's and drown in the differences'
    /// rounding noise (~1e-10·L); doubled, neither vanishing nor exploding, every block stands
    /// well above that noise.
    func testWholeLossGradients() {
        for encoding in [GNNAEConfig.Encoding.jetLevel(latent: 3), .particleLevel(perNode: 2)] {
            let config = gnnaeSmallConfig(encoding)
            var model = GNNAEModel(config: config, seed: 21)
            model.parameters = model.parameters.map { 2 * $0 }
            var rng = GNNAETestRandom(seed: 22)
            let jet = rng.jet(particles: 5, padded: 2), target = rng.jet(particles: 5, padded: 1)
            let workspace = model.makeWorkspace()
            for loss in GNNAELoss.allCases {
                var gradient = [Double](repeating: 0, count: model.layout.count)
                let value = model.lossAndGradient(jet: jet, target: target, loss: loss, workspace: workspace, accumulatingInto: &gradient)
                XCTAssertEqual(value, model.loss(jet: jet, target: target, loss: loss, workspace: workspace))
                var probe = model
                let probeWorkspace = probe.makeWorkspace()
                var worst = 0.0, worstBlock = ""
                for block in model.layout.blocks {
                    // Every block, through about 8 of its entries spread evenly over it.
                    let indices = Array(Swift.stride(from: block.range.lowerBound, to: block.range.upperBound,
                                                     by: max(1, block.count / 8)))
                    let numeric = centralDifferences(model.parameters, indices: indices) { p in
                        probe.parameters = p
                        return probe.loss(jet: jet, target: target, loss: loss, workspace: probeWorkspace)
                    }
                    let error = relativeGradientError(indices.map { gradient[$0] }, numeric)
                    if error > worst { worst = error; worstBlock = block.name }
                    XCTAssertLessThan(error, tolerance, "\(encoding) \(loss): block \(block.name)")
                }
                print("FD whole loss \(encoding) \(loss): worst block \(worstBlock) \(worst)")
            }
        }
    }

    /// `lossAndGradient` ADDS the jet's gradient; tiles of any size give the same bits.
    func testGradientAccumulatesAndIsIndependentOfTiling() {
        let config = gnnaeSmallConfig(.jetLevel(latent: 3))
        let model = GNNAEModel(config: config, seed: 3)
        var rng = GNNAETestRandom(seed: 4)
        let jet = rng.jet(particles: 5, padded: 1), target = rng.jet(particles: 5, padded: 2)
        let workspace = model.makeWorkspace()
        var once = [Double](repeating: 0, count: model.layout.count)
        model.lossAndGradient(jet: jet, target: target, loss: .chamfer, workspace: workspace, accumulatingInto: &once)
        var twice = once
        model.lossAndGradient(jet: jet, target: target, loss: .chamfer, workspace: workspace, accumulatingInto: &twice)
        XCTAssertEqual(twice, once.map { 2 * $0 })
        for tile in [1, 2, 3, 5] {
            let tiled = GNNAEWorkspace(config: config, layout: model.layout, tileReceivers: tile)
            var gradient = [Double](repeating: 0, count: model.layout.count)
            model.lossAndGradient(jet: jet, target: target, loss: .chamfer, workspace: tiled, accumulatingInto: &gradient)
            XCTAssertEqual(gradient, once, "tiles of \(tile) receivers")
            XCTAssertEqual(model.forward(jet: jet, workspace: tiled).output, model.forward(jet: jet).output)
        }
    }

    // MARK: - Symmetries

    /// The MPNN treats nodes alike (no mask, no order): permuting the particles leaves the JL latent
    /// (a mean over nodes) unchanged and permutes the PL latent's rows the same way.
    func testPermutationSymmetryOfTheLatent() {
        var rng = GNNAETestRandom(seed: 31)
        var generator = Xoshiro256StarStar(seed: 32)
        let jet = rng.jet(particles: 5, padded: 2)
        let permutation = fisherYatesPermutation(count: 5, rng: &generator)
        XCTAssertNotEqual(permutation, Array(0..<5))
        let permuted = permutation.flatMap { Array(jet[(3 * $0)..<(3 * $0 + 3)]) }

        let jl = GNNAEModel(config: gnnaeSmallConfig(.jetLevel(latent: 3)), seed: 33)
        let a = jl.forward(jet: jet).latent, b = jl.forward(jet: permuted).latent
        XCTAssertEqual(a.count, 3)
        for k in a.indices { XCTAssertEqual(a[k], b[k], accuracy: 1e-13 * max(1, abs(a[k])), "JL latent \(k) must be permutation invariant") }

        let pl = GNNAEModel(config: gnnaeSmallConfig(.particleLevel(perNode: 2)), seed: 34)
        let c = pl.forward(jet: jet).latent, d = pl.forward(jet: permuted).latent
        XCTAssertEqual(c.count, 10)
        for (i, source) in permutation.enumerated() {
            for k in 0..<2 {
                XCTAssertEqual(d[2 * i + k], c[2 * source + k], accuracy: 1e-13 * max(1, abs(c[2 * source + k])),
                               "PL latent row \(i) must be row \(source) of the unpermuted jet")
            }
        }
        // The padded particles are ordinary nodes: identical zero particles get identical latents.
        XCTAssertEqual(Array(c[6..<8]), Array(c[8..<10]))
    }

    // MARK: - Shapes, parameter counts, compression rates

    /// The paper's widths (A.5–A.7). Counted by hand, Linear(in → out) having out·in + out parameters:
    ///   encoder t=1: EdgeNet 61→50 (3100), 50→40 (2040), 40→30 (1230); NodeNet 60→30 (1830), 30→15 (465) = 8665
    ///   encoder t=2: EdgeNet 31→30 (960), 30→30 (930), 30→30 (930); NodeNet 45→15 (690), 15→8 (128)      = 3638
    ///   encoder t=3: EdgeNet 17→16 (288), 16→20 (340), 20→30 (630); NodeNet 38→8 (312), 8→δ (9δ)         = 1570 + 9δ
    ///   so an MPNN with final width δ has 13873 + 9δ parameters.
    ///   JL dim 45: encoder 13873 + 405 = 14278; decoder input 45→900: 41400; decoder (δ = 3): 13900.
    ///              Total 69578.
    ///   PL d = 2:  encoder 13873 + 72 = 13945, per-node 8→2: 18; decoder input 2→30: 90; decoder 13900.
    ///              Total 27953.
    func testParameterCountsAndShapesOfThePaperWidths() {
        let jl = GNNAEParameterLayout(config: GNNAEConfig(encoding: .jetLevel(latent: 45)))
        XCTAssertEqual(jl.encoderCount, 14278)
        XCTAssertEqual(jl.decoderInput.parameterCount, 41400)
        XCTAssertEqual(jl.decoderCount, 41400 + 13900)
        XCTAssertEqual(jl.count, 69578)
        XCTAssertEqual(jl.block(named: "encoder.mp0.edge0.weight").shape, [50, 61])
        XCTAssertEqual(jl.block(named: "encoder.mp0.node0.weight").shape, [30, 60])
        XCTAssertEqual(jl.block(named: "encoder.mp1.edge0.weight").shape, [30, 31])
        XCTAssertEqual(jl.block(named: "encoder.mp1.node0.weight").shape, [15, 45])
        XCTAssertEqual(jl.block(named: "encoder.mp2.edge0.weight").shape, [16, 17])
        XCTAssertEqual(jl.block(named: "encoder.mp2.edge2.weight").shape, [30, 20])
        XCTAssertEqual(jl.block(named: "encoder.mp2.node0.weight").shape, [8, 38])
        XCTAssertEqual(jl.block(named: "encoder.mp2.node1.weight").shape, [45, 8])
        XCTAssertEqual(jl.block(named: "decoder.input.weight").shape, [900, 45])
        XCTAssertEqual(jl.block(named: "decoder.mp2.node1.weight").shape, [3, 8])
        XCTAssertEqual(jl.blocks.map(\.count).reduce(0, +), jl.count)

        let pl = GNNAEParameterLayout(config: GNNAEConfig(encoding: .particleLevel(perNode: 2)))
        XCTAssertEqual(pl.encoderCount, 13963)
        XCTAssertEqual(pl.count, 27953)
        XCTAssertEqual(pl.block(named: "encoder.mp2.node1.weight").shape, [8, 8])
        XCTAssertEqual(pl.block(named: "encoder.latent.weight").shape, [2, 8])
        XCTAssertEqual(pl.block(named: "decoder.input.weight").shape, [30, 2])

        // Compression rates as labelled in Tables 2 and 4: latent numbers over N·3 = 90.
        XCTAssertEqual(GNNAEConfig(encoding: .jetLevel(latent: 45)).compressionRate, 0.5, accuracy: 1e-15)
        XCTAssertEqual(GNNAEConfig(encoding: .jetLevel(latent: 90)).compressionRate, 1.0, accuracy: 1e-15)
        XCTAssertEqual(GNNAEConfig(encoding: .jetLevel(latent: 10)).compressionRate, 0.1111, accuracy: 5e-5)
        XCTAssertEqual(GNNAEConfig(encoding: .particleLevel(perNode: 2)).compressionRate, 0.6667, accuracy: 5e-5)
        XCTAssertEqual(GNNAEConfig(encoding: .particleLevel(perNode: 3)).compressionRate, 1.0, accuracy: 1e-15)

        // The forward pass of the paper's model: a (30, 3) reconstruction and the latent.
        var rng = GNNAETestRandom(seed: 41)
        let jet = rng.jet(particles: 30, padded: 7)
        let model = GNNAEModel(config: GNNAEConfig(encoding: .jetLevel(latent: 45)), seed: 42)
        let result = model.forward(jet: jet)
        XCTAssertEqual(result.output.count, 90)
        XCTAssertEqual(result.latent.count, 45)
        XCTAssertTrue(result.output.allSatisfy(\.isFinite))
        let particle = GNNAEModel(config: GNNAEConfig(encoding: .particleLevel(perNode: 2)), seed: 42).forward(jet: jet)
        XCTAssertEqual(particle.output.count, 90)
        XCTAssertEqual(particle.latent.count, 60)
    }

    func testInvalidConfigurationsAreRejected() {
        XCTAssertThrowsError(try GNNAEConfig(encoding: .jetLevel(latent: 0)).validate())
        XCTAssertThrowsError(try GNNAEConfig(encoding: .jetLevel(latent: 4), encoderNodeWidths: [2, 2, 2]).validate())
        XCTAssertThrowsError(try GNNAEConfig(encoding: .jetLevel(latent: 4), encoderEdgeWidths: [[3], [3]]).validate())
        XCTAssertThrowsError(try GNNAEConfig(encoding: .particleLevel(perNode: 2), decoderEdgeWidths: [[3], [], [3]]).validate())
        XCTAssertNoThrow(try gnnaeSmallConfig(.particleLevel(perNode: 1)).validate())
    }

    // MARK: - Determinism

    func testSameSeedGivesSameParametersAndOutputs() {
        let config = gnnaeSmallConfig(.particleLevel(perNode: 2))
        let a = GNNAEModel(config: config, seed: 7), b = GNNAEModel(config: config, seed: 7)
        XCTAssertEqual(a.parameters, b.parameters)
        XCTAssertNotEqual(a.parameters, GNNAEModel(config: config, seed: 8).parameters)
        // PyTorch's Linear default: every value inside ±1/√fan_in of its block.
        for block in a.layout.blocks {
            XCTAssertTrue(a.parameters[block.range].allSatisfy { abs($0) <= block.bound }, block.name)
        }
        var rng = GNNAETestRandom(seed: 9)
        let jet = rng.jet(particles: 5, padded: 2), target = rng.jet(particles: 5, padded: 0)
        let workspace = a.makeWorkspace()
        let first = a.forward(jet: jet, workspace: workspace)
        _ = a.forward(jet: target, workspace: workspace)
        let again = a.forward(jet: jet, workspace: workspace)
        XCTAssertEqual(first.output, again.output)
        XCTAssertEqual(first.latent, again.latent)
        XCTAssertEqual(first.output, b.forward(jet: jet).output)
        var ga = [Double](repeating: 0, count: a.layout.count), gb = ga
        a.lossAndGradient(jet: jet, target: target, loss: .mse, workspace: workspace, accumulatingInto: &ga)
        b.lossAndGradient(jet: jet, target: target, loss: .mse, workspace: b.makeWorkspace(), accumulatingInto: &gb)
        XCTAssertEqual(ga, gb)
    }

    // MARK: - Losses on hand-worked examples

    /// The reference's ChamferLoss returns only ||Σ_i x_i − Σ_i y_i||² (lgae.md §12.1).
    /// x = {(1,2,3), (0,1,0)}, y = {(0,0,1), (2,0,0)}: Σx − Σy = (1,3,3) − (2,0,1) = (−1,3,2), so
    /// L = 1 + 9 + 4 = 14 and ∂L/∂x_i = 2(−1,3,2) for both particles.
    func testJetTermOnlyLossOnAHandWorkedExample() {
        let x = [1.0, 2, 3, 0, 1, 0], y = [0.0, 0, 1, 2, 0, 0]
        var gradient = [Double](repeating: 0, count: 6)
        let loss = GNNAELoss.chamferJetTermOnly.evaluate(reconstruction: x, target: y, particles: 2, features: 3, gradient: &gradient)
        XCTAssertEqual(loss, 14)
        XCTAssertEqual(gradient, [-2, 6, 4, -2, 6, 4])
    }

    /// x = {(1,0,0), (0,2,0)}, y = {(1,0,0.5), (0.5,0.5,0)}: D = [[0.25, 0.5], [5.25, 2.5]].
    /// Row minima 0.25 (x_0→y_0) + 2.5 (x_1→y_1); column minima 0.25 (y_0←x_0) + 0.5 (y_1←x_0).
    /// L = 3.5 (the GNNAE's normalisation, no ½). ∂L/∂x_0 = 2(x_0−y_0)·2 + 2(x_0−y_1) = (1,−1,−2),
    /// ∂L/∂x_1 = 2(x_1−y_1) = (−1,3,0).
    func testChamferLossOnAHandWorkedExample() {
        let x = [1.0, 0, 0, 0, 2, 0], y = [1.0, 0, 0.5, 0.5, 0.5, 0]
        var gradient = [Double](repeating: 0, count: 6)
        let loss = GNNAELoss.chamfer.evaluate(reconstruction: x, target: y, particles: 2, features: 3, gradient: &gradient)
        XCTAssertEqual(loss, 3.5)
        XCTAssertEqual(gradient, [1, -1, -2, -1, 3, 0])
        // MSE: the mean over the 6 entries of (x − y)² = (0 + 0 + 0.25 + 0.25 + 2.25 + 0)/6.
        XCTAssertEqual(GNNAELoss.mse.evaluate(reconstruction: x, target: y, particles: 2), 2.75 / 6, accuracy: 1e-15)
    }
}
