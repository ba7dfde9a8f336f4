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
    var norms: UnsafePointer<Double>
    var bellA: UnsafePointer<Double>
    var bellB: UnsafePointer<Double>
    var bellC: UnsafePointer<Double>
    /// Row stride of the packed radial weights and of the radial cache: 4C rounded up to 16.
    var radialStride: Int
    /// [L_0; L_1] stacked and transposed, zero-padded: element (k, o) at k·radialStride + o,
    /// o < 2C for L_0 and 2C ≤ o < 4C for L_1.
    var radialWeightsTransposed: UnsafePointer<Double>
    /// [bias of L_0; bias of L_1], zero-padded to radialStride.
    var radialBias: UnsafePointer<Double>
    var scalars: UnsafePointer<Double>
    var vectors: UnsafePointer<Double>
    /// Scratch, N×8: the row's x_i − x_j and η-metric·(x_i − x_j).
    var rowScratch: UnsafeMutablePointer<Double>
    /// Output: φ, N×N×K.
    var phi: UnsafeMutablePointer<Double>
    /// Output: radial coefficients, N×N×radialStride, per pair [R_0 (C complex, interleaved
    /// re, im); R_1 (same); zero padding].
    var radial: UnsafeMutablePointer<Double>
    /// Output: the level's scalar concatenation, N×5C; this kernel fills the message slots.
    var concatScalars: UnsafeMutablePointer<Double>
    var concatVectors: UnsafeMutablePointer<Double>
}

/// The fused encoder edge computation of one LMP level (§4.1–4.4) for all N×N ordered pairs,
/// self-edges included: Lorentzian bells φ, radial coefficients R_0, R_1, zonal edge features
/// E0 = R_0·(1+i), E1 = R_1·(x_i − x_j), and the four channel-wise aggregated messages
///   A_s2 = Σ_j ½η(V_j, E1_ij), A_s1 = Σ_j S_j·E0_ij, A_v2 = Σ_j V_j·E0_ij, A_v1 = Σ_j S_j·E1_ij,
/// written to concatenation slots 0 and 1 (§4.6). φ and R are symmetric in (i, j) because
/// η(d, d) is, so each unordered pair is evaluated once (when row min(i, j) is processed) and
/// stored at both (i, j) and (j, i). Sums over j run in increasing j.
func encoderEdgeMessages(_ a: EncoderEdgeArguments) {
    let n = a.nodes, cin = a.channels, bellCount = a.bellCount
    let stride = a.radialStride
    let metric = SIMD4<Double>(1, -1, -1, -1)
    for i in 0..<n {
        // φ and R for the pairs (i, j ≥ i).
        for j in i..<n {
            let phiIJ = a.phi + (i * n + j) * bellCount, phiJI = a.phi + (j * n + i) * bellCount
            let rIJ = a.radial + (i * n + j) * stride, rJI = a.radial + (j * n + i) * stride
            if a.mask[i] && a.mask[j] {
                let norm = a.norms[i * n + j]
                var k = 0
                while k + 4 <= bellCount {
                    let t = load4(a.bellC + k) * norm
                    let value = load4(a.bellB + k) / (1 + t * t + 1e-16) + load4(a.bellA + k)
                    store4(value, phiIJ + k)
                    store4(value, phiJI + k)
                    k += 4
                }
                while k < bellCount {
                    let t = a.bellC[k] * norm
                    let value = a.bellB[k] / (1 + t * t + 1e-16) + a.bellA[k]
                    phiIJ[k] = value
                    phiJI[k] = value
                    k += 1
                }
                var chunk = 0
                while chunk < stride {
                    var acc = load16(a.radialBias + chunk)
                    for k in 0..<bellCount {
                        acc += load16(a.radialWeightsTransposed + k * stride + chunk) * phiIJ[k]
                    }
                    store16(acc, rIJ + chunk)
                    store16(acc, rJI + chunk)
                    chunk += 16
                }
            } else {
                // QUIRK (§4.2): a pair with a padded end has φ = 0 but keeps the bias as its
                // coefficient in the reference; clean mode switches the edge off entirely.
                var k = 0
                while k + 4 <= bellCount {
                    store4(.zero, phiIJ + k)
                    store4(.zero, phiJI + k)
                    k += 4
                }
                while k < bellCount {
                    phiIJ[k] = 0
                    phiJI[k] = 0
                    k += 1
                }
                var chunk = 0
                while chunk < stride {
                    let value = a.clean ? SIMD16<Double>.zero : load16(a.radialBias + chunk)
                    store16(value, rIJ + chunk)
                    store16(value, rJI + chunk)
                    chunk += 16
                }
            }
        }

        let catS = a.concatScalars + i * 10 * cin
        let catV = a.concatVectors + i * 40 * cin
        if a.clean && !a.mask[i] {
            for x in 0..<(4 * cin) { catS[x] = 0 }
            for x in 0..<(16 * cin) { catV[x] = 0 }
            continue
        }
        let xi = load4(a.positions + 4 * i)
        for j in 0..<n {
            let d = xi - load4(a.positions + 4 * j)
            store4(d, a.rowScratch + 8 * j)
            store4(metric * d, a.rowScratch + 8 * j + 4)
        }
        let rowRadial = a.radial + i * n * stride
        for c in 0..<cin {
            // Two passes over j keep each pass's accumulators in registers.
            var s2Re = 0.0, s2Im = 0.0, s1Re = 0.0, s1Im = 0.0
            var v1Re = SIMD4<Double>.zero, v1Im = SIMD4<Double>.zero
            for j in 0..<n {
                if a.clean && !a.mask[j] { continue }
                let r = rowRadial + j * stride
                let r0Re = r[2 * c], r0Im = r[2 * c + 1]
                let r1Re = r[2 * cin + 2 * c], r1Im = r[2 * cin + 2 * c + 1]
                // E0 = R_0·(1+i), the reference's degree-0 zonal function (§4.3 QUIRK).
                let e0Re = r0Re - r0Im, e0Im = r0Re + r0Im
                let d = load4(a.rowScratch + 8 * j), gd = load4(a.rowScratch + 8 * j + 4)
                let sj = a.scalars + 2 * (j * cin + c)
                let sRe = sj[0], sIm = sj[1]
                let vj = a.vectors + 8 * (j * cin + c)
                // ½η(V, R_1·d) = ½R_1·η(V, d): d is real, so η(V, d) = η(Re V, d) + iη(Im V, d).
                let etaRe = (load4(vj) * gd).sum(), etaIm = (load4(vj + 4) * gd).sum()
                s2Re += 0.5 * (r1Re * etaRe - r1Im * etaIm)
                s2Im += 0.5 * (r1Re * etaIm + r1Im * etaRe)
                s1Re += sRe * e0Re - sIm * e0Im
                s1Im += sRe * e0Im + sIm * e0Re
                let tRe = sRe * r1Re - sIm * r1Im, tIm = sRe * r1Im + sIm * r1Re
                v1Re += tRe * d
                v1Im += tIm * d
            }
            var v2Re = SIMD4<Double>.zero, v2Im = SIMD4<Double>.zero
            for j in 0..<n {
                if a.clean && !a.mask[j] { continue }
                let r = rowRadial + j * stride
                let r0Re = r[2 * c], r0Im = r[2 * c + 1]
                let e0Re = r0Re - r0Im, e0Im = r0Re + r0Im
                let vj = a.vectors + 8 * (j * cin + c)
                let vRe = load4(vj), vIm = load4(vj + 4)
                v2Re += e0Re * vRe - e0Im * vIm
                v2Im += e0Re * vIm + e0Im * vRe
            }
            catS[2 * c] = s2Re
            catS[2 * c + 1] = s2Im
            catS[2 * (cin + c)] = s1Re
            catS[2 * (cin + c) + 1] = s1Im
            store4(v2Re, catV + 8 * c)
            store4(v2Im, catV + 8 * c + 4)
            store4(v1Re, catV + 8 * (cin + c))
            store4(v1Im, catV + 8 * (cin + c) + 4)
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
/// LeakyReLU(z) there (x if x > 0, else slope·x, as PyTorch). Register-blocked over 2 outputs × 8
/// columns; every sum runs over i in order with separate multiply and add, so no sum is
/// reassociated.
func linearForward(_ layer: LinearView, _ parameters: UnsafePointer<Double>,
                   input x: UnsafePointer<Double>, output z: UnsafeMutablePointer<Double>, columns p: Int,
                   activated: UnsafeMutablePointer<Double>? = nil, slope: Double = 0) {
    let w = parameters + layer.weight, b = parameters + layer.bias
    let inputs = layer.inputs, outputs = layer.outputs
    @inline(__always) func emit(_ acc: SIMD8<Double>, _ offset: Int) {
        store8(acc, z + offset)
        if let activated {
            store8(acc.replacing(with: slope * acc, where: acc .<= 0), activated + offset)
        }
    }
    var o = 0
    while o + 1 < outputs {
        let w0 = w + o * inputs, w1 = w0 + inputs
        var block = 0
        while block < p {
            var acc0 = SIMD8<Double>(repeating: b[o]), acc1 = SIMD8<Double>(repeating: b[o + 1])
            for i in 0..<inputs {
                let xv = load8(x + i * p + block)
                acc0 += w0[i] * xv
                acc1 += w1[i] * xv
            }
            emit(acc0, o * p + block)
            emit(acc1, (o + 1) * p + block)
            block += 8
        }
        o += 2
    }
    if o < outputs {
        let w0 = w + o * inputs
        var block = 0
        while block < p {
            var acc0 = SIMD8<Double>(repeating: b[o])
            for i in 0..<inputs { acc0 += w0[i] * load8(x + i * p + block) }
            emit(acc0, o * p + block)
            block += 8
        }
    }
}
