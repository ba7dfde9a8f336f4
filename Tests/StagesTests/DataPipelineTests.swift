import Digest
import Executor
import Foundation
import JetData
import XCTest

/// fetch → unpack → load → preprocess → split on a tiny synthetic JetNet archive, through the
/// real binary, plus the data stages' refusals and the CLI's inspection commands.
final class DataPipelineTests: PipelineTestCase {
    private let jetsPerClass = 50

    /// A workspace with `inputs/jets.zip` holding the five class files; returns (workspace, md5).
    private func archiveWorkspace(_ name: String, seed: Int = 42) throws -> (String, String) {
        let ws = root + "/" + name
        let build = root + "/build-" + name
        try FileManager.default.createDirectory(atPath: ws + "/inputs", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: build, withIntermediateDirectories: true)
        var entries: [(String, Data)] = []
        for c in JetClass.allCases {
            let path = build + "/" + c.fileName
            try writeSyntheticClassFile(path, c, jets: jetsPerClass)
            entries.append((c.fileName, try Data(contentsOf: URL(fileURLWithPath: path))))
        }
        let zip = ws + "/inputs/jets.zip"
        try writeZip(zip, entries)
        let sum = try md5(zip)
        try writeConfig(ws, dataPipeline(source: "inputs/jets.zip", md5: sum, seed: seed))
        return (ws, sum)
    }

    private func npyFiles(_ dir: String) throws -> [String: Data] {
        var out: [String: Data] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: dir) where name.hasSuffix(".npy") {
            out[name] = try Data(contentsOf: URL(fileURLWithPath: dir + "/" + name))
        }
        return out
    }

    private func index(_ ws: String, _ part: String) throws -> [[Int64]] {
        let a = try readNpy(ws + "/artifacts/out/split/\(part)_index.npy", as: Int64.self)
        XCTAssertEqual(a.shape.count, 2)
        XCTAssertEqual(a.shape.last, 2)
        return stride(from: 0, to: a.values.count, by: 2).map { [a.values[$0], a.values[$0 + 1]] }
    }

    func testEndToEndOnASyntheticArchive() throws {
        let (ws, _) = try archiveWorkspace("e2e")
        let first = try runAll(ws)
        XCTAssertEqual(first.executed, 5)
        XCTAssertEqual(first.cached, 0)
        let split = ws + "/artifacts/out/split"

        // Shapes and the 60/20/20 QCD split of 2 × 50 jets (40 train+valid per class, 75 % of 80 for training).
        let n = jetsPerClass, testPerClass = n - Int((Double(n) * 0.8).rounded(.down))
        for (part, jets) in [("qcd_train", 60), ("qcd_valid", 20), ("qcd_test", 20), ("t_test", testPerClass),
                             ("w_test", testPerClass), ("z_test", testPerClass)]
        {
            XCTAssertEqual(try readNpy(split + "/\(part)_p4.npy", as: Double.self).shape, [jets, 30, 4], part)
            XCTAssertEqual(try readNpy(split + "/\(part)_mask.npy", as: UInt8.self).shape, [jets, 30], part)
            XCTAssertEqual(try readNpy(split + "/\(part)_norm.npy", as: Double.self).shape, [jets], part)
            XCTAssertEqual(try index(ws, part).count, jets, part)
        }

        // Train, valid and test are disjoint and cover the QCD rows: train+valid = rows 0..<40 of g and q.
        let train = try index(ws, "qcd_train"), valid = try index(ws, "qcd_valid"), test = try index(ws, "qcd_test")
        let trainSet = Set(train), validSet = Set(valid), testSet = Set(test)
        XCTAssertEqual(trainSet.count, 60, "no jet twice in train")
        XCTAssertTrue(trainSet.isDisjoint(with: validSet) && trainSet.isDisjoint(with: testSet) && validSet.isDisjoint(with: testSet))
        let trainValidRows = Set([0, 1].flatMap { c in (0..<40).map { [Int64(c), Int64($0)] } })
        XCTAssertEqual(trainSet.union(validSet), trainValidRows)
        XCTAssertEqual(test, [0, 1].flatMap { c in (40..<50).map { [Int64(c), Int64($0)] } }, "QCD test: last 20 % of g then q, in order")
        XCTAssertEqual(try index(ws, "t_test"), (40..<50).map { [Int64(JetClass.t.index), Int64($0)] })
        XCTAssertNotEqual(train, train.sorted { ($0[0], $0[1]) < ($1[0], $1[1]) }, "training jets are shuffled")

        // Every split row is the preprocessed row its index names, with the mask of the source file.
        let p4 = try readNpy(split + "/qcd_train_p4.npy", as: Double.self)
        let mask = try readNpy(split + "/qcd_train_mask.npy", as: UInt8.self)
        let byClass = [try readNpy(ws + "/artifacts/out/preprocess/g_p4.npy", as: Double.self),
                       try readNpy(ws + "/artifacts/out/preprocess/q_p4.npy", as: Double.self)]
        for (i, jet) in train.enumerated() {
            let (c, r) = (Int(jet[0]), Int(jet[1]))
            XCTAssertEqual(Array(p4.values[(i * 120)..<((i + 1) * 120)]), Array(byClass[c].values[(r * 120)..<((r + 1) * 120)]))
            let multiplicity = syntheticMultiplicity(c == 0 ? .g : .q, r)
            XCTAssertEqual(Array(mask.values[(i * 30)..<((i + 1) * 30)]),
                           (0..<30).map { $0 < multiplicity ? 1 : 0 }, "mask of jet \(jet)")
        }
        XCTAssertTrue(p4.values.allSatisfy(\.isFinite))

        // A second workspace with the same inputs and seed gives byte-identical outputs.
        let (twin, _) = try archiveWorkspace("twin")
        XCTAssertEqual(try runAll(twin).executed, 5)
        let original = try npyFiles(split)
        XCTAssertEqual(original.count, 24)
        XCTAssertEqual(try npyFiles(twin + "/artifacts/out/split"), original)

        // Another seed reshuffles training jets and redraws azimuths; load needs no rerun.
        let other = try runAll(ws, ["--profile", "other-seed"])
        XCTAssertEqual(other.executed, 2)
        XCTAssertEqual(other.cached, 3)
        XCTAssertNotEqual(try index(ws, "qcd_train"), train)
        XCTAssertEqual(try index(ws, "qcd_test"), test)
        XCTAssertNotEqual(try npyFiles(split)["qcd_test_p4.npy"], original["qcd_test_p4.npy"])
        // Back to the default profile: restored from the store, nothing recomputed.
        XCTAssertEqual(try runAll(ws).executed, 0)
        XCTAssertEqual(try npyFiles(split), original)

        // status and show describe the stored result.
        let status = try cli(ws, ["status"])
        XCTAssertEqual(status.status, 0, status.stderr)
        for s in ["fetch", "unpack", "load", "preprocess", "split"] {
            XCTAssertTrue(status.stdout.split(separator: "\n").contains { $0.split(separator: " ").map(String.init) == [s, "cached"] },
                          status.stdout)
        }
        let show = try cli(ws, ["show", "--stage", "split", "--json"])
        XCTAssertEqual(show.status, 0, show.stderr)
        let v = try JSONParser.parse(show.stdout)
        XCTAssertEqual(v["key"]?.stringValue?.count, 64)
        XCTAssertEqual(v["state"], "cached")
        XCTAssertEqual(v["params"]?["seed"], 42)
        XCTAssertEqual(v["params"]?["trainFraction"], 0.75)
        let inputs = try XCTUnwrap(v["inputs"]?.arrayValue).compactMap { $0["label"]?.stringValue }
        XCTAssertTrue(inputs.contains("preprocess/g_p4.npy"), "\(inputs)")
        let outputs = try XCTUnwrap(v["outputs"]?.arrayValue)
        XCTAssertEqual(Set(outputs.compactMap { $0["name"]?.stringValue }), Set(original.keys))
        XCTAssertEqual(v["provenance"]?["seed"], 42)
        XCTAssertEqual(v["provenance"]?["outcome"], "succeeded")
        XCTAssertNotNil(v["provenance"]?["host"]?.stringValue)
        XCTAssertEqual(v["summary"]?["qcd_train"], 60)
        let human = try cli(ws, ["show", "--stage", "split"])
        XCTAssertEqual(human.status, 0)
        XCTAssertTrue(human.stdout.hasPrefix("stage split [split], profile default: cached"), human.stdout)
    }

    func testDagTextAndDot() throws {
        let ws = try makeWorkspace("dag", dataPipeline(source: "inputs/jets.zip", md5: String(repeating: "0", count: 32)))
        let text = try cli(ws, ["dag"])
        XCTAssertEqual(text.status, 0, text.stderr)
        XCTAssertEqual(text.stdout, """
            fetch [fetch] <- file:inputs/jets.zip
            unpack [unpack] <- fetch
            load [load] <- unpack
            preprocess [preprocess] <- load
            split [split] <- preprocess

            """)
        let dot = try cli(ws, ["dag", "--dot"])
        XCTAssertEqual(dot.status, 0, dot.stderr)
        let lines = dot.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.first, "digraph pipeline {")
        XCTAssertEqual(lines.last, "}")
        for edge in ["\"fetch\" -> \"unpack\";", "\"unpack\" -> \"load\";", "\"load\" -> \"preprocess\";",
                     "\"preprocess\" -> \"split\";", "\"file:inputs/jets.zip\" -> \"fetch\";"]
        {
            XCTAssertTrue(lines.contains("  " + edge), "missing \(edge) in\n\(dot.stdout)")
        }
        XCTAssertEqual(lines.filter { $0.contains("->") }.count, 5)
    }

    func testBadPipelineFileExitsNonZeroWithTheJSONPath() throws {
        var doc = dataPipeline(source: "inputs/jets.zip", md5: String(repeating: "0", count: 32)).objectValue!
        var stages = doc["stages"]!.objectValue!
        stages["load"] = ["kind": "load", "inputs": ["unpack"], "params": ["particlez": 30]]
        doc["stages"] = .object(stages)
        let ws = try makeWorkspace("bad", .object(doc))
        for args in [["run", "all"], ["status"], ["dag"]] {
            let r = try cli(ws, args)
            XCTAssertNotEqual(r.status, 0, "\(args)")
            XCTAssertTrue(r.stderr.contains("stages.load.params.particlez: unknown parameter 'particlez' for stage kind 'load'"),
                          "\(args): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("Fix: use one of: classes, particles"), r.stderr)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: ws + "/artifacts/out/load"))

        try Data("{\n  \"version\": 1,\n  \"stages\": {\"a\": {\"kind\": \"fetch\",}}\n}".utf8)
            .write(to: URL(fileURLWithPath: ws + "/pipeline.json"))
        let syntax = try cli(ws, ["status"])
        XCTAssertNotEqual(syntax.status, 0)
        XCTAssertTrue(syntax.stderr.contains("pipeline.json:3:36: invalid JSON"), syntax.stderr)

        try writeConfig(ws, dataPipeline(source: "inputs/jets.zip", md5: String(repeating: "0", count: 32)))
        let unknown = try cli(ws, ["run", "nope"])
        XCTAssertNotEqual(unknown.status, 0)
        XCTAssertTrue(unknown.stderr.contains("no stage named 'nope'"), unknown.stderr)
        let profile = try cli(ws, ["status", "--profile", "papr"])
        XCTAssertNotEqual(profile.status, 0)
        XCTAssertTrue(profile.stderr.contains("profiles: no profile named 'papr' (from --profile)"), profile.stderr)
    }

    /// A workspace fetching one plain class file (no archive) and loading only that class.
    private func singleFileWorkspace(_ name: String, features: Int = 4, md5 override: String? = nil) throws -> (String, String) {
        let ws = root + "/" + name
        try FileManager.default.createDirectory(atPath: ws + "/inputs", withIntermediateDirectories: true)
        try writeSyntheticClassFile(ws + "/inputs/g.hdf5", .g, jets: 20, features: features)
        let sum = try md5(ws + "/inputs/g.hdf5")
        try writeConfig(ws, dataPipeline(source: "inputs/g.hdf5", md5: override ?? sum, classes: ["g"], split: false))
        return (ws, sum)
    }

    func testLoadRejectsParticleFeaturesWithThreeColumns() throws {
        let (ws, _) = try singleFileWorkspace("shape", features: 3)
        let r = try cli(ws, ["run", "all"])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("error: stage load failed: unpack/g.hdf5: "), r.stderr)
        XCTAssertTrue(r.stderr.contains("dataset 'particle_features' has shape [20, 30, 3], expected [N, 30, 4]"), r.stderr)
        XCTAssertEqual(summaryCounts(r.stdout)?.executed, 2)
    }

    func testFetchRejectsAWrongChecksum() throws {
        let wrong = "0123456789abcdef0123456789abcdef"
        let (ws, actual) = try singleFileWorkspace("md5", md5: wrong)
        let r = try cli(ws, ["run", "all"])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("error: stage fetch failed: fetch: md5 of "), r.stderr)
        XCTAssertTrue(r.stderr.contains("is \(actual), expected \(wrong)"), r.stderr)
        XCTAssertTrue(r.stderr.contains("stage unpack not run: upstream 'fetch' did not complete"), r.stderr)
        XCTAssertEqual(summaryCounts(r.stdout)?.executed, 0)
    }

    func testUnpackRefusesAnEntryEscapingTheDestination() throws {
        let ws = root + "/traversal"
        try FileManager.default.createDirectory(atPath: ws + "/inputs", withIntermediateDirectories: true)
        try writeSyntheticClassFile(root + "/g.hdf5", .g, jets: 5)
        try writeZip(ws + "/inputs/jets.zip", [("g.hdf5", try Data(contentsOf: URL(fileURLWithPath: root + "/g.hdf5"))),
                                              ("../evil", Data("owned\n".utf8))])
        try writeConfig(ws, dataPipeline(source: "inputs/jets.zip", md5: try md5(ws + "/inputs/jets.zip"), classes: ["g"],
                                         split: false))
        let r = try cli(ws, ["run", "all"])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("error: stage unpack failed: "), r.stderr)
        XCTAssertTrue(r.stderr.contains("entry '../evil' has a '..' component that could escape the destination"), r.stderr)
        XCTAssertTrue(r.stderr.contains("stage load not run: upstream 'unpack' did not complete"), r.stderr)
        let e = try XCTUnwrap(FileManager.default.enumerator(atPath: root))
        while let rel = e.nextObject() as? String {
            XCTAssertNotEqual((rel as NSString).lastPathComponent, "evil", "an entry escaped: \(rel)")
        }
    }
}
