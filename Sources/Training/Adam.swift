import Foundation

// The optimiser of §10: Adam with β = (0.9, 0.999), ε = 1e-8, no weight decay. The reference has
// separate Adam instances for the encoder and the decoder; Adam is element-wise, so one instance
// over the whole parameter buffer is the same thing. The update is written as torch.optim.Adam
// computes it (step size lr/(1−β1^t), denominator √v/√(1−β2^t) + ε), so the rounding follows the
// reference rather than the textbook form θ −= lr·m̂/(√v̂ + ε).

/// Where the bias corrections enter, which decides how ε acts. The two frameworks agree when ε is
/// negligible; they differ when gradients are as small as ε (the LGAE-Mix's and the CNNAE's).
public enum AdamUpdateForm: String, Hashable, Sendable, Codable, CaseIterable {
    /// torch.optim.Adam: θ −= (lr/(1−β1^t)) · m / (√v/√(1−β2^t) + ε) (the LGAE and GNNAE references).
    case pytorch
    /// Keras (TensorFlow 2): θ −= (lr·√(1−β2^t)/(1−β1^t)) · m / (√v + ε), so ε acts ~1/√(1−β2^t)
    /// times larger early on (the CNNAE reference).
    case keras
}

/// Adam hyper-parameters (§10: lr 1e-3 in the paper, 1e-5 code default, 5e-4 README).
public struct AdamConfiguration: Hashable, Sendable, Codable {
    public var learningRate: Double
    public var beta1: Double
    public var beta2: Double
    public var epsilon: Double
    public var form: AdamUpdateForm

    public init(learningRate: Double = 1e-3, beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8,
                form: AdamUpdateForm = .pytorch) {
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.form = form
    }
}

/// A checkpoint that cannot be read back as Adam state.
public struct AdamStateError: Error, CustomStringConvertible, Equatable {
    public let detail: String
    public var description: String { "Adam state: \(detail)" }
}

/// Adam over one flat parameter buffer: first moment m, second moment v, and the step count t.
public struct Adam: Sendable, Equatable {
    public var configuration: AdamConfiguration
    /// Steps taken so far (t of the bias corrections; the next update is step t + 1).
    public private(set) var step: Int
    public private(set) var firstMoment: [Double]
    public private(set) var secondMoment: [Double]

    /// Fresh state (m = v = 0, t = 0) for `count` parameters.
    public init(parameterCount count: Int, configuration: AdamConfiguration = AdamConfiguration()) {
        precondition(count >= 0, "Adam: parameterCount must be non-negative, got \(count)")
        self.configuration = configuration
        step = 0
        firstMoment = [Double](repeating: 0, count: count)
        secondMoment = [Double](repeating: 0, count: count)
    }

    public var parameterCount: Int { firstMoment.count }

    /// One Adam step: updates m, v, t and `parameters` in place from `gradient`.
    public mutating func update(parameters: inout [Double], gradient: [Double]) {
        precondition(parameters.count == parameterCount && gradient.count == parameterCount,
                     "Adam.update: the optimiser holds state for \(parameterCount) parameters but got \(parameters.count) parameters and a gradient of \(gradient.count); make the Adam state with the model's layout.count")
        step += 1
        let c = configuration
        let t = Double(step)
        let biasCorrection1 = 1 - pow(c.beta1, t)
        let biasCorrection2Root = (1 - pow(c.beta2, t)).squareRoot()
        // Both forms are θ −= s·m / (√v/r + ε): PyTorch with s = lr/(1−β1^t), r = √(1−β2^t); Keras
        // with s = lr·√(1−β2^t)/(1−β1^t), r = 1 (exact, so √v/1 is √v).
        let (stepSize, rootDivisor) = c.form == .keras
            ? (c.learningRate * biasCorrection2Root / biasCorrection1, 1.0)
            : (c.learningRate / biasCorrection1, biasCorrection2Root)
        for x in 0..<parameterCount {
            let g = gradient[x]
            let m = c.beta1 * firstMoment[x] + (1 - c.beta1) * g
            let v = c.beta2 * secondMoment[x] + (1 - c.beta2) * g * g
            firstMoment[x] = m
            secondMoment[x] = v
            let denominator = v.squareRoot() / rootDivisor + c.epsilon
            parameters[x] -= stepSize * m / denominator
        }
    }

    // Checkpoint format, all little-endian: the 8 magic bytes "LGAEADAM", UInt32 format version
    // (1: PyTorch update form, 2: Keras form; the layout is the same), UInt64 step, UInt64 parameter
    // count, four float64 (lr, β1, β2, ε), then m and v as float64. The float64 values are their
    // exact bit patterns, so a resumed run is bit-identical.
    private static let magic = Array("LGAEADAM".utf8)
    private static let versions: [AdamUpdateForm: UInt32] = [.pytorch: 1, .keras: 2]
    private static let headerSize = 8 + 4 + 8 + 8 + 4 * 8

    /// The state as bytes for a checkpoint (see the format above).
    public func serialized() -> [UInt8] {
        var bytes = Adam.magic
        bytes.reserveCapacity(Adam.headerSize + 16 * parameterCount)
        func append<T: FixedWidthInteger>(_ value: T) {
            withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
        }
        append(Adam.versions[configuration.form]!)
        append(UInt64(step))
        append(UInt64(parameterCount))
        for value in [configuration.learningRate, configuration.beta1, configuration.beta2, configuration.epsilon] {
            append(value.bitPattern)
        }
        for value in firstMoment { append(value.bitPattern) }
        for value in secondMoment { append(value.bitPattern) }
        return bytes
    }

    /// Reads state written by `serialized()`; throws if the bytes are not such a checkpoint.
    public init(serialized bytes: [UInt8]) throws {
        guard bytes.count >= Adam.headerSize, Array(bytes[0..<8]) == Adam.magic else {
            throw AdamStateError(detail: "expected the magic bytes \"LGAEADAM\" and a \(Adam.headerSize)-byte header, found \(bytes.count) bytes starting \(Array(bytes.prefix(8))); the file is not an Adam checkpoint written by Adam.serialized()")
        }
        var offset = 8
        func read<T: FixedWidthInteger>(_: T.Type) -> T {
            var value = T.zero
            withUnsafeMutableBytes(of: &value) { target in
                for k in 0..<MemoryLayout<T>.size { target[k] = bytes[offset + k] }
            }
            offset += MemoryLayout<T>.size
            return T(littleEndian: value)
        }
        let version = read(UInt32.self)
        guard let form = Adam.versions.first(where: { $0.value == version })?.key else {
            throw AdamStateError(detail: "format version \(version) found, this build reads versions 1 and 2; re-create the checkpoint with this build")
        }
        let step = read(UInt64.self), count = read(UInt64.self)
        let expected = UInt64(Adam.headerSize) &+ 16 &* count
        guard count <= UInt64(Int.max / 16), UInt64(bytes.count) == expected, step <= UInt64(Int.max) else {
            throw AdamStateError(detail: "the header announces \(count) parameters (so \(expected) bytes) at step \(step), but the checkpoint has \(bytes.count) bytes; it is truncated or corrupt")
        }
        func readDouble() -> Double { Double(bitPattern: read(UInt64.self)) }
        let lr = readDouble(), beta1 = readDouble(), beta2 = readDouble(), epsilon = readDouble()
        self.configuration = AdamConfiguration(learningRate: lr, beta1: beta1, beta2: beta2, epsilon: epsilon, form: form)
        self.step = Int(step)
        firstMoment = (0..<Int(count)).map { _ in readDouble() }
        secondMoment = (0..<Int(count)).map { _ in readDouble() }
    }
}
