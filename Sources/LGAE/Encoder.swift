// The encoder forward pass (lgae.md §5): input embedding, LMP levels, latent projection and
// aggregation.

extension LGAEModel {
    func runEncoder(parameters p: UnsafePointer<Double>, p4: UnsafePointer<Double>, mask: [Bool], cache: EncoderCache) {
        let n = config.particleCount
        let clean = config.mode == .clean
        let encoder = layout.encoder

        // §5.1 input: s_i = sqrt|η(p_i, p_i)| as a complex scalar, p_i as a real vector.
        let inScalars = cache.inputScalars.buffer.base, inVectors = cache.inputVectors.buffer.base
        for i in 0..<n {
            cache.maskStorage[i] = mask[i]
            cache.maskValues.base[i] = mask[i] ? 1 : 0
            let e = p4[4 * i], px = p4[4 * i + 1], py = p4[4 * i + 2], pz = p4[4 * i + 3]
            for mu in 0..<4 { cache.positions.base[4 * i + mu] = p4[4 * i + mu] }
            // The reference forms η(p, p) as 2E² − (E² + px² + py² + pz²); copied so that the
            // rounding of near-massless particles (§5.1) matches.
            let massSquared = 2 * e * e - (e * e + px * px + py * py + pz * pz)
            inScalars[2 * i] = abs(massSquared).squareRoot()
            inScalars[2 * i + 1] = 0
            storeVector(LorentzVector(e, px, py, pz), inVectors + 8 * i)
        }
        mixScalars(encoder.embedScalar, p, input: inScalars, output: cache.nodeScalars[0].buffer.base, nodes: n)
        mixVectors(encoder.embedVector, p, input: inVectors, output: cache.nodeVectors[0].buffer.base, nodes: n)
        if clean { zeroPaddedNodes(cache.nodeScalars[0], cache.nodeVectors[0], mask: cache.maskStorage) }

        realEdgeNorms(positions: cache.positions.base, count: n, norms: cache.norms.base)

        for (t, level) in encoder.levels.enumerated() {
            let levelCache = cache.levels[t]
            let scalarsIn = cache.nodeScalars[t], vectorsIn = cache.nodeVectors[t]
            let scalarsOut = cache.nodeScalars[t + 1], vectorsOut = cache.nodeVectors[t + 1]
            packRadialWeights(level, p, into: levelCache)
            encoderEdgeMessages(edgeArguments(level, p, level: t, cache: cache))
            selfInteraction(nodes: n, channels: level.inputChannels,
                            scalars: scalarsIn.buffer.base, vectors: vectorsIn.buffer.base,
                            concatScalars: levelCache.concatScalars.buffer.base,
                            concatVectors: levelCache.concatVectors.buffer.base)
            mixScalars(level.mixScalar, p, input: levelCache.concatScalars.buffer.base,
                       output: levelCache.mixedScalars.buffer.base, nodes: n)
            mixVectors(level.mixVector, p, input: levelCache.concatVectors.buffer.base,
                       output: vectorsOut.buffer.base, nodes: n)
            runScalarMLP(level.mlp, p, cache: levelCache.mlp, input: levelCache.mixedScalars, output: scalarsOut,
                         slope: config.leakyReLUSlope)
            if clean { zeroPaddedNodes(scalarsOut, vectorsOut, mask: cache.maskStorage) }
        }

        aggregateLatent(parameters: p, cache: cache)
    }

    /// Copies [L_0; L_1] of a level, transposed, and their biases into the cache (see
    /// `EncoderEdgeArguments.radialWeightsTransposed`).
    private func packRadialWeights(_ level: LMPLevelParameters, _ p: UnsafePointer<Double>, into cache: EncoderLevelCache) {
        let bellCount = level.bells.count, half = 2 * level.inputChannels, width = cache.radialStride
        let packed = cache.packedRadialWeights.base, bias = cache.packedRadialBias.base
        let bells = cache.bellParameters.base
        for k in 0..<bellCount {
            bells[k] = p[level.bells.a + k]
            bells[bellCount + k] = p[level.bells.b + k]
            bells[2 * bellCount + k] = p[level.bells.c + k]
        }
        for block in 0..<2 {
            let layer = block == 0 ? level.radialScalar : level.radialVector
            for o in 0..<half {
                bias[block * half + o] = p[layer.bias + o]
                for k in 0..<bellCount {
                    packed[k * width + block * half + o] = p[layer.weight + o * bellCount + k]
                }
            }
        }
    }

    /// §5.3: latent projection and aggregation.
    func aggregateLatent(parameters p: UnsafePointer<Double>, cache: EncoderCache) {
        let n = config.particleCount
        let encoder = layout.encoder
        let last = config.encoderChannels.count - 1
        let scalars = cache.nodeScalars[last], vectors = cache.nodeVectors[last]
        let latentScalars = cache.latentScalars.buffer.base, latentVectors = cache.latentVectors.buffer.base
        let clean = config.mode == .clean
        func eligible(_ i: Int) -> Bool { !clean || cache.maskStorage[i] }

        switch config.aggregation {
        case .mix:
            // One complex matrix over the N·C_L flattened channels; node-major storage already is
            // the particle-major order m = n·C_L + c, so the whole jet is one "node".
            mixScalars(encoder.latentScalar, p, input: scalars.buffer.base, output: latentScalars, nodes: 1)
            mixVectors(encoder.latentVector, p, input: vectors.buffer.base, output: latentVectors, nodes: 1)

        case .mean:
            let zs = cache.particleLatentScalars.buffer.base, zv = cache.particleLatentVectors.buffer.base
            mixScalars(encoder.latentScalar, p, input: scalars.buffer.base, output: zs, nodes: n)
            mixVectors(encoder.latentVector, p, input: vectors.buffer.base, output: zv, nodes: n)
            let k = config.latentVectorCount
            latentScalars.update(repeating: 0, count: 2)
            latentVectors.update(repeating: 0, count: 8 * k)
            var count = 0
            for i in 0..<n where eligible(i) {
                count += 1
                latentScalars[0] += zs[2 * i]
                latentScalars[1] += zs[2 * i + 1]
                for x in 0..<(8 * k) { latentVectors[x] += zv[8 * k * i + x] }
            }
            cache.averagedParticleCount = count
            if count > 0 {
                let scale = 1 / Double(count)
                for x in 0..<2 { latentScalars[x] *= scale }
                for x in 0..<(8 * k) { latentVectors[x] *= scale }
            }

        case .minMax:
            let zs = cache.particleLatentScalars.buffer.base, zv = cache.particleLatentVectors.buffer.base
            mixScalars(encoder.latentScalar, p, input: scalars.buffer.base, output: zs, nodes: n)
            mixVectors(encoder.latentVector, p, input: vectors.buffer.base, output: zv, nodes: n)
            let k = config.latentVectorCount

            // Scalars: min of Re and of Im separately; QUIRK (§5.3): max picks the largest
            // square, i.e. the largest |value| with its sign. First index wins ties.
            cache.selection.scalarMin.re = selectParticle(n, eligible, key: { zs[2 * $0] }, largest: false)
            cache.selection.scalarMin.im = selectParticle(n, eligible, key: { zs[2 * $0 + 1] }, largest: false)
            cache.selection.scalarMax.re = selectParticle(n, eligible, key: { zs[2 * $0] * zs[2 * $0] }, largest: true)
            cache.selection.scalarMax.im = selectParticle(n, eligible, key: { zs[2 * $0 + 1] * zs[2 * $0 + 1] }, largest: true)
            for slot in 0..<2 {
                let pick = slot == 0 ? cache.selection.scalarMin : cache.selection.scalarMax
                latentScalars[2 * slot] = pick.re >= 0 ? zs[2 * pick.re] : 0
                latentScalars[2 * slot + 1] = pick.im >= 0 ? zs[2 * pick.im + 1] : 0
            }

            // Vectors: Re part from the particle extremising η(Re Z, Re Z), Im part from the one
            // extremising η(Im Z, Im Z); Lorentz-invariant selections because Λ is real.
            for q in 0..<k {
                func square(_ i: Int, _ part: Int) -> Double {
                    let v = load4(zv + 8 * (i * k + q) + 4 * part)
                    return minkowski(v, v)
                }
                cache.selection.vectorMin[q].re = selectParticle(n, eligible, key: { square($0, 0) }, largest: false)
                cache.selection.vectorMin[q].im = selectParticle(n, eligible, key: { square($0, 1) }, largest: false)
                cache.selection.vectorMax[q].re = selectParticle(n, eligible, key: { square($0, 0) }, largest: true)
                cache.selection.vectorMax[q].im = selectParticle(n, eligible, key: { square($0, 1) }, largest: true)
                for slot in 0..<2 {
                    let pick = slot == 0 ? cache.selection.vectorMin[q] : cache.selection.vectorMax[q]
                    let out = latentVectors + 8 * (slot * k + q)
                    for part in 0..<2 {
                        let index = part == 0 ? pick.re : pick.im
                        if index >= 0 {
                            (out + 4 * part).update(from: zv + 8 * (index * k + q) + 4 * part, count: 4)
                        } else {
                            (out + 4 * part).update(repeating: 0, count: 4)
                        }
                    }
                }
            }
        }
    }
}

extension LGAEModel {
    /// Backward of `aggregateLatent` (§5.3), from the selections and counts the forward left in
    /// `cache`: ∂L/∂(latent scalars, latent vectors) → ADDS ∂L/∂(last-level node scalars and
    /// vectors) and the gradient of the latent projection u, U. Min-max routes each part's
    /// gradient to the particle the forward selected (first index on ties, as the forward), the
    /// piecewise derivative of min/max. `particleScalarGradients` (N×1 complex) and
    /// `particleVectorGradients` (N×k complex vectors) are scratch, used for min-max and mean.
    func aggregateLatentBackward(parameters p: UnsafePointer<Double>, cache: EncoderCache,
                                 latentScalarGradients gLS: UnsafePointer<Double>, latentVectorGradients gLV: UnsafePointer<Double>,
                                 gradients: UnsafeMutablePointer<Double>,
                                 scalarGradients: UnsafeMutablePointer<Double>, vectorGradients: UnsafeMutablePointer<Double>,
                                 particleScalarGradients gZs: UnsafeMutablePointer<Double>,
                                 particleVectorGradients gZv: UnsafeMutablePointer<Double>) {
        let n = config.particleCount, k = config.latentVectorCount
        let encoder = layout.encoder
        let last = config.encoderChannels.count - 1
        let scalars = cache.nodeScalars[last].buffer.base, vectors = cache.nodeVectors[last].buffer.base
        switch config.aggregation {
        case .mix:
            mixScalarsBackward(encoder.latentScalar, p, input: scalars, outputGradient: gLS, inputGradient: scalarGradients,
                               gradients: gradients, nodes: 1)
            mixVectorsBackward(encoder.latentVector, p, input: vectors, outputGradient: gLV, inputGradient: vectorGradients,
                               gradients: gradients, nodes: 1)
            return
        case .mean:
            let clean = config.mode == .clean
            let count = cache.averagedParticleCount
            let scale = count > 0 ? 1 / Double(count) : 0
            for i in 0..<n {
                let eligible = !clean || cache.maskStorage[i]
                for x in 0..<2 { gZs[2 * i + x] = eligible ? gLS[x] * scale : 0 }
                for x in 0..<(8 * k) { gZv[8 * k * i + x] = eligible ? gLV[x] * scale : 0 }
            }
        case .minMax:
            gZs.update(repeating: 0, count: 2 * n)
            gZv.update(repeating: 0, count: 8 * k * n)
            let selection = cache.selection
            for slot in 0..<2 {
                let pick = slot == 0 ? selection.scalarMin : selection.scalarMax
                if pick.re >= 0 { gZs[2 * pick.re] += gLS[2 * slot] }
                if pick.im >= 0 { gZs[2 * pick.im + 1] += gLS[2 * slot + 1] }
                for q in 0..<k {
                    let vectorPick = slot == 0 ? selection.vectorMin[q] : selection.vectorMax[q]
                    for part in 0..<2 {
                        let index = part == 0 ? vectorPick.re : vectorPick.im
                        guard index >= 0 else { continue }
                        let target = gZv + 8 * (index * k + q) + 4 * part
                        store4(load4(target) + load4(gLV + 8 * (slot * k + q) + 4 * part), target)
                    }
                }
            }
        }
        mixScalarsBackward(encoder.latentScalar, p, input: scalars, outputGradient: gZs, inputGradient: scalarGradients,
                           gradients: gradients, nodes: n)
        mixVectorsBackward(encoder.latentVector, p, input: vectors, outputGradient: gZv, inputGradient: vectorGradients,
                           gradients: gradients, nodes: n)
    }
}

/// The first eligible particle with the smallest (or largest) key; −1 if none is eligible.
@inline(__always)
private func selectParticle(_ n: Int, _ eligible: (Int) -> Bool, key: (Int) -> Double, largest: Bool) -> Int {
    var best = -1
    var bestKey = 0.0
    for i in 0..<n where eligible(i) {
        let value = key(i)
        if best < 0 || (largest ? value > bestKey : value < bestKey) {
            best = i
            bestKey = value
        }
    }
    return best
}

/// Clean mode: padded nodes carry no features.
func zeroPaddedNodes(_ scalars: NodeScalars, _ vectors: NodeVectors, mask: UnsafePointer<Bool>) {
    for i in 0..<scalars.nodes where !mask[i] {
        (scalars.buffer.base + 2 * scalars.channels * i).update(repeating: 0, count: 2 * scalars.channels)
        (vectors.buffer.base + 8 * vectors.channels * i).update(repeating: 0, count: 8 * vectors.channels)
    }
}

/// §4.7: the scalar MLP on every node, x = interleaved (Re, Im) of the mixed scalars, seven real
/// Linear layers for the default depth with LeakyReLU between them and none after the last.
func runScalarMLP(_ layers: [LinearView], _ p: UnsafePointer<Double>, cache: MLPCache,
                  input: NodeScalars, output: NodeScalars, slope: Double) {
    let n = cache.nodes, columns = cache.columns
    let features = 2 * input.channels
    let x0 = cache.inputs[0].base, s = input.buffer.base
    for f in 0..<features {
        for i in 0..<n { x0[f * columns + i] = s[i * features + f] }
    }
    for (j, layer) in layers.enumerated() {
        linearForward(layer, p, input: cache.inputs[j].base, output: cache.preActivations[j].base, columns: columns,
                      activated: j + 1 < layers.count ? cache.inputs[j + 1].base : nil, slope: slope)
    }
    let y = cache.preActivations[layers.count - 1].base, out = output.buffer.base
    for f in 0..<features {
        for i in 0..<n { out[i * features + f] = y[f * columns + i] }
    }
}

extension LGAEModel {
    /// The arguments of the fused edge kernel for encoder level `t`: the same for the forward call
    /// and its backward, which reads the packed radial weights and the per-row φ, R and norms
    /// (`edgeTensors`) the forward left in the cache. (The legacy row/φ/R fields point at the
    /// scratch; the kernels ignore them.)
    func edgeArguments(_ parameters: LMPLevelParameters, _ p: UnsafePointer<Double>, level t: Int,
                       cache: EncoderCache) -> EncoderEdgeArguments {
        let levelCache = cache.levels[t]
        return EncoderEdgeArguments(
            nodes: config.particleCount, channels: parameters.inputChannels, bellCount: parameters.bells.count,
            clean: config.mode == .clean,
            positions: cache.positions.base, mask: cache.maskStorage, norms: cache.norms.base,
            bellA: p + parameters.bells.a, bellB: p + parameters.bells.b, bellC: p + parameters.bells.c,
            radialStride: levelCache.radialStride,
            radialWeightsTransposed: levelCache.packedRadialWeights.base, radialBias: levelCache.packedRadialBias.base,
            scalars: cache.nodeScalars[t].buffer.base, vectors: cache.nodeVectors[t].buffer.base,
            rowScratch: cache.edgeScratch.base, phi: cache.edgeScratch.base, radial: cache.edgeScratch.base,
            concatScalars: levelCache.concatScalars.buffer.base, concatVectors: levelCache.concatVectors.buffer.base,
            scratch: cache.edgeScratch.base, edgeTensors: levelCache.edgeTensors.base)
    }
}
