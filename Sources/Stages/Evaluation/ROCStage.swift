import Evaluation
import Executor
import Foundation
import JetData

/// `roc`: anomaly detection (Table 4, Fig. 4, §11.3). Every jet of the background (QCD test) and
/// of each signal (t, W, Z test) gets anomaly scores — distances between the jet and its
/// reconstruction — and each signal, and all of them together, is separated from the background
/// by a threshold on one score: ROC curve, AUC, and the signal efficiency ε_s at background
/// efficiencies ε_b = 10⁻¹, 10⁻², 10⁻³, by the reference's rule (the first curve point with
/// ε_b ≥ target) and by linear interpolation.
///
/// Particle-output models (LGAE, GNNAE) get the scores of `scores`, and Table 4 uses `tableScore`.
/// Image-output models (the CNNAE) get one score whatever those parameters say,
/// `image_squared_error` = Σ over pixels (output − target)² (§11.3, last bullet), and Table 4 uses
/// it for their row: the particle scores have no meaning for an image. The normalised-Cartesian
/// scores need the target jets' factors of §2.3 (`PART_norm.npy`, which the LGAE and the GNNAE
/// reconstructions carry); a reconstruction without them skips those scores. Every file names the score of each of its rows, and roc.json lists each model's
/// `scoreColumns`.
///
/// Outputs: `roc.csv` (one row per model, score and signal), `roc_points.csv` (the curves of the
/// table's score, for plots), `scores-STAGE.npy` per model ([jets, scores], parts in the order of
/// `background` then `signals`, columns as the model's `scoreColumns` in `roc.json` lists them) and
/// `roc.json`.
struct ROCStage: StageKind {
    let kind = "roc"
    let summary = "anomaly scores, ROC curves, AUC and signal efficiencies of every model (Table 4)"
    static let code = ["Stages/Evaluation/ROCStage.swift", "Stages/Evaluation/EvaluationData.swift", "Evaluation/", "JetData/Npy.swift"]
    let codeDigest = Stages.codeDigest(ROCStage.code + commonCode)

    let parameters: [ParamSpec] = [
        ParamSpec("background", .string, default: "qcd_test", doc: "the background part (QCD test jets)"),
        ParamSpec("signals", .stringArray, default: ["t_test", "w_test", "z_test"], doc: "signal parts; each alone and all combined are separated from the background"),
        ParamSpec("scores", .stringArray, default: .array(AnomalyScore.allCases.map { .string($0.rawValue) }),
                  doc: "anomaly scores to compute: " + AnomalyScore.allCases.map(\.rawValue).joined(separator: ", ")),
        ParamSpec("tableScore", .string, default: "chamfer_cartesian",
                  doc: "the score of Table 4, of `show` and of roc_points.csv for particle-output models; image models (CNNAE) always use \(ROCStage.imageScore)"),
        ParamSpec("backgroundEfficiencies", .array, default: [0.1, 0.01, 0.001], doc: "ε_b at which ε_s is reported (paper: 1e-1, 1e-2, 1e-3)"),
    ]

    /// The anomaly score of image-output models: Σ over pixels (output − target)² (§11.3, §12.2).
    static let imageScore = "image_squared_error"

    func declaredOutputs(params: [String: JSONValue]) -> [String]? { nil }

    func check(params: [String: JSONValue]) -> [ParamIssue] {
        var issues: [ParamIssue] = []
        let known = AnomalyScore.allCases.map(\.rawValue)
        let scores = params["scores"]?.arrayValue?.compactMap(\.stringValue) ?? known
        for (i, s) in scores.enumerated() where !known.contains(s) {
            issues.append(ParamIssue(path: "scores[\(i)]", message: "unknown score '\(s)'", fix: "use some of: \(known.joined(separator: ", "))"))
        }
        if scores.isEmpty { issues.append(ParamIssue(path: "scores", message: "is empty", fix: "list at least chamfer_cartesian")) }
        if let t = params["tableScore"]?.stringValue, !scores.contains(t) {
            issues.append(ParamIssue(path: "tableScore", message: "'\(t)' is not among `scores`", fix: "use one of: \(scores.joined(separator: ", "))"))
        }
        if let signals = params["signals"]?.arrayValue, signals.isEmpty {
            issues.append(ParamIssue(path: "signals", message: "is empty", fix: "use [\"t_test\", \"w_test\", \"z_test\"]"))
        }
        if let e = params["backgroundEfficiencies"]?.arrayValue {
            for (i, v) in e.enumerated() where !(v.doubleValue.map { $0 > 0 && $0 < 1 } ?? false) {
                issues.append(ParamIssue(path: "backgroundEfficiencies[\(i)]", message: "must be a number in (0, 1), found \(v.canonical)", fix: "use e.g. [0.1, 0.01, 0.001]"))
            }
        }
        return issues
    }

    func run(_ ctx: StageContext) throws -> JSONValue {
        let recos = try ModelReconstruction.all(ctx)
        let background = try ctx.string("background"), signals = try ctx.strings("signals")
        let scores = try ctx.strings("scores").map { AnomalyScore(rawValue: $0)! }
        let tableScore = try ctx.string("tableScore")
        let efficiencies = (ctx.params["backgroundEfficiencies"]?.arrayValue ?? []).compactMap(\.doubleValue)
        let signalNames = signals.map(signalName) + (signals.count > 1 ? ["combined"] : [])
        let effNames = efficiencies.map { "eps_s_at_\(efficiencyLabel($0))" }

        var csv = identityCSVHeader + ",score,signal,signal_jets,background_jets,auc,flipped,"
            + effNames.flatMap { ["\($0)_first", "\($0)_interpolated"] }.joined(separator: ",") + "\n"
        var points = "stage,score,signal,threshold,fpr,tpr\n"
        var models: [JSONValue] = []
        var table: [JSONValue] = []
        var cells: [String: JSONValue] = [:]
        for reco in recos {
            // The columns of this model's scores, and the one of its Table 4 row.
            let modelScores = try particleScores(ctx, reco: reco, requested: scores, tableScore: tableScore)
            let scoreNames = reco.outputsImages ? [ROCStage.imageScore] : modelScores.map(\.rawValue)
            let modelTableScore = reco.outputsImages ? ROCStage.imageScore : tableScore
            // Scores of every part, computed once per part and score.
            var perPart: [String: [[Double]]] = [:]  // part → score index → per-jet values
            for part in [background] + signals {
                perPart[part] = reco.outputsImages ? [try imageScores(ctx, reco: reco, part: part)]
                    : try partScores(ctx, reco: reco, part: part, scores: modelScores)
                // A ROC needs jets on both sides; an empty part is a configuration problem, not a crash.
                guard perPart[part]!.first?.isEmpty == false else {
                    throw StageFailure("stage '\(ctx.stage)': \(reco.stage) has no jets in '\(part)', so no ROC curve can be drawn against it. Fix: check `split` (its \(part) arrays) and the `jets` parameter of \(reco.stage).")
                }
            }
            // [jets, scores] in part order, for anyone re-deriving a curve.
            var matrix: [Double] = []
            var rowsTotal = 0
            for part in [background] + signals {
                let cols = perPart[part]!
                let jets = cols.first?.count ?? 0
                rowsTotal += jets
                for j in 0..<jets { for s in scoreNames.indices { matrix.append(cols[s][j]) } }
            }
            try writeNpy(matrix, shape: [rowsTotal, scoreNames.count], to: ctx.outputPath("scores-\(reco.stage).npy"))

            let head = reco.identityCSV
            var byScore: [String: JSONValue] = [:]
            for (s, score) in scoreNames.enumerated() {
                let bkg = try sorted(perPart[background]![s], ctx: ctx, reco: reco, part: background, score: score)
                var sig: [SortedScores] = []
                for part in signals { sig.append(try sorted(perPart[part]![s], ctx: ctx, reco: reco, part: part, score: score)) }
                if signals.count > 1 { sig.append(SortedScores(merging: sig)) }
                var bySignal: [String: JSONValue] = [:]
                for (k, name) in signalNames.enumerated() {
                    let d = AnomalyDetection(signal: sig[k], background: bkg)
                    var eff: [String: JSONValue] = [:]
                    var effCSV: [String] = []
                    let atTargets = efficiencies.map { d.signalEfficiency(atBackground: $0) }
                    for (e, (first, interpolated)) in atTargets.enumerated() {
                        eff[effNames[e]] = ["first": first.map { .number($0) } ?? .null, "interpolated": .number(interpolated)]
                        effCSV += [first.map(csvNumber) ?? "", csvNumber(interpolated)]
                    }
                    csv += "\(head),\(score),\(name),\(sig[k].count),\(bkg.count),\(csvNumber(d.auc)),\(d.flipped ? 1 : 0),\(effCSV.joined(separator: ","))\n"
                    bySignal[name] = ["auc": .number(d.auc), "flipped": .bool(d.flipped), "signalJets": .number(Double(sig[k].count)),
                                      "backgroundJets": .number(Double(bkg.count)), "efficiencies": .object(eff)]
                    if score == modelTableScore {
                        for i in d.curve.fpr.indices {
                            points += "\(reco.stage),\(score),\(name),\(d.curve.thresholds[i]),\(d.curve.fpr[i]),\(d.curve.tpr[i])\n"
                        }
                        var row = reco.identity
                        row["score"] = .string(score)
                        row["signal"] = .string(name)
                        row["auc"] = .number(d.auc)
                        row["flipped"] = .bool(d.flipped)
                        var cell: [String: JSONValue] = ["auc": .number(d.auc)]
                        for (e, (first, interpolated)) in atTargets.enumerated() {
                            row[effNames[e]] = first.map { .number($0) } ?? .null
                            row[effNames[e] + "_interpolated"] = .number(interpolated)
                            cell[effNames[e]] = first.map { .number($0) } ?? .null
                        }
                        table.append(.object(row))
                        var forModel = cells[reco.stage]?.objectValue ?? [:]
                        forModel[name] = .object(cell)
                        cells[reco.stage] = .object(forModel)
                    }
                }
                byScore[score] = .object(bySignal)
            }
            if let combined = byScore[modelTableScore]?[signalNames.last!]?["auc"]?.doubleValue {
                ctx.note(String(format: "%@: AUC %.4f (%@, %@ vs %@)", reco.stage, combined, modelTableScore, signalNames.last!, background))
            }
            var model = reco.identity
            model["scores"] = .object(byScore)
            model["scoreColumns"] = .array(scoreNames.map { .string($0) })
            model["tableScore"] = .string(modelTableScore)
            models.append(.object(model))
        }
        let report: JSONValue = [
            "background": .string(background), "signals": .array(signalNames.map { .string($0) }),
            // The particle models' scores and table score; each model lists its own (`scoreColumns`,
            // `tableScore`), which differ for image models.
            "scores": .array(scores.map { .string($0.rawValue) }), "tableScore": .string(tableScore),
            "backgroundEfficiencies": .array(efficiencies.map { .number($0) }),
            "rule": "eps_s_at_X is tpr at the first ROC point with fpr >= X (the reference's searchsorted); *_interpolated interpolates linearly",
            "models": .array(models),
        ]
        try csv.write(toFile: ctx.outputPath("roc.csv"), atomically: false, encoding: .utf8)
        try points.write(toFile: ctx.outputPath("roc_points.csv"), atomically: false, encoding: .utf8)
        try (report.pretty + "\n").write(toFile: ctx.outputPath("roc.json"), atomically: false, encoding: .utf8)
        return ["tableScore": .string(tableScore), "signals": .array(signalNames.map { .string($0) }),
                "efficiencies": .array(effNames.map { .string($0) }), "table": .array(table), "cells": .object(cells)]
    }

    /// `pipeline show --stage roc`: AUC and ε_s per model and signal, aligned. A score column
    /// appears when the models' table scores differ (an image model among particle models).
    func render(summary: JSONValue) -> String? {
        guard let rows = summary["table"]?.arrayValue, !rows.isEmpty else { return nil }
        let effs = summary["efficiencies"]?.arrayValue?.compactMap(\.stringValue) ?? []
        let tableScore = summary["tableScore"]?.stringValue ?? ""
        let showScore = rows.contains { ($0["score"]?.stringValue ?? tableScore) != tableScore }
        let text = ["stage", "aggregation", "latent (rate)"] + (showScore ? ["score"] : []) + ["signal"]
        let header = text + ["AUC"] + effs.map { "ε_s(ε_b=" + $0.replacingOccurrences(of: "eps_s_at_", with: "") + ")" }
        var lines = [header]
        for r in rows {
            let rate = String(format: "%.2f%%", 100 * (r["compressionRate"]?.doubleValue ?? .nan))
            var cells = [r["stage"]?.stringValue ?? "", r["aggregation"]?.stringValue ?? "", "\(latentLabel(r, latex: false)) (\(rate))"]
            if showScore { cells.append(r["score"]?.stringValue ?? tableScore) }
            cells += [r["signal"]?.stringValue ?? "", String(format: "%.4f", r["auc"]?.doubleValue ?? .nan) + ((r["flipped"]?.boolValue ?? false) ? "*" : "")]
            cells += effs.map { e in r[e]?.doubleValue.map { String(format: "%.4f", $0) } ?? "—" }
            lines.append(cells)
        }
        let widths = header.indices.map { c in lines.map { $0[c].count }.max() ?? 0 }
        var out = ["anomaly detection, \(tableScore) score\(showScore ? " (image models: \(ROCStage.imageScore))" : ""); ε_s at the first ROC point with ε_b ≥ the target (roc.csv also has interpolated values)"]
        for (i, l) in lines.enumerated() {
            out.append("  " + l.enumerated().map { c, t in c < text.count ? t.padding(toLength: widths[c], withPad: " ", startingAt: 0)
                : String(repeating: " ", count: widths[c] - t.count) + t }.joined(separator: "  "))
            if i == 0 { out.append("  " + widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")) }
        }
        if rows.contains(where: { $0["flipped"]?.boolValue ?? false }) {
            out.append("  * AUC below 0.5: labels flipped as the reference does (the score separates the other way)")
        }
        return out.joined(separator: "\n")
    }

    /// Per-jet values of every score for one part, computed in chunks on the worker threads.
    private func partScores(_ ctx: StageContext, reco: ModelReconstruction, part: String, scores: [AnomalyScore]) throws -> [[Double]] {
        let n = reco.particles
        let (target, output, jets) = try reco.momentumPair(ctx, part: part)
        let norm = scores.contains { $0.space == .normalisedCartesian } ? try partNorms(ctx, reco: reco, part: part, jets: jets)
            : Array(repeating: SIMD4<Double>(repeating: 1), count: jets)  // unused by the other spaces
        let chunks = try inChunks(count: jets, threads: ctx.threads) { first, end -> [[Double]] in
            var scorer = JetScorer(particles: n)
            var out = scores.map { _ in [Double]() }
            try target.withUnsafeBufferPointer { t in
                try output.withUnsafeBufferPointer { o in
                    for j in first..<end {
                        let range = (j * 4 * n)..<((j + 1) * 4 * n)
                        let tj = UnsafeBufferPointer(rebasing: t[range]), oj = UnsafeBufferPointer(rebasing: o[range])
                        for (s, score) in scores.enumerated() {
                            do { out[s].append(try scorer.score(score, target: tj, reconstruction: oj, norm: norm[j])) } catch {
                                throw StageFailure("stage '\(ctx.stage)': \(score.rawValue) of \(reco.stage) \(part) jet \(j): \(error). Fix: check that model's outputs (`pipeline show --stage \(reco.stage)`).")
                            }
                        }
                    }
                }
            }
            return out
        }
        return scores.indices.map { s in chunks.flatMap { $0[s] } }
    }

    /// The requested scores a particle model can have. The normalised-Cartesian scores divide target
    /// and reconstruction by the target jet's factor of §2.3 (`PART_norm.npy`; a property of the
    /// jet, so it applies whether or not the model was trained on normalised jets); a reconstruction
    /// without those files skips them, and its `scoreColumns` in roc.json say so — unless its
    /// Table 4 row needs one.
    private func particleScores(_ ctx: StageContext, reco: ModelReconstruction, requested: [AnomalyScore], tableScore: String) throws -> [AnomalyScore] {
        guard !reco.outputsImages else { return [] }
        let hasNorms = reco.files.keys.contains { $0.hasSuffix("_norm.npy") }
        guard !hasNorms else { return requested }
        let skipped = requested.filter { $0.space == .normalisedCartesian }
        guard !skipped.isEmpty else { return requested }
        if skipped.map(\.rawValue).contains(tableScore) {
            throw StageFailure("stage '\(ctx.stage)': `tableScore` \(tableScore) divides by the per-jet normalisation of §2.3, but \(reco.stage) (\(reco.model)) has none (no PART_norm.npy). Fix: set `stages.\(ctx.stage).params.tableScore` to a score without it, e.g. chamfer_cartesian.")
        }
        ctx.note("\(reco.stage): no per-jet normalisation, so \(skipped.map(\.rawValue).joined(separator: ", ")) skipped")
        return requested.filter { $0.space != .normalisedCartesian }
    }

    /// Per-jet Σ over pixels (output − target)² of an image model, the CNNAE's anomaly score
    /// (§11.3). Each jet's sum runs over its pixels in row-major order, so it is the same for any
    /// thread count.
    private func imageScores(_ ctx: StageContext, reco: ModelReconstruction, part: String) throws -> [Double] {
        let (target, output, jets) = try reco.imagePair(ctx, part: part)
        let pixels = reco.imageSize * reco.imageSize
        let chunks = try inChunks(count: jets, threads: ctx.threads) { first, end -> [Double] in
            target.withUnsafeBufferPointer { t in
                output.withUnsafeBufferPointer { o in
                    (first..<end).map { j in
                        var sum = 0.0
                        for k in (j * pixels)..<((j + 1) * pixels) {
                            let d = o[k] - t[k]
                            sum += d * d
                        }
                        return sum
                    }
                }
            }
        }
        return chunks.flatMap { $0 }
    }

    private func partNorms(_ ctx: StageContext, reco: ModelReconstruction, part: String, jets: Int) throws -> [SIMD4<Double>] {
        guard let file = reco.files["\(part)_norm.npy"] else {
            throw StageFailure("stage '\(ctx.stage)': \(reco.stage) has no \(part)_norm.npy. Fix: rerun it with the current code.")
        }
        let a = try readNpy(file.path, as: Double.self)
        let width = a.shape.count == 2 ? a.shape[1] : 1
        guard a.shape.first == jets, width == 1 || width == 4 else {
            throw StageFailure("stage '\(ctx.stage)': \(file.label) has shape \(a.shape) for \(jets) jets. Fix: rerun \(reco.stage).")
        }
        return (0..<jets).map { j in
            width == 1 ? SIMD4(repeating: a.values[j]) : SIMD4(a.values[4 * j], a.values[4 * j + 1], a.values[4 * j + 2], a.values[4 * j + 3])
        }
    }

    private func sorted(_ values: [Double], ctx: StageContext, reco: ModelReconstruction, part: String, score: String) throws -> SortedScores {
        do { return try SortedScores(values) } catch let e as ROCError {
            throw StageFailure("stage '\(ctx.stage)': the \(score) score of \(reco.stage) \(part) jet \(e) . Fix: check that model's outputs (`pipeline show --stage \(reco.stage)`).")
        }
    }
}

/// The per-jet anomaly scores the `roc` stage can compute (§11.3): a distance and a space.
enum AnomalyScore: String, CaseIterable {
    case chamferCartesian = "chamfer_cartesian"
    case chamferNormalisedCartesian = "chamfer_normalised_cartesian"
    case chamferRelativePolar = "chamfer_relative_polar"
    case mseCartesian = "mse_cartesian"
    case mseNormalisedCartesian = "mse_normalised_cartesian"
    /// The energy mover's distance of energyflow (R = 1, β = 1) between the two clouds in relative
    /// coordinates, pT_rel as weights (the reference's `emd_loss`; §11.3).
    case emdRelativePolar = "emd_relative_polar"

    var space: ScoreSpace {
        switch self {
        case .chamferCartesian, .mseCartesian: return .cartesian
        case .chamferNormalisedCartesian, .mseNormalisedCartesian: return .normalisedCartesian
        case .chamferRelativePolar, .emdRelativePolar: return .relativePolar
        }
    }
}

/// Buffers for scoring one jet after another without allocating.
struct JetScorer {
    let particles: Int
    var x: [SIMD4<Double>], y: [SIMD4<Double>], minima: [Double], scratch: [Double]
    var emd: EMDSolver
    var emdX: [Double], emdY: [Double]

    init(particles n: Int) {
        particles = n
        x = Array(repeating: .zero, count: n)
        y = Array(repeating: .zero, count: n)
        minima = Array(repeating: 0, count: chamferScratchCount(particles: n))
        scratch = Array(repeating: 0, count: 3 * n)
        emd = EMDSolver(capacity: n)
        emdX = Array(repeating: 0, count: 3 * n)
        emdY = Array(repeating: 0, count: 3 * n)
    }

    mutating func score(_ score: AnomalyScore, target: UnsafeBufferPointer<Double>, reconstruction: UnsafeBufferPointer<Double>,
                        norm: SIMD4<Double>) throws -> Double {
        if score == .emdRelativePolar {
            // (pT_rel, η_rel, φ_rel) triples are energyflow's (pT, y, φ) events.
            emdX.withUnsafeMutableBufferPointer { relativePolarCoordinates(reconstruction, into: $0, convention: .anomalyScores) }
            emdY.withUnsafeMutableBufferPointer { relativePolarCoordinates(target, into: $0, convention: .anomalyScores) }
            return try emdX.withUnsafeBufferPointer { a in try emdY.withUnsafeBufferPointer { b in try emd.distance(a, b) } }
        }
        scratch.withUnsafeMutableBufferPointer { s in
            x.withUnsafeMutableBufferPointer { scorePoints(reconstruction, space: score.space, norm: norm, scratch: s, into: $0) }
            y.withUnsafeMutableBufferPointer { scorePoints(target, space: score.space, norm: norm, scratch: s, into: $0) }
        }
        return x.withUnsafeBufferPointer { xb in
            y.withUnsafeBufferPointer { yb in
                switch score {
                case .chamferCartesian, .chamferNormalisedCartesian, .chamferRelativePolar:
                    return minima.withUnsafeMutableBufferPointer { chamferScore(reconstruction: xb, target: yb, scratch: $0) }
                case .mseCartesian, .mseNormalisedCartesian, .emdRelativePolar:
                    return mseScore(reconstruction: xb, target: yb)
                }
            }
        }
    }
}
