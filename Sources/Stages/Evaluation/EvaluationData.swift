import Executor
import Foundation
import JetData

/// The parts of the split that evaluation uses: the QCD test jets (Tables 2–4 background) and the
/// signal test jets (Table 4).
let defaultEvaluationParts = ["qcd_test", "t_test", "w_test", "z_test"]

/// One trained model's reconstruction as the evaluation stages see it: the files a `reconstruct`
/// stage wrote, grouped by the stage that wrote them, and its `reconstruction.json`.
struct ModelReconstruction {
    /// The `reconstruct` stage that made it, e.g. `reconstruct-minmax-tau4`: the row's identity in
    /// every evaluation output.
    let stage: String
    let info: JSONValue
    let files: [String: StageInput]

    var model: String { info["model"]?.stringValue ?? "?" }
    var aggregation: String { info["aggregation"]?.stringValue ?? "?" }
    var latentVectors: Int { info["latentVectors"]?.intValue ?? 0 }
    var compressionRate: Double { info["compressionRate"]?.doubleValue ?? .nan }
    var loss: String { info["loss"]?.stringValue ?? "?" }
    var particles: Int { info["particles"]?.intValue ?? 0 }

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

    func jets(part: String) -> Int? { info["parts"]?[part]?.intValue }

    /// Every `reconstruction.json` among the stage's inputs, with the other files of the same
    /// upstream stage, in a stable order (the paper's row order; see `paperRowOrder`).
    static func all(_ ctx: StageContext) throws -> [ModelReconstruction] {
        var out: [ModelReconstruction] = []
        for meta in ctx.inputs where meta.name == "reconstruction.json" {
            guard let stage = meta.stage else { continue }
            let info = try readJSON(ctx, meta, fix: "rerun `\(stage)`")
            for key in ["model", "aggregation", "latentVectors", "compressionRate", "loss", "particles", "parts"] where info[key] == nil {
                throw StageFailure("stage '\(ctx.stage)': \(meta.label) lacks the field '\(key)'. Fix: feed the outputs of a `reconstruct` stage, rerun with the current code.")
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
