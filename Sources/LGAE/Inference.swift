/// A trained model run over many jets for evaluation: the real outputs and the latents, in flat
/// row-major arrays ready to be written as .npy.
public struct BatchReconstruction: Sendable {
    public let jets: Int
    public let particles: Int
    /// [jets, particles, 4] real output (E, px, py, pz), in the units of the inputs.
    public var outputs: [Double]
    /// [jets, latentVectorTotal, 4, 2]: each latent 4-vector's (re, im) per Cartesian component.
    public var latentVectors: [Double]
    /// [jets, latentScalarCount, 2]: each latent scalar's (re, im).
    public var latentScalars: [Double]
}

extension LGAEModel {
    /// Encodes and decodes every jet on up to `threads` threads. Jets are independent, so the result
    /// does not depend on the thread count.
    public func reconstructAll(_ jets: [JetInput], threads: Int) -> BatchReconstruction {
        let n = config.particleCount, kv = config.latentVectorTotal, ks = config.latentScalarCount
        var outputs = [Double](repeating: 0, count: jets.count * n * 4)
        var vectors = [Double](repeating: 0, count: jets.count * kv * 8)
        var scalars = [Double](repeating: 0, count: jets.count * ks * 2)
        outputs.withUnsafeMutableBufferPointer { out in
            vectors.withUnsafeMutableBufferPointer { vec in
                scalars.withUnsafeMutableBufferPointer { sca in
                    // Each jet writes only its own rows, so the workers never touch the same memory.
                    let out = SendablePointer(out.baseAddress!), vec = SendablePointer(vec.baseAddress!)
                    let sca = SendablePointer(sca.baseAddress!)
                    forEachJet(model: self, count: jets.count, threads: threads) { j, encoderCache, decoderCache in
                        let latent = encode(jets[j], cache: encoderCache)
                        decode(latent, cache: decoderCache)
                        let x = decoderCache.output.array
                        for i in 0..<(n * 4) { out.pointer[j * n * 4 + i] = x[i] }
                        for (q, v) in latent.vectors.enumerated() {
                            for mu in 0..<4 {
                                vec.pointer[((j * kv + q) * 4 + mu) * 2] = v.re[mu]
                                vec.pointer[((j * kv + q) * 4 + mu) * 2 + 1] = v.im[mu]
                            }
                        }
                        for (q, s) in latent.scalars.enumerated() {
                            sca.pointer[(j * ks + q) * 2] = s.value.re
                            sca.pointer[(j * ks + q) * 2 + 1] = s.value.im
                        }
                    }
                }
            }
        }
        return BatchReconstruction(jets: jets.count, particles: n, outputs: outputs, latentVectors: vectors, latentScalars: scalars)
    }
}

/// A raw pointer handed to concurrent workers that write disjoint ranges.
struct SendablePointer: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Double>
    init(_ p: UnsafeMutablePointer<Double>) { pointer = p }
}
