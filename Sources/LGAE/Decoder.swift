// The decoder forward pass (lgae.md §6).

extension LGAEModel {
    func runDecoder(parameters p: UnsafePointer<Double>, cache: DecoderCache) {
        let n = config.particleCount
        let decoder = layout.decoder

        // §6.1 "N independent linear operators": the latent vectors are one node with τ_v
        // channels, mapped to N channels that are re-read as the N nodes (same memory layout).
        // QUIRK: the latent scalar map G_s is never used downstream, so it is not evaluated.
        mixVectors(decoder.latentVector, p, input: cache.latentVectors.buffer.base,
                   output: cache.positions.buffer.base, nodes: 1)

        // §6.2: scalar input (1+i) for every node, vector input P_n.
        if let firstScalars = cache.nodeScalars.first {
            mixScalars(decoder.embedScalar, p, input: cache.constantScalars.buffer.base,
                       output: firstScalars.buffer.base, nodes: n)
        }
        mixVectors(decoder.embedVector, p, input: cache.positions.buffer.base,
                   output: cache.nodeVectors[0].buffer.base, nodes: n)

        for (t, level) in decoder.levels.enumerated() {
            let levelCache = cache.levels[t]
            let scalarsIn = cache.nodeScalars[t], vectorsIn = cache.nodeVectors[t]
            decoderMessages(level, p, positions: cache.positions, scalars: scalarsIn, vectors: vectorsIn, cache: levelCache)
            selfInteraction(nodes: n, channels: level.inputChannels,
                            scalars: scalarsIn.buffer.base, vectors: vectorsIn.buffer.base,
                            concatScalars: levelCache.concatScalars.buffer.base,
                            concatVectors: levelCache.concatVectors.buffer.base)
            mixVectors(level.mixVector, p, input: levelCache.concatVectors.buffer.base,
                       output: cache.nodeVectors[t + 1].buffer.base, nodes: n)
            if let mlp = levelCache.mlp {
                mixScalars(level.mixScalar, p, input: levelCache.concatScalars.buffer.base,
                           output: levelCache.mixedScalars.buffer.base, nodes: n)
                runScalarMLP(level.mlp, p, cache: mlp, input: levelCache.mixedScalars, output: cache.nodeScalars[t + 1],
                             slope: config.leakyReLUSlope)
            }
        }

        // §6.5: output vector mix C_last → 1 (the output scalar is discarded, so not computed).
        let lastVectors = cache.nodeVectors[cache.nodeVectors.count - 1]
        mixVectors(decoder.outputVector, p, input: lastVectors.buffer.base, output: cache.complexOutput.buffer.base, nodes: n)
        applyComplexToReal(config.complexToReal, complex: cache.complexOutput.buffer.base, real: cache.output.base, particles: n)
    }

    /// The decoder's aggregated messages (§4.4 with the decoder radial rule of §4.2). Its edge
    /// mask is all zero (QUIRK), so φ ≡ 0 and R_l(i, j)[c] = β_l[c]·(1+i), with β_l the bias of
    /// L_l, for every pair including i = j. The edge features are then E0 = β_0·(1+i)² = 2i·β_0
    /// and E1_ij = β_1·(1+i)·(P_i − P_j), and the sums over j factorise:
    ///   A_s2[i] = ½β_1(1+i)·(η(ΣV, P_i) − Σ_j η(V_j, P_j)),  A_s1[i] = 2iβ_0·ΣS,
    ///   A_v2[i] = 2iβ_0·ΣV,  A_v1[i] = β_1(1+i)·(ΣS·P_i − Σ_j S_j P_j),
    /// which is O(N) instead of O(N²) and equal up to rounding.
    func decoderMessages(_ level: LMPLevelParameters, _ p: UnsafePointer<Double>, positions: NodeVectors,
                                 scalars: NodeScalars, vectors: NodeVectors, cache: DecoderLevelCache) {
        let n = config.particleCount, cin = level.inputChannels
        let x = positions.buffer.base, s = scalars.buffer.base, v = vectors.buffer.base
        let catS = cache.concatScalars.buffer.base, catV = cache.concatVectors.buffer.base
        for c in 0..<cin {
            var sumS = LorentzScalar.zero, sumEta = LorentzScalar.zero
            var sumV = LorentzVector.zero, sumSP = LorentzVector.zero
            for j in 0..<n {
                let sj = LorentzScalar(s[2 * (j * cin + c)], s[2 * (j * cin + c) + 1])
                let vj = loadVector(v + 8 * (j * cin + c)), pj = loadVector(x + 8 * j)
                sumS += sj
                sumV += vj
                sumSP += sj * pj
                sumEta += minkowski(vj, pj)
            }
            cache.sumScalars[0, c] = sumS
            cache.sumVectors[0, c] = sumV
            cache.sumScalarPositions[0, c] = sumSP
            cache.sumVectorPositionProducts[0, c] = sumEta
            let beta0 = p[level.radialScalar.bias + c], beta1 = p[level.radialVector.bias + c]
            let e0 = Complex(0, 2 * beta0)
            let f1 = Complex(beta1, beta1)
            let aS1 = e0 * sumS, aV2 = e0 * sumV
            for i in 0..<n {
                let pi = loadVector(x + 8 * i)
                let aS2 = 0.5 * (f1 * (minkowski(sumV, pi) - sumEta))
                let rowS = catS + 10 * cin * i, rowV = catV + 40 * cin * i
                rowS[2 * c] = aS2.value.re
                rowS[2 * c + 1] = aS2.value.im
                rowS[2 * (cin + c)] = aS1.value.re
                rowS[2 * (cin + c) + 1] = aS1.value.im
                storeVector(aV2, rowV + 8 * c)
                storeVector(f1 * (sumS * pi - sumSP), rowV + 8 * (cin + c))
            }
        }
    }
}

extension LGAEModel {
    /// Backward of `decoderMessages` (§4.4 with the decoder rule of §4.2), from the factorised
    /// forms, which are holomorphic in S, V, P. With the complex gradient g = ∂L/∂Re + i·∂L/∂Im,
    /// a product y = u·v sends conj(v)·g_y to u, η(a, b) sends conj(b)·η-metric·g to a, and a real
    /// parameter β in y = β·w gets Re(conj(w)·g_y). ADDS ∂L/∂S, ∂L/∂V, ∂L/∂P (the positions) and
    /// ∂L/∂β_0, ∂L/∂β_1 (the radial biases; the decoder's a, b, c and radial weights get none).
    /// `cache` must hold the forward's sums for the same inputs.
    func decoderMessagesBackward(_ level: LMPLevelParameters, _ p: UnsafePointer<Double>, positions: NodeVectors,
                                 scalars: NodeScalars, vectors: NodeVectors, cache: DecoderLevelCache,
                                 concatScalarGradients: UnsafePointer<Double>, concatVectorGradients: UnsafePointer<Double>,
                                 gradients: UnsafeMutablePointer<Double>, scalarGradients: UnsafeMutablePointer<Double>,
                                 vectorGradients: UnsafeMutablePointer<Double>, positionGradients: UnsafeMutablePointer<Double>) {
        let n = config.particleCount, cin = level.inputChannels
        let metric = SIMD4<Double>(1, -1, -1, -1)
        let x = positions.buffer.base, s = scalars.buffer.base, v = vectors.buffer.base
        // conj(a)·g for a complex scalar a and a complex vector g (re, im parts).
        @inline(__always) func conjScale(_ a: Complex, _ gRe: SIMD4<Double>, _ gIm: SIMD4<Double>) -> (SIMD4<Double>, SIMD4<Double>) {
            (a.re * gRe + a.im * gIm, a.re * gIm - a.im * gRe)
        }
        // Σ_μ conj(w_μ)·g_μ for complex vectors w, g.
        @inline(__always) func conjDot(_ wRe: SIMD4<Double>, _ wIm: SIMD4<Double>, _ gRe: SIMD4<Double>, _ gIm: SIMD4<Double>) -> Complex {
            Complex((wRe * gRe + wIm * gIm).sum(), (wRe * gIm - wIm * gRe).sum())
        }
        for c in 0..<cin {
            let sumS = cache.sumScalars[0, c].value, sumV = cache.sumVectors[0, c]
            let sumSP = cache.sumScalarPositions[0, c], sumEta = cache.sumVectorPositionProducts[0, c].value
            let beta0 = p[level.radialScalar.bias + c], beta1 = p[level.radialVector.bias + c]
            let e0 = Complex(0, 2 * beta0), f1 = Complex(beta1, beta1)
            var gE0 = Complex(0, 0), gF1 = Complex(0, 0)
            var gSumS = Complex(0, 0), gSumEta = Complex(0, 0)
            var gSumVRe = SIMD4<Double>.zero, gSumVIm = SIMD4<Double>.zero
            var gSumSPRe = SIMD4<Double>.zero, gSumSPIm = SIMD4<Double>.zero
            var gS1 = Complex(0, 0), gV2Re = SIMD4<Double>.zero, gV2Im = SIMD4<Double>.zero
            for i in 0..<n {
                let rowS = concatScalarGradients + 10 * cin * i, rowV = concatVectorGradients + 40 * cin * i
                let piRe = load4(x + 8 * i), piIm = load4(x + 8 * i + 4)
                let gPi = positionGradients + 8 * i
                // A_s1 = e0·ΣS and A_v2 = e0·ΣV are the same for every i.
                gS1 += Complex(rowS[2 * (cin + c)], rowS[2 * (cin + c) + 1])
                gV2Re += load4(rowV + 8 * c)
                gV2Im += load4(rowV + 8 * c + 4)
                // A_s2[i] = ½f1·h_i, h_i = η(ΣV, P_i) − Ση(V_j, P_j).
                let gS2 = Complex(rowS[2 * c], rowS[2 * c + 1])
                let hRe = minkowski(sumV.re, piRe) - minkowski(sumV.im, piIm) - sumEta.re
                let hIm = minkowski(sumV.re, piIm) + minkowski(sumV.im, piRe) - sumEta.im
                gF1 += 0.5 * (Complex(hRe, -hIm) * gS2)
                let gH = 0.5 * (f1.conjugate * gS2)
                // conj(P)·g = conj(conj(g)·P), hence conjScale then negated imaginary parts.
                let (a1, b1) = conjScale(gH, piRe, piIm)
                gSumVRe += metric * a1
                gSumVIm -= metric * b1
                let (a2, b2) = conjScale(gH, sumV.re, sumV.im)
                store4(load4(gPi) + metric * a2, gPi)
                store4(load4(gPi + 4) - metric * b2, gPi + 4)
                gSumEta -= gH
                // A_v1[i] = f1·w_i, w_i = ΣS·P_i − Σ S_j P_j.
                let gVRe = load4(rowV + 8 * (cin + c)), gVIm = load4(rowV + 8 * (cin + c) + 4)
                let wRe = sumS.re * piRe - sumS.im * piIm - sumSP.re
                let wIm = sumS.re * piIm + sumS.im * piRe - sumSP.im
                gF1 += conjDot(wRe, wIm, gVRe, gVIm)
                let (gwRe, gwIm) = conjScale(f1, gVRe, gVIm)
                gSumS += conjDot(piRe, piIm, gwRe, gwIm)
                let (a3, b3) = conjScale(sumS, gwRe, gwIm)
                store4(load4(gPi) + a3, gPi)
                store4(load4(gPi + 4) + b3, gPi + 4)
                gSumSPRe -= gwRe
                gSumSPIm -= gwIm
            }
            gE0 += sumS.conjugate * gS1
            gSumS += e0.conjugate * gS1
            gE0 += conjDot(sumV.re, sumV.im, gV2Re, gV2Im)
            let (a4, b4) = conjScale(e0, gV2Re, gV2Im)
            gSumVRe += a4
            gSumVIm += b4
            // e0 = 2iβ_0 and f1 = (1+i)β_1.
            gradients[level.radialScalar.bias + c] += 2 * gE0.im
            gradients[level.radialVector.bias + c] += gF1.re + gF1.im
            // The four sums over j.
            for j in 0..<n {
                let sj = Complex(s[2 * (j * cin + c)], s[2 * (j * cin + c) + 1])
                let vjRe = load4(v + 8 * (j * cin + c)), vjIm = load4(v + 8 * (j * cin + c) + 4)
                let pjRe = load4(x + 8 * j), pjIm = load4(x + 8 * j + 4)
                let gSj = gSumS + conjDot(pjRe, pjIm, gSumSPRe, gSumSPIm)
                scalarGradients[2 * (j * cin + c)] += gSj.re
                scalarGradients[2 * (j * cin + c) + 1] += gSj.im
                let (a5, b5) = conjScale(gSumEta, pjRe, pjIm)
                let gVj = vectorGradients + 8 * (j * cin + c)
                store4(load4(gVj) + gSumVRe + metric * a5, gVj)
                store4(load4(gVj + 4) + gSumVIm - metric * b5, gVj + 4)
                let (a6, b6) = conjScale(sj, gSumSPRe, gSumSPIm)
                let (a7, b7) = conjScale(gSumEta, vjRe, vjIm)
                let gPj = positionGradients + 8 * j
                store4(load4(gPj) + a6 + metric * a7, gPj)
                store4(load4(gPj + 4) + b6 - metric * b7, gPj + 4)
            }
        }
    }
}

/// §6.6, the reference's `get_real_method`.
func applyComplexToReal(_ rule: ComplexToRealRule, complex: UnsafePointer<Double>, real: UnsafeMutablePointer<Double>, particles: Int) {
    for i in 0..<particles {
        let re = load4(complex + 8 * i), im = load4(complex + 8 * i + 4)
        let value: SIMD4<Double>
        switch rule {
        case .real: value = re
        case .sum: value = re + im
        case .imag: value = im
        case .mean: value = (re + im) / 2
        case .norm: value = (re * re + im * im + SIMD4(repeating: 1e-16)).squareRoot()
        }
        store4(value, real + 4 * i)
    }
}

/// Backward of `applyComplexToReal` (§6.6): WRITES ∂L/∂O (N complex 4-vectors, Re then Im) from
/// ∂L/∂(real output) (N×4). Every rule but "norm" is linear; for "norm",
/// v = sqrt(re² + im² + 1e-16) gives ∂v/∂re = re/v, ∂v/∂im = im/v (never singular: v ≥ 1e-8).
func applyComplexToRealBackward(_ rule: ComplexToRealRule, complex: UnsafePointer<Double>,
                                realGradient: UnsafePointer<Double>, complexGradient: UnsafeMutablePointer<Double>,
                                particles: Int) {
    for i in 0..<particles {
        let g = load4(realGradient + 4 * i)
        let gRe: SIMD4<Double>, gIm: SIMD4<Double>
        switch rule {
        case .real: (gRe, gIm) = (g, .zero)
        case .sum: (gRe, gIm) = (g, g)
        case .imag: (gRe, gIm) = (.zero, g)
        case .mean: (gRe, gIm) = (g / 2, g / 2)
        case .norm:
            let re = load4(complex + 8 * i), im = load4(complex + 8 * i + 4)
            let value = (re * re + im * im + SIMD4(repeating: 1e-16)).squareRoot()
            (gRe, gIm) = (g * re / value, g * im / value)
        }
        store4(gRe, complexGradient + 8 * i)
        store4(gIm, complexGradient + 8 * i + 4)
    }
}
