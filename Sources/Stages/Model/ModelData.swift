import Executor
import Foundation
import JetData
import LGAE

/// One part of the split (e.g. `qcd_train`) as model inputs: four-momenta in TeV, masks and the
/// per-jet normalisation factors of §2.3, read from the `split` stage's arrays.
struct JetArrays {
    let name: String
    let count: Int
    let particles: Int
    /// [count, particles, 4] in TeV.
    let p4: [Double]
    let mask: [UInt8]
    /// 1 or 4 factors per jet (see `JetNormalisation.factorsPerJet`).
    let norm: [Double]
    let normWidth: Int

    /// Reads `PART_p4.npy`, `PART_mask.npy` and `PART_norm.npy` from the stage's inputs and checks
    /// that they agree with each other and with the model's particle count.
    init(_ ctx: StageContext, part: String, particles expected: Int) throws {
        let p4File = try ctx.input(named: "\(part)_p4.npy"), maskFile = try ctx.input(named: "\(part)_mask.npy")
        let normFile = try ctx.input(named: "\(part)_norm.npy")
        let a = try readNpy(p4File.path, as: Double.self)
        let m = try readNpy(maskFile.path, as: UInt8.self)
        let f = try readNpy(normFile.path, as: Double.self)
        guard a.shape.count == 3, a.shape[2] == 4 else {
            throw StageFailure("stage '\(ctx.stage)': \(p4File.label) has shape \(a.shape), expected [jets, particles, 4]. Fix: feed the outputs of a `split` stage.")
        }
        guard a.shape[1] == expected else {
            throw StageFailure("stage '\(ctx.stage)': \(p4File.label) has \(a.shape[1]) particles per jet but the model is configured for \(expected). Fix: set `particles` of the stage to \(a.shape[1]), or load \(expected) particles.")
        }
        guard m.shape == [a.shape[0], a.shape[1]], f.shape.first == a.shape[0], f.shape.count <= 2 else {
            throw StageFailure("stage '\(ctx.stage)': the arrays of '\(part)' disagree: p4 \(a.shape), mask \(m.shape), norm \(f.shape). Fix: feed the outputs of one `split` stage.")
        }
        name = part
        count = a.shape[0]
        particles = a.shape[1]
        p4 = a.values
        mask = m.values
        norm = f.values
        normWidth = f.shape.count == 2 ? f.shape[1] : 1
        if let bad = norm.firstIndex(where: { !($0.isFinite && $0 > 0) }) {
            throw StageFailure("stage '\(ctx.stage)': \(normFile.label) holds \(norm[bad]) for jet \(bad / normWidth); normalisation factors must be finite and positive. Fix: rerun `preprocess`, or drop the empty jet.")
        }
        if let bad = p4.firstIndex(where: { !$0.isFinite }) {
            throw StageFailure("stage '\(ctx.stage)': \(p4File.label) holds \(p4[bad]) at jet \(bad / (4 * particles)), particle \((bad / 4) % particles). Fix: rerun `preprocess` on clean input.")
        }
    }

    /// Jet `j` in TeV, or divided by its normalisation factor(s) if `normalised`.
    func jet(_ j: Int, normalised: Bool) -> JetInput {
        let stride = 4 * particles
        var values = Array(p4[(j * stride)..<((j + 1) * stride)])
        if normalised {
            for n in 0..<particles {
                for mu in 0..<4 { values[4 * n + mu] /= norm[j * normWidth + (normWidth == 1 ? 0 : mu)] }
            }
        }
        return JetInput(p4: values, mask: mask[(j * particles)..<((j + 1) * particles)].map { $0 != 0 })
    }

    /// The first `limit` jets (all if nil) as network inputs with themselves as targets (§9: the
    /// autoencoder reconstructs its input, padded particles included).
    func trainingSet(normalised: Bool, limit: Int? = nil) -> TrainingSet {
        let jets = (0..<min(count, limit ?? count)).map { jet($0, normalised: normalised) }
        return TrainingSet(jets: jets, targets: jets.map(\.p4))
    }
}

/// The stage's `model.lgae` input, read and checked, with the input it came from (for messages).
func trainedModel(_ ctx: StageContext) throws -> (LGAEModel, StageInput) {
    try modelInput(ctx, named: "model.lgae", trainedBy: "train-lgae", LGAEModel.init(serialized:))
}

/// The stage's model file `name` read by `read`, with the input it came from; a file that does not
/// read fails the stage naming the file and the training stage kind that writes such files.
func modelInput<Model>(_ ctx: StageContext, named name: String, trainedBy kind: String,
                       _ read: ([UInt8]) throws -> Model) throws -> (Model, StageInput) {
    let file = try ctx.input(named: name)
    do {
        return (try read([UInt8](try Data(contentsOf: URL(fileURLWithPath: file.path)))), file)
    } catch {
        throw StageFailure("stage '\(ctx.stage)': \(file.label): \(error). Fix: feed the `\(name)` of a `\(kind)` stage.")
    }
}
