/// How the encoder turns per-particle features into the jet latent (lgae.md §5.3).
public enum LatentAggregation: String, Sendable, Codable, CaseIterable {
    /// LGAE-Min-Max: per-particle mix to 1 scalar and k vectors, then [min, max] over particles,
    /// with the reference's selection rules (separate Re/Im, max of scalars by square).
    /// Latent: 2 scalars, 2k vectors.
    case minMax
    /// LGAE-Mix: one complex matrix over all N·C_L flattened particle channels. Latent: 1 scalar,
    /// k vectors. Equivariant but not permutation invariant.
    case mix
    /// Per-particle mix as for min-max, then the mean over particles. Latent: 1 scalar, k vectors.
    case mean

    /// m in the compression-rate formula of §5.4 (how many latent copies of (τ_s, τ_v)).
    public var latentCopies: Int { self == .minMax ? 2 : 1 }
}

/// The reference's `get_real_method` (§6.6): how the complex output vector becomes the real jet.
public enum ComplexToRealRule: String, Sendable, Codable, CaseIterable {
    /// Re O (the code default).
    case real
    /// Re O + Im O (every example script; the likeliest for the published runs, §14.11).
    case sum
    /// Im O.
    case imag
    /// (Re O + Im O)/2.
    case mean
    /// sqrt(Re² + Im² + 1e-16) per component. Not Lorentz equivariant.
    case norm
}

/// Whether padded particles behave as in the reference or are truly masked out.
///
/// `.faithful` copies the reference (§4.2, §5.3, §14.4): an edge with a padded end has φ = 0 but
/// still carries the radial-layer *bias* as its coefficient, so padded particles exchange
/// messages, acquire non-zero features through those messages and the MLP biases, and take part
/// in (and often win) the latent min/max and the mean.
///
/// `.clean` changes exactly these things, in the encoder only:
/// 1. the features of padded particles are set to zero after the input embedding W^(0) and after
///    every LMP level (so the MLP biases cannot revive them, and whatever a padded slot's p4
///    holds is ignored);
/// 2. an edge (i, j) with a padded end carries no message at all: φ = 0 **and** R = 0 (not the
///    bias), so padded particles neither send to nor receive from anyone;
/// 3. min-max and mean aggregation run over the real particles only (mix keeps all N·C_L inputs,
///    but the padded ones are zero).
/// Self-edges of real particles stay live, as in the reference (the paper's sum is over j ≠ i;
/// this switch is only about padding). The decoder, which has no mask, is the same in both modes.
/// A jet with no real particle gives an all-zero latent in clean min-max/mean aggregation.
public enum PaddingMode: String, Sendable, Codable, CaseIterable {
    case faithful
    case clean
}

/// The LGAE hyper-parameters. The defaults are the reference defaults used for the paper
/// (lgae.md §4, §5, §6, §7.3, README settings).
public struct LGAEConfig: Hashable, Sendable, Codable {
    /// N, the number of particle slots per jet (JetNet: 30).
    public var particleCount: Int
    /// The reference's `encoder_num_channels`: entry 0 is the width of the input embedding W^(0),
    /// each further entry adds one LMP level (§5.2 QUIRK: [3,3,4,4] is W^(0) → 3 plus 3 levels).
    public var encoderChannels: [Int]
    /// `decoder_num_channels`, read the same way.
    public var decoderChannels: [Int]
    /// `num_basis_fn`; each level has K = 2·this Lorentzian bells (§4.2).
    public var basisFunctionCount: Int
    /// Hidden layers of the scalar MLP after every level (§4.7): depth + 1 Linear layers.
    public var mlpDepth: Int
    /// Hidden width = multiplier × 2C (§4.7: 6 → 12C).
    public var mlpWidthMultiplier: Int
    /// LeakyReLU negative slope of the scalar MLP (PyTorch default 0.01, §4.7).
    public var leakyReLUSlope: Double
    public var aggregation: LatentAggregation
    /// k = τ_(1/2,1/2), the number of latent 4-vectors per aggregation copy (any k ≥ 1).
    public var latentVectorCount: Int
    public var complexToReal: ComplexToRealRule
    public var mode: PaddingMode

    public init(
        particleCount: Int = 30,
        encoderChannels: [Int] = [3, 3, 4, 4],
        decoderChannels: [Int] = [4, 4, 3, 3],
        basisFunctionCount: Int = 10,
        mlpDepth: Int = 6,
        mlpWidthMultiplier: Int = 6,
        leakyReLUSlope: Double = 0.01,
        aggregation: LatentAggregation = .minMax,
        latentVectorCount: Int = 4,
        complexToReal: ComplexToRealRule = .sum,
        mode: PaddingMode = .faithful
    ) {
        self.particleCount = particleCount
        self.encoderChannels = encoderChannels
        self.decoderChannels = decoderChannels
        self.basisFunctionCount = basisFunctionCount
        self.mlpDepth = mlpDepth
        self.mlpWidthMultiplier = mlpWidthMultiplier
        self.leakyReLUSlope = leakyReLUSlope
        self.aggregation = aggregation
        self.latentVectorCount = latentVectorCount
        self.complexToReal = complexToReal
        self.mode = mode
    }

    /// K, the number of bells per level.
    public var bellCount: Int { 2 * basisFunctionCount }
    /// Number of latent complex scalars: 2 for min-max ([min, max]), 1 otherwise.
    public var latentScalarCount: Int { aggregation.latentCopies }
    /// Number of latent complex 4-vectors: 2k for min-max, k otherwise.
    public var latentVectorTotal: Int { aggregation.latentCopies * latentVectorCount }
    /// The fraction of §5.4 for this configuration.
    public var compressionRate: Double {
        LGAE.compressionRate(aggregation: aggregation, latentVectorCount: latentVectorCount, particleCount: particleCount)
    }

    /// Throws if a field is out of range, naming the field, the value found and what is needed.
    public func validate() throws {
        func check(_ ok: Bool, _ field: String, _ found: String, _ need: String) throws {
            if !ok { throw LGAEConfigError(field: field, found: found, expected: need) }
        }
        try check(particleCount >= 1, "particleCount", "\(particleCount)", "at least 1 particle slot")
        try check(!encoderChannels.isEmpty && encoderChannels.allSatisfy { $0 >= 1 }, "encoderChannels",
                  "\(encoderChannels)", "a non-empty list of positive widths, e.g. [3, 3, 4, 4]")
        try check(!decoderChannels.isEmpty && decoderChannels.allSatisfy { $0 >= 1 }, "decoderChannels",
                  "\(decoderChannels)", "a non-empty list of positive widths, e.g. [4, 4, 3, 3]")
        try check(basisFunctionCount >= 1, "basisFunctionCount", "\(basisFunctionCount)", "at least 1")
        try check(mlpDepth >= 1, "mlpDepth", "\(mlpDepth)", "at least 1 hidden layer")
        try check(mlpWidthMultiplier >= 1, "mlpWidthMultiplier", "\(mlpWidthMultiplier)", "at least 1")
        try check(leakyReLUSlope.isFinite, "leakyReLUSlope", "\(leakyReLUSlope)", "a finite slope")
        try check(latentVectorCount >= 1, "latentVectorCount", "\(latentVectorCount)", "k ≥ 1")
    }
}

/// A configuration field out of range.
public struct LGAEConfigError: Error, CustomStringConvertible, Equatable {
    public let field: String
    public let found: String
    public let expected: String
    public var description: String {
        "LGAEConfig.\(field) is \(found), but the model needs \(expected); set LGAEConfig.\(field) accordingly"
    }
}

/// The LGAE compression rate exactly as every LGAE number in the paper computes it (§5.4):
/// m·2·(τ_s + 4·τ_v)/(4·N) with τ_s = 1, τ_v = k, m = 2 for min-max and 1 otherwise. The 2 counts
/// real and imaginary parts, the 4 vector components. QUIRK: the paper's text says the
/// denominator is 3·N = 90, but its percentages use 4·N = 120.
public func compressionRate(aggregation: LatentAggregation, latentVectorCount k: Int, particleCount: Int = 30) -> Double {
    let m = aggregation.latentCopies
    return Double(m * 2 * (1 + 4 * k)) / Double(4 * particleCount)
}
