import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

extension Fetching {
    /// How one HTTP request for the rest of the file ended.
    enum Outcome: Equatable {
        /// The partial file now holds the whole body; the response started at this offset.
        case complete(startedAt: Int64)
        /// The connection ended early; the bytes received so far are kept for the next attempt.
        case interrupted(reason: String)
        /// 416: the partial file is at least as long as the file; `total` from `Content-Range: bytes */total`.
        case rangeNotSatisfiable(total: Int64?)
        /// The server answered a range we did not ask for: the partial file cannot be trusted.
        case restartFromZero(reason: String)
        case httpStatus(Int)
    }

    /// Downloads `url` into `partial`, resuming from whatever `partial` already holds and retrying dropped
    /// connections. Returns the offset at which the completing response started.
    static func downloadToPartial(
        _ url: URL, partial: String, maxAttempts: Int, reporter: inout ProgressReporter
    ) throws -> Int64 {
        var attempts = 0
        var restartedFromZero = false
        var lastFailure = "no attempt was made"
        var lastStatus: Int?
        while attempts < maxAttempts {
            attempts += 1
            let offset = try sizeOfFile(partial)
            switch try transferOnce(url, partial: partial, offset: offset, reporter: &reporter) {
            case let .complete(startedAt):
                return startedAt
            case let .rangeNotSatisfiable(total):
                if offset > 0, total == offset { return offset }
                // A partial longer than the file (it changed upstream) cannot be resumed; start over once,
                // without charging an attempt: nothing failed on the network.
                guard offset > 0, !restartedFromZero else {
                    throw FetchError.httpStatus(url: url.absoluteString, status: 416, attempts: attempts)
                }
                restartedFromZero = true
                attempts -= 1
                try removeFile(partial)
                continue
            case let .restartFromZero(reason):
                try removeFile(partial)
                lastFailure = reason
                lastStatus = nil
            case let .httpStatus(status):
                // Only the statuses that mean "try later" are worth another request.
                guard status == 408 || status == 429 || (500...599).contains(status) else {
                    throw FetchError.httpStatus(url: url.absoluteString, status: status, attempts: attempts)
                }
                lastStatus = status
            case let .interrupted(reason):
                lastFailure = reason
                lastStatus = nil
            }
            if attempts < maxAttempts { Thread.sleep(forTimeInterval: 0.2 * Double(attempts)) }
        }
        if let lastStatus { throw FetchError.httpStatus(url: url.absoluteString, status: lastStatus, attempts: attempts) }
        throw FetchError.transferFailed(url: url.absoluteString, reason: lastFailure, attempts: attempts)
    }

    /// One request: `Range: bytes=<offset>-` when part of the file is already on disk.
    private static func transferOnce(
        _ url: URL, partial: String, offset: Int64, reporter: inout ProgressReporter
    ) throws -> Outcome {
        let fd = open(partial, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw FetchError.fileSystem(path: partial, operation: "open for writing",
                                        reason: String(cString: strerror(errno)))
        }
        defer { close(fd) }

        var request = URLRequest(url: url, cachePolicy: .reloadIgnoringLocalCacheData, timeoutInterval: 60)
        // libcurl would otherwise offer gzip, and byte offsets of a compressed body do not match the file's.
        request.setValue("identity", forHTTPHeaderField: "Accept-Encoding")
        if offset > 0 { request.setValue("bytes=\(offset)-", forHTTPHeaderField: "Range") }

        let configuration = URLSessionConfiguration.ephemeral
        configuration.urlCache = nil
        configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
        // An idle timeout: swift-corelibs-foundation re-arms it whenever bytes arrive.
        configuration.timeoutIntervalForRequest = 60

        let transfer = PartialFileTransfer(fd: fd, path: partial, offset: offset)
        let session = URLSession(configuration: configuration, delegate: transfer, delegateQueue: nil)
        defer { session.finishTasksAndInvalidate() }
        session.dataTask(with: request).resume()
        // Progress goes out from this thread so the caller's closure never has to escape or be thread-safe
        // with respect to the session's queue.
        while transfer.done.wait(timeout: .now() + .milliseconds(100)) == .timedOut {
            reporter.report(transfer.progress)
        }
        reporter.report(transfer.progress)
        return try transfer.finish()
    }

    /// Streams each chunk of the response body into the partial file as it arrives.
    ///
    /// URLSession calls the delegate on its own serial queue while `transferOnce` waits on `done`; the
    /// lock makes the hand-over of the state between the two threads explicit.
    private final class PartialFileTransfer: NSObject, URLSessionDataDelegate, @unchecked Sendable {
        let done = DispatchSemaphore(value: 0)
        private let lock = NSLock()
        private let fd: Int32
        private let path: String
        private let requestedOffset: Int64
        private var written: Int64
        private var expectedTotal: Int64?
        private var startedAt: Int64
        private var sawResponse = false
        private var refusal: Outcome?
        private var fileError: FetchError?
        private var outcome: Outcome = .interrupted(reason: "the request did not complete")

        init(fd: Int32, path: String, offset: Int64) {
            self.fd = fd
            self.path = path
            requestedOffset = offset
            written = offset
            startedAt = offset
        }

        var progress: FetchProgress {
            lock.withLock { FetchProgress(received: written, expected: expectedTotal) }
        }

        func finish() throws -> Outcome {
            try lock.withLock {
                if let fileError { throw fileError }
                return outcome
            }
        }

        func urlSession(
            _ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
            completionHandler: @escaping @Sendable (URLSession.ResponseDisposition) -> Void
        ) {
            let accept = lock.withLock { admit(response) }
            completionHandler(accept ? .allow : .cancel)
            // swift-corelibs-foundation ignores `.cancel` here (it cannot pause libcurl), so cancel explicitly.
            if !accept { dataTask.cancel() }
        }

        private func admit(_ response: URLResponse) -> Bool {
            sawResponse = true
            guard let http = response as? HTTPURLResponse else {
                refusal = .interrupted(reason: "the server's answer is not an HTTP response")
                return false
            }
            let contentLength = http.expectedContentLength > 0 ? http.expectedContentLength : nil
            let range = ContentRange(http.value(forHTTPHeaderField: "Content-Range"))
            switch http.statusCode {
            case 206:
                guard let range, range.first == requestedOffset else {
                    let sent = range.map { "bytes from \($0.first ?? -1)" } ?? "a 206 without a usable Content-Range"
                    refusal = .restartFromZero(reason: "asked for bytes from \(requestedOffset), the server sent \(sent)")
                    return false
                }
                expectedTotal = range.total ?? contentLength.map { requestedOffset + $0 }
                startedAt = requestedOffset
            case 200..<300:
                // The server ignored the Range header and sends the whole file: drop what we had.
                guard ftruncate(fd, 0) == 0 else {
                    fileError = .fileSystem(path: path, operation: "truncate", reason: String(cString: strerror(errno)))
                    return false
                }
                written = 0
                startedAt = 0
                expectedTotal = contentLength
            case 416:
                refusal = .rangeNotSatisfiable(total: range?.total)
                return false
            default:
                refusal = .httpStatus(http.statusCode)
                return false
            }
            return true
        }

        func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
            let failed: Bool = lock.withLock {
                guard refusal == nil, fileError == nil else { return false }
                do {
                    try data.withUnsafeBytes { try writeAll(fd, $0, at: written, path: path) }
                    written += Int64(data.count)
                    return false
                } catch {
                    fileError = error as? FetchError
                        ?? .fileSystem(path: path, operation: "write", reason: String(describing: error))
                    return true
                }
            }
            if failed { dataTask.cancel() }
        }

        func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
            lock.withLock {
                if let refusal {
                    outcome = refusal
                } else if let error {
                    let ns = error as NSError
                    let position = written > 0 ? " with \(written)" + (expectedTotal.map { " of \($0)" } ?? "") + " bytes on disk" : ""
                    outcome = .interrupted(reason: "\(ns.localizedDescription) (\(ns.domain) \(ns.code))\(position)")
                } else if !sawResponse {
                    outcome = .interrupted(reason: "the server closed the connection without answering")
                } else if let expectedTotal, written != expectedTotal {
                    outcome = .interrupted(reason: "the connection ended at byte \(written) of \(expectedTotal)")
                } else {
                    outcome = .complete(startedAt: startedAt)
                }
            }
            done.signal()
        }
    }

    /// `Content-Range: bytes <first>-<last>/<total>` or `bytes */<total>` (RFC 9110 §14.4).
    struct ContentRange: Equatable {
        var first: Int64?
        var total: Int64?

        init(first: Int64?, total: Int64?) {
            self.first = first
            self.total = total
        }

        init?(_ header: String?) {
            guard let header else { return nil }
            let value = header.trimmingCharacters(in: .whitespaces)
            guard value.lowercased().hasPrefix("bytes ") else { return nil }
            let spec = value.dropFirst("bytes ".count).trimmingCharacters(in: .whitespaces)
            let parts = spec.split(separator: "/", maxSplits: 1)
            guard parts.count == 2 else { return nil }
            total = Int64(parts[1])
            if parts[0] == "*" {
                first = nil
            } else {
                let bounds = parts[0].split(separator: "-", maxSplits: 1)
                guard bounds.count == 2, let start = Int64(bounds[0]), Int64(bounds[1]) != nil else { return nil }
                first = start
            }
        }
    }
}
