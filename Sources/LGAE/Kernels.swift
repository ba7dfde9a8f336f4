// The numerical kernels of the forward pass, on raw buffers. Each is allocation-free; the caches
// own every buffer. Their backward passes, one per kernel, are in Kernels+Backward.swift.

/// Complex channel mixing with no bias (§4.6, §5.1, §5.3, §6): for each of `nodes` rows,
/// y[o] = Σ_m W[o, m]·x[m], with x and y complex scalars stored as (re, im) pairs.
@inline(__always)
func mixScalars(_ w: ComplexMatrixView, _ parameters: UnsafePointer<Double>,
                input: UnsafePointer<Double>, output: UnsafeMutablePointer<Double>, nodes: Int) {
    let rows = w.rows, columns = w.columns
    let wr = parameters + w.re, wi = parameters + w.im
    for node in 0..<nodes {
        let x = input + 2 * columns * node
        let y = output + 2 * rows * node
        for o in 0..<rows {
            var accRe = 0.0, accIm = 0.0
            let rowRe = wr + o * columns, rowIm = wi + o * columns
            for m in 0..<columns {
                let a = rowRe[m], b = rowIm[m], xr = x[2 * m], xi = x[2 * m + 1]
                accRe += a * xr - b * xi
                accIm += a * xi + b * xr
            }
            y[2 * o] = accRe
            y[2 * o + 1] = accIm
        }
    }
}

/// Complex channel mixing of 4-vectors: for each of `nodes` rows, Y[o] = Σ_m W[o, m]·X[m], each
/// X[m] a complex 4-vector stored as 8 doubles (Re part then Im part).
@inline(__always)
func mixVectors(_ w: ComplexMatrixView, _ parameters: UnsafePointer<Double>,
                input: UnsafePointer<Double>, output: UnsafeMutablePointer<Double>, nodes: Int) {
    let rows = w.rows, columns = w.columns
    let wr = parameters + w.re, wi = parameters + w.im
    for node in 0..<nodes {
        let x = input + 8 * columns * node
        let y = output + 8 * rows * node
        for o in 0..<rows {
            var accRe = SIMD4<Double>.zero, accIm = SIMD4<Double>.zero
            let rowRe = wr + o * columns, rowIm = wi + o * columns
            for m in 0..<columns {
                let a = rowRe[m], b = rowIm[m]
                let xr = load4(x + 8 * m), xi = load4(x + 8 * m + 4)
                accRe += a * xr - b * xi
                accIm += a * xi + b * xr
            }
            store4(accRe, y + 8 * o)
            store4(accIm, y + 8 * o + 4)
        }
    }
}

/// The signed Minkowski norms of all ordered pairs (§4.1) of `count` real positions (N×4):
/// norms[i·N + j] = s(η(x_i − x_j, x_i − x_j)), symmetric, 1e-8 on the diagonal.
func realEdgeNorms(positions: UnsafePointer<Double>, count n: Int, norms: UnsafeMutablePointer<Double>) {
    for i in 0..<n {
        let xi = load4(positions + 4 * i)
        for j in i..<n {
            let d = xi - load4(positions + 4 * j)
            let value = signedMinkowskiNorm(intervalSquared: minkowski(d, d))
            norms[i * n + j] = value
            norms[j * n + i] = value
        }
    }
}

/// Everything one encoder level needs from the raw buffers of the cache and the parameters.
struct EncoderEdgeArguments {
    var nodes: Int
    var channels: Int
    var bellCount: Int
    var clean: Bool
    /// Edge positions x_i = p_i, N×4 real.
    var positions: UnsafePointer<Double>
    var mask: UnsafePointer<Bool>
    /// The signed norms of `realEdgeNorms` (N×N). The kernels recompute each row's norms from the
    /// positions with the same arithmetic (so bit for bit the same values) and do not read this.
    var norms: UnsafePointer<Double>
    var bellA: UnsafePointer<Double>
    var bellB: UnsafePointer<Double>
    var bellC: UnsafePointer<Double>
    /// Row stride of the packed radial weights: 4C rounded up to 16.
    var radialStride: Int
    /// [L_0; L_1] stacked and transposed, zero-padded: element (k, o) at k·radialStride + o,
    /// o < 2C for L_0 and 2C ≤ o < 4C for L_1.
    var radialWeightsTransposed: UnsafePointer<Double>
    /// [bias of L_0; bias of L_1], zero-padded to radialStride.
    var radialBias: UnsafePointer<Double>
    var scalars: UnsafePointer<Double>
    var vectors: UnsafePointer<Double>
    /// Legacy fields of the pair-at-a-time kernels (N×8, N×N×K, N×N×radialStride); the
    /// lane-parallel kernels neither read nor write them and keep φ and R per row in `scratch`.
    var rowScratch: UnsafeMutablePointer<Double>
    var phi: UnsafeMutablePointer<Double>
    var radial: UnsafeMutablePointer<Double>
    /// Output: the level's scalar concatenation, N×5C; this kernel fills the message slots.
    var concatScalars: UnsafeMutablePointer<Double>
    var concatVectors: UnsafeMutablePointer<Double>
    /// Scratch of `EdgeScratchLayout(nodes:channels:bellCount:).count` doubles, shared by the
    /// forward and backward kernels (the backward recomputes the forward's per-row quantities).
    /// nil: the kernel allocates its own for the call (tests; the caches always pass one).
    var scratch: UnsafeMutablePointer<Double>? = nil
    /// Optional storage for φ, R and the norms of every row, `EdgeScratchLayout.tensorCount` doubles
    /// (row i at i·rowTensorCount: φ (K × P), R (4C × P), norms (P)). If given, the forward fills it
    /// and the backward reads it and works on unordered pairs; if nil, both compute them row by row.
    var edgeTensors: UnsafeMutablePointer<Double>? = nil
}

/// Where the edge kernels keep their per-call data, in doubles from the scratch base. The kernels
/// are lane-parallel over the sending node j: every per-node or per-pair quantity is stored
/// "structure of arrays", one row of P = N rounded up to 8 lanes per component, zero in the lanes
/// j ≥ N (so those lanes contribute exactly nothing: their S and V are 0).
struct EdgeScratchLayout {
    /// P, the lane count of a row.
    let lanes: Int
    /// Positions by component, 4 × P (clean mode: padded nodes zeroed, they take part in nothing).
    let positions: Int
    /// 1 for a real node, 0 for a padded node or a lane j ≥ N, P.
    let mask: Int
    /// Node scalars: (re, im) of channel c at rows 2c, 2c + 1; 2C × P.
    let scalars: Int
    /// Node vectors: component μ of Re V[c] at row 8c + μ, of Im V[c] at 8c + 4 + μ; 8C × P.
    let vectors: Int
    /// Row i's d_ij = x_i − x_j by component (4 × P) and signed norms (P).
    let differences: Int
    let norms: Int
    /// Row i's bells φ_k(i, ·) (K × P) and radial coefficients (4C × P, rows as the packed
    /// radial layout: R_0 re/im of channel c at 2c, 2c + 1, R_1 at 2C + 2c, 2C + 2c + 1).
    let phi: Int
    let radial: Int
    /// Backward only: row i's ∂L/∂R (4C × P), ∂L/∂φ (K × P), ∂L/∂d (4 × P); the accumulated
    /// ∂L/∂S (2C × P), ∂L/∂V (8C × P), ∂L/∂x (4 × P); lane-partial parameter gradients
    /// ∂L/∂W (K × 4C × 4), ∂L/∂bias (4C × 4), ∂L/∂(a, b, c) (3K × 4).
    let radialGradients: Int
    let phiGradients: Int
    let differenceGradients: Int
    let scalarGradients: Int
    let vectorGradients: Int
    let positionGradients: Int
    let weightGradients: Int
    let biasGradients: Int
    let bellGradients: Int
    /// Backward with stored tensors: ∂L/∂R of every ordered pair, N × 4C × P (row i at i·4C·P).
    let storedRadialGradients: Int
    let count: Int
    /// φ, R and the norms of one row, (K + 4C + 1) × P, and of all N rows (the size of `edgeTensors`).
    let rowTensorCount: Int
    let tensorCount: Int

    init(nodes: Int, channels c: Int, bellCount k: Int) {
        let p = (nodes + 7) / 8 * 8
        lanes = p
        var offset = 0
        func take(_ size: Int) -> Int {
            defer { offset += size }
            return offset
        }
        positions = take(4 * p)
        mask = take(p)
        scalars = take(2 * c * p)
        vectors = take(8 * c * p)
        differences = take(4 * p)
        norms = take(p)
        phi = take(k * p)
        radial = take(4 * c * p)
        radialGradients = take(4 * c * p)
        phiGradients = take(k * p)
        differenceGradients = take(4 * p)
        scalarGradients = take(2 * c * p)
        vectorGradients = take(8 * c * p)
        positionGradients = take(4 * p)
        weightGradients = take(16 * c * k)
        biasGradients = take(16 * c)
        bellGradients = take(12 * k)
        storedRadialGradients = take(nodes * 4 * c * p)
        count = offset
        rowTensorCount = (k + 4 * c + 1) * p
        tensorCount = nodes * rowTensorCount
    }
}

/// Runs `body` on `provided`, or on a temporary allocation of `count` doubles if it is nil.
@inline(__always)
func withEdgeScratch<R>(_ provided: UnsafeMutablePointer<Double>?, count: Int,
                        _ body: (UnsafeMutablePointer<Double>) -> R) -> R {
    if let provided { return body(provided) }
    let temporary = UnsafeMutablePointer<Double>.allocate(capacity: count)
    temporary.initialize(repeating: 0, count: count)
    defer { temporary.deallocate() }
    return body(temporary)
}

typealias Lanes = SIMD4<Double>

/// The per-row machinery shared by the forward and backward edge kernels.
struct EdgeRowContext {
    let a: EncoderEdgeArguments
    let layout: EdgeScratchLayout
    let base: UnsafeMutablePointer<Double>
    var lanes: Int { layout.lanes }

    init(_ a: EncoderEdgeArguments, scratch: UnsafeMutablePointer<Double>) {
        self.a = a
        layout = EdgeScratchLayout(nodes: a.nodes, channels: a.channels, bellCount: a.bellCount)
        base = scratch
    }

    /// Fills the structure-of-arrays copies of the positions, mask, scalars and vectors.
    func prepareInputs() {
        let n = a.nodes, p = lanes, cin = a.channels
        let x = base + layout.positions, m = base + layout.mask
        let s = base + layout.scalars, v = base + layout.vectors
        for j in 0..<p {
            let real = j < n && a.mask[j]
            // Clean mode: a padded node takes part in no live edge, so its position is irrelevant;
            // zeroing it keeps garbage (even non-finite) out of the dead lanes' arithmetic.
            let keep = j < n && (real || !a.clean)
            for mu in 0..<4 { x[mu &* p &+ j] = keep ? a.positions[4 &* j &+ mu] : 0 }
            m[j] = real ? 1 : 0
            for c in 0..<cin {
                for part in 0..<2 { s[(2 &* c &+ part) &* p &+ j] = j < n ? a.scalars[2 &* (j &* cin &+ c) &+ part] : 0 }
                for e in 0..<8 { v[(8 &* c &+ e) &* p &+ j] = j < n ? a.vectors[8 &* (j &* cin &+ c) &+ e] : 0 }
            }
        }
    }

    /// The live lanes of row i's block starting at lane j (§4.2: both ends real).
    @inline(__always)
    func live(row i: Int, lane j: Int) -> SIMDMask<SIMD4<Int64>> {
        let m = load4(base + layout.mask + j) .> 0
        return a.mask[i] ? m : SIMDMask(repeating: false)
    }

    /// Row i's d_ij and (unless `norms` is false) signed norms for all lanes j, into the scratch.
    /// Per element exactly the operations of `realEdgeNorms`, so bit for bit its values (and
    /// norm_ij = norm_ji).
    func computeDifferences(_ i: Int, norms wanted: Bool = true) {
        let p = lanes
        let x = base + layout.positions
        let d = base + layout.differences, norms = rowNorms(i)
        let xi0 = x[i], xi1 = x[p &+ i], xi2 = x[2 &* p &+ i], xi3 = x[3 &* p &+ i]
        var j = 0
        while j < p {
            let d0 = xi0 - load4(x + j), d1 = xi1 - load4(x + p + j)
            let d2 = xi2 - load4(x + 2 &* p + j), d3 = xi3 - load4(x + 3 &* p + j)
            store4(d0, d + j)
            store4(d1, d + p + j)
            store4(d2, d + 2 &* p + j)
            store4(d3, d + 3 &* p + j)
            if wanted {
                let q = d0 * d0 - d1 * d1 - d2 * d2 - d3 * d3 + 1e-16
                store4(q / q.replacing(with: -q, where: q .< 0).squareRoot(), norms + j)
            }
            j &+= 4
        }
    }

    /// Where row i's norms (P) are: the stored tensors, or the scratch.
    @inline(__always)
    func rowNorms(_ i: Int) -> UnsafeMutablePointer<Double> {
        if let store = a.edgeTensors { return store + (i &* layout.rowTensorCount &+ (a.bellCount &+ 4 &* a.channels) &* lanes) }
        return base + layout.norms
    }

    /// Where row i's φ (K × P) and R (4C × P) are: the stored tensors, or the scratch.
    @inline(__always)
    func rowTensors(_ i: Int) -> (phi: UnsafeMutablePointer<Double>, radial: UnsafeMutablePointer<Double>) {
        let p = lanes
        if let store = a.edgeTensors {
            let row = store + i &* layout.rowTensorCount
            return (row, row + a.bellCount &* p)
        }
        return (base + layout.phi, base + layout.radial)
    }

    /// Row i's bells φ_k(i, j) and radial coefficients R(i, j) for all lanes j, from the norms of
    /// `computeDifferences(i)`. Per element exactly the pair-at-a-time kernel's operations
    /// (`lorentzianBell`, then bias + Σ_k W·φ_k in order of k, fused multiply-adds), so φ_ij = φ_ji
    /// and R_ij = R_ji, and `EncoderLevelCache.radialCoefficient` reproduces R exactly.
    func computeBellsAndRadial(_ i: Int, phi: UnsafeMutablePointer<Double>, radial: UnsafeMutablePointer<Double>) {
        let p = lanes, bellCount = a.bellCount, width = 4 &* a.channels, stride = a.radialStride
        let norms = rowNorms(i)
        var j = 0
        while j < p {
            let norm = load4(norms + j)
            let live = self.live(row: i, lane: j)
            for k in 0..<bellCount {
                let t = a.bellC[k] * norm
                let value = a.bellB[k] / (1 + t * t + 1e-16) + a.bellA[k]
                store4(value.replacing(with: 0, where: .!live), phi + k &* p + j)
            }
            j &+= 4
        }
        // R = bias + Σ_k W[k]·φ_k: 4 outputs × 8 lanes per block.
        let w = a.radialWeightsTransposed
        var o = 0
        while o < width {
            let bias0 = Lanes(repeating: a.radialBias[o]), bias1 = Lanes(repeating: a.radialBias[o &+ 1])
            let bias2 = Lanes(repeating: a.radialBias[o &+ 2]), bias3 = Lanes(repeating: a.radialBias[o &+ 3])
            j = 0
            while j < p {
                var r = Block4x8(bias0, bias1, bias2, bias3)
                r.accumulate(weights: w + o, weightStep: stride, lanes: UnsafePointer(phi) + j, laneStep: p, count: bellCount)
                if a.clean {
                    // Clean mode: a dead edge carries nothing, not even the bias.
                    r.zero(where: .!live(row: i, lane: j), .!live(row: i, lane: j &+ 4))
                }
                r.store(to: radial + o &* p + j, rowStride: p)
                j &+= 8
            }
            o &+= 4
        }
    }
}

/// The fused encoder edge computation of one LMP level (§4.1–4.4) for all N×N ordered pairs,
/// self-edges included: Lorentzian bells φ, radial coefficients R_0, R_1, zonal edge features
/// E0 = R_0·(1+i), E1 = R_1·(x_i − x_j), and the four channel-wise aggregated messages
///   A_s2 = Σ_j ½η(V_j, E1_ij), A_s1 = Σ_j S_j·E0_ij, A_v2 = Σ_j V_j·E0_ij, A_v1 = Σ_j S_j·E1_ij,
/// written to concatenation slots 0 and 1 (§4.6). Row by row (receiver i), lane-parallel over the
/// senders j: each sum over j is accumulated in 4 lane-partial sums (j ≡ 0, 1, 2, 3 mod 4, each in
/// increasing j) that are added at the end, a fixed order.
func encoderEdgeMessages(_ a: EncoderEdgeArguments) {
    let layout = EdgeScratchLayout(nodes: a.nodes, channels: a.channels, bellCount: a.bellCount)
    withEdgeScratch(a.scratch, count: layout.count) { scratch in
        let context = EdgeRowContext(a, scratch: scratch)
        context.prepareInputs()
        let n = a.nodes, cin = a.channels, p = layout.lanes
        let d = scratch + layout.differences
        let sAll = scratch + layout.scalars, vAll = scratch + layout.vectors
        for i in 0..<n {
            let catS = a.concatScalars + i &* 10 &* cin
            let catV = a.concatVectors + i &* 40 &* cin
            if a.clean && !a.mask[i] {
                for x in 0..<(4 &* cin) { catS[x] = 0 }
                for x in 0..<(16 &* cin) { catV[x] = 0 }
                continue
            }
            context.computeDifferences(i)
            let (phi, radial) = context.rowTensors(i)
            context.computeBellsAndRadial(i, phi: phi, radial: radial)
            for c in 0..<cin {
                let r0Re = radial + 2 &* c &* p, r0Im = r0Re + p
                let r1Re = radial + 2 &* (cin &+ c) &* p, r1Im = r1Re + p
                let sRe = sAll + 2 &* c &* p, sIm = sRe + p
                let v = vAll + 8 &* c &* p
                // Three passes over j keep each pass's accumulators in registers. Products are
                // accumulated with fused multiply-adds; A_s2's factor ½ is applied to the sum.
                var s2Re = Lanes.zero, s2Im = Lanes.zero, s1Re = Lanes.zero, s1Im = Lanes.zero
                var j = 0
                while j < p {
                    let d0 = load4(d + j), d1 = load4(d + p + j), d2 = load4(d + 2 &* p + j), d3 = load4(d + 3 &* p + j)
                    // ½η(V, R_1·d) = ½R_1·η(V, d): d is real, so η(V, d) = η(Re V, d) + iη(Im V, d).
                    let a0 = load4(v + j), a1 = load4(v + p + j), a2 = load4(v + 2 &* p + j), a3 = load4(v + 3 &* p + j)
                    let c0 = load4(v + 4 &* p + j), c1 = load4(v + 5 &* p + j)
                    let c2 = load4(v + 6 &* p + j), c3 = load4(v + 7 &* p + j)
                    let etaRe: Lanes = (a0 * d0).addingProduct(-a1, d1).addingProduct(-a2, d2).addingProduct(-a3, d3)
                    let etaIm: Lanes = (c0 * d0).addingProduct(-c1, d1).addingProduct(-c2, d2).addingProduct(-c3, d3)
                    let b1Re = load4(r1Re + j), b1Im = load4(r1Im + j)
                    s2Re = s2Re.addingProduct(b1Re, etaRe).addingProduct(-b1Im, etaIm)
                    s2Im = s2Im.addingProduct(b1Re, etaIm).addingProduct(b1Im, etaRe)
                    // E0 = R_0·(1+i), the reference's degree-0 zonal function (§4.3 QUIRK).
                    let b0Re = load4(r0Re + j), b0Im = load4(r0Im + j)
                    let e0Re = b0Re - b0Im, e0Im = b0Re + b0Im
                    let xRe = load4(sRe + j), xIm = load4(sIm + j)
                    s1Re = s1Re.addingProduct(xRe, e0Re).addingProduct(-xIm, e0Im)
                    s1Im = s1Im.addingProduct(xRe, e0Im).addingProduct(xIm, e0Re)
                    j &+= 4
                }
                var v1Re0 = Lanes.zero, v1Re1 = Lanes.zero, v1Re2 = Lanes.zero, v1Re3 = Lanes.zero
                var v1Im0 = Lanes.zero, v1Im1 = Lanes.zero, v1Im2 = Lanes.zero, v1Im3 = Lanes.zero
                j = 0
                while j < p {
                    let b1Re = load4(r1Re + j), b1Im = load4(r1Im + j)
                    let xRe = load4(sRe + j), xIm = load4(sIm + j)
                    let tRe: Lanes = (xRe * b1Re).addingProduct(-xIm, b1Im), tIm: Lanes = (xRe * b1Im).addingProduct(xIm, b1Re)
                    let d0 = load4(d + j), d1 = load4(d + p + j), d2 = load4(d + 2 &* p + j), d3 = load4(d + 3 &* p + j)
                    v1Re0 = v1Re0.addingProduct(tRe, d0); v1Re1 = v1Re1.addingProduct(tRe, d1)
                    v1Re2 = v1Re2.addingProduct(tRe, d2); v1Re3 = v1Re3.addingProduct(tRe, d3)
                    v1Im0 = v1Im0.addingProduct(tIm, d0); v1Im1 = v1Im1.addingProduct(tIm, d1)
                    v1Im2 = v1Im2.addingProduct(tIm, d2); v1Im3 = v1Im3.addingProduct(tIm, d3)
                    j &+= 4
                }
                var v2Re0 = Lanes.zero, v2Re1 = Lanes.zero, v2Re2 = Lanes.zero, v2Re3 = Lanes.zero
                var v2Im0 = Lanes.zero, v2Im1 = Lanes.zero, v2Im2 = Lanes.zero, v2Im3 = Lanes.zero
                j = 0
                while j < p {
                    let b0Re = load4(r0Re + j), b0Im = load4(r0Im + j)
                    let e0Re = b0Re - b0Im, e0Im = b0Re + b0Im
                    let a0 = load4(v + j), a1 = load4(v + p + j), a2 = load4(v + 2 &* p + j), a3 = load4(v + 3 &* p + j)
                    let b0 = load4(v + 4 &* p + j), b1 = load4(v + 5 &* p + j)
                    let b2 = load4(v + 6 &* p + j), b3 = load4(v + 7 &* p + j)
                    v2Re0 = v2Re0.addingProduct(e0Re, a0).addingProduct(-e0Im, b0)
                    v2Im0 = v2Im0.addingProduct(e0Re, b0).addingProduct(e0Im, a0)
                    v2Re1 = v2Re1.addingProduct(e0Re, a1).addingProduct(-e0Im, b1)
                    v2Im1 = v2Im1.addingProduct(e0Re, b1).addingProduct(e0Im, a1)
                    v2Re2 = v2Re2.addingProduct(e0Re, a2).addingProduct(-e0Im, b2)
                    v2Im2 = v2Im2.addingProduct(e0Re, b2).addingProduct(e0Im, a2)
                    v2Re3 = v2Re3.addingProduct(e0Re, a3).addingProduct(-e0Im, b3)
                    v2Im3 = v2Im3.addingProduct(e0Re, b3).addingProduct(e0Im, a3)
                    j &+= 4
                }
                s2Re *= 0.5
                s2Im *= 0.5
                catS[2 &* c] = s2Re.sum()
                catS[2 &* c &+ 1] = s2Im.sum()
                catS[2 &* (cin &+ c)] = s1Re.sum()
                catS[2 &* (cin &+ c) &+ 1] = s1Im.sum()
                store4(Lanes(v2Re0.sum(), v2Re1.sum(), v2Re2.sum(), v2Re3.sum()), catV + 8 &* c)
                store4(Lanes(v2Im0.sum(), v2Im1.sum(), v2Im2.sum(), v2Im3.sum()), catV + 8 &* c + 4)
                store4(Lanes(v1Re0.sum(), v1Re1.sum(), v1Re2.sum(), v1Re3.sum()), catV + 8 &* (cin &+ c))
                store4(Lanes(v1Im0.sum(), v1Im1.sum(), v1Im2.sum(), v1Im3.sum()), catV + 8 &* (cin &+ c) + 4)
            }
        }
    }
}

/// The node part of the concatenation (§4.5, §4.6): slots 2–4 of
/// scalars [A_s2, A_s1, S, ½η(V,V), S²] and vectors [A_v2, A_v1, V, S·V, S·V].
func selfInteraction(nodes: Int, channels cin: Int, scalars: UnsafePointer<Double>, vectors: UnsafePointer<Double>,
                     concatScalars: UnsafeMutablePointer<Double>, concatVectors: UnsafeMutablePointer<Double>) {
    for i in 0..<nodes {
        let catS = concatScalars + i * 10 * cin
        let catV = concatVectors + i * 40 * cin
        for c in 0..<cin {
            let s = scalars + 2 * (i * cin + c)
            let sRe = s[0], sIm = s[1]
            let v = vectors + 8 * (i * cin + c)
            let vRe = load4(v), vIm = load4(v + 4)
            catS[2 * (2 * cin + c)] = sRe
            catS[2 * (2 * cin + c) + 1] = sIm
            // ½η(V, V) = ½(η(A,A) − η(B,B)) + i·η(A,B).
            catS[2 * (3 * cin + c)] = 0.5 * (minkowski(vRe, vRe) - minkowski(vIm, vIm))
            catS[2 * (3 * cin + c) + 1] = minkowski(vRe, vIm)
            catS[2 * (4 * cin + c)] = sRe * sRe - sIm * sIm
            catS[2 * (4 * cin + c) + 1] = 2 * sRe * sIm
            let qRe = sRe * vRe - sIm * vIm, qIm = sRe * vIm + sIm * vRe
            storeVector(LorentzVector(re: vRe, im: vIm), catV + 8 * (2 * cin + c))
            // The reference emits S·V twice, once as v⊗s and once as s⊗v (§4.5).
            store4(qRe, catV + 8 * (3 * cin + c))
            store4(qIm, catV + 8 * (3 * cin + c) + 4)
            store4(qRe, catV + 8 * (4 * cin + c))
            store4(qIm, catV + 8 * (4 * cin + c) + 4)
        }
    }
}

/// A real Linear layer on feature-major activations: z[o·P + p] = b[o] + Σ_i W[o, i]·x[i·P + p]
/// for the P node columns (P a multiple of 8), and, when `activated` is given, also
/// LeakyReLU(z) there (x if x > 0, else slope·x, as PyTorch). Register-blocked over 4 outputs × 8
/// columns (8 SIMD4 accumulators, one AVX2 register each); every sum starts from the bias and runs
/// over i in order with separate multiply and add, so no sum is reassociated.
func linearForward(_ layer: LinearView, _ parameters: UnsafePointer<Double>,
                   input x: UnsafePointer<Double>, output z: UnsafeMutablePointer<Double>, columns p: Int,
                   activated: UnsafeMutablePointer<Double>? = nil, slope: Double = 0) {
    let w = parameters + layer.weight, b = parameters + layer.bias
    let inputs = layer.inputs, outputs = layer.outputs
    @inline(__always) func emit(_ acc: SIMD4<Double>, _ offset: Int) {
        store4(acc, z + offset)
        if let activated {
            store4(acc.replacing(with: slope * acc, where: acc .<= 0), activated + offset)
        }
    }
    var o = 0
    while o &+ 4 <= outputs {
        let w0 = w + o &* inputs, w1 = w0 + inputs, w2 = w1 + inputs, w3 = w2 + inputs
        let b0 = SIMD4<Double>(repeating: b[o]), b1 = SIMD4<Double>(repeating: b[o &+ 1])
        let b2 = SIMD4<Double>(repeating: b[o &+ 2]), b3 = SIMD4<Double>(repeating: b[o &+ 3])
        var block = 0
        while block < p {
            var a0 = b0, a1 = b0, c0 = b1, c1 = b1, d0 = b2, d1 = b2, e0 = b3, e1 = b3
            var xp = x + block
            for i in 0..<inputs {
                let xa = load4(xp), xb = load4(xp + 4)
                let u0 = w0[i], u1 = w1[i], u2 = w2[i], u3 = w3[i]
                a0 = a0.addingProduct(u0, xa); a1 = a1.addingProduct(u0, xb)
                c0 = c0.addingProduct(u1, xa); c1 = c1.addingProduct(u1, xb)
                d0 = d0.addingProduct(u2, xa); d1 = d1.addingProduct(u2, xb)
                e0 = e0.addingProduct(u3, xa); e1 = e1.addingProduct(u3, xb)
                xp += p
            }
            let base = o &* p &+ block
            emit(a0, base); emit(a1, base &+ 4)
            emit(c0, base &+ p); emit(c1, base &+ p &+ 4)
            emit(d0, base &+ 2 &* p); emit(d1, base &+ 2 &* p &+ 4)
            emit(e0, base &+ 3 &* p); emit(e1, base &+ 3 &* p &+ 4)
            block &+= 8
        }
        o &+= 4
    }
    while o < outputs {
        let w0 = w + o &* inputs
        let b0 = SIMD4<Double>(repeating: b[o])
        var block = 0
        while block < p {
            var a0 = b0, a1 = b0
            var xp = x + block
            for i in 0..<inputs {
                let u0 = w0[i]
                a0 += u0 * load4(xp); a1 += u0 * load4(xp + 4)
                xp += p
            }
            emit(a0, o &* p &+ block)
            emit(a1, o &* p &+ block &+ 4)
            block &+= 8
        }
        o &+= 1
    }
}

/// A 4 × 8 block of a small dense product, C[r, l] = C0[r] + Σ_t w[t·weightStep + r]·x[t·laneStep + l]
/// for rows r < 4 and lanes l < 8, held in 8 SIMD4 registers (two per row) while t streams past.
/// The radial layer (R = bias + W·φ) and the MLP's input gradient (∂L/∂x = Wᵀ·∂L/∂z) use it.
struct Block4x8 {
    var r00: Lanes, r01: Lanes, r10: Lanes, r11: Lanes, r20: Lanes, r21: Lanes, r30: Lanes, r31: Lanes

    /// Every lane of row r starts at `start_r`.
    @inline(__always)
    init(_ start0: Lanes = .zero, _ start1: Lanes = .zero, _ start2: Lanes = .zero, _ start3: Lanes = .zero) {
        r00 = start0; r01 = start0; r10 = start1; r11 = start1
        r20 = start2; r21 = start2; r30 = start3; r31 = start3
    }

    /// Adds Σ_{t < count} w[t·weightStep + r]·x[t·laneStep + l]: the 4 weights of a step are
    /// contiguous, the 8 lanes too.
    @inline(__always)
    mutating func accumulate(weights: UnsafePointer<Double>, weightStep: Int, lanes: UnsafePointer<Double>, laneStep: Int, count: Int) {
        var wp = weights, xp = lanes
        for _ in 0..<count {
            let x0 = load4(xp), x1 = load4(xp + 4)
            let w0 = wp[0], w1 = wp[1], w2 = wp[2], w3 = wp[3]
            r00 = r00.addingProduct(w0, x0); r01 = r01.addingProduct(w0, x1)
            r10 = r10.addingProduct(w1, x0); r11 = r11.addingProduct(w1, x1)
            r20 = r20.addingProduct(w2, x0); r21 = r21.addingProduct(w2, x1)
            r30 = r30.addingProduct(w3, x0); r31 = r31.addingProduct(w3, x1)
            wp += weightStep
            xp += laneStep
        }
    }

    /// Zeroes lanes 0..<4 where `first` is set and lanes 4..<8 where `second` is, in every row.
    @inline(__always)
    mutating func zero(where first: SIMDMask<SIMD4<Int64>>, _ second: SIMDMask<SIMD4<Int64>>) {
        r00.replace(with: 0, where: first); r01.replace(with: 0, where: second)
        r10.replace(with: 0, where: first); r11.replace(with: 0, where: second)
        r20.replace(with: 0, where: first); r21.replace(with: 0, where: second)
        r30.replace(with: 0, where: first); r31.replace(with: 0, where: second)
    }

    /// Writes row r's 8 lanes to t + r·rowStride.
    @inline(__always)
    func store(to t: UnsafeMutablePointer<Double>, rowStride: Int) {
        store4(r00, t); store4(r01, t + 4)
        store4(r10, t + rowStride); store4(r11, t + rowStride + 4)
        store4(r20, t + 2 &* rowStride); store4(r21, t + 2 &* rowStride + 4)
        store4(r30, t + 3 &* rowStride); store4(r31, t + 3 &* rowStride + 4)
    }
}
