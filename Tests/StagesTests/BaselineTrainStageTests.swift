import Executor
import Foundation
import JetData
import XCTest

/// `train-gnnae`, `train-cnnae` and `reconstruct` for the baselines through the real binary on the
/// committed Pythia sample: both trainings lower their validation loss, the GNNAE's reconstruction
/// lands in the targets' frame (its targets are the split's own four-momenta), the CNNAE's images
/// are normalised, and a GNNAE training killed mid-way resumes from its checkpoint and ends with the
/// bytes of an uninterrupted run on another thread count. The networks are shrunk so that a debug
/// build trains them in seconds.
final class BaselineTrainStageTests: PipelineTestCase {
    static let stageNames = ["train-jl", "train-pl", "train-cnn", "reconstruct-jl", "reconstruct-pl", "reconstruct-cnn"]

    private func workspace(_ name: String, edit: (inout [String: JSONValue]) -> Void = { _ in }) throws -> String {
        let sample = try sampleWorkspace(name), ws = sample.ws
        var doc = sample.doc, stages = sample.stages
        let small: [String: JSONValue] = ["nodeWidths": [6, 5, 4], "edgeWidths": [[8, 6], [6], [6]], "batchSize": 16,
                                          "learningRate": 0.003, "maxEpochs": 4, "patience": 10, "trainJets": 160, "validJets": 64]
        stages["train-jl"] = ["kind": "train-gnnae", "inputs": ["load", "split"],
                              "params": .object(small.merging(["encoding": "JL", "latent": 3]) { $1 })]
        stages["train-pl"] = ["kind": "train-gnnae", "inputs": ["load", "split"],
                              "params": .object(small.merging(["encoding": "PL", "latent": 2]) { $1 })]
        stages["train-cnn"] = ["kind": "train-cnnae", "inputs": ["load", "split"],
                               "params": ["channels": 2, "latent": 4, "imagePixels": 16, "imageRadius": 0.8, "batchSize": 16,
                                          "learningRate": 0.02, "adamEpsilon": 1e-12, "maxEpochs": 4, "patience": 10,
                                          "trainJets": 160, "validJets": 64]]
        for name in ["jl", "pl"] {
            let inputs: [JSONValue] = [.string("train-\(name)/model.gnnae"), .string("train-\(name)/training.json"), "load", "preprocess", "split"]
            stages["reconstruct-\(name)"] = ["kind": "reconstruct", "inputs": .array(inputs),
                                             "params": ["model": "gnnae", "parts": ["qcd_test", "t_test"], "jets": 20]]
        }
        stages["reconstruct-cnn"] = ["kind": "reconstruct", "inputs": ["train-cnn/model.cnnae", "train-cnn/training.json", "load", "preprocess", "split"],
                                     "params": ["model": "cnnae", "parts": ["qcd_test", "t_test"], "jets": 20]]
        stages["match-jl"] = ["kind": "match", "inputs": ["reconstruct-jl"]]
        stages["match-pl"] = ["kind": "match", "inputs": ["reconstruct-pl"]]
        stages["errors"] = ["kind": "errors", "inputs": ["reconstruct-jl", "reconstruct-pl", "reconstruct-cnn", "match-jl", "match-pl"]]
        stages["roc"] = ["kind": "roc", "inputs": ["reconstruct-jl", "reconstruct-pl", "reconstruct-cnn"], "params": ["signals": ["t_test"]]]
        stages["tables"] = ["kind": "tables", "inputs": ["errors/errors.json", "roc/roc.json"], "params": ["signal": "t"]]
        edit(&stages)
        doc["stages"] = .object(stages)
        try writeConfig(ws, .object(doc))
        return ws
    }

    private func outputs(_ ws: String) throws -> [String: Data] {
        var out: [String: Data] = [:]
        for stage in BaselineTrainStageTests.stageNames {
            let dir = ws + "/artifacts/out/" + stage
            for name in try FileManager.default.contentsOfDirectory(atPath: dir) where !name.hasPrefix(".") {
                out[stage + "/" + name] = try Data(contentsOf: URL(fileURLWithPath: dir + "/" + name))
            }
        }
        return out
    }

    private func json(_ ws: String, _ path: String) throws -> JSONValue {
        try JSONParser.parse(try Data(contentsOf: URL(fileURLWithPath: ws + "/artifacts/out/" + path)))
    }

    func testBaselinesTrainReconstructAndResumeBitIdentically() throws {
        let a = try workspace("a")
        let first = try cli(a, ["run", "all", "--threads", "2"], timeout: 900)
        XCTAssertEqual(first.status, 0, first.stderr)
        for (stage, ratio) in [("train-jl", 0.5), ("train-pl", 0.5), ("train-cnn", 0.9)] {
            let report = try json(a, "\(stage)/training.json")
            let initial = report["initialValidLoss"]!.doubleValue!, best = report["bestValidLoss"]!.doubleValue!
            print("\(stage) on the sample: validation loss \(initial) → \(best) (\(initial / best)× lower)")
            XCTAssertLessThan(best, ratio * initial, "\(stage): 4 epochs on 160 sample jets must lower the validation loss")
            XCTAssertEqual(report["epochs"], 4)
        }
        XCTAssertEqual(try json(a, "train-jl/training.json")["loss"], "chamfer", "auto: Chamfer for JL")
        XCTAssertEqual(try json(a, "train-pl/training.json")["loss"], "mse", "auto: MSE for PL")
        XCTAssertTrue(first.stderr.contains("GNNAE-PL latent 2, compression rate 66.67%"), first.stderr)

        // The GNNAE's targets are the split's four-momenta; its outputs are four-momenta of the same jets.
        let reco = try json(a, "reconstruct-jl/reconstruction.json")
        XCTAssertEqual(reco["model"], "GNNAE")
        XCTAssertEqual(reco["aggregation"], "JL")
        XCTAssertEqual(reco["latentDimension"], 3)
        XCTAssertEqual(reco["outputs"], "particles")
        XCTAssertEqual(reco["parts"], ["qcd_test": 20, "t_test": 20])
        XCTAssertEqual(try json(a, "reconstruct-pl/reconstruction.json")["loss"], "mse")
        let split = try readNpy(a + "/artifacts/out/split/t_test_p4.npy", as: Double.self)
        let target = try readNpy(a + "/artifacts/out/reconstruct-jl/t_test_target.npy", as: Double.self)
        XCTAssertEqual(target.shape, [20, 30, 4])
        XCTAssertEqual(target.values, Array(split.values.prefix(20 * 30 * 4)))
        let output = try readNpy(a + "/artifacts/out/reconstruct-jl/t_test_output.npy", as: Double.self)
        let relative = try readNpy(a + "/artifacts/out/reconstruct-jl/t_test_output_relative.npy", as: Double.self)
        XCTAssertEqual(relative.shape, [20, 30, 3])
        XCTAssertEqual(try readNpy(a + "/artifacts/out/reconstruct-pl/qcd_test_latent.npy", as: Double.self).shape, [20, 60])
        // Massless outputs: E = |p| for every slot, and pT = pT_rel × the jet's pT (about 1 TeV).
        for slot in 0..<(20 * 30) {
            let p = Array(output.values[(4 * slot)..<(4 * slot + 4)])
            XCTAssertEqual(p[0], (p[1] * p[1] + p[2] * p[2] + p[3] * p[3]).squareRoot(), accuracy: 1e-12 * max(1, p[0]))
        }
        let pt = (output.values[1] * output.values[1] + output.values[2] * output.values[2]).squareRoot()
        XCTAssertTrue(abs(pt / relative.values[0]) > 0.3 && abs(pt / relative.values[0]) < 3, "jet pT ≈ 1 TeV: \(pt / relative.values[0]) TeV")

        let images = try readNpy(a + "/artifacts/out/reconstruct-cnn/qcd_test_output_image.npy", as: Double.self)
        let targets = try readNpy(a + "/artifacts/out/reconstruct-cnn/qcd_test_target_image.npy", as: Double.self)
        XCTAssertEqual(images.shape, [20, 16, 16])
        XCTAssertEqual(targets.shape, [20, 16, 16])
        for j in 0..<20 {
            XCTAssertEqual(images.values[(j * 256)..<((j + 1) * 256)].reduce(0, +), 1, accuracy: 1e-12, "softmax output sums to 1")
            XCTAssertEqual(targets.values[(j * 256)..<((j + 1) * 256)].reduce(0, +), 1, accuracy: 1e-12, "the target image is normalised")
        }
        let cnn = try json(a, "reconstruct-cnn/reconstruction.json")
        XCTAssertEqual(cnn["outputs"], "images")
        XCTAssertEqual(cnn["imageRadius"], 0.8)
        XCTAssertEqual(cnn["aggregation"], "linear")

        // Every family in the tables: the GNNAEs in Table 2, all three in Tables 3 and 4; the CNNAE's
        // jet features from its images placed in each jet's frame (GeV, absolute η and φ). In that
        // frame η is the jet's, O(1), and the relative η errors are small; about the image's own
        // axis (η ≈ 0) they would be ratios of two near-zero numbers, spread far beyond 0.5.
        let errors = try json(a, "errors/errors.json")["models"]!.arrayValue!
        XCTAssertEqual(errors.map { $0["model"]!.stringValue! }, ["GNNAE", "GNNAE", "CNNAE"])
        let cnnErrors = errors[2]
        XCTAssertEqual(cnnErrors["jetFeatures"], "image_GeV")
        print("CNNAE jet errors (code definition): \(cnnErrors["jet"]!["code"]!.canonical)")
        let etaIQR = cnnErrors["jet"]!["code"]!["eta"]!["iqr"]!.doubleValue!
        XCTAssertLessThan(etaIQR, 0.5, "CNNAE jet η error IQR \(etaIQR)")
        let ptMedian = cnnErrors["jet"]!["code"]!["pt"]!["median"]!.doubleValue!
        XCTAssertLessThan(abs(ptMedian), 0.1, "CNNAE jet pT error median \(ptMedian)")
        XCTAssertEqual(cnnErrors["jet"]!["code"]!["mass"]!["count"], 20)
        let table2 = try readText(a + "/artifacts/out/tables/table2.csv"), table4 = try readText(a + "/artifacts/out/tables/table4.csv")
        XCTAssertEqual(table2.split(separator: "\n").count, 3, table2)
        XCTAssertFalse(table2.contains("CNNAE"), table2)
        XCTAssertEqual(table4.split(separator: "\n").map { String($0.split(separator: ",")[0]) }, ["model", "GNNAE", "GNNAE", "CNNAE"], table4)
        XCTAssertTrue(table4.contains("image_squared_error"), table4)

        // One thread, killed once a baseline training has checkpointed an epoch ≥ 1, then resumed.
        let b = try workspace("b")
        let (seen, killedStderr) = try killAfterFirstCheckpoint(b, ["run", "all", "--threads", "1"], timeout: 600)
        guard let killedAfter = seen else {
            return XCTFail("the trainings ended or timed out before writing a checkpoint after epoch 1: \(killedStderr)")
        }
        XCTAssertLessThan(killedAfter, 4, "killed before the end")
        let resumed = try cli(b, ["run", "all", "--threads", "1"], timeout: 900)
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertTrue(resumed.stderr.contains("resuming from the checkpoint after epoch"), resumed.stderr)
        let (outA, outB) = (try outputs(a), try outputs(b))
        XCTAssertEqual(outA.count, 3 * 4 + 2 * (5 * 2 + 1) + (4 * 2 + 1))
        XCTAssertEqual(Set(outA.keys), Set(outB.keys))
        for (name, bytes) in outA {
            XCTAssertTrue(outB[name] == bytes, "\(name) differs between the uninterrupted 2-thread run and the killed-and-resumed 1-thread run")
        }
    }

    func testBadBaselineParametersAndMismatchedModelsAreRejected() throws {
        let bad = try workspace("bad") { stages in
            var jl = stages["train-jl"]!.objectValue!, params = jl["params"]!.objectValue!
            params["encoding"] = "XL"
            params["edgeWidths"] = [[8, 0]]
            jl["params"] = .object(params)
            stages["train-jl"] = .object(jl)
            var cnn = stages["train-cnn"]!.objectValue!, cp = cnn["params"]!.objectValue!
            cp["imagePixels"] = 10
            cnn["params"] = .object(cp)
            stages["train-cnn"] = .object(cnn)
        }
        let r = try cli(bad, ["run", "all"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("stages.train-jl.params.encoding: unknown value 'XL'"), r.stderr)
        XCTAssertTrue(r.stderr.contains("stages.train-jl.params.edgeWidths: must be an array of non-empty arrays of positive integers"), r.stderr)
        XCTAssertTrue(r.stderr.contains("stages.train-cnn.params.imagePixels: must be a positive multiple of 4"), r.stderr)

        // A GNNAE model given to a reconstruct stage left at model = lgae.
        let mismatch = try workspace("mismatch") { stages in
            var reco = stages["reconstruct-pl"]!.objectValue!
            reco["params"] = ["parts": ["qcd_test"], "jets": 5]
            stages["reconstruct-pl"] = .object(reco)
            for s in ["train-jl", "train-cnn", "reconstruct-jl", "reconstruct-cnn", "match-jl", "match-pl", "errors", "roc", "tables"] { stages[s] = nil }
            var pl = stages["train-pl"]!.objectValue!, params = pl["params"]!.objectValue!
            params["maxEpochs"] = 1
            pl["params"] = .object(params)
            stages["train-pl"] = .object(pl)
        }
        let m = try cli(mismatch, ["run", "all"], timeout: 600)
        XCTAssertNotEqual(m.status, 0)
        XCTAssertTrue(m.stderr.contains("its input model.gnnae is a GNNAE but `model` is 'lgae'. Fix: set `stages.reconstruct-pl.params.model` to \"gnnae\""), m.stderr)
    }
}
