import Foundation

// The hot kernels of the CNNAE (spec §12.2): stride-2 3×3 convolutions with TensorFlow "same"
// padding, their transposes, the kernel gradient, the two dense layers, softmax and the MSE.
// Each kernel's backward sits beside its forward. They are the marked exceptions of style.md:
// fused, register-blocked, and each has its own finite-difference test in CNNAETests.
//
// Feature maps are channels-last (Keras' default, so a Keras model's weights load without
// permutation): pixel (y, x), channel c of a map lives at origin + y·rowStride + x·channels + c.
// A "padded map" (`ConvPaddedMap`) keeps a one-pixel ring of zeros around the interior that no
// kernel ever writes, so the kernels read their out-of-range taps as zeros with no bounds checks.
//
// TensorFlow "same" padding for a 3×3 kernel with stride 2 on an even size n
// (tensorflow/core/framework/kernel_shape_util.cc): output n/2, padding_needed =
// max((n/2 − 1)·2 + 3 − n, 0) = 1, padding_before = padding_needed / 2 = 0, padding_after = 1.
// So the zero row and column sit at the BOTTOM and RIGHT only:
//     y[o] = Σ_k x[2o + k]·K[k],   k = 0, 1, 2,   x[n] = 0.
// (PyTorch's symmetric padding=1 would read x[2o − 1 + k] instead.) Keras' Conv2DTranspose with
// "same" padding is the adjoint of that convolution (conv2d_backprop_input with the same padding),
// output 2n:
//     Y[2i + k] += X[i]·K[k],   contributions to index 2n dropped.
// Both rules were checked against TensorFlow 2.21 on the hand-worked examples of CNNAETests.
//
// Kernels are in Keras' layouts: Conv2D (kh, kw, in, out), Conv2DTranspose (kh, kw, out, in).
// Two primitives serve both layers and both directions:
//   convStride2         y[o, b] = Σ_{k,a} x[2o + k, a]·K[k, a, b]   (a conv's forward; a conv-
//                                                                   transpose's input gradient)
//   convTransposeStride2 Y[2i + k, b] += X[i, a]·K[k, b, a]         (a conv-transpose's forward;
//                                                                   a conv's input gradient)
// and one kernel gradient serves both layers:
//   convStride2KernelGradient  G[k, p, q] += Σ_o big[2o + k, p]·small[o, q]
// (conv: big = its input, small = ∂L/∂output → G in (kh, kw, in, out); conv-transpose:
// big = ∂L/∂output, small = its input → G in (kh, kw, out, in): each time the layer's own layout).
//
// Register blocking: 6 rows × 8 columns of the output in 12 AVX2 accumulators (the BLIS dgemm
// shape for 16 ymm registers): per step 6 broadcasts and 2 vector loads feed 12 fused
// multiply-adds. The operands are first laid out the way a tile reads them (kernel "panels",
// `convPackPanels`; the kernel gradient's copies), because C = 128 channels-last rows are 1 KB
// apart and a tile reading them in place hits only a few L1 sets. Columns beyond the last
// multiple of 8 take a plain loop; a short last row tile repeats its last row and discards the
// copies. Every sum runs in a fixed order, so results are reproducible bit for bit (on the same
// machine and build). Measured (one core of a shared AMD EPYC, C = 128): ≈ 12–13 G multiply-adds/s
// in these loops, about 100 images/s forward + backward for the whole network.

/// max(v, 0) lane by lane (the stdlib's generic `pointwiseMax` is not always inlined).
@inline(__always)
func convReLU(_ v: Lanes) -> Lanes {
    v.replacing(with: Lanes(), where: v .< Lanes())
}

/// The rows of a register tile.
let convTileRows = 6

/// A feature map of height × width pixels with `channels` channels, channels-last, with a
/// one-pixel ring of zeros around it: `count` doubles, interior pixel (y, x) at
/// `origin + y·rowStride + x·channels`. Reading rows −1 and `height`, columns −1 and `width`
/// gives zeros, which is all the "same" padding of a stride-2 3×3 kernel needs.
struct ConvPaddedMap: Hashable, Sendable {
    let height: Int
    let width: Int
    let channels: Int

    var rowStride: Int { (width + 2) * channels }
    var origin: Int { rowStride + channels }
    var count: Int { (height + 2) * rowStride }
    var pixels: Int { height * width }
}

// MARK: - Kernel panels

/// The layout the register tiles read a kernel in: for each block of 8 output channels and each
/// of the 9 taps, a depth × 8 panel, contiguous: panels[((block·9 + t)·depth + k)·8 + j] is the
/// weight from input channel k to output channel 8·block + j at tap t. Reading a block straight
/// from the (3, 3, A, B) layout would step B doubles per k (1 KB for C = 128), which maps the whole
/// panel onto 4 of L1's 64 sets and makes every load a miss; contiguous panels stay in L1.
/// Only whole blocks are packed (the remainder columns read the original kernel).
func convPanelCount(depth a: Int, columns b: Int) -> Int { 9 * a * (b & ~7) }

/// Packs `kernel` into panels. `transposed` false: the kernel is (3, 3, A, B), input channel a,
/// output channel b (a Conv2D kernel for its forward, a Conv2DTranspose kernel for its input
/// gradient); true: (3, 3, B, A) (a Conv2DTranspose kernel for its forward, a Conv2D kernel for
/// its input gradient).
func convPackPanels(_ kernel: UnsafePointer<Double>, depth a: Int, columns b: Int, transposed: Bool,
                    into panels: UnsafeMutablePointer<Double>) {
    let blocks = b / 8
    for block in 0..<blocks {
        for t in 0..<9 {
            let panel = panels + (block * 9 + t) * a * 8
            if transposed {
                // source (t, 8·block + j, k): 8 rows of length a; read along k, write along j.
                let source = kernel + t * b * a + 8 * block * a
                for k in 0..<a {
                    for j in 0..<8 { panel[k * 8 + j] = source[j * a + k] }
                }
            } else {
                let source = kernel + t * a * b + 8 * block
                for k in 0..<a {
                    storeLanes(loadLanes(source + k * b), panel + k * 8)
                    storeLanes(loadLanes(source + k * b + 4), panel + k * 8 + 4)
                }
            }
        }
    }
}

// MARK: - Stride-2 convolution

/// y[o, b] = act(bias[b] + Σ_{kh,kw,a} x[2oy + kh, 2ox + kw, a]·K[kh, kw, a, b]) for the
/// (height/2) × (width/2) outputs, `act` = ReLU or identity. `input` points at the interior
/// origin of an input map whose bottom row and right column beyond the interior read as zero
/// (a `ConvPaddedMap`); K is row-major (3, 3, A, B) and `panels` its `convPackPanels` packing
/// (transposed: false; unused when B < 8); the output has its own row stride and is overwritten.
/// Uses: a Conv2D forward (K = the kernel), a Conv2DTranspose input gradient (K = its
/// (kh, kw, out, in) kernel read as (kh, kw, a, b)).
func convStride2(input: UnsafePointer<Double>, inputRowStride: Int, height: Int, width: Int, inputChannels a: Int,
                 kernel: UnsafePointer<Double>, panels: UnsafePointer<Double>?, outputChannels b: Int,
                 bias: UnsafePointer<Double>?, output: UnsafeMutablePointer<Double>, outputRowStride: Int, relu: Bool) {
    precondition(height % 2 == 0 && width % 2 == 0, "convStride2 needs even sizes, got \(height)×\(width)")
    precondition(b < 8 || panels != nil, "convStride2 needs the kernel panels for B ≥ 8")
    let outWidth = width / 2, pixels = (height / 2) * outWidth
    withUnsafeTemporaryAllocation(of: Int.self, capacity: 18 + 2 * pixels) { table in
        let offsets = table.baseAddress!, tapIndices = offsets + 9
        let inputOffsets = offsets + 18, outputOffsets = inputOffsets + pixels
        for kh in 0..<3 {
            for kw in 0..<3 {
                offsets[3 * kh + kw] = kh * inputRowStride + kw * a
                tapIndices[3 * kh + kw] = 3 * kh + kw
            }
        }
        for m in 0..<pixels {
            let oy = m / outWidth, ox = m - oy * outWidth
            inputOffsets[m] = 2 * oy * inputRowStride + 2 * ox * a
            outputOffsets[m] = oy * outputRowStride + ox * b
        }
        if let panels {
            ConvTiles(input: input, inputOffsets: inputOffsets, output: output, outputOffsets: outputOffsets,
                      pixels: pixels, panels: panels, depth: a, columns: b, bias: bias, relu: relu)
                .run(taps: 9, offsets: offsets, tapIndices: tapIndices)
        }
        // Columns past the last multiple of 8: the same sum, one output at a time.
        for n in (b & ~7)..<b {
            for m in 0..<pixels {
                let x = input + inputOffsets[m]
                var sum = bias?[n] ?? 0
                for t in 0..<9 {
                    let xt = x + offsets[t], kt = kernel + t * a * b + n
                    for k in 0..<a { sum = sum.addingProduct(xt[k], kt[k * b]) }
                }
                output[outputOffsets[m] + n] = relu ? max(sum, 0) : sum
            }
        }
    }
}

/// The register-blocked part shared by `convStride2` and `convTransposeStride2`: a product of
/// the pixels' input rows (pixel m's row starts at input + inputOffsets[m]) and the kernel
/// panels, for the output channels below the last multiple of 8:
///     out[m, n] = act(bias[n] + Σ_t Σ_k input[inputOffsets[m] + offsets[t] + k]·K[tapIndices[t], k, n])
/// stored at output + outputOffsets[m] + n.
struct ConvTiles {
    let input: UnsafePointer<Double>
    let inputOffsets: UnsafePointer<Int>
    let output: UnsafeMutablePointer<Double>
    let outputOffsets: UnsafePointer<Int>
    let pixels: Int
    let panels: UnsafePointer<Double>
    let depth: Int
    let columns: Int
    let bias: UnsafePointer<Double>?
    let relu: Bool

    /// Loop order: column blocks, then taps, then tiles of 6 pixels, then the depth. One panel
    /// (depth × 8 doubles, 8 KB for C = 128) then stays in L1 while every pixel tile uses it; the
    /// 12 partial sums go through the output between taps. For a shallow input (depth < 32, e.g.
    /// the first layer's single channel) all taps run inside one tile instead, which saves those
    /// round trips where there is little to amortise them over.
    func run(taps: Int, offsets: UnsafePointer<Int>, tapIndices: UnsafePointer<Int>) {
        let blocks = columns / 8
        guard blocks > 0, pixels > 0, taps > 0 else { return }
        let tapGroup = depth < 32 ? taps : 1
        for block in 0..<blocks {
            var t0 = 0
            while t0 < taps {
                let t1 = min(t0 + tapGroup, taps)
                var m0 = 0
                while m0 < pixels {
                    tile(m0, block: block, taps: t0..<t1, offsets: offsets, tapIndices: tapIndices,
                         first: t0 == 0, last: t1 == taps)
                    m0 += convTileRows
                }
                t0 = t1
            }
        }
    }

    /// One 6 × 8 tile over the taps in `range`. `first`: start from the bias (or 0), else from
    /// the partial sums in the output; `last`: apply the activation. A short last tile repeats
    /// its last pixel and does not store the copies.
    @inline(__always)
    private func tile(_ m0: Int, block: Int, taps range: Range<Int>, offsets: UnsafePointer<Int>,
                      tapIndices: UnsafePointer<Int>, first: Bool, last: Bool) {
        let n0 = 8 * block, rows = min(convTileRows, pixels - m0), final = pixels - 1
        let i0 = inputOffsets[m0], i1 = inputOffsets[min(m0 + 1, final)], i2 = inputOffsets[min(m0 + 2, final)]
        let i3 = inputOffsets[min(m0 + 3, final)], i4 = inputOffsets[min(m0 + 4, final)], i5 = inputOffsets[min(m0 + 5, final)]
        @inline(__always) func start(_ r: Int) -> (Lanes, Lanes) {
            if first {
                guard let bias else { return (Lanes(), Lanes()) }
                return (loadLanes(bias + n0), loadLanes(bias + n0 + 4))
            }
            let out = output + outputOffsets[min(m0 + r, final)] + n0
            return (loadLanes(out), loadLanes(out + 4))
        }
        var (c00, c01) = start(0), (c10, c11) = start(1), (c20, c21) = start(2)
        var (c30, c31) = start(3), (c40, c41) = start(4), (c50, c51) = start(5)
        let blockPanels = panels + block * 9 * depth * 8
        for t in range {
            let o = offsets[t]
            let x0 = input + (i0 + o), x1 = input + (i1 + o), x2 = input + (i2 + o)
            let x3 = input + (i3 + o), x4 = input + (i4 + o), x5 = input + (i5 + o)
            var w = blockPanels + tapIndices[t] * depth * 8
            for k in 0..<depth {
                let b0 = loadLanes(w), b1 = loadLanes(w + 4)
                var s = Lanes(repeating: x0[k])
                c00 = c00.addingProduct(s, b0); c01 = c01.addingProduct(s, b1)
                s = Lanes(repeating: x1[k])
                c10 = c10.addingProduct(s, b0); c11 = c11.addingProduct(s, b1)
                s = Lanes(repeating: x2[k])
                c20 = c20.addingProduct(s, b0); c21 = c21.addingProduct(s, b1)
                s = Lanes(repeating: x3[k])
                c30 = c30.addingProduct(s, b0); c31 = c31.addingProduct(s, b1)
                s = Lanes(repeating: x4[k])
                c40 = c40.addingProduct(s, b0); c41 = c41.addingProduct(s, b1)
                s = Lanes(repeating: x5[k])
                c50 = c50.addingProduct(s, b0); c51 = c51.addingProduct(s, b1)
                w += 8
            }
        }
        @inline(__always) func put(_ r: Int, _ lo: Lanes, _ hi: Lanes) {
            guard r < rows else { return }
            let out = output + outputOffsets[m0 + r] + n0
            if last && relu {
                storeLanes(convReLU(lo), out)
                storeLanes(convReLU(hi), out + 4)
            } else {
                storeLanes(lo, out)
                storeLanes(hi, out + 4)
            }
        }
        put(0, c00, c01); put(1, c10, c11); put(2, c20, c21)
        put(3, c30, c31); put(4, c40, c41); put(5, c50, c51)
    }
}

// MARK: - Stride-2 transposed convolution

/// Y[2i + kh, 2j + kw, b] += X[i, j, a]·K[kh, kw, b, a] summed into a fresh (2h) × (2w) output:
/// Y = act(bias + Σ …), contributions to row or column 2h / 2w dropped (Keras' "same" crop).
/// `input` points at the interior origin of an h × w map whose row −1 and column −1 read as
/// zero (a `ConvPaddedMap`). `kernel` is K in its row-major (3, 3, B, A) layout, `panels` its
/// `convPackPanels` packing (transposed: true; unused when B < 8). Uses: a Conv2DTranspose
/// forward (K its (kh, kw, out, in) kernel), a Conv2D input gradient (K its (kh, kw, in, out)
/// kernel, b = in, a = out).
///
/// Each output pixel gathers its 1, 2 or 4 taps, which depend on its parity only: an even row
/// y = 2i takes (kh = 0, X row i) and (kh = 2, X row i − 1); an odd row y = 2i + 1 takes
/// (kh = 1, X row i); columns likewise. So the pixels are processed in four parity classes.
func convTransposeStride2(input: UnsafePointer<Double>, inputRowStride: Int, height: Int, width: Int,
                          inputChannels a: Int, kernel: UnsafePointer<Double>, panels: UnsafePointer<Double>?,
                          outputChannels b: Int, bias: UnsafePointer<Double>?,
                          output: UnsafeMutablePointer<Double>, outputRowStride: Int, relu: Bool) {
    precondition(b < 8 || panels != nil, "convTransposeStride2 needs the kernel panels for B ≥ 8")
    let pixels = height * width
    withUnsafeTemporaryAllocation(of: Int.self, capacity: 8 + 2 * pixels) { table in
        let offsets = table.baseAddress!, tapIndices = offsets + 4
        let inputOffsets = offsets + 8, outputOffsets = inputOffsets + pixels
        for m in 0..<pixels {
            let i = m / width, j = m - i * width
            inputOffsets[m] = i * inputRowStride + j * a
        }
        for py in 0..<2 {
            for px in 0..<2 {
                // (kernel row, input-row shift) pairs of this parity: even → (0, 0), (2, −1); odd → (1, 0).
                var taps = 0
                for r in 0..<(2 - py) {
                    let kh = py == 0 ? 2 * r : 1, di = -r
                    for c in 0..<(2 - px) {
                        let kw = px == 0 ? 2 * c : 1, dj = -c
                        offsets[taps] = di * inputRowStride + dj * a
                        tapIndices[taps] = 3 * kh + kw
                        taps += 1
                    }
                }
                for m in 0..<pixels {
                    let i = m / width, j = m - i * width
                    outputOffsets[m] = (2 * i + py) * outputRowStride + (2 * j + px) * b
                }
                if let panels {
                    ConvTiles(input: input, inputOffsets: inputOffsets, output: output, outputOffsets: outputOffsets,
                              pixels: pixels, panels: panels, depth: a, columns: b, bias: bias, relu: relu)
                        .run(taps: taps, offsets: offsets, tapIndices: tapIndices)
                }
                // Columns past the last multiple of 8 (all of them for the C → 1 output layer):
                // dot products along a, contiguous in the (3, 3, B, A) layout.
                let vectorDepth = a & ~3
                for n in (b & ~7)..<b {
                    for m in 0..<pixels {
                        let x = input + inputOffsets[m]
                        var lanes = Lanes()
                        var tail = 0.0
                        for t in 0..<taps {
                            let xt = x + offsets[t], kt = kernel + (tapIndices[t] * b + n) * a
                            var k = 0
                            while k < vectorDepth {
                                lanes = lanes.addingProduct(loadLanes(xt + k), loadLanes(kt + k))
                                k += 4
                            }
                            while k < a {
                                tail = tail.addingProduct(xt[k], kt[k])
                                k += 1
                            }
                        }
                        let sum = (bias?[n] ?? 0) + (lanes.sum() + tail)
                        output[outputOffsets[m] + n] = relu ? max(sum, 0) : sum
                    }
                }
            }
        }
    }
}

// MARK: - Kernel gradient

/// Doubles of scratch `convStride2KernelGradient` needs for `pixels` small pixels of q channels.
func convKernelGradientScratchCount(pixels: Int, smallChannels q: Int) -> Int { pixels * ((q & ~7) + convTileRows) }

/// G[kh, kw, p, q] += Σ_{o} big[2oy + kh, 2ox + kw, p]·small[oy, ox, q] over the h × w pixels o of
/// `small`; `big` is a 2h × 2w map whose bottom row and right column beyond the interior read as
/// zero (a `ConvPaddedMap`), G row-major (3, 3, P, Q). This is ∂L/∂K of both layers:
/// * Conv2D, y[o] = Σ_k x[2o + k]·K[k]: big = x, small = ∂L/∂y (pre-activation) → (kh, kw, in, out);
/// * Conv2DTranspose, Y[2i + k] += X[i]·K[k]: big = ∂L/∂Y, small = X → (kh, kw, out, in).
/// Rows of the register tile are the 9·P pairs (k, p), columns q; each tile sums over the pixels
/// in row-major order, then adds to G. Both operands are first copied into the order the tile
/// reads them (small as blocks of 8 columns × all pixels, and per row tile the 6 rows of big
/// × all pixels), so the inner loop streams through two contiguous arrays: read in place, their
/// 1–2 KB pixel strides would fall into a handful of L1 sets and miss. `scratch` holds
/// `convKernelGradientScratchCount(pixels:smallChannels:)` doubles.
func convStride2KernelGradient(big: UnsafePointer<Double>, bigRowStride: Int, bigChannels p: Int,
                               small: UnsafePointer<Double>, smallRowStride: Int, height: Int, width: Int,
                               smallChannels q: Int, gradient: UnsafeMutablePointer<Double>,
                               scratch: UnsafeMutablePointer<Double>) {
    let rowCount = 9 * p, pixels = height * width, blocks = q / 8
    @inline(__always) func rowOffset(_ row: Int) -> Int {
        let t = row / p, channel = row - t * p
        let kh = t / 3, kw = t - 3 * kh
        return kh * bigRowStride + kw * p + channel
    }
    withUnsafeTemporaryAllocation(of: Int.self, capacity: 2 * pixels) { table in
        let bigOffsets = table.baseAddress!, smallOffsets = bigOffsets + pixels
        for m in 0..<pixels {
            let oy = m / width, ox = m - oy * width
            bigOffsets[m] = 2 * oy * bigRowStride + 2 * ox * p
            smallOffsets[m] = oy * smallRowStride + ox * q
        }
        let packedSmall = scratch, rowsOfBig = scratch + pixels * 8 * blocks
        for block in 0..<blocks {
            for m in 0..<pixels {
                let source = small + smallOffsets[m] + 8 * block, target = packedSmall + (block * pixels + m) * 8
                storeLanes(loadLanes(source), target)
                storeLanes(loadLanes(source + 4), target + 4)
            }
        }
        var r0 = 0
        while blocks > 0 && r0 < rowCount {
            let rows = min(convTileRows, rowCount - r0), last = rowCount - 1
            for r in 0..<convTileRows {
                let x = big + rowOffset(min(r0 + r, last))
                for m in 0..<pixels { rowsOfBig[m * convTileRows + r] = x[bigOffsets[m]] }
            }
            for block in 0..<blocks {
                var c00 = Lanes(), c01 = Lanes(), c10 = Lanes(), c11 = Lanes()
                var c20 = Lanes(), c21 = Lanes(), c30 = Lanes(), c31 = Lanes()
                var c40 = Lanes(), c41 = Lanes(), c50 = Lanes(), c51 = Lanes()
                var s = UnsafePointer(packedSmall + block * pixels * 8), x = UnsafePointer(rowsOfBig)
                for _ in 0..<pixels {
                    let b0 = loadLanes(s), b1 = loadLanes(s + 4)
                    var v = Lanes(repeating: x[0])
                    c00 = c00.addingProduct(v, b0); c01 = c01.addingProduct(v, b1)
                    v = Lanes(repeating: x[1])
                    c10 = c10.addingProduct(v, b0); c11 = c11.addingProduct(v, b1)
                    v = Lanes(repeating: x[2])
                    c20 = c20.addingProduct(v, b0); c21 = c21.addingProduct(v, b1)
                    v = Lanes(repeating: x[3])
                    c30 = c30.addingProduct(v, b0); c31 = c31.addingProduct(v, b1)
                    v = Lanes(repeating: x[4])
                    c40 = c40.addingProduct(v, b0); c41 = c41.addingProduct(v, b1)
                    v = Lanes(repeating: x[5])
                    c50 = c50.addingProduct(v, b0); c51 = c51.addingProduct(v, b1)
                    s += 8
                    x += convTileRows
                }
                let n0 = 8 * block
                @inline(__always) func add(_ r: Int, _ lo: Lanes, _ hi: Lanes) {
                    guard r < rows else { return }
                    let g = gradient + (r0 + r) * q + n0
                    storeLanes(loadLanes(g) + lo, g)
                    storeLanes(loadLanes(g + 4) + hi, g + 4)
                }
                add(0, c00, c01); add(1, c10, c11); add(2, c20, c21)
                add(3, c30, c31); add(4, c40, c41); add(5, c50, c51)
            }
            r0 += convTileRows
        }
        for n in (q & ~7)..<q {
            for row in 0..<rowCount {
                let x = big + rowOffset(row), s = small + n
                var sum = 0.0
                for m in 0..<pixels { sum = sum.addingProduct(x[bigOffsets[m]], s[smallOffsets[m]]) }
                gradient[row * q + n] += sum
            }
        }
    }
}

/// bias gradient += Σ over the h × w pixels (row-major) of the map's channels.
func convBiasGradient(_ map: UnsafePointer<Double>, rowStride: Int, height: Int, width: Int, channels: Int,
                      gradient: UnsafeMutablePointer<Double>) {
    for y in 0..<height {
        for x in 0..<width {
            let pixel = map + y * rowStride + x * channels
            for c in 0..<channels { gradient[c] += pixel[c] }
        }
    }
}

// MARK: - ReLU

/// Backward of y = max(x, 0) given y: g ← g where y > 0, else 0 (TensorFlow's ReluGrad: the
/// derivative at 0 is 0), in place over an h × w map.
func convReLUBackward(output: UnsafePointer<Double>, outputRowStride: Int,
                      gradient: UnsafeMutablePointer<Double>, gradientRowStride: Int,
                      height: Int, width: Int, channels: Int) {
    let rowLength = width * channels
    for y in 0..<height {
        let a = output + y * outputRowStride, g = gradient + y * gradientRowStride
        for e in 0..<rowLength where !(a[e] > 0) { g[e] = 0 }
    }
}

// MARK: - Dense layers

/// y[l] = act(bias[l] + Σ_f x[f]·W[f, l]) with W row-major (F, L), Keras' Dense kernel (in, out).
/// Sums run over f in order, as axpys of W's rows into a block of y that stays in L1; a row whose
/// x[f] is exactly 0 (most of a ReLU output) adds nothing and is skipped, which leaves every
/// sum unchanged.
func convDenseForward(input x: UnsafePointer<Double>, inputs: Int, weights w: UnsafePointer<Double>,
                      bias: UnsafePointer<Double>, outputs: Int, output y: UnsafeMutablePointer<Double>, relu: Bool) {
    let blockLength = 512
    var l0 = 0
    while l0 < outputs {
        let l1 = min(l0 + blockLength, outputs), length = l1 - l0
        let vectorLength = length & ~3
        let target = y + l0
        for l in 0..<length { target[l] = bias[l0 + l] }
        for f in 0..<inputs where x[f] != 0 {
            let xf = Lanes(repeating: x[f]), row = w + f * outputs + l0
            var l = 0
            while l < vectorLength {
                storeLanes(loadLanes(target + l).addingProduct(xf, loadLanes(row + l)), target + l)
                l += 4
            }
            while l < length {
                target[l] = target[l].addingProduct(x[f], row[l])
                l += 1
            }
        }
        if relu { for l in 0..<length { target[l] = max(target[l], 0) } }
        l0 = l1
    }
}

/// Backward of `convDenseForward` given g = ∂L/∂(pre-activation) (already masked by this layer's
/// own ReLU): ∂L/∂W[f, l] += x[f]·g[l], ∂L/∂bias += g, and ∂L/∂x[f] = Σ_l W[f, l]·g[l] written to
/// `inputGradient`. One pass over each row of W does both the axpy and the dot.
/// `inputIsReLUOutput`: x = max(u, 0) for the previous layer's pre-activation u, and the kernel
/// then writes ∂L/∂u instead (0 wherever x = 0, TensorFlow's ReluGrad), skipping those rows
/// entirely — their weight gradient x[f]·g is 0 too.
func convDenseBackward(input x: UnsafePointer<Double>, inputs: Int, weights w: UnsafePointer<Double>,
                       outputs: Int, outputGradient g: UnsafePointer<Double>,
                       inputGradient: UnsafeMutablePointer<Double>, inputIsReLUOutput: Bool,
                       weightGradient: UnsafeMutablePointer<Double>, biasGradient: UnsafeMutablePointer<Double>) {
    for l in 0..<outputs { biasGradient[l] += g[l] }
    let vectorLength = outputs & ~3
    for f in 0..<inputs {
        let xf = x[f]
        if inputIsReLUOutput && !(xf > 0) {
            inputGradient[f] = 0
            continue
        }
        let row = w + f * outputs, gradientRow = weightGradient + f * outputs
        let xv = Lanes(repeating: xf)
        var dot = Lanes(), tail = 0.0
        var l = 0
        while l < vectorLength {
            let gl = loadLanes(g + l)
            dot = dot.addingProduct(loadLanes(row + l), gl)
            storeLanes(loadLanes(gradientRow + l).addingProduct(xv, gl), gradientRow + l)
            l += 4
        }
        while l < outputs {
            tail = tail.addingProduct(row[l], g[l])
            gradientRow[l] = gradientRow[l].addingProduct(xf, g[l])
            l += 1
        }
        inputGradient[f] = dot.sum() + tail
    }
}

// MARK: - Softmax over all pixels and the MSE

/// s = exp(z − max z) / Σ exp(z − max z) over all n pixels (Keras Softmax over the two image axes;
/// subtracting the maximum keeps exp finite and does not change s).
func convSoftmax(_ z: UnsafePointer<Double>, count n: Int, output s: UnsafeMutablePointer<Double>) {
    var largest = -Double.infinity
    for i in 0..<n { largest = max(largest, z[i]) }
    var total = 0.0
    for i in 0..<n {
        s[i] = exp(z[i] - largest)
        total += s[i]
    }
    let scale = 1 / total
    for i in 0..<n { s[i] *= scale }
}

/// Backward of `convSoftmax`: ∂L/∂z_i = s_i·(∂L/∂s_i − Σ_j s_j·∂L/∂s_j). `inputGradient` may
/// alias `outputGradient`.
func convSoftmaxBackward(output s: UnsafePointer<Double>, outputGradient g: UnsafePointer<Double>, count n: Int,
                         inputGradient: UnsafeMutablePointer<Double>) {
    var weighted = 0.0
    for i in 0..<n { weighted = weighted.addingProduct(s[i], g[i]) }
    for i in 0..<n { inputGradient[i] = s[i] * (g[i] - weighted) }
}

/// Σ_i (r_i − t_i)²: the CNNAE anomaly score (§11.3, §12.2); divided by n it is the per-image MSE.
func convSquaredError(_ r: UnsafePointer<Double>, _ t: UnsafePointer<Double>, count n: Int) -> Double {
    var sum = 0.0
    for i in 0..<n {
        let d = r[i] - t[i]
        sum = sum.addingProduct(d, d)
    }
    return sum
}

/// Backward of the per-image MSE, L = (1/n)·Σ (r_i − t_i)²: ∂L/∂r_i = 2(r_i − t_i)/n.
func convMeanSquaredErrorBackward(_ r: UnsafePointer<Double>, _ t: UnsafePointer<Double>, count n: Int,
                                  gradient: UnsafeMutablePointer<Double>) {
    let scale = 2 / Double(n)
    for i in 0..<n { gradient[i] = scale * (r[i] - t[i]) }
}
