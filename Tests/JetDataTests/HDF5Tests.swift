import Foundation
import XCTest

@testable import JetData

final class HDF5Tests: XCTestCase {
    private var directory = ""

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("hdf5-tests-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    private func path(_ name: String) -> String { directory + "/" + name }

    func testWriteAndReadFloat32OfAnyRank() throws {
        let cube = (0..<24).map { Float($0) * 0.5 }
        let writer = try HDF5Writer(creating: path("a.h5"))
        try writer.write(cube, shape: [2, 3, 4], to: "cube")
        try writer.write([Float(7)], shape: [], to: "scalar")
        try writer.write([Float](), shape: [0, 4], to: "empty")
        try writer.close()

        let file = try HDF5File(readingFrom: path("a.h5"))
        XCTAssertEqual(try file.datasetNames(), ["cube", "empty", "scalar"])
        let read = try file.readFloat("cube")
        XCTAssertEqual(read.shape, [2, 3, 4])
        XCTAssertEqual(read.values, cube)
        XCTAssertEqual(try file.readFloat("scalar").values, [7])
        XCTAssertEqual(try file.readFloat("empty").shape, [0, 4])
        XCTAssertEqual(try file.datasetInfo("cube"),
                       HDF5DatasetInfo(name: "cube", shape: [2, 3, 4], typeClass: .float, elementSize: 4))
    }

    func testFloat64IsReadAsDoubleAndConvertedToFloat() throws {
        let values: [Double] = [1.0 / 3.0, -2.5, 1e-3, 123_456.789]
        let writer = try HDF5Writer(creating: path("d.h5"))
        try writer.write(values, shape: [2, 2], to: "x")
        try writer.close()

        let file = try HDF5File(readingFrom: path("d.h5"))
        let info = try file.datasetInfo("x")
        XCTAssertEqual(info.typeClass, .float)
        XCTAssertEqual(info.elementSize, 8)
        XCTAssertEqual(info.typeDescription, "float64")
        XCTAssertEqual(try file.readDouble("x").values, values)
        XCTAssertEqual(try file.readFloat("x").values, values.map { Float($0) })
    }

    func testLeadingBlockReadsOnlyTheFirstEntriesAlongEachAxis() throws {
        // [3 jets, 5 particles, 2 features]; value = 100 jet + 10 particle + feature.
        var values: [Float] = []
        for j in 0..<3 { for p in 0..<5 { for f in 0..<2 { values.append(Float(100 * j + 10 * p + f)) } } }
        let writer = try HDF5Writer(creating: path("b.h5"))
        try writer.write(values, shape: [3, 5, 2], to: "p")
        try writer.close()

        let file = try HDF5File(readingFrom: path("b.h5"))
        let block = try file.readFloat("p", leadingBlock: [3, 2, 2])
        XCTAssertEqual(block.shape, [3, 2, 2])
        XCTAssertEqual(block.values, [0, 1, 10, 11, 100, 101, 110, 111, 200, 201, 210, 211])
        assertThrowsMentioning(try file.readFloat("p", leadingBlock: [3, 6, 2]), mentions: ["b.h5", "'p'", "[3, 5, 2]", "[3, 6, 2]"])
    }

    func testIntegerDatasetIsReportedAndNotReadAsFloat() throws {
        let writer = try HDF5Writer(creating: path("i.h5"))
        try writer.write([Int64](1...6), shape: [3, 2], to: "counts")
        try writer.close()

        let file = try HDF5File(readingFrom: path("i.h5"))
        let info = try file.datasetInfo("counts")
        XCTAssertEqual(info.typeClass, .integer)
        XCTAssertEqual(info.typeDescription, "int64")
        XCTAssertEqual(try file.read("counts", as: Int64.self).values, [1, 2, 3, 4, 5, 6])
        assertThrowsMentioning(try file.readFloat("counts"), mentions: ["i.h5", "'counts'", "int64", "float"])
    }

    func testMissingDatasetErrorListsWhatTheFileHolds() throws {
        let writer = try HDF5Writer(creating: path("m.h5"))
        try writer.write([Float(1)], shape: [1], to: "alpha")
        try writer.write([Float(2)], shape: [1], to: "beta")
        try writer.close()
        let file = try HDF5File(readingFrom: path("m.h5"))
        assertThrowsMentioning(try file.readFloat("gamma"), mentions: ["m.h5", "'gamma'", "'alpha', 'beta'"])
    }

    func testMissingAndNonHDF5FilesGiveClearErrors() throws {
        assertThrowsMentioning(try HDF5File(readingFrom: path("nope.h5")), mentions: ["nope.h5", "does not exist"])
        try Data("<html>503 Service Unavailable</html>".utf8).write(to: URL(fileURLWithPath: path("page.h5")))
        assertThrowsMentioning(try HDF5File(readingFrom: path("page.h5")), mentions: ["page.h5", "cannot be opened as an HDF5 file"])
    }

    /// HDF5 prints an error stack to stderr for every failed call unless told not to, and that
    /// setting is per thread; a failure on a fresh thread must stay silent too.
    func testFailuresPrintNothingToStandardErrorOnAnyThread() throws {
        try Data("not hdf5".utf8).write(to: URL(fileURLWithPath: path("junk.h5")))
        let captured = path("stderr.txt")
        let saved = dup(STDERR_FILENO)
        let sink = open(captured, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        XCTAssertGreaterThanOrEqual(sink, 0)
        fflush(nil)
        dup2(sink, STDERR_FILENO)
        let junk = path("junk.h5")
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            _ = try? HDF5File(readingFrom: junk)
            done.signal()
        }
        thread.start()
        done.wait()
        _ = try? HDF5File(readingFrom: junk)
        fflush(nil)
        dup2(saved, STDERR_FILENO)
        close(saved)
        close(sink)
        let text = try String(contentsOfFile: captured, encoding: .utf8)
        XCTAssertFalse(text.contains("HDF5-DIAG"), "HDF5 printed to stderr:\n\(text)")
    }
}

final class JetNetFileTests: XCTestCase {
    private var directory = ""

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("jetnet-tests-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Three jets with `particles` slots: jet 0 full, jet 1 with 5 real particles, jet 2 with 1;
    /// the rest zero-padded as in JetNet. Real particle p of jet j has
    /// etarel 0.01 (j + 1) (p + 1), phirel -0.02 p, ptrel 1 / (p + 2), mask 1.
    private struct Fixture {
        var particles = 30
        var particleFeatures: [Float] = []
        var jetFeatures: [Float] = []

        init(particles: Int = 30) {
            self.particles = particles
            let real = [particles, 5, 1]
            for j in 0..<3 {
                for p in 0..<particles {
                    particleFeatures += p < real[j]
                        ? [0.01 * Float(j + 1) * Float(p + 1), -0.02 * Float(p), 1 / Float(p + 2), 1]
                        : [0, 0, 0, 0]
                }
                jetFeatures += [1000 + Float(j), 0.1 * Float(j), 80 + Float(j), Float(real[j])]
            }
        }

        func index(jet: Int, particle: Int, feature: Int) -> Int { (jet * particles + particle) * 4 + feature }
    }

    private func write(_ name: String, particleFeatures: [Float]?, particleShape: [Int],
                       jetFeatures: [Float]?, jetShape: [Int]) throws -> String {
        let file = directory + "/" + name
        let writer = try HDF5Writer(creating: file)
        if let particleFeatures { try writer.write(particleFeatures, shape: particleShape, to: "particle_features") }
        if let jetFeatures { try writer.write(jetFeatures, shape: jetShape, to: "jet_features") }
        try writer.close()
        return file
    }

    private func write(_ name: String, _ fixture: Fixture) throws -> String {
        try write(name, particleFeatures: fixture.particleFeatures, particleShape: [3, fixture.particles, 4],
                  jetFeatures: fixture.jetFeatures, jetShape: [3, 4])
    }

    func testValidFileLoadsWithExactValues() throws {
        let fixture = Fixture()
        let data = try loadJetNetClassFile(path: try write("t.hdf5", fixture), jetClass: .t)
        XCTAssertEqual(data.jetClass, .t)
        XCTAssertEqual(data.count, 3)
        XCTAssertEqual(data.particles, 30)
        XCTAssertEqual(data.particleFeatures, fixture.particleFeatures)
        XCTAssertEqual(data.jetFeatures, fixture.jetFeatures)
    }

    func testFloat64FileIsAcceptedAndConverted() throws {
        let fixture = Fixture()
        let file = directory + "/w.hdf5"
        let writer = try HDF5Writer(creating: file)
        try writer.write(fixture.particleFeatures.map(Double.init), shape: [3, 30, 4], to: "particle_features")
        try writer.write(fixture.jetFeatures.map(Double.init), shape: [3, 4], to: "jet_features")
        try writer.close()
        let data = try loadJetNetClassFile(path: file, jetClass: .w)
        XCTAssertEqual(data.particleFeatures, fixture.particleFeatures)
        XCTAssertEqual(data.jetFeatures, fixture.jetFeatures)
    }

    /// jetnet's loader keeps the first `num_particles` and caps the multiplicity feature.
    func testMoreParticlesThanRequestedAreTruncatedLikeJetnet() throws {
        let wide = Fixture(particles: 40)
        let data = try loadJetNetClassFile(path: try write("g.hdf5", wide), jetClass: .g, particles: 30)
        XCTAssertEqual(data.particles, 30)
        var expected: [Float] = []
        for j in 0..<3 { for p in 0..<30 { for f in 0..<4 { expected.append(wide.particleFeatures[wide.index(jet: j, particle: p, feature: f)]) } } }
        XCTAssertEqual(data.particleFeatures, expected)
        XCTAssertEqual(data.jetFeatures[3], 30, "jet 0 stored 40 particles; jetnet reports min(40, 30)")
        XCTAssertEqual(data.jetFeatures[7], 5)
    }

    func testFewerParticlesThanRequestedIsRefused() throws {
        let file = try write("q.hdf5", Fixture(particles: 20))
        assertThrowsMentioning(try loadJetNetClassFile(path: file, jetClass: .q),
                               mentions: ["q.hdf5", "'particle_features'", "[3, 20, 4]", "[N, 30, 4]", "150-particle"])
    }

    func testWrongRankIsRefused() throws {
        let fixture = Fixture()
        let file = try write("g.hdf5", particleFeatures: fixture.particleFeatures, particleShape: [3, 120],
                             jetFeatures: fixture.jetFeatures, jetShape: [3, 4])
        assertThrowsMentioning(try loadJetNetClassFile(path: file, jetClass: .g),
                               mentions: ["g.hdf5", "'particle_features'", "[3, 120]", "[N, 30, 4]", "6975118"])

        let flatJets = try write("z.hdf5", particleFeatures: fixture.particleFeatures, particleShape: [3, 30, 4],
                                 jetFeatures: fixture.jetFeatures, jetShape: [12])
        assertThrowsMentioning(try loadJetNetClassFile(path: flatJets, jetClass: .z),
                               mentions: ["z.hdf5", "'jet_features'", "[12]", "[N, 4]"])
    }

    func testWrongLastDimensionIsRefused() throws {
        let three = (0..<(3 * 30 * 3)).map { _ in Float(0) }
        let file = try write("g.hdf5", particleFeatures: three, particleShape: [3, 30, 3],
                             jetFeatures: Fixture().jetFeatures, jetShape: [3, 4])
        assertThrowsMentioning(try loadJetNetClassFile(path: file, jetClass: .g),
                               mentions: ["g.hdf5: dataset 'particle_features' has shape [3, 30, 3], expected [N, 30, 4] (etarel, phirel, ptrel, mask)", "Fix:", "Zenodo record 6975118"])
    }

    func testMismatchedJetCountsAreRefused() throws {
        let fixture = Fixture()
        let file = try write("t.hdf5", particleFeatures: fixture.particleFeatures, particleShape: [3, 30, 4],
                             jetFeatures: Array(fixture.jetFeatures.prefix(8)), jetShape: [2, 4])
        assertThrowsMentioning(try loadJetNetClassFile(path: file, jetClass: .t),
                               mentions: ["t.hdf5", "'particle_features'", "'jet_features'", "3 and 2"])
    }

    func testMissingDatasetIsRefusedListingThePresentOnes() throws {
        let fixture = Fixture()
        let file = try write("q.hdf5", particleFeatures: fixture.particleFeatures, particleShape: [3, 30, 4],
                             jetFeatures: nil, jetShape: [])
        assertThrowsMentioning(try loadJetNetClassFile(path: file, jetClass: .q),
                               mentions: ["q.hdf5", "dataset 'jet_features' is missing", "only 'particle_features'"])
    }

    func testIntegerDatasetIsRefused() throws {
        let file = directory + "/w.hdf5"
        let writer = try HDF5Writer(creating: file)
        try writer.write([Int64](repeating: 0, count: 3 * 30 * 4), shape: [3, 30, 4], to: "particle_features")
        try writer.write(Fixture().jetFeatures, shape: [3, 4], to: "jet_features")
        try writer.close()
        assertThrowsMentioning(try loadJetNetClassFile(path: file, jetClass: .w),
                               mentions: ["w.hdf5", "'particle_features'", "int64", "expected float32"])
    }

    func testBadMaskValueIsReportedWithItsPosition() throws {
        var fixture = Fixture()
        fixture.particleFeatures[fixture.index(jet: 1, particle: 2, feature: 3)] = 0.5
        let file = try write("z.hdf5", fixture)
        assertThrowsMentioning(try loadJetNetClassFile(path: file, jetClass: .z),
                               mentions: ["z.hdf5", "'particle_features'", "mask value 0.5", "jet 1, particle 2", "0 or 1"])
    }

    func testNonZeroPaddingIsReportedWithItsPosition() throws {
        var fixture = Fixture()
        fixture.particleFeatures[fixture.index(jet: 2, particle: 7, feature: 2)] = 0.25
        let file = try write("g.hdf5", fixture)
        assertThrowsMentioning(try loadJetNetClassFile(path: file, jetClass: .g),
                               mentions: ["g.hdf5", "'particle_features'", "padded particle", "jet 2, particle 7", "ptrel 0.25"])
    }

    func testNaNAndInfinityAreReportedWithTheirPosition() throws {
        var fixture = Fixture()
        fixture.particleFeatures[fixture.index(jet: 2, particle: 0, feature: 1)] = .nan
        let file = try write("t.hdf5", fixture)
        assertThrowsMentioning(try loadJetNetClassFile(path: file, jetClass: .t),
                               mentions: ["t.hdf5", "'particle_features'", "nan", "jet 2, particle 0", "phirel"])

        var jets = Fixture()
        jets.jetFeatures[5] = .infinity
        let jetFile = try write("w.hdf5", jets)
        assertThrowsMentioning(try loadJetNetClassFile(path: jetFile, jetClass: .w),
                               mentions: ["w.hdf5", "'jet_features'", "inf", "jet 1", "eta"])
    }

    func testEmptyFileIsRefused() throws {
        let file = try write("q.hdf5", particleFeatures: [], particleShape: [0, 30, 4], jetFeatures: [], jetShape: [0, 4])
        assertThrowsMentioning(try loadJetNetClassFile(path: file, jetClass: .q),
                               mentions: ["q.hdf5", "'particle_features'", "0 jets"])
    }

    func testNonHDF5FileIsRefused() throws {
        let file = directory + "/g.hdf5"
        try Data("<html>Too Many Requests</html>".utf8).write(to: URL(fileURLWithPath: file))
        assertThrowsMentioning(try loadJetNetClassFile(path: file, jetClass: .g),
                               mentions: ["g.hdf5", "cannot be opened as an HDF5 file", "Fix:"])
    }

    func testClassOrderMatchesJetnet() {
        XCTAssertEqual(JetClass.allCases.map(\.rawValue), ["g", "q", "t", "w", "z"])
        XCTAssertEqual(JetClass.w.index, 3)
        XCTAssertEqual(JetClass.z.fileName, "z.hdf5")
    }

    /// A file written by h5py (as the real JetNet files were), chunked and gzip-compressed,
    /// with float64 jet features.
    func testFileWrittenByH5pyLoads() throws {
        guard pythonHasModule("h5py"), pythonHasModule("numpy") else {
            throw XCTSkip("python3 with h5py and numpy is not installed; the Swift-written fixtures cover the format")
        }
        let file = directory + "/q.hdf5"
        try runPythonScript("""
            import h5py, numpy as np
            p = np.zeros((4, 30, 4), dtype='<f4')
            for j in range(4):
                n = 30 - 7 * j
                p[j, :n, 0] = np.arange(n) * 0.01 + j
                p[j, :n, 1] = -np.arange(n) * 0.02
                p[j, :n, 2] = 1.0 / (np.arange(n) + 2)
                p[j, :n, 3] = 1
            jets = np.array([[1000 + j, 0.1 * j, 90 + j, 30 - 7 * j] for j in range(4)], dtype='<f8')
            with h5py.File('\(file)', 'w') as f:
                f.create_dataset('particle_features', data=p, chunks=(2, 30, 4), compression='gzip')
                f.create_dataset('jet_features', data=jets)
            """)
        let data = try loadJetNetClassFile(path: file, jetClass: .q)
        XCTAssertEqual(data.count, 4)
        for j in 0..<4 {
            let n = 30 - 7 * j
            for p in 0..<30 {
                let row = Array(data.particleFeatures[((j * 30 + p) * 4)..<((j * 30 + p) * 4 + 4)])
                let expected: [Float] = p < n
                    ? [Float(Double(p) * 0.01 + Double(j)), Float(-Double(p) * 0.02), Float(1.0 / Double(p + 2)), 1]
                    : [0, 0, 0, 0]
                XCTAssertEqual(row, expected, "jet \(j), particle \(p)")
            }
            XCTAssertEqual(Array(data.jetFeatures[(4 * j)..<(4 * j + 4)]),
                           [Float(1000 + j), Float(0.1 * Double(j)), Float(90 + j), Float(n)])
        }
    }
}
