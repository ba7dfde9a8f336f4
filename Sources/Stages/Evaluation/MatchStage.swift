import Evaluation
import Executor
import Foundation
import JetData

/// `match`: pairs every target particle of the QCD test jets with a reconstructed slot, the step
/// before the particle relative errors of Table 2 (§11.1 step 4). Models trained with a
/// permutation-invariant loss (Chamfer) are matched by Jonker–Volgenant on the Euclidean distance in
/// (pT_rel, η_rel, φ_rel), over the full N × N problem as the reference does; models trained with the
/// ordered MSE loss keep slot i for particle i.
///
/// Image models (the CNNAE) have no particles: a match stage on one fails, naming the fix.
///
/// Outputs: `P_matching.npy` [jets, N] int64 (the slot of each target particle) per part, and
/// `matching.json` (the rule used, the reconstruct stage it belongs to, the mean matched distance).
struct MatchStage: StageKind {
    let kind = "match"
    let summary = "pair target particles with reconstructed slots (Jonker–Volgenant, or in order for MSE-trained models)"
    static let code = ["Stages/Evaluation/MatchStage.swift", "Stages/Evaluation/EvaluationData.swift", "Evaluation/", "JetData/Npy.swift"]
    let codeDigest = Stages.codeDigest(MatchStage.code + commonCode)

    let parameters: [ParamSpec] = [
        ParamSpec("matching", .string, default: "auto",
                  doc: "assignment (Jonker–Volgenant), ordered (slot i ↔ particle i), or auto: ordered for MSE-trained models, assignment otherwise (§11.1)"),
        ParamSpec("parts", .stringArray, default: ["qcd_test"], doc: "parts to match (Table 2 uses the QCD test jets)"),
    ]

    func declaredOutputs(params: [String: JSONValue]) -> [String]? {
        (params["parts"]?.arrayValue?.compactMap(\.stringValue) ?? ["qcd_test"]).map { "\($0)_matching.npy" } + ["matching.json"]
    }

    func check(params: [String: JSONValue]) -> [ParamIssue] {
        var issues: [ParamIssue] = []
        if let m = params["matching"]?.stringValue, !(["auto"] + ParticleMatching.allCases.map(\.rawValue)).contains(m) {
            issues.append(ParamIssue(path: "matching", message: "unknown value '\(m)'", fix: "use auto, assignment or ordered"))
        }
        if let p = params["parts"]?.arrayValue, p.isEmpty {
            issues.append(ParamIssue(path: "parts", message: "is empty", fix: "use [\"qcd_test\"]"))
        }
        return issues
    }

    func run(_ ctx: StageContext) throws -> JSONValue {
        let recos = try ModelReconstruction.all(ctx)
        guard recos.count == 1, let reco = recos.first else {
            throw StageFailure("stage '\(ctx.stage)': matches one model, but its inputs hold \(recos.count) reconstructions (\(recos.map(\.stage).joined(separator: ", "))). Fix: give each model its own `match` stage.")
        }
        // The CNNAE reconstructs a jet image: there are no particles to pair, and its jet errors and
        // anomaly score come from the images alone (`errors` and `roc` need no match stage for it).
        guard !reco.outputsImages else {
            throw StageFailure("stage '\(ctx.stage)': \(reco.stage) is a \(reco.model) whose reconstructions are jet images (\"outputs\": \"images\"), so it has no particles to match. Fix: remove the stage '\(ctx.stage)' from pipeline.json (and from the inputs of `errors`); image models need no match stage.")
        }
        let setting = try ctx.string("matching")
        let rule: ParticleMatching = setting == "auto" ? (reco.loss == "mse" ? .ordered : .assignment) : ParticleMatching(rawValue: setting)!
        let n = reco.particles
        var perPart: [String: JSONValue] = [:]
        for part in try ctx.strings("parts") {
            let (target, output, jets) = try reco.momentumPair(ctx, part: part)
            var slots = [Int64](repeating: 0, count: jets * n)
            var meanCost = 0.0
            switch rule {
            case .ordered:
                for j in 0..<jets { for i in 0..<n { slots[j * n + i] = Int64(i) } }
            case .assignment:
                // Chunks of jets on the worker threads, one solver each; per-chunk cost sums are added
                // in chunk order, so the file and the figures do not depend on the thread count.
                let chunks = try inChunks(count: jets, threads: ctx.threads) { first, end -> (slots: [Int64], cost: Double) in
                    let matcher = ParticleMatcher(particles: n)
                    var local = [Int64](repeating: 0, count: (end - first) * n)
                    var slot = [Int32](repeating: 0, count: n)
                    var cost = 0.0
                    target.withUnsafeBufferPointer { t in
                        output.withUnsafeBufferPointer { o in
                            slot.withUnsafeMutableBufferPointer { s in
                                for j in first..<end {
                                    let range = (j * 4 * n)..<((j + 1) * 4 * n)
                                    cost += matcher.match(target: UnsafeBufferPointer(rebasing: t[range]),
                                                          reconstruction: UnsafeBufferPointer(rebasing: o[range]), into: s)
                                    for i in 0..<n { local[(j - first) * n + i] = Int64(s[i]) }
                                }
                            }
                        }
                    }
                    return (local, cost)
                }
                slots = chunks.flatMap(\.slots)
                meanCost = jets > 0 ? chunks.reduce(0) { $0 + $1.cost } / Double(jets) : 0
            }
            try writeNpy(slots, shape: [jets, n], to: ctx.outputPath("\(part)_matching.npy"))
            let moved = zip(slots.indices, slots).filter { Int($0.1) != $0.0 % n }.count
            perPart[part] = ["jets": .number(Double(jets)), "meanMatchedDistance": .number(meanCost),
                             "reorderedFraction": .number(jets > 0 ? Double(moved) / Double(jets * n) : 0)]
            ctx.note(String(format: "%@: %d jets matched (%@); %.1f%% of particles paired with another slot than their own",
                            part, jets, rule.rawValue, jets > 0 ? 100 * Double(moved) / Double(jets * n) : 0))
        }
        let info: JSONValue = ["reconstruction": .string(reco.stage), "matching": .string(rule.rawValue),
                               "trainingLoss": .string(reco.loss), "parts": .object(perPart)]
        try (info.pretty + "\n").write(toFile: ctx.outputPath("matching.json"), atomically: false, encoding: .utf8)
        return info
    }
}
