/// Four doubles, the unit every Baselines kernel computes in (one AVX2 register), and unaligned
/// loads and stores of them: activations and weights are plain [Double] buffers whose rows need not
/// start on a 32-byte boundary.
typealias Lanes = SIMD4<Double>

@inline(__always)
func loadLanes(_ p: UnsafePointer<Double>) -> Lanes {
    UnsafeRawPointer(p).loadUnaligned(as: Lanes.self)
}

@inline(__always)
func storeLanes(_ v: Lanes, _ p: UnsafeMutablePointer<Double>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: Lanes.self)
}
