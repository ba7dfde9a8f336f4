import CArchive
import Foundation
import XCTest

@testable import JetData

/// Archives are built here with libarchive's writer, so the tests need no Python. Hostile
/// entries are refused by name, and nothing may appear outside the destination: each test
/// extracts into `sandbox/dest` and then checks that `sandbox` holds nothing but `dest`.
final class ArchiveTests: XCTestCase {
    private var work = ""
    private var sandbox: String { work + "/sandbox" }
    private var destination: String { sandbox + "/dest" }

    override func setUpWithError() throws {
        work = FileManager.default.temporaryDirectory.appendingPathComponent("archive-tests-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: sandbox, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: work + "/archives", withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: work)
    }

    private enum Entry {
        case file(String, [UInt8])
        case directory(String)
        case symlink(String, target: String)
        case hardlink(String, target: String)
        case fifo(String)
    }

    private enum Format { case zip, tarGz }

    private func makeArchive(_ name: String, _ format: Format, _ entries: [Entry]) throws -> String {
        let path = work + "/archives/" + name
        let archive = archive_write_new()
        defer { archive_write_free(archive) }
        switch format {
        case .zip:
            archive_write_set_format_zip(archive)
        case .tarGz:
            archive_write_set_format_pax_restricted(archive)
            archive_write_add_filter_gzip(archive)
        }
        XCTAssertEqual(archive_write_open_filename(archive, path), ARCHIVE_OK)
        for item in entries {
            let entry = archive_entry_new()
            defer { archive_entry_free(entry) }
            var data: [UInt8] = []
            switch item {
            case .file(let name, let bytes):
                archive_entry_set_pathname(entry, name)
                archive_entry_set_filetype(entry, 0o100000)
                archive_entry_set_size(entry, la_int64_t(bytes.count))
                data = bytes
            case .directory(let name):
                archive_entry_set_pathname(entry, name)
                archive_entry_set_filetype(entry, 0o040000)
            case .symlink(let name, let target):
                archive_entry_set_pathname(entry, name)
                archive_entry_set_filetype(entry, 0o120000)
                archive_entry_set_symlink(entry, target)
            case .hardlink(let name, let target):
                archive_entry_set_pathname(entry, name)
                archive_entry_set_filetype(entry, 0o100000)
                archive_entry_set_hardlink(entry, target)
            case .fifo(let name):
                archive_entry_set_pathname(entry, name)
                archive_entry_set_filetype(entry, 0o010000)
            }
            archive_entry_set_perm(entry, 0o644)
            XCTAssertGreaterThanOrEqual(archive_write_header(archive, entry), ARCHIVE_WARN,
                                        String(cString: archive_error_string(archive)))
            if !data.isEmpty {
                XCTAssertEqual(data.withUnsafeBytes { archive_write_data(archive, $0.baseAddress, $0.count) }, data.count)
            }
        }
        XCTAssertEqual(archive_write_close(archive), ARCHIVE_OK)
        return path
    }

    private func contents(_ relative: String) throws -> [UInt8] {
        try [UInt8](Data(contentsOf: URL(fileURLWithPath: destination + "/" + relative)))
    }

    /// Everything under `sandbox` except `dest` itself and what lies inside it.
    private func assertNothingOutsideDestination(file: StaticString = #filePath, line: UInt = #line) {
        let outside = (try? FileManager.default.contentsOfDirectory(atPath: sandbox)) ?? ["<sandbox unreadable>"]
        XCTAssertEqual(outside.filter { $0 != "dest" }, [], "written outside the destination", file: file, line: line)
        let besideArchives = (try? FileManager.default.contentsOfDirectory(atPath: work)) ?? []
        XCTAssertEqual(Set(besideArchives), ["sandbox", "archives"], file: file, line: line)
        XCTAssertFalse(FileManager.default.fileExists(atPath: "/abs/evil"), file: file, line: line)
    }

    private func assertRefused(_ archive: String, entry: String, because reason: String,
                               limits: ExtractionLimits = .init(),
                               file: StaticString = #filePath, line: UInt = #line) {
        let name = URL(fileURLWithPath: archive).lastPathComponent
        assertThrowsMentioning(try extractArchive(at: archive, to: destination, limits: limits),
                               mentions: [name, "entry '\(entry)'", reason, "Fix:"], file: file, line: line)
        assertNothingOutsideDestination(file: file, line: line)
    }

    // MARK: extraction

    func testZipExtractsFilesWithContentsAndMode0644() throws {
        let g = [UInt8](repeating: 0x89, count: 100_000) + Array("HDF".utf8)
        let archive = try makeArchive("record.zip", .zip, [
            .directory("jetnet/"),
            .file("jetnet/g.hdf5", g),
            .file("jetnet/q.hdf5", Array("quarks".utf8)),
            .file("README.md", []),
            .file("a/b/c.txt", Array("deep".utf8)),
        ])
        XCTAssertEqual(try archiveKind(of: archive), .zip)
        let written = try extractArchive(at: archive, to: destination)
        XCTAssertEqual(written, ["README.md", "a/b/c.txt", "jetnet/g.hdf5", "jetnet/q.hdf5"])
        XCTAssertEqual(try contents("jetnet/g.hdf5"), g)
        XCTAssertEqual(try contents("jetnet/q.hdf5"), Array("quarks".utf8))
        XCTAssertEqual(try contents("README.md"), [])
        XCTAssertEqual(try contents("a/b/c.txt"), Array("deep".utf8))
        let mode = try FileManager.default.attributesOfItem(atPath: destination + "/jetnet/g.hdf5")[.posixPermissions] as? Int
        XCTAssertEqual(mode, 0o644)
        assertNothingOutsideDestination()
    }

    func testTarGzExtractsIncludingDotSlashNamesAndUTF8() throws {
        let archive = try makeArchive("record.tar.gz", .tarGz, [
            .directory("./"),
            .file("./t.hdf5", Array("tops".utf8)),
            .directory("./sub/"),
            .file("./sub//w.hdf5", Array("Ws".utf8)),
            .file("dir/é ü.txt", Array("utf8".utf8)),
        ])
        XCTAssertEqual(try archiveKind(of: archive), .tarGz)
        let written = try extractArchive(at: archive, to: destination)
        XCTAssertEqual(written, ["dir/é ü.txt", "sub/w.hdf5", "t.hdf5"])
        XCTAssertEqual(try contents("t.hdf5"), Array("tops".utf8))
        XCTAssertEqual(try contents("sub/w.hdf5"), Array("Ws".utf8))
        XCTAssertEqual(try contents("dir/é ü.txt"), Array("utf8".utf8))
        assertNothingOutsideDestination()
    }

    func testArchiveKindByMagicBytes() throws {
        let emptyZip = work + "/archives/empty.zip"
        try Data([0x50, 0x4B, 0x05, 0x06] + [UInt8](repeating: 0, count: 18)).write(to: URL(fileURLWithPath: emptyZip))
        XCTAssertEqual(try archiveKind(of: emptyZip), .zip)
        XCTAssertEqual(try extractArchive(at: emptyZip, to: destination), [])

        let html = work + "/archives/download.zip"
        try Data("<!DOCTYPE html><title>429</title>".utf8).write(to: URL(fileURLWithPath: html))
        XCTAssertEqual(try archiveKind(of: html), .notArchive)
        assertThrowsMentioning(try extractArchive(at: html, to: destination),
                               mentions: ["download.zip", "neither a zip nor", "3c 21 44 4f", "Fix:"])

        let empty = work + "/archives/zero.tar.gz"
        XCTAssertTrue(FileManager.default.createFile(atPath: empty, contents: Data()))
        XCTAssertEqual(try archiveKind(of: empty), .notArchive)
        assertThrowsMentioning(try archiveKind(of: work + "/archives/missing.zip"), mentions: ["missing.zip", "cannot be opened"])
    }

    // MARK: hostile entries

    func testParentDirectoryEntriesAreRefused() throws {
        for format in [Format.zip, .tarGz] {
            for name in ["../evil", "a/../../evil"] {
                let archive = try makeArchive("dotdot.\(format)", format, [.file("ok.txt", [1]), .file(name, Array("pwned".utf8))])
                assertRefused(archive, entry: name, because: "'..'")
            }
        }
    }

    func testAbsolutePathsAreRefused() throws {
        for format in [Format.zip, .tarGz] {
            let archive = try makeArchive("absolute.\(format)", format, [.file("/abs/evil", Array("pwned".utf8))])
            assertRefused(archive, entry: "/abs/evil", because: "absolute path")
        }
    }

    func testSymlinkToSystemFileIsRefused() throws {
        for format in [Format.zip, .tarGz] {
            let archive = try makeArchive("symlink.\(format)", format, [.symlink("passwd", target: "/etc/passwd")])
            assertRefused(archive, entry: "passwd", because: "symbolic link to '/etc/passwd'")
            XCTAssertNil(try? FileManager.default.destinationOfSymbolicLink(atPath: destination + "/passwd"))
        }
    }

    func testFileThroughSymlinkIsRefused() throws {
        let outside = sandbox + "/outside"
        let archive = try makeArchive("through.tar.gz", .tarGz, [
            .symlink("link", target: outside),
            .file("link/inject.txt", Array("pwned".utf8)),
        ])
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
        assertThrowsMentioning(try extractArchive(at: archive, to: destination),
                               mentions: ["through.tar.gz", "entry 'link'", "symbolic link"])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: outside), [])
        try FileManager.default.removeItem(atPath: outside)
        assertNothingOutsideDestination()
    }

    func testHardlinkToSystemFileIsRefused() throws {
        let archive = try makeArchive("hardlink.tar.gz", .tarGz, [.hardlink("passwd", target: "/etc/passwd")])
        assertRefused(archive, entry: "passwd", because: "hard link to '/etc/passwd'")
        XCTAssertFalse(FileManager.default.fileExists(atPath: destination + "/passwd"))
    }

    func testDeviceAndFifoEntriesAreRefused() throws {
        let archive = try makeArchive("fifo.tar.gz", .tarGz, [.fifo("pipe")])
        assertRefused(archive, entry: "pipe", because: "FIFO")
    }

    func testDuplicateAndConflictingNamesAreRefused() throws {
        let duplicate = try makeArchive("dup.zip", .zip, [.file("g.hdf5", [1]), .file("./g.hdf5", [2])])
        assertRefused(duplicate, entry: "./g.hdf5", because: "duplicates an earlier entry")

        let fileThenDirectory = try makeArchive("clash.tar.gz", .tarGz, [.file("a", [1]), .file("a/b", [2])])
        assertRefused(fileThenDirectory, entry: "a/b", because: "already holds as a file")
    }

    // MARK: limits

    func testTooManyEntriesAreRefused() throws {
        let archive = try makeArchive("many.zip", .zip, (0..<5).map { .file("f\($0).txt", [UInt8($0)]) })
        assertRefused(archive, entry: "f3.txt", because: "limit of 3 entries", limits: ExtractionLimits(maxEntries: 3))
        XCTAssertEqual(try extractArchive(at: archive, to: destination, limits: ExtractionLimits(maxEntries: 5)).count, 5)
    }

    func testEntryOverTheSizeLimitIsRefused() throws {
        for format in [Format.zip, .tarGz] {
            let archive = try makeArchive("big.\(format)", format, [.file("small", [1, 2]), .file("big", [UInt8](repeating: 7, count: 200))])
            assertRefused(archive, entry: "big", because: "over the limit of 100", limits: ExtractionLimits(maxEntryBytes: 100))
        }
    }

    func testTotalOverTheLimitIsRefused() throws {
        let archive = try makeArchive("total.tar.gz", .tarGz, (0..<4).map { .file("part\($0)", [UInt8](repeating: 1, count: 60)) })
        assertRefused(archive, entry: "part3", because: "over the limit of 200",
                      limits: ExtractionLimits(maxEntryBytes: 100, maxTotalBytes: 200))
    }

    // MARK: damaged archives

    func testTruncatedAndCorruptArchivesGiveClearErrors() throws {
        // Incompressible bytes (xorshift), so the damage lands in compressed data, not in a header.
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        let payload = (0..<50_000).map { _ -> UInt8 in
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return UInt8(truncatingIfNeeded: state)
        }
        let zip = try makeArchive("good.zip", .zip, [.file("g.hdf5", payload)])
        let bytes = try Data(contentsOf: URL(fileURLWithPath: zip))

        let truncated = work + "/archives/truncated.zip"
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: truncated))
        assertThrowsMentioning(try extractArchive(at: truncated, to: destination),
                               mentions: ["truncated.zip", "damaged or truncated", "download the archive again"])

        var flipped = bytes
        flipped[bytes.count / 3] ^= 0xFF
        let corrupt = work + "/archives/corrupt.zip"
        try flipped.write(to: URL(fileURLWithPath: corrupt))
        assertThrowsMentioning(try extractArchive(at: corrupt, to: destination),
                               mentions: ["corrupt.zip", "damaged or truncated"])

        let tar = try makeArchive("good.tar.gz", .tarGz, [.file("q.hdf5", payload)])
        let tarBytes = try Data(contentsOf: URL(fileURLWithPath: tar))
        let cut = work + "/archives/cut.tar.gz"
        try tarBytes.prefix(tarBytes.count - 40).write(to: URL(fileURLWithPath: cut))
        assertThrowsMentioning(try extractArchive(at: cut, to: destination),
                               mentions: ["cut.tar.gz", "damaged or truncated"])
        assertNothingOutsideDestination()
    }
}
