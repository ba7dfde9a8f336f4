import Baselines
import Executor
import Foundation
import JetData

/// One part of the split in JetNet's own relative coordinates, the baselines' inputs (spec §12:
/// the GNNAE and the CNNAE read (η_rel, φ_rel, pT_rel) from JetNet directly, not four-momenta).
/// The split's `PART_index.npy` names every jet's (class, row), and the `load` stage's
/// `CLASS_particle_features.npy` holds its particles, so the baselines see exactly the jets the
/// LGAE sees, in the same order.
struct RelativeJets {
    let part: String
    let count: Int
    let particles: Int
    /// [count, particles, 4] as JetNet stores them: η_rel, φ_rel, pT_rel, mask.
    let features: [Double]
    /// Each jet's class and row in the `load` stage's arrays.
    let classes: [JetClass]
    let rows: [Int]

    /// The first `limit` jets of `part` (0: all).
    init(_ ctx: StageContext, part: String, limit: Int = 0) throws {
        let indexFile = try ctx.input(named: "\(part)_index.npy")
        let index = try readNpy(indexFile.path, as: Int64.self)
        guard index.shape.count == 2, index.shape[1] == 2 else {
            throw StageFailure("stage '\(ctx.stage)': \(indexFile.label) has shape \(index.shape), expected [jets, 2] (class, row). Fix: feed the outputs of a `split` stage.")
        }
        let count = limited(index.shape[0], limit)
        var arrays: [JetClass: NpyArray<Float>] = [:]
        var classes: [JetClass] = [], rows: [Int] = []
        var particles = 0
        for j in 0..<count {
            let k = Int(index.values[2 * j]), row = Int(index.values[2 * j + 1])
            guard k >= 0, k < JetClass.allCases.count else {
                throw StageFailure("stage '\(ctx.stage)': \(indexFile.label) names class index \(k) for jet \(j); valid are 0–4 (g, q, t, w, z). Fix: rerun `split`.")
            }
            let c = JetClass.allCases[k]
            if arrays[c] == nil {
                let file = try ctx.input(named: "\(c.rawValue)_particle_features.npy")
                let a = try readNpy(file.path, as: Float.self)
                guard a.shape.count == 3, a.shape[2] == 4 else {
                    throw StageFailure("stage '\(ctx.stage)': \(file.label) has shape \(a.shape), expected [jets, particles, 4] (η_rel, φ_rel, pT_rel, mask). Fix: feed the outputs of a `load` stage.")
                }
                if particles != 0, a.shape[1] != particles {
                    throw StageFailure("stage '\(ctx.stage)': \(file.label) has \(a.shape[1]) particles per jet, other classes \(particles). Fix: load every class with the same `particles`.")
                }
                particles = a.shape[1]
                arrays[c] = a
            }
            guard row >= 0, row < arrays[c]!.shape[0] else {
                throw StageFailure("stage '\(ctx.stage)': \(indexFile.label) names row \(row) of class \(c.rawValue), which has \(arrays[c]!.shape[0]) jets. Fix: feed `split` and `load` stages of the same run (the split was made from other data).")
            }
            classes.append(c)
            rows.append(row)
        }
        var features = [Double](repeating: 0, count: count * particles * 4)
        let stride = particles * 4
        for j in 0..<count {
            let source = arrays[classes[j]]!.values
            for e in 0..<stride { features[j * stride + e] = Double(source[rows[j] * stride + e]) }
        }
        if let bad = features.firstIndex(where: { !$0.isFinite }) {
            throw StageFailure("stage '\(ctx.stage)': the particle features of \(part) jet \(bad / stride) (class \(classes[bad / stride].rawValue), row \(rows[bad / stride])) hold \(features[bad]). Fix: check the input file; JetNet has no NaN.")
        }
        self.part = part
        self.count = count
        self.particles = particles
        self.features = features
        self.classes = classes
        self.rows = rows
    }

    /// The stage's training and validation jets (`trainJets` and `validJets` limit them), both
    /// non-empty.
    static func trainingAndValidation(_ ctx: StageContext) throws -> (train: RelativeJets, valid: RelativeJets) {
        let train = try RelativeJets(ctx, part: "qcd_train", limit: try ctx.int("trainJets"))
        let valid = try RelativeJets(ctx, part: "qcd_valid", limit: try ctx.int("validJets"))
        try requireTrainingJets(ctx, train: train.count, valid: valid.count)
        return (train, valid)
    }

    /// The GNNAE's input: per particle (pT_rel, η_rel, φ_rel), the reference's feature order;
    /// padded particles are JetNet's zeros.
    func gnnaeInputs() -> [Double] {
        var out = [Double](repeating: 0, count: count * particles * 3)
        for slot in 0..<(count * particles) {
            out[3 * slot] = features[4 * slot + 2]
            out[3 * slot + 1] = features[4 * slot]
            out[3 * slot + 2] = features[4 * slot + 1]
        }
        return out
    }

    /// The CNNAE's input: one normalised jet image per jet, one after another. Also returns how many
    /// real particles fell outside the window.
    func images(_ binning: JetImageBinning) -> (values: [Double], droppedParticles: Int) {
        let pixels = binning.pixelCount * binning.pixelCount
        var out = [Double](repeating: 0, count: count * pixels)
        var dropped = 0
        features.withUnsafeBufferPointer { f in
            for j in 0..<count {
                let image = JetImage(particles: UnsafeBufferPointer(rebasing: f[(j * particles * 4)..<((j + 1) * particles * 4)]),
                                     featuresPerParticle: 4, binning: binning)
                for k in 0..<pixels { out[j * pixels + k] = image.intensities[k] }
                dropped += image.droppedParticleCount
            }
        }
        return (out, dropped)
    }

    /// Each jet's (pT in GeV, η, Φ): JetNet's jet pT and η (`load`'s jet_features columns 0, 1) and
    /// the azimuth `preprocess` drew — what turns relative coordinates into the four-momenta of §2.2.
    func jetAxes(_ ctx: StageContext) throws -> [(pt: Double, eta: Double, phi: Double)] {
        var jetFeatures: [JetClass: [Float]] = [:], phis: [JetClass: [Double]] = [:]
        var out: [(Double, Double, Double)] = []
        out.reserveCapacity(count)
        for j in 0..<count {
            let c = classes[j]
            if jetFeatures[c] == nil {
                let f = try ctx.input(named: "\(c.rawValue)_jet_features.npy"), p = try ctx.input(named: "\(c.rawValue)_jet_phi.npy")
                let a = try readNpy(f.path, as: Float.self), b = try readNpy(p.path, as: Double.self)
                guard a.shape.count == 2, a.shape[1] == 4, b.shape == [a.shape[0]] else {
                    throw StageFailure("stage '\(ctx.stage)': \(f.label) has shape \(a.shape) and \(p.label) \(b.shape), expected [jets, 4] and [jets]. Fix: feed the `load` and `preprocess` stages that made the split.")
                }
                jetFeatures[c] = a.values
                phis[c] = b.values
            }
            let r = rows[j]
            guard r < phis[c]!.count else {
                throw StageFailure("stage '\(ctx.stage)': the split names row \(r) of class \(c.rawValue), but \(c.rawValue)_jet_features.npy and \(c.rawValue)_jet_phi.npy hold \(phis[c]!.count) jets. Fix: feed `load`, `preprocess` and `split` stages of one run.")
            }
            out.append((Double(jetFeatures[c]![4 * r]), Double(jetFeatures[c]![4 * r + 1]), phis[c]![r]))
        }
        return out
    }
}
