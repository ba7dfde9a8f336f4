// The whole-model backward pass: the reverse of runEncoder (Encoder.swift) and runDecoder
// (Decoder.swift), step by step in reverse order, from the caches their forward filled. Every
// piece is a backward kernel with its own finite-difference test; this file only chains them.

/// Gradient buffers of one encoder pass, the shapes of the EncoderCache's, allocated once.
public final class EncoderGradientWorkspace {
    let nodeScalars: [DoubleBuffer]
    let nodeVectors: [DoubleBuffer]
    let concatScalars: [DoubleBuffer]
    let concatVectors: [DoubleBuffer]
    let mixedScalars: [DoubleBuffer]
    let mlp: [MLPBackwardWorkspace]
    let particleScalars: DoubleBuffer
    let particleVectors: DoubleBuffer
    /// ∂L/∂(latent scalars) as the decoder leaves it: zero (§6.1 QUIRK, the latent scalar is dead).
    let deadLatentScalars: DoubleBuffer

    public init(cache: EncoderCache) {
        let config = cache.config, n = config.particleCount
        nodeScalars = config.encoderChannels.map { DoubleBuffer(count: 2 * $0 * n) }
        nodeVectors = config.encoderChannels.map { DoubleBuffer(count: 8 * $0 * n) }
        concatScalars = cache.levels.map { DoubleBuffer(count: 10 * $0.inputChannels * n) }
        concatVectors = cache.levels.map { DoubleBuffer(count: 40 * $0.inputChannels * n) }
        mixedScalars = cache.levels.map { DoubleBuffer(count: 2 * $0.outputChannels * n) }
        mlp = cache.levels.map { MLPBackwardWorkspace(cache: $0.mlp) }
        particleScalars = DoubleBuffer(count: 2 * n)
        particleVectors = DoubleBuffer(count: 8 * config.latentVectorCount * n)
        deadLatentScalars = DoubleBuffer(count: 2 * config.latentScalarCount)
    }
}

/// Gradient buffers of one decoder pass, the shapes of the DecoderCache's, allocated once.
public final class DecoderGradientWorkspace {
    let nodeScalars: [DoubleBuffer]
    let nodeVectors: [DoubleBuffer]
    let concatScalars: [DoubleBuffer]
    let concatVectors: [DoubleBuffer]
    let mixedScalars: [DoubleBuffer]
    let mlp: [MLPBackwardWorkspace?]
    let complexOutput: DoubleBuffer
    /// ∂L/∂P, the decoded node vectors, which are both W^(0)'s input and the edge positions.
    let positions: DoubleBuffer
    /// ∂L/∂(latent vectors), 1 × τ_v complex 4-vectors: the decoder's result for the encoder.
    public let latentVectors: DoubleBuffer

    public init(cache: DecoderCache) {
        let config = cache.config, n = config.particleCount
        nodeScalars = config.decoderChannels.map { DoubleBuffer(count: 2 * $0 * n) }
        nodeVectors = config.decoderChannels.map { DoubleBuffer(count: 8 * $0 * n) }
        concatScalars = cache.levels.map { DoubleBuffer(count: 10 * $0.inputChannels * n) }
        concatVectors = cache.levels.map { DoubleBuffer(count: 40 * $0.inputChannels * n) }
        mixedScalars = cache.levels.map { DoubleBuffer(count: 2 * $0.outputChannels * n) }
        mlp = cache.levels.map { level in level.mlp.map { MLPBackwardWorkspace(cache: $0) } }
        complexOutput = DoubleBuffer(count: 8 * n)
        positions = DoubleBuffer(count: 8 * n)
        latentVectors = DoubleBuffer(count: 8 * config.latentVectorTotal)
    }
}

extension LGAEModel {
    /// Backward of a level's output side, the same in encoder and decoder (§4.5–§4.7): the scalar
    /// MLP and the two channel mixes, then the self-interaction slots of the concatenation. The edge
    /// messages differ between encoder and decoder and stay with the caller. `mlp` is nil where the
    /// level's scalars are dead (the decoder's last level); the scalar mix then gets no gradient either.
    func levelMixingBackward(_ level: LMPLevelParameters, _ p: UnsafePointer<Double>,
                             mlp: (cache: MLPCache, workspace: MLPBackwardWorkspace)?,
                             concatScalars: UnsafeMutablePointer<Double>, concatVectors: UnsafeMutablePointer<Double>,
                             scalarsIn: UnsafeMutablePointer<Double>, vectorsIn: UnsafeMutablePointer<Double>,
                             outputScalarGradients: UnsafeMutablePointer<Double>,
                             outputVectorGradients: UnsafeMutablePointer<Double>,
                             mixedScalarGradients: UnsafeMutablePointer<Double>,
                             concatScalarGradients: UnsafeMutablePointer<Double>,
                             concatVectorGradients: UnsafeMutablePointer<Double>,
                             scalarGradients: UnsafeMutablePointer<Double>, vectorGradients: UnsafeMutablePointer<Double>,
                             gradients: UnsafeMutablePointer<Double>) {
        let n = config.particleCount
        if let mlp {
            scalarMLPBackward(level.mlp, p, cache: mlp.cache, workspace: mlp.workspace,
                              outputGradient: outputScalarGradients, inputGradient: mixedScalarGradients,
                              gradients: gradients, slope: config.leakyReLUSlope)
            mixScalarsBackward(level.mixScalar, p, input: concatScalars, outputGradient: mixedScalarGradients,
                               inputGradient: concatScalarGradients, gradients: gradients, nodes: n)
        }
        mixVectorsBackward(level.mixVector, p, input: concatVectors, outputGradient: outputVectorGradients,
                           inputGradient: concatVectorGradients, gradients: gradients, nodes: n)
        selfInteractionBackward(nodes: n, channels: level.inputChannels, scalars: scalarsIn, vectors: vectorsIn,
                                concatScalarGradients: concatScalarGradients, concatVectorGradients: concatVectorGradients,
                                scalarGradients: scalarGradients, vectorGradients: vectorGradients)
    }
}

extension LGAEModel {
    /// Reverse of `runDecoder`: from ∂L/∂(real output) (N×4, e.g. a loss gradient) ADDS the
    /// decoder's parameter gradients to `gradients` and leaves ∂L/∂(latent vectors) in
    /// `workspace.latentVectors`. The latent scalars get no gradient: the decoder never uses them
    /// (§6.1 QUIRK), and neither do G_s, the decoder's a, b, c and radial weights (§4.2 QUIRK).
    func runDecoderBackward(parameters p: UnsafePointer<Double>, cache: DecoderCache, workspace w: DecoderGradientWorkspace,
                            outputGradient: UnsafePointer<Double>, gradients: UnsafeMutablePointer<Double>) {
        let n = config.particleCount
        let decoder = layout.decoder
        for buffer in w.nodeScalars { buffer.setZero() }
        for buffer in w.nodeVectors { buffer.setZero() }
        w.positions.setZero()
        w.latentVectors.setZero()

        applyComplexToRealBackward(config.complexToReal, complex: cache.complexOutput.buffer.base,
                                   realGradient: outputGradient, complexGradient: w.complexOutput.base, particles: n)
        let last = cache.nodeVectors.count - 1
        mixVectorsBackward(decoder.outputVector, p, input: cache.nodeVectors[last].buffer.base,
                           outputGradient: w.complexOutput.base, inputGradient: w.nodeVectors[last].base,
                           gradients: gradients, nodes: n)

        for (t, level) in decoder.levels.enumerated().reversed() {
            let levelCache = cache.levels[t]
            w.concatScalars[t].setZero()
            w.concatVectors[t].setZero()
            let scalarsIn = cache.nodeScalars[t], vectorsIn = cache.nodeVectors[t]
            let mlp = levelCache.mlp.flatMap { c in w.mlp[t].map { (cache: c, workspace: $0) } }
            levelMixingBackward(
                level, p, mlp: mlp,
                concatScalars: levelCache.concatScalars.buffer.base, concatVectors: levelCache.concatVectors.buffer.base,
                scalarsIn: scalarsIn.buffer.base, vectorsIn: vectorsIn.buffer.base,
                outputScalarGradients: w.nodeScalars[t + 1].base, outputVectorGradients: w.nodeVectors[t + 1].base,
                mixedScalarGradients: w.mixedScalars[t].base,
                concatScalarGradients: w.concatScalars[t].base, concatVectorGradients: w.concatVectors[t].base,
                scalarGradients: w.nodeScalars[t].base, vectorGradients: w.nodeVectors[t].base, gradients: gradients)
            decoderMessagesBackward(level, p, positions: cache.positions, scalars: scalarsIn, vectors: vectorsIn,
                                    cache: levelCache, concatScalarGradients: w.concatScalars[t].base,
                                    concatVectorGradients: w.concatVectors[t].base, gradients: gradients,
                                    scalarGradients: w.nodeScalars[t].base, vectorGradients: w.nodeVectors[t].base,
                                    positionGradients: w.positions.base)
        }

        // §6.2: the scalar input is the constant (1+i), so only W^(0)'s weights get a gradient.
        mixScalarsBackward(decoder.embedScalar, p, input: cache.constantScalars.buffer.base,
                           outputGradient: w.nodeScalars[0].base, inputGradient: nil, gradients: gradients, nodes: n)
        mixVectorsBackward(decoder.embedVector, p, input: cache.positions.buffer.base,
                           outputGradient: w.nodeVectors[0].base, inputGradient: w.positions.base, gradients: gradients, nodes: n)
        mixVectorsBackward(decoder.latentVector, p, input: cache.latentVectors.buffer.base,
                           outputGradient: w.positions.base, inputGradient: w.latentVectors.base, gradients: gradients, nodes: 1)
    }

    /// Reverse of `runEncoder`: from ∂L/∂(latent scalars) and ∂L/∂(latent vectors) ADDS the
    /// encoder's parameter gradients. The input jet is data, so no input gradient is kept.
    func runEncoderBackward(parameters p: UnsafePointer<Double>, cache: EncoderCache, workspace w: EncoderGradientWorkspace,
                            latentScalarGradients: UnsafePointer<Double>, latentVectorGradients: UnsafePointer<Double>,
                            gradients: UnsafeMutablePointer<Double>) {
        let n = config.particleCount
        let clean = config.mode == .clean
        let encoder = layout.encoder
        for buffer in w.nodeScalars { buffer.setZero() }
        for buffer in w.nodeVectors { buffer.setZero() }
        let last = config.encoderChannels.count - 1
        aggregateLatentBackward(parameters: p, cache: cache, latentScalarGradients: latentScalarGradients,
                                latentVectorGradients: latentVectorGradients, gradients: gradients,
                                scalarGradients: w.nodeScalars[last].base, vectorGradients: w.nodeVectors[last].base,
                                particleScalarGradients: w.particleScalars.base, particleVectorGradients: w.particleVectors.base)

        // Clean mode overwrote padded nodes with zeros, so nothing flows back through them.
        func zeroPadded(_ t: Int) {
            guard clean else { return }
            let cs = config.encoderChannels[t]
            for i in 0..<n where !cache.maskStorage[i] {
                (w.nodeScalars[t].base + 2 * cs * i).update(repeating: 0, count: 2 * cs)
                (w.nodeVectors[t].base + 8 * cs * i).update(repeating: 0, count: 8 * cs)
            }
        }
        for (t, level) in encoder.levels.enumerated().reversed() {
            let levelCache = cache.levels[t]
            zeroPadded(t + 1)
            w.concatScalars[t].setZero()
            w.concatVectors[t].setZero()
            let scalarsIn = cache.nodeScalars[t], vectorsIn = cache.nodeVectors[t]
            levelMixingBackward(
                level, p, mlp: (cache: levelCache.mlp, workspace: w.mlp[t]),
                concatScalars: levelCache.concatScalars.buffer.base, concatVectors: levelCache.concatVectors.buffer.base,
                scalarsIn: scalarsIn.buffer.base, vectorsIn: vectorsIn.buffer.base,
                outputScalarGradients: w.nodeScalars[t + 1].base, outputVectorGradients: w.nodeVectors[t + 1].base,
                mixedScalarGradients: w.mixedScalars[t].base,
                concatScalarGradients: w.concatScalars[t].base, concatVectorGradients: w.concatVectors[t].base,
                scalarGradients: w.nodeScalars[t].base, vectorGradients: w.nodeVectors[t].base, gradients: gradients)
            encoderEdgeMessagesBackward(edgeArguments(level, p, level: t, cache: cache), EncoderEdgeGradientArguments(
                parameters: p, bells: level.bells, radialScalar: level.radialScalar, radialVector: level.radialVector,
                concatScalarGradients: w.concatScalars[t].base, concatVectorGradients: w.concatVectors[t].base,
                gradients: gradients, scalarGradients: w.nodeScalars[t].base, vectorGradients: w.nodeVectors[t].base,
                // The encoder's edge positions are data: no position gradient is asked for.
                positionGradients: nil))
        }
        zeroPadded(0)
        mixScalarsBackward(encoder.embedScalar, p, input: cache.inputScalars.buffer.base,
                           outputGradient: w.nodeScalars[0].base, inputGradient: nil, gradients: gradients, nodes: n)
        mixVectorsBackward(encoder.embedVector, p, input: cache.inputVectors.buffer.base,
                           outputGradient: w.nodeVectors[0].base, inputGradient: nil, gradients: gradients, nodes: n)
    }
}

extension LGAEModel {
    /// The parameter gradient of one jet: the reverse of `reconstruct(_:encoderCache:decoderCache:)`,
    /// which must have just run on the same jet with the same parameters (the caches hold its
    /// intermediates). `outputGradient` is ∂L/∂(real output), N×4, e.g. from `chamferLoss` or
    /// `mseLoss`; the result is ADDED to `gradients`, so a batch accumulates.
    public func backward(encoderCache: EncoderCache, decoderCache: DecoderCache,
                         encoderWorkspace: EncoderGradientWorkspace, decoderWorkspace: DecoderGradientWorkspace,
                         outputGradient: [Double], gradients: inout ParameterGradients) {
        precondition(outputGradient.count == 4 * config.particleCount,
                     "backward: outputGradient has \(outputGradient.count) numbers but the output is \(config.particleCount)×4")
        precondition(gradients.layout == layout, "backward: the ParameterGradients were made for another layout; make them with ParameterGradients(layout: model.layout)")
        parameters.withUnsafeBufferPointer { p in
            gradients.values.withUnsafeMutableBufferPointer { g in
                runDecoderBackward(parameters: p.baseAddress!, cache: decoderCache, workspace: decoderWorkspace,
                                   outputGradient: outputGradient, gradients: g.baseAddress!)
                runEncoderBackward(parameters: p.baseAddress!, cache: encoderCache, workspace: encoderWorkspace,
                                   latentScalarGradients: encoderWorkspace.deadLatentScalars.base,
                                   latentVectorGradients: decoderWorkspace.latentVectors.base, gradients: g.baseAddress!)
            }
        }
    }
}
