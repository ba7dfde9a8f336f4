import Foundation

// The equivariance test of §11.4 (paper App. C, Fig. 9): for a Lorentz transformation Λ, compare
// A = LGAE(Λp) with B = Λ·LGAE(p) on test jets in TeV (no per-jet normalisation, which is not a
// Lorentz scalar). The deviation of a batch is δ = |mean(A − B) / mean(B)| with the means over
// every entry of the tensor (real and imaginary parts, all particles, all components, all jets of
// the batch); the batch deviations are averaged. This is the reference's statistic, in the
// Cartesian basis rather than its canonical one, so the values differ slightly while meaning the
// same thing.

/// The deviations δ of one transformation, averaged over batches.
public struct EquivarianceDeviation: Hashable, Sendable {
    /// The decoder's complex output vectors O_n (before complex → real), as the paper plots.
    public var output: Double
    /// The latent 4-vectors (must move as Λ·v).
    public var latentVectors: Double
    /// The latent scalars (must not move): |mean(A − B)/mean(B)| with B the untransformed scalars.
    public var latentScalars: Double

    public init(output: Double, latentVectors: Double, latentScalars: Double) {
        self.output = output
        self.latentVectors = latentVectors
        self.latentScalars = latentScalars
    }
}

/// Per-jet sums from which the batch statistics are assembled in a fixed order.
private struct JetSums {
    var outputDifference = 0.0, outputReference = 0.0
    var vectorDifference = 0.0, vectorReference = 0.0
    var scalarDifference = 0.0, scalarReference = 0.0
}

/// An LGAE model and its untransformed outputs on a set of jets, computed once and compared with
/// the outputs on transformed jets for any number of transformations.
public struct EquivarianceProbe: Sendable {
    public let model: LGAEModel
    public let jets: [JetInput]
    public let batchSize: Int
    public let threads: Int
    private let latents: [Latent]
    private let outputs: [[LorentzVector]]

    /// Runs the model once on every jet (the B side before Λ is applied).
    public init(model: LGAEModel, jets: [JetInput], batchSize: Int, threads: Int) {
        precondition(!jets.isEmpty && batchSize >= 1, "EquivarianceProbe: needs at least one jet and batchSize ≥ 1")
        self.model = model
        self.jets = jets
        self.batchSize = batchSize
        self.threads = max(1, threads)
        let results = EquivarianceProbe.forward(model: model, jets: jets, threads: self.threads)
        latents = results.map(\.latent)
        outputs = results.map(\.output)
    }

    /// δ for one transformation (see the file comment).
    public func deviation(under transformation: LorentzTransformation) -> EquivarianceDeviation {
        let transformed = EquivarianceProbe.forward(model: model, jets: jets.map { $0.transformed(by: transformation) }, threads: threads)
        var sums = [JetSums](repeating: JetSums(), count: jets.count)
        for j in 0..<jets.count {
            var s = JetSums()
            let (a, b) = (transformed[j], (latent: latents[j], output: outputs[j]))
            for (va, vb) in zip(a.output, b.output) {
                let expected = transformation.apply(vb)
                s.outputDifference += (va.re - expected.re).sum() + (va.im - expected.im).sum()
                s.outputReference += expected.re.sum() + expected.im.sum()
            }
            for (va, vb) in zip(a.latent.vectors, b.latent.vectors) {
                let expected = transformation.apply(vb)
                s.vectorDifference += (va.re - expected.re).sum() + (va.im - expected.im).sum()
                s.vectorReference += expected.re.sum() + expected.im.sum()
            }
            for (sa, sb) in zip(a.latent.scalars, b.latent.scalars) {
                s.scalarDifference += (sa.value.re - sb.value.re) + (sa.value.im - sb.value.im)
                s.scalarReference += sb.value.re + sb.value.im
            }
            sums[j] = s
        }
        var total = EquivarianceDeviation(output: 0, latentVectors: 0, latentScalars: 0)
        var batches = 0
        var start = 0
        while start < jets.count {
            let batch = sums[start..<min(jets.count, start + batchSize)]
            func ratio(_ difference: KeyPath<JetSums, Double>, _ reference: KeyPath<JetSums, Double>) -> Double {
                abs(batch.reduce(0) { $0 + $1[keyPath: difference] } / batch.reduce(0) { $0 + $1[keyPath: reference] })
            }
            total.output += ratio(\.outputDifference, \.outputReference)
            total.latentVectors += ratio(\.vectorDifference, \.vectorReference)
            total.latentScalars += ratio(\.scalarDifference, \.scalarReference)
            batches += 1
            start += batchSize
        }
        let n = Double(batches)
        return EquivarianceDeviation(output: total.output / n, latentVectors: total.latentVectors / n,
                                     latentScalars: total.latentScalars / n)
    }

    /// Latents and complex outputs of every jet, computed in parallel, each jet into its own slot.
    private static func forward(model: LGAEModel, jets: [JetInput], threads: Int) -> [(latent: Latent, output: [LorentzVector])] {
        let n = model.config.particleCount
        var results = [(latent: Latent, output: [LorentzVector])](repeating: (Latent(scalars: [], vectors: []), []), count: jets.count)
        results.withUnsafeMutableBufferPointer { out in
            nonisolated(unsafe) let out = out
            forEachJet(model: model, count: jets.count, threads: threads) { j, encoderCache, decoderCache in
                let latent = model.encode(jets[j], cache: encoderCache)
                model.decode(latent, cache: decoderCache)
                out[j] = (latent, (0..<n).map { decoderCache.complexOutput[$0, 0] })
            }
        }
        return results
    }
}
