// The numerical kernels of the GNNAE's message-passing network (lgae.md §12.1, paper App. A.2),
// each forward beside its backward. They work on raw buffers, allocate nothing, and sum in a
// fixed order, so a result depends only on its inputs.
//
// Layout shared by all of them: activations are row-major [rows × width] with rows = nodes or
// edges and the width rounded up to a multiple of 4 ("padded"), so that every row is a whole
// number of 256-bit vectors. Padding columns hold zeros, and the packed weights are zero there,
// so they never reach a real output.
//
// Where the time goes: an MPNN layer runs its EdgeNet on all N² = 900 ordered pairs (i, j). The
// first EdgeNet Linear acts on e_ij = [x_i, x_j, d_ij] and splits into W_a·x_i + W_b·x_j +
// w_d·d_ij + b, so W_a·x_i and W_b·x_j are computed once per node (`mpnnEdgeInputForward`); the
// further EdgeNet layers are dense products over the 900 edges (`mpnnMultiply`,
// `mpnnAccumulateTransposedProduct`), register-blocked 4 rows × 12 columns. These dense products
// are more than 95 % of the arithmetic of a training step.

/// A width rounded up to a whole number of vectors.
@inline(__always)
func mpnnPadded(_ width: Int) -> Int { (width + 3) & ~3 }

/// PyTorch's leaky_relu: x if x > 0, else slope·x.
@inline(__always)
func mpnnLeakyReLU(_ z: Lanes, slope: Double) -> Lanes {
    z.replacing(with: slope * z, where: z .<= 0)
}

/// PyTorch's leaky_relu backward, g if z > 0, else slope·g, read from the activation h =
/// LeakyReLU(z) instead of z: with a positive slope, h > 0 exactly when z > 0, so only the
/// activations need to be kept for the backward pass.
@inline(__always)
func mpnnLeakyReLUBackward(_ g: Lanes, activation h: Lanes, slope: Double) -> Lanes {
    g.replacing(with: slope * g, where: h .<= 0)
}

// MARK: - Dense products

/// What an output block starts from in `mpnnMultiply`.
enum MPNNStart {
    /// Zero.
    case zero
    /// The bias row, the same for every output row (a Linear layer).
    case bias(UnsafePointer<Double>)
    /// The output's current values (a sum of products).
    case accumulate
}

/// What `mpnnMultiply` applies to a result before storing it.
enum MPNNEpilogue {
    case none
    /// LeakyReLU(z): a Linear layer's activation.
    case leakyReLU(slope: Double)
    /// g ⊙ LeakyReLU'(z) read from the activations h = LeakyReLU(z), laid out as C: an input
    /// gradient taken on through the previous layer's activation in the same pass.
    case leakyReLUDerivative(slope: Double, activations: UnsafePointer<Double>)
}

/// C = epilogue(start + A·B) with A (rows × inner, row stride aStride), B (inner × columns, row
/// stride bStride) and C (rows × columns, row stride cStride) row-major, and columns a multiple
/// of 4.
///
/// With A = activations and B = Wᵀ (packed) this is a Linear layer; with A = ∂L/∂z and B = W it is
/// the layer's input gradient. Register-blocked: 4 rows × 12 columns (12 accumulators, plus 3
/// loads of B and one broadcast of A: the 16 AVX2 registers). Every sum runs over k in order,
/// one fused multiply-add per term.
func mpnnMultiply(rows: Int, inner: Int, columns: Int,
                  _ a: UnsafePointer<Double>, aStride: Int,
                  _ b: UnsafePointer<Double>, bStride: Int,
                  into c: UnsafeMutablePointer<Double>, cStride: Int,
                  start: MPNNStart, epilogue: MPNNEpilogue = .none) {
    precondition(columns % 4 == 0, "mpnnMultiply: columns (\(columns)) must be a multiple of 4")
    var r = 0
    while r &+ 4 <= rows {
        mpnnMultiplyRowBlock(rows: 4, inner: inner, columns: columns, a + r &* aStride, aStride, b, bStride,
                             c + r &* cStride, cStride, start, epilogue.offset(by: r &* cStride))
        r &+= 4
    }
    while r < rows {
        mpnnMultiplyRowBlock(rows: 1, inner: inner, columns: columns, a + r &* aStride, aStride, b, bStride,
                             c + r &* cStride, cStride, start, epilogue.offset(by: r &* cStride))
        r &+= 1
    }
}

extension MPNNEpilogue {
    /// The same epilogue for the block of C starting `offset` doubles further.
    @inline(__always)
    func offset(by offset: Int) -> MPNNEpilogue {
        if case .leakyReLUDerivative(let slope, let h) = self { return .leakyReLUDerivative(slope: slope, activations: h + offset) }
        return self
    }

    /// Applies the epilogue to the result v bound for C at `offset` from the block's start.
    @inline(__always)
    func apply(_ v: Lanes, at offset: Int) -> Lanes {
        switch self {
        case .none: return v
        case .leakyReLU(let slope): return mpnnLeakyReLU(v, slope: slope)
        case .leakyReLUDerivative(let slope, let h): return mpnnLeakyReLUBackward(v, activation: loadLanes(h + offset), slope: slope)
        }
    }
}

/// One block of 4 (or 1) rows of `mpnnMultiply`, over all columns.
@inline(__always)
private func mpnnMultiplyRowBlock(rows: Int, inner: Int, columns: Int,
                                  _ a: UnsafePointer<Double>, _ aStride: Int,
                                  _ b: UnsafePointer<Double>, _ bStride: Int,
                                  _ c: UnsafeMutablePointer<Double>, _ cStride: Int,
                                  _ start: MPNNStart, _ epilogue: MPNNEpilogue) {
    var col = 0
    while col &+ 12 <= columns {
        if rows == 4 {
            mpnnMultiplyBlock(rows: 4, vectors: 3, inner, a, aStride, b + col, bStride, c + col, cStride, start, col, epilogue.offset(by: col))
        } else {
            mpnnMultiplyBlock(rows: 1, vectors: 3, inner, a, aStride, b + col, bStride, c + col, cStride, start, col, epilogue.offset(by: col))
        }
        col &+= 12
    }
    let left = (columns &- col) / 4
    if left == 2 {
        if rows == 4 {
            mpnnMultiplyBlock(rows: 4, vectors: 2, inner, a, aStride, b + col, bStride, c + col, cStride, start, col, epilogue.offset(by: col))
        } else {
            mpnnMultiplyBlock(rows: 1, vectors: 2, inner, a, aStride, b + col, bStride, c + col, cStride, start, col, epilogue.offset(by: col))
        }
    } else if left == 1 {
        if rows == 4 {
            mpnnMultiplyBlock(rows: 4, vectors: 1, inner, a, aStride, b + col, bStride, c + col, cStride, start, col, epilogue.offset(by: col))
        } else {
            mpnnMultiplyBlock(rows: 1, vectors: 1, inner, a, aStride, b + col, bStride, c + col, cStride, start, col, epilogue.offset(by: col))
        }
    }
}

/// The micro-kernel: `rows` (1 or 4) × `vectors` (1, 2 or 3) vectors of C. Both counts are
/// literals at every call site, so after inlining the unused accumulators and branches vanish.
@inline(__always)
private func mpnnMultiplyBlock(rows: Int, vectors: Int, _ inner: Int,
                               _ a: UnsafePointer<Double>, _ aStride: Int,
                               _ b: UnsafePointer<Double>, _ bStride: Int,
                               _ c: UnsafeMutablePointer<Double>, _ cStride: Int,
                               _ start: MPNNStart, _ column: Int, _ epilogue: MPNNEpilogue) {
    let c0 = c, c1 = c + cStride, c2 = c + 2 &* cStride, c3 = c + 3 &* cStride
    var x00 = Lanes.zero, x01 = Lanes.zero, x02 = Lanes.zero
    var x10 = Lanes.zero, x11 = Lanes.zero, x12 = Lanes.zero
    var x20 = Lanes.zero, x21 = Lanes.zero, x22 = Lanes.zero
    var x30 = Lanes.zero, x31 = Lanes.zero, x32 = Lanes.zero
    switch start {
    case .zero:
        break
    case .bias(let bias):
        let s0 = loadLanes(bias + column)
        let s1 = vectors > 1 ? loadLanes(bias + column + 4) : .zero
        let s2 = vectors > 2 ? loadLanes(bias + column + 8) : .zero
        x00 = s0; x01 = s1; x02 = s2
        if rows == 4 {
            x10 = s0; x11 = s1; x12 = s2
            x20 = s0; x21 = s1; x22 = s2
            x30 = s0; x31 = s1; x32 = s2
        }
    case .accumulate:
        x00 = loadLanes(c0)
        if vectors > 1 { x01 = loadLanes(c0 + 4) }
        if vectors > 2 { x02 = loadLanes(c0 + 8) }
        if rows == 4 {
            x10 = loadLanes(c1); x20 = loadLanes(c2); x30 = loadLanes(c3)
            if vectors > 1 { x11 = loadLanes(c1 + 4); x21 = loadLanes(c2 + 4); x31 = loadLanes(c3 + 4) }
            if vectors > 2 { x12 = loadLanes(c1 + 8); x22 = loadLanes(c2 + 8); x32 = loadLanes(c3 + 8) }
        }
    }
    var ap = a, bp = b
    for _ in 0..<inner {
        let b0 = loadLanes(bp)
        let b1 = vectors > 1 ? loadLanes(bp + 4) : .zero
        let b2 = vectors > 2 ? loadLanes(bp + 8) : .zero
        let a0 = Lanes(repeating: ap[0])
        x00 = x00.addingProduct(a0, b0)
        if vectors > 1 { x01 = x01.addingProduct(a0, b1) }
        if vectors > 2 { x02 = x02.addingProduct(a0, b2) }
        if rows == 4 {
            let a1 = Lanes(repeating: ap[aStride])
            x10 = x10.addingProduct(a1, b0)
            if vectors > 1 { x11 = x11.addingProduct(a1, b1) }
            if vectors > 2 { x12 = x12.addingProduct(a1, b2) }
            let a2 = Lanes(repeating: ap[2 &* aStride])
            x20 = x20.addingProduct(a2, b0)
            if vectors > 1 { x21 = x21.addingProduct(a2, b1) }
            if vectors > 2 { x22 = x22.addingProduct(a2, b2) }
            let a3 = Lanes(repeating: ap[3 &* aStride])
            x30 = x30.addingProduct(a3, b0)
            if vectors > 1 { x31 = x31.addingProduct(a3, b1) }
            if vectors > 2 { x32 = x32.addingProduct(a3, b2) }
        }
        ap += 1
        bp += bStride
    }
    @inline(__always) func emit(_ v: Lanes, _ offset: Int) {
        storeLanes(epilogue.apply(v, at: offset), c + offset)
    }
    let s1 = cStride, s2 = 2 &* cStride, s3 = 3 &* cStride
    emit(x00, 0)
    if vectors > 1 { emit(x01, 4) }
    if vectors > 2 { emit(x02, 8) }
    if rows == 4 {
        emit(x10, s1); emit(x20, s2); emit(x30, s3)
        if vectors > 1 { emit(x11, s1 &+ 4); emit(x21, s2 &+ 4); emit(x31, s3 &+ 4) }
        if vectors > 2 { emit(x12, s1 &+ 8); emit(x22, s2 &+ 8); emit(x32, s3 &+ 8) }
    }
}

/// C += Aᵀ·B, i.e. C[m, n] += Σ_r A[r, m]·B[r, n], for A (rows × M, row stride aStride), B (rows ×
/// N, row stride bStride) and C (M × N, row stride cStride), M and N multiples of 4: a Linear
/// layer's weight gradient ∂L/∂Wᵀ = xᵀ·∂L/∂z summed over the rows (edges or nodes) in order.
/// Register-blocked 4 × 12: C's block stays in registers while the rows stream past (4 broadcasts
/// of A and 3 loads of B per row). The blocks of M are the outer loop, so A's strip is read once
/// and B stays in the L1 cache across the inner loop over N.
func mpnnAccumulateTransposedProduct(rows: Int, m: Int, n: Int,
                                     _ a: UnsafePointer<Double>, aStride: Int,
                                     _ b: UnsafePointer<Double>, bStride: Int,
                                     into c: UnsafeMutablePointer<Double>, cStride: Int) {
    precondition(m % 4 == 0 && n % 4 == 0, "mpnnAccumulateTransposedProduct: M (\(m)) and N (\(n)) must be multiples of 4")
    var i = 0
    while i < m {
        var col = 0
        while col &+ 12 <= n {
            mpnnTransposedBlock(vectors: 3, rows, a + i, aStride, b + col, bStride, c + i &* cStride + col, cStride)
            col &+= 12
        }
        let left = (n &- col) / 4
        if left == 2 {
            mpnnTransposedBlock(vectors: 2, rows, a + i, aStride, b + col, bStride, c + i &* cStride + col, cStride)
        } else if left == 1 {
            mpnnTransposedBlock(vectors: 1, rows, a + i, aStride, b + col, bStride, c + i &* cStride + col, cStride)
        }
        i &+= 4
    }
}

@inline(__always)
private func mpnnTransposedBlock(vectors: Int, _ rows: Int,
                                 _ a: UnsafePointer<Double>, _ aStride: Int,
                                 _ b: UnsafePointer<Double>, _ bStride: Int,
                                 _ c: UnsafeMutablePointer<Double>, _ cStride: Int) {
    let c0 = c, c1 = c + cStride, c2 = c + 2 &* cStride, c3 = c + 3 &* cStride
    var x00 = loadLanes(c0), x10 = loadLanes(c1), x20 = loadLanes(c2), x30 = loadLanes(c3)
    var x01 = Lanes.zero, x11 = Lanes.zero, x21 = Lanes.zero, x31 = Lanes.zero
    var x02 = Lanes.zero, x12 = Lanes.zero, x22 = Lanes.zero, x32 = Lanes.zero
    if vectors > 1 { x01 = loadLanes(c0 + 4); x11 = loadLanes(c1 + 4); x21 = loadLanes(c2 + 4); x31 = loadLanes(c3 + 4) }
    if vectors > 2 { x02 = loadLanes(c0 + 8); x12 = loadLanes(c1 + 8); x22 = loadLanes(c2 + 8); x32 = loadLanes(c3 + 8) }
    var ap = a, bp = b
    for _ in 0..<rows {
        let b0 = loadLanes(bp)
        let b1 = vectors > 1 ? loadLanes(bp + 4) : .zero
        let b2 = vectors > 2 ? loadLanes(bp + 8) : .zero
        // One broadcast live at a time: 12 accumulators + 3 rows of B + 1 = the 16 registers.
        let a0 = Lanes(repeating: ap[0])
        x00 = x00.addingProduct(a0, b0)
        if vectors > 1 { x01 = x01.addingProduct(a0, b1) }
        if vectors > 2 { x02 = x02.addingProduct(a0, b2) }
        let a1 = Lanes(repeating: ap[1])
        x10 = x10.addingProduct(a1, b0)
        if vectors > 1 { x11 = x11.addingProduct(a1, b1) }
        if vectors > 2 { x12 = x12.addingProduct(a1, b2) }
        let a2 = Lanes(repeating: ap[2])
        x20 = x20.addingProduct(a2, b0)
        if vectors > 1 { x21 = x21.addingProduct(a2, b1) }
        if vectors > 2 { x22 = x22.addingProduct(a2, b2) }
        let a3 = Lanes(repeating: ap[3])
        x30 = x30.addingProduct(a3, b0)
        if vectors > 1 { x31 = x31.addingProduct(a3, b1) }
        if vectors > 2 { x32 = x32.addingProduct(a3, b2) }
        ap += aStride
        bp += bStride
    }
    storeLanes(x00, c0); storeLanes(x10, c1); storeLanes(x20, c2); storeLanes(x30, c3)
    if vectors > 1 { storeLanes(x01, c0 + 4); storeLanes(x11, c1 + 4); storeLanes(x21, c2 + 4); storeLanes(x31, c3 + 4) }
    if vectors > 2 { storeLanes(x02, c0 + 8); storeLanes(x12, c1 + 8); storeLanes(x22, c2 + 8); storeLanes(x32, c3 + 8) }
}

/// sums[c] += Σ_r x[r, c] over the rows in order (a bias gradient), width a multiple of 4.
func mpnnAccumulateColumnSums(rows: Int, width: Int, _ x: UnsafePointer<Double>, stride: Int,
                              into sums: UnsafeMutablePointer<Double>) {
    var c = 0
    while c < width {
        var acc = loadLanes(sums + c)
        var p = x + c
        for _ in 0..<rows {
            acc += loadLanes(p)
            p += stride
        }
        storeLanes(acc, sums + c)
        c &+= 4
    }
}

/// g ← g ⊙ LeakyReLU'(z), read from the activations h = LeakyReLU(z) (see
/// `mpnnLeakyReLUBackward(_:activation:slope:)`), over `count` doubles (a multiple of 4).
func mpnnLeakyReLUBackward(count: Int, activations h: UnsafePointer<Double>, gradients g: UnsafeMutablePointer<Double>,
                           slope: Double) {
    var x = 0
    while x < count {
        storeLanes(mpnnLeakyReLUBackward(loadLanes(g + x), activation: loadLanes(h + x), slope: slope), g + x)
        x &+= 4
    }
}

// MARK: - A Linear layer, packed for the dense products

/// One Linear layer y = W·x + b of the parameter buffer (W row-major outputs × inputs, as
/// PyTorch) in the padded form the products need, with its gradient accumulators:
/// Wᵀ (inputs_p × outputs_p) for the forward product, W (outputs_p × inputs_p) for the input
/// gradient, and ∂L/∂Wᵀ, ∂L/∂b. Real input c sits at packed row `packedRow[c]`: the input of a
/// layer may be a concatenation of padded pieces, e.g. [m_i | x_i] for the NodeNet.
struct MPNNPackedLinear {
    let layer: GNNAELinear
    let paddedInputs: Int
    let paddedOutputs: Int
    let packedRow: [Int]
    let weightsTransposed: UnsafeMutablePointer<Double>
    let weights: UnsafeMutablePointer<Double>
    let bias: UnsafeMutablePointer<Double>
    let weightGradientsTransposed: UnsafeMutablePointer<Double>
    let biasGradients: UnsafeMutablePointer<Double>

    /// `pieces`: the input as consecutive (real width, padded start) pieces.
    init(_ layer: GNNAELinear, pieces: [(width: Int, start: Int)], paddedInputs: Int, arena: MPNNArena) {
        precondition(pieces.reduce(0) { $0 + $1.width } == layer.inputs,
                     "MPNNPackedLinear: the input pieces do not add up to the layer's \(layer.inputs) inputs")
        self.layer = layer
        self.paddedInputs = paddedInputs
        paddedOutputs = mpnnPadded(layer.outputs)
        packedRow = pieces.flatMap { piece in (0..<piece.width).map { piece.start + $0 } }
        weightsTransposed = arena.allocate(paddedInputs * paddedOutputs)
        weights = arena.allocate(paddedOutputs * paddedInputs)
        bias = arena.allocate(paddedOutputs)
        weightGradientsTransposed = arena.allocate(paddedInputs * paddedOutputs)
        biasGradients = arena.allocate(paddedOutputs)
    }

    /// A layer on one padded input: real input c at row c.
    init(_ layer: GNNAELinear, arena: MPNNArena) {
        self.init(layer, pieces: [(layer.inputs, 0)], paddedInputs: mpnnPadded(layer.inputs), arena: arena)
    }

    /// Copies W and b from the parameter buffer (the padding stays zero from the allocation).
    func pack(_ parameters: UnsafePointer<Double>) {
        let w = parameters + layer.weight, outputs = layer.outputs, inputs = layer.inputs
        for o in 0..<outputs {
            for c in 0..<inputs {
                let value = w[o &* inputs &+ c], row = packedRow[c]
                weightsTransposed[row &* paddedOutputs &+ o] = value
                weights[o &* paddedInputs &+ row] = value
            }
            bias[o] = parameters[layer.bias &+ o]
        }
    }

    func zeroGradients() {
        weightGradientsTransposed.update(repeating: 0, count: paddedInputs * paddedOutputs)
        biasGradients.update(repeating: 0, count: paddedOutputs)
    }

    /// Adds the accumulated ∂L/∂W and ∂L/∂b to the flat gradient buffer (the layout of the
    /// parameters); the padding entries are dropped.
    func addGradients(into gradients: UnsafeMutablePointer<Double>) {
        let outputs = layer.outputs, inputs = layer.inputs
        let gw = gradients + layer.weight
        for o in 0..<outputs {
            for c in 0..<inputs {
                gw[o &* inputs &+ c] += weightGradientsTransposed[packedRow[c] &* paddedOutputs &+ o]
            }
            gradients[layer.bias &+ o] += biasGradients[o]
        }
    }

    /// h = LeakyReLU(W·x + b) for `rows` rows of x (row stride paddedInputs) into h (row stride
    /// paddedOutputs).
    func forward(rows: Int, input x: UnsafePointer<Double>, output h: UnsafeMutablePointer<Double>, slope: Double) {
        mpnnMultiply(rows: rows, inner: paddedInputs, columns: paddedOutputs, x, aStride: paddedInputs,
                     weightsTransposed, bStride: paddedOutputs, into: h, cStride: paddedOutputs,
                     start: .bias(bias), epilogue: .leakyReLU(slope: slope))
    }

    /// Backward of the Linear part, from ∂L/∂z (z = W·x + b, already through the activation's
    /// derivative): adds ∂L/∂Wᵀ += xᵀ·∂L/∂z and ∂L/∂b += Σ_rows ∂L/∂z, and, if `inputGradient` is
    /// given, WRITES ∂L/∂x = ∂L/∂z·W there, or, with `inputSlope`, ∂L/∂x ⊙ LeakyReLU'(x) when x
    /// itself is a LeakyReLU activation (the previous dense layer's ∂L/∂z, in the same pass).
    func backward(rows: Int, input x: UnsafePointer<Double>, outputGradient gz: UnsafePointer<Double>,
                  inputGradient gx: UnsafeMutablePointer<Double>?, inputSlope: Double? = nil) {
        mpnnAccumulateTransposedProduct(rows: rows, m: paddedInputs, n: paddedOutputs, x, aStride: paddedInputs,
                                        gz, bStride: paddedOutputs, into: weightGradientsTransposed, cStride: paddedOutputs)
        mpnnAccumulateColumnSums(rows: rows, width: paddedOutputs, gz, stride: paddedOutputs, into: biasGradients)
        if let gx {
            let epilogue: MPNNEpilogue = inputSlope.map { .leakyReLUDerivative(slope: $0, activations: x) } ?? .none
            mpnnMultiply(rows: rows, inner: paddedOutputs, columns: paddedInputs, gz, aStride: paddedOutputs,
                         weights, bStride: paddedInputs, into: gx, cStride: paddedInputs, start: .zero, epilogue: epilogue)
        }
    }
}

/// Owns the zero-initialised buffers of a workspace; freed with it.
final class MPNNArena {
    private var buffers: [UnsafeMutablePointer<Double>] = []

    func allocate(_ count: Int) -> UnsafeMutablePointer<Double> {
        let p = UnsafeMutablePointer<Double>.allocate(capacity: max(count, 4))
        p.initialize(repeating: 0, count: max(count, 4))
        buffers.append(p)
        return p
    }

    deinit {
        for p in buffers { p.deallocate() }
    }
}

// MARK: - The first EdgeNet layer on e_ij = [x_i, x_j, d_ij]

/// The squared distance of the reference, d_ij = Σ_{f<H} (x_j,f − x_i,f + ε)² with ε = 1e-16 inside
/// the square (lgae.md §12.1; the paper says "Euclidean norm" but the code squares). f runs over
/// the layer's real width H, including the zero features of the input padding 3 → H_0.
@inline(__always)
func mpnnSquaredDistance(_ xi: UnsafePointer<Double>, _ xj: UnsafePointer<Double>, features h: Int) -> Double {
    var acc = Lanes.zero
    var f = 0
    while f &+ 4 <= h {
        let t = loadLanes(xj + f) - loadLanes(xi + f) + mpnnEpsilon
        acc = acc.addingProduct(t, t)
        f &+= 4
    }
    var sum = acc.sum()
    while f < h {
        let t = xj[f] - xi[f] + 1e-16
        sum += t * t
        f &+= 1
    }
    return sum
}

/// The reference's EPS (gnn-jet-autoencoder utils/const.py), added inside the distance. Computed,
/// not a stored global, so hot loops do not pay a lazy-initialisation check.
@inline(__always)
var mpnnEpsilon: Lanes { Lanes(repeating: 1e-16) }

/// The first EdgeNet layer for the edges of receivers `receivers` (all senders j < N):
/// h_ij = LeakyReLU(a_i + b_j + w_d·d_ij), where a_i = W_a·x_i + b and b_j = W_b·x_j were computed
/// once per node (the Linear on [x_i, x_j, d_ij] split by input piece). Writes d_ij to
/// `distances[i·N + j]` and h_ij to row (i − first receiver)·N + j of `output` (row stride width).
func mpnnEdgeInputForward(receivers: Range<Int>, nodes n: Int, features h: Int,
                          x: UnsafePointer<Double>, xStride: Int,
                          receiverHalf a: UnsafePointer<Double>, senderHalf b: UnsafePointer<Double>,
                          distanceWeights wd: UnsafePointer<Double>, width: Int, slope: Double,
                          distances: UnsafeMutablePointer<Double>, output: UnsafeMutablePointer<Double>) {
    for i in receivers {
        let xi = x + i &* xStride, ai = a + i &* width
        for j in 0..<n {
            let d = mpnnSquaredDistance(xi, x + j &* xStride, features: h)
            distances[i &* n &+ j] = d
            let dv = Lanes(repeating: d)
            let bj = b + j &* width
            let out = output + ((i &- receivers.lowerBound) &* n &+ j) &* width
            var o = 0
            while o < width {
                let z = (loadLanes(ai + o) + loadLanes(bj + o)).addingProduct(loadLanes(wd + o), dv)
                storeLanes(mpnnLeakyReLU(z, slope: slope), out + o)
                o &+= 4
            }
        }
    }
}

/// Backward of `mpnnEdgeInputForward` from g = ∂L/∂z_ij (already through LeakyReLU') of the
/// receivers' edges: ∂L/∂a_i += Σ_j g_ij, ∂L/∂b_j += g_ij, ∂L/∂w_d += Σ g_ij·d_ij (all
/// accumulated, over j then i in order), and ∂L/∂d_ij = w_d·g_ij WRITTEN to `distanceGradients`.
/// The node halves' own backward (a = W_a·x + b, b = W_b·x) is a dense product over the N nodes,
/// done once after all receivers.
func mpnnEdgeInputBackward(receivers: Range<Int>, nodes n: Int, width: Int,
                           gradients g: UnsafePointer<Double>, distances: UnsafePointer<Double>,
                           distanceWeights wd: UnsafePointer<Double>,
                           receiverGradients ga: UnsafeMutablePointer<Double>,
                           senderGradients gb: UnsafeMutablePointer<Double>,
                           distanceWeightGradients gwd: UnsafeMutablePointer<Double>,
                           distanceGradients gd: UnsafeMutablePointer<Double>) {
    for i in receivers {
        let gai = ga + i &* width
        for j in 0..<n {
            let e = i &* n &+ j
            let gz = g + ((i &- receivers.lowerBound) &* n &+ j) &* width
            let gbj = gb + j &* width
            let dv = Lanes(repeating: distances[e])
            var dot = Lanes.zero
            var o = 0
            while o < width {
                let v = loadLanes(gz + o)
                storeLanes(loadLanes(gai + o) + v, gai + o)
                storeLanes(loadLanes(gbj + o) + v, gbj + o)
                storeLanes(loadLanes(gwd + o).addingProduct(v, dv), gwd + o)
                dot = dot.addingProduct(loadLanes(wd + o), v)
                o &+= 4
            }
            gd[e] = dot.sum()
        }
    }
}

/// Backward of the distances: ∂d_ij/∂x_j,f = 2(x_j,f − x_i,f + ε) = −∂d_ij/∂x_i,f for f < H, so
/// ∂L/∂x (row stride xStride, a multiple of 4) += both ends' terms of every pair: x_j's added pair
/// by pair, x_i's summed over j first (in order of j) and then subtracted. Columns f ≥ H get nothing.
func mpnnDistanceBackward(nodes n: Int, features h: Int, x: UnsafePointer<Double>, xStride: Int,
                          distanceGradients gd: UnsafePointer<Double>,
                          inputGradients gx: UnsafeMutablePointer<Double>) {
    var f = 0
    while f < h {
        // 1 in the lanes f + l < H, 0 in the padding.
        let lanes = SIMD4<Int64>(0, 1, 2, 3) &+ Int64(f)
        let mask = Lanes(repeating: 1).replacing(with: 0, where: lanes .>= Int64(h))
        for i in 0..<n {
            let xi = loadLanes(x + (i &* xStride &+ f))
            var own = Lanes.zero
            for j in 0..<n {
                let t = Lanes(repeating: 2 * gd[i &* n &+ j]) * (loadLanes(x + (j &* xStride &+ f)) - xi + mpnnEpsilon) * mask
                let gxj = gx + (j &* xStride &+ f)
                storeLanes(loadLanes(gxj) + t, gxj)
                own += t
            }
            let gxi = gx + (i &* xStride &+ f)
            storeLanes(loadLanes(gxi) - own, gxi)
        }
        f &+= 4
    }
}

// MARK: - Messages m_i = Σ_j EdgeNet(e_ij)

/// m_i = Σ_j h_ij (the last EdgeNet layer's activations, self-edge j = i included, §12.1), summed
/// over j in order, written to row i of `messages` (row stride messageStride).
func mpnnMessageForward(receivers: Range<Int>, nodes n: Int, width: Int, edges h: UnsafePointer<Double>,
                        messages m: UnsafeMutablePointer<Double>, messageStride: Int) {
    for i in receivers {
        let rows = h + (i &- receivers.lowerBound) &* n &* width
        var o = 0
        while o < width {
            var acc = Lanes.zero
            var p = rows + o
            for _ in 0..<n {
                acc += loadLanes(p)
                p += width
            }
            storeLanes(acc, m + (i &* messageStride &+ o))
            o &+= 4
        }
    }
}

/// Backward of `mpnnMessageForward` fused with the last EdgeNet layer's LeakyReLU: every edge of
/// receiver i gets ∂L/∂h_ij = ∂L/∂m_i, so ∂L/∂z_ij = ∂L/∂m_i ⊙ LeakyReLU'(z_ij), WRITTEN to `g`
/// (the edge rows of `h`).
func mpnnMessageBackward(receivers: Range<Int>, nodes n: Int, width: Int, edges h: UnsafePointer<Double>,
                         messageGradients gm: UnsafePointer<Double>, messageStride: Int,
                         edgeGradients g: UnsafeMutablePointer<Double>, slope: Double) {
    for i in receivers {
        let gmi = gm + i &* messageStride
        let rowBase = (i &- receivers.lowerBound) &* n &* width
        for j in 0..<n {
            let offset = rowBase &+ j &* width
            var o = 0
            while o < width {
                storeLanes(mpnnLeakyReLUBackward(loadLanes(gmi + o), activation: loadLanes(h + (offset &+ o)), slope: slope),
                          g + (offset &+ o))
                o &+= 4
            }
        }
    }
}

// MARK: - The node halves of the first EdgeNet layer

/// a_i = W_a·x_i + b and b_j = W_b·x_j for all N nodes: the node pieces of the first EdgeNet
/// Linear on [x_i, x_j, d_ij], computed once per node instead of once per edge. `first` is packed
/// with the pieces [x_i (H_p) | x_j (H_p) | d_ij]; x is N × H_p.
func mpnnEdgeInputNodeHalvesForward(_ first: MPNNPackedLinear, nodes n: Int, paddedWidth hp: Int, x: UnsafePointer<Double>,
                                    receiverHalf a: UnsafeMutablePointer<Double>, senderHalf b: UnsafeMutablePointer<Double>) {
    let e1 = first.paddedOutputs
    mpnnMultiply(rows: n, inner: hp, columns: e1, x, aStride: hp, first.weightsTransposed, bStride: e1,
                 into: a, cStride: e1, start: .bias(first.bias))
    mpnnMultiply(rows: n, inner: hp, columns: e1, x, aStride: hp, first.weightsTransposed + hp * e1, bStride: e1,
                 into: b, cStride: e1, start: .zero)
}

/// Backward of `mpnnEdgeInputNodeHalvesForward` from ∂L/∂a and ∂L/∂b (N × e_1p): accumulates
/// ∂L/∂b (bias) = Σ_i ∂L/∂a_i, ∂L/∂W_aᵀ += xᵀ·∂L/∂a, ∂L/∂W_bᵀ += xᵀ·∂L/∂b and, if given, ADDS
/// ∂L/∂x = ∂L/∂a·W_a + ∂L/∂b·W_b to `inputGradients` (N × H_p).
func mpnnEdgeInputNodeHalvesBackward(_ first: MPNNPackedLinear, nodes n: Int, paddedWidth hp: Int, x: UnsafePointer<Double>,
                                     receiverGradients ga: UnsafePointer<Double>, senderGradients gb: UnsafePointer<Double>,
                                     inputGradients gx: UnsafeMutablePointer<Double>?) {
    let e1 = first.paddedOutputs
    mpnnAccumulateColumnSums(rows: n, width: e1, ga, stride: e1, into: first.biasGradients)
    mpnnAccumulateTransposedProduct(rows: n, m: hp, n: e1, x, aStride: hp, ga, bStride: e1,
                                    into: first.weightGradientsTransposed, cStride: e1)
    mpnnAccumulateTransposedProduct(rows: n, m: hp, n: e1, x, aStride: hp, gb, bStride: e1,
                                    into: first.weightGradientsTransposed + hp * e1, cStride: e1)
    guard let gx else { return }
    mpnnMultiply(rows: n, inner: e1, columns: hp, ga, aStride: e1, first.weights, bStride: first.paddedInputs,
                 into: gx, cStride: hp, start: .accumulate)
    mpnnMultiply(rows: n, inner: e1, columns: hp, gb, aStride: e1, first.weights + hp, bStride: first.paddedInputs,
                 into: gx, cStride: hp, start: .accumulate)
}

// MARK: - The latent maps (no activation)

/// y_r = W·x_r + b for `rows` rows, straight from the parameter buffer: the PL per-node Linears
/// (rows = N: H_T → d in the encoder, d → H_0 in the decoder) and the JL decoder input Linear
/// (one row, L → N·H_0).
func mpnnRowLinearForward(_ layer: GNNAELinear, _ p: UnsafePointer<Double>, rows: Int,
                          input x: UnsafePointer<Double>, inputStride: Int,
                          output y: UnsafeMutablePointer<Double>, outputStride: Int) {
    let inputs = layer.inputs
    for r in 0..<rows {
        for o in 0..<layer.outputs {
            y[r * outputStride + o] = mpnnDot(p + layer.weight + o * inputs, x + r * inputStride, count: inputs) + p[layer.bias + o]
        }
    }
}

/// Backward of `mpnnRowLinearForward`: ∂L/∂W[o, c] += Σ_r ∂L/∂y_r[o]·x_r[c] and ∂L/∂b[o] +=
/// Σ_r ∂L/∂y_r[o] into `gradients` (the parameter layout), each sum over the rows formed first so
/// that every parameter gets one addition; and, if given, ∂L/∂x_r = Wᵀ·∂L/∂y_r WRITTEN to the
/// first `inputs` columns of each row of `inputGradients`.
func mpnnRowLinearBackward(_ layer: GNNAELinear, _ p: UnsafePointer<Double>, rows: Int,
                           input x: UnsafePointer<Double>, inputStride: Int,
                           outputGradients gy: UnsafePointer<Double>, outputStride: Int,
                           gradients: UnsafeMutablePointer<Double>,
                           inputGradients gx: UnsafeMutablePointer<Double>?, inputGradientStride: Int) {
    let inputs = layer.inputs
    for o in 0..<layer.outputs {
        let gw = gradients + layer.weight + o * inputs
        if rows == 1 {
            gradients[layer.bias + o] += gy[o]
            mpnnAxpy(gy[o], x, into: gw, count: inputs)
        } else {
            var gb = 0.0
            for r in 0..<rows { gb += gy[r * outputStride + o] }
            gradients[layer.bias + o] += gb
            for c in 0..<inputs {
                var s = 0.0
                for r in 0..<rows { s += gy[r * outputStride + o] * x[r * inputStride + c] }
                gw[c] += s
            }
        }
    }
    guard let gx else { return }
    for r in 0..<rows {
        let row = gx + r * inputGradientStride
        row.update(repeating: 0, count: inputs)
        for o in 0..<layer.outputs {
            mpnnAxpy(gy[r * outputStride + o], p + layer.weight + o * inputs, into: row, count: inputs)
        }
    }
}

/// The JL latent z[k] = (1/N) Σ_i x_i[k], k < width (torch.mean: the sum in node order, divided).
func mpnnMeanOverNodesForward(nodes n: Int, width: Int, input x: UnsafePointer<Double>, stride: Int,
                              output z: UnsafeMutablePointer<Double>) {
    for k in 0..<width {
        var sum = 0.0
        for i in 0..<n { sum += x[i * stride + k] }
        z[k] = sum / Double(n)
    }
}

/// Backward of `mpnnMeanOverNodesForward`: ∂L/∂x_i[k] = ∂L/∂z[k] / N, WRITTEN for k < width.
func mpnnMeanOverNodesBackward(nodes n: Int, width: Int, outputGradients gz: UnsafePointer<Double>,
                               inputGradients gx: UnsafeMutablePointer<Double>, stride: Int) {
    let scale = 1 / Double(n)
    for i in 0..<n {
        for k in 0..<width { gx[i * stride + k] = gz[k] * scale }
    }
}

/// Σ_k a[k]·b[k] in 4 lane-partial sums (k ≡ 0, 1, 2, 3 mod 4), then the tail in order.
@inline(__always)
func mpnnDot(_ a: UnsafePointer<Double>, _ b: UnsafePointer<Double>, count: Int) -> Double {
    var acc = Lanes.zero
    var k = 0
    while k &+ 4 <= count {
        acc = acc.addingProduct(loadLanes(a + k), loadLanes(b + k))
        k &+= 4
    }
    var sum = acc.sum()
    while k < count {
        sum += a[k] * b[k]
        k &+= 1
    }
    return sum
}

/// y[k] += a·x[k] for k < count.
@inline(__always)
func mpnnAxpy(_ a: Double, _ x: UnsafePointer<Double>, into y: UnsafeMutablePointer<Double>, count: Int) {
    let av = Lanes(repeating: a)
    var k = 0
    while k &+ 4 <= count {
        storeLanes(loadLanes(y + k).addingProduct(av, loadLanes(x + k)), y + k)
        k &+= 4
    }
    while k < count {
        y[k] += a * x[k]
        k &+= 1
    }
}
