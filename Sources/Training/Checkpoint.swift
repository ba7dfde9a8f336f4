import Foundation

// Checkpoint bytes: the training state, the optimiser and the models all serialise through this
// little-endian writer and reader. Doubles are stored as their bit patterns, so a value read back
// is the value written and a resumed training continues bit for bit. (The magic strings
// "LGAETRST" and "LGAEADAM" predate the baselines; the formats are model-agnostic.)
/// A byte string that cannot be read back as what it claims to be.
public struct CheckpointFormatError: Error, CustomStringConvertible, Equatable {
    public let detail: String
    public init(detail: String) { self.detail = detail }
    public var description: String { detail }
}

/// Little-endian writer and reader for the checkpoint formats. Doubles are stored as their bit
/// patterns, so a value read back is the value written.
package struct ByteWriter {
    package init() {}
    package var bytes: [UInt8] = []
    package mutating func append<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }
    package mutating func append(_ value: Double) { append(value.bitPattern) }
    package mutating func append(_ values: [Double]) {
        append(UInt64(values.count))
        for v in values { append(v.bitPattern) }
    }
    package mutating func append(blob: [UInt8]) {
        append(UInt64(blob.count))
        bytes.append(contentsOf: blob)
    }
}

package struct ByteReader {
    package let bytes: [UInt8]
    package let what: String
    package var offset = 0

    package init(bytes: [UInt8], what: String) {
        self.bytes = bytes
        self.what = what
    }

    package mutating func read<T: FixedWidthInteger>(_: T.Type) throws -> T {
        let size = MemoryLayout<T>.size
        guard offset + size <= bytes.count else { throw truncated() }
        var value = T.zero
        withUnsafeMutableBytes(of: &value) { target in
            for k in 0..<size { target[k] = bytes[offset + k] }
        }
        offset += size
        return T(littleEndian: value)
    }
    package mutating func readDouble() throws -> Double { Double(bitPattern: try read(UInt64.self)) }
    package mutating func readCount(elementSize: Int) throws -> Int {
        let n = try read(UInt64.self)
        guard n <= UInt64((bytes.count - offset) / max(elementSize, 1)) else { throw truncated() }
        return Int(n)
    }
    package mutating func readDoubles() throws -> [Double] {
        let n = try readCount(elementSize: 8)
        return try (0..<n).map { _ in try readDouble() }
    }
    package mutating func readBlob() throws -> [UInt8] {
        let n = try readCount(elementSize: 1)
        defer { offset += n }
        return Array(bytes[offset..<(offset + n)])
    }
    package mutating func expectMagic(_ magic: String, version: UInt32) throws {
        let m = Array(magic.utf8)
        guard bytes.count >= m.count + 4, Array(bytes[0..<m.count]) == m else {
            throw CheckpointFormatError(detail: "\(what): expected the magic bytes \"\(magic)\", found \(Array(bytes.prefix(m.count))); the file is not a \(what)")
        }
        offset = m.count
        let v = try read(UInt32.self)
        guard v == version else {
            throw CheckpointFormatError(detail: "\(what): format version \(v), this build reads version \(version); re-create it with this build")
        }
    }
    package func expectEnd() throws {
        guard offset == bytes.count else {
            throw CheckpointFormatError(detail: "\(what): \(bytes.count - offset) unexpected bytes after the end; the file is corrupt")
        }
    }
    package func truncated() -> CheckpointFormatError {
        CheckpointFormatError(detail: "\(what): the data end at byte \(bytes.count) before the record does (offset \(offset)); the file is truncated or corrupt")
    }
}

extension TrainingState {
    // Format: "LGAETRST", UInt32 version 1, UInt64 epoch, best epoch, stale; f64 best validation
    // loss; UInt64 history count then per row UInt64 epoch, f64 train, f64 valid;
    // parameters and best parameters as (UInt64 count, f64…); the Adam state as a length-prefixed blob.
    private static let magic = "LGAETRST"

    public func serialized() -> [UInt8] {
        var w = ByteWriter()
        w.bytes = Array(TrainingState.magic.utf8)
        w.append(UInt32(1))
        w.append(UInt64(epoch))
        w.append(UInt64(bestEpoch))
        w.append(UInt64(stale))
        w.append(bestValidLoss)
        w.append(UInt64(history.count))
        for r in history {
            w.append(UInt64(r.epoch))
            w.append(r.trainLoss)
            w.append(r.validLoss)
        }
        w.append(parameters)
        w.append(bestParameters)
        w.append(blob: optimiser.serialized())
        return w.bytes
    }

    public init(serialized bytes: [UInt8]) throws {
        var r = ByteReader(bytes: bytes, what: "training checkpoint")
        try r.expectMagic(TrainingState.magic, version: 1)
        epoch = Int(try r.read(UInt64.self))
        bestEpoch = Int(try r.read(UInt64.self))
        stale = Int(try r.read(UInt64.self))
        bestValidLoss = try r.readDouble()
        let rows = try r.readCount(elementSize: 24)
        history = try (0..<rows).map { _ in
            EpochRecord(epoch: Int(try r.read(UInt64.self)), trainLoss: try r.readDouble(), validLoss: try r.readDouble(), seconds: 0)
        }
        parameters = try r.readDoubles()
        bestParameters = try r.readDoubles()
        do {
            optimiser = try Adam(serialized: try r.readBlob())
        } catch let e as AdamStateError {
            throw CheckpointFormatError(detail: "training checkpoint: \(e.description)")
        }
        try r.expectEnd()
        guard bestParameters.count == parameters.count, optimiser.parameterCount == parameters.count,
              history.count == epoch + 1 else {
            throw CheckpointFormatError(detail: "training checkpoint: inconsistent record (\(parameters.count) parameters, \(bestParameters.count) best, Adam \(optimiser.parameterCount), \(history.count) loss rows for epoch \(epoch)); the file is corrupt")
        }
    }
}

// MARK: - Model files

// Every model file (LGAE, GNNAE, CNNAE): the 8 magic bytes of its family, UInt32 version 1, the
// configuration as JSON with sorted keys (length-prefixed), then the parameters as
// (UInt64 count, f64…). Deterministic, and read back exactly.

/// The bytes of a model file.
package func modelFileBytes<Config: Encodable>(magic: String, config: Config, parameters: [Double]) -> [UInt8] {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    // Encoding a struct of numbers, strings and arrays cannot fail.
    let json = try! encoder.encode(config)
    var w = ByteWriter()
    w.bytes = Array(magic.utf8)
    w.append(UInt32(1))
    w.append(blob: Array(json))
    w.append(parameters)
    return w.bytes
}

/// Reads a model file: the configuration, checked by `parameterCount` (which throws if it is
/// invalid and otherwise returns how many parameters it needs), and the parameters.
package func readModelFile<Config: Decodable>(_ bytes: [UInt8], magic: String, what: String, as _: Config.Type,
                                              parameterCount: (Config) throws -> Int) throws -> (Config, [Double]) {
    var r = ByteReader(bytes: bytes, what: what)
    try r.expectMagic(magic, version: 1)
    let json = try r.readBlob()
    let config: Config, expected: Int
    do {
        config = try JSONDecoder().decode(Config.self, from: Data(json))
        expected = try parameterCount(config)
    } catch {
        throw CheckpointFormatError(detail: "\(what): the configuration cannot be read (\(error)); the file is corrupt or from another version")
    }
    let parameters = try r.readDoubles()
    try r.expectEnd()
    guard parameters.count == expected else {
        throw CheckpointFormatError(detail: "\(what): \(parameters.count) parameters, but its configuration needs \(expected); the file is corrupt")
    }
    return (config, parameters)
}
