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

/// A Lorentz irrep that node-feature storage can hold: how many doubles one element takes and
/// how it is read from and written to raw storage.
public protocol StoredIrrep {
    static var doublesPerElement: Int { get }
    static func load(_ p: UnsafePointer<Double>) -> Self
    func store(_ p: UnsafeMutablePointer<Double>)
}

extension LorentzScalar: StoredIrrep {
    /// (re, im).
    public static var doublesPerElement: Int { 2 }
    public static func load(_ p: UnsafePointer<Double>) -> LorentzScalar { LorentzScalar(p[0], p[1]) }
    public func store(_ p: UnsafeMutablePointer<Double>) {
        p[0] = value.re
        p[1] = value.im
    }
}

extension LorentzVector: StoredIrrep {
    /// Re(E, px, py, pz) then Im(E, px, py, pz).
    public static var doublesPerElement: Int { 8 }
    public static func load(_ p: UnsafePointer<Double>) -> LorentzVector { loadVector(p) }
    public func store(_ p: UnsafeMutablePointer<Double>) { storeVector(self, p) }
}

/// Node features of one irrep, N nodes × C channels, flat and contiguous: element (n, c) occupies
/// the `Irrep.doublesPerElement` doubles at that many times (n·C + c). Node-major, so the mix
/// aggregation's particle-major flattening m = n·C + c (§5.3) is the same memory.
public final class NodeFeatures<Irrep: StoredIrrep> {
    public let nodes: Int
    public let channels: Int
    public let buffer: DoubleBuffer

    public init(nodes: Int, channels: Int) {
        self.nodes = nodes
        self.channels = channels
        buffer = DoubleBuffer(count: Irrep.doublesPerElement * nodes * channels)
    }

    public subscript(node: Int, channel: Int) -> Irrep {
        get { Irrep.load(buffer.base + offset(node, channel)) }
        set { newValue.store(buffer.base + offset(node, channel)) }
    }

    private func offset(_ node: Int, _ channel: Int) -> Int {
        precondition(node >= 0 && node < nodes && channel >= 0 && channel < channels,
                     "\(Irrep.self) feature (\(node), \(channel)) out of \(nodes) nodes × \(channels) channels")
        return Irrep.doublesPerElement * (node * channels + channel)
    }
}

/// Complex Lorentz scalars, N × C; scalar (n, c) is (re, im) at 2·(n·C + c).
public typealias NodeScalars = NodeFeatures<LorentzScalar>
/// Complex 4-vectors, N × C; vector (n, c) is the 8 doubles at 8·(n·C + c), the memory layout of
/// `LorentzVector` (Re part, then Im part).
public typealias NodeVectors = NodeFeatures<LorentzVector>

@inline(__always)
func load4(_ p: UnsafePointer<Double>) -> SIMD4<Double> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD4<Double>.self)
}

@inline(__always)
func store4(_ v: SIMD4<Double>, _ p: UnsafeMutablePointer<Double>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD4<Double>.self)
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
