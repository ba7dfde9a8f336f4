import Digest
import Foundation

/// One file to bring into the pipeline: where it comes from and the checksums that pin its content.
public struct FetchRequest: Sendable {
    /// `https://…`, `http://…`, `file:///abs/path`, or a local path (absolute, or relative to the
    /// `baseDirectory` given to `fetchFile`).
    public var source: String
    /// Expected MD5 (Zenodo publishes these), hex in either case, optionally written `md5:<hex>`.
    public var md5: String?
    /// Expected SHA-256, hex in either case, optionally written `sha256:<hex>`.
    public var sha256: String?

    public init(source: String, md5: String? = nil, sha256: String? = nil) {
        self.source = source
        self.md5 = md5
        self.sha256 = sha256
    }

    /// Where an interrupted download of this source is kept between runs. Named by the source URL
    /// (not by a run or stage id) so that a later process, even one with different parameters
    /// elsewhere in the pipeline, finds and resumes it.
    public func partialPath(in partialDirectory: String) -> String {
        (partialDirectory as NSString).appendingPathComponent(Digest.sha256(source) + ".part")
    }
}

public struct FetchResult: Sendable, Equatable {
    public let bytes: Int64
    /// Lower-case hex digests of the file now at the destination.
    public let md5: String
    public let sha256: String
    /// Byte offset at which the HTTP response that completed the file started: bytes before it were
    /// already on disk (from an earlier attempt or an earlier process). 0 for a fresh download and
    /// for local copies.
    public let resumedFrom: Int64
}

public struct FetchProgress: Sendable, Equatable {
    /// Bytes of the file present so far, including bytes kept from an earlier attempt.
    public let received: Int64
    /// Size of the whole file when the server (or the file system) tells us.
    public let expected: Int64?
}

public enum FetchError: Error, CustomStringConvertible, Equatable {
    case sourceNotFound(source: String, path: String)
    case unsupportedSource(source: String)
    case malformedChecksum(source: String, algorithm: String, value: String)
    case checksumRequired(source: String)
    case httpStatus(url: String, status: Int, attempts: Int)
    case transferFailed(url: String, reason: String, attempts: Int)
    case checksumMismatch(source: String, algorithm: String, expected: String, actual: String, deletedPartial: String?)
    case fileSystem(path: String, operation: String, reason: String)

    public var description: String {
        switch self {
        case let .sourceNotFound(source, path):
            let resolved = source == path ? "" : " (source \"\(source)\" resolved to this path)"
            return "fetch: no file at \(path)\(resolved); check the source path, or put the file there"
        case let .unsupportedSource(source):
            return "fetch: cannot fetch \"\(source)\": expected an https:// or http:// URL, a file:///absolute/path URL, "
                + "or a local path"
        case let .malformedChecksum(source, algorithm, value):
            let digits = algorithm == "md5" ? 32 : 64
            return "fetch: the \(algorithm) checksum given for \(source) is \"\(value)\", which is not \(digits) hex digits; "
                + "copy it again from where the file is published (\"\(algorithm):<hex>\" or bare hex)"
        case let .checksumRequired(source):
            return "fetch: \(source) has no md5 or sha256 checksum; a download without a published checksum is not pinned "
                + "(the server could serve different bytes tomorrow and every result downstream would silently change), "
                + "so add the md5 or sha256 published with the file"
        case let .httpStatus(url, status, attempts):
            let tries = attempts > 1 ? " (after \(attempts) attempts)" : ""
            let hint = switch status {
            case 404, 410: "; the URL is wrong or the file was withdrawn, check the source URL"
            case 401, 403: "; the file is not public, check the source URL"
            case 408, 429, 500...599: "; the server is busy or down, run again later to resume"
            default: ""
            }
            return "fetch: \(url) answered HTTP status \(status)\(tries)\(hint)"
        case let .transferFailed(url, reason, attempts):
            return "fetch: downloading \(url) failed after \(attempts) attempt\(attempts == 1 ? "" : "s"): \(reason); "
                + "run again to resume from the bytes already received"
        case let .checksumMismatch(source, algorithm, expected, actual, deletedPartial):
            let fix: String
            if let deletedPartial {
                fix = "the file changed upstream or the checksum given for this source is wrong; "
                    + "the partial download \(deletedPartial) was deleted, so the next run downloads it again"
            } else {
                fix = "the file was replaced, or the checksum given for this source is wrong"
            }
            return "fetch: \(algorithm) of \(source) is \(actual), expected \(expected): \(fix)"
        case let .fileSystem(path, operation, reason):
            return "fetch: cannot \(operation) \(path): \(reason)"
        }
    }
}

/// Brings `request.source` to `destination`, verifying its checksums.
///
/// Remote sources are streamed to `request.partialPath(in: partialDirectory)`, which survives a killed
/// process and is resumed with an HTTP range request next time; only a complete file whose checksums
/// match is renamed to `destination`. Local sources are stream-copied. `progress` is called on the
/// calling thread, at most about ten times a second, and once more with the final count.
public func fetchFile(
    _ request: FetchRequest,
    to destination: String,
    baseDirectory: String,
    partialDirectory: String,
    maxAttempts: Int = 5,
    progress: @Sendable (FetchProgress) -> Void = { _ in }
) throws -> FetchResult {
    // The closure is only ever called from this thread, before this function returns.
    try withoutActuallyEscaping(progress) { progress in
        var reporter = Fetching.ProgressReporter(sink: progress)
        return try Fetching.fetch(request, to: destination, baseDirectory: baseDirectory,
                                  partialDirectory: partialDirectory, maxAttempts: maxAttempts, reporter: &reporter)
    }
}

/// The machinery behind `fetchFile`, namespaced so it cannot clash with helpers elsewhere in JetData.
enum Fetching {
    fileprivate static func fetch(
        _ request: FetchRequest, to destination: String, baseDirectory: String, partialDirectory: String,
        maxAttempts: Int, reporter: inout ProgressReporter
    ) throws -> FetchResult {
        let pins = try Checksums(request)
        try createDirectory(containing: destination)

        switch try Source(request.source, baseDirectory: baseDirectory) {
        case let .local(path):
            return try copyLocalFile(request.source, path: path, to: destination, pins: pins, reporter: &reporter)

        case let .remote(url):
            guard !pins.isEmpty else { throw FetchError.checksumRequired(source: request.source) }
            try createDirectory(partialDirectory)
            let partial = request.partialPath(in: partialDirectory)
            let resumedFrom = try downloadToPartial(
                url, partial: partial, maxAttempts: max(1, maxAttempts), reporter: &reporter)
            let digests = try digestFile(partial)
            reporter.report(FetchProgress(received: digests.bytes, expected: digests.bytes), force: true)
            if let mismatch = pins.mismatch(digests, source: request.source, deletedPartial: partial) {
                // A wrong file must not be resumed next time: it would only ever grow into another wrong file.
                try? removeFile(partial)
                throw mismatch
            }
            try moveFile(partial, to: destination)
            return FetchResult(bytes: digests.bytes, md5: digests.md5, sha256: digests.sha256, resumedFrom: resumedFrom)
        }
    }

    // MARK: - Sources and checksums

    enum Source: Equatable {
        case local(path: String)
        case remote(URL)

        init(_ source: String, baseDirectory: String) throws {
            let lower = source.lowercased()
            if lower.hasPrefix("https://") || lower.hasPrefix("http://") {
                guard let url = URL(string: source), url.host != nil else {
                    throw FetchError.unsupportedSource(source: source)
                }
                self = .remote(url)
            } else if lower.hasPrefix("file://") {
                // Only file:///abs and file://localhost/abs name a file on this machine.
                guard let url = URL(string: source), url.isFileURL,
                      url.host == nil || url.host == "" || url.host == "localhost",
                      url.path.hasPrefix("/")
                else { throw FetchError.unsupportedSource(source: source) }
                self = .local(path: url.path)
            } else if source.range(of: "^[A-Za-z][A-Za-z0-9+.-]*://", options: .regularExpression) != nil || source.isEmpty {
                throw FetchError.unsupportedSource(source: source)
            } else if source.hasPrefix("/") {
                self = .local(path: source)
            } else {
                self = .local(path: (baseDirectory as NSString).appendingPathComponent(source))
            }
        }
    }

    /// The checksums a request pins, normalised to lower-case hex.
    struct Checksums {
        var md5: String?
        var sha256: String?

        init(_ request: FetchRequest) throws {
            md5 = try Self.normalise(request.md5, algorithm: "md5", hexDigits: 32, source: request.source)
            sha256 = try Self.normalise(request.sha256, algorithm: "sha256", hexDigits: 64, source: request.source)
        }

        var isEmpty: Bool { md5 == nil && sha256 == nil }

        private static func normalise(_ raw: String?, algorithm: String, hexDigits: Int, source: String) throws -> String? {
            guard let raw else { return nil }
            var value = raw.trimmingCharacters(in: .whitespaces).lowercased()
            if value.hasPrefix(algorithm + ":") { value.removeFirst(algorithm.count + 1) }
            guard value.utf8.count == hexDigits, value.utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) })
            else { throw FetchError.malformedChecksum(source: source, algorithm: algorithm, value: raw) }
            return value
        }

        func mismatch(_ actual: Digests, source: String, deletedPartial: String?) -> FetchError? {
            if let md5, md5 != actual.md5 {
                return .checksumMismatch(source: source, algorithm: "md5", expected: md5, actual: actual.md5,
                                         deletedPartial: deletedPartial)
            }
            if let sha256, sha256 != actual.sha256 {
                return .checksumMismatch(source: source, algorithm: "sha256", expected: sha256, actual: actual.sha256,
                                         deletedPartial: deletedPartial)
            }
            return nil
        }
    }

    struct Digests {
        var bytes: Int64
        var md5: String
        var sha256: String
    }

    // MARK: - Progress

    /// Calls the caller's progress closure on the caller's thread, at most every 0.1 s, never twice
    /// with the same count.
    struct ProgressReporter {
        let sink: @Sendable (FetchProgress) -> Void
        private var lastReceived: Int64 = -1
        private var lastTime: UInt64 = 0
        static let interval: UInt64 = 100_000_000

        init(sink: @escaping @Sendable (FetchProgress) -> Void) { self.sink = sink }

        mutating func report(_ progress: FetchProgress, force: Bool = false) {
            guard progress.received != lastReceived else { return }
            let now = DispatchTime.now().uptimeNanoseconds
            guard force || lastReceived < 0 || now &- lastTime >= Self.interval else { return }
            lastReceived = progress.received
            lastTime = now
            sink(progress)
        }
    }

    // MARK: - Local files

    /// Streams `path` into a temporary file beside `destination`, hashing as it goes, and renames it into
    /// place only when the checksums match, so a wrong or half-copied file never appears at `destination`.
    static func copyLocalFile(
        _ source: String, path: String, to destination: String, pins: Checksums, reporter: inout ProgressReporter
    ) throws -> FetchResult {
        let input = open(path, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else {
            let code = errno
            if code == ENOENT || code == ENOTDIR { throw FetchError.sourceNotFound(source: source, path: path) }
            throw FetchError.fileSystem(path: path, operation: "open", reason: String(cString: strerror(code)))
        }
        defer { close(input) }
        var info = stat()
        let expected: Int64? = fstat(input, &info) == 0 ? Int64(info.st_size) : nil
        if (info.st_mode & S_IFMT) == S_IFDIR {
            throw FetchError.fileSystem(path: path, operation: "copy", reason: "it is a directory, not a file")
        }

        let temporary = destination + ".fetching"
        let output = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard output >= 0 else {
            throw FetchError.fileSystem(path: temporary, operation: "create", reason: String(cString: strerror(errno)))
        }
        var keepTemporary = false
        defer {
            close(output)
            if !keepTemporary { unlink(temporary) }
        }

        var hashers = DualHasher()
        try streamBlocks(of: input, path: path) { block in
            try writeAll(output, block, at: hashers.bytes, path: temporary)
            hashers.update(block)
            reporter.report(FetchProgress(received: hashers.bytes, expected: expected))
        }
        let digests = hashers.finalize()
        reporter.report(FetchProgress(received: digests.bytes, expected: digests.bytes), force: true)
        if let mismatch = pins.mismatch(digests, source: source, deletedPartial: nil) { throw mismatch }
        guard rename(temporary, destination) == 0 else {
            throw FetchError.fileSystem(path: destination, operation: "rename \(temporary) to",
                                        reason: String(cString: strerror(errno)))
        }
        keepTemporary = true
        return FetchResult(bytes: digests.bytes, md5: digests.md5, sha256: digests.sha256, resumedFrom: 0)
    }

    // MARK: - File helpers

    /// MD5 and SHA-256 side by side, so a file is read once for both.
    struct DualHasher: ~Copyable {
        private var md5 = Hasher(.md5)
        private var sha256 = Hasher(.sha256)
        private(set) var bytes: Int64 = 0

        mutating func update(_ block: UnsafeRawBufferPointer) {
            md5.update(block)
            sha256.update(block)
            bytes += Int64(block.count)
        }

        consuming func finalize() -> Digests {
            Digests(bytes: bytes, md5: md5.finalize(), sha256: sha256.finalize())
        }
    }

    /// Reads `fd` to its end in 1 MiB blocks; returns the byte count.
    @discardableResult
    static func streamBlocks(of fd: Int32, path: String, _ body: (UnsafeRawBufferPointer) throws -> Void) throws -> Int64 {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        var total: Int64 = 0
        while true {
            let n = read(fd, buffer.baseAddress, buffer.count)
            if n < 0 {
                if errno == EINTR { continue }
                throw FetchError.fileSystem(path: path, operation: "read", reason: String(cString: strerror(errno)))
            }
            if n == 0 { return total }
            try body(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            total += Int64(n)
        }
    }

    static func digestFile(_ path: String) throws -> Digests {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw FetchError.fileSystem(path: path, operation: "open", reason: String(cString: strerror(errno)))
        }
        defer { close(fd) }
        var hashers = DualHasher()
        try streamBlocks(of: fd, path: path) { hashers.update($0) }
        return hashers.finalize()
    }

    static func sizeOfFile(_ path: String) throws -> Int64 {
        var info = stat()
        if stat(path, &info) == 0 { return Int64(info.st_size) }
        if errno == ENOENT { return 0 }
        throw FetchError.fileSystem(path: path, operation: "stat", reason: String(cString: strerror(errno)))
    }

    static func removeFile(_ path: String) throws {
        guard unlink(path) == 0 || errno == ENOENT else {
            throw FetchError.fileSystem(path: path, operation: "delete", reason: String(cString: strerror(errno)))
        }
    }

    static func writeAll(_ fd: Int32, _ block: UnsafeRawBufferPointer, at offset: Int64, path: String) throws {
        var done = 0
        while done < block.count {
            let n = pwrite(fd, block.baseAddress! + done, block.count - done, off_t(offset) + off_t(done))
            if n < 0 {
                if errno == EINTR { continue }
                throw FetchError.fileSystem(path: path, operation: "write", reason: String(cString: strerror(errno)))
            }
            done += n
        }
    }

    static func createDirectory(_ path: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw FetchError.fileSystem(path: path, operation: "create directory", reason: error.localizedDescription)
        }
    }

    static func createDirectory(containing file: String) throws {
        let parent = (file as NSString).deletingLastPathComponent
        if !parent.isEmpty { try createDirectory(parent) }
    }

    /// Renames `from` to `to`, replacing `to`; copies when they are on different file systems
    /// (the partial directory may live on another disk than the outputs).
    static func moveFile(_ from: String, to: String) throws {
        if rename(from, to) == 0 { return }
        let code = errno
        guard code == EXDEV else {
            throw FetchError.fileSystem(path: to, operation: "rename \(from) to", reason: String(cString: strerror(code)))
        }
        let input = open(from, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else {
            throw FetchError.fileSystem(path: from, operation: "open", reason: String(cString: strerror(errno)))
        }
        defer { close(input) }
        let temporary = to + ".fetching"
        let output = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard output >= 0 else {
            throw FetchError.fileSystem(path: temporary, operation: "create", reason: String(cString: strerror(errno)))
        }
        do {
            var written: Int64 = 0
            try streamBlocks(of: input, path: from) { block in
                try writeAll(output, block, at: written, path: temporary)
                written += Int64(block.count)
            }
            close(output)
        } catch {
            close(output)
            unlink(temporary)
            throw error
        }
        guard rename(temporary, to) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw FetchError.fileSystem(path: to, operation: "rename \(temporary) to", reason: reason)
        }
        unlink(from)
    }
}
