import Digest
import Executor
import Foundation
import JetData
import LGAE
import XCTest

/// `train-lgae` and `equivariance` through the real binary on the committed Pythia sample: the
/// validation loss falls, a training killed mid-way resumes from its checkpoint in the store and
/// ends with the bytes of an uninterrupted run on another thread count, and the equivariance sweep
/// is written. The model is the paper's architecture shrunk (one LMP level each side, 2 channels,
/// 4 bells) so that a debug build trains it in seconds.
final class TrainStageTests: PipelineTestCase {
    private func workspace(_ name: String, maxEpochs: Int = 5) throws -> String {
        let sample = try sampleWorkspace(name), ws = sample.ws
        var doc = sample.doc, stages = sample.stages
        stages["train"] = [
            "kind": "train-lgae", "inputs": ["split"],
            "params": [
                "aggregation": "minmax", "latentVectors": 2, "encoderChannels": [2, 2], "decoderChannels": [2, 2],
                "basisFunctions": 2, "mlpDepth": 1, "mlpWidthMultiplier": 2, "batchSize": 16, "learningRate": 0.01,
                "maxEpochs": .number(Double(maxEpochs)), "patience": 10, "trainJets": 160, "validJets": 80,
            ],
        ]
        stages["equivariance"] = [
            "kind": "equivariance", "inputs": ["train/model.lgae", "split"],
            "params": ["jets": 12, "batchSize": 6, "boostPoints": 3, "rotationPoints": 3, "maxRapidity": 4],
        ]
        stages["reconstruct"] = [
            "kind": "reconstruct", "inputs": ["train/model.lgae", "train/training.json", "split"],
            "params": ["parts": ["qcd_test", "t_test"], "jets": 20],
        ]
        stages["roc"] = ["kind": "roc", "inputs": ["reconstruct"], "params": ["signals": ["t_test"]]]
        doc["stages"] = .object(stages)
        try writeConfig(ws, .object(doc))
        return ws
    }

    private func outputs(_ ws: String) throws -> [String: Data] {
        var out: [String: Data] = [:]
        for stage in ["train", "equivariance", "reconstruct", "roc"] {
            let dir = ws + "/artifacts/out/" + stage
            for name in try FileManager.default.contentsOfDirectory(atPath: dir) where !name.hasPrefix(".") {
                out[stage + "/" + name] = try Data(contentsOf: URL(fileURLWithPath: dir + "/" + name))
            }
        }
        return out
    }

    func testTrainingLearnsResumesAfterAKillAndIsThreadCountIndependent() throws {
        // Uninterrupted, two threads.
        let a = try workspace("a")
        let first = try cli(a, ["run", "all", "--threads", "2"], timeout: 600)
        XCTAssertEqual(first.status, 0, first.stderr)
        let report = try JSONParser.parse(try Data(contentsOf: URL(fileURLWithPath: a + "/artifacts/out/train/training.json")))
        let initial = report["initialValidLoss"]!.doubleValue!, best = report["bestValidLoss"]!.doubleValue!
        print("train stage on the sample: validation Chamfer \(initial) → \(best) (\(initial / best)× lower) in \(report["epochs"]!.canonical) epochs")
        XCTAssertLessThan(best, initial / 2, "5 epochs on 160 sample jets must at least halve the validation loss")
        XCTAssertEqual(report["epochs"], 5)
        let curve = try readText(a + "/artifacts/out/train/losses.csv").split(separator: "\n")
        XCTAssertEqual(curve.first, "epoch,train_loss,valid_loss,best_valid_loss,is_best")
        XCTAssertEqual(curve.count, 7, "header, epoch 0 and 5 epochs")
        XCTAssertTrue(first.stderr.contains("compression rate 30.00%"), first.stderr)
        XCTAssertEqual((try? FileManager.default.contentsOfDirectory(atPath: a + "/artifacts/checkpoints")) ?? [], [],
                       "checkpoints of a finished training are removed")
        // The trained model over 20 QCD and 20 top test jets: reconstructions back in TeV, latents stored.
        let reco = try JSONParser.parse(try Data(contentsOf: URL(fileURLWithPath: a + "/artifacts/out/reconstruct/reconstruction.json")))
        XCTAssertEqual(reco["aggregation"], "minmax")
        XCTAssertEqual(reco["loss"], "chamfer")
        XCTAssertEqual(reco["parts"], ["qcd_test": 20, "t_test": 20])
        let target = try readNpy(a + "/artifacts/out/reconstruct/qcd_test_target.npy", as: Double.self)
        let output = try readNpy(a + "/artifacts/out/reconstruct/qcd_test_output.npy", as: Double.self)
        XCTAssertEqual(target.shape, [20, 30, 4])
        XCTAssertEqual(output.shape, [20, 30, 4])
        XCTAssertEqual(try readNpy(a + "/artifacts/out/reconstruct/t_test_latent_vectors.npy", as: Double.self).shape, [20, 4, 4, 2],
                       "Min-Max with τ = 2 has 2 × 2 latent 4-vectors")
        let jetE = { (v: [Double]) in (0..<20).map { j in (0..<30).reduce(0.0) { $0 + v[(j * 30 + $1) * 4] } } }
        let ratio = zip(jetE(output.values), jetE(target.values)).map { $0 / $1 }.sorted()[10]
        XCTAssertTrue(ratio > 0.2 && ratio < 5, "de-normalised outputs carry the jets' TeV scale: median E ratio \(ratio)")
        let auc = try JSONParser.parse(try Data(contentsOf: URL(fileURLWithPath: a + "/artifacts/out/roc/roc.json")))["models"]!
            .arrayValue![0]["scores"]!["chamfer_cartesian"]!["t"]!["auc"]!.doubleValue!
        XCTAssertTrue(auc >= 0.5 && auc <= 1, "\(auc)")

        let sweep = try readText(a + "/artifacts/out/equivariance/equivariance.csv").split(separator: "\n")
        XCTAssertEqual(sweep.count, 1 + 3 + 3)
        for row in sweep.dropFirst() {
            let cells = row.split(separator: ",")
            let deviation = Double(cells[3])!
            XCTAssertTrue(deviation.isFinite, String(row))
            if cells[0] == "rotation" { XCTAssertLessThan(deviation, 1e-9, String(row)) }
            if cells[0] == "boost" { XCTAssertLessThan(deviation, 1e-6, String(row)) }
        }

        // One thread, killed once a checkpoint after epoch ≥ 1 exists, then resumed.
        let b = try workspace("b")
        let (seen, killedStderr) = try killAfterFirstCheckpoint(b, ["run", "all", "--threads", "1"], timeout: 300)
        guard let killedAfter = seen else {
            return XCTFail("the training ended or timed out before writing a checkpoint after epoch 1: \(killedStderr)")
        }
        XCTAssertLessThan(killedAfter, 5, "killed before the end")
        let resumed = try cli(b, ["run", "all", "--threads", "1"], timeout: 600)
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertTrue(resumed.stderr.contains("resuming from the checkpoint after epoch"), resumed.stderr)
        let (outA, outB) = (try outputs(a), try outputs(b))
        XCTAssertEqual(outA.keys.filter { !$0.hasPrefix("reconstruct/") }.sorted(), [
            "equivariance/equivariance.csv", "equivariance/equivariance.json", "roc/roc.csv", "roc/roc.json", "roc/roc_points.csv",
            "roc/scores-reconstruct.npy", "train/final.ckpt", "train/losses.csv", "train/model.lgae", "train/training.json"])
        XCTAssertEqual(outA.keys.filter { $0.hasPrefix("reconstruct/") }.count, 2 * 5 + 1)
        for (name, bytes) in outA {
            XCTAssertTrue(outB[name] == bytes, "\(name) differs between the uninterrupted 2-thread run and the killed-and-resumed 1-thread run")
        }
    }

    func testBadTrainingParametersAreRejectedWithTheirPath() throws {
        let ws = try workspace("bad")
        var doc = try JSONParser.parse(try Data(contentsOf: URL(fileURLWithPath: ws + "/pipeline.json"))).objectValue!
        var stages = doc["stages"]!.objectValue!
        var train = stages["train"]!.objectValue!
        var params = train["params"]!.objectValue!
        params["aggregation"] = "minimax"
        params["learningRate"] = -1
        train["params"] = .object(params)
        stages["train"] = .object(train)
        doc["stages"] = .object(stages)
        try writeConfig(ws, .object(doc))
        let r = try cli(ws, ["run", "all"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("stages.train.params.aggregation: unknown value 'minimax'"), r.stderr)
        XCTAssertTrue(r.stderr.contains("stages.train.params.learningRate: must be positive"), r.stderr)
    }
}
