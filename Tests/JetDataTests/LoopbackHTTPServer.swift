import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A minimal HTTP/1.1 server on 127.0.0.1 (ephemeral port) serving one in-memory payload, with the
/// ways real servers misbehave during a large download switched on at will. Requests are handled one
/// at a time on a background thread; every socket call is bounded by a timeout, and the server never
/// binds anything but the loopback address.
final class LoopbackHTTPServer: @unchecked Sendable {
    struct Misbehaviour: Sendable {
        /// Close the socket after this many body bytes…
        var dropAfterBytes: Int?
        /// …on each of the first this-many requests.
        var dropOnFirstRequests = 1
        /// Flip every bit of the payload byte at this offset (the file "changed upstream").
        var corruptByteAt: Int?
        /// Answer every request with 200 and the whole payload, whatever its Range header says.
        var ignoreRange = false
        /// Answer every request with 404.
        var notFound = false
        /// Pause between 64 KiB body chunks, to make a transfer last long enough to observe progress.
        var chunkDelay: TimeInterval = 0
    }

    struct Request: Sendable, Equatable {
        var path: String
        var range: String?
    }

    let port: UInt16
    let path: String
    private let core: Core

    var url: String { "http://127.0.0.1:\(port)\(path)" }
    var requests: [Request] { core.lock.withLock { core.requests } }
    var requestCount: Int { requests.count }
    var rangeHeaders: [String?] { requests.map(\.range) }

    init(payload: [UInt8], path: String = "/record/6975118/files/g150.hdf5", misbehaviour: Misbehaviour = .init()) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw ServerError.socket("socket", errno) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr = in_addr(s_addr: inet_addr("127.0.0.1"))
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { generic in
                bind(fd, generic, length) == 0 && listen(fd, 8) == 0 && getsockname(fd, generic, &length) == 0
            }
        }
        guard bound else {
            let code = errno
            close(fd)
            throw ServerError.socket("bind/listen on 127.0.0.1", code)
        }
        port = UInt16(bigEndian: address.sin_port)
        self.path = path
        core = Core(listener: fd, payload: payload, path: path, misbehaviour: misbehaviour)
        let core = core
        let thread = Thread { core.serve() }
        thread.name = "LoopbackHTTPServer"
        thread.start()
    }

    deinit { stop() }

    /// Stops accepting, and waits (at most 5 s) for the request in flight to finish.
    func stop() { core.stop() }

    enum ServerError: Error, CustomStringConvertible {
        case socket(String, Int32)
        var description: String {
            switch self {
            case let .socket(call, code): return "LoopbackHTTPServer: \(call) failed: \(String(cString: strerror(code)))"
            }
        }
    }

    /// The state the server thread shares with the test; kept apart from `LoopbackHTTPServer` so the
    /// thread does not keep the server alive and `deinit` can stop it.
    private final class Core: @unchecked Sendable {
        let lock = NSLock()
        let listener: Int32
        let payload: [UInt8]
        let path: String
        let misbehaviour: Misbehaviour
        var requests: [Request] = []
        private var stopping = false
        private let finished = DispatchSemaphore(value: 0)

        init(listener: Int32, payload: [UInt8], path: String, misbehaviour: Misbehaviour) {
            self.listener = listener
            self.payload = payload
            self.path = path
            self.misbehaviour = misbehaviour
        }

        func stop() {
            let first: Bool = lock.withLock {
                defer { stopping = true }
                return !stopping
            }
            if first { _ = finished.wait(timeout: .now() + 5) }
        }

        private var isStopping: Bool { lock.withLock { stopping } }

        func serve() {
            defer {
                close(listener)
                finished.signal()
            }
            while !isStopping {
                var waiting = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
                guard poll(&waiting, 1, 50) > 0 else { continue }
                let client = accept(listener, nil, nil)
                guard client >= 0 else { continue }
                var timeout = timeval(tv_sec: 2, tv_usec: 0)
                setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
                setsockopt(client, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
                respond(on: client)
                close(client)
            }
        }

        private func respond(on client: Int32) {
            guard let head = readRequestHead(client) else { return }
            let lines = head.components(separatedBy: "\r\n")
            let requestLine = lines.first?.split(separator: " ") ?? []
            let requestPath = requestLine.count >= 2 ? String(requestLine[1]) : ""
            let range = lines.dropFirst().first { $0.lowercased().hasPrefix("range:") }
                .map { String($0.dropFirst("range:".count)).trimmingCharacters(in: .whitespaces) }
            let index: Int = lock.withLock {
                requests.append(Request(path: requestPath, range: range))
                return requests.count - 1
            }

            if misbehaviour.notFound || requestPath != path {
                send(client, head: "HTTP/1.1 404 Not Found", headers: ["Content-Length: 9"], body: Array("not found".utf8)[...])
                return
            }
            let total = payload.count
            var start = 0
            var status = "HTTP/1.1 200 OK"
            var headers = ["Accept-Ranges: bytes"]
            if !misbehaviour.ignoreRange, let range, let requested = Self.rangeStart(range) {
                guard requested < total else {
                    send(client, head: "HTTP/1.1 416 Range Not Satisfiable",
                         headers: ["Content-Range: bytes */\(total)", "Content-Length: 0"], body: [][...])
                    return
                }
                start = requested
                status = "HTTP/1.1 206 Partial Content"
                headers.append("Content-Range: bytes \(start)-\(total - 1)/\(total)")
            }
            headers.append("Content-Length: \(total - start)")
            var body = payload[start...]
            if let flip = misbehaviour.corruptByteAt, flip >= start, flip < total {
                body[flip] = ~body[flip]
            }
            if let drop = misbehaviour.dropAfterBytes, index < misbehaviour.dropOnFirstRequests {
                body = body.prefix(drop)
            }
            send(client, head: status, headers: headers, body: body)
        }

        /// `bytes=N-` (the only form a resuming client sends).
        static func rangeStart(_ header: String) -> Int? {
            guard header.hasPrefix("bytes="), header.hasSuffix("-") else { return nil }
            return Int(header.dropFirst("bytes=".count).dropLast())
        }

        private func readRequestHead(_ client: Int32) -> String? {
            var received: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 4096)
            let terminator: [UInt8] = Array("\r\n\r\n".utf8)
            while received.count < 65536 {
                let n = buffer.withUnsafeMutableBytes { recv(client, $0.baseAddress, $0.count, 0) }
                if n < 0, errno == EINTR { continue }
                guard n > 0 else { return nil }
                received.append(contentsOf: buffer[0..<n])
                if let end = received.indices.dropLast(3).first(where: { received[$0..<($0 + 4)].elementsEqual(terminator) }) {
                    return String(decoding: received[..<end], as: UTF8.self)
                }
            }
            return nil
        }

        private func send(_ client: Int32, head: String, headers: [String], body: ArraySlice<UInt8>) {
            let header = ([head] + headers + ["Connection: close", "", ""]).joined(separator: "\r\n")
            guard sendAll(client, Array(header.utf8)[...]) else { return }
            var offset = body.startIndex
            while offset < body.endIndex {
                if misbehaviour.chunkDelay > 0 { Thread.sleep(forTimeInterval: misbehaviour.chunkDelay) }
                let end = min(offset + 65536, body.endIndex)
                guard sendAll(client, body[offset..<end]) else { return }
                offset = end
            }
            shutdown(client, Int32(SHUT_WR))
        }

        /// MSG_NOSIGNAL: a client that hangs up mid-body must not kill the test process with SIGPIPE.
        private func sendAll(_ client: Int32, _ bytes: ArraySlice<UInt8>) -> Bool {
            bytes.withUnsafeBytes { raw in
                var sent = 0
                while sent < raw.count {
                    let n = Glibc.send(client, raw.baseAddress! + sent, raw.count - sent, Int32(MSG_NOSIGNAL))
                    if n < 0, errno == EINTR { continue }
                    guard n > 0 else { return false }
                    sent += n
                }
                return true
            }
        }
    }
}
