import Executor
import Foundation
import JetData
import XCTest

@testable import Stages

/// `match`, `errors`, `roc` and `tables` on hand-made reconstructions whose every figure can be
/// worked out on paper. Two fake `reconstruct` results come from command stages copying files the
/// test writes: the same jets, once as if from a Chamfer-trained Min-Max model (matched by
/// Jonker–Volgenant) and once as if from an MSE-trained Mix model (matched in order).
///
/// The jets: 3 real particles 10+ apart in every coordinate plus one padded slot. Each
/// reconstruction lists the target's slots in reverse order with every energy raised by δ. An
/// energy shift leaves pT, η and φ alone, so after the right pairing every particle relative error
/// is exactly 0, and jet pT, η, φ errors are exactly 0; the Chamfer score (non-squared, mean over
/// 4 slots) is exactly 2δ for δ a power of two, since each point's nearest neighbour is its own copy.
/// δ per jet: background (QCD) 0, 0, 0.25, 0.5 → scores 0, 0, 0.5, 1; t: 0.5, 1 → 1, 2;
/// W: 0, 0.25 → 0, 0.5; Z: 1, 1 → 2, 2.
final class EvaluationStageTests: PipelineTestCase {
    static let shifts: [String: [Double]] = ["qcd_test": [0, 0, 0.25, 0.5], "t_test": [0.5, 1], "w_test": [0, 0.25], "z_test": [1, 1]]
    static let slots = 4

    /// Target particle i of jet j, in TeV; slot 3 is padding.
    static func target(jet j: Int, part: Int) -> [Double] {
        var p: [Double] = []
        for i in 0..<3 {
            let jj = Double(j + 3 * part), ii = Double(i)
            p += [200 + 40 * ii + jj, 30 + 40 * ii + jj, 20 - 45 * ii + jj, 10 + 50 * ii - jj]
        }
        return p + [0, 0, 0, 0]
    }

    private func writeFakeReconstruction(_ ws: String, _ name: String, aggregation: String, latent: Int, loss: String,
                                         shifts allShifts: [String: [Double]] = EvaluationStageTests.shifts) throws -> JSONValue {
        var files: [String] = []
        var parts: [String: JSONValue] = [:]
        try FileManager.default.createDirectory(atPath: "\(ws)/fake/\(name)", withIntermediateDirectories: true)
        for (k, part) in ["qcd_test", "t_test", "w_test", "z_test"].enumerated() {
            let shifts = allShifts[part]!
            var target: [Double] = [], output: [Double] = []
            for (j, d) in shifts.enumerated() {
                let t = EvaluationStageTests.target(jet: j, part: k)
                target += t
                for s in (0..<EvaluationStageTests.slots).reversed() {
                    output += [t[4 * s] + d, t[4 * s + 1], t[4 * s + 2], t[4 * s + 3]]
                }
            }
            let n = shifts.count
            try writeNpy(target, shape: [n, 4, 4], to: "\(ws)/fake/\(name)/\(part)_target.npy")
            try writeNpy(output, shape: [n, 4, 4], to: "\(ws)/fake/\(name)/\(part)_output.npy")
            try writeNpy([Double](repeating: 2, count: n), shape: [n], to: "\(ws)/fake/\(name)/\(part)_norm.npy")
            files += ["\(part)_target.npy", "\(part)_output.npy", "\(part)_norm.npy"]
            parts[part] = .number(Double(n))
        }
        let info: JSONValue = ["model": "LGAE", "aggregation": .string(aggregation), "latentVectors": .number(Double(latent)),
                               "compressionRate": .number(0.5), "loss": .string(loss), "particles": 4, "parts": .object(parts)]
        try writeText("\(ws)/fake/\(name)/reconstruction.json", info.pretty)
        files.append("reconstruction.json")
        return [
            "kind": "command",
            "files": .array(files.map { .string("fake/\(name)/\($0)") }),
            "params": ["run": .string("cp {workspace}/fake/\(name)/* {outdir}/"), "outputs": .array(files.map { .string($0) })],
        ]
    }

    private func workspace(_ name: String, tableScore: String = "chamfer_cartesian") throws -> String {
        let ws = root + "/" + name
        var stages: [String: JSONValue] = [
            "reconstruct-a": try writeFakeReconstruction(ws, "a", aggregation: "minmax", latent: 4, loss: "chamfer"),
            "reconstruct-b": try writeFakeReconstruction(ws, "b", aggregation: "mix", latent: 2, loss: "mse"),
        ]
        stages["match-a"] = ["kind": "match", "inputs": ["reconstruct-a"]]
        stages["match-b"] = ["kind": "match", "inputs": ["reconstruct-b"]]
        stages["errors"] = ["kind": "errors", "inputs": ["reconstruct-a", "reconstruct-b", "match-a", "match-b"]]
        stages["roc"] = ["kind": "roc", "inputs": ["reconstruct-a", "reconstruct-b"],
                         "params": ["scores": ["chamfer_cartesian", "mse_cartesian", "emd_relative_polar"], "tableScore": .string(tableScore),
                                    "backgroundEfficiencies": [0.1, 0.3]]]
        stages["tables"] = ["kind": "tables", "inputs": ["errors/errors.json", "roc/roc.json"], "publish": "tables"]
        try writeConfig(ws, ["version": 1, "stages": .object(stages)])
        return ws
    }


    func testHandWorkedErrorsROCAndTables() throws {
        let ws = try workspace("eval")
        let (report, runner) = try runInProcess(ws, threads: 2)
        XCTAssertEqual(report.executed, 7)

        // Matching: Jonker–Volgenant undoes the reversal for the Chamfer model; the MSE model keeps slot order.
        let slots = try readNpy(ws + "/artifacts/out/match-a/qcd_test_matching.npy", as: Int64.self)
        XCTAssertEqual(slots.shape, [4, 4])
        XCTAssertEqual(Array(slots.values[0..<4]), [3, 2, 1, 0])
        XCTAssertEqual(try json(ws + "/artifacts/out/match-b/matching.json")["matching"], "ordered")

        // Particle errors: exactly zero after the right pairing; 3 real particles per jet, padded slots skipped.
        let errors = try json(ws + "/artifacts/out/errors/errors.json")
        let rows = errors["models"]!.arrayValue!
        XCTAssertEqual(rows.map { $0["stage"]!.stringValue! }, ["reconstruct-a", "reconstruct-b"], "Min-Max before Mix, as the paper")
        for f in ["pt_rel", "eta_rel", "phi_rel"] {
            XCTAssertEqual(rows[0]["particle"]![f]!["median"]!.doubleValue, 0, f)
            XCTAssertEqual(rows[0]["particle"]![f]!["iqr"]!.doubleValue, 0, f)
            XCTAssertEqual(rows[0]["particle"]![f]!["count"]!.intValue, 12, f)
            XCTAssertGreaterThan(rows[1]["particle"]![f]!["iqr"]!.doubleValue!, 0.1, "slot order is wrong for the MSE fake, so \(f) errors spread")
        }
        XCTAssertTrue(try readText(ws + "/artifacts/out/errors/particle_errors.csv").contains(",assignment,pt_rel,12,4,0.0,0.0,"))
        // Jet errors: pT, η, φ untouched by energy shifts; mass grows with δ. Code: (m̂ − m)/m̂, paper: (m̂ − m)/m.
        for d in ["code", "paper"] {
            for f in ["pt", "eta", "phi"] { XCTAssertEqual(rows[0]["jet"]![d]![f]!["median"]!.doubleValue, 0, "\(d) \(f)") }
        }
        let masses = (0..<4).map { j -> (Double, Double) in
            let t = EvaluationStageTests.target(jet: j, part: 0)
            var p = SIMD4<Double>(repeating: 0)
            for s in 0..<4 { p += SIMD4(t[4 * s], t[4 * s + 1], t[4 * s + 2], t[4 * s + 3]) }
            let m = { (q: SIMD4<Double>) in (q[0] * q[0] - q[1] * q[1] - q[2] * q[2] - q[3] * q[3]).squareRoot() * 1000 }
            return (m(p), m(p + SIMD4(4 * EvaluationStageTests.shifts["qcd_test"]![j], 0, 0, 0)))
        }
        let code = masses.map { ($0.1 - $0.0) / ($0.1 + 1e-16) }.sorted(), paper = masses.map { ($0.1 - $0.0) / ($0.0 + 1e-16) }.sorted()
        XCTAssertEqual(rows[0]["jet"]!["code"]!["mass"]!["median"]!.doubleValue!, (code[1] + code[2]) / 2, accuracy: 1e-12)
        XCTAssertEqual(rows[0]["jet"]!["paper"]!["mass"]!["median"]!.doubleValue!, (paper[1] + paper[2]) / 2, accuracy: 1e-12)
        XCTAssertLessThan(rows[0]["jet"]!["code"]!["mass"]!["median"]!.doubleValue!, rows[0]["jet"]!["paper"]!["mass"]!["median"]!.doubleValue!)

        // ROC, worked by hand from the scores 2δ (see the type's comment).
        let roc = try json(ws + "/artifacts/out/roc/roc.json")
        let a = roc["models"]!.arrayValue![0]["scores"]!["chamfer_cartesian"]!
        XCTAssertEqual(a["t"]!["auc"]!.doubleValue, 7.5 / 8)
        XCTAssertEqual(a["t"]!["flipped"], false)
        XCTAssertEqual(a["w"]!["auc"]!.doubleValue, 1 - 3.5 / 8, "AUC 3.5/8 < ½: labels flipped as the reference does")
        XCTAssertEqual(a["w"]!["flipped"], true)
        XCTAssertEqual(a["z"]!["auc"]!.doubleValue, 1)
        XCTAssertEqual(a["combined"]!["auc"]!.doubleValue!, 19.0 / 24, accuracy: 1e-15)
        // t: (fpr, tpr) = (0,0) (0,½) (¼,1) (½,1) (1,1); at ε_b = 0.1 the first point is (¼, 1), interpolation gives 0.7.
        XCTAssertEqual(a["t"]!["efficiencies"]!["eps_s_at_1e-1"]!["first"]!.doubleValue, 1)
        XCTAssertEqual(a["t"]!["efficiencies"]!["eps_s_at_1e-1"]!["interpolated"]!.doubleValue!, 0.7, accuracy: 1e-15)
        let points = try readText(ws + "/artifacts/out/roc/roc_points.csv").split(separator: "\n").filter { $0.hasPrefix("reconstruct-a,chamfer_cartesian,t,") }
        XCTAssertEqual(points.map { $0.split(separator: ",").suffix(2).joined(separator: ",") }, ["0.0,0.0", "0.0,0.5", "0.25,1.0", "0.5,1.0", "1.0,1.0"])
        let scores = try readNpy(ws + "/artifacts/out/roc/scores-reconstruct-a.npy", as: Double.self)
        XCTAssertEqual(scores.shape, [10, 3])
        XCTAssertEqual(stride(from: 0, to: 30, by: 3).map { scores.values[$0] }, [0, 0, 0.5, 1, 1, 2, 0, 0.5, 2, 2])
        // Energy shifts leave (pT_rel, η_rel, φ_rel) alone: the same weighted points, EMD 0 up to rounding.
        XCTAssertLessThan(stride(from: 2, to: 30, by: 3).map { abs(scores.values[$0]) }.max()!, 1e-15)

        // `show --stage roc` renders the table.
        let rendered = try XCTUnwrap(ROCStage().render(summary: try runner.show(stage: "roc")["summary"]!))
        XCTAssertTrue(rendered.contains("reconstruct-a  minmax       τ=4 (50.00%)   t          0.9375         1.0000        1.0000"), rendered)
        XCTAssertTrue(rendered.contains("0.5625*"), rendered)

        // Tables, also linked under the store as tables/.
        let t4 = try readText(ws + "/artifacts/tables/table4.csv")
        XCTAssertEqual(t4.split(separator: "\n").count, 3)
        XCTAssertTrue(t4.contains("LGAE,minmax,4,0.5,0.79166666666666"), t4)
        let comparison = try readText(ws + "/artifacts/tables/paper_vs_run.csv").split(separator: "\n")
        XCTAssertEqual(comparison.count, 1 + 6 + 8 + 2 + 2,
                       "Min-Max τ=4 is in Tables 2, 3, 4; Mix τ=2 only in Table 4, whose ε_b = 0.3 column the paper lacks")
        XCTAssertTrue(comparison.contains { $0.hasPrefix("4,LGAE,minmax,4,0.5,AUC,0.7627,0.7627,0.79166666666666") })
        XCTAssertTrue(comparison.contains { $0.hasPrefix("4,LGAE,mix,2,0.5,eps_s at eps_b=1e-1,0.6178,0.6178,") })
        let tex = try readText(ws + "/artifacts/tables/table4.tex")
        XCTAssertTrue(tex.contains("LGAE & Min-Max & $\\tau_{(1/2,1/2)} = 4$ (50.00\\%) & $\\mathbf{0.7917}$"), tex)
        let summary = try runner.show(stage: "tables")
        XCTAssertEqual(summary["published"]?.stringValue, ws + "/artifacts/tables")

        try compileLaTeX(ws + "/artifacts/tables/tables.tex")

        // The same bytes on one thread.
        let ws1 = try workspace("eval-1")
        _ = try runInProcess(ws1, threads: 1)
        for f in ["match-a/qcd_test_matching.npy", "errors/errors.json", "errors/particle_errors.csv", "roc/roc.json", "roc/roc.csv",
                  "tables/tables.tex", "tables/paper_vs_run.csv"] {
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: ws + "/artifacts/out/" + f)),
                           try Data(contentsOf: URL(fileURLWithPath: ws1 + "/artifacts/out/" + f)), f)
        }

        // `pipeline diff`: another table score, then the cells that changed between run 1 and now.
        let ws2 = try workspace("eval", tableScore: "mse_cartesian")
        let (again, runner2) = try runInProcess(ws2, threads: 2)
        XCTAssertEqual(again.executed, 2, "only roc and tables depend on the table score")
        let before = try runner2.result(of: "roc", at: "1"), now = try runner2.result(of: "roc", at: "default")
        XCTAssertNotEqual(before.entry.key, now.entry.key)
        let diffs = runner2.differences(before.entry.summary["cells"]!, now.entry.summary["cells"]!)
        XCTAssertEqual(diffs.count, 2 * 4 * 3, "2 models × 4 signals × (AUC + 2 efficiencies)")
        XCTAssertTrue(diffs.contains { $0.cell == "reconstruct-a.w.auc" && $0.changed && $0.delta == 1 - 0.5625 })
        XCTAssertTrue(diffs.contains { $0.cell == "reconstruct-a.t.auc" && !$0.changed })
        XCTAssertThrowsError(try runner2.result(of: "roc", at: "nonsense"))

        // The same through the CLI: `diff` lists the changed cells, `show` renders the table.
        let diff = try cli(ws2, ["diff", "1", "default", "--stage", "roc"])
        XCTAssertEqual(diff.status, 0, diff.stderr)
        XCTAssertTrue(diff.stdout.contains("reconstruct-a.w.auc"), diff.stdout)
        XCTAssertTrue(diff.stdout.contains("of 24 cells differ"), diff.stdout)
        XCTAssertFalse(diff.stdout.contains("reconstruct-a.t.auc"), "equal cells are listed only with --all")
        let diffJSON = try JSONParser.parse(try cli(ws2, ["diff", "1", "default", "--stage", "roc", "--json", "--all"]).stdout)
        XCTAssertEqual(diffJSON["cells"]?.arrayValue?.count, 24)
        let show = try cli(ws2, ["show", "--stage", "roc"])
        XCTAssertTrue(show.stdout.contains("anomaly detection, mse_cartesian score"), show.stdout)
        let bad = try cli(ws2, ["diff", "nonsense", "default", "--stage", "roc"])
        XCTAssertEqual(bad.status, 2)
        XCTAssertTrue(bad.stderr.contains("is not a profile"), bad.stderr)
    }

    func testMatchRefusesSeveralReconstructionsAndErrorsNeedAMatch() throws {
        let ws = try workspace("bad")
        var doc = try json(ws + "/pipeline.json").objectValue!
        var stages = doc["stages"]!.objectValue!
        stages["match-a"] = ["kind": "match", "inputs": ["reconstruct-a", "reconstruct-b"]]
        stages["errors"] = ["kind": "errors", "inputs": ["reconstruct-a", "reconstruct-b", "match-b"]]
        doc["stages"] = .object(stages)
        try writeConfig(ws, .object(doc))
        let config = try PipelineConfig.load(path: ws + "/pipeline.json", profile: nil, kinds: allStageKinds)
        let report = try Runner(config: config, store: try Store(root: ws + "/artifacts"), progress: RecordingProgress())
            .run(RunOptions(argv: ["test"]))
        func failure(_ stage: String) -> String {
            guard case let .failed(m)? = report.outcomes.first(where: { $0.stage == stage })?.status else { return "" }
            return m
        }
        XCTAssertTrue(failure("match-a").contains("give each model its own `match` stage"), failure("match-a"))
        XCTAssertTrue(failure("errors").contains("no `match` stage among its inputs pairs reconstruct-a"), failure("errors"))
    }

    /// The evaluation stages' only cross-jet reductions go through `inChunks`: fixed chunks, results in
    /// chunk order, so sums and pooled arrays are the same for any thread count.
    func testChunkedWorkGivesTheSameResultOnAnyThreadCount() throws {
        func run(_ threads: Int) throws -> (Double, [Int]) {
            let parts = try inChunks(count: 1000, threads: threads, chunk: 7) { first, end -> (Double, [Int]) in
                ((first..<end).reduce(0.0) { $0 + 1 / Double($1 + 1) }, Array(first..<end))
            }
            return (parts.reduce(0) { $0 + $1.0 }, parts.flatMap(\.1))
        }
        let one = try run(1)
        XCTAssertEqual(one.1, Array(0..<1000))
        for t in [2, 3, 8] {
            let other = try run(t)
            XCTAssertEqual(other.0.bitPattern, one.0.bitPattern, "\(t) threads")
            XCTAssertEqual(other.1, one.1)
        }
        struct Boom: Error {}
        XCTAssertThrowsError(try inChunks(count: 100, threads: 2, chunk: 10) { first, _ -> Int in
            if first == 50 { throw Boom() }
            return first
        })
    }

    func testAnEmptySignalPartIsAClearErrorNotACrash() throws {
        let ws = root + "/empty"
        var shifts = EvaluationStageTests.shifts
        shifts["w_test"] = []
        let stages: [String: JSONValue] = [
            "reconstruct-a": try writeFakeReconstruction(ws, "a", aggregation: "minmax", latent: 4, loss: "chamfer", shifts: shifts),
            "roc": ["kind": "roc", "inputs": ["reconstruct-a"]],
        ]
        try writeConfig(ws, ["version": 1, "stages": .object(stages)])
        let config = try PipelineConfig.load(path: ws + "/pipeline.json", profile: nil, kinds: allStageKinds)
        let report = try Runner(config: config, store: try Store(root: ws + "/artifacts"), progress: RecordingProgress())
            .run(RunOptions(argv: ["test"]))
        guard case let .failed(message)? = report.outcomes.first(where: { $0.stage == "roc" })?.status else {
            return XCTFail("roc did not fail: \(report.outcomes)")
        }
        XCTAssertTrue(message.contains("reconstruct-a has no jets in 'w_test'"), message)
        XCTAssertEqual(report.outcomes.first { $0.stage == "reconstruct-a" }?.status, .executed, "the upstream result is kept")
    }

    func testTableEmissionMatchesTheFixture() {
        let rows = [
            TableRow(info: ["model": "LGAE", "aggregation": "minmax", "latentVectors": 4, "compressionRate": 0.5666666666666667],
                     values: [0.7627, 0.5832, 0.1305, 0.0007]),
            TableRow(info: ["model": "LGAE", "aggregation": "mix", "latentVectors": 2, "compressionRate": 0.15],
                     values: [0.8023, 0.6178, 0.1662, 0.025]),
            TableRow(info: ["model": "GNNAE", "aggregation": "PL", "latentDimension": 2, "particles": 30, "compressionRate": 0.6667],
                     values: [0.8195, 0.4435, 0.0564, 0.0042]),
        ]
        let table = Table(number: 4, columns: [("AUC", ["auc"]), ("$\\epsilon_s$", ["1e-1"]), ("$\\epsilon_s$", ["1e-2"]), ("$\\epsilon_s$", ["1e-3"])], rows: rows)
        XCTAssertEqual(latexTable(table, caption: "Fixture.", label: "tab:x", medianIQR: false), #"""
            \begin{table}[htbp]
            \centering
            \caption{Fixture.}
            \label{tab:x}
            \begin{tabular}{lllrrrr}
            \toprule
            Model & Aggregation & Latent (rate) & AUC & $\epsilon_s$ & $\epsilon_s$ & $\epsilon_s$ \\
            \midrule
            LGAE & Min-Max & $\tau_{(1/2,1/2)} = 4$ (56.67\%) & $0.7627$ & $0.5832$ & $0.1305$ & $0.0007$ \\
            LGAE & Mix & $\tau_{(1/2,1/2)} = 2$ (15.00\%) & $0.8023$ & $\mathbf{0.6178}$ & $\mathbf{0.1662}$ & $\mathbf{0.0250}$ \\
            \midrule
            GNNAE & PL & $2 \times 30$ (66.67\%) & $\mathbf{0.8195}$ & $0.4435$ & $0.0564$ & $0.0042$ \\
            \bottomrule
            \end{tabular}
            \end{table}

            """#)
        let errorsTable = Table(number: 2, columns: [("$x$", ["x"])], rows: [
            TableRow(info: ["model": "LGAE", "aggregation": "minmax", "latentVectors": 7, "compressionRate": 0.9667], values: [-0.627, 1.74]),
            TableRow(info: ["model": "LGAE", "aggregation": "mix", "latentVectors": 9, "compressionRate": 0.6167], values: [0.0004, 0.452]),
        ])
        XCTAssertEqual(latexTable(errorsTable, caption: "E.", label: "tab:e", medianIQR: true).split(separator: "\n").filter { $0.hasPrefix("LGAE") || $0.hasPrefix(" &") || $0.hasPrefix("\\cmid") }, [
            "\\cmidrule(lr){4-5}",
            " & & & Median & IQR \\\\",
            "LGAE & Min-Max & $\\tau_{(1/2,1/2)} = 7$ (96.67\\%) & $-0.627$ & $1.7$ \\\\",
            "LGAE & Mix & $\\tau_{(1/2,1/2)} = 9$ (61.67\\%) & $\\mathbf{<10^{-3}}$ & $\\mathbf{0.452}$ \\\\",
        ])
        XCTAssertEqual(csvTable(errorsTable, columns: ["x_median", "x_iqr"]),
                       "model,aggregation,latent,compression_rate,x_median,x_iqr\nLGAE,minmax,7,0.9667,-0.627,1.74\nLGAE,mix,9,0.6167,0.0004,0.452\n")
    }
}

extension PipelineTestCase {
    /// Compiles a standalone LaTeX file with pdflatex when the machine has it (CI installs it), so a
    /// table that breaks LaTeX fails the suite.
    func compileLaTeX(_ path: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let engine = ["/usr/bin/pdflatex", "/usr/local/bin/pdflatex"].first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let engine else {
            print("pdflatex not installed: LaTeX compile check skipped (CI installs texlive-latex-recommended)")
            return
        }
        let dir = root + "/latex-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try Data(contentsOf: URL(fileURLWithPath: path)).write(to: URL(fileURLWithPath: dir + "/tables.tex"))  // the stored file, not the link
        let p = Process()
        p.executableURL = URL(fileURLWithPath: engine)
        p.arguments = ["-interaction=nonstopmode", "-halt-on-error", "tables.tex"]
        p.currentDirectoryURL = URL(fileURLWithPath: dir)
        p.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        try p.run()
        p.waitUntilExit()
        let log = (try? readText(dir + "/tables.log")) ?? ""
        XCTAssertEqual(p.terminationStatus, 0, "pdflatex failed on \(path):\n\(log.split(separator: "\n").filter { $0.hasPrefix("!") }.joined(separator: "\n"))", file: file, line: line)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/tables.pdf"), file: file, line: line)
    }
}
