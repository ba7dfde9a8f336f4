import Digest
import Executor
import Foundation
import XCTest

@testable import Stages

/// The code digest of a stage kind comes from a table the build plugin regenerates from the
/// sources at every build: editing a stage's code invalidates exactly that stage, with no
/// version number to bump by hand.
final class CodeDigestTests: XCTestCase {
    /// `Sources/` of this package, found from this file's own path.
    private let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Sources").path

    /// Files of this package the table is keyed by (`Stages/Registry.swift`, ...).
    private var tablePaths: [String] { CodeDigests.files.map(\.path).filter { $0.contains("/") } }

    func testEveryTableEntryMatchesTheFileOnDisk() throws {
        XCTAssertFalse(tablePaths.isEmpty)
        for (path, digest) in CodeDigests.files {
            // Only this package's sources are hashed; dependencies are pinned by their versions.
            XCTAssertTrue(path.contains("/"), "table entry \(path) is not a path under Sources/")
            let onDisk = try fileDigest(sources + "/" + path).digest
            XCTAssertEqual(onDisk, digest, "Sources/\(path) changed since the table was generated; the build must regenerate it")
        }
    }

    func testTableCoversEverySourceOfTheStagesAndTheirDependencies() throws {
        let listed = Set(tablePaths)
        for module in ["Stages", "Executor", "JetData", "LGAE", "Baselines", "Evaluation", "Training", "SeededRandom", "Digest", "HDF5Shim"] {
            let e = try XCTUnwrap(FileManager.default.enumerator(atPath: sources + "/" + module))
            var found = 0
            while let rel = e.nextObject() as? String {
                let ext = (rel as NSString).pathExtension
                guard ext == "swift" || ext == "c" else { continue }
                found += 1
                XCTAssertTrue(listed.contains(module + "/" + rel), "Sources/\(module)/\(rel) is not in the code digest table")
            }
            XCTAssertGreaterThan(found, 0, "no sources found under Sources/\(module)")
        }
        XCTAssertEqual(tablePaths, tablePaths.sorted(), "the table is sorted, so digests do not depend on file-system order")
    }

    func testEveryCodePrefixOfEveryKindMatchesAFile() {
        XCTAssertEqual(unmatchedCodePrefixes(), [], "a stage kind names code that is not in the digest table")
    }

    func testEveryKindHasItsOwnCodeDigest() {
        let digests = allStageKinds.mapValues(\.codeDigest)
        XCTAssertEqual(Set(digests.values).count, allStageKinds.count, "two kinds share a code digest: \(digests)")
        for (kind, d) in digests {
            XCTAssertEqual(d.count, 64, kind)
            XCTAssertTrue(d.allSatisfy(\.isHexDigit), kind)
        }
    }

    /// Each kind's digest is recomputed here from the files on disk under its prefixes, so it is
    /// tied to those bytes (and changes when any of them changes).
    func testKindDigestsFollowTheirSourceFiles() throws {
        let prefixesByKind: [String: [String]] = [
            "command": CommandStage.code, "fetch": FetchStage.code, "unpack": UnpackStage.code, "load": LoadStage.code,
            "preprocess": PreprocessStage.code, "split": SplitStage.code, "train-lgae": TrainStage.code,
            "train-gnnae": TrainGNNAEStage.code, "train-cnnae": TrainCNNAEStage.code,
            "equivariance": EquivarianceStage.code, "reconstruct": ReconstructStage.code, "match": MatchStage.code,
            "errors": ErrorsStage.code, "roc": ROCStage.code, "tables": TablesStage.code,
        ]
        XCTAssertEqual(Set(prefixesByKind.keys), Set(allStageKinds.keys), "a kind is missing from this test")
        for (kind, own) in prefixesByKind {
            let prefixes = own + commonCode
            var h = Digest.Hasher(.sha256)
            var files = 0
            for path in tablePaths where prefixes.contains(where: { path.hasPrefix($0) }) {
                h.update("\(path)\u{0}\(try fileDigest(sources + "/" + path).digest)\n")
                files += 1
            }
            XCTAssertGreaterThanOrEqual(files, own.count, kind)
            let expected = h.finalize()
            XCTAssertEqual(expected, allStageKinds[kind]?.codeDigest, "code digest of kind '\(kind)'")
        }
        // The shared support code is part of every kind; another kind's file is not.
        XCTAssertTrue(CommandStage.code.allSatisfy { p in !FetchStage.code.contains(p) })
    }
}
