import Training

// Every learnable number of the LGAE lives in ONE flat [Double] buffer. The layout below names
// each block and gives typed offset views of it, so that Adam and the L1 regulariser (§9) can run
// over one array, and a gradient buffer of the same length shares the same layout.

/// How a block is drawn at initialisation (§7).
public enum ParameterInitialisation: Hashable, Sendable {
    /// i.i.d. N(0, σ²).
    case gaussian(standardDeviation: Double)
    /// i.i.d. Uniform(−bound, +bound) (PyTorch's Linear default, bound = 1/sqrt(fan_in)).
    case uniform(bound: Double)
}

/// One named, contiguous block of the parameter buffer, row-major with the given shape.
public struct ParameterBlock: Hashable, Sendable {
    public let name: String
    public let offset: Int
    public let shape: [Int]
    public let initialisation: ParameterInitialisation

    public var count: Int { shape.reduce(1, *) }
    public var range: Range<Int> { offset..<(offset + count) }
}

/// A complex matrix (rows = outputs, columns = inputs) stored as two row-major real blocks, the
/// reference's (2, out, in) tensor (§1): element (o, c) is re[o·columns + c] + i·im[o·columns + c].
public struct ComplexMatrixView: Hashable, Sendable {
    public let rows: Int
    public let columns: Int
    /// Offset of the real-part block.
    public let re: Int
    /// Offset of the imaginary-part block.
    public let im: Int
}

/// A real Linear layer y = W·x + b, W row-major (outputs × inputs) as in PyTorch.
public struct LinearView: Hashable, Sendable {
    public let outputs: Int
    public let inputs: Int
    public let weight: Int
    public let bias: Int
}

/// The K Lorentzian-bell parameters a, b, c of one level (§4.2).
public struct BellView: Hashable, Sendable {
    public let count: Int
    public let a: Int
    public let b: Int
    public let c: Int
}

/// The parameters of one LMP level (§4).
public struct LMPLevelParameters: Hashable, Sendable {
    public let inputChannels: Int
    public let outputChannels: Int
    public let bells: BellView
    /// L_0, φ → coefficients of the scalar edge feature. Encoder: K → 2·C_in (interleaved
    /// re, im); decoder: K → C_in, of which only the bias matters (§4.2).
    public let radialScalar: LinearView
    /// L_1, φ → coefficients of the vector edge feature; shaped as `radialScalar`.
    public let radialVector: LinearView
    /// C_out × 5·C_in, no bias (§4.6).
    public let mixScalar: ComplexMatrixView
    public let mixVector: ComplexMatrixView
    /// mlpDepth + 1 Linear layers: 2C_out → w·2C_out → … → 2C_out (§4.7).
    public let mlp: [LinearView]
}

public struct EncoderParameters: Hashable, Sendable {
    /// W^(0), C_0 × 1 (§5.1).
    public let embedScalar: ComplexMatrixView
    public let embedVector: ComplexMatrixView
    public let levels: [LMPLevelParameters]
    /// The latent projection u: 1 × C_L (min-max, mean) or 1 × N·C_L (mix) (§5.3).
    public let latentScalar: ComplexMatrixView
    /// U: k × C_L or k × N·C_L.
    public let latentVector: ComplexMatrixView
}

public struct DecoderParameters: Hashable, Sendable {
    /// G_s: N × (latent scalars). Computed by the reference but never used (§6.1 QUIRK).
    public let latentScalar: ComplexMatrixView
    /// G_v: N × (latent vectors), latent → node vectors P_n.
    public let latentVector: ComplexMatrixView
    public let embedScalar: ComplexMatrixView
    public let embedVector: ComplexMatrixView
    public let levels: [LMPLevelParameters]
    /// 1 × C_last; the output scalar is discarded (§6.5).
    public let outputScalar: ComplexMatrixView
    public let outputVector: ComplexMatrixView
}

/// The named blocks of the flat parameter buffer for one configuration. All encoder blocks come
/// first (offsets 0..<encoderCount), then all decoder blocks.
public struct ParameterLayout: Hashable, Sendable {
    public let blocks: [ParameterBlock]
    public let encoderCount: Int
    public let count: Int
    public let encoder: EncoderParameters
    public let decoder: DecoderParameters

    public var decoderCount: Int { count - encoderCount }

    /// "block[index]" for parameter offset `x`, for messages.
    public func parameterName(_ x: Int) -> String { Training.parameterName(x, in: blocks) }

    /// The block called `name`, e.g. "encoder.W0.s.re" or "decoder.level1.mlp.3.weight".
    public func block(named name: String) -> ParameterBlock {
        guard let block = blocks.first(where: { $0.name == name }) else {
            preconditionFailure("ParameterLayout has no block named \"\(name)\"; its blocks are: "
                                + blocks.map(\.name).joined(separator: ", "))
        }
        return block
    }

    public init(config: LGAEConfig) {
        do { try config.validate() } catch { preconditionFailure("\(error)") }
        var builder = LayoutBuilder()
        let n = config.particleCount
        let k = config.latentVectorCount

        let encoderEmbedScalar = builder.complexMatrix("encoder.W0.s", rows: config.encoderChannels[0], columns: 1, vector: false)
        let encoderEmbedVector = builder.complexMatrix("encoder.W0.v", rows: config.encoderChannels[0], columns: 1, vector: true)
        let encoderLevels = builder.levels("encoder", channels: config.encoderChannels, config: config, radialWidth: 2)
        let lastEncoderChannels = config.encoderChannels[config.encoderChannels.count - 1]
        let latentInputs = config.aggregation == .mix ? n * lastEncoderChannels : lastEncoderChannels
        let encoderLatentScalar = builder.complexMatrix("encoder.latent.s", rows: 1, columns: latentInputs, vector: false)
        let encoderLatentVector = builder.complexMatrix("encoder.latent.v", rows: k, columns: latentInputs, vector: true)
        encoderCount = builder.offset

        let decoderLatentScalar = builder.complexMatrix("decoder.latent.s", rows: n, columns: config.latentScalarCount, vector: false)
        let decoderLatentVector = builder.complexMatrix("decoder.latent.v", rows: n, columns: config.latentVectorTotal, vector: true)
        let decoderEmbedScalar = builder.complexMatrix("decoder.W0.s", rows: config.decoderChannels[0], columns: 1, vector: false)
        let decoderEmbedVector = builder.complexMatrix("decoder.W0.v", rows: config.decoderChannels[0], columns: 1, vector: true)
        let decoderLevels = builder.levels("decoder", channels: config.decoderChannels, config: config, radialWidth: 1)
        let lastDecoderChannels = config.decoderChannels[config.decoderChannels.count - 1]
        let decoderOutputScalar = builder.complexMatrix("decoder.out.s", rows: 1, columns: lastDecoderChannels, vector: false)
        let decoderOutputVector = builder.complexMatrix("decoder.out.v", rows: 1, columns: lastDecoderChannels, vector: true)

        blocks = builder.blocks
        count = builder.offset
        encoder = EncoderParameters(embedScalar: encoderEmbedScalar, embedVector: encoderEmbedVector, levels: encoderLevels,
                                    latentScalar: encoderLatentScalar, latentVector: encoderLatentVector)
        decoder = DecoderParameters(latentScalar: decoderLatentScalar, latentVector: decoderLatentVector,
                                    embedScalar: decoderEmbedScalar, embedVector: decoderEmbedVector, levels: decoderLevels,
                                    outputScalar: decoderOutputScalar, outputVector: decoderOutputVector)
    }
}

private struct LayoutBuilder {
    var blocks: [ParameterBlock] = []
    var offset = 0

    mutating func add(_ name: String, _ shape: [Int], _ initialisation: ParameterInitialisation) -> Int {
        let block = ParameterBlock(name: name, offset: offset, shape: shape, initialisation: initialisation)
        blocks.append(block)
        offset += block.count
        return block.offset
    }

    /// §7.1: re and im i.i.d. N(0,1) × level_gain / max(2, out, in) / (1 scalar, 10 vector).
    mutating func complexMatrix(_ name: String, rows: Int, columns: Int, vector: Bool) -> ComplexMatrixView {
        let std = 1.0 / Double(max(2, rows, columns)) / (vector ? 10 : 1)
        let re = add(name + ".re", [rows, columns], .gaussian(standardDeviation: std))
        let im = add(name + ".im", [rows, columns], .gaussian(standardDeviation: std))
        return ComplexMatrixView(rows: rows, columns: columns, re: re, im: im)
    }

    /// §7.2: PyTorch Linear default, weight and bias ~ U(±1/sqrt(fan_in)).
    mutating func linear(_ name: String, outputs: Int, inputs: Int) -> LinearView {
        let bound = 1 / Double(inputs).squareRoot()
        let weight = add(name + ".weight", [outputs, inputs], .uniform(bound: bound))
        let bias = add(name + ".bias", [outputs], .uniform(bound: bound))
        return LinearView(outputs: outputs, inputs: inputs, weight: weight, bias: bias)
    }

    /// The LMP levels C[0] → C[1] → … (§5.2); `radialWidth` is 2 in the encoder (interleaved
    /// complex coefficients) and 1 in the decoder (§4.2).
    mutating func levels(_ prefix: String, channels: [Int], config: LGAEConfig, radialWidth: Int) -> [LMPLevelParameters] {
        let bellCount = config.bellCount
        return (0..<(channels.count - 1)).map { t in
            let name = "\(prefix).level\(t)"
            let cin = channels[t], cout = channels[t + 1]
            let a = add(name + ".bell.a", [bellCount], .gaussian(standardDeviation: 1))
            let b = add(name + ".bell.b", [bellCount], .gaussian(standardDeviation: 1))
            let c = add(name + ".bell.c", [bellCount], .gaussian(standardDeviation: 1))
            let radialScalar = linear(name + ".radial.s", outputs: radialWidth * cin, inputs: bellCount)
            let radialVector = linear(name + ".radial.v", outputs: radialWidth * cin, inputs: bellCount)
            let mixScalar = complexMatrix(name + ".mix.s", rows: cout, columns: 5 * cin, vector: false)
            let mixVector = complexMatrix(name + ".mix.v", rows: cout, columns: 5 * cin, vector: true)
            let width = config.mlpWidthMultiplier * 2 * cout
            var sizes = [2 * cout]
            sizes += Array(repeating: width, count: config.mlpDepth)
            sizes.append(2 * cout)
            let mlp = (0..<(sizes.count - 1)).map { j in
                linear(name + ".mlp.\(j)", outputs: sizes[j + 1], inputs: sizes[j])
            }
            return LMPLevelParameters(inputChannels: cin, outputChannels: cout,
                                      bells: BellView(count: bellCount, a: a, b: b, c: c),
                                      radialScalar: radialScalar, radialVector: radialVector,
                                      mixScalar: mixScalar, mixVector: mixVector, mlp: mlp)
        }
    }
}

extension ParameterBlock: NamedParameterBlock {}
