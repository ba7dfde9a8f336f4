import SeededRandom

// The GNNAE baseline (paper App. A.2; lgae.md §12.1): a fully connected message-passing network
// (MPNN) autoencoder on the particles' relative polar features (pT_rel, η_rel, φ_rel), with a
// jet-level (JL) or particle-level (PL) latent space, in float64. This file holds the
// configuration, the parameter layout, the forward pass and the losses; GNNAE+Backward.swift holds
// the backward pass, MPNNKernels.swift the fused kernels both use.
//
// One MPNN layer t, node features x_i of width H_t (§12.1, exactly as the reference computes it):
//   e_ij = [x_i, x_j, d_ij],  d_ij = Σ_f (x_j,f − x_i,f + 1e-16)²   (squared; all j, j = i too)
//   m_i  = Σ_j EdgeNet_t(e_ij)
//   x_i ← NodeNet_t([m_i, x_i])                                     (message first, as the code)
// EdgeNet_t: Linear(2H_t+1 → e_1) … Linear(… → e_K); NodeNet_t: Linear(e_K + H_t → H_t),
// Linear(H_t → H_{t+1}); every Linear has a bias and is followed by LeakyReLU(0.2), the last
// NodeNet layer too (also the decoder's, so the reconstruction itself has passed a LeakyReLU).
// There is no mask: padded (zero) particles are ordinary nodes.

/// The GNNAE's configuration. The defaults are the paper's widths (A.5–A.7, matching the code's
/// node_sizes [[30],[15],[8]] and edge_sizes [[50,40,30],[30,30,30],[16,20,30]]); the decoder
/// widths are not in the paper and default to the encoder's (§12.1).
public struct GNNAEConfig: Hashable, Sendable, Codable {
    public enum Encoding: Hashable, Sendable, Codable {
        /// JL: the last NodeNet outputs δ = `latent` features per node, averaged over the nodes.
        case jetLevel(latent: Int)
        /// PL: the last NodeNet keeps H_T features, then a per-node Linear(H_T → `perNode`).
        case particleLevel(perNode: Int)
    }

    public var encoding: Encoding
    /// N, particles per jet (JetNet: 30).
    public var particleCount: Int
    /// Features per particle of the input and of the reconstruction (pT_rel, η_rel, φ_rel).
    public var particleFeatures: Int
    /// H_t of the encoder's MPNN layers; H_0 is the width the input is zero-padded to.
    public var encoderNodeWidths: [Int]
    /// The EdgeNet output widths of each encoder MPNN layer.
    public var encoderEdgeWidths: [[Int]]
    public var decoderNodeWidths: [Int]
    public var decoderEdgeWidths: [[Int]]
    /// The reference's alphas (encoder and decoder default 0.2).
    public var leakyReLUSlope: Double

    public static let paperNodeWidths = [30, 15, 8]
    public static let paperEdgeWidths = [[50, 40, 30], [30, 30, 30], [16, 20, 30]]

    public init(encoding: Encoding,
                particleCount: Int = 30,
                particleFeatures: Int = 3,
                encoderNodeWidths: [Int] = GNNAEConfig.paperNodeWidths,
                encoderEdgeWidths: [[Int]] = GNNAEConfig.paperEdgeWidths,
                decoderNodeWidths: [Int]? = nil,
                decoderEdgeWidths: [[Int]]? = nil,
                leakyReLUSlope: Double = 0.2) {
        self.encoding = encoding
        self.particleCount = particleCount
        self.particleFeatures = particleFeatures
        self.encoderNodeWidths = encoderNodeWidths
        self.encoderEdgeWidths = encoderEdgeWidths
        self.decoderNodeWidths = decoderNodeWidths ?? encoderNodeWidths
        self.decoderEdgeWidths = decoderEdgeWidths ?? encoderEdgeWidths
        self.leakyReLUSlope = leakyReLUSlope
    }

    /// The number of latent numbers per jet: δ (JL) or N·d (PL).
    public var latentCount: Int {
        switch encoding {
        case .jetLevel(let latent): return latent
        case .particleLevel(let perNode): return particleCount * perNode
        }
    }

    /// The compression rate as the paper computes it for the GNNAE: latent numbers over the
    /// N·3 input numbers (JL dim 45 → 45/90 = 50.00 %; PL 2×30 → 60/90 = 66.67 %, Tables 2–4).
    public var compressionRate: Double {
        Double(latentCount) / Double(particleCount * particleFeatures)
    }

    /// The output width of the encoder's last NodeNet: δ = dim L (JL) or H_T (PL, "8 → 8").
    var encoderOutputWidth: Int {
        switch encoding {
        case .jetLevel(let latent): return latent
        case .particleLevel: return encoderNodeWidths[encoderNodeWidths.count - 1]
        }
    }

    public func validate() throws {
        func check(_ ok: Bool, _ message: @autoclosure () -> String) throws {
            if !ok { throw GNNAEConfigError(description: "GNNAEConfig: " + message()) }
        }
        try check(particleCount >= 1, "particleCount must be at least 1, got \(particleCount)")
        try check(particleFeatures >= 1, "particleFeatures must be at least 1, got \(particleFeatures)")
        switch encoding {
        case .jetLevel(let latent): try check(latent >= 1, "the jet-level latent dimension must be at least 1, got \(latent)")
        case .particleLevel(let d): try check(d >= 1, "the particle-level latent width must be at least 1, got \(d)")
        }
        for (name, nodes, edges) in [("encoder", encoderNodeWidths, encoderEdgeWidths),
                                     ("decoder", decoderNodeWidths, decoderEdgeWidths)] {
            try check(!nodes.isEmpty, "\(name)NodeWidths is empty; it needs one width per MPNN layer")
            try check(nodes.count == edges.count,
                      "\(name)NodeWidths has \(nodes.count) layers but \(name)EdgeWidths has \(edges.count)")
            try check(nodes.allSatisfy { $0 >= 1 }, "\(name)NodeWidths \(nodes) must all be at least 1")
            try check(edges.allSatisfy { !$0.isEmpty && $0.allSatisfy { $0 >= 1 } },
                      "\(name)EdgeWidths \(edges) needs at least one width ≥ 1 per layer")
        }
        try check(encoderNodeWidths[0] >= particleFeatures,
                  "encoderNodeWidths[0] = \(encoderNodeWidths[0]) is smaller than the \(particleFeatures) particle features it pads")
    }
}

public struct GNNAEConfigError: Error, CustomStringConvertible, Equatable {
    public let description: String
}

// MARK: - Parameter layout

/// One named block of the flat parameter buffer, row-major with the given shape.
public struct GNNAEParameterBlock: Hashable, Sendable {
    public let name: String
    public let offset: Int
    public let shape: [Int]
    /// PyTorch's Linear default: weight and bias ~ U(−bound, bound), bound = 1/√fan_in.
    public let bound: Double

    public var count: Int { shape.reduce(1, *) }
    public var range: Range<Int> { offset..<(offset + count) }
}

/// A Linear layer y = W·x + b: W row-major (outputs × inputs) at `weight`, b at `bias`.
public struct GNNAELinear: Hashable, Sendable {
    public let outputs: Int
    public let inputs: Int
    public let weight: Int
    public let bias: Int

    public var parameterCount: Int { outputs * inputs + outputs }
}

/// The parameters of one MPNN layer: EdgeNet (input 2H+1) and NodeNet (input e_K + H).
public struct GNNAEMessagePassingLayer: Hashable, Sendable {
    /// H, the width of the node features the layer reads.
    public let nodeWidth: Int
    public let edgeNet: [GNNAELinear]
    public let nodeNet: [GNNAELinear]

    public var outputWidth: Int { nodeNet[nodeNet.count - 1].outputs }
    public var messageWidth: Int { edgeNet[edgeNet.count - 1].outputs }
}

/// The named blocks of the GNNAE's flat parameter buffer: the encoder MPNN, (PL) the encoder's
/// per-node latent Linear, the decoder's input Linear, the decoder MPNN, in that order.
public struct GNNAEParameterLayout: Hashable, Sendable {
    public let blocks: [GNNAEParameterBlock]
    public let count: Int
    /// The encoder's blocks are offsets 0..<encoderCount.
    public let encoderCount: Int
    public let encoder: [GNNAEMessagePassingLayer]
    /// PL: Linear(H_T → d) per node, no activation. nil for JL.
    public let encoderLatent: GNNAELinear?
    /// JL: Linear(L → N·H_0) with bias and no activation, reshaped to (N, H_0).
    /// PL: Linear(d → H_0) per node, no activation.
    public let decoderInput: GNNAELinear
    public let decoder: [GNNAEMessagePassingLayer]

    public var decoderCount: Int { count - encoderCount }

    /// The block called `name`, e.g. "encoder.mp0.edge0.weight" or "decoder.input.bias".
    public func block(named name: String) -> GNNAEParameterBlock {
        guard let block = blocks.first(where: { $0.name == name }) else {
            preconditionFailure("GNNAEParameterLayout has no block named \"\(name)\"; its blocks are: "
                                + blocks.map(\.name).joined(separator: ", "))
        }
        return block
    }

    public init(config: GNNAEConfig) {
        do { try config.validate() } catch { preconditionFailure("\(error)") }
        var blocks: [GNNAEParameterBlock] = []
        var offset = 0
        func linear(_ name: String, outputs: Int, inputs: Int) -> GNNAELinear {
            let bound = 1 / Double(inputs).squareRoot()
            let weight = GNNAEParameterBlock(name: name + ".weight", offset: offset, shape: [outputs, inputs], bound: bound)
            let bias = GNNAEParameterBlock(name: name + ".bias", offset: weight.range.upperBound, shape: [outputs], bound: bound)
            blocks += [weight, bias]
            offset = bias.range.upperBound
            return GNNAELinear(outputs: outputs, inputs: inputs, weight: weight.offset, bias: bias.offset)
        }
        func mpnn(_ prefix: String, nodeWidths: [Int], edgeWidths: [[Int]], output: Int) -> [GNNAEMessagePassingLayer] {
            nodeWidths.indices.map { t in
                let h = nodeWidths[t], edges = edgeWidths[t]
                let next = t + 1 < nodeWidths.count ? nodeWidths[t + 1] : output
                var inputs = 2 * h + 1
                let edgeNet = edges.indices.map { l in
                    defer { inputs = edges[l] }
                    return linear("\(prefix).mp\(t).edge\(l)", outputs: edges[l], inputs: inputs)
                }
                let nodeNet = [linear("\(prefix).mp\(t).node0", outputs: h, inputs: edges[edges.count - 1] + h),
                               linear("\(prefix).mp\(t).node1", outputs: next, inputs: h)]
                return GNNAEMessagePassingLayer(nodeWidth: h, edgeNet: edgeNet, nodeNet: nodeNet)
            }
        }
        encoder = mpnn("encoder", nodeWidths: config.encoderNodeWidths, edgeWidths: config.encoderEdgeWidths,
                       output: config.encoderOutputWidth)
        let decoderWidth = config.decoderNodeWidths[0]
        switch config.encoding {
        case .jetLevel(let latent):
            encoderLatent = nil
            encoderCount = offset
            decoderInput = linear("decoder.input", outputs: config.particleCount * decoderWidth, inputs: latent)
        case .particleLevel(let perNode):
            encoderLatent = linear("encoder.latent", outputs: perNode, inputs: config.encoderOutputWidth)
            encoderCount = offset
            decoderInput = linear("decoder.input", outputs: decoderWidth, inputs: perNode)
        }
        decoder = mpnn("decoder", nodeWidths: config.decoderNodeWidths, edgeWidths: config.decoderEdgeWidths,
                       output: config.particleFeatures)
        self.blocks = blocks
        count = offset
    }

    /// A parameter buffer drawn as PyTorch's Linear default, U(−1/√fan_in, 1/√fan_in) for weights
    /// and biases: blocks in layout order from one xoshiro256** stream seeded with `seed`, element
    /// by element in row-major order, each value bound·(2·U[0,1) − 1).
    public func initialParameters(seed: UInt64) -> [Double] {
        var rng = Xoshiro256StarStar(seed: seed)
        var parameters = [Double](repeating: 0, count: count)
        for block in blocks {
            for x in block.range { parameters[x] = block.bound * (2 * rng.nextUniform() - 1) }
        }
        return parameters
    }
}

// MARK: - Losses

/// The GNNAE's training losses (lgae.md §9, §12.1) on one jet: the reconstruction x and the
/// target y are both N × 3 relative polar features (the unpadded 3 features), padded target
/// particles (zeros) included. A batch loss is the sum (Chamfer terms, as the reference) or the
/// mean (MSE, nn.MSELoss over B·N·3 entries) of these per-jet values; the trainer applies that.
public enum GNNAELoss: String, Sendable, Codable, CaseIterable {
    /// PL: the mean over the N·3 entries of (x − y)², slot i against particle i.
    case mse
    /// JL, as the reference meant it: the Chamfer distance on squared Euclidean distances
    /// D_ij = ||x_i − y_j||², Σ_i min_j D_ij + Σ_j min_i D_ij. Normalisation: the GNNAE repository's
    /// ChamferLoss sums min_pq + min_qp with NO factor ½ (utils/losses/chamfer_loss), so this is
    /// twice the LGAE's ½(…) of §9; Adam is insensitive to the factor, the L1 term is not.
    case chamfer
    /// JL, as the reference computes it (QUIRK/BUG, §12.1): its ChamferLoss returns only the
    /// "jet" term ||Σ_i x_i − Σ_i y_i||², the Chamfer term is computed and dropped.
    case chamferJetTermOnly

    /// The loss of one jet; if `gradient` is given, ∂L/∂x is WRITTEN there (N × features).
    /// On ties in the Chamfer minima the first index wins (as torch.min) and the gradient is that
    /// of the selected branch.
    public func evaluate(reconstruction x: UnsafePointer<Double>, target y: UnsafePointer<Double>,
                         particles n: Int, features: Int = 3,
                         gradient: UnsafeMutablePointer<Double>? = nil) -> Double {
        let count = n * features
        switch self {
        case .mse:
            var sum = 0.0
            for e in 0..<count {
                let t = x[e] - y[e]
                sum += t * t
            }
            if let gradient {
                let scale = 2 / Double(count)
                for e in 0..<count { gradient[e] = scale * (x[e] - y[e]) }
            }
            return sum / Double(count)

        case .chamfer:
            @inline(__always) func distance(_ i: Int, _ j: Int) -> Double {
                var s = 0.0
                for f in 0..<features {
                    let t = x[i * features + f] - y[j * features + f]
                    s += t * t
                }
                return s
            }
            gradient?.update(repeating: 0, count: count)
            var loss = 0.0
            // Every reconstructed particle to its nearest target particle: ∂/∂x_i = 2(x_i − y_j*).
            for i in 0..<n {
                var best = 0, bestD = distance(i, 0)
                for j in 1..<n {
                    let d = distance(i, j)
                    if d < bestD { best = j; bestD = d }
                }
                loss += bestD
                if let gradient {
                    for f in 0..<features { gradient[i * features + f] += 2 * (x[i * features + f] - y[best * features + f]) }
                }
            }
            // Every target particle to its nearest reconstructed particle: ∂/∂x_i* = 2(x_i* − y_j).
            for j in 0..<n {
                var best = 0, bestD = distance(0, j)
                for i in 1..<n {
                    let d = distance(i, j)
                    if d < bestD { best = i; bestD = d }
                }
                loss += bestD
                if let gradient {
                    for f in 0..<features { gradient[best * features + f] += 2 * (x[best * features + f] - y[j * features + f]) }
                }
            }
            return loss

        case .chamferJetTermOnly:
            // L = Σ_f (Σ_i x_if − Σ_i y_if)², so ∂L/∂x_if = 2(Σ_i x_if − Σ_i y_if) for every i.
            var loss = 0.0
            for f in 0..<features {
                var sx = 0.0, sy = 0.0
                for i in 0..<n {
                    sx += x[i * features + f]
                    sy += y[i * features + f]
                }
                let t = sx - sy
                loss += t * t
                if let gradient {
                    for i in 0..<n { gradient[i * features + f] = 2 * t }
                }
            }
            return loss
        }
    }

    /// `evaluate` on arrays (N × features each).
    public func evaluate(reconstruction x: [Double], target y: [Double], particles n: Int, features: Int = 3) -> Double {
        precondition(x.count == n * features && y.count == n * features,
                     "GNNAELoss: reconstruction (\(x.count)) and target (\(y.count)) must both have \(n)×\(features) numbers")
        return evaluate(reconstruction: x, target: y, particles: n, features: features, gradient: nil)
    }
}

// MARK: - Model

/// The GNNAE: configuration, parameter layout and the flat parameter buffer. Forward and backward
/// passes are pure functions of (parameters, jet) that use a `GNNAEWorkspace` for all buffers.
public struct GNNAEModel: Sendable {
    public let config: GNNAEConfig
    public let layout: GNNAEParameterLayout
    public var parameters: [Double]

    /// A model initialised from `seed` (see `GNNAEParameterLayout.initialParameters(seed:)`).
    public init(config: GNNAEConfig, seed: UInt64) {
        self.config = config
        layout = GNNAEParameterLayout(config: config)
        parameters = layout.initialParameters(seed: seed)
    }

    /// A model with the given parameter buffer, laid out as `GNNAEParameterLayout(config:)`.
    public init(config: GNNAEConfig, parameters: [Double]) {
        self.config = config
        layout = GNNAEParameterLayout(config: config)
        precondition(parameters.count == layout.count,
                     "GNNAEModel: the parameter buffer has \(parameters.count) numbers but this configuration's layout needs \(layout.count)")
        self.parameters = parameters
    }

    /// Buffers for one thread's forward and backward passes.
    public func makeWorkspace() -> GNNAEWorkspace { GNNAEWorkspace(config: config, layout: layout) }

    /// The reconstruction (N × 3, row-major) and the latent (JL: δ; PL: N × d row-major) of one jet
    /// given as N × 3 relative polar features (pT_rel, η_rel, φ_rel), zero-padded particles included.
    public func forward(jet: [Double], workspace: GNNAEWorkspace) -> (output: [Double], latent: [Double]) {
        checkJet(jet, "jet")
        checkWorkspace(workspace)
        parameters.withUnsafeBufferPointer { p in
            jet.withUnsafeBufferPointer { x in workspace.forward(parameters: p.baseAddress!, jet: x.baseAddress!) }
        }
        return (workspace.reconstruction(), workspace.latent())
    }

    public func forward(jet: [Double]) -> (output: [Double], latent: [Double]) {
        forward(jet: jet, workspace: makeWorkspace())
    }

    /// The loss of one jet against its target (both N × 3), forward pass only; allocates nothing.
    public func loss(jet: [Double], target: [Double], loss: GNNAELoss, workspace: GNNAEWorkspace) -> Double {
        checkJet(jet, "jet")
        checkJet(target, "target")
        checkWorkspace(workspace)
        return parameters.withUnsafeBufferPointer { p in
            jet.withUnsafeBufferPointer { x in
                target.withUnsafeBufferPointer { y in
                    workspace.forward(parameters: p.baseAddress!, jet: x.baseAddress!)
                    return workspace.evaluateLoss(loss, target: y.baseAddress!, withGradient: false)
                }
            }
        }
    }

    func checkWorkspace(_ workspace: GNNAEWorkspace) {
        precondition(workspace.config == config, "GNNAEModel: the workspace was made for another configuration")
    }

    func checkJet(_ values: [Double], _ what: String) {
        precondition(values.count == config.particleCount * config.particleFeatures,
                     "GNNAEModel: the \(what) has \(values.count) numbers but needs \(config.particleCount)×\(config.particleFeatures)")
    }
}

// MARK: - Workspace and forward pass

/// The buffers of one MPNN layer: its packed Linears, the stored activations the backward pass
/// reads, and the gradients it writes. `input` is the previous layer's output buffer (or the
/// network input), so layers chain without copies.
final class MPNNLayerWorkspace {
    let nodes: Int
    /// H and its padded width.
    let width: Int
    let paddedWidth: Int
    let edgeNet: [MPNNPackedLinear]
    let nodeNet: [MPNNPackedLinear]
    /// Receivers per tile: the EdgeNet runs tile by tile (all N senders of each receiver), so a
    /// tile's activations stay in cache from one EdgeNet layer to the next.
    let tileReceivers: Int

    /// x (N × H_p), not owned.
    let input: UnsafeMutablePointer<Double>
    /// a_i = W_a·x_i + b and b_j = W_b·x_j (N × e_1p).
    let receiverHalf: UnsafeMutablePointer<Double>
    let senderHalf: UnsafeMutablePointer<Double>
    /// d_ij at i·N + j.
    let distances: UnsafeMutablePointer<Double>
    /// The activations of every EdgeNet layer l, N² × e_lp, edge (i, j) at row i·N + j.
    let edgeActivations: [UnsafeMutablePointer<Double>]
    /// The NodeNet input [m_i | x_i], N × (e_Kp + H_p).
    let nodeInput: UnsafeMutablePointer<Double>
    /// The NodeNet activations, N × (padded outputs) per layer; the last is the layer's output.
    let nodeActivations: [UnsafeMutablePointer<Double>]

    // Backward.
    /// ∂L/∂(NodeNet activations) per layer; the caller writes ∂L/∂output into the last.
    let nodeGradients: [UnsafeMutablePointer<Double>]
    let nodeInputGradients: UnsafeMutablePointer<Double>
    let receiverGradients: UnsafeMutablePointer<Double>
    let senderGradients: UnsafeMutablePointer<Double>
    /// ∂L/∂x (N × H_p), written by the backward pass when the input gradient is wanted.
    let inputGradients: UnsafeMutablePointer<Double>

    var output: UnsafeMutablePointer<Double> { nodeActivations[nodeActivations.count - 1] }
    var outputGradients: UnsafeMutablePointer<Double> { nodeGradients[nodeGradients.count - 1] }
    var messageWidth: Int { edgeNet[edgeNet.count - 1].paddedOutputs }
    var nodeInputWidth: Int { messageWidth + paddedWidth }
    var paddedOutputWidth: Int { nodeNet[nodeNet.count - 1].paddedOutputs }

    init(_ layer: GNNAEMessagePassingLayer, nodes n: Int, input: UnsafeMutablePointer<Double>,
         tileReceivers: Int, arena: MPNNArena) {
        nodes = n
        width = layer.nodeWidth
        paddedWidth = mpnnPadded(width)
        self.tileReceivers = tileReceivers
        self.input = input
        let hp = paddedWidth
        // The first EdgeNet Linear reads [x_i (H_p) | x_j (H_p) | d_ij (1, padded to 4)]: its packed
        // Wᵀ rows 0..<H_p are W_aᵀ, rows H_p..<2H_p are W_bᵀ and row 2H_p is w_d.
        var edgeNet = [MPNNPackedLinear(layer.edgeNet[0], pieces: [(width, 0), (width, hp), (1, 2 * hp)],
                                        paddedInputs: 2 * hp + 4, arena: arena)]
        for l in 1..<layer.edgeNet.count { edgeNet.append(MPNNPackedLinear(layer.edgeNet[l], arena: arena)) }
        self.edgeNet = edgeNet
        let mp = edgeNet[edgeNet.count - 1].paddedOutputs
        var nodeNet = [MPNNPackedLinear(layer.nodeNet[0], pieces: [(layer.messageWidth, 0), (width, mp)],
                                        paddedInputs: mp + hp, arena: arena)]
        for l in 1..<layer.nodeNet.count { nodeNet.append(MPNNPackedLinear(layer.nodeNet[l], arena: arena)) }
        self.nodeNet = nodeNet
        let e1 = edgeNet[0].paddedOutputs
        receiverHalf = arena.allocate(n * e1)
        senderHalf = arena.allocate(n * e1)
        distances = arena.allocate(n * n)
        edgeActivations = edgeNet.map { arena.allocate(n * n * $0.paddedOutputs) }
        nodeInput = arena.allocate(n * (mp + hp))
        nodeActivations = nodeNet.map { arena.allocate(n * $0.paddedOutputs) }
        nodeGradients = nodeNet.map { arena.allocate(n * $0.paddedOutputs) }
        nodeInputGradients = arena.allocate(n * (mp + hp))
        receiverGradients = arena.allocate(n * e1)
        senderGradients = arena.allocate(n * e1)
        inputGradients = arena.allocate(n * hp)
    }

    func pack(_ parameters: UnsafePointer<Double>) {
        for layer in edgeNet { layer.pack(parameters) }
        for layer in nodeNet { layer.pack(parameters) }
    }

    /// The tiles of receivers, in order.
    @inline(__always)
    func forEachTile(_ body: (Range<Int>) -> Void) {
        var first = 0
        while first < nodes {
            let last = min(nodes, first + tileReceivers)
            body(first..<last)
            first = last
        }
    }

    /// One MPNN layer: EdgeNet on all N² edges, messages, NodeNet. Reads `input`, fills `output`.
    func forward(slope: Double) {
        let n = nodes, hp = paddedWidth
        let first = edgeNet[0], e1 = first.paddedOutputs
        mpnnEdgeInputNodeHalvesForward(first, nodes: n, paddedWidth: hp, x: input, receiverHalf: receiverHalf, senderHalf: senderHalf)
        let distanceWeights = first.weightsTransposed + 2 * hp * e1
        let mp = messageWidth, nodeStride = nodeInputWidth
        forEachTile { receivers in
            let rows = receivers.count * n, firstRow = receivers.lowerBound * n
            mpnnEdgeInputForward(receivers: receivers, nodes: n, features: width, x: input, xStride: hp,
                                 receiverHalf: receiverHalf, senderHalf: senderHalf, distanceWeights: distanceWeights,
                                 width: e1, slope: slope, distances: distances,
                                 output: edgeActivations[0] + firstRow * e1)
            for l in 1..<edgeNet.count {
                let layer = edgeNet[l]
                layer.forward(rows: rows, input: edgeActivations[l - 1] + firstRow * layer.paddedInputs,
                              output: edgeActivations[l] + firstRow * layer.paddedOutputs, slope: slope)
            }
            mpnnMessageForward(receivers: receivers, nodes: n, width: mp,
                               edges: edgeActivations[edgeNet.count - 1] + firstRow * mp,
                               messages: nodeInput, messageStride: nodeStride)
        }
        // [m_i | x_i]: the message first, as the code (the paper writes x ⊕ m).
        for i in 0..<n {
            (nodeInput + i * nodeStride + mp).update(from: input + i * hp, count: hp)
        }
        var x = UnsafePointer(nodeInput)
        for (l, layer) in nodeNet.enumerated() {
            layer.forward(rows: n, input: x, output: nodeActivations[l], slope: slope)
            x = UnsafePointer(nodeActivations[l])
        }
    }
}

/// Every buffer of one thread's forward and backward passes, allocated once (reuse it for every
/// jet; a workspace must not be shared between threads).
public final class GNNAEWorkspace: @unchecked Sendable {
    let config: GNNAEConfig
    let layout: GNNAEParameterLayout
    let arena = MPNNArena()
    let encoder: [MPNNLayerWorkspace]
    let decoder: [MPNNLayerWorkspace]
    /// The zero-padded encoder input, N × H_0p.
    let encoderInput: UnsafeMutablePointer<Double>
    /// The decoder's node input, N × H_0p (decoder widths).
    let decoderInput: UnsafeMutablePointer<Double>
    /// JL: δ; PL: N × d.
    let latentValues: UnsafeMutablePointer<Double>
    let latentGradients: UnsafeMutablePointer<Double>
    /// The reconstruction and ∂L/∂reconstruction, compact N × 3.
    let reconstructionValues: UnsafeMutablePointer<Double>
    let reconstructionGradients: UnsafeMutablePointer<Double>
    /// ∂L/∂(decoder input), N × H_0p.
    let decoderInputGradients: UnsafeMutablePointer<Double>
    /// JL: the decoder input Linear's output row (N·H_0) and its gradient, before the reshape.
    let decoderInputRow: UnsafeMutablePointer<Double>
    let decoderInputRowGradients: UnsafeMutablePointer<Double>
    let backwardScratch: MPNNBackwardScratch

    /// `tileReceivers`: receivers per EdgeNet tile; by default about 64 edges per tile.
    init(config: GNNAEConfig, layout: GNNAEParameterLayout, tileReceivers: Int? = nil) {
        self.config = config
        self.layout = layout
        let n = config.particleCount
        let tile = max(1, tileReceivers ?? 64 / n)
        encoderInput = arena.allocate(n * mpnnPadded(config.encoderNodeWidths[0]))
        decoderInput = arena.allocate(n * mpnnPadded(config.decoderNodeWidths[0]))
        func chain(_ layers: [GNNAEMessagePassingLayer], input: UnsafeMutablePointer<Double>, arena: MPNNArena) -> [MPNNLayerWorkspace] {
            var x = input
            return layers.map { layer in
                let w = MPNNLayerWorkspace(layer, nodes: n, input: x, tileReceivers: tile, arena: arena)
                x = w.output
                return w
            }
        }
        encoder = chain(layout.encoder, input: encoderInput, arena: arena)
        decoder = chain(layout.decoder, input: decoderInput, arena: arena)
        latentValues = arena.allocate(config.latentCount)
        latentGradients = arena.allocate(config.latentCount)
        reconstructionValues = arena.allocate(n * config.particleFeatures)
        reconstructionGradients = arena.allocate(n * config.particleFeatures)
        decoderInputGradients = arena.allocate(n * mpnnPadded(config.decoderNodeWidths[0]))
        decoderInputRow = arena.allocate(n * config.decoderNodeWidths[0])
        decoderInputRowGradients = arena.allocate(n * config.decoderNodeWidths[0])
        let widest = (encoder + decoder).flatMap { $0.edgeNet.map(\.paddedOutputs) }.max()!
        let tileRows = min(tile, n) * n
        backwardScratch = MPNNBackwardScratch(tileGradients: arena.allocate(tileRows * widest),
                                              spareTileGradients: arena.allocate(tileRows * widest),
                                              distanceGradients: arena.allocate(n * n))
    }

    /// The forward pass of one jet (N × 3): fills every buffer the backward pass reads.
    func forward(parameters p: UnsafePointer<Double>, jet: UnsafePointer<Double>) {
        let n = config.particleCount, features = config.particleFeatures
        let slope = config.leakyReLUSlope
        for layer in encoder { layer.pack(p) }
        for layer in decoder { layer.pack(p) }

        // Zero-pad the 3 features to H_0 (the padding was zeroed at allocation and is never written).
        let inputStride = encoder[0].paddedWidth
        for i in 0..<n {
            for f in 0..<features { encoderInput[i * inputStride + f] = jet[i * features + f] }
        }
        for layer in encoder { layer.forward(slope: slope) }

        let last = encoder[encoder.count - 1], stride = last.paddedOutputWidth
        let decoderStride = decoder[0].paddedWidth, decoderWidth = decoder[0].width
        switch config.encoding {
        case .jetLevel(let latent):
            mpnnMeanOverNodesForward(nodes: n, width: latent, input: last.output, stride: stride, output: latentValues)
            // Linear(L → N·H_0) with bias and no activation; output o = i·H_0 + f is node i's feature f.
            mpnnRowLinearForward(layout.decoderInput, p, rows: 1, input: latentValues, inputStride: latent,
                                 output: decoderInputRow, outputStride: n * decoderWidth)
            for i in 0..<n {
                (decoderInput + i * decoderStride).update(from: decoderInputRow + i * decoderWidth, count: decoderWidth)
            }
        case .particleLevel(let perNode):
            // Per node: latent = Linear(H_T → d)(x), then Linear(d → H_0)(latent), both without an
            // activation. The spec leaves the decoder's per-node layer open; the code's
            // nn.Linear(latent_node_size, node_sizes[0][0]) has none, so neither has this one.
            mpnnRowLinearForward(layout.encoderLatent!, p, rows: n, input: last.output, inputStride: stride,
                                 output: latentValues, outputStride: perNode)
            mpnnRowLinearForward(layout.decoderInput, p, rows: n, input: latentValues, inputStride: perNode,
                                 output: decoderInput, outputStride: decoderStride)
        }

        for layer in decoder { layer.forward(slope: slope) }
        let out = decoder[decoder.count - 1].output, outStride = decoder[decoder.count - 1].paddedOutputWidth
        for i in 0..<n {
            for f in 0..<features { reconstructionValues[i * features + f] = out[i * outStride + f] }
        }
    }

    /// The loss of the last forward pass; with `withGradient`, also ∂L/∂reconstruction.
    func evaluateLoss(_ loss: GNNAELoss, target: UnsafePointer<Double>, withGradient: Bool) -> Double {
        loss.evaluate(reconstruction: reconstructionValues, target: target, particles: config.particleCount,
                      features: config.particleFeatures, gradient: withGradient ? reconstructionGradients : nil)
    }

    func reconstruction() -> [Double] {
        Array(UnsafeBufferPointer(start: reconstructionValues, count: config.particleCount * config.particleFeatures))
    }

    func latent() -> [Double] {
        Array(UnsafeBufferPointer(start: latentValues, count: config.latentCount))
    }
}
