import Digest
import Executor
import Foundation

/// `tables`: the paper's Tables 2, 3 and 4 regenerated from the `errors` and `roc` stages, as LaTeX
/// (booktabs, the paper's rows and columns, the best value of each column in bold) and CSV (every
/// digit), a standalone `tables.tex` that compiles on its own, and `paper_vs_run.csv` with the
/// published value next to this run's for every cell the run covers.
///
/// Every model family sits in one table as in the paper: LGAE, GNNAE-JL, GNNAE-PL, CNNAE. Table 2
/// has only the models that output particles; the CNNAE's jet image has no particles, so it appears
/// in Tables 3 (jet features of its images, placed in each jet's frame) and 4 (its image score).
struct TablesStage: StageKind {
    let kind = "tables"
    let summary = "Tables 2–4 as LaTeX and CSV, and the paper's values beside this run's"
    static let code = ["Stages/Evaluation/TablesStage.swift", "Stages/Evaluation/PaperTables.swift", "Stages/Evaluation/EvaluationData.swift"]
    let codeDigest = Stages.codeDigest(TablesStage.code + commonCode)
    static let outputs = ["table2.tex", "table2.csv", "table3.tex", "table3.csv", "table4.tex", "table4.csv", "tables.tex", "paper_vs_run.csv"]

    let parameters: [ParamSpec] = [
        ParamSpec("signal", .string, default: "combined", doc: "the signal of Table 4: combined (t+W+Z, as the paper is believed to use), t, w or z"),
        ParamSpec("jetDefinition", .string, default: "code", doc: "Table 3's relative error: code ((x̂−x)/(x̂+ε), what produced the published table) or paper ((x̂−x)/(x+ε))"),
    ]

    func declaredOutputs(params: [String: JSONValue]) -> [String]? { TablesStage.outputs }

    func check(params: [String: JSONValue]) -> [ParamIssue] {
        if let d = params["jetDefinition"]?.stringValue, !["code", "paper"].contains(d) {
            return [ParamIssue(path: "jetDefinition", message: "unknown value '\(d)'", fix: "use code or paper")]
        }
        return []
    }

    func run(_ ctx: StageContext) throws -> JSONValue {
        let errorsFile = try ctx.input(named: "errors.json"), rocFile = try ctx.input(named: "roc.json")
        let errors = try readJSON(ctx, errorsFile, fix: "rerun `\(errorsFile.stage ?? "errors")`")
        let roc = try readJSON(ctx, rocFile, fix: "rerun `\(rocFile.stage ?? "roc")`")
        let signal = try ctx.string("signal"), definition = try ctx.string("jetDefinition")
        guard let signals = roc["signals"]?.arrayValue?.compactMap(\.stringValue), signals.contains(signal) else {
            throw StageFailure("stage '\(ctx.stage)': the roc stage has no signal '\(signal)' (it has \(roc["signals"]?.canonical ?? "none")). Fix: set `stages.\(ctx.stage).params.signal` to one of those.")
        }
        let errorRows = errors["models"]?.arrayValue ?? [], rocRows = roc["models"]?.arrayValue ?? []
        let tableScore = roc["tableScore"]?.stringValue ?? "?"
        let efficiencies = roc["backgroundEfficiencies"]?.arrayValue?.compactMap(\.doubleValue) ?? []
        // Image models have no particle errors ("particle": null): no Table 2 row.
        let particleRows = errorRows.filter { $0["particle"]?.objectValue != nil }
        let particleJets = particleRows.first?["jets"]?.doubleValue ?? 0, jetJets = errorRows.first?["jets"]?.doubleValue ?? 0

        // paper_compression_rate: the rate as the paper prints it for that row, beside this run's
        // compression_rate (they differ for the CNNAE: 61.67% printed, 55/90 = 61.11%).
        var comparison = "table,model,aggregation,latent,compression_rate,column,paper,paper_value,run_value,paper_compression_rate\n"

        // Table 2: particle relative errors.
        let t2 = Table(number: 2, columns: [("$p_\\mathrm{T}^\\mathrm{rel}$", ["pt_rel"]), ("$\\eta^\\mathrm{rel}$", ["eta_rel"]), ("$\\phi^\\mathrm{rel}$", ["phi_rel"])],
                       rows: particleRows.map { r in
                           TableRow(info: r, values: ["pt_rel", "eta_rel", "phi_rel"].flatMap { f in
                               [r["particle"]?[f]?["median"]?.doubleValue ?? .nan, r["particle"]?[f]?["iqr"]?.doubleValue ?? .nan]
                           })
                       })
        // Table 3: jet relative errors.
        let t3 = Table(number: 3, columns: [("Mass $m$", ["mass"]), ("$p_\\mathrm{T}$", ["pt"]), ("$\\eta$", ["eta"]), ("$\\phi$", ["phi"])],
                       rows: errorRows.map { r in
                           TableRow(info: r, values: JetFeatureNames.flatMap { f in
                               [r["jet"]?[definition]?[f]?["median"]?.doubleValue ?? .nan, r["jet"]?[definition]?[f]?["iqr"]?.doubleValue ?? .nan]
                           })
                       })
        // Table 4: anomaly detection.
        let effKeys = efficiencies.map { "eps_s_at_\(efficiencyLabel($0))" }
        // Each model's own table score: image models are scored on their images whatever `tableScore` is.
        let t4rows = rocRows.map { r -> TableRow in
            let score = r["tableScore"]?.stringValue ?? tableScore
            let cell = r["scores"]?[score]?[signal]
            return TableRow(info: r, values: [cell?["auc"]?.doubleValue ?? .nan]
                + effKeys.map { cell?["efficiencies"]?[$0]?["first"]?.doubleValue ?? .nan }, score: score)
        }
        let imageScored = t4rows.filter { $0.score != tableScore }
        let imageJetRows = errorRows.filter { $0["outputs"]?.stringValue == "images" }

        let jetDefinitionText = definition == "code"
            ? "$(\\hat{x}-x)/(\\hat{x}+\\epsilon)$, the reference code's definition, which produced the published table"
            : "$(\\hat{x}-x)/(x+\\epsilon)$, the paper's definition"
        let caption2 = "Particle-feature relative errors $(\\hat{x}-x)/(x+\\epsilon)$ on \(Int(particleJets)) QCD test jets: median and IQR. Permutation-invariant models are matched by Jonker--Volgenant in $(p_\\mathrm{T}^\\mathrm{rel},\\eta^\\mathrm{rel},\\phi^\\mathrm{rel})$; MSE-trained models slot by slot.\(jetLevelLossSentence(errorRows)) Bold: best in the column (smallest $|\\mathrm{median}|$, smallest IQR)."
        // The image-model sentences appear only when such a model is in the table, so an LGAE-only run
        // keeps its captions.
        let imageJetText = imageJetRows.isEmpty ? "" : imageFeatureSentence(imageJetRows)
        let caption3 = "Jet-feature relative errors \(jetDefinitionText), on \(Int(jetJets)) QCD test jets: median and IQR.\(imageJetText)\(jetLevelLossSentence(errorRows)) Bold: best in the column."
        let particleScored = t4rows.count > imageScored.count
        let scoreText = particleScored ? "the \(tableScore.replacingOccurrences(of: "_", with: " ")) score" : "the summed squared pixel difference"
        let imageScoreText = imageScored.isEmpty || !particleScored ? ""
            : " The \(Set(imageScored.map(\.model)).sorted().joined(separator: ", ")), whose output is a jet image, is scored by the summed squared pixel difference $\\sum_\\mathrm{pixels}(\\hat{x}-x)^2$."
        let caption4 = "Anomaly detection of \(signal == "combined" ? "t, W and Z jets combined" : "\(signal) jets") against QCD with \(scoreText): AUC and signal efficiency $\\epsilon_s$ at the first ROC point with background efficiency $\\epsilon_b \\geq$ the target.\(imageScoreText)\(jetLevelLossSentence(rocRows)) Bold: best in the column."

        let tex2 = latexTable(t2, caption: caption2, label: "tab:particle-errors", medianIQR: true)
        let tex3 = latexTable(t3, caption: caption3, label: "tab:jet-errors", medianIQR: true)
        let tex4 = latexTable(Table(number: 4, columns: [("AUC", ["auc"])] + efficiencies.map { ("$\\epsilon_s(\\epsilon_b=10^{\(Int(log10($0).rounded()))})$", [efficiencyLabel($0)]) },
                                    rows: t4rows),
                              caption: caption4, label: "tab:anomaly", medianIQR: false)

        let csv2 = csvTable(t2, columns: ["pt_rel_median", "pt_rel_iqr", "eta_rel_median", "eta_rel_iqr", "phi_rel_median", "phi_rel_iqr"])
        let csv3 = csvTable(t3, columns: JetFeatureNames.flatMap { ["\($0)_median", "\($0)_iqr"] })
        let csv4 = csvTable(Table(number: 4, columns: [], rows: t4rows), columns: ["auc"] + effKeys, score: true)

        comparison += compare(table: 2, rows: t2.rows, runColumns: PaperTables.table2Columns, paper: PaperTables.table2, columns: PaperTables.table2Columns)
        comparison += compare(table: 3, rows: t3.rows, runColumns: PaperTables.table3Columns, paper: PaperTables.table3, columns: PaperTables.table3Columns)
        // Table 4's efficiency columns are matched by ε_b, so a run with other targets compares only the shared ones.
        comparison += compare(table: 4, rows: t4rows, runColumns: ["AUC"] + efficiencies.map { "eps_s at eps_b=\(efficiencyLabel($0))" },
                              paper: PaperTables.table4, columns: PaperTables.table4Columns)

        let standalone = """
        % Tables 2-4 of "Lorentz group equivariant autoencoders" regenerated by `pipeline run all`.
        \\documentclass{article}
        \\usepackage[margin=2cm]{geometry}
        \\usepackage{booktabs}
        \\begin{document}
        \(tex2)
        \(tex3)
        \(tex4)
        \\end{document}

        """
        let files: [(String, String)] = [("table2.tex", tex2), ("table2.csv", csv2), ("table3.tex", tex3), ("table3.csv", csv3),
                                          ("table4.tex", tex4), ("table4.csv", csv4), ("tables.tex", standalone), ("paper_vs_run.csv", comparison)]
        var listed: [JSONValue] = []
        for (name, text) in files {
            try text.write(toFile: ctx.outputPath(name), atomically: false, encoding: .utf8)
            var h = Hasher(.sha256)
            h.update(text)
            listed.append(["file": .string(name), "sha256": .string(h.finalize()), "bytes": .number(Double(text.utf8.count))])
        }
        ctx.note("Tables 2 and 3: \(t2.rows.count) models; Table 4: \(t4rows.count) models (\(tableScore), \(signal))")
        return ["files": .array(listed), "table2Rows": .number(Double(t2.rows.count)), "table4Rows": .number(Double(t4rows.count)),
                "table4Score": .string(tableScore), "table4Signal": .string(signal), "table3Definition": .string(definition)]
    }

    /// `pipeline show --stage tables`: the files with their SHA-256.
    func render(summary: JSONValue) -> String? {
        guard let files = summary["files"]?.arrayValue else { return nil }
        let w = files.map { $0["file"]?.stringValue?.count ?? 0 }.max() ?? 0
        var out = ["tables (Table 4: \(summary["table4Score"]?.stringValue ?? "") score, \(summary["table4Signal"]?.stringValue ?? "") signal; Table 3: \(summary["table3Definition"]?.stringValue ?? "") definition)"]
        for f in files {
            out.append("  " + (f["file"]?.stringValue ?? "").padding(toLength: w, withPad: " ", startingAt: 0)
                       + "  sha256:" + (f["sha256"]?.stringValue ?? "") + String(format: "  %6d B", f["bytes"]?.intValue ?? 0))
        }
        return out.joined(separator: "\n")
    }

    /// One "paper vs run" line per cell of a row the paper also has; `runColumns` names the values of
    /// each run row, `columns` the paper's cells.
    private func compare(table: Int, rows: [TableRow], runColumns: [String], paper: [PaperRow], columns: [String]) -> String {
        var out = ""
        for row in rows {
            guard let p = paper.first(where: { $0.model == row.model && $0.aggregation == row.aggregation && $0.latent == row.latent }) else { continue }
            for (c, name) in columns.enumerated() {
                guard let r = runColumns.firstIndex(of: name), r < row.values.count else { continue }
                let pv = paperValue(p.cells[c]).map(csvNumber) ?? ""
                out += "\(table),\(row.model),\(row.aggregation),\(row.latent),\(row.compressionRate),\(name),\(p.cells[c]),\(pv),\(csvNumber(row.values[r])),\(p.rate)\n"
            }
        }
        return out
    }
}

let JetFeatureNames = ["mass", "pt", "eta", "phi"]

struct TableRow {
    let model: String
    let aggregation: String
    /// τ (LGAE), dim L (GNNAE-JL, CNNAE) or d (GNNAE-PL): with model and aggregation, the key of the
    /// paper's row (`PaperRow`).
    let latent: Int
    let compressionRate: Double
    let values: [Double]
    /// The latent cell without the rate, as the paper prints it (see `latentLabel`).
    let latentLabelText: String
    /// Table 4: the anomaly score of this row (image models have their own).
    let score: String?

    init(info: JSONValue, values: [Double], score: String? = nil) {
        model = info["model"]?.stringValue ?? "?"
        aggregation = info["aggregation"]?.stringValue ?? "?"
        latent = info["latentVectors"]?.intValue ?? info["latentDimension"]?.intValue ?? 0
        compressionRate = info["compressionRate"]?.doubleValue ?? .nan
        self.values = values
        latentLabelText = latentLabel(info, latex: true)
        self.score = score
    }

    /// "Min-Max", "Mix", "JL", …: the paper's aggregation column.
    var aggregationText: String {
        switch aggregation {
        case "minmax": return "Min-Max"
        case "mix": return "Mix"
        case "mean": return "Mean"
        case "linear": return "Linear"
        default: return aggregation
        }
    }

    /// The latent column: τ for the LGAE, "dim L" or d × N for the baselines, then this run's
    /// compression rate (§5.4), which for the CNNAE is 55/90 = 61.11% where the paper prints 61.67%.
    var latentText: String {
        "\(latentLabelText) (\(String(format: "%.2f\\%%", 100 * compressionRate)))"
    }
}

struct Table {
    let number: Int
    /// Header text and keys; Tables 2–3 have a median and an IQR column under each header.
    let columns: [(header: String, keys: [String])]
    let rows: [TableRow]
}

/// LaTeX for a table: booktabs rules, Model | Aggregation | Latent, then the value columns, the
/// best value of each column in bold.
func latexTable(_ t: Table, caption: String, label: String, medianIQR: Bool) -> String {
    let valueColumns = medianIQR ? 2 * t.columns.count : t.columns.count
    var lines: [String] = []
    lines.append("\\begin{table}[htbp]")
    lines.append("\\centering")
    lines.append("\\caption{\(caption)}")
    lines.append("\\label{\(label)}")
    lines.append("\\begin{tabular}{lll" + String(repeating: "r", count: valueColumns) + "}")
    lines.append("\\toprule")
    if medianIQR {
        lines.append("Model & Aggregation & Latent (rate) & " + t.columns.map { "\\multicolumn{2}{c}{\($0.header)}" }.joined(separator: " & ") + " \\\\")
        lines.append((0..<t.columns.count).map { "\\cmidrule(lr){\(4 + 2 * $0)-\(5 + 2 * $0)}" }.joined())
        lines.append(" & & & " + Array(repeating: "Median & IQR", count: t.columns.count).joined(separator: " & ") + " \\\\")
    } else {
        lines.append("Model & Aggregation & Latent (rate) & " + t.columns.map(\.header).joined(separator: " & ") + " \\\\")
    }
    lines.append("\\midrule")
    // Best per column: smallest |median| and smallest IQR for error tables, largest for Table 4.
    var best: [Int: Int] = [:]
    for c in 0..<valueColumns {
        let candidates = t.rows.indices.filter { t.rows[$0].values[c].isFinite }
        let key: (Int) -> Double = medianIQR ? { abs(t.rows[$0].values[c]) } : { -t.rows[$0].values[c] }
        if let b = candidates.min(by: { key($0) < key($1) }), candidates.count > 1 { best[c] = b }
    }
    var previousModel = ""
    for (i, r) in t.rows.enumerated() {
        let cells = r.values.enumerated().map { c, v -> String in
            guard v.isFinite else { return "--" }
            let text = medianIQR ? errorCell(v) : String(format: "%.4f", v)
            return best[c] == i ? "$\\mathbf{\(text)}$" : "$\(text)$"
        }
        if !previousModel.isEmpty && previousModel != r.model { lines.append("\\midrule") }
        previousModel = r.model
        lines.append("\(r.model) & \(r.aggregationText) & \(r.latentText) & " + cells.joined(separator: " & ") + " \\\\")
    }
    lines.append("\\bottomrule")
    lines.append("\\end{tabular}")
    lines.append("\\end{table}")
    return lines.joined(separator: "\n") + "\n"
}

/// A relative error as the paper prints it (math-mode text without the $): <10^{-3} below a
/// thousandth, three decimals below one, one decimal above.
func errorCell(_ v: Double) -> String {
    if abs(v) < 1e-3 { return "<10^{-3}" }
    return abs(v) < 1 ? String(format: "%.3f", v) : String(format: "%.1f", v)
}

/// The table as CSV, every digit; `score` adds the column naming each row's anomaly score (Table 4).
func csvTable(_ t: Table, columns: [String], score: Bool = false) -> String {
    var out = "model,aggregation,latent,compression_rate," + columns.joined(separator: ",") + (score ? ",score" : "") + "\n"
    for r in t.rows {
        out += "\(r.model),\(r.aggregation),\(r.latent),\(r.compressionRate)," + r.values.map(csvNumber).joined(separator: ",")
            + (score ? ",\(r.score ?? "")" : "") + "\n"
    }
    return out
}

/// Table 3's sentence on image models, from how `errors` computed their features (`jetFeatures`:
/// image_GeV when the reconstruction gave each jet's frame, image_relative otherwise).
func imageFeatureSentence(_ rows: [JSONValue]) -> String {
    let models = Set(rows.compactMap { $0["model"]?.stringValue }).sorted().joined(separator: ", ")
    let relative = rows.contains { $0["jetFeatures"]?.stringValue == "image_relative" }
    return relative
        ? " The \(models) features are computed from its jet images (paper footnote 3), in the images' relative units: $p_\\mathrm{T}$ and mass relative to the jet $p_\\mathrm{T}$, $\\eta$ and $\\phi$ about the jet axis."
        : " The \(models) features are computed from its jet images (paper footnote 3), each pixel a massless particle placed in the jet's frame, so mass and $p_\\mathrm{T}$ are in GeV and $\\eta$, $\\phi$ absolute, like the other rows."
}

/// Which loss the GNNAE-JL rows were trained with (the paper describes Chamfer; the reference code
/// optimises only its jet term, spec §12.1), or nothing if there is no such row.
func jetLevelLossSentence(_ rows: [JSONValue]) -> String {
    let losses = Set(rows.filter { $0["model"]?.stringValue == "GNNAE" && $0["aggregation"]?.stringValue == "JL" }
        .compactMap { $0["loss"]?.stringValue })
    guard !losses.isEmpty else { return "" }
    let names = losses.sorted().map { $0 == "chamferJetTermOnly" ? "the reference code's jet-term-only Chamfer loss" : ($0 == "chamfer" ? "the Chamfer loss" : "the \($0) loss") }
    return " GNNAE-JL trained with \(names.joined(separator: " and "))."
}
