import Executor
import Foundation
import JetData
import XCTest

@testable import Stages

/// `match`, `errors`, `roc` and `tables` with every model family side by side, as the paper's
/// Tables 2–4 have them: fake `reconstruct` results (command stages copying files the test writes)
/// for an LGAE Min-Max, a GNNAE-JL (Chamfer jet term → Jonker–Volgenant), a GNNAE-PL (MSE → slot
/// order) and a CNNAE (jet images), every figure worked out by hand.
///
/// Particle models: the jets of `EvaluationStageTests` (3 real particles and a padded slot), every
/// reconstructed energy raised by δ; the Chamfer-trained fakes list the slots in reverse, the MSE
/// one in order, so the right pairing gives particle errors of exactly 0 and the Chamfer score is
/// exactly 2δ.
///
/// CNNAE: 2 × 2 images on R = 0.8, so pixel centres are η, φ = ±0.4; a target [[a, b], [c, d]]
/// (row-major [φ bin][η bin]) and its output mirrored in η, [[b, a], [d, c]]. The mirror flips the
/// jet's pz and nothing else, so η̂ = −η (relative error 2 under the code's definition, −2 under the
/// paper's) while mass, pT and φ are unchanged; a stage reading the images as [η][φ] would see a
/// mirror in φ instead. The score Σ (output − target)² = 2((a − b)² + (c − d)²). The uniform image
/// has η = φ = 0 exactly, so Table 3 drops it (a target feature is exactly 0).
final class BaselineEvaluationTests: PipelineTestCase {
    static let parts = ["qcd_test", "t_test", "w_test", "z_test"]

    /// δ per jet: Chamfer scores 2δ; the combined-signal AUCs are 19/24 (LGAE), 23/24 (GNNAE-JL),
    /// 18.5/24 (GNNAE-PL) by counting signal–background pairs (ties count ½).
    static let lgaeShifts: [String: [Double]] = ["qcd_test": [0, 0, 0.25, 0.5], "t_test": [0.5, 1], "w_test": [0, 0.25], "z_test": [1, 1]]
    static let jlShifts: [String: [Double]] = ["qcd_test": [0, 0.25, 0.25, 0.5], "t_test": [1, 1], "w_test": [0.5, 1], "z_test": [0.5, 2]]
    static let plShifts: [String: [Double]] = ["qcd_test": [0, 0, 0, 0.25], "t_test": [0.25, 0.5], "w_test": [0, 0], "z_test": [0.5, 0.5]]

    /// Target images (a, b, c, d) in eighths. Scores 2((a − b)² + (c − d)²)/64:
    /// QCD 0, 1/16, 1/4, 1/16; t 1, 9/16; W 0, 1/16; Z 1/4, 9/16.
    static let images: [String: [[Double]]] = [
        "qcd_test": [[2, 2, 2, 2], [1, 2, 2, 3], [0, 2, 2, 4], [0, 1, 3, 4]],
        "t_test": [[0, 4, 0, 4], [0, 3, 1, 4]],
        "w_test": [[2, 2, 2, 2], [1, 2, 2, 3]],
        "z_test": [[0, 2, 2, 4], [0, 3, 1, 4]],
    ]
    static let imageScores: [Double] = [0, 1.0 / 16, 0.25, 1.0 / 16, 1, 9.0 / 16, 0, 1.0 / 16, 0.25, 9.0 / 16]

    private func commandStage(_ ws: String, _ name: String, files: [String]) -> JSONValue {
        [
            "kind": "command",
            "files": .array(files.map { .string("fake/\(name)/\($0)") }),
            "params": ["run": .string("cp {workspace}/fake/\(name)/* {outdir}/"), "outputs": .array(files.map { .string($0) })],
        ]
    }

    /// A particle-output reconstruction; `info` holds the model's own fields of reconstruction.json.
    /// Only the fake LGAE comes with per-jet normalisation factors (`PART_norm.npy`); the fake GNNAEs
    /// have none, which exercises a reconstruction without them (a real GNNAE reconstruction writes
    /// the jets' factors too).
    private func particleFake(_ ws: String, _ name: String, info: [String: JSONValue], reversed: Bool,
                              shifts: [String: [Double]]) throws -> JSONValue {
        let lgae = info["model"] == "LGAE"
        let dir = "\(ws)/fake/\(name)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var files: [String] = [], parts: [String: JSONValue] = [:]
        for (k, part) in BaselineEvaluationTests.parts.enumerated() {
            var target: [Double] = [], output: [Double] = []
            for (j, d) in shifts[part]!.enumerated() {
                let t = EvaluationStageTests.target(jet: j, part: k)
                target += t
                for s in reversed ? Array((0..<4).reversed()) : Array(0..<4) {
                    output += [t[4 * s] + d, t[4 * s + 1], t[4 * s + 2], t[4 * s + 3]]
                }
            }
            let n = shifts[part]!.count
            try writeNpy(target, shape: [n, 4, 4], to: "\(dir)/\(part)_target.npy")
            try writeNpy(output, shape: [n, 4, 4], to: "\(dir)/\(part)_output.npy")
            try writeNpy([Double](repeating: 0.5, count: 2 * n), shape: [n, 2], to: "\(dir)/\(part)_latent.npy")
            files += ["\(part)_target.npy", "\(part)_output.npy", "\(part)_latent.npy"]
            if lgae {
                try writeNpy([Double](repeating: 2, count: n), shape: [n], to: "\(dir)/\(part)_norm.npy")
                files.append("\(part)_norm.npy")
            }
            parts[part] = .number(Double(n))
        }
        var json = info
        json["particles"] = 4
        json["parts"] = .object(parts)
        try writeText("\(dir)/reconstruction.json", JSONValue.object(json).pretty)
        return commandStage(ws, name, files: files + ["reconstruction.json"])
    }

    /// The CNNAE: `images` targets, outputs mirrored in η, latents of 55.
    private func imageFake(_ ws: String, _ name: String) throws -> JSONValue {
        let dir = "\(ws)/fake/\(name)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var files: [String] = [], parts: [String: JSONValue] = [:]
        for part in BaselineEvaluationTests.parts {
            let jets = BaselineEvaluationTests.images[part]!
            let target = jets.flatMap { $0.map { $0 / 8 } }
            let output = jets.flatMap { i in [i[1], i[0], i[3], i[2]].map { $0 / 8 } }
            try writeNpy(target, shape: [jets.count, 2, 2], to: "\(dir)/\(part)_target_image.npy")
            try writeNpy(output, shape: [jets.count, 2, 2], to: "\(dir)/\(part)_output_image.npy")
            try writeNpy([Double](repeating: 0, count: 55 * jets.count), shape: [jets.count, 55], to: "\(dir)/\(part)_latent.npy")
            files += ["\(part)_target_image.npy", "\(part)_output_image.npy", "\(part)_latent.npy"]
            parts[part] = .number(Double(jets.count))
        }
        let info: JSONValue = ["model": "CNNAE", "aggregation": "linear", "latentDimension": 55, "compressionRate": .number(55.0 / 90),
                               "loss": "mse", "outputs": "images", "imageSize": 2, "imageRadius": 0.8, "parts": .object(parts)]
        try writeText("\(dir)/reconstruction.json", info.pretty)
        return commandStage(ws, name, files: files + ["reconstruction.json"])
    }

    /// Stage names sort differently from the paper's row order, so the order must come from the models.
    private func workspace(_ name: String, tableScore: String = "chamfer_cartesian") throws -> String {
        let ws = root + "/" + name
        let recos: [String: JSONValue] = [
            "reconstruct-a-cnn": try imageFake(ws, "cnn"),
            "reconstruct-b-gnn-pl": try particleFake(ws, "pl", info: ["model": "GNNAE", "aggregation": "PL", "latentDimension": 2,
                                                                       "compressionRate": .number(8.0 / 90), "loss": "mse", "outputs": "particles",
                                                                       "normalisation": false],
                                                     reversed: false, shifts: BaselineEvaluationTests.plShifts),
            "reconstruct-c-gnn-jl": try particleFake(ws, "jl", info: ["model": "GNNAE", "aggregation": "JL", "latentDimension": 45,
                                                                       "compressionRate": 0.5, "loss": "chamferJetTermOnly", "outputs": "particles",
                                                                       "normalisation": false],
                                                     reversed: true, shifts: BaselineEvaluationTests.jlShifts),
            // An LGAE reconstruction as written before the baselines: no "outputs" field.
            "reconstruct-d-lgae": try particleFake(ws, "lgae", info: ["model": "LGAE", "aggregation": "minmax", "latentVectors": 4,
                                                                       "compressionRate": 0.5, "loss": "chamfer"],
                                                   reversed: true, shifts: BaselineEvaluationTests.lgaeShifts),
        ]
        var stages = recos
        for m in ["b-gnn-pl", "c-gnn-jl", "d-lgae"] { stages["match-\(m)"] = ["kind": "match", "inputs": .array([.string("reconstruct-\(m)")])] }
        let all = recos.keys.sorted().map { JSONValue.string($0) }
        stages["errors"] = ["kind": "errors", "inputs": .array(all + ["match-b-gnn-pl", "match-c-gnn-jl", "match-d-lgae"])]
        stages["roc"] = ["kind": "roc", "inputs": .array(all),
                         "params": ["scores": ["chamfer_cartesian", "mse_cartesian", "chamfer_normalised_cartesian"], "tableScore": .string(tableScore),
                                    "backgroundEfficiencies": [0.1, 0.01]]]
        stages["tables"] = ["kind": "tables", "inputs": ["errors/errors.json", "roc/roc.json"], "publish": "tables"]
        try writeConfig(ws, ["version": 1, "stages": .object(stages)])
        return ws
    }


    private func lines(_ path: String) throws -> [Substring] { try readText(path).split(separator: "\n") }

    func testEveryModelFamilySideBySideInTablesTwoToFour() throws {
        let ws = try workspace("families")
        let (report, runner) = try runInProcess(ws, threads: 2)
        XCTAssertEqual(report.executed, 4 + 3 + 3)
        let out = ws + "/artifacts/out/"
        let paperOrder = ["reconstruct-d-lgae", "reconstruct-c-gnn-jl", "reconstruct-b-gnn-pl", "reconstruct-a-cnn"]

        // Matching follows the training loss: the GNNAE-PL (MSE) keeps slot order, the GNNAE-JL
        // (Chamfer jet term) is matched, which undoes the reversal.
        XCTAssertEqual(try json(out + "match-b-gnn-pl/matching.json")["matching"], "ordered")
        XCTAssertEqual(try json(out + "match-c-gnn-jl/matching.json")["matching"], "assignment")
        XCTAssertEqual(Array(try readNpy(out + "match-c-gnn-jl/qcd_test_matching.npy", as: Int64.self).values[0..<4]), [3, 2, 1, 0])

        // errors.json: the paper's row order; the CNNAE has no particle errors and no matching.
        let rows = try json(out + "errors/errors.json")["models"]!.arrayValue!
        XCTAssertEqual(rows.map { $0["stage"]!.stringValue! }, paperOrder, "LGAE, GNNAE JL, GNNAE PL, CNNAE")
        for r in rows.prefix(3) {
            for f in ["pt_rel", "eta_rel", "phi_rel"] {
                XCTAssertEqual(r["particle"]?[f]?["median"]?.doubleValue, 0, "\(r["stage"]!) \(f): the right pairing reproduces every particle")
                XCTAssertEqual(r["particle"]?[f]?["iqr"]?.doubleValue, 0, "\(r["stage"]!) \(f)")
                XCTAssertEqual(r["particle"]?[f]?["count"]?.intValue, 12, "\(r["stage"]!) \(f): 3 real particles × 4 jets")
            }
            XCTAssertEqual(r["jetFeatures"], "momenta_GeV")
        }
        let cnn = rows[3]
        XCTAssertEqual(cnn["particle"], .null)
        XCTAssertEqual(cnn["matching"], .null)
        XCTAssertEqual(cnn["jetFeatures"], "image_relative")
        XCTAssertEqual(cnn["latentDimension"]?.intValue, 55)
        // The η mirror: η̂ = −η, so (η̂ − η)/η̂ = 2 and (η̂ − η)/η = −2; mass, pT and φ unchanged.
        // 3 jets: the uniform image has η = φ = 0 and is dropped.
        for (definition, eta) in [("code", 2.0), ("paper", -2.0)] {
            let jet = cnn["jet"]![definition]!
            XCTAssertEqual(jet["eta"]!["median"]!.doubleValue!, eta, accuracy: 1e-12, definition)
            XCTAssertEqual(jet["eta"]!["iqr"]!.doubleValue!, 0, accuracy: 1e-12, definition)
            XCTAssertEqual(jet["eta"]!["count"]!.intValue, 3, definition)
            for f in ["mass", "pt", "phi"] {
                XCTAssertEqual(jet[f]!["median"]!.doubleValue!, 0, accuracy: 1e-12, "\(definition) \(f): a mirror in η changes only pz")
                XCTAssertEqual(jet[f]!["iqr"]!.doubleValue!, 0, accuracy: 1e-12, "\(definition) \(f)")
            }
        }
        let particleCSV = try lines(out + "errors/particle_errors.csv")
        XCTAssertEqual(particleCSV.count, 1 + 3 * 3, "3 particle models × 3 features; no CNNAE rows")
        XCTAssertFalse(particleCSV.contains { $0.contains("CNNAE") })
        XCTAssertEqual(particleCSV[0], "stage,model,aggregation,latent,latent_label,compression_rate,matching,feature,count,padded_slots,median,iqr,q25,q75,mean,std")
        XCTAssertTrue(particleCSV.contains { $0.hasPrefix("reconstruct-b-gnn-pl,GNNAE,PL,2,2×4,0.08888888888888889,ordered,pt_rel,12,4,0.0,0.0,") }, "\(particleCSV)")
        let jetCSV = try lines(out + "errors/jet_errors.csv")
        XCTAssertEqual(jetCSV.count, 1 + 4 * 2 * 4)
        let cnnEta = try XCTUnwrap(jetCSV.first { $0.hasPrefix("reconstruct-a-cnn,CNNAE,linear,55,dim 55,0.6111111111111112,image_relative,code,eta,3,1,") }, "\(jetCSV)")
        XCTAssertEqual(Double(cnnEta.split(separator: ",")[11])!, 2, accuracy: 1e-12)
        XCTAssertTrue(jetCSV.contains { $0.hasPrefix("reconstruct-c-gnn-jl,GNNAE,JL,45,dim 45,0.5,momenta_GeV,code,pt,4,0,0.0,") })

        // roc: the CNNAE is scored on its images whatever tableScore says; particle models keep theirs.
        let roc = try json(out + "roc/roc.json")
        let models = roc["models"]!.arrayValue!
        XCTAssertEqual(models.map { $0["stage"]!.stringValue! }, paperOrder)
        XCTAssertEqual(models[3]["tableScore"], "image_squared_error")
        XCTAssertEqual(models[3]["scoreColumns"], ["image_squared_error"])
        XCTAssertEqual(models[0]["scoreColumns"], ["chamfer_cartesian", "mse_cartesian", "chamfer_normalised_cartesian"])
        XCTAssertEqual(models[1]["scoreColumns"], ["chamfer_cartesian", "mse_cartesian"], "no normalisation factors, no normalised score")
        XCTAssertEqual(try readNpy(out + "roc/scores-reconstruct-c-gnn-jl.npy", as: Double.self).shape, [10, 2])
        // LGAE: f_jet = 2 halves every distance.
        XCTAssertEqual(models[0]["scores"]!["chamfer_normalised_cartesian"]!["combined"]!["auc"]!.doubleValue!, 19.0 / 24, accuracy: 1e-15)
        let cnnScores = try readNpy(out + "roc/scores-reconstruct-a-cnn.npy", as: Double.self)
        XCTAssertEqual(cnnScores.shape, [10, 1])
        XCTAssertEqual(cnnScores.values, BaselineEvaluationTests.imageScores, "Σ (output − target)², parts in the order qcd, t, w, z")
        let image = models[3]["scores"]!["image_squared_error"]!
        // Pairs won (ties ½) against QCD scores {0, 1/16, 1/4, 1/16}: t 8/8; W 2.5/8 < ½, flipped; Z 7.5/8; all 18/24.
        XCTAssertEqual(image["t"]!["auc"]!.doubleValue, 1)
        XCTAssertEqual(image["w"]!["auc"]!.doubleValue!, 1 - 2.5 / 8, accuracy: 1e-15)
        XCTAssertEqual(image["w"]!["flipped"], true)
        XCTAssertEqual(image["z"]!["auc"]!.doubleValue!, 7.5 / 8, accuracy: 1e-15)
        XCTAssertEqual(image["combined"]!["auc"]!.doubleValue!, 0.75, accuracy: 1e-15)
        // Combined curve (0,0) (0,⅙) (0,½) (¼,⅔) (¾,⅚) (1,1) — sklearn's drop_intermediate keeps the first
        // threshold's point — so the first point with ε_b ≥ 0.1 (and ≥ 0.01) is (¼, ⅔).
        XCTAssertEqual(image["combined"]!["efficiencies"]!["eps_s_at_1e-1"]!["first"]!.doubleValue!, 2.0 / 3, accuracy: 1e-15)
        XCTAssertEqual(image["combined"]!["efficiencies"]!["eps_s_at_1e-2"]!["first"]!.doubleValue!, 2.0 / 3, accuracy: 1e-15)
        XCTAssertEqual(models[1]["scores"]!["chamfer_cartesian"]!["combined"]!["auc"]!.doubleValue!, 23.0 / 24, accuracy: 1e-15)
        XCTAssertEqual(models[2]["scores"]!["chamfer_cartesian"]!["combined"]!["auc"]!.doubleValue!, 18.5 / 24, accuracy: 1e-15)
        let rocCSV = try lines(out + "roc/roc.csv")
        XCTAssertTrue(rocCSV.contains { $0.hasPrefix("reconstruct-a-cnn,CNNAE,linear,55,dim 55,0.6111111111111112,image_squared_error,combined,6,4,0.75,0,") }, "\(rocCSV)")
        XCTAssertFalse(rocCSV.contains { $0.hasPrefix("reconstruct-a-cnn") && $0.contains("chamfer") })
        let points = try lines(out + "roc/roc_points.csv").filter { $0.hasPrefix("reconstruct-a-cnn,") }
        XCTAssertEqual(points.filter { $0.contains(",combined,") }.map { $0.split(separator: ",").suffix(2).joined(separator: ",") },
                       ["0.0,0.0", "0.0,0.16666666666666666", "0.0,0.5", "0.25,0.6666666666666666", "0.75,0.8333333333333334", "1.0,1.0"])
        XCTAssertTrue(points.allSatisfy { $0.hasPrefix("reconstruct-a-cnn,image_squared_error,") })
        let rendered = try XCTUnwrap(ROCStage().render(summary: try runner.show(stage: "roc")["summary"]!))
        XCTAssertTrue(rendered.contains("(image models: image_squared_error)"), rendered)
        XCTAssertTrue(rendered.contains("reconstruct-a-cnn     linear       dim 55 (61.11%)  image_squared_error  combined   0.7500"), rendered)
        XCTAssertTrue(rendered.contains("reconstruct-b-gnn-pl  PL           2×4 (8.89%)      chamfer_cartesian"), rendered)

        // Table 2: particle models only. Tables 3 and 4: all four, in the paper's order.
        let t2 = try lines(out + "tables/table2.csv"), t3 = try lines(out + "tables/table3.csv"), t4 = try lines(out + "tables/table4.csv")
        XCTAssertEqual(t2.dropFirst().map { $0.split(separator: ",").prefix(3).joined(separator: ",") }, ["LGAE,minmax,4", "GNNAE,JL,45", "GNNAE,PL,2"])
        XCTAssertEqual(t3.dropFirst().map { $0.split(separator: ",").prefix(3).joined(separator: ",") }, ["LGAE,minmax,4", "GNNAE,JL,45", "GNNAE,PL,2", "CNNAE,linear,55"])
        XCTAssertEqual(t4.dropFirst().map { $0.split(separator: ",").prefix(3).joined(separator: ",") }, ["LGAE,minmax,4", "GNNAE,JL,45", "GNNAE,PL,2", "CNNAE,linear,55"])
        XCTAssertEqual(t4.last, "CNNAE,linear,55,0.6111111111111112,0.75,0.6666666666666666,0.6666666666666666,image_squared_error")
        XCTAssertTrue(t4[1].hasSuffix(",chamfer_cartesian"), String(t4[1]))
        let cnnJet = t3.last!.split(separator: ",")
        XCTAssertEqual(Double(cnnJet[8])!, 2, accuracy: 1e-12, "Table 3 CNNAE η median (code definition)")

        let tex2 = try readText(out + "tables/table2.tex"), tex3 = try readText(out + "tables/table3.tex"), tex4 = try readText(out + "tables/table4.tex")
        XCTAssertFalse(tex2.contains("CNNAE"), tex2)
        XCTAssertTrue(tex2.contains("GNNAE & PL & $2 \\times 4$ (8.89\\%) & "), tex2)
        XCTAssertTrue(tex3.contains("CNNAE & Linear & dim 55 (61.11\\%) & "), tex3)
        XCTAssertTrue(tex3.contains("$2.0$"), "the CNNAE's η median: \(tex3)")
        XCTAssertTrue(tex3.contains("computed from its jet images (paper footnote 3)"), tex3)
        XCTAssertTrue(tex4.contains("GNNAE & JL & dim 45 (50.00\\%) & $\\mathbf{0.9583}$ & $\\mathbf{1.0000}$"), "best AUC across families is the GNNAE-JL's: \(tex4)")
        XCTAssertTrue(tex4.contains("CNNAE & Linear & dim 55 (61.11\\%) & $0.7500$ & $0.6667$ & $0.6667$ \\\\"), tex4)
        XCTAssertTrue(tex4.contains("The CNNAE, whose output is a jet image, is scored by the summed squared pixel difference"), tex4)
        let rowLines = tex4.split(separator: "\n").filter { $0.hasPrefix("LGAE &") || $0.hasPrefix("GNNAE &") || $0.hasPrefix("CNNAE &") }
        XCTAssertEqual(rowLines.map { $0.split(separator: "&").prefix(2).map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: " ") },
                       ["LGAE Min-Max", "GNNAE JL", "GNNAE PL", "CNNAE Linear"])

        // paper_vs_run.csv: the baseline rows the paper has, keyed by aggregation and latent size.
        // Table 2: LGAE τ=4, GNNAE-JL 45, GNNAE-PL 2 (6 cells each); Table 3: those and the CNNAE
        // (8 each); Table 4: LGAE τ=4, GNNAE-PL 2, CNNAE (AUC and two ε_s; the paper's JL rows are 10, 40, 80).
        let comparison = try lines(out + "tables/paper_vs_run.csv")
        XCTAssertEqual(comparison.count, 1 + 3 * 6 + 4 * 8 + 3 * 3, "\(comparison)")
        XCTAssertTrue(comparison.contains { $0.hasPrefix("4,CNNAE,linear,55,0.6111111111111112,AUC,0.7700,0.77,0.75,61.67%") }, "\(comparison)")
        XCTAssertTrue(comparison.contains { $0.hasPrefix("3,CNNAE,linear,55,0.6111111111111112,eta median,<1e-3,,2.0") }, "\(comparison)")
        XCTAssertTrue(comparison.contains { $0 == "2,GNNAE,JL,45,0.5,pt_rel median,−0.983,-0.983,0.0,50.00%" }, "\(comparison)")
        XCTAssertTrue(comparison.contains { $0.hasPrefix("4,GNNAE,PL,2,0.08888888888888889,AUC,0.8195,0.8195,0.7708333333333") }, "\(comparison)")
        XCTAssertFalse(comparison.contains { $0.hasPrefix("4,GNNAE,JL") })

        try compileLaTeX(ws + "/artifacts/tables/tables.tex")

        // The same bytes on one thread.
        let ws1 = try workspace("families-1")
        _ = try runInProcess(ws1, threads: 1)
        for f in ["match-c-gnn-jl/qcd_test_matching.npy", "errors/errors.json", "errors/particle_errors.csv", "errors/jet_errors.csv",
                  "roc/roc.json", "roc/roc.csv", "roc/roc_points.csv", "roc/scores-reconstruct-a-cnn.npy", "tables/tables.tex", "tables/paper_vs_run.csv"] {
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: out + f)), try Data(contentsOf: URL(fileURLWithPath: ws1 + "/artifacts/out/" + f)), f)
        }
    }

    /// A CNNAE has no particles: a `match` stage on it fails and says to remove it, and a
    /// reconstruction.json that names image outputs without their geometry is refused with the field.
    func testMatchOnAnImageModelFailsNamingTheFix() throws {
        let ws = try workspace("match-cnn")
        var doc = try json(ws + "/pipeline.json").objectValue!
        var stages = doc["stages"]!.objectValue!
        stages["match-a-cnn"] = ["kind": "match", "inputs": ["reconstruct-a-cnn"]]
        doc["stages"] = .object(stages)
        try writeConfig(ws, .object(doc))
        let config = try PipelineConfig.load(path: ws + "/pipeline.json", profile: nil, kinds: allStageKinds)
        let report = try Runner(config: config, store: try Store(root: ws + "/artifacts"), progress: RecordingProgress())
            .run(RunOptions(argv: ["test"]))
        func status(_ stage: String) -> StageStatus? { report.outcomes.first { $0.stage == stage }?.status }
        guard case let .failed(message)? = status("match-a-cnn") else { return XCTFail("match-a-cnn did not fail: \(report.outcomes)") }
        XCTAssertTrue(message.contains("reconstruct-a-cnn is a CNNAE whose reconstructions are jet images"), message)
        XCTAssertTrue(message.contains("Fix: remove the stage 'match-a-cnn'"), message)
        XCTAssertTrue(message.contains("image models need no match stage"), message)
        XCTAssertEqual(status("tables"), .executed, "the other stages do not need it")

        // Image outputs without imageSize: refused, naming the field.
        var info = try json(ws + "/fake/cnn/reconstruction.json").objectValue!
        info["imageSize"] = nil
        try writeText(ws + "/fake/cnn/reconstruction.json", JSONValue.object(info).pretty)
        let again = try Runner(config: try PipelineConfig.load(path: ws + "/pipeline.json", profile: nil, kinds: allStageKinds),
                               store: try Store(root: ws + "/artifacts"), progress: RecordingProgress()).run(RunOptions(argv: ["test"]))
        guard case let .failed(m)? = again.outcomes.first(where: { $0.stage == "roc" })?.status else { return XCTFail("roc did not fail: \(again.outcomes)") }
        XCTAssertTrue(m.contains("lacks a positive 'imageSize' and 'imageRadius'"), m)
    }

    /// A reconstruction without per-jet normalisation factors (here the fake GNNAE-JL) cannot have a
    /// normalised score as its Table 4 score.
    func testANormalisedTableScoreNeedsTheNormalisation() throws {
        let ws = try workspace("normalised", tableScore: "chamfer_normalised_cartesian")
        let config = try PipelineConfig.load(path: ws + "/pipeline.json", profile: nil, kinds: allStageKinds)
        let report = try Runner(config: config, store: try Store(root: ws + "/artifacts"), progress: RecordingProgress())
            .run(RunOptions(argv: ["test"]))
        guard case let .failed(message)? = report.outcomes.first(where: { $0.stage == "roc" })?.status else {
            return XCTFail("roc did not fail: \(report.outcomes)")
        }
        XCTAssertTrue(message.contains("reconstruct-c-gnn-jl (GNNAE) has none (no PART_norm.npy)"), message)
        XCTAssertTrue(message.contains("Fix: set `stages.roc.params.tableScore`"), message)
    }
}
