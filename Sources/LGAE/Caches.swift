// Per-jet workspaces of the forward pass. They hold every intermediate the hand-written backward
// passes need (lgae.md §4–§6), and they are allocated once and refilled for every jet, so a
// forward pass allocates nothing in its hot loops. One thread uses one cache at a time.
//
// What the backward pass of each step reads:
//   W^(0)            inputScalars / inputVectors (encoder), positions P and constantScalars (decoder)
//   edges (encoder)  positions, mask and the level's parameters (φ and R are recomputed row by row)
//   edges (decoder)  per level the node sums ΣS, ΣV, ΣS·P, Ση(V, P) and the positions P
//   self-interaction the level's input features, nodeScalars[t] / nodeVectors[t]
//   mixing           the concatenations concatScalars / concatVectors
//   scalar MLP       every Linear layer's input and pre-activation (MLPCache)
//   latent           per-particle projections and the min/max selection indices (or the count
//                    averaged for mean; mix reads the last level's features)
//   complex → real   the complex output vectors

/// The scalar MLP of one level (§4.7), feature-major: feature f of node n is at f·columns + n,
/// with `columns` = N rounded up to a multiple of 8 (the extra columns are never read back).
public final class MLPCache {
    public let nodes: Int
    public let columns: Int
    /// Layer widths: [2C, w·2C, …, w·2C, 2C].
    public let widths: [Int]
    /// inputs[j] is the input of Linear j (widths[j] × columns); inputs[0] holds the level's mixed
    /// scalars S' interleaved (Re S'[0], Im S'[0], Re S'[1], …), inputs[j+1] = LeakyReLU(preActivations[j]).
    public let inputs: [DoubleBuffer]
    /// preActivations[j] is the output of Linear j (widths[j+1] × columns); the last one is the
    /// MLP output S'' (interleaved), which has no activation.
    public let preActivations: [DoubleBuffer]

    init(layers: [LinearView], nodes: Int) {
        self.nodes = nodes
        let columns = (nodes + 7) / 8 * 8
        self.columns = columns
        widths = [layers[0].inputs] + layers.map(\.outputs)
        inputs = layers.map { DoubleBuffer(count: $0.inputs * columns) }
        preActivations = layers.map { DoubleBuffer(count: $0.outputs * columns) }
    }

    /// Feature f of node n of inputs[layer].
    public func input(layer: Int, feature: Int, node: Int) -> Double {
        inputs[layer][feature * columns + node]
    }

    /// Feature f of node n of preActivations[layer].
    public func preActivation(layer: Int, feature: Int, node: Int) -> Double {
        preActivations[layer][feature * columns + node]
    }
}

/// One encoder LMP level (§4): edges, concatenation, mixing, MLP.
public final class EncoderLevelCache {
    public let inputChannels: Int
    public let outputChannels: Int
    public let bellCount: Int
    public let nodes: Int
    /// 4C rounded up to a multiple of 16: the row stride of the packed radial weights.
    public let radialStride: Int
    /// [L_0; L_1] weights transposed to (K × radialStride) and their biases (radialStride),
    /// refreshed every pass so the edge kernel reads them contiguously.
    let packedRadialWeights: DoubleBuffer
    let packedRadialBias: DoubleBuffer
    /// The bell parameters a, b, c of the last pass (3 × K), for `bellValues` and
    /// `radialCoefficient`: the edge kernel keeps φ and R only row by row, so these accessors
    /// recompute them, with the kernel's arithmetic, from the parameters and the encoder's norms.
    let bellParameters: DoubleBuffer
    /// The encoder's signed norms (N×N) and node mask (1 real, 0 padded), shared with its cache.
    let norms: DoubleBuffer
    let maskValues: DoubleBuffer
    let clean: Bool
    /// φ and R of every row of the last pass, in the edge kernels' layout (`EdgeScratchLayout`):
    /// the forward fills them, the backward reads them.
    let edgeTensors: DoubleBuffer
    /// The concatenations of §4.6: scalars [A_s2, A_s1, S, Q_s2, Q_s1], vectors [A_v2, A_v1, V, Q_v, Q_v].
    public let concatScalars: NodeScalars
    public let concatVectors: NodeVectors
    /// S' = W_s·cat_s, the mixed scalars before the MLP. (The mixed vectors V' are the level's
    /// output vectors, `EncoderCache.nodeVectors[t + 1]`.)
    public let mixedScalars: NodeScalars
    public let mlp: MLPCache

    init(level: LMPLevelParameters, nodes: Int, norms: DoubleBuffer, maskValues: DoubleBuffer, clean: Bool) {
        inputChannels = level.inputChannels
        outputChannels = level.outputChannels
        bellCount = level.bells.count
        self.nodes = nodes
        radialStride = (4 * level.inputChannels + 15) / 16 * 16
        packedRadialWeights = DoubleBuffer(count: level.bells.count * radialStride)
        packedRadialBias = DoubleBuffer(count: radialStride)
        bellParameters = DoubleBuffer(count: 3 * level.bells.count)
        self.norms = norms
        self.maskValues = maskValues
        self.clean = clean
        edgeTensors = DoubleBuffer(count: EdgeScratchLayout(nodes: nodes, channels: level.inputChannels,
                                                            bellCount: level.bells.count).tensorCount)
        concatScalars = NodeScalars(nodes: nodes, channels: 5 * level.inputChannels)
        concatVectors = NodeVectors(nodes: nodes, channels: 5 * level.inputChannels)
        mixedScalars = NodeScalars(nodes: nodes, channels: level.outputChannels)
        mlp = MLPCache(layers: level.mlp, nodes: nodes)
    }

    private func isLive(_ i: Int, _ j: Int) -> Bool {
        precondition(i >= 0 && i < nodes && j >= 0 && j < nodes, "edge (\(i), \(j)) out of \(nodes) nodes")
        return maskValues[i] > 0 && maskValues[j] > 0
    }

    /// The K bell values φ_k(i, j) of the last pass (§4.2); 0 for an edge that is not live.
    public func bellValues(_ i: Int, _ j: Int) -> [Double] {
        let live = isLive(i, j)
        let norm = norms[i * nodes + j]
        return (0..<bellCount).map { k in
            live ? lorentzianBell(a: bellParameters[k], b: bellParameters[bellCount + k], c: bellParameters[2 * bellCount + k],
                                  norm: norm) : 0
        }
    }

    /// R_0(i, j)[c] (scalar edge) and R_1(i, j)[c] (vector edge) of the last pass.
    public func radialCoefficient(irrep l: Int, _ i: Int, _ j: Int, channel c: Int) -> Complex {
        precondition(l == 0 || l == 1, "radial coefficients exist for l = 0 (scalar) and l = 1 (vector), not \(l)")
        precondition(c >= 0 && c < inputChannels, "channel \(c) out of \(inputChannels)")
        if clean && !isLive(i, j) { return .zero }
        let phi = bellValues(i, j)
        func value(_ o: Int) -> Double {
            var acc = packedRadialBias[o]
            for k in 0..<bellCount { acc = acc.addingProduct(packedRadialWeights[k * radialStride + o], phi[k]) }
            return acc
        }
        let o = l * 2 * inputChannels + 2 * c
        return Complex(value(o), value(o + 1))
    }
}

/// Which particle each latent min/max component was taken from (§5.3); −1 where no particle
/// was eligible (a clean-mode jet without real particles).
public struct MinMaxSelection: Hashable, Sendable {
    public struct Indices: Hashable, Sendable {
        /// The particle whose real part was taken.
        public var re: Int
        /// The particle whose imaginary part was taken.
        public var im: Int
    }
    public var scalarMin = Indices(re: -1, im: -1)
    public var scalarMax = Indices(re: -1, im: -1)
    /// One entry per latent channel q = 0..<k.
    public var vectorMin: [Indices]
    public var vectorMax: [Indices]

    init(latentVectorCount k: Int) {
        vectorMin = Array(repeating: Indices(re: -1, im: -1), count: k)
        vectorMax = vectorMin
    }
}

/// Everything the encoder computed for one jet.
public final class EncoderCache {
    public let config: LGAEConfig
    /// The edge positions x_i = p_i (N×4 real), a copy of the input jet.
    public let positions: DoubleBuffer
    let maskStorage: UnsafeMutablePointer<Bool>
    /// The encoder's scalar input s_i = sqrt|η(p_i, p_i)| as complex scalars (imaginary part 0),
    /// N × 1 (§5.1).
    public let inputScalars: NodeScalars
    /// The input vectors p_i (imaginary part 0), N × 1.
    public let inputVectors: NodeVectors
    /// Signed Minkowski norms of all pairs, N×N (§4.1); shared by every level.
    public let norms: DoubleBuffer
    /// The mask as numbers (1 real, 0 padded), N.
    let maskValues: DoubleBuffer
    /// Scratch of the edge kernels (`EdgeScratchLayout`), sized for the widest level; the forward
    /// and the backward of one level use it in turn.
    let edgeScratch: DoubleBuffer
    /// Node features after W^(0) (index 0) and after each level t (index t + 1).
    public let nodeScalars: [NodeScalars]
    public let nodeVectors: [NodeVectors]
    public let levels: [EncoderLevelCache]
    /// Per-particle latent projection (min-max and mean): Z_s,i (N × 1) and Z_v,i[q] (N × k).
    public let particleLatentScalars: NodeScalars
    public let particleLatentVectors: NodeVectors
    /// Min-max only: where each latent component came from.
    public internal(set) var selection: MinMaxSelection
    /// Mean only: how many particles were averaged (N in faithful mode, the real ones in clean).
    public internal(set) var averagedParticleCount: Int = 0
    /// The latent, as one node: scalars (1 × τ_s) and vectors (1 × τ_v).
    public let latentScalars: NodeScalars
    public let latentVectors: NodeVectors

    public init(config: LGAEConfig) {
        let layout = ParameterLayout(config: config)
        let n = config.particleCount
        self.config = config
        positions = DoubleBuffer(count: 4 * n)
        maskStorage = .allocate(capacity: n)
        maskStorage.initialize(repeating: false, count: n)
        inputScalars = NodeScalars(nodes: n, channels: 1)
        inputVectors = NodeVectors(nodes: n, channels: 1)
        let norms = DoubleBuffer(count: n * n), maskValues = DoubleBuffer(count: n)
        self.norms = norms
        self.maskValues = maskValues
        edgeScratch = DoubleBuffer(count: layout.encoder.levels.map {
            EdgeScratchLayout(nodes: n, channels: $0.inputChannels, bellCount: $0.bells.count).count
        }.max() ?? 0)
        nodeScalars = config.encoderChannels.map { NodeScalars(nodes: n, channels: $0) }
        nodeVectors = config.encoderChannels.map { NodeVectors(nodes: n, channels: $0) }
        levels = layout.encoder.levels.map {
            EncoderLevelCache(level: $0, nodes: n, norms: norms, maskValues: maskValues, clean: config.mode == .clean)
        }
        particleLatentScalars = NodeScalars(nodes: n, channels: 1)
        particleLatentVectors = NodeVectors(nodes: n, channels: config.latentVectorCount)
        selection = MinMaxSelection(latentVectorCount: config.latentVectorCount)
        latentScalars = NodeScalars(nodes: 1, channels: config.latentScalarCount)
        latentVectors = NodeVectors(nodes: 1, channels: config.latentVectorTotal)
    }

    deinit {
        maskStorage.deallocate()
    }

    /// The node mask of the last jet encoded.
    public var mask: [Bool] { Array(UnsafeBufferPointer(start: maskStorage, count: config.particleCount)) }

    /// The latent of the last jet encoded.
    public var latent: Latent {
        Latent(scalars: (0..<latentScalars.channels).map { latentScalars[0, $0] },
               vectors: (0..<latentVectors.channels).map { latentVectors[0, $0] })
    }
}

/// Sums over nodes that make the decoder's messages O(N) (§4.2: its radial coefficients are the
/// constants β_l·(1+i), so Σ_j over pairs factorises).
public final class DecoderLevelCache {
    public let inputChannels: Int
    public let outputChannels: Int
    /// Σ_j S_j[c] (1 × C).
    public let sumScalars: NodeScalars
    /// Σ_j V_j[c].
    public let sumVectors: NodeVectors
    /// Σ_j S_j[c]·P_j.
    public let sumScalarPositions: NodeVectors
    /// Σ_j η(V_j[c], P_j).
    public let sumVectorPositionProducts: NodeScalars
    public let concatScalars: NodeScalars
    public let concatVectors: NodeVectors
    public let mixedScalars: NodeScalars
    /// nil for the last level: its MLP only feeds the discarded output scalar (§6.5), so it is
    /// not evaluated (its parameters exist and get zero gradient).
    public let mlp: MLPCache?

    init(level: LMPLevelParameters, nodes: Int, isLast: Bool) {
        inputChannels = level.inputChannels
        outputChannels = level.outputChannels
        sumScalars = NodeScalars(nodes: 1, channels: level.inputChannels)
        sumVectors = NodeVectors(nodes: 1, channels: level.inputChannels)
        sumScalarPositions = NodeVectors(nodes: 1, channels: level.inputChannels)
        sumVectorPositionProducts = NodeScalars(nodes: 1, channels: level.inputChannels)
        concatScalars = NodeScalars(nodes: nodes, channels: 5 * level.inputChannels)
        concatVectors = NodeVectors(nodes: nodes, channels: 5 * level.inputChannels)
        mixedScalars = NodeScalars(nodes: nodes, channels: level.outputChannels)
        mlp = isLast ? nil : MLPCache(layers: level.mlp, nodes: nodes)
    }
}

/// Everything the decoder computed for one latent.
public final class DecoderCache {
    public let config: LGAEConfig
    /// The latent vectors decoded, as one node (1 × τ_v).
    public let latentVectors: NodeVectors
    /// The node vectors P_n = Σ_q G_v[n, q]·Z_v[q] (N × 1), also the decoder's edge positions (§6.1, §6.3).
    public let positions: NodeVectors
    /// The constant scalar input (1+i) of every node (N × 1, §6.2).
    let constantScalars: NodeScalars
    /// Node scalars after W^(0) (index 0) and after levels 0..<L−1; the last level's output
    /// scalars are dead (§6.5) and not computed.
    public let nodeScalars: [NodeScalars]
    /// Node vectors after W^(0) (index 0) and after each level t (index t + 1).
    public let nodeVectors: [NodeVectors]
    public let levels: [DecoderLevelCache]
    /// The complex output vectors O_n (N × 1), before the complex → real rule.
    public let complexOutput: NodeVectors
    /// The real output, N×4 row-major (E, px, py, pz).
    public let output: DoubleBuffer

    public init(config: LGAEConfig) {
        let layout = ParameterLayout(config: config)
        let n = config.particleCount
        self.config = config
        latentVectors = NodeVectors(nodes: 1, channels: config.latentVectorTotal)
        positions = NodeVectors(nodes: n, channels: 1)
        constantScalars = NodeScalars(nodes: n, channels: 1)
        for node in 0..<n { constantScalars[node, 0] = LorentzScalar(Complex.onePlusI) }
        nodeScalars = config.decoderChannels.dropLast().map { NodeScalars(nodes: n, channels: $0) }
        nodeVectors = config.decoderChannels.map { NodeVectors(nodes: n, channels: $0) }
        let levelCount = layout.decoder.levels.count
        levels = layout.decoder.levels.enumerated().map {
            DecoderLevelCache(level: $0.element, nodes: n, isLast: $0.offset == levelCount - 1)
        }
        complexOutput = NodeVectors(nodes: n, channels: 1)
        output = DoubleBuffer(count: 4 * n)
    }

    /// The real output as N rows of (E, px, py, pz).
    public var outputParticles: [SIMD4<Double>] {
        (0..<config.particleCount).map { load4(output.base + 4 * $0) }
    }
}
