// The GNNAE's backward pass, layer by layer the reverse of GNNAE.swift's forward pass. Parameter
// gradients are summed per jet first (the packed MPNN layers in their own accumulators, the latent
// maps over their rows) and then added to the caller's gradient buffer, so a jet contributes
// exactly one addition per parameter and a trainer that sums jets in a fixed order gets the same
// bits every time.

extension GNNAEModel {
    /// The loss of one jet against its target (both N × 3 relative polar features, row-major),
    /// and its gradient with respect to every parameter ADDED to `gradient` (the layout of
    /// `parameters`). Allocates nothing; `workspace` must not be shared between threads.
    @discardableResult
    public func lossAndGradient(jet: [Double], target: [Double], loss: GNNAELoss, workspace: GNNAEWorkspace,
                                accumulatingInto gradient: inout [Double]) -> Double {
        checkJet(jet, "jet")
        checkJet(target, "target")
        return jet.withUnsafeBufferPointer { x in
            target.withUnsafeBufferPointer { y in
                gradient.withUnsafeMutableBufferPointer { g in
                    lossAndGradient(jet: x, target: y, loss: loss, workspace: workspace, accumulatingInto: g)
                }
            }
        }
    }

    /// `lossAndGradient` on raw buffers (e.g. one jet of a flat array of jets).
    @discardableResult
    public func lossAndGradient(jet: UnsafeBufferPointer<Double>, target: UnsafeBufferPointer<Double>, loss: GNNAELoss,
                                workspace: GNNAEWorkspace, accumulatingInto gradient: UnsafeMutableBufferPointer<Double>) -> Double {
        let count = config.particleCount * config.particleFeatures
        precondition(jet.count == count && target.count == count,
                     "GNNAEModel.lossAndGradient: jet (\(jet.count)) and target (\(target.count)) must both have \(config.particleCount)×\(config.particleFeatures) numbers")
        precondition(gradient.count == layout.count,
                     "GNNAEModel.lossAndGradient: the gradient buffer has \(gradient.count) numbers but the layout has \(layout.count)")
        checkWorkspace(workspace)
        return parameters.withUnsafeBufferPointer { p in
            workspace.forward(parameters: p.baseAddress!, jet: jet.baseAddress!)
            let value = workspace.evaluateLoss(loss, target: target.baseAddress!, withGradient: true)
            workspace.backward(parameters: p.baseAddress!, gradient: gradient.baseAddress!)
            return value
        }
    }
}

/// Scratch shared by the MPNN layers' backward passes: two tile-sized gradient buffers that the
/// EdgeNet layers ping-pong between, and ∂L/∂d_ij of all pairs.
struct MPNNBackwardScratch {
    let tileGradients: UnsafeMutablePointer<Double>
    let spareTileGradients: UnsafeMutablePointer<Double>
    let distanceGradients: UnsafeMutablePointer<Double>
}

extension MPNNLayerWorkspace {
    /// Backward of `forward`, from ∂L/∂output in `outputGradients` (N × padded outputs; it is
    /// overwritten). Accumulates the packed layers' gradients and, if `inputGradient` is true,
    /// WRITES ∂L/∂x to `inputGradients`.
    func backward(slope: Double, scratch: MPNNBackwardScratch, inputGradient: Bool) {
        let n = nodes, hp = paddedWidth
        // NodeNet, last layer first: ∂L/∂h → ∂L/∂z (LeakyReLU'), then the Linear.
        let last = nodeNet.count - 1
        mpnnLeakyReLUBackward(count: n * nodeNet[last].paddedOutputs, activations: nodeActivations[last],
                              gradients: nodeGradients[last], slope: slope)
        for l in nodeNet.indices.reversed() {
            // Layer l's input gradient is layer l − 1's ∂L/∂z (through its LeakyReLU in the same
            // pass), except for the first layer, whose input [m_i | x_i] has no activation.
            nodeNet[l].backward(rows: n, input: l == 0 ? nodeInput : nodeActivations[l - 1], outputGradient: nodeGradients[l],
                                inputGradient: l == 0 ? nodeInputGradients : nodeGradients[l - 1],
                                inputSlope: l == 0 ? nil : slope)
        }
        // EdgeNet, tile by tile: ∂L/∂m_i → every edge of i → the dense layers → the first layer.
        let first = edgeNet[0], e1 = first.paddedOutputs, mp = messageWidth
        receiverGradients.update(repeating: 0, count: n * e1)
        senderGradients.update(repeating: 0, count: n * e1)
        let distanceWeights = first.weightsTransposed + 2 * hp * e1
        let distanceWeightGradients = first.weightGradientsTransposed + 2 * hp * e1
        forEachTile { receivers in
            let rows = receivers.count * n, firstRow = receivers.lowerBound * n
            var g = scratch.tileGradients, spare = scratch.spareTileGradients
            mpnnMessageBackward(receivers: receivers, nodes: n, width: mp,
                                edges: edgeActivations[edgeNet.count - 1] + firstRow * mp,
                                messageGradients: nodeInputGradients, messageStride: nodeInputWidth,
                                edgeGradients: g, slope: slope)
            for l in stride(from: edgeNet.count - 1, to: 0, by: -1) {
                let layer = edgeNet[l]
                let x = edgeActivations[l - 1] + firstRow * layer.paddedInputs
                layer.backward(rows: rows, input: x, outputGradient: g, inputGradient: spare, inputSlope: slope)
                swap(&g, &spare)
            }
            mpnnEdgeInputBackward(receivers: receivers, nodes: n, width: e1, gradients: g, distances: distances,
                                  distanceWeights: distanceWeights, receiverGradients: receiverGradients,
                                  senderGradients: senderGradients, distanceWeightGradients: distanceWeightGradients,
                                  distanceGradients: scratch.distanceGradients)
        }
        // x reaches the output through the NodeNet input [m_i | x_i], both node halves and d_ij.
        let gx: UnsafeMutablePointer<Double>? = inputGradient ? inputGradients : nil
        if let gx {
            let nodeStride = nodeInputWidth
            for i in 0..<n {
                (gx + i * hp).update(from: nodeInputGradients + i * nodeStride + mp, count: hp)
            }
        }
        mpnnEdgeInputNodeHalvesBackward(first, nodes: n, paddedWidth: hp, x: input, receiverGradients: receiverGradients,
                                        senderGradients: senderGradients, inputGradients: gx)
        if let gx {
            mpnnDistanceBackward(nodes: n, features: width, x: input, xStride: hp, distanceGradients: scratch.distanceGradients,
                                 inputGradients: gx)
        }
    }
}

extension GNNAEWorkspace {
    /// Backward of the last `forward`, from ∂L/∂reconstruction in `reconstructionGradients`: ADDS
    /// ∂L/∂θ to `gradient` (the parameter layout).
    func backward(parameters p: UnsafePointer<Double>, gradient: UnsafeMutablePointer<Double>) {
        let n = config.particleCount, features = config.particleFeatures
        let slope = config.leakyReLUSlope
        forEachPackedLinear { $0.zeroGradients() }
        let scratch = backwardScratch

        let out = decoder[decoder.count - 1]
        let outStride = out.paddedOutputWidth
        out.outputGradients.update(repeating: 0, count: n * outStride)
        for i in 0..<n {
            for f in 0..<features { out.outputGradients[i * outStride + f] = reconstructionGradients[i * features + f] }
        }
        // Decoder layers, last first; each writes ∂L/∂x into the previous layer's output gradient.
        for t in decoder.indices.reversed() {
            decoder[t].backward(slope: slope, scratch: scratch, inputGradient: true)
            let target = t > 0 ? decoder[t - 1].outputGradients : decoderInputGradients
            target.update(from: decoder[t].inputGradients, count: n * decoder[t].paddedWidth)
        }

        let last = encoder[encoder.count - 1], stride = last.paddedOutputWidth
        let decoderStride = decoder[0].paddedWidth, decoderWidth = decoder[0].width
        let upstream = last.outputGradients
        upstream.update(repeating: 0, count: n * stride)
        switch config.encoding {
        case .jetLevel(let latent):
            for i in 0..<n {
                (decoderInputRowGradients + i * decoderWidth).update(from: decoderInputGradients + i * decoderStride, count: decoderWidth)
            }
            mpnnRowLinearBackward(layout.decoderInput, p, rows: 1, input: latentValues, inputStride: latent,
                                  outputGradients: decoderInputRowGradients, outputStride: n * decoderWidth,
                                  gradients: gradient, inputGradients: latentGradients, inputGradientStride: latent)
            mpnnMeanOverNodesBackward(nodes: n, width: latent, outputGradients: latentGradients, inputGradients: upstream, stride: stride)
        case .particleLevel(let perNode):
            mpnnRowLinearBackward(layout.decoderInput, p, rows: n, input: latentValues, inputStride: perNode,
                                  outputGradients: decoderInputGradients, outputStride: decoderStride,
                                  gradients: gradient, inputGradients: latentGradients, inputGradientStride: perNode)
            mpnnRowLinearBackward(layout.encoderLatent!, p, rows: n, input: last.output, inputStride: stride,
                                  outputGradients: latentGradients, outputStride: perNode,
                                  gradients: gradient, inputGradients: upstream, inputGradientStride: stride)
        }

        for t in encoder.indices.reversed() {
            encoder[t].backward(slope: slope, scratch: scratch, inputGradient: t > 0)
            if t > 0 {
                encoder[t - 1].outputGradients.update(from: encoder[t].inputGradients, count: n * encoder[t].paddedWidth)
            }
        }
        forEachPackedLinear { $0.addGradients(into: gradient) }
    }
}

extension GNNAEWorkspace {
    /// Every packed Linear, encoder then decoder, EdgeNet then NodeNet, in layer order.
    @inline(__always)
    func forEachPackedLinear(_ body: (MPNNPackedLinear) -> Void) {
        for layer in encoder {
            for packed in layer.edgeNet { body(packed) }
            for packed in layer.nodeNet { body(packed) }
        }
        for layer in decoder {
            for packed in layer.edgeNet { body(packed) }
            for packed in layer.nodeNet { body(packed) }
        }
    }
}
