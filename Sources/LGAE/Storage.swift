/// Fixed-size, zero-initialised float64 storage owned by a cache. It is a class around a raw
/// pointer so the hot kernels read and write it with no copy-on-write checks, no exclusivity
/// bookkeeping and no allocation per jet. Caches are workspaces: one thread uses one at a time.
public final class DoubleBuffer {
    public let count: Int
    public let base: UnsafeMutablePointer<Double>

    public init(count: Int) {
        precondition(count >= 0, "DoubleBuffer needs a non-negative count, got \(count)")
        self.count = count
        base = .allocate(capacity: max(count, 1))
        base.initialize(repeating: 0, count: max(count, 1))
    }

    deinit {
        base.deallocate()
    }

    public subscript(index: Int) -> Double {
        get {
            precondition(index >= 0 && index < count, "DoubleBuffer index \(index) out of 0..<\(count)")
            return base[index]
        }
        set {
            precondition(index >= 0 && index < count, "DoubleBuffer index \(index) out of 0..<\(count)")
            base[index] = newValue
        }
    }

    /// A copy of the contents.
    public var array: [Double] { Array(UnsafeBufferPointer(start: base, count: count)) }

    public func setZero() {
        base.update(repeating: 0, count: count)
    }
}

/// Complex Lorentz scalars of N nodes × C channels, flat and contiguous: scalar (n, c) is the pair
/// (re, im) at 2·(n·C + c). Node-major, so the mix aggregation's particle-major flattening
/// m = n·C + c (§5.3) is the same memory.
public final class NodeScalars {
    public let nodes: Int
    public let channels: Int
    public let buffer: DoubleBuffer

    public init(nodes: Int, channels: Int) {
        self.nodes = nodes
        self.channels = channels
        buffer = DoubleBuffer(count: 2 * nodes * channels)
    }

    public subscript(node: Int, channel: Int) -> LorentzScalar {
        get {
            let o = offset(node, channel)
            return LorentzScalar(buffer.base[o], buffer.base[o + 1])
        }
        set {
            let o = offset(node, channel)
            buffer.base[o] = newValue.value.re
            buffer.base[o + 1] = newValue.value.im
        }
    }

    private func offset(_ node: Int, _ channel: Int) -> Int {
        precondition(node >= 0 && node < nodes && channel >= 0 && channel < channels,
                     "scalar feature (\(node), \(channel)) out of \(nodes) nodes × \(channels) channels")
        return 2 * (node * channels + channel)
    }
}

/// Complex Lorentz 4-vectors of N nodes × C channels, flat and contiguous: vector (n, c) occupies
/// the 8 doubles at 8·(n·C + c), Re(E, px, py, pz) then Im(E, px, py, pz), the memory layout of
/// `LorentzVector`.
public final class NodeVectors {
    public let nodes: Int
    public let channels: Int
    public let buffer: DoubleBuffer

    public init(nodes: Int, channels: Int) {
        self.nodes = nodes
        self.channels = channels
        buffer = DoubleBuffer(count: 8 * nodes * channels)
    }

    public subscript(node: Int, channel: Int) -> LorentzVector {
        get { loadVector(buffer.base + offset(node, channel)) }
        set { storeVector(newValue, buffer.base + offset(node, channel)) }
    }

    private func offset(_ node: Int, _ channel: Int) -> Int {
        precondition(node >= 0 && node < nodes && channel >= 0 && channel < channels,
                     "vector feature (\(node), \(channel)) out of \(nodes) nodes × \(channels) channels")
        return 8 * (node * channels + channel)
    }
}

@inline(__always)
func load4(_ p: UnsafePointer<Double>) -> SIMD4<Double> {
    SIMD4(p[0], p[1], p[2], p[3])
}

@inline(__always)
func store4(_ v: SIMD4<Double>, _ p: UnsafeMutablePointer<Double>) {
    p[0] = v[0]
    p[1] = v[1]
    p[2] = v[2]
    p[3] = v[3]
}

@inline(__always)
func loadVector(_ p: UnsafePointer<Double>) -> LorentzVector {
    LorentzVector(re: load4(p), im: load4(p + 4))
}

@inline(__always)
func storeVector(_ v: LorentzVector, _ p: UnsafeMutablePointer<Double>) {
    store4(v.re, p)
    store4(v.im, p + 4)
}

@inline(__always)
func load8(_ p: UnsafePointer<Double>) -> SIMD8<Double> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Double>.self)
}

@inline(__always)
func store8(_ v: SIMD8<Double>, _ p: UnsafeMutablePointer<Double>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Double>.self)
}

@inline(__always)
func load16(_ p: UnsafePointer<Double>) -> SIMD16<Double> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Double>.self)
}

@inline(__always)
func store16(_ v: SIMD16<Double>, _ p: UnsafeMutablePointer<Double>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD16<Double>.self)
}
