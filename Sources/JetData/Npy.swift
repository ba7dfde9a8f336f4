import Foundation
#if canImport(Glibc)
import Glibc
#endif

// Arrays pass between stages as `.npy` (format 1.0) so that users open them with `np.load`.
// Element bytes are copied straight between memory and file, which is only correct on a
// little-endian host; every platform Swift targets here is little-endian.
#if !_endian(little)
#error("Npy.swift copies element bytes verbatim and assumes a little-endian host")
#endif

public enum NpyDType: String, Sendable, CaseIterable {
    case float64 = "<f8", float32 = "<f4", int64 = "<i8", uint8 = "|u1"

    public var itemSize: Int {
        switch self {
        case .float64, .int64: 8
        case .float32: 4
        case .uint8: 1
        }
    }

    /// numpy's own name, for error messages ("float32" is clearer to a user than "<f4").
    public var numpyName: String {
        switch self {
        case .float64: "float64"
        case .float32: "float32"
        case .int64: "int64"
        case .uint8: "uint8"
        }
    }
}

public protocol NpyElement: Sendable, BitwiseCopyable {
    static var dtype: NpyDType { get }
}

extension Double: NpyElement { public static var dtype: NpyDType { .float64 } }
extension Float: NpyElement { public static var dtype: NpyDType { .float32 } }
extension Int64: NpyElement { public static var dtype: NpyDType { .int64 } }
extension UInt8: NpyElement { public static var dtype: NpyDType { .uint8 } }

public struct NpyArray<T: NpyElement>: Sendable {
    public var shape: [Int]
    public var values: [T]

    public init(shape: [Int], values: [T]) {
        self.shape = shape
        self.values = values
    }
}

private let npyMagic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]  // "\x93NUMPY"
/// numpy aligns the start of the data to 64 bytes (`ARRAY_ALIGN` in numpy/lib/format.py).
private let npyAlignment = 64
/// numpy reserves room after the dict so the first axis can grow in place
/// (`GROWTH_AXIS_MAX_DIGITS` in numpy/lib/format.py); matching it makes our headers byte-identical.
private let npyGrowthAxisMaxDigits = 21

/// The exact header `np.save` writes for a C-ordered array of this dtype and shape (format 1.0).
func npyHeader(dtype: NpyDType, shape: [Int]) -> [UInt8] {
    let shapeRepr: String
    switch shape.count {
    case 0: shapeRepr = "()"
    case 1: shapeRepr = "(\(shape[0]),)"
    default: shapeRepr = "(" + shape.map(String.init).joined(separator: ", ") + ")"
    }
    var dict = "{'descr': '\(dtype.rawValue)', 'fortran_order': False, 'shape': \(shapeRepr), }"
    if let first = shape.first {
        dict += String(repeating: " ", count: max(0, npyGrowthAxisMaxDigits - String(first).count))
    }
    // Magic (6) + version (2) + header length (2) + dict + padding + '\n' is a multiple of 64;
    // like numpy, the padding is 1...64 spaces, never 0.
    let unpadded = npyMagic.count + 2 + 2 + dict.utf8.count + 1
    let padding = npyAlignment - unpadded % npyAlignment
    let headerLength = dict.utf8.count + padding + 1
    var bytes = npyMagic + [1, 0, UInt8(headerLength & 0xFF), UInt8(headerLength >> 8)]
    bytes += Array(dict.utf8)
    bytes += [UInt8](repeating: 0x20, count: padding)
    bytes.append(0x0A)
    return bytes
}

/// Writes `values` (C order) as a numpy `.npy` file, byte-identical to `np.save` of the same array.
public func writeNpy<T: NpyElement>(_ values: [T], shape: [Int], to path: String) throws {
    let expected = shape.reduce(1, *)
    guard shape.allSatisfy({ $0 >= 0 }), expected == values.count else {
        throw JetDataError(
            file: path, item: "array",
            problem: "shape \(shape) holds \(expected) values but \(values.count) were given",
            fix: "pass a shape whose product equals the number of values")
    }
    let header = npyHeader(dtype: T.dtype, shape: shape)
    guard header.count - 10 <= Int(UInt16.max) else {
        throw JetDataError(
            file: path, item: "array",
            problem: "shape \(shape) has too many dimensions for an .npy 1.0 header",
            fix: "reshape to fewer dimensions")
    }
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard fd >= 0 else {
        throw JetDataError(file: path, item: nil, problem: "cannot be created: \(errnoDescription())",
                           fix: "check that the directory exists and is writable")
    }
    defer { close(fd) }
    try header.withUnsafeBytes { headerBytes in
        try values.withUnsafeBytes { payload in
            try writeAll(fd, [headerBytes, payload], path: path)
        }
    }
}

/// Reads a numpy `.npy` file whose dtype must be `T.dtype`.
public func readNpy<T: NpyElement>(_ path: String, as type: T.Type) throws -> NpyArray<T> {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else {
        throw JetDataError(file: path, item: nil, problem: "cannot be opened: \(errnoDescription())",
                           fix: "check the path; the file should have been written by writeNpy or np.save")
    }
    defer { close(fd) }
    var info = stat()
    guard fstat(fd, &info) == 0 else {
        throw JetDataError(file: path, item: nil, problem: "cannot be inspected: \(errnoDescription())", fix: nil)
    }
    let fileSize = Int(info.st_size)

    var prefix = [UInt8](repeating: 0, count: 12)
    let prefixRead = try readFully(fd, into: &prefix, count: min(12, fileSize), path: path)
    guard prefixRead >= 10, Array(prefix[0..<6]) == npyMagic else {
        throw JetDataError(
            file: path, item: "header",
            problem: "does not start with the .npy magic \\x93NUMPY (first bytes: \(hexPreview(prefix.prefix(prefixRead))))",
            fix: "this is not a numpy .npy file; re-create it with np.save or writeNpy")
    }
    let major = prefix[6]
    let headerStart: Int
    let headerLength: Int
    switch major {
    case 1:
        headerStart = 10
        headerLength = Int(prefix[8]) | Int(prefix[9]) << 8
    case 2, 3:  // 4-byte header length; numpy writes these only for very long headers
        guard prefixRead >= 12 else { throw truncated(path, what: "header length", fileSize: fileSize) }
        headerStart = 12
        headerLength = Int(prefix[8]) | Int(prefix[9]) << 8 | Int(prefix[10]) << 16 | Int(prefix[11]) << 24
    default:
        throw JetDataError(
            file: path, item: "header",
            problem: "has .npy format version \(major).\(prefix[7]), expected 1.0 (or 2.0/3.0)",
            fix: "re-save the array with a current numpy (np.save)")
    }
    guard headerStart + headerLength <= fileSize else {
        throw truncated(path, what: "header (\(headerLength) bytes declared)", fileSize: fileSize)
    }
    var headerBytes = [UInt8](repeating: 0, count: headerLength)
    guard lseek(fd, off_t(headerStart), SEEK_SET) == off_t(headerStart),
          try readFully(fd, into: &headerBytes, count: headerLength, path: path) == headerLength
    else { throw truncated(path, what: "header", fileSize: fileSize) }
    guard let headerText = String(bytes: headerBytes, encoding: major == 3 ? .utf8 : .isoLatin1) else {
        throw JetDataError(file: path, item: "header", problem: "is not valid text", fix: "re-create the file with np.save")
    }
    let header = try parseNpyHeader(headerText, path: path)

    guard header.descr == T.dtype.rawValue || equivalentDescr(header.descr, T.dtype) else {
        throw JetDataError(
            file: path, item: "dtype",
            problem: "is '\(header.descr)', expected '\(T.dtype.rawValue)' (\(T.dtype.numpyName))",
            fix: "read it as the matching element type, or convert in numpy: np.save(path, a.astype('\(T.dtype.rawValue)'))")
    }
    guard !header.fortranOrder else {
        throw JetDataError(
            file: path, item: "fortran_order",
            problem: "is True (column-major data), expected False",
            fix: "save a C-ordered copy: np.save(path, np.ascontiguousarray(a))")
    }
    let count = header.shape.reduce(1, *)
    let dataStart = headerStart + headerLength
    let dataBytes = count * T.dtype.itemSize
    guard fileSize - dataStart == dataBytes else {
        throw JetDataError(
            file: path, item: "data",
            problem: "shape \(header.shape) of \(T.dtype.numpyName) needs \(dataBytes) data bytes, "
                + "but the file holds \(fileSize - dataStart)"
                + (fileSize - dataStart < dataBytes ? " (truncated)" : " (trailing bytes)"),
            fix: "the file is damaged or incompletely written; re-create it")
    }
    let values = try [T](unsafeUninitializedCapacity: count) { buffer, initialized in
        let raw = UnsafeMutableRawBufferPointer(buffer)
        var done = 0
        while done < dataBytes {
            let n = pread(fd, raw.baseAddress! + done, dataBytes - done, off_t(dataStart + done))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                throw n == 0 ? truncated(path, what: "data", fileSize: fileSize)
                    : JetDataError(file: path, item: "data", problem: "read failed: \(errnoDescription())", fix: nil)
            }
            done += n
        }
        initialized = count
    }
    return NpyArray(shape: header.shape, values: values)
}

private func equivalentDescr(_ descr: String, _ dtype: NpyDType) -> Bool {
    // Byte order is meaningless for one-byte types; numpy itself writes '|u1' but accepts '<u1'.
    dtype == .uint8 && (descr == "<u1" || descr == "=u1" || descr == "u1")
}

private func truncated(_ path: String, what: String, fileSize: Int) -> JetDataError {
    JetDataError(file: path, item: what, problem: "is cut short: the file has only \(fileSize) bytes",
                 fix: "the file is truncated (interrupted write or download); re-create it")
}

private struct NpyHeader {
    var descr: String
    var fortranOrder: Bool
    var shape: [Int]
}

/// Parses the Python-literal dict of an .npy header: string keys mapping to a string,
/// a bool or a tuple of ints — the only value kinds numpy writes for simple dtypes.
private func parseNpyHeader(_ text: String, path: String) throws -> NpyHeader {
    enum Value { case string(String), bool(Bool), ints([Int]) }
    let chars = Array(text.unicodeScalars)
    var i = 0
    func fail(_ why: String) -> JetDataError {
        JetDataError(file: path, item: "header", problem: "cannot be parsed (\(why)): \(text.trimmingCharacters(in: .whitespacesAndNewlines))",
                     fix: "re-create the file with np.save; structured or object dtypes are not supported")
    }
    func skipSpace() { while i < chars.count, chars[i] == " " || chars[i] == "\n" || chars[i] == "\t" { i += 1 } }
    func expect(_ c: Unicode.Scalar) throws {
        skipSpace()
        guard i < chars.count, chars[i] == c else { throw fail("expected '\(c)'") }
        i += 1
    }
    func string() throws -> String {
        skipSpace()
        guard i < chars.count, chars[i] == "'" || chars[i] == "\"" else { throw fail("expected a quoted string") }
        let quote = chars[i]
        i += 1
        var s = String.UnicodeScalarView()
        while i < chars.count, chars[i] != quote { s.append(chars[i]); i += 1 }
        guard i < chars.count else { throw fail("unterminated string") }
        i += 1
        return String(s)
    }
    func integer() throws -> Int {
        skipSpace()
        var digits = ""
        while i < chars.count, ("0"..."9").contains(chars[i]) { digits.unicodeScalars.append(chars[i]); i += 1 }
        if i < chars.count, chars[i] == "L" { i += 1 }  // Python 2 long suffix in old files
        guard let n = Int(digits) else { throw fail("expected a non-negative integer") }
        return n
    }
    func value() throws -> Value {
        skipSpace()
        guard i < chars.count else { throw fail("missing value") }
        switch chars[i] {
        case "'", "\"": return .string(try string())
        case "(":
            i += 1
            var ints: [Int] = []
            skipSpace()
            while i < chars.count, chars[i] != ")" {
                ints.append(try integer())
                skipSpace()
                if i < chars.count, chars[i] == "," { i += 1; skipSpace() }
            }
            try expect(")")
            return .ints(ints)
        default:
            let rest = String(String.UnicodeScalarView(chars[i...]))
            if rest.hasPrefix("True") { i += 4; return .bool(true) }
            if rest.hasPrefix("False") { i += 5; return .bool(false) }
            throw fail("unexpected value")
        }
    }

    try expect("{")
    var dict: [String: Value] = [:]
    skipSpace()
    while i < chars.count, chars[i] != "}" {
        let key = try string()
        try expect(":")
        dict[key] = try value()
        skipSpace()
        if i < chars.count, chars[i] == "," { i += 1; skipSpace() }
    }
    try expect("}")

    guard case .string(let descr)? = dict["descr"] else { throw fail("no string 'descr'") }
    guard case .bool(let fortran)? = dict["fortran_order"] else { throw fail("no boolean 'fortran_order'") }
    guard case .ints(let shape)? = dict["shape"] else { throw fail("no tuple 'shape'") }
    if descr.hasPrefix(">") && !descr.hasSuffix("1") {
        throw JetDataError(
            file: path, item: "dtype",
            problem: "is big-endian '\(descr)'; only little-endian data is read",
            fix: "convert in numpy: np.save(path, a.astype(a.dtype.newbyteorder('<')))")
    }
    return NpyHeader(descr: descr, fortranOrder: fortran, shape: shape)
}

// MARK: - POSIX helpers shared by the file readers and writers of this module

func errnoDescription() -> String { String(cString: strerror(errno)) }

func hexPreview(_ bytes: some Collection<UInt8>) -> String {
    bytes.isEmpty ? "none, the file is empty" : bytes.map { String(format: "%02x", $0) }.joined(separator: " ")
}

/// Writes every byte of `chunks` with as few `writev` calls as the kernel allows.
private func writeAll(_ fd: Int32, _ chunks: [UnsafeRawBufferPointer], path: String) throws {
    var pending = chunks.filter { $0.count > 0 }
    while !pending.isEmpty {
        var vectors = pending.map { iovec(iov_base: UnsafeMutableRawPointer(mutating: $0.baseAddress), iov_len: $0.count) }
        let n = writev(fd, &vectors, Int32(vectors.count))
        if n < 0 && errno == EINTR { continue }
        guard n > 0 else {
            throw JetDataError(file: path, item: nil, problem: "write failed: \(errnoDescription())",
                               fix: "check free disk space and permissions")
        }
        var written = n
        while written > 0, let first = pending.first {
            if written >= first.count {
                written -= first.count
                pending.removeFirst()
            } else {
                pending[0] = UnsafeRawBufferPointer(rebasing: first[written...])
                written = 0
            }
        }
    }
}

private func readFully(_ fd: Int32, into buffer: inout [UInt8], count: Int, path: String) throws -> Int {
    var done = 0
    while done < count {
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress! + done, count - done) }
        if n < 0 && errno == EINTR { continue }
        guard n >= 0 else {
            throw JetDataError(file: path, item: nil, problem: "read failed: \(errnoDescription())", fix: nil)
        }
        if n == 0 { break }
        done += n
    }
    return done
}
