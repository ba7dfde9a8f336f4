// Reverse-mode counterparts of the kernels in Kernels.swift (and of runScalarMLP in
// Encoder.swift), in the same order, each named after its forward with "Backward".
// Conventions shared by all of them:
// * a complex number z = x + iy is treated as the pair of reals (x, y); its gradient
//   g = ∂L/∂x + i·∂L/∂y is stored like the value. Every complex map here is holomorphic in its complex
//   inputs, so for w = u·v the chain rule reads g_u = conj(v)·g_w, g_v = conj(u)·g_w, and a
//   real parameter β in w = β·t gets Re(conj(t)·g_w).
// * parameter gradients are ACCUMULATED (+=): one parameter buffer serves every jet of a batch.
// * node-feature gradients are accumulated (+=) where a node feature reaches the loss by several
//   paths (edge messages, self-interaction, the skip slot), and written where stated.
// * no allocation in the loops; scratch comes from the caller.

/// Backward of `mixScalars`: y[o] = Σ_m W[o,m]·x[m] per node. Adds ∂L/∂W to `gradients` at the
/// view's offsets and, if `inputGradient` is given, ADDS ∂L/∂x there. Lane-parallel over 4
/// consecutive inputs m (scalar code for the remainder); ∂L/∂W sums over the nodes in order,
/// ∂L/∂x over the outputs o in order.
func mixScalarsBackward(_ w: ComplexMatrixView, _ parameters: UnsafePointer<Double>,
                        input: UnsafePointer<Double>, outputGradient: UnsafePointer<Double>,
                        inputGradient: UnsafeMutablePointer<Double>?, gradients: UnsafeMutablePointer<Double>,
                        nodes: Int) {
    let rows = w.rows, columns = w.columns
    let wr = parameters + w.re, wi = parameters + w.im
    let gwr = gradients + w.re, gwi = gradients + w.im
    let vectorColumns = columns & ~3
    // forward: Re y += a·xr − b·xi, Im y += a·xi + b·xr, W = a + ib.
    for o in 0..<rows {
        var m = 0
        while m < vectorColumns {
            var accRe = Lanes.zero, accIm = Lanes.zero
            for node in 0..<nodes {
                let gy = outputGradient + 2 &* (rows &* node &+ o)
                let gRe = gy[0], gIm = gy[1]
                let x = load8(input + 2 &* (columns &* node &+ m))
                let xr = x.evenHalf, xi = x.oddHalf
                accRe = accRe.addingProduct(gRe, xr).addingProduct(gIm, xi)
                accIm = accIm.addingProduct(gIm, xr).addingProduct(-gRe, xi)
            }
            let t = gwr + (o &* columns &+ m), u = gwi + (o &* columns &+ m)
            store4(load4(t) + accRe, t)
            store4(load4(u) + accIm, u)
            m &+= 4
        }
        while m < columns {
            var accRe = 0.0, accIm = 0.0
            for node in 0..<nodes {
                let gy = outputGradient + 2 &* (rows &* node &+ o), x = input + 2 &* (columns &* node &+ m)
                let gRe = gy[0], gIm = gy[1], xr = x[0], xi = x[1]
                accRe += gRe * xr + gIm * xi
                accIm += -gRe * xi + gIm * xr
            }
            gwr[o &* columns &+ m] += accRe
            gwi[o &* columns &+ m] += accIm
            m &+= 1
        }
    }
    guard let gx = inputGradient else { return }
    for node in 0..<nodes {
        let gy = outputGradient + 2 &* rows &* node
        let target = gx + 2 &* columns &* node
        var m = 0
        while m < vectorColumns {
            var re = Lanes.zero, im = Lanes.zero
            for o in 0..<rows {
                let gRe = gy[2 &* o], gIm = gy[2 &* o &+ 1]
                let a = load4(wr + (o &* columns &+ m)), b = load4(wi + (o &* columns &+ m))
                re = re.addingProduct(gRe, a).addingProduct(gIm, b)
                im = im.addingProduct(gIm, a).addingProduct(-gRe, b)
            }
            var both = SIMD8<Double>()
            both.evenHalf = re
            both.oddHalf = im
            store8(load8(target + 2 &* m) + both, target + 2 &* m)
            m &+= 4
        }
        while m < columns {
            var re = 0.0, im = 0.0
            for o in 0..<rows {
                let gRe = gy[2 &* o], gIm = gy[2 &* o &+ 1]
                let a = wr[o &* columns &+ m], b = wi[o &* columns &+ m]
                re += gRe * a + gIm * b
                im += -gRe * b + gIm * a
            }
            target[2 &* m] += re
            target[2 &* m &+ 1] += im
            m &+= 1
        }
    }
}

/// Backward of `mixVectors`: Y[o] = Σ_m W[o,m]·X[m] per node, X complex 4-vectors (8 doubles).
/// Adds ∂L/∂W and, if given, ADDS ∂L/∂X. ∂L/∂W[o,m] is accumulated over the nodes in 4 lanes
/// (the components μ, each in node order) that are added at the end; ∂L/∂X[m] sums over o in order.
func mixVectorsBackward(_ w: ComplexMatrixView, _ parameters: UnsafePointer<Double>,
                        input: UnsafePointer<Double>, outputGradient: UnsafePointer<Double>,
                        inputGradient: UnsafeMutablePointer<Double>?, gradients: UnsafeMutablePointer<Double>,
                        nodes: Int) {
    let rows = w.rows, columns = w.columns
    let wr = parameters + w.re, wi = parameters + w.im
    let gwr = gradients + w.re, gwi = gradients + w.im
    // forward: Re Y += a·xr − b·xi, Im Y += a·xi + b·xr (component-wise), W = a + ib.
    for o in 0..<rows {
        var m = 0
        while m < columns {
            let count = min(2, columns &- m)
            var re0 = Lanes.zero, im0 = Lanes.zero, re1 = Lanes.zero, im1 = Lanes.zero
            var gy = outputGradient + 8 &* o
            var x = input + 8 &* m
            for _ in 0..<nodes {
                let gRe = load4(gy), gIm = load4(gy + 4)
                let x0r = load4(x), x0i = load4(x + 4)
                re0 = re0.addingProduct(gRe, x0r).addingProduct(gIm, x0i)
                im0 = im0.addingProduct(gIm, x0r).addingProduct(-gRe, x0i)
                if count > 1 {
                    let x1r = load4(x + 8), x1i = load4(x + 12)
                    re1 = re1.addingProduct(gRe, x1r).addingProduct(gIm, x1i)
                    im1 = im1.addingProduct(gIm, x1r).addingProduct(-gRe, x1i)
                }
                gy += 8 &* rows
                x += 8 &* columns
            }
            gwr[o &* columns &+ m] += re0.sum()
            gwi[o &* columns &+ m] += im0.sum()
            if count > 1 {
                gwr[o &* columns &+ m &+ 1] += re1.sum()
                gwi[o &* columns &+ m &+ 1] += im1.sum()
            }
            m &+= 2
        }
    }
    guard let gx = inputGradient else { return }
    for node in 0..<nodes {
        let gy = outputGradient + 8 &* rows &* node
        let target = gx + 8 &* columns &* node
        var m = 0
        while m < columns {
            let count = min(2, columns &- m)
            var re0 = Lanes.zero, im0 = Lanes.zero, re1 = Lanes.zero, im1 = Lanes.zero
            for o in 0..<rows {
                let gRe = load4(gy + 8 &* o), gIm = load4(gy + 8 &* o + 4)
                let a0 = wr[o &* columns &+ m], b0 = wi[o &* columns &+ m]
                re0 = re0.addingProduct(a0, gRe).addingProduct(b0, gIm)
                im0 = im0.addingProduct(a0, gIm).addingProduct(-b0, gRe)
                if count > 1 {
                    let a1 = wr[o &* columns &+ m &+ 1], b1 = wi[o &* columns &+ m &+ 1]
                    re1 = re1.addingProduct(a1, gRe).addingProduct(b1, gIm)
                    im1 = im1.addingProduct(a1, gIm).addingProduct(-b1, gRe)
                }
            }
            let t = target + 8 &* m
            store4(load4(t) + re0, t)
            store4(load4(t + 4) + im0, t + 4)
            if count > 1 {
                store4(load4(t + 8) + re1, t + 8)
                store4(load4(t + 12) + im1, t + 12)
            }
            m &+= 2
        }
    }
}

/// What `encoderEdgeMessagesBackward` needs beyond the forward's arguments (the forward's
/// per-row quantities φ and R are recomputed from those arguments, bit for bit as the forward
/// computed them).
struct EncoderEdgeGradientArguments {
    var parameters: UnsafePointer<Double>
    var bells: BellView
    var radialScalar: LinearView
    var radialVector: LinearView
    /// ∂L/∂(concatenation), the layout of the forward's concatScalars/concatVectors; only
    /// slots 0 and 1 (the messages) are read.
    var concatScalarGradients: UnsafePointer<Double>
    var concatVectorGradients: UnsafePointer<Double>
    /// Accumulated: ∂L/∂θ for a, b, c, L_0, L_1.
    var gradients: UnsafeMutablePointer<Double>
    /// Accumulated: ∂L/∂S (N×C complex), ∂L/∂V (N×C complex 4-vectors).
    var scalarGradients: UnsafeMutablePointer<Double>
    var vectorGradients: UnsafeMutablePointer<Double>
    /// Accumulated if given: ∂L/∂x (N×4 real). The encoder's positions are data, so training
    /// passes nil and the kernel skips the position (d and norm) derivatives altogether.
    var positionGradients: UnsafeMutablePointer<Double>?
}

/// Backward of `encoderEdgeMessages` (§4.1–4.4): messages → (R_0, R_1, S_j, V_j, d_ij) →
/// R = bias + L·φ → φ(a, b, c, norm_ij) → norm_ij(d_ij) → x_i, x_j. Row by row (receiver i) and
/// lane-parallel over the senders j, like the forward: each ordered pair (i, j) sends its own
/// ∂L/∂R_ij through the radial layer and the bells (R_ij = R_ji is one function of the unordered
/// pair, so this sums ∂L/∂R_ij + ∂L/∂R_ji as the chain rule requires). Dead edges are handled as
/// in the forward: in the reference mode a pair with a padded end still carries the bias (§4.2
/// QUIRK), so the bias gets its gradient there, but φ = 0 has no a, b, c, L or norm dependence;
/// in clean mode a dead edge carries nothing and gets nothing. Every sum has a fixed order: over
/// rows i in order, within a row over 4 lane-partial sums over j, and, for the parameters,
/// lane-partial sums over all rows added at the end.
func encoderEdgeMessagesBackward(_ a: EncoderEdgeArguments, _ g: EncoderEdgeGradientArguments) {
    let layout = EdgeScratchLayout(nodes: a.nodes, channels: a.channels, bellCount: a.bellCount)
    withEdgeScratch(a.scratch, count: layout.count) { scratch in
        edgeBackward(a, g, EdgeRowContext(a, scratch: scratch))
    }
}

private func edgeBackward(_ a: EncoderEdgeArguments, _ g: EncoderEdgeGradientArguments, _ context: EdgeRowContext) {
    let layout = context.layout, scratch = context.base
    let n = a.nodes, cin = a.channels, bellCount = a.bellCount, p = layout.lanes
    let width = 4 &* cin
    let stored = a.edgeTensors != nil
    context.prepareInputs()
    let gSAll = scratch + layout.scalarGradients, gVAll = scratch + layout.vectorGradients
    let gX = scratch + layout.positionGradients
    let gW = scratch + layout.weightGradients, gBias = scratch + layout.biasGradients
    let gBell = scratch + layout.bellGradients
    gSAll.update(repeating: 0, count: 2 &* cin &* p)
    gVAll.update(repeating: 0, count: 8 &* cin &* p)
    gX.update(repeating: 0, count: 4 &* p)
    gW.update(repeating: 0, count: 16 &* cin &* bellCount)
    gBias.update(repeating: 0, count: 16 &* cin)
    gBell.update(repeating: 0, count: 12 &* bellCount)

    // Pass over the receivers: the message part. Without stored tensors each row then goes
    // through the radial layer and the bells on its own; with them, ∂L/∂R of every ordered pair is
    // kept and the second pass below handles each unordered pair once.
    for i in 0..<n {
        // Clean mode: every edge of a padded receiver is dead (R = 0, nothing to differentiate).
        if a.clean && !a.mask[i] { continue }
        context.computeDifferences(i, norms: !stored)
        let (phi, radial) = context.rowTensors(i)
        if !stored { context.computeBellsAndRadial(i, phi: phi, radial: radial) }
        // Stored: ∂L/∂R of pair (i, j), output o, at (o·N + i)·P + j (rows of one o adjacent, so a
        // column read below is P apart, not 4C·P); row by row: at o·P + j in the scratch.
        let gR = stored ? scratch + layout.storedRadialGradients + i &* p : scratch + layout.radialGradients
        let gRStride = stored ? n &* p : p
        edgeMessageRowBackward(a, g, context, row: i, radial: radial, radialGradients: gR, stride: gRStride)
        if !stored {
            if a.clean { zeroDeadLanes(context, row: i, gR, stride: p, from: 0) }
            radialRowBackward(a, g, context, row: i, phi: phi, radialGradients: gR, stride: p, from: 0)
        }
    }

    if stored {
        // In place, rows in increasing order: row i becomes ∂L/∂R_ij + ∂L/∂R_ji for j > i,
        // ∂L/∂R_ii on the diagonal and 0 for i8 ≤ j < i (i8 = i rounded down to 8; lanes below are
        // never read again). Row i reads column i of the rows j > i, which are not rewritten yet.
        let all = scratch + layout.storedRadialGradients
        for i in 0..<n {
            if a.clean && !a.mask[i] { continue }
            // The norms are stored; d_ij is only needed for the position gradients.
            if g.positionGradients != nil { context.computeDifferences(i) }
            let first = i / 8 * 8
            let own = all + i &* p, rowStride = n &* p
            for o in 0..<width {
                let mine = own + o &* rowStride
                for j in first..<i { mine[j] = 0 }
                var other = all + (o &* rowStride &+ (i &+ 1) &* p &+ i)
                for j in (i &+ 1)..<n {
                    mine[j] += other.pointee
                    other += p
                }
                for j in n..<p { mine[j] = 0 }
            }
            if a.clean { zeroDeadLanes(context, row: i, own, stride: rowStride, from: first) }
            radialRowBackward(a, g, context, row: i, phi: context.rowTensors(i).phi, radialGradients: own,
                              stride: rowStride, from: first, weights: false)
        }
        // ∂L/∂W[k, o] += Σ_i Σ_{j ≥ i8} φ_k(i, j)·∂L/∂R_o(i, j): 2 bells × 4 outputs per block, in
        // lane-partial sums over all rows, so each block's sums stay in registers.
        let store = a.edgeTensors!
        // Outputs outer, bells inner: a block's 4 rows of ∂L/∂R (4·N·P doubles) stay in L1 while
        // the bells stream past.
        var o = 0
        while o < width {
            var k = 0
            while k < bellCount {
                let rows = min(2, bellCount &- k)
                var block = OuterProductBlock()
                for i in 0..<n {
                    if a.clean && !a.mask[i] { continue }
                    let f0 = store + i &* layout.rowTensorCount + k &* p
                    let q0 = all + (o &* n &+ i) &* p
                    block.accumulate(f0, rows > 1 ? f0 + p : f0, q0, q0 + n &* p, q0 + 2 &* n &* p, q0 + 3 &* n &* p,
                                     from: i / 8 * 8, to: p)
                }
                block.add(to: gW + 4 &* (k &* width &+ o), rows: rows, rowStride: 4 &* width)
                k &+= 2
            }
            o &+= 4
        }
    }

    // Back to the node-major layouts, and the lane-partial parameter sums to the parameter layout.
    for j in 0..<n {
        for c in 0..<cin {
            for part in 0..<2 { g.scalarGradients[2 &* (j &* cin &+ c) &+ part] += gSAll[(2 &* c &+ part) &* p &+ j] }
            for e in 0..<8 { g.vectorGradients[8 &* (j &* cin &+ c) &+ e] += gVAll[(8 &* c &+ e) &* p &+ j] }
        }
        if let gx = g.positionGradients {
            for mu in 0..<4 { gx[4 &* j &+ mu] += gX[mu &* p &+ j] }
        }
    }
    for k in 0..<bellCount {
        g.gradients[g.bells.a + k] += load4(gBell + 12 &* k).sum()
        g.gradients[g.bells.b + k] += load4(gBell + 12 &* k + 4).sum()
        g.gradients[g.bells.c + k] += load4(gBell + 12 &* k + 8).sum()
    }
    // Packed column block·2C + o is output o of L_block (see EncoderEdgeArguments.radialWeightsTransposed).
    let half = 2 &* cin
    for block in 0..<2 {
        let layer = block == 0 ? g.radialScalar : g.radialVector
        for o in 0..<half {
            let packed = block &* half &+ o
            g.gradients[layer.bias + o] += load4(gBias + 4 &* packed).sum()
            for k in 0..<bellCount {
                g.gradients[layer.weight + o * bellCount + k] += load4(gW + 4 &* (k &* width &+ packed)).sum()
            }
        }
    }
}

/// Clean mode: a dead edge's R is the constant 0, so its gradient goes nowhere.
@inline(__always)
private func zeroDeadLanes(_ context: EdgeRowContext, row i: Int, _ gR: UnsafeMutablePointer<Double>, stride: Int,
                           from first: Int) {
    let p = context.lanes, width = 4 &* context.a.channels
    var j = first
    while j < p {
        let dead = .!context.live(row: i, lane: j)
        for o in 0..<width {
            let t = gR + o &* stride + j
            store4(load4(t).replacing(with: 0, where: dead), t)
        }
        j &+= 4
    }
}

/// The message part of the edge backward for receiver i and all senders j (lanes): ADDS ∂L/∂S_j,
/// ∂L/∂V_j to the scratch accumulators, WRITES ∂L/∂R_ij (4C × P at `radialGradients`) and, if
/// positions are wanted, adds the direct ∂L/∂d_ij (through A_s2 and A_v1) to x_i and x_j.
private func edgeMessageRowBackward(_ a: EncoderEdgeArguments, _ g: EncoderEdgeGradientArguments, _ context: EdgeRowContext,
                                    row i: Int, radial: UnsafeMutablePointer<Double>,
                                    radialGradients gR: UnsafeMutablePointer<Double>, stride gRStride: Int) {
    let layout = context.layout, scratch = context.base
    let cin = a.channels, p = layout.lanes
    let positionsWanted = g.positionGradients != nil
    let d = scratch + layout.differences
    let sAll = scratch + layout.scalars, vAll = scratch + layout.vectors
    let gD = scratch + layout.differenceGradients
    let gSAll = scratch + layout.scalarGradients, gVAll = scratch + layout.vectorGradients
    let catGS = g.concatScalarGradients + i &* 10 &* cin
    let catGV = g.concatVectorGradients + i &* 40 &* cin
    if positionsWanted { gD.update(repeating: 0, count: 4 &* p) }

    for c in 0..<cin {
        let r0Re = radial + 2 &* c &* p, r0Im = r0Re + p
        let r1Re = radial + 2 &* (cin &+ c) &* p, r1Im = r1Re + p
        let sRe = sAll + 2 &* c &* p, sIm = sRe + p
        let v = vAll + 8 &* c &* p
        let gsRe = gSAll + 2 &* c &* p, gsIm = gsRe + p
        let gv = gVAll + 8 &* c &* p
        // The receiver's message gradients: A_s2 (as ½·g), A_s1, A_v1, A_v2.
        let gPRe = 0.5 * catGS[2 &* c], gPIm = 0.5 * catGS[2 &* c &+ 1]
        let g1Re = catGS[2 &* (cin &+ c)], g1Im = catGS[2 &* (cin &+ c) &+ 1]
        let gV2 = catGV + 8 &* c, gV1 = catGV + 8 &* (cin &+ c)
        let u0 = gV2[0], u1 = gV2[1], u2 = gV2[2], u3 = gV2[3]
        let y0 = gV2[4], y1 = gV2[5], y2 = gV2[6], y3 = gV2[7]
        let h0 = gV1[0], h1 = gV1[1], h2 = gV1[2], h3 = gV1[3]
        let k0 = gV1[4], k1 = gV1[5], k2 = gV1[6], k3 = gV1[7]

        // ∂L/∂V_j += conj(R_1)·½g_s2·η-metric·d + conj(E0)·g_v2 (fused multiply-adds throughout).
        var j = 0
        while j < p {
            let b1Re = load4(r1Re + j), b1Im = load4(r1Im + j)
            let gEtaRe: Lanes = (b1Re * gPRe).addingProduct(gPIm, b1Im), gEtaIm: Lanes = (b1Re * gPIm).addingProduct(-gPRe, b1Im)
            let b0Re = load4(r0Re + j), b0Im = load4(r0Im + j)
            let e0Re = b0Re - b0Im, e0Im = b0Re + b0Im
            let d0 = load4(d + j), d1 = load4(d + p + j), d2 = load4(d + 2 &* p + j), d3 = load4(d + 3 &* p + j)
            let t0 = gv + j, t1 = t0 + p, t2 = t0 + 2 &* p, t3 = t0 + 3 &* p
            let t4 = t0 + 4 &* p, t5 = t0 + 5 &* p, t6 = t0 + 6 &* p, t7 = t0 + 7 &* p
            store4(load4(t0).addingProduct(gEtaRe, d0).addingProduct(u0, e0Re).addingProduct(y0, e0Im), t0)
            store4(load4(t1).addingProduct(u1, e0Re).addingProduct(y1, e0Im).addingProduct(-gEtaRe, d1), t1)
            store4(load4(t2).addingProduct(u2, e0Re).addingProduct(y2, e0Im).addingProduct(-gEtaRe, d2), t2)
            store4(load4(t3).addingProduct(u3, e0Re).addingProduct(y3, e0Im).addingProduct(-gEtaRe, d3), t3)
            store4(load4(t4).addingProduct(gEtaIm, d0).addingProduct(y0, e0Re).addingProduct(-u0, e0Im), t4)
            store4(load4(t5).addingProduct(y1, e0Re).addingProduct(-u1, e0Im).addingProduct(-gEtaIm, d1), t5)
            store4(load4(t6).addingProduct(y2, e0Re).addingProduct(-u2, e0Im).addingProduct(-gEtaIm, d2), t6)
            store4(load4(t7).addingProduct(y3, e0Re).addingProduct(-u3, e0Im).addingProduct(-gEtaIm, d3), t7)
            j &+= 4
        }
        // ∂L/∂S_j += conj(E0)·g_s1 + conj(R_1)·gt with gt = Σ_μ g_v1^μ d^μ.
        j = 0
        while j < p {
            let d0 = load4(d + j), d1 = load4(d + p + j), d2 = load4(d + 2 &* p + j), d3 = load4(d + 3 &* p + j)
            let gtRe: Lanes = (d0 * h0).addingProduct(h1, d1).addingProduct(h2, d2).addingProduct(h3, d3)
            let gtIm: Lanes = (d0 * k0).addingProduct(k1, d1).addingProduct(k2, d2).addingProduct(k3, d3)
            let b0Re = load4(r0Re + j), b0Im = load4(r0Im + j)
            let e0Re = b0Re - b0Im, e0Im = b0Re + b0Im
            let b1Re = load4(r1Re + j), b1Im = load4(r1Im + j)
            store4(load4(gsRe + j).addingProduct(g1Re, e0Re).addingProduct(g1Im, e0Im)
                   .addingProduct(gtRe, b1Re).addingProduct(gtIm, b1Im), gsRe + j)
            store4(load4(gsIm + j).addingProduct(g1Im, e0Re).addingProduct(-g1Re, e0Im)
                   .addingProduct(gtIm, b1Re).addingProduct(-gtRe, b1Im), gsIm + j)
            j &+= 4
        }
        // ∂L/∂R_ij: R_1 gets conj(η(V, d))·½g_s2 + conj(S)·gt; R_0 through E0 = R_0·(1+i)
        // (§4.3 QUIRK) gets conj(S)·g_s1 + Σ_μ conj(V^μ)·g_v2^μ.
        j = 0
        while j < p {
            let d0 = load4(d + j), d1 = load4(d + p + j), d2 = load4(d + 2 &* p + j), d3 = load4(d + 3 &* p + j)
            let a0 = load4(v + j), a1 = load4(v + p + j), a2 = load4(v + 2 &* p + j), a3 = load4(v + 3 &* p + j)
            let b0 = load4(v + 4 &* p + j), b1 = load4(v + 5 &* p + j)
            let b2 = load4(v + 6 &* p + j), b3 = load4(v + 7 &* p + j)
            let etaRe: Lanes = (a0 * d0).addingProduct(-a1, d1).addingProduct(-a2, d2).addingProduct(-a3, d3)
            let etaIm: Lanes = (b0 * d0).addingProduct(-b1, d1).addingProduct(-b2, d2).addingProduct(-b3, d3)
            let gtRe: Lanes = (d0 * h0).addingProduct(h1, d1).addingProduct(h2, d2).addingProduct(h3, d3)
            let gtIm: Lanes = (d0 * k0).addingProduct(k1, d1).addingProduct(k2, d2).addingProduct(k3, d3)
            let xRe = load4(sRe + j), xIm = load4(sIm + j)
            let gr1Re: Lanes = (etaRe * gPRe).addingProduct(gPIm, etaIm).addingProduct(gtRe, xRe).addingProduct(gtIm, xIm)
            let gr1Im: Lanes = (etaRe * gPIm).addingProduct(-gPRe, etaIm).addingProduct(gtIm, xRe).addingProduct(-gtRe, xIm)
            var ge0Re: Lanes = (xRe * g1Re).addingProduct(g1Im, xIm)
            ge0Re = ge0Re.addingProduct(u0, a0).addingProduct(y0, b0)
            ge0Re = ge0Re.addingProduct(u1, a1).addingProduct(y1, b1)
            ge0Re = ge0Re.addingProduct(u2, a2).addingProduct(y2, b2)
            ge0Re = ge0Re.addingProduct(u3, a3).addingProduct(y3, b3)
            var ge0Im: Lanes = (xRe * g1Im).addingProduct(-g1Re, xIm)
            ge0Im = ge0Im.addingProduct(y0, a0).addingProduct(-u0, b0)
            ge0Im = ge0Im.addingProduct(y1, a1).addingProduct(-u1, b1)
            ge0Im = ge0Im.addingProduct(y2, a2).addingProduct(-u2, b2)
            ge0Im = ge0Im.addingProduct(y3, a3).addingProduct(-u3, b3)
            let row0 = gR + 2 &* c &* gRStride + j, row1 = gR + 2 &* (cin &+ c) &* gRStride + j
            store4(ge0Re + ge0Im, row0)
            store4(ge0Im - ge0Re, row0 + gRStride)
            store4(gr1Re, row1)
            store4(gr1Im, row1 + gRStride)
            j &+= 4
        }
        // ∂L/∂d_ij (positions only): η-metric·(g_η,Re·Re V + g_η,Im·Im V) + t·g_v1, t = S·R_1.
        if positionsWanted {
            j = 0
            while j < p {
                let b1Re = load4(r1Re + j), b1Im = load4(r1Im + j)
                let gEtaRe = gPRe * b1Re + gPIm * b1Im, gEtaIm = gPIm * b1Re - gPRe * b1Im
                let xRe = load4(sRe + j), xIm = load4(sIm + j)
                let tRe = xRe * b1Re - xIm * b1Im, tIm = xRe * b1Im + xIm * b1Re
                let a0 = load4(v + j), a1 = load4(v + p + j), a2 = load4(v + 2 &* p + j), a3 = load4(v + 3 &* p + j)
                let b0 = load4(v + 4 &* p + j), b1 = load4(v + 5 &* p + j)
                let b2 = load4(v + 6 &* p + j), b3 = load4(v + 7 &* p + j)
                let t0 = gD + j, t1 = t0 + p, t2 = t0 + 2 &* p, t3 = t0 + 3 &* p
                store4(load4(t0) + ((gEtaRe * a0 + gEtaIm * b0) + (tRe * h0 + tIm * k0)), t0)
                store4(load4(t1) + ((tRe * h1 + tIm * k1) - (gEtaRe * a1 + gEtaIm * b1)), t1)
                store4(load4(t2) + ((tRe * h2 + tIm * k2) - (gEtaRe * a2 + gEtaIm * b2)), t2)
                store4(load4(t3) + ((tRe * h3 + tIm * k3) - (gEtaRe * a3 + gEtaIm * b3)), t3)
                j &+= 4
            }
        }
    }
    if positionsWanted { applyDifferenceGradients(context, row: i, from: 0) }
}

/// d_ij = x_i − x_j: x_i gets Σ_j ∂L/∂d_ij and x_j gets −∂L/∂d_ij, for the lanes j ≥ `first`.
@inline(__always)
private func applyDifferenceGradients(_ context: EdgeRowContext, row i: Int, from first: Int) {
    let layout = context.layout, scratch = context.base, p = layout.lanes
    let gD = scratch + layout.differenceGradients, gX = scratch + layout.positionGradients
    for mu in 0..<4 {
        var acc = Lanes.zero
        var j = first
        while j < p {
            let value = load4(gD + mu &* p + j)
            acc += value
            store4(load4(gX + mu &* p + j) - value, gX + mu &* p + j)
            j &+= 4
        }
        gX[mu &* p &+ i] += acc.sum()
    }
}

/// The radial layer and bells of row i for the lanes j ≥ `first` (a multiple of 8), from ∂L/∂R
/// of those pairs: ∂L/∂bias += Σ_j ∂L/∂R, ∂L/∂W[k, o] += Σ_j φ_k·∂L/∂R_o (lane-partial sums),
/// ∂L/∂φ_k = Σ_o W[k, o]·∂L/∂R_o, then φ_k = b/D + a, D = 1 + (c·norm)² + 1e-16 on live edges,
/// and, if positions are wanted, the norm's pull on x_i and x_j.
private func radialRowBackward(_ a: EncoderEdgeArguments, _ g: EncoderEdgeGradientArguments, _ context: EdgeRowContext,
                               row i: Int, phi: UnsafeMutablePointer<Double>,
                               radialGradients gR: UnsafeMutablePointer<Double>, stride gRStride: Int, from first: Int,
                               weights: Bool = true) {
    let layout = context.layout, scratch = context.base
    let cin = a.channels, bellCount = a.bellCount, p = layout.lanes
    let width = 4 &* cin, stride = a.radialStride
    let positionsWanted = g.positionGradients != nil
    let d = scratch + layout.differences, norms = context.rowNorms(i)
    let gPhi = scratch + layout.phiGradients, gD = scratch + layout.differenceGradients
    let gW = scratch + layout.weightGradients, gBias = scratch + layout.biasGradients
    let gBell = scratch + layout.bellGradients
    let w = a.radialWeightsTransposed

    for o in 0..<width {
        var acc = Lanes.zero
        var j = first
        while j < p {
            acc += load4(gR + o &* gRStride + j)
            j &+= 4
        }
        store4(load4(gBias + 4 &* o) + acc, gBias + 4 &* o)
    }
    var k = 0
    while weights && k < bellCount {
        let rows = min(2, bellCount &- k)
        let f0 = phi + k &* p, f1 = rows > 1 ? f0 + p : f0
        var o = 0
        while o < width {
            var block = OuterProductBlock()
            let q0 = gR + o &* gRStride
            block.accumulate(f0, f1, q0, q0 + gRStride, q0 + 2 &* gRStride, q0 + 3 &* gRStride, from: first, to: p)
            block.add(to: gW + 4 &* (k &* width &+ o), rows: rows, rowStride: 4 &* width)
            o &+= 4
        }
        k &+= 2
    }
    k = 0
    while k < bellCount {
        let rows = min(4, bellCount &- k)
        let w0 = w + k &* stride
        let w1 = rows > 1 ? w0 + stride : w0, w2 = rows > 2 ? w0 + 2 &* stride : w0, w3 = rows > 3 ? w0 + 3 &* stride : w0
        var j = first
        while j < p {
            var a0 = Lanes.zero, a1 = a0, b0 = a0, b1 = a0, c0 = a0, c1 = a0, e0 = a0, e1 = a0
            var q = UnsafePointer(gR) + j
            for o in 0..<width {
                let y0 = load4(q), y1 = load4(q + 4)
                let u0 = w0[o], u1 = w1[o], u2 = w2[o], u3 = w3[o]
                q += gRStride
                a0 = a0.addingProduct(u0, y0); a1 = a1.addingProduct(u0, y1)
                b0 = b0.addingProduct(u1, y0); b1 = b1.addingProduct(u1, y1)
                c0 = c0.addingProduct(u2, y0); c1 = c1.addingProduct(u2, y1)
                e0 = e0.addingProduct(u3, y0); e1 = e1.addingProduct(u3, y1)
            }
            let t = gPhi + k &* p + j
            store4(a0, t); store4(a1, t + 4)
            if rows > 1 { store4(b0, t + p); store4(b1, t + p + 4) }
            if rows > 2 { store4(c0, t + 2 &* p); store4(c1, t + 2 &* p + 4) }
            if rows > 3 { store4(e0, t + 3 &* p); store4(e1, t + 3 &* p + 4) }
            j &+= 8
        }
        k &+= 4
    }

    guard positionsWanted else {
        // Training: bell by bell, the three parameter sums of the row stay in registers.
        for k in 0..<bellCount {
            let ck = a.bellC[k], bk2 = -2 * a.bellB[k]
            var sumA = Lanes.zero, sumB = Lanes.zero, sumC = Lanes.zero
            var j = first
            while j < p {
                let gp = load4(gPhi + k &* p + j).replacing(with: 0, where: .!context.live(row: i, lane: j))
                let norm = load4(norms + j)
                let t = ck * norm
                let inverse = 1 / (1 + t * t + 1e-16)
                let dPhiDT = bk2 * t * (inverse * inverse)
                sumA += gp
                sumB = sumB.addingProduct(gp, inverse)
                sumC = sumC.addingProduct(gp * dPhiDT, norm)
                j &+= 4
            }
            let target = gBell + 12 &* k
            store4(load4(target) + sumA, target)
            store4(load4(target + 4) + sumB, target + 4)
            store4(load4(target + 8) + sumC, target + 8)
        }
        return
    }
    if positionsWanted { gD.update(repeating: 0, count: 4 &* p) }
    var j = first
    while j < p {
        let dead = .!context.live(row: i, lane: j)
        let norm = load4(norms + j)
        var gNorm = Lanes.zero
        for k in 0..<bellCount {
            let gp = load4(gPhi + k &* p + j).replacing(with: 0, where: dead)
            let ck = a.bellC[k], bk = a.bellB[k]
            let t = ck * norm
            let inverse = 1 / (1 + t * t + 1e-16)
            let dPhiDT = (-2 * bk) * t * (inverse * inverse)
            let target = gBell + 12 &* k
            store4(load4(target) + gp, target)
            store4(load4(target + 4) + gp * inverse, target + 4)
            store4(load4(target + 8) + gp * dPhiDT * norm, target + 8)
            if positionsWanted { gNorm += gp * dPhiDT * ck }
        }
        if positionsWanted {
            // norm = q/sqrt|q|, q = η(d, d) + 1e-16: d norm/dq = ½/sqrt|q|, dq/dd = 2·η-metric·d.
            let d0 = load4(d + j), d1 = load4(d + p + j), d2 = load4(d + 2 &* p + j), d3 = load4(d + 3 &* p + j)
            let q = d0 * d0 - d1 * d1 - d2 * d2 - d3 * d3 + 1e-16
            let scale = (gNorm * (0.5 / q.replacing(with: -q, where: q .< 0).squareRoot()) * 2).replacing(with: 0, where: dead)
            store4(scale * d0, gD + j)
            store4(-(scale * d1), gD + p + j)
            store4(-(scale * d2), gD + 2 &* p + j)
            store4(-(scale * d3), gD + 3 &* p + j)
        }
        j &+= 4
    }
    if positionsWanted { applyDifferenceGradients(context, row: i, from: first) }
}

/// Backward of `selfInteraction` (§4.5, §4.6 slots 2–4): ADDS ∂L/∂S and ∂L/∂V from the skip slot
/// (S, V), ½η(V,V), S² and the two copies of S·V.
func selfInteractionBackward(nodes: Int, channels cin: Int, scalars: UnsafePointer<Double>, vectors: UnsafePointer<Double>,
                             concatScalarGradients: UnsafePointer<Double>, concatVectorGradients: UnsafePointer<Double>,
                             scalarGradients: UnsafeMutablePointer<Double>, vectorGradients: UnsafeMutablePointer<Double>) {
    let metric = SIMD4<Double>(1, -1, -1, -1)
    for i in 0..<nodes {
        let catGS = concatScalarGradients + i * 10 * cin
        let catGV = concatVectorGradients + i * 40 * cin
        for c in 0..<cin {
            let s = scalars + 2 * (i * cin + c)
            let sRe = s[0], sIm = s[1]
            let v = vectors + 8 * (i * cin + c)
            let vRe = load4(v), vIm = load4(v + 4)
            var gsRe = catGS[2 * (2 * cin + c)], gsIm = catGS[2 * (2 * cin + c) + 1]
            var gvRe = load4(catGV + 8 * (2 * cin + c)), gvIm = load4(catGV + 8 * (2 * cin + c) + 4)
            // ½η(V,V) = ½(η(A,A) − η(B,B)) + i·η(A,B).
            let gqRe = catGS[2 * (3 * cin + c)], gqIm = catGS[2 * (3 * cin + c) + 1]
            gvRe += metric * (gqRe * vRe + gqIm * vIm)
            gvIm += metric * (gqIm * vRe - gqRe * vIm)
            // S² = (sRe² − sIm²) + i·2sRe·sIm.
            let g2Re = catGS[2 * (4 * cin + c)], g2Im = catGS[2 * (4 * cin + c) + 1]
            gsRe += 2 * (g2Re * sRe + g2Im * sIm)
            gsIm += 2 * (g2Im * sRe - g2Re * sIm)
            // S·V, emitted twice in the forward, so both slots' gradients add.
            let gQRe = load4(catGV + 8 * (3 * cin + c)) + load4(catGV + 8 * (4 * cin + c))
            let gQIm = load4(catGV + 8 * (3 * cin + c) + 4) + load4(catGV + 8 * (4 * cin + c) + 4)
            gsRe += (gQRe * vRe + gQIm * vIm).sum()
            gsIm += (gQIm * vRe - gQRe * vIm).sum()
            gvRe += sRe * gQRe + sIm * gQIm
            gvIm += sRe * gQIm - sIm * gQRe
            let gs = scalarGradients + 2 * (i * cin + c), gv = vectorGradients + 8 * (i * cin + c)
            gs[0] += gsRe
            gs[1] += gsIm
            store4(load4(gv) + gvRe, gv)
            store4(load4(gv + 4) + gvIm, gv + 4)
        }
    }
}

/// Backward of `linearForward` on the same feature-major layout (feature f of column p at
/// f·P + p) for the first `nodes` columns: ADDS ∂L/∂W[o,i] = Σ_p gz[o,p]·x[i,p] and
/// ∂L/∂b[o] = Σ_p gz[o,p] (sums over p = 0..<nodes in order), and, if given, WRITES
/// ∂L/∂x[i,p] = Σ_o W[o,i]·gz[o,p] (sum over o in order) for all P columns. Columns beyond
/// `nodes` must carry gz = 0. `transposed` is scratch of `nodes` × (inputs rounded up to 4)
/// doubles: x transposed to node-major, so that the weight gradient is a register-blocked
/// outer-product accumulation over nodes with no horizontal sums.
func linearBackward(_ layer: LinearView, _ parameters: UnsafePointer<Double>,
                    input x: UnsafePointer<Double>, outputGradient gz: UnsafePointer<Double>,
                    inputGradient gx: UnsafeMutablePointer<Double>?, gradients: UnsafeMutablePointer<Double>,
                    columns p: Int, nodes n: Int, transposed xt: UnsafeMutablePointer<Double>) {
    let w = parameters + layer.weight
    let gw = gradients + layer.weight, gb = gradients + layer.bias
    let inputs = layer.inputs, outputs = layer.outputs
    let width = (inputs &+ 3) & ~3
    // x (inputs × P) → xt (n × width), zero padding columns.
    for q in 0..<n {
        let row = xt + q &* width
        for i in 0..<inputs { row[i] = x[i &* p &+ q] }
        for i in inputs..<width { row[i] = 0 }
    }
    for o in 0..<outputs {
        var acc = 0.0
        let g = gz + o &* p
        for q in 0..<n { acc += g[q] }
        gb[o] += acc
    }
    // ∂L/∂W: 4 outputs × 8 inputs per block, accumulated over the nodes in order.
    @inline(__always) func addPartial(_ v: SIMD4<Double>, _ target: UnsafeMutablePointer<Double>, _ lanes: Int) {
        if lanes >= 4 {
            store4(load4(target) + v, target)
        } else {
            for l in 0..<lanes { target[l] += v[l] }
        }
    }
    var o = 0
    while o < outputs {
        let rows = min(4, outputs &- o)
        let g0 = gz + o &* p
        let g1 = rows > 1 ? g0 + p : g0, g2 = rows > 2 ? g0 + 2 &* p : g0, g3 = rows > 3 ? g0 + 3 &* p : g0
        var i = 0
        while i < inputs {
            if i &+ 8 <= width {
                var a0 = SIMD4<Double>.zero, a1 = a0, b0 = a0, b1 = a0, c0 = a0, c1 = a0, d0 = a0, d1 = a0
                var xp = UnsafePointer(xt) + i
                for q in 0..<n {
                    let xa = load4(xp), xb = load4(xp + 4)
                    let u0 = g0[q], u1 = g1[q], u2 = g2[q], u3 = g3[q]
                    a0 = a0.addingProduct(u0, xa); a1 = a1.addingProduct(u0, xb)
                    b0 = b0.addingProduct(u1, xa); b1 = b1.addingProduct(u1, xb)
                    c0 = c0.addingProduct(u2, xa); c1 = c1.addingProduct(u2, xb)
                    d0 = d0.addingProduct(u3, xa); d1 = d1.addingProduct(u3, xb)
                    xp += width
                }
                let lanesA = min(4, inputs &- i), lanesB = max(0, min(4, inputs &- i &- 4))
                let t0 = gw + (o &* inputs &+ i)
                addPartial(a0, t0, lanesA); addPartial(a1, t0 + 4, lanesB)
                if rows > 1 { addPartial(b0, t0 + inputs, lanesA); addPartial(b1, t0 + inputs + 4, lanesB) }
                if rows > 2 { addPartial(c0, t0 + 2 &* inputs, lanesA); addPartial(c1, t0 + 2 &* inputs + 4, lanesB) }
                if rows > 3 { addPartial(d0, t0 + 3 &* inputs, lanesA); addPartial(d1, t0 + 3 &* inputs + 4, lanesB) }
                i &+= 8
            } else {
                var a0 = SIMD4<Double>.zero, b0 = a0, c0 = a0, d0 = a0
                var xp = UnsafePointer(xt) + i
                for q in 0..<n {
                    let xa = load4(xp)
                    a0 += g0[q] * xa; b0 += g1[q] * xa; c0 += g2[q] * xa; d0 += g3[q] * xa
                    xp += width
                }
                let lanes = min(4, inputs &- i)
                let t0 = gw + (o &* inputs &+ i)
                addPartial(a0, t0, lanes)
                if rows > 1 { addPartial(b0, t0 + inputs, lanes) }
                if rows > 2 { addPartial(c0, t0 + 2 &* inputs, lanes) }
                if rows > 3 { addPartial(d0, t0 + 3 &* inputs, lanes) }
                i &+= 4
            }
        }
        o &+= 4
    }
    guard let gx else { return }
    // ∂L/∂x: 4 inputs × 8 columns per block, summed over the outputs in order.
    var i = 0
    while i &+ 4 <= inputs {
        var block = 0
        while block < p {
            var b = Block4x8()
            b.accumulate(weights: w + i, weightStep: inputs, lanes: UnsafePointer(gz) + block, laneStep: p, count: outputs)
            b.store(to: gx + (i &* p &+ block), rowStride: p)
            block &+= 8
        }
        i &+= 4
    }
    while i < inputs {
        var block = 0
        while block < p {
            var a0 = SIMD4<Double>.zero, a1 = a0
            var wp = w + i, gp = gz + block
            for _ in 0..<outputs {
                let u0 = wp[0]
                a0 += u0 * load4(gp); a1 += u0 * load4(gp + 4)
                wp += inputs
                gp += p
            }
            store4(a0, gx + (i &* p &+ block))
            store4(a1, gx + (i &* p &+ block &+ 4))
            block &+= 8
        }
        i &+= 1
    }
}

/// Scratch for `scalarMLPBackward`: two feature-major buffers as wide as the widest layer, and
/// the node-major transpose of one layer input.
final class MLPBackwardWorkspace {
    let first: DoubleBuffer
    let second: DoubleBuffer
    let transposed: DoubleBuffer

    init(cache: MLPCache) {
        let widest = cache.widths.max() ?? 0
        let size = widest * cache.columns
        first = DoubleBuffer(count: size)
        second = DoubleBuffer(count: size)
        transposed = DoubleBuffer(count: cache.nodes * ((widest + 3) / 4 * 4))
    }
}

/// Backward of `runScalarMLP` (§4.7), from the cache that forward filled: ∂L/∂S'' (node-major,
/// N × C complex, i.e. interleaved re/im) → ∂L/∂S' (WRITTEN, same layout), adding the Linear
/// layers' gradients. LeakyReLU'(z) = 1 for z > 0 and `slope` for z ≤ 0, the forward's branch.
func scalarMLPBackward(_ layers: [LinearView], _ parameters: UnsafePointer<Double>, cache: MLPCache,
                       workspace: MLPBackwardWorkspace, outputGradient: UnsafePointer<Double>,
                       inputGradient: UnsafeMutablePointer<Double>, gradients: UnsafeMutablePointer<Double>,
                       slope: Double) {
    let n = cache.nodes, columns = cache.columns
    let features = cache.widths[layers.count]
    var current = workspace.first.base, other = workspace.second.base
    // The padding columns are never read back by the forward, so their gradient is zero.
    current.update(repeating: 0, count: features * columns)
    for f in 0..<features {
        for i in 0..<n { current[f * columns + i] = outputGradient[i * features + f] }
    }
    for j in stride(from: layers.count - 1, through: 0, by: -1) {
        if j + 1 < layers.count {
            // Branch-free (a masked store is slow): g ← slope·g where z ≤ 0. columns is a multiple of 8.
            let pre = cache.preActivations[j].base
            var x = 0
            while x < layers[j].outputs &* columns {
                let g = load4(current + x)
                store4(g.replacing(with: slope * g, where: load4(pre + x) .<= 0), current + x)
                x &+= 4
            }
        }
        linearBackward(layers[j], parameters, input: cache.inputs[j].base, outputGradient: current,
                       inputGradient: other, gradients: gradients, columns: columns, nodes: n,
                       transposed: workspace.transposed.base)
        swap(&current, &other)
    }
    let inputFeatures = cache.widths[0]
    for f in 0..<inputFeatures {
        for i in 0..<n { inputGradient[i * inputFeatures + f] = current[f * columns + i] }
    }
}

/// A 2 × 4 block of a weight gradient, ∂L/∂W[k + r, o + c] = Σ_j x_r[j]·y_c[j], kept as
/// lane-partial sums in registers (8 SIMD4 accumulators) while j streams past. Shared by the
/// bell-to-radial weight gradients of the fused edge kernel and of one radial row.
struct OuterProductBlock {
    var a00 = Lanes.zero, a01 = Lanes.zero, a02 = Lanes.zero, a03 = Lanes.zero
    var a10 = Lanes.zero, a11 = Lanes.zero, a12 = Lanes.zero, a13 = Lanes.zero

    /// Adds Σ_{j in first..<p, step 4} x_r[j..<j+4] ⊗ y_c[j..<j+4] (p − first a multiple of 4).
    @inline(__always)
    mutating func accumulate(_ x0p: UnsafePointer<Double>, _ x1p: UnsafePointer<Double>,
                             _ y0p: UnsafePointer<Double>, _ y1p: UnsafePointer<Double>,
                             _ y2p: UnsafePointer<Double>, _ y3p: UnsafePointer<Double>, from first: Int, to p: Int) {
        var j = first
        while j < p {
            let x0 = load4(x0p + j), x1 = load4(x1p + j)
            let y0 = load4(y0p + j), y1 = load4(y1p + j), y2 = load4(y2p + j), y3 = load4(y3p + j)
            a00 = a00.addingProduct(x0, y0); a01 = a01.addingProduct(x0, y1)
            a02 = a02.addingProduct(x0, y2); a03 = a03.addingProduct(x0, y3)
            a10 = a10.addingProduct(x1, y0); a11 = a11.addingProduct(x1, y1)
            a12 = a12.addingProduct(x1, y2); a13 = a13.addingProduct(x1, y3)
            j &+= 4
        }
    }

    /// Adds the block's lane-partial sums to the gradient at t (row 0) and t + rowStride (row 1,
    /// if rows > 1); each entry keeps its 4 lanes, summed later in a fixed order.
    @inline(__always)
    func add(to t0: UnsafeMutablePointer<Double>, rows: Int, rowStride: Int) {
        store4(load4(t0) + a00, t0); store4(load4(t0 + 4) + a01, t0 + 4)
        store4(load4(t0 + 8) + a02, t0 + 8); store4(load4(t0 + 12) + a03, t0 + 12)
        if rows > 1 {
            let t1 = t0 + rowStride
            store4(load4(t1) + a10, t1); store4(load4(t1 + 4) + a11, t1 + 4)
            store4(load4(t1 + 8) + a12, t1 + 8); store4(load4(t1 + 12) + a13, t1 + 12)
        }
    }
}
