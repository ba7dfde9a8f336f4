import Digest
import Foundation
@testable import JetData
import XCTest

/// The download half of the `fetch` stage: the JetNet files are large Zenodo downloads that must
/// survive dropped connections and killed processes, and must never enter the pipeline unverified.
final class FetchTests: XCTestCase {
    /// 3 MB of seeded pseudo-random bytes stand in for a JetNet HDF5 file.
    static let payload: [UInt8] = {
        var state: UInt64 = 0x4A45_544E_4554  // "JETNET"
        // SplitMix64, one 64-bit word per 8 bytes (byte-at-a-time is slow in a debug build).
        let words = (0..<375_000).map { _ -> UInt64 in
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        return words.withUnsafeBytes { [UInt8]($0) }
    }()
    static let payloadMD5: String = digest(payload, .md5)
    static let payloadSHA256: String = digest(payload, .sha256)

    static func digest(_ bytes: [UInt8], _ algorithm: Hasher.Algorithm) -> String {
        var hasher = Hasher(algorithm)
        hasher.update(bytes)
        return hasher.finalize()
    }

    var directory = ""
    var destination: String { directory + "/out/g150.hdf5" }
    var partials: String { directory + "/partials" }

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("FetchTests-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    private func fetch(
        _ server: LoopbackHTTPServer, md5: String? = payloadMD5, sha256: String? = nil, maxAttempts: Int = 5,
        progress: @Sendable (FetchProgress) -> Void = { _ in }
    ) throws -> FetchResult {
        try fetchFile(FetchRequest(source: server.url, md5: md5, sha256: sha256), to: destination,
                      baseDirectory: directory, partialDirectory: partials, maxAttempts: maxAttempts, progress: progress)
    }

    private func partialPath(_ server: LoopbackHTTPServer) -> String {
        FetchRequest(source: server.url).partialPath(in: partials)
    }

    private func assertDestinationHoldsPayload(file: StaticString = #filePath, line: UInt = #line) throws {
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: destination)))
        XCTAssertEqual(bytes.count, Self.payload.count, file: file, line: line)
        XCTAssertTrue(bytes == Self.payload, "destination differs from the served payload", file: file, line: line)
    }

    private func expectError(_ body: () throws -> FetchResult, file: StaticString = #filePath, line: UInt = #line)
        -> FetchError?
    {
        do {
            let result = try body()
            XCTFail("expected a FetchError, got \(result)", file: file, line: line)
        } catch let error as FetchError {
            return error
        } catch {
            XCTFail("expected a FetchError, got \(error)", file: file, line: line)
        }
        return nil
    }

    // MARK: - HTTP

    func testFullDownloadVerifiesMD5AndSHA256() throws {
        let server = try LoopbackHTTPServer(payload: Self.payload)
        // Zenodo shows checksums as "md5:<hex>"; upper-case hex must be accepted too.
        let result = try fetch(server, md5: "md5:" + Self.payloadMD5.uppercased(), sha256: Self.payloadSHA256)
        XCTAssertEqual(result, FetchResult(bytes: Int64(Self.payload.count), md5: Self.payloadMD5,
                                           sha256: Self.payloadSHA256, resumedFrom: 0))
        try assertDestinationHoldsPayload()
        XCTAssertFalse(FileManager.default.fileExists(atPath: partialPath(server)), "the partial is renamed away")
        XCTAssertEqual(server.requests, [.init(path: "/record/6975118/files/g150.hdf5", range: nil)])
    }

    func testDroppedConnectionIsResumedWithARangeRequest() throws {
        let server = try LoopbackHTTPServer(payload: Self.payload, misbehaviour: .init(dropAfterBytes: 1_000_000))
        let result = try fetch(server, sha256: Self.payloadSHA256)
        XCTAssertEqual(server.requestCount, 2)
        XCTAssertEqual(server.rangeHeaders.first ?? "missing", nil)
        XCTAssertEqual(server.rangeHeaders.last ?? nil, "bytes=1000000-", "resumes exactly where the connection dropped")
        XCTAssertEqual(result.resumedFrom, 1_000_000)
        XCTAssertEqual(result.sha256, Self.payloadSHA256)
        try assertDestinationHoldsPayload()
    }

    func testPartialFromAPreviousProcessIsResumed() throws {
        let server = try LoopbackHTTPServer(payload: Self.payload)
        try FileManager.default.createDirectory(atPath: partials, withIntermediateDirectories: true)
        try Data(Self.payload[0..<1_048_576]).write(to: URL(fileURLWithPath: partialPath(server)))

        let result = try fetch(server)
        XCTAssertEqual(server.rangeHeaders, ["bytes=1048576-"], "only the missing bytes are requested")
        XCTAssertEqual(result.resumedFrom, 1_048_576)
        XCTAssertEqual(result.md5, Self.payloadMD5, "the digest covers the resumed bytes too")
        XCTAssertEqual(result.sha256, Self.payloadSHA256)
        try assertDestinationHoldsPayload()
    }

    func testWrongBytesFailTheChecksumAndDeleteThePartial() throws {
        let server = try LoopbackHTTPServer(payload: Self.payload, misbehaviour: .init(corruptByteAt: 2_500_000))
        var corrupted = Self.payload
        corrupted[2_500_000] = ~corrupted[2_500_000]

        let error = expectError { try fetch(server, md5: Self.payloadMD5) }
        XCTAssertEqual(error, .checksumMismatch(source: server.url, algorithm: "md5", expected: Self.payloadMD5,
                                                actual: Self.digest(corrupted, .md5), deletedPartial: partialPath(server)))
        let message = error?.description ?? ""
        for part in [server.url, Self.payloadMD5, Self.digest(corrupted, .md5), partialPath(server), "deleted"] {
            XCTAssertTrue(message.contains(part), "message should mention \(part): \(message)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: partialPath(server)), "a wrong partial must not be resumed")
        XCTAssertFalse(FileManager.default.fileExists(atPath: destination), "an unverified file must not appear")

        let shaError = expectError { try fetch(server, md5: nil, sha256: Self.payloadSHA256) }
        XCTAssertEqual(shaError, .checksumMismatch(source: server.url, algorithm: "sha256", expected: Self.payloadSHA256,
                                                   actual: Self.digest(corrupted, .sha256),
                                                   deletedPartial: partialPath(server)))
    }

    func testServerIgnoringRangeRestartsFromZero() throws {
        let server = try LoopbackHTTPServer(payload: Self.payload, misbehaviour: .init(ignoreRange: true))
        try FileManager.default.createDirectory(atPath: partials, withIntermediateDirectories: true)
        // Garbage in the partial: appending the 200 body to it would fail the checksum.
        try Data(repeating: 0xAB, count: 1_048_576).write(to: URL(fileURLWithPath: partialPath(server)))

        let result = try fetch(server, sha256: Self.payloadSHA256)
        XCTAssertEqual(server.rangeHeaders, ["bytes=1048576-"])
        XCTAssertEqual(result.resumedFrom, 0)
        XCTAssertEqual(result.bytes, Int64(Self.payload.count))
        try assertDestinationHoldsPayload()
    }

    func testPartialLongerThanTheFileIsDiscardedAfter416() throws {
        let server = try LoopbackHTTPServer(payload: Self.payload)
        try FileManager.default.createDirectory(atPath: partials, withIntermediateDirectories: true)
        try Data(Self.payload + [1, 2, 3]).write(to: URL(fileURLWithPath: partialPath(server)))

        let result = try fetch(server, maxAttempts: 1)
        XCTAssertEqual(server.rangeHeaders, ["bytes=3000003-", nil], "416, then the whole file afresh")
        XCTAssertEqual(result.resumedFrom, 0)
        try assertDestinationHoldsPayload()
    }

    func testCompletePartialIsVerifiedWithoutDownloadingAgain() throws {
        let server = try LoopbackHTTPServer(payload: Self.payload)
        try FileManager.default.createDirectory(atPath: partials, withIntermediateDirectories: true)
        try Data(Self.payload).write(to: URL(fileURLWithPath: partialPath(server)))

        let result = try fetch(server)
        XCTAssertEqual(server.rangeHeaders, ["bytes=3000000-"])
        XCTAssertEqual(result.resumedFrom, Int64(Self.payload.count))
        try assertDestinationHoldsPayload()
    }

    func testNotFoundNamesTheStatusAndTheURL() throws {
        let server = try LoopbackHTTPServer(payload: Self.payload, misbehaviour: .init(notFound: true))
        let error = expectError { try fetch(server) }
        XCTAssertEqual(error, .httpStatus(url: server.url, status: 404, attempts: 1))
        let message = error?.description ?? ""
        XCTAssertTrue(message.contains("404") && message.contains(server.url), message)
        XCTAssertEqual(server.requestCount, 1, "a 404 is not retried")
        XCTAssertFalse(FileManager.default.fileExists(atPath: destination))
    }

    func testGivingUpAfterMaxAttemptsKeepsTheBytesForTheNextRun() throws {
        let server = try LoopbackHTTPServer(
            payload: Self.payload, misbehaviour: .init(dropAfterBytes: 100_000, dropOnFirstRequests: 100))
        let error = expectError { try fetch(server, maxAttempts: 2) }
        guard case let .transferFailed(url, _, attempts) = error else {
            return XCTFail("expected transferFailed, got \(String(describing: error))")
        }
        XCTAssertEqual(url, server.url)
        XCTAssertEqual(attempts, 2)
        XCTAssertEqual(server.rangeHeaders, [nil, "bytes=100000-"])
        XCTAssertEqual(try Fetching.sizeOfFile(partialPath(server)), 200_000, "both attempts' bytes are kept for resuming")
        XCTAssertFalse(FileManager.default.fileExists(atPath: destination))
    }

    func testHTTPSourceWithoutChecksumIsRefused() throws {
        let server = try LoopbackHTTPServer(payload: Self.payload)
        let error = expectError { try fetch(server, md5: nil, sha256: nil) }
        XCTAssertEqual(error, .checksumRequired(source: server.url))
        XCTAssertTrue(error?.description.contains("not pinned") ?? false)
        XCTAssertEqual(server.requestCount, 0, "refused before any byte is downloaded")
    }

    func testMalformedChecksumIsRefused() throws {
        let server = try LoopbackHTTPServer(payload: Self.payload)
        XCTAssertEqual(expectError { try fetch(server, md5: "md5:1234") },
                       .malformedChecksum(source: server.url, algorithm: "md5", value: "md5:1234"))
        XCTAssertEqual(expectError { try fetch(server, md5: nil, sha256: Self.payloadMD5) },
                       .malformedChecksum(source: server.url, algorithm: "sha256", value: Self.payloadMD5))
        XCTAssertEqual(server.requestCount, 0)
    }

    func testProgressReportsIncreasingCountsEndingAtTheTotal() throws {
        let server = try LoopbackHTTPServer(payload: Self.payload, misbehaviour: .init(chunkDelay: 0.006))
        let calls = ProgressLog()
        let started = Date()
        _ = try fetch(server) { calls.append($0) }
        let elapsed = Date().timeIntervalSince(started)

        let log = calls.entries
        XCTAssertGreaterThanOrEqual(log.count, 2, "a transfer of ~0.3 s reports more than once")
        XCTAssertLessThanOrEqual(Double(log.count), elapsed * 10 + 2, "throttled to about 10 calls per second")
        XCTAssertEqual(zip(log, log.dropFirst()).filter { $0.received >= $1.received }.count, 0,
                       "counts increase: \(log.map(\.received))")
        XCTAssertEqual(log.last, FetchProgress(received: Int64(Self.payload.count), expected: Int64(Self.payload.count)))
        XCTAssertEqual(log.dropLast().compactMap(\.expected).filter { $0 != Int64(Self.payload.count) }, [],
                       "the total comes from Content-Length")
    }

    // MARK: - Local files

    private func writeLocalPayload() throws -> String {
        try FileManager.default.createDirectory(atPath: directory + "/data", withIntermediateDirectories: true)
        let path = directory + "/data/g150.hdf5"
        try Data(Self.payload).write(to: URL(fileURLWithPath: path))
        return path
    }

    func testLocalPathsAndFileURLsAreCopiedAndHashed() throws {
        let path = try writeLocalPayload()
        let expected = FetchResult(bytes: Int64(Self.payload.count), md5: Self.payloadMD5, sha256: Self.payloadSHA256,
                                   resumedFrom: 0)
        for source in ["data/g150.hdf5", path, URL(fileURLWithPath: path).absoluteString] {
            try? FileManager.default.removeItem(atPath: destination)
            let result = try fetchFile(FetchRequest(source: source), to: destination, baseDirectory: directory,
                                       partialDirectory: partials)
            XCTAssertEqual(result, expected, source)
            try assertDestinationHoldsPayload()
        }
        XCTAssertTrue(URL(fileURLWithPath: path).absoluteString.hasPrefix("file:///"))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory + "/out"), ["g150.hdf5"],
                       "no temporary file is left beside the destination")
    }

    func testMissingLocalFileNamesThePath() throws {
        let error = expectError {
            try fetchFile(FetchRequest(source: "data/missing.hdf5"), to: destination, baseDirectory: directory,
                          partialDirectory: partials)
        }
        XCTAssertEqual(error, .sourceNotFound(source: "data/missing.hdf5", path: directory + "/data/missing.hdf5"))
        let message = error?.description ?? ""
        XCTAssertTrue(message.contains(directory + "/data/missing.hdf5") && message.contains("source path"), message)
    }

    func testWrongMD5OnALocalFileIsRefused() throws {
        let path = try writeLocalPayload()
        let wrong = String(repeating: "0", count: 32)
        let error = expectError {
            try fetchFile(FetchRequest(source: path, md5: wrong), to: destination, baseDirectory: directory,
                          partialDirectory: partials)
        }
        XCTAssertEqual(error, .checksumMismatch(source: path, algorithm: "md5", expected: wrong, actual: Self.payloadMD5,
                                                deletedPartial: nil))
        XCTAssertFalse(FileManager.default.fileExists(atPath: destination), "an unverified copy must not appear")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory + "/out"), [])
    }

    func testUnsupportedSchemesAreRefused() throws {
        for source in ["ftp://example.org/g150.hdf5", "file://otherhost/g150.hdf5", ""] {
            let error = expectError {
                try fetchFile(FetchRequest(source: source, md5: Self.payloadMD5), to: destination,
                              baseDirectory: directory, partialDirectory: partials)
            }
            XCTAssertEqual(error, .unsupportedSource(source: source))
        }
    }

    func testContentRangeParsing() {
        XCTAssertEqual(Fetching.ContentRange("bytes 100-199/3000"), Fetching.ContentRange(first: 100, total: 3000))
        XCTAssertEqual(Fetching.ContentRange("bytes */3000"), Fetching.ContentRange(first: nil, total: 3000))
        XCTAssertEqual(Fetching.ContentRange("bytes 100-199/*"), Fetching.ContentRange(first: 100, total: nil))
        XCTAssertNil(Fetching.ContentRange("items 1-2/3"))
        XCTAssertNil(Fetching.ContentRange("bytes 100/3000"))
        XCTAssertNil(Fetching.ContentRange(nil))
    }
}

/// Collects progress callbacks, which must be `@Sendable`.
private final class ProgressLog: @unchecked Sendable {
    private let lock = NSLock()
    private var log: [FetchProgress] = []
    func append(_ progress: FetchProgress) { lock.withLock { log.append(progress) } }
    var entries: [FetchProgress] { lock.withLock { log } }
}
