import CLibCrypto
import Foundation

/// A streaming message digest over OpenSSL's EVP interface (SHA-256 for content addressing,
/// MD5 because that is what Zenodo publishes for its files).
public struct Hasher: ~Copyable {
    public enum Algorithm: String, Sendable, CaseIterable {
        case sha256, md5
    }

    public let algorithm: Algorithm
    private let ctx: OpaquePointer

    public init(_ algorithm: Algorithm = .sha256) {
        self.algorithm = algorithm
        ctx = EVP_MD_CTX_new()
        let md = algorithm == .sha256 ? EVP_sha256() : EVP_md5()
        EVP_DigestInit_ex(ctx, md, nil)
    }

    deinit { EVP_MD_CTX_free(ctx) }

    public mutating func update(_ buffer: UnsafeRawBufferPointer) {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return }
        EVP_DigestUpdate(ctx, base, buffer.count)
    }

    public mutating func update(_ bytes: some ContiguousBytes) {
        bytes.withUnsafeBytes { update($0) }
    }

    public mutating func update(_ string: String) {
        var s = string
        s.withUTF8 { update(UnsafeRawBufferPointer($0)) }
    }

    /// Lower-case hex of the digest.
    public consuming func finalize() -> String {
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var len: UInt32 = 0
        EVP_DigestFinal_ex(ctx, &out, &len)
        return hex(out.prefix(Int(len)))
    }
}

public func hex(_ bytes: some Sequence<UInt8>) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var chars: [UInt8] = []
    for b in bytes {
        chars.append(digits[Int(b >> 4)])
        chars.append(digits[Int(b & 0xf)])
    }
    return String(decoding: chars, as: UTF8.self)
}

public func sha256(_ bytes: some ContiguousBytes) -> String {
    var h = Hasher(.sha256)
    h.update(bytes)
    return h.finalize()
}

public func sha256(_ string: String) -> String {
    var h = Hasher(.sha256)
    h.update(string)
    return h.finalize()
}

public enum DigestError: Error, CustomStringConvertible {
    case cannotRead(path: String, reason: String)
    public var description: String {
        switch self {
        case let .cannotRead(path, reason): return "cannot read \(path): \(reason)"
        }
    }
}

/// Digest of a file's bytes, read in 1 MiB blocks (files can be larger than memory).
public func fileDigest(_ path: String, _ algorithm: Hasher.Algorithm = .sha256) throws -> (digest: String, size: Int64) {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { throw DigestError.cannotRead(path: path, reason: String(cString: strerror(errno))) }
    defer { close(fd) }
    var h = Hasher(algorithm)
    let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
    defer { buf.deallocate() }
    var total: Int64 = 0
    while true {
        let n = read(fd, buf.baseAddress, buf.count)
        if n < 0 {
            if errno == EINTR { continue }
            throw DigestError.cannotRead(path: path, reason: String(cString: strerror(errno)))
        }
        if n == 0 { break }
        h.update(UnsafeRawBufferPointer(rebasing: buf[0..<n]))
        total += Int64(n)
    }
    return (h.finalize(), total)
}
