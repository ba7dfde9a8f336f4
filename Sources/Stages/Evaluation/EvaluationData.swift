import Executor
import Foundation
import JetData

/// The parts of the split that evaluation uses: the QCD test jets (Tables 2–4 background) and the
/// signal test jets (Table 4).
let defaultEvaluationParts = ["qcd_test", "t_test", "w_test", "z_test"]

/// One trained model's reconstruction as the evaluation stages see it: the files a `reconstruct`
/// stage wrote, grouped by the stage that wrote them, and its `reconstruction.json`.
///
/// Two kinds of output exist. Particle models (the LGAE, the GNNAE) write `PART_target.npy` and
/// `PART_output.npy`, [jets, N, 4] four-momenta in TeV; image models (the CNNAE) write
/// `PART_target_image.npy` and `PART_output_image.npy`, [jets, S, S] jet images. A json without
/// an "outputs" field is a particle model: the LGAE reconstructions written before the baselines.
struct ModelReconstruction {
    /// The `reconstruct` stage that made it, e.g. `reconstruct-minmax-tau4`: the row's identity in
    /// every evaluation output.
    let stage: String
    let info: JSONValue
    let files: [String: StageInput]

    var model: String { info["model"]?.stringValue ?? "?" }
    var aggregation: String { info["aggregation"]?.stringValue ?? "?" }
    /// τ for the LGAE, dim L (GNNAE-JL, CNNAE) or the node features d (GNNAE-PL): the number that,
    /// with model and aggregation, names the paper's row.
    var latent: Int { info["latentVectors"]?.intValue ?? info["latentDimension"]?.intValue ?? 0 }
    var compressionRate: Double { info["compressionRate"]?.doubleValue ?? .nan }
    var loss: String { info["loss"]?.stringValue ?? "?" }
    var particles: Int { info["particles"]?.intValue ?? 0 }
    /// True for models whose reconstruction is a jet image (the CNNAE): no particles, so no
    /// matching, no Table 2 row, and the image anomaly score.
    var outputsImages: Bool { info["outputs"]?.stringValue == "images" }
    /// S, the image side in pixels, and R, the half-width of its (η_rel, φ_rel) window (checked
    /// positive by `all`).
    var imageSize: Int { info["imageSize"]?.intValue ?? 0 }
    var imageRadius: Double { info["imageRadius"]?.doubleValue ?? .nan }

    /// The fields that name this model in every row the evaluation stages write (errors.json,
    /// roc.json, summaries), so that `tables` labels and keys rows the same way whatever produced them.
    var identity: [String: JSONValue] {
        var row: [String: JSONValue] = [
            "stage": .string(stage), "model": .string(model), "aggregation": .string(aggregation),
            "compressionRate": .number(compressionRate), "outputs": .string(outputsImages ? "images" : "particles"),
            "loss": .string(loss),
        ]
        for key in ["latentVectors", "latentDimension"] { if let v = info[key] { row[key] = v } }
        if !outputsImages { row["particles"] = .number(Double(particles)) }
        return row
    }

    /// The first columns of every per-model CSV row; see `identityCSVHeader`.
    var identityCSV: String { "\(stage),\(model),\(aggregation),\(latent),\(latentLabel(info, latex: false)),\(compressionRate)" }

    /// `[jets, particles, 4]` array `PART_WHAT.npy` (WHAT: target or output), checked against the
    /// model's particle count.
    func momenta(_ ctx: StageContext, part: String, _ what: String) throws -> [Double] {
        let name = "\(part)_\(what).npy"
        guard let file = files[name] else {
            throw StageFailure("stage '\(ctx.stage)': \(stage) has no \(name). Fix: add '\(part)' to `stages.\(stage).params.parts` in pipeline.json.")
        }
        let a = try readNpy(file.path, as: Double.self)
        guard a.shape.count == 3, a.shape[1] == particles, a.shape[2] == 4 else {
            throw StageFailure("stage '\(ctx.stage)': \(file.label) has shape \(a.shape), expected [jets, \(particles), 4]. Fix: rerun `\(stage)`.")
        }
        if let bad = a.values.firstIndex(where: { !$0.isFinite }) {
            throw StageFailure("stage '\(ctx.stage)': \(file.label) holds \(a.values[bad]) at jet \(bad / (4 * particles)), slot \((bad / 4) % particles). Fix: the model produced non-finite outputs; retrain it or check its inputs.")
        }
        return a.values
    }

    /// Target and output four-momenta of one part and their jet count; the two must hold the same
    /// jets, since every evaluation pairs jet j of one with jet j of the other.
    func momentumPair(_ ctx: StageContext, part: String) throws -> (target: [Double], output: [Double], jets: Int) {
        guard !outputsImages else {
            throw StageFailure("stage '\(ctx.stage)': \(stage) is a \(model) whose reconstructions are jet images (\"outputs\": \"images\" in its reconstruction.json), not particles. Fix: use its image files (a stage bug if this is an evaluation stage).")
        }
        let target = try momenta(ctx, part: part, "target"), output = try momenta(ctx, part: part, "output")
        guard target.count == output.count else {
            throw StageFailure("stage '\(ctx.stage)': \(stage)'s \(part)_target.npy holds \(target.count / (4 * particles)) jets but \(part)_output.npy \(output.count / (4 * particles)). Fix: rerun `\(stage)`.")
        }
        return (target, output, target.count / (4 * particles))
    }

    /// `[jets, S, S]` jet images `PART_WHAT_image.npy` (WHAT: target or output), row-major
    /// [φ bin][η bin], checked against the model's `imageSize`.
    func images(_ ctx: StageContext, part: String, _ what: String) throws -> [Double] {
        let name = "\(part)_\(what)_image.npy"
        guard let file = files[name] else {
            throw StageFailure("stage '\(ctx.stage)': \(stage) has no \(name). Fix: add '\(part)' to `stages.\(stage).params.parts` in pipeline.json.")
        }
        let a = try readNpy(file.path, as: Double.self)
        let side = imageSize
        guard a.shape.count == 3, a.shape[1] == side, a.shape[2] == side else {
            throw StageFailure("stage '\(ctx.stage)': \(file.label) has shape \(a.shape), expected [jets, \(side), \(side)] (imageSize \(side) in its reconstruction.json). Fix: rerun `\(stage)`.")
        }
        if let bad = a.values.firstIndex(where: { !$0.isFinite }) {
            let pixel = bad % (side * side)
            throw StageFailure("stage '\(ctx.stage)': \(file.label) holds \(a.values[bad]) at jet \(bad / (side * side)), pixel [φ \(pixel / side)][η \(pixel % side)]. Fix: the model produced non-finite outputs; retrain it or check its inputs.")
        }
        return a.values
    }

    /// Target and output images of one part and their jet count (see `momentumPair`).
    func imagePair(_ ctx: StageContext, part: String) throws -> (target: [Double], output: [Double], jets: Int) {
        let target = try images(ctx, part: part, "target"), output = try images(ctx, part: part, "output")
        let pixels = imageSize * imageSize
        guard target.count == output.count else {
            throw StageFailure("stage '\(ctx.stage)': \(stage)'s \(part)_target_image.npy holds \(target.count / pixels) jets but \(part)_output_image.npy \(output.count / pixels). Fix: rerun `\(stage)`.")
        }
        return (target, output, target.count / pixels)
    }

    func jets(part: String) -> Int? { info["parts"]?[part]?.intValue }

    /// Every `reconstruction.json` among the stage's inputs, with the other files of the same
    /// upstream stage, in a stable order (the paper's row order; see `paperRowOrder`).
    static func all(_ ctx: StageContext) throws -> [ModelReconstruction] {
        var out: [ModelReconstruction] = []
        for meta in ctx.inputs where meta.name == "reconstruction.json" {
            guard let stage = meta.stage else { continue }
            let info = try readJSON(ctx, meta, fix: "rerun `\(stage)`")
            func lacking(_ what: String) -> StageFailure {
                StageFailure("stage '\(ctx.stage)': \(meta.label) lacks \(what). Fix: feed the outputs of a `reconstruct` stage, rerun `\(stage)` with the current code.")
            }
            for key in ["model", "aggregation", "compressionRate", "loss", "parts"] where info[key] == nil {
                throw lacking("the field '\(key)'")
            }
            if info["latentVectors"] == nil && info["latentDimension"] == nil {
                throw lacking("both 'latentVectors' (LGAE) and 'latentDimension' (GNNAE, CNNAE)")
            }
            switch info["outputs"]?.stringValue {
            case nil where info["outputs"] == nil, "particles":
                if info["particles"]?.intValue.map({ $0 > 0 }) != true { throw lacking("a positive 'particles' count, which particle outputs need") }
            case "images":
                let size = info["imageSize"]?.intValue ?? 0, radius = info["imageRadius"]?.doubleValue ?? 0
                if size < 1 || !(radius > 0 && radius.isFinite) {
                    throw lacking("a positive 'imageSize' and 'imageRadius' (found \(info["imageSize"]?.canonical ?? "none"), \(info["imageRadius"]?.canonical ?? "none")), which image outputs need")
                }
            default:
                throw StageFailure("stage '\(ctx.stage)': \(meta.label) has \"outputs\": \(info["outputs"]!.canonical); the evaluation stages know \"particles\" and \"images\". Fix: rerun `\(stage)` with the current code.")
            }
            var files: [String: StageInput] = [:]
            for f in ctx.inputs where f.stage == stage { files[f.name] = f }
            out.append(ModelReconstruction(stage: stage, info: info, files: files))
        }
        guard !out.isEmpty else {
            throw StageFailure("stage '\(ctx.stage)': none of its inputs is a `reconstruct` stage (no reconstruction.json among \(ctx.inputs.map(\.label).joined(separator: ", "))). Fix: list the reconstruct stages in `stages.\(ctx.stage).inputs`.")
        }
        return out.sorted { paperRowOrder($0.info, stage: $0.stage).lexicographicallyPrecedes(paperRowOrder($1.info, stage: $1.stage)) }
    }
}

/// The column names of `ModelReconstruction.identityCSV`.
let identityCSVHeader = "stage,model,aggregation,latent,latent_label,compression_rate"

/// The latent column as the paper prints it, from a reconstruction.json or an evaluation row:
/// τ for the LGAE, "dim L" for the GNNAE-JL and the CNNAE, d × N for the GNNAE-PL (d features on
/// each of the N particles). `latex` gives the table cell, otherwise plain text.
func latentLabel(_ info: JSONValue, latex: Bool) -> String {
    let model = info["model"]?.stringValue ?? "", aggregation = info["aggregation"]?.stringValue ?? ""
    if model == "LGAE" {
        let tau = info["latentVectors"]?.intValue ?? 0
        return latex ? "$\\tau_{(1/2,1/2)} = \(tau)$" : "τ=\(tau)"
    }
    let dimension = info["latentDimension"]?.intValue ?? info["latentVectors"]?.intValue ?? 0
    if model == "GNNAE" && aggregation == "PL" {
        let n = info["particles"]?.intValue.map(String.init) ?? "N"
        return latex ? "$\(dimension) \\times \(n)$" : "\(dimension)×\(n)"
    }
    return "dim \(dimension)"
}

/// Rows in the order of the paper's tables: LGAE Min-Max, LGAE Mix, GNNAE JL, GNNAE PL, CNNAE;
/// then by latent size; then by name so that the order never depends on input order.
func paperRowOrder(_ info: JSONValue, stage: String) -> [String] {
    let models = ["LGAE", "GNNAE", "CNNAE"]
    let aggregations = ["minmax", "mix", "mean", "JL", "PL", "linear"]
    let m = models.firstIndex(of: info["model"]?.stringValue ?? "") ?? models.count
    let a = aggregations.firstIndex(of: info["aggregation"]?.stringValue ?? "") ?? aggregations.count
    let k = info["latentVectors"]?.intValue ?? info["latentDimension"]?.intValue ?? 0
    return [String(format: "%02d", m), String(format: "%02d", a), String(format: "%06d", k), stage]
}

/// Runs `body(first, end)` over contiguous chunks of `count` items on up to `threads` threads and
/// returns the per-chunk results in chunk order, so that anything combined from them does not
/// depend on the thread count: the chunks are fixed by `count` alone.
func inChunks<T>(count: Int, threads: Int, chunk: Int = 512, _ body: @Sendable (Int, Int) throws -> T) throws -> [T] {
    let chunks = (count + chunk - 1) / chunk
    guard chunks > 0 else { return [] }
    let results = ChunkResults<T>(chunks)
    let workers = max(1, min(threads, chunks))
    DispatchQueue.concurrentPerform(iterations: workers) { w in
        var c = w
        while c < chunks {
            let first = c * chunk
            results.set(c, Result { try body(first, min(count, first + chunk)) })
            c += workers
        }
    }
    return try results.values.map { try $0!.get() }
}

private final class ChunkResults<T>: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var values: [Result<T, Error>?]
    init(_ n: Int) { values = Array(repeating: nil, count: n) }
    func set(_ i: Int, _ r: Result<T, Error>) {
        lock.lock()
        values[i] = r
        lock.unlock()
    }
}

/// A number as CSV text: Swift's shortest round-trip form, so files are byte-stable and exact.
func csvNumber(_ x: Double) -> String { x.isNaN ? "" : "\(x)" }

/// "t_test" → "t": the signal's name in tables.
func signalName(_ part: String) -> String { part.hasSuffix("_test") ? String(part.dropLast(5)) : part }

/// 0.1 → "1e-1", 0.01 → "1e-2"; other values as written.
func efficiencyLabel(_ x: Double) -> String {
    let e = log10(x)
    return e.rounded() == e ? "1e\(Int(e))" : "\(x)"
}

/// A JSON input of the stage, or a failure naming the file and `fix`.
func readJSON(_ ctx: StageContext, _ input: StageInput, fix: String) throws -> JSONValue {
    do { return try JSONParser.parse(Data(contentsOf: URL(fileURLWithPath: input.path)), file: input.label) } catch {
        throw StageFailure("stage '\(ctx.stage)': \(input.label) is not readable JSON (\(error)). Fix: \(fix).")
    }
}
