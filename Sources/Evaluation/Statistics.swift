/// Order statistics with numpy's conventions, so that a median or IQR printed here is the number
/// `np.median` / `np.quantile` (default "linear" method) gives on the same values.
public struct DistributionSummary: Hashable, Sendable, Codable {
    public var count: Int
    public var median: Double
    public var q25: Double
    public var q75: Double
    public var mean: Double
    public var standardDeviation: Double

    /// Q75 − Q25, the spread the paper's tables report.
    public var iqr: Double { q75 - q25 }

    /// Summarises `values` (any order). Non-finite values are a caller bug here: the relative-error
    /// code drops padded particles before, so a NaN would silently shift every quantile.
    public init(_ values: [Double]) {
        precondition(!values.contains { $0.isNaN }, "DistributionSummary: NaN among the values")
        let sorted = values.sorted()
        count = sorted.count
        median = medianOfSorted(sorted)
        q25 = quantileOfSorted(sorted, 0.25)
        q75 = quantileOfSorted(sorted, 0.75)
        if sorted.isEmpty {
            mean = .nan
            standardDeviation = .nan
        } else {
            let m = sorted.reduce(0, +) / Double(sorted.count)
            mean = m
            standardDeviation = (sorted.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(sorted.count)).squareRoot()
        }
    }
}

/// `np.quantile(x, q)` for ascending `sorted`: position h = (n − 1)·q between neighbours, blended
/// with numpy's `_lerp`, which computes from the upper neighbour when the weight is ≥ ½ so that the
/// result is exact at both ends.
public func quantileOfSorted(_ sorted: [Double], _ q: Double) -> Double {
    precondition((0...1).contains(q), "quantile: q = \(q) is outside [0, 1]")
    guard !sorted.isEmpty else { return .nan }
    let h = Double(sorted.count - 1) * q
    let lo = Int(h.rounded(.down))
    let hi = min(lo + 1, sorted.count - 1)
    let t = h - Double(lo)
    let a = sorted[lo], b = sorted[hi]
    let diff = b - a
    return t >= 0.5 ? b - diff * (1 - t) : a + diff * t
}

/// `np.median`: the middle value, or the mean of the two middle values ((a + b)/2, as numpy's mean
/// of two elements computes it).
public func medianOfSorted(_ sorted: [Double]) -> Double {
    guard !sorted.isEmpty else { return .nan }
    let n = sorted.count
    return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2
}
