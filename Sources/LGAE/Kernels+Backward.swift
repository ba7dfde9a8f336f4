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
/// view's offsets and, if `inputGradient` is given, ADDS ∂L/∂x there.
func mixScalarsBackward(_ w: ComplexMatrixView, _ parameters: UnsafePointer<Double>,
                        input: UnsafePointer<Double>, outputGradient: UnsafePointer<Double>,
                        inputGradient: UnsafeMutablePointer<Double>?, gradients: UnsafeMutablePointer<Double>,
                        nodes: Int) {
    let rows = w.rows, columns = w.columns
    let wr = parameters + w.re, wi = parameters + w.im
    let gwr = gradients + w.re, gwi = gradients + w.im
    for node in 0..<nodes {
        let x = input + 2 * columns * node
        let gy = outputGradient + 2 * rows * node
        for o in 0..<rows {
            let gRe = gy[2 * o], gIm = gy[2 * o + 1]
            let rowRe = wr + o * columns, rowIm = wi + o * columns
            for m in 0..<columns {
                let a = rowRe[m], b = rowIm[m], xr = x[2 * m], xi = x[2 * m + 1]
                // forward: Re y += a·xr − b·xi, Im y += a·xi + b·xr
                gwr[o * columns + m] += gRe * xr + gIm * xi
                gwi[o * columns + m] += -gRe * xi + gIm * xr
                if let gx = inputGradient {
                    gx[2 * columns * node + 2 * m] += gRe * a + gIm * b
                    gx[2 * columns * node + 2 * m + 1] += -gRe * b + gIm * a
                }
            }
        }
    }
}

/// Backward of `mixVectors`: Y[o] = Σ_m W[o,m]·X[m] per node, X complex 4-vectors (8 doubles).
/// Adds ∂L/∂W and, if given, ADDS ∂L/∂X.
func mixVectorsBackward(_ w: ComplexMatrixView, _ parameters: UnsafePointer<Double>,
                        input: UnsafePointer<Double>, outputGradient: UnsafePointer<Double>,
                        inputGradient: UnsafeMutablePointer<Double>?, gradients: UnsafeMutablePointer<Double>,
                        nodes: Int) {
    let rows = w.rows, columns = w.columns
    let wr = parameters + w.re, wi = parameters + w.im
    let gwr = gradients + w.re, gwi = gradients + w.im
    for node in 0..<nodes {
        let x = input + 8 * columns * node
        let gy = outputGradient + 8 * rows * node
        for o in 0..<rows {
            let gRe = load4(gy + 8 * o), gIm = load4(gy + 8 * o + 4)
            let rowRe = wr + o * columns, rowIm = wi + o * columns
            for m in 0..<columns {
                let a = rowRe[m], b = rowIm[m]
                let xr = load4(x + 8 * m), xi = load4(x + 8 * m + 4)
                // forward: Re Y += a·xr − b·xi, Im Y += a·xi + b·xr (component-wise)
                gwr[o * columns + m] += (gRe * xr + gIm * xi).sum()
                gwi[o * columns + m] += (gIm * xr - gRe * xi).sum()
                if let gx = inputGradient {
                    let p = gx + 8 * columns * node + 8 * m
                    store4(load4(p) + a * gRe + b * gIm, p)
                    store4(load4(p + 4) + a * gIm - b * gRe, p + 4)
                }
            }
        }
    }
}

/// Backward of `realEdgeNorms` for one ordered pair, folded into the edge kernel below:
/// norm = q/sqrt|q| with q = η(d,d) + 1e-16 has d norm/dq = ½/sqrt|q| on both sides of q = 0
/// (|q| = q·sign q), and dq/dd = 2·η-metric·d.
@inline(__always)
func signedNormDerivative(intervalSquared: Double) -> Double {
    let q = intervalSquared + 1e-16
    return 0.5 / abs(q).squareRoot()
}

/// What `encoderEdgeMessagesBackward` needs beyond the forward's arguments (whose `phi` and
/// `radial` must hold the forward results for the same inputs, and whose packed radial weights
/// are read here too).
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
    /// Accumulated: ∂L/∂S (N×C complex), ∂L/∂V (N×C complex 4-vectors), ∂L/∂x (N×4 real).
    var scalarGradients: UnsafeMutablePointer<Double>
    var vectorGradients: UnsafeMutablePointer<Double>
    var positionGradients: UnsafeMutablePointer<Double>
    /// Scratch of `encoderEdgeBackwardScratchCount(bellCount:radialStride:)` doubles: ∂L/∂R of the
    /// current pair, then ∂L/∂(packed bias) and ∂L/∂(packed transposed weights) in the forward's
    /// packed layout, so the radial backward runs on the same SIMD16 rows as the forward.
    var scratch: UnsafeMutablePointer<Double>
}

func encoderEdgeBackwardScratchCount(bellCount: Int, radialStride: Int) -> Int { (bellCount + 2) * radialStride }

/// The message part of the edge backward for one ordered pair (i receives from j): ADDS ∂L/∂S_j,
/// ∂L/∂V_j, and ∂L/∂R_ij into `gR` (radialStride doubles, same layout as R); returns the part of
/// ∂L/∂d_ij that comes directly through A_s2 and A_v1 (not through the norm).
@inline(__always)
private func edgeMessagePairBackward(_ a: EncoderEdgeArguments, _ g: EncoderEdgeGradientArguments, _ i: Int, _ j: Int,
                                     d: SIMD4<Double>, gR: UnsafeMutablePointer<Double>) -> SIMD4<Double> {
    let n = a.nodes, cin = a.channels
    let metric = SIMD4<Double>(1, -1, -1, -1)
    let catGS = g.concatScalarGradients + i * 10 * cin
    let catGV = g.concatVectorGradients + i * 40 * cin
    let gd0 = metric * d
    var gradD = SIMD4<Double>.zero
    let r = a.radial + (i * n + j) * a.radialStride
    for c in 0..<cin {
        let r0Re = r[2 * c], r0Im = r[2 * c + 1]
        let r1Re = r[2 * cin + 2 * c], r1Im = r[2 * cin + 2 * c + 1]
        let e0Re = r0Re - r0Im, e0Im = r0Re + r0Im
        let sj = a.scalars + 2 * (j * cin + c)
        let sRe = sj[0], sIm = sj[1]
        let vj = a.vectors + 8 * (j * cin + c)
        let vRe = load4(vj), vIm = load4(vj + 4)
        var gvRe = SIMD4<Double>.zero, gvIm = SIMD4<Double>.zero
        var gsRe = 0.0, gsIm = 0.0, ge0Re = 0.0, ge0Im = 0.0, gr1Re = 0.0, gr1Im = 0.0

        // A_s2 += ½·R_1·η(V_j, d), η(V, d) = etaRe + i·etaIm.
        let gPRe = 0.5 * catGS[2 * c], gPIm = 0.5 * catGS[2 * c + 1]
        let etaRe = (vRe * gd0).sum(), etaIm = (vIm * gd0).sum()
        gr1Re += gPRe * etaRe + gPIm * etaIm
        gr1Im += -gPRe * etaIm + gPIm * etaRe
        let gEtaRe = gPRe * r1Re + gPIm * r1Im, gEtaIm = -gPRe * r1Im + gPIm * r1Re
        gvRe += gEtaRe * gd0
        gvIm += gEtaIm * gd0
        gradD += metric * (gEtaRe * vRe + gEtaIm * vIm)

        // A_s1 += S_j·E0.
        let g1Re = catGS[2 * (cin + c)], g1Im = catGS[2 * (cin + c) + 1]
        gsRe += g1Re * e0Re + g1Im * e0Im
        gsIm += -g1Re * e0Im + g1Im * e0Re
        ge0Re += g1Re * sRe + g1Im * sIm
        ge0Im += -g1Re * sIm + g1Im * sRe

        // A_v1 += t·d with t = S_j·R_1.
        let gV1Re = load4(catGV + 8 * (cin + c)), gV1Im = load4(catGV + 8 * (cin + c) + 4)
        let tRe = sRe * r1Re - sIm * r1Im, tIm = sRe * r1Im + sIm * r1Re
        let gtRe = (gV1Re * d).sum(), gtIm = (gV1Im * d).sum()
        gradD += tRe * gV1Re + tIm * gV1Im
        gsRe += gtRe * r1Re + gtIm * r1Im
        gsIm += -gtRe * r1Im + gtIm * r1Re
        gr1Re += gtRe * sRe + gtIm * sIm
        gr1Im += -gtRe * sIm + gtIm * sRe

        // A_v2 += E0·V_j.
        let gV2Re = load4(catGV + 8 * c), gV2Im = load4(catGV + 8 * c + 4)
        ge0Re += (gV2Re * vRe + gV2Im * vIm).sum()
        ge0Im += (gV2Im * vRe - gV2Re * vIm).sum()
        gvRe += e0Re * gV2Re + e0Im * gV2Im
        gvIm += e0Re * gV2Im - e0Im * gV2Re

        let gSj = g.scalarGradients + 2 * (j * cin + c)
        let gVj = g.vectorGradients + 8 * (j * cin + c)
        gSj[0] += gsRe
        gSj[1] += gsIm
        store4(load4(gVj) + gvRe, gVj)
        store4(load4(gVj + 4) + gvIm, gVj + 4)
        // E0 = R_0·(1+i) (§4.3 QUIRK): Re E0 = r0Re − r0Im, Im E0 = r0Re + r0Im.
        gR[2 * c] += ge0Re + ge0Im
        gR[2 * c + 1] += ge0Im - ge0Re
        gR[2 * cin + 2 * c] += gr1Re
        gR[2 * cin + 2 * c + 1] += gr1Im
    }
    return gradD
}

/// Backward of `encoderEdgeMessages` (§4.1–4.4): messages → (R_0, R_1, S_j, V_j, d_ij) →
/// R = bias + L·φ → φ(a, b, c, norm_ij) → norm_ij(d_ij) → x_i, x_j. As in the forward, R_ij = R_ji
/// is one function of the unordered pair (norm is even in d), so ∂L/∂R_ij + ∂L/∂R_ji goes through
/// the radial layers once per unordered pair; the norm's pull on d_ij and on d_ji = −d_ij gives
/// x_i and x_j equal and opposite gradients. Pairs are skipped exactly where the forward skips
/// them (clean mode, padded end); in the reference mode a pair with a padded end still carries
/// the bias (§4.2 QUIRK), so the bias gets its gradient there, but φ = 0 has no a, b, c, L or
/// norm dependence.
func encoderEdgeMessagesBackward(_ a: EncoderEdgeArguments, _ g: EncoderEdgeGradientArguments) {
    let n = a.nodes, cin = a.channels, bellCount = a.bellCount, stride = a.radialStride
    let metric = SIMD4<Double>(1, -1, -1, -1)
    let p = g.parameters
    let gA = g.gradients + g.bells.a, gB = g.gradients + g.bells.b, gC = g.gradients + g.bells.c
    let gR = g.scratch, gPackedBias = g.scratch + stride, gPackedWeights = g.scratch + 2 * stride
    gPackedBias.update(repeating: 0, count: (bellCount + 1) * stride)
    for i in 0..<n {
        let xi = load4(a.positions + 4 * i)
        for j in i..<n {
            if a.clean && !(a.mask[i] && a.mask[j]) { continue }
            let d = xi - load4(a.positions + 4 * j)
            gR.update(repeating: 0, count: stride)
            var gradD = edgeMessagePairBackward(a, g, i, j, d: d, gR: gR)
            if j != i { gradD -= edgeMessagePairBackward(a, g, j, i, d: -d, gR: gR) }

            var chunk = 0
            while chunk < stride {
                store16(load16(gPackedBias + chunk) + load16(gR + chunk), gPackedBias + chunk)
                chunk += 16
            }
            if a.mask[i] && a.mask[j] {
                let phi = a.phi + (i * n + j) * bellCount
                let norm = a.norms[i * n + j]
                var gNorm = 0.0
                for k in 0..<bellCount {
                    var gPhiVector = SIMD16<Double>.zero
                    chunk = 0
                    while chunk < stride {
                        let go = load16(gR + chunk)
                        let row = k * stride + chunk
                        store16(load16(gPackedWeights + row) + go * phi[k], gPackedWeights + row)
                        gPhiVector += load16(a.radialWeightsTransposed + row) * go
                        chunk += 16
                    }
                    let gPhi = gPhiVector.sum()
                    // φ_k = b/D + a with D = 1 + (c·norm)² + 1e-16.
                    let ck = p[g.bells.c + k], bk = p[g.bells.b + k]
                    let t = ck * norm
                    let denominator = 1 + t * t + 1e-16
                    let dPhiDT = -bk * 2 * t / (denominator * denominator)
                    gA[k] += gPhi
                    gB[k] += gPhi / denominator
                    gC[k] += gPhi * dPhiDT * norm
                    gNorm += gPhi * dPhiDT * ck
                }
                gradD += (gNorm * signedNormDerivative(intervalSquared: minkowski(d, d)) * 2) * (metric * d)
            }
            let gxi = g.positionGradients + 4 * i, gxj = g.positionGradients + 4 * j
            store4(load4(gxi) + gradD, gxi)
            store4(load4(gxj) - gradD, gxj)
        }
    }
    // Unpack to the layout: packed column block·2C + o is output o of L_block (see
    // EncoderEdgeArguments.radialWeightsTransposed).
    let half = 2 * cin
    for block in 0..<2 {
        let layer = block == 0 ? g.radialScalar : g.radialVector
        for o in 0..<half {
            g.gradients[layer.bias + o] += gPackedBias[block * half + o]
            for k in 0..<bellCount {
                g.gradients[layer.weight + o * bellCount + k] += gPackedWeights[k * stride + block * half + o]
            }
        }
    }
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
/// f·P + p): ADDS ∂L/∂W[o,i] = Σ_p gz[o,p]·x[i,p] and ∂L/∂b[o] = Σ_p gz[o,p], and, if given,
/// WRITES ∂L/∂x[i,p] = Σ_o W[o,i]·gz[o,p]. Columns beyond the real nodes must carry gz = 0.
func linearBackward(_ layer: LinearView, _ parameters: UnsafePointer<Double>,
                    input x: UnsafePointer<Double>, outputGradient gz: UnsafePointer<Double>,
                    inputGradient gx: UnsafeMutablePointer<Double>?, gradients: UnsafeMutablePointer<Double>,
                    columns p: Int) {
    let w = parameters + layer.weight
    let gw = gradients + layer.weight, gb = gradients + layer.bias
    let inputs = layer.inputs, outputs = layer.outputs
    for o in 0..<outputs {
        var biasAcc = SIMD8<Double>.zero
        var block = 0
        while block < p {
            biasAcc += load8(gz + o * p + block)
            block += 8
        }
        gb[o] += biasAcc.sum()
        for i in 0..<inputs {
            var acc = SIMD8<Double>.zero
            block = 0
            while block < p {
                acc += load8(gz + o * p + block) * load8(x + i * p + block)
                block += 8
            }
            gw[o * inputs + i] += acc.sum()
        }
    }
    guard let gx else { return }
    for i in 0..<inputs {
        var block = 0
        while block < p {
            var acc = SIMD8<Double>.zero
            for o in 0..<outputs { acc += w[o * inputs + i] * load8(gz + o * p + block) }
            store8(acc, gx + i * p + block)
            block += 8
        }
    }
}

/// Scratch for `scalarMLPBackward`: two feature-major buffers as wide as the widest layer.
final class MLPBackwardWorkspace {
    let first: DoubleBuffer
    let second: DoubleBuffer

    init(cache: MLPCache) {
        let size = (cache.widths.max() ?? 0) * cache.columns
        first = DoubleBuffer(count: size)
        second = DoubleBuffer(count: size)
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
            let pre = cache.preActivations[j].base
            for x in 0..<(layers[j].outputs * columns) where pre[x] <= 0 { current[x] *= slope }
        }
        linearBackward(layers[j], parameters, input: cache.inputs[j].base, outputGradient: current,
                       inputGradient: other, gradients: gradients, columns: columns)
        swap(&current, &other)
    }
    let inputFeatures = cache.widths[0]
    for f in 0..<inputFeatures {
        for i in 0..<n { inputGradient[i * inputFeatures + f] = current[f * columns + i] }
    }
}
