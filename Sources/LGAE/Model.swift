/// One jet as the encoder sees it: N particle slots of real Cartesian 4-momenta (E, px, py, pz)
/// and a mask. Units are whatever the caller uses (TeV, or per-jet normalised, §2.3); the model
/// does not care. Padded slots should hold (0, 0, 0, 0), as JetNet preprocessing leaves them: in
/// faithful mode their positions still enter the padded edges (§4.2 QUIRK).
public struct JetInput: Hashable, Sendable {
    /// N×4, row-major.
    public var p4: [Double]
    public var mask: [Bool]

    public var particleCount: Int { mask.count }

    public init(p4: [Double], mask: [Bool]) {
        precondition(p4.count == 4 * mask.count,
                     "JetInput: p4 has \(p4.count) numbers but mask has \(mask.count) particles; p4 needs 4 numbers (E, px, py, pz) per mask entry")
        self.p4 = p4
        self.mask = mask
    }

    /// Particles as (E, px, py, pz); without a mask, a particle is real iff E ≠ 0 (§5.1).
    public init(particles: [SIMD4<Double>], mask: [Bool]? = nil) {
        self.init(p4: particles.flatMap { [$0[0], $0[1], $0[2], $0[3]] },
                  mask: mask ?? particles.map { $0[0] != 0 })
    }

    public func particle(_ n: Int) -> SIMD4<Double> {
        SIMD4(p4[4 * n], p4[4 * n + 1], p4[4 * n + 2], p4[4 * n + 3])
    }

    /// The jet with every particle transformed by Λ (mask unchanged).
    public func transformed(by transformation: LorentzTransformation) -> JetInput {
        JetInput(particles: (0..<particleCount).map { transformation.apply(particle($0)) }, mask: mask)
    }

    /// The jet with slot n holding old particle permutation[n], masks permuted along.
    public func permuted(by permutation: [Int]) -> JetInput {
        precondition(permutation.sorted() == Array(0..<particleCount),
                     "JetInput.permuted: \(permutation) is not a permutation of 0..<\(particleCount)")
        return JetInput(particles: permutation.map { particle($0) }, mask: permutation.map { mask[$0] })
    }
}

/// The jet latent (§5.3): complex Lorentz scalars and complex Cartesian 4-vectors. Min-max:
/// scalars [min, max], vectors [min 1..k, max 1..k]; mix and mean: 1 scalar, k vectors.
public struct Latent: Hashable, Sendable {
    public var scalars: [LorentzScalar]
    public var vectors: [LorentzVector]

    public init(scalars: [LorentzScalar], vectors: [LorentzVector]) {
        self.scalars = scalars
        self.vectors = vectors
    }

    /// Every vector transformed by Λ, scalars unchanged (how an equivariant latent must move).
    public func transformed(by transformation: LorentzTransformation) -> Latent {
        Latent(scalars: scalars, vectors: vectors.map { transformation.apply($0) })
    }
}

/// The Lorentz group equivariant autoencoder: configuration, parameter layout and the flat
/// parameter buffer. Forward passes are pure functions of (parameters, input) that fill a cache.
public struct LGAEModel: Sendable {
    public let config: LGAEConfig
    public let layout: ParameterLayout
    /// All parameters, encoder blocks first (see `layout`).
    public var parameters: [Double]

    /// A model initialised as §7 from `seed` (see `ParameterLayout.initialParameters(seed:)`).
    public init(config: LGAEConfig = LGAEConfig(), seed: UInt64) {
        self.config = config
        layout = ParameterLayout(config: config)
        parameters = layout.initialParameters(seed: seed)
    }

    /// A model with the given parameter buffer, laid out as `ParameterLayout(config:)`.
    public init(config: LGAEConfig, parameters: [Double]) {
        self.config = config
        layout = ParameterLayout(config: config)
        precondition(parameters.count == layout.count,
                     "LGAEModel: the parameter buffer has \(parameters.count) numbers but this configuration's layout needs \(layout.count)")
        self.parameters = parameters
    }

    public func makeEncoderCache() -> EncoderCache { EncoderCache(config: config) }
    public func makeDecoderCache() -> DecoderCache { DecoderCache(config: config) }

    /// Encodes one jet into a fresh cache.
    public func encode(_ jet: JetInput) -> (latent: Latent, cache: EncoderCache) {
        let cache = makeEncoderCache()
        return (encode(jet, cache: cache), cache)
    }

    /// Encodes one jet, refilling `cache` (allocation-free apart from the returned latent).
    public func encode(_ jet: JetInput, cache: EncoderCache) -> Latent {
        precondition(cache.config == config, "encode: the EncoderCache was made for another LGAEConfig; make it with this model's makeEncoderCache()")
        precondition(jet.particleCount == config.particleCount,
                     "encode: the jet has \(jet.particleCount) particle slots but the model expects particleCount = \(config.particleCount); pad or truncate the jet to \(config.particleCount) slots")
        parameters.withUnsafeBufferPointer { buffer in
            jet.p4.withUnsafeBufferPointer { p4 in
                runEncoder(parameters: buffer.baseAddress!, p4: p4.baseAddress!, mask: jet.mask, cache: cache)
            }
        }
        return cache.latent
    }

    /// Decodes one latent into a fresh cache; the output is N×4 row-major real (E, px, py, pz).
    public func decode(_ latent: Latent) -> (output: [Double], cache: DecoderCache) {
        let cache = makeDecoderCache()
        decode(latent, cache: cache)
        return (cache.output.array, cache)
    }

    /// Decodes one latent, refilling `cache`; the real output is `cache.output`.
    public func decode(_ latent: Latent, cache: DecoderCache) {
        precondition(cache.config == config, "decode: the DecoderCache was made for another LGAEConfig; make it with this model's makeDecoderCache()")
        precondition(latent.vectors.count == config.latentVectorTotal,
                     "decode: the latent has \(latent.vectors.count) vectors but this \(config.aggregation) model with k = \(config.latentVectorCount) decodes \(config.latentVectorTotal)")
        for (q, v) in latent.vectors.enumerated() { cache.latentVectors[0, q] = v }
        parameters.withUnsafeBufferPointer { buffer in
            runDecoder(parameters: buffer.baseAddress!, cache: cache)
        }
    }

    /// Encode then decode one jet; the output is N×4 row-major real.
    public func reconstruct(_ jet: JetInput) -> [Double] {
        let (latent, _) = encode(jet)
        return decode(latent).output
    }

    /// Encode then decode with caller-owned caches (for training loops).
    public func reconstruct(_ jet: JetInput, encoderCache: EncoderCache, decoderCache: DecoderCache) {
        let latent = encode(jet, cache: encoderCache)
        decode(latent, cache: decoderCache)
    }
}
