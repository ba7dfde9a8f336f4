import Foundation
import XCTest

@testable import JetData

final class NpyTests: XCTestCase {
    private var directory = ""

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("npy-tests-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    private func path(_ name: String) -> String { directory + "/" + name }

    func testRoundTripEveryDType() throws {
        let doubles: [Double] = [0, -1.5, .pi, 1e300, -0.0, .leastNonzeroMagnitude]
        try writeNpy(doubles, shape: [2, 3], to: path("f8.npy"))
        let d = try readNpy(path("f8.npy"), as: Double.self)
        XCTAssertEqual(d.shape, [2, 3])
        XCTAssertEqual(d.values.map(\.bitPattern), doubles.map(\.bitPattern))

        let floats = (0..<(4 * 30 * 4)).map { Float($0) * 0.37 - 11 }
        try writeNpy(floats, shape: [4, 30, 4], to: path("f4.npy"))
        let f = try readNpy(path("f4.npy"), as: Float.self)
        XCTAssertEqual(f.shape, [4, 30, 4])
        XCTAssertEqual(f.values, floats)

        let ints: [Int64] = [.min, -1, 0, 1, .max]
        try writeNpy(ints, shape: [5], to: path("i8.npy"))
        let i = try readNpy(path("i8.npy"), as: Int64.self)
        XCTAssertEqual(i.shape, [5])
        XCTAssertEqual(i.values, ints)

        let bytes: [UInt8] = [0, 1, 2, 127, 128, 200, 254, 255]
        try writeNpy(bytes, shape: [2, 2, 2], to: path("u1.npy"))
        let u = try readNpy(path("u1.npy"), as: UInt8.self)
        XCTAssertEqual(u.shape, [2, 2, 2])
        XCTAssertEqual(u.values, bytes)
    }

    func testRoundTripScalarAndEmptyArrays() throws {
        try writeNpy([42 as Int64], shape: [], to: path("scalar.npy"))
        let scalar = try readNpy(path("scalar.npy"), as: Int64.self)
        XCTAssertEqual(scalar.shape, [])
        XCTAssertEqual(scalar.values, [42])

        try writeNpy([Float](), shape: [0, 30, 4], to: path("empty.npy"))
        let empty = try readNpy(path("empty.npy"), as: Float.self)
        XCTAssertEqual(empty.shape, [0, 30, 4])
        XCTAssertEqual(empty.values, [])
    }

    /// The exact bytes `np.save(f, np.arange(6.0).reshape(2, 3))` writes (numpy 2.4), so the
    /// format is pinned even where Python is not installed.
    func testHeaderBytesMatchNumpyForTwoByThreeFloat64() throws {
        try writeNpy((0..<6).map(Double.init), shape: [2, 3], to: path("a.npy"))
        let file = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path("a.npy"))))
        let dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }"
        let expectedHeader: [UInt8] = [0x93] + Array("NUMPY".utf8) + [0x01, 0x00, 0x76, 0x00]
            + Array(dict.utf8) + [UInt8](repeating: 0x20, count: 58) + [0x0A]
        XCTAssertEqual(expectedHeader.count, 128)
        XCTAssertEqual(Array(file.prefix(128)), expectedHeader)
        let expectedData = "0000000000000000000000000000f03f0000000000000040"
            + "000000000000084000000000000010400000000000001440"
        XCTAssertEqual(file.dropFirst(128).map { String(format: "%02x", $0) }.joined(), expectedData)
    }

    func testHeaderPadsToSixtyFourBytesForEveryShape() throws {
        for shape in [[], [1], [7], [123_456_789, 30, 4], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]] {
            let header = npyHeader(dtype: .float32, shape: shape)
            XCTAssertEqual(header.count % 64, 0, "shape \(shape)")
            XCTAssertEqual(header.last, 0x0A, "shape \(shape)")
            XCTAssertEqual(Int(header[8]) | Int(header[9]) << 8, header.count - 10, "shape \(shape)")
        }
    }

    /// Byte-for-byte equality with `np.save`, and `np.load`-compatible reading of numpy's files.
    func testFilesAreByteIdenticalToNumpy() throws {
        guard pythonHasModule("numpy") else {
            throw XCTSkip("python3 with numpy is not installed; the hard-coded header test still pins the format")
        }
        let cases: [(NpyDType, [Int], String)] = [
            (.float64, [2, 3], "np.arange(6, dtype='<f8').reshape(2, 3) * 0.5"),
            (.float32, [3, 30, 4], "np.arange(360, dtype='<f4').reshape(3, 30, 4) * 0.25"),
            (.int64, [7], "np.arange(7, dtype='<i8') - 3"),
            (.uint8, [2, 128], "(np.arange(256) % 256).astype('|u1').reshape(2, 128)"),
            (.float64, [], "np.array(2.5, dtype='<f8')"),
            (.float32, [0, 4], "np.zeros((0, 4), dtype='<f4')"),
        ]
        var script = "import numpy as np\n"
        for (index, (_, _, expression)) in cases.enumerated() {
            script += "np.save('\(path("numpy\(index).npy"))', \(expression))\n"
        }
        try runPythonScript(script)

        for (index, (dtype, shape, _)) in cases.enumerated() {
            let count = shape.reduce(1, *)
            let ours = path("ours\(index).npy")
            switch dtype {
            case .float64:
                let values = shape.isEmpty ? [2.5] : (0..<count).map { Double($0) * 0.5 }
                try writeNpy(values, shape: shape, to: ours)
                XCTAssertEqual(try readNpy(path("numpy\(index).npy"), as: Double.self).values, values)
            case .float32:
                let values = (0..<count).map { Float($0) * 0.25 }
                try writeNpy(values, shape: shape, to: ours)
                XCTAssertEqual(try readNpy(path("numpy\(index).npy"), as: Float.self).values, values)
            case .int64:
                let values = (0..<count).map { Int64($0) - 3 }
                try writeNpy(values, shape: shape, to: ours)
                XCTAssertEqual(try readNpy(path("numpy\(index).npy"), as: Int64.self).values, values)
            case .uint8:
                let values = (0..<count).map { UInt8($0 % 256) }
                try writeNpy(values, shape: shape, to: ours)
                XCTAssertEqual(try readNpy(path("numpy\(index).npy"), as: UInt8.self).values, values)
            }
            let reference = try Data(contentsOf: URL(fileURLWithPath: path("numpy\(index).npy")))
            let written = try Data(contentsOf: URL(fileURLWithPath: ours))
            XCTAssertEqual(written, reference, "\(dtype) \(shape): our bytes differ from np.save")
        }
    }

    func testBadMagicIsRejected() throws {
        try Data("PK\u{3}\u{4} this is not numpy".utf8).write(to: URL(fileURLWithPath: path("zip.npy")))
        assertThrowsMentioning(try readNpy(path("zip.npy"), as: Double.self), mentions: ["zip.npy", "magic", "50 4b 03 04"])

        XCTAssertTrue(FileManager.default.createFile(atPath: path("empty.npy"), contents: Data()))
        assertThrowsMentioning(try readNpy(path("empty.npy"), as: Double.self), mentions: ["empty.npy", "magic", "empty"])
    }

    func testTruncatedFilesAreRejected() throws {
        try writeNpy((0..<6).map(Double.init), shape: [2, 3], to: path("full.npy"))
        let full = try Data(contentsOf: URL(fileURLWithPath: path("full.npy")))

        try full.prefix(full.count - 8).write(to: URL(fileURLWithPath: path("short.npy")))
        assertThrowsMentioning(try readNpy(path("short.npy"), as: Double.self),
                    mentions: ["short.npy", "[2, 3]", "48 data bytes", "40", "truncated"])

        try full.prefix(60).write(to: URL(fileURLWithPath: path("header.npy")))
        assertThrowsMentioning(try readNpy(path("header.npy"), as: Double.self), mentions: ["header.npy", "header", "60 bytes"])

        try (full + Data([0])).write(to: URL(fileURLWithPath: path("long.npy")))
        assertThrowsMentioning(try readNpy(path("long.npy"), as: Double.self), mentions: ["long.npy", "trailing"])
    }

    func testDTypeMismatchNamesFoundAndExpected() throws {
        try writeNpy([Float](repeating: 1, count: 4), shape: [4], to: path("f4.npy"))
        assertThrowsMentioning(try readNpy(path("f4.npy"), as: Double.self), mentions: ["f4.npy", "'<f4'", "'<f8'", "float64"])
    }

    func testFortranOrderAndBigEndianAreRejected() throws {
        try writeRawNpy(dict: "{'descr': '<f8', 'fortran_order': True, 'shape': (2, 2), }", payload: 32, to: path("fortran.npy"))
        assertThrowsMentioning(try readNpy(path("fortran.npy"), as: Double.self), mentions: ["fortran.npy", "fortran_order", "True"])

        try writeRawNpy(dict: "{'descr': '>f8', 'fortran_order': False, 'shape': (2,), }", payload: 16, to: path("big.npy"))
        assertThrowsMentioning(try readNpy(path("big.npy"), as: Double.self), mentions: ["big.npy", "big-endian", "'>f8'"])
    }

    func testWriteChecksShapeAgainstCount() throws {
        assertThrowsMentioning(try writeNpy([1.0, 2.0, 3.0], shape: [2, 2], to: path("bad.npy")),
                    mentions: ["bad.npy", "[2, 2]", "4 values", "3 were given"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("bad.npy")))
    }

    // MARK: helpers

    private func writeRawNpy(dict: String, payload: Int, to file: String) throws {
        var header = [0x93] + Array("NUMPY".utf8) + [1, 0]
        var text = Array(dict.utf8)
        while (10 + text.count + 1) % 64 != 0 { text.append(0x20) }
        text.append(0x0A)
        header += [UInt8(text.count & 0xFF), UInt8(text.count >> 8)]
        try Data(header + text + [UInt8](repeating: 0, count: payload)).write(to: URL(fileURLWithPath: file))
    }
}

/// Asserts that `expression` throws an error whose text contains every fragment.
func assertThrowsMentioning<T>(_ expression: @autoclosure () throws -> T, mentions fragments: [String],
                    file: StaticString = #filePath, line: UInt = #line) {
    do {
        _ = try expression()
        XCTFail("expected an error mentioning \(fragments)", file: file, line: line)
    } catch {
        let text = String(describing: error)
        for fragment in fragments where !text.contains(fragment) {
            XCTFail("error text lacks \"\(fragment)\": \(text)", file: file, line: line)
        }
    }
}

/// Whether `python3 -c "import <module>"` succeeds; tests that compare against numpy or h5py
/// skip themselves when it does not.
func pythonHasModule(_ module: String) -> Bool {
    (try? runPythonScript("import \(module)")) != nil
}

func runPythonScript(_ script: String) throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "-c", script]
    let errors = Pipe()
    process.standardError = errors
    process.standardOutput = FileHandle.nullDevice
    try process.run()
    let message = errors.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw NSError(domain: "python3", code: Int(process.terminationStatus),
                      userInfo: [NSLocalizedDescriptionKey: String(decoding: message, as: UTF8.self)])
    }
}
