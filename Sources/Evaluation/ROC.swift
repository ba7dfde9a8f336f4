/// A ROC curve with scikit-learn's conventions (`roc_curve(drop_intermediate=True)` then `auc`), so
/// that an AUC or efficiency printed here is the number the reference's code gives on the same scores.
public struct ROCCurve: Hashable, Sendable {
    /// Background efficiency ε_b (false-positive rate), non-decreasing, starting at 0.
    public var fpr: [Double]
    /// Signal efficiency ε_s (true-positive rate), non-decreasing, starting at 0.
    public var tpr: [Double]
    /// Score thresholds, decreasing; the first is +∞ (nothing selected), as sklearn ≥ 1.3.
    public var thresholds: [Double]

    /// The area under the curve by the trapezoid rule (`sklearn.metrics.auc`).
    public var auc: Double {
        var a = 0.0
        for i in 1..<max(fpr.count, 1) { a += (fpr[i] - fpr[i - 1]) * (tpr[i] + tpr[i - 1]) / 2 }
        return a
    }

    /// ε_s at the first point whose ε_b ≥ `backgroundEfficiency` — the reference's
    /// `tpr[np.searchsorted(fpr, ε_b)]` (a left search, no interpolation; §11.3). nil if ε_b lies
    /// beyond the curve's last point.
    public func signalEfficiencyAtFirstPoint(backgroundEfficiency eb: Double) -> Double? {
        var lo = 0, hi = fpr.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if fpr[mid] < eb { lo = mid + 1 } else { hi = mid }
        }
        return lo < tpr.count ? tpr[lo] : nil
    }

    /// ε_s at ε_b by linear interpolation between the curve's points (`np.interp(ε_b, fpr, tpr)`);
    /// where several points share the same ε_b the last (highest ε_s) one is used, as np.interp does.
    public func signalEfficiencyInterpolated(backgroundEfficiency eb: Double) -> Double {
        guard let first = fpr.first, let last = fpr.last else { return .nan }
        if eb < first { return tpr[0] }
        if eb >= last { return tpr[tpr.count - 1] }
        // the last index with fpr ≤ eb
        var lo = 0, hi = fpr.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if fpr[mid] <= eb { lo = mid + 1 } else { hi = mid }
        }
        let i = lo - 1
        let x0 = fpr[i], x1 = fpr[i + 1], y0 = tpr[i], y1 = tpr[i + 1]
        return x1 == x0 ? y1 : y0 + (y1 - y0) * (eb - x0) / (x1 - x0)
    }
}

/// ROC of `signal` scores against `background` scores, higher meaning more signal-like: sklearn's
/// `roc_curve(labels, scores)` with label +1 for signal. Each distinct score is one threshold (tied
/// scores enter together, which is how sklearn treats ties), and points collinear with both their
/// neighbours are dropped (`drop_intermediate=True`).
///
/// Both score lists are sorted once and merged, instead of sorting their concatenation, so a
/// caller scoring several signals against one background sorts that background once
/// (`SortedScores`).
public func rocCurve(signal: SortedScores, background: SortedScores) -> ROCCurve {
    let s = signal.descending, b = background.descending
    precondition(!s.isEmpty && !b.isEmpty, "rocCurve: need at least one signal and one background score")
    // Cumulative counts at each distinct threshold, walking down the merged order.
    var tps: [Int] = [], fps: [Int] = [], thresholds: [Double] = []
    tps.reserveCapacity(s.count + b.count)
    fps.reserveCapacity(s.count + b.count)
    thresholds.reserveCapacity(s.count + b.count)
    var i = 0, j = 0
    while i < s.count || j < b.count {
        let v = j >= b.count || (i < s.count && s[i] >= b[j]) ? s[i] : b[j]
        while i < s.count && s[i] == v { i += 1 }
        while j < b.count && b[j] == v { j += 1 }
        tps.append(i)
        fps.append(j)
        thresholds.append(v)
    }
    // drop_intermediate: keep the ends and every point where either count changes slope.
    var keep: [Int] = []
    keep.reserveCapacity(tps.count)
    for k in tps.indices {
        if k == 0 || k == tps.count - 1 { keep.append(k); continue }
        let d2f = fps[k + 1] - 2 * fps[k] + fps[k - 1]
        let d2t = tps[k + 1] - 2 * tps[k] + tps[k - 1]
        if d2f != 0 || d2t != 0 { keep.append(k) }
    }
    let nb = Double(fps[fps.count - 1]), ns = Double(tps[tps.count - 1])
    var curve = ROCCurve(fpr: [0], tpr: [0], thresholds: [.infinity])
    for k in keep {
        curve.fpr.append(Double(fps[k]) / nb)
        curve.tpr.append(Double(tps[k]) / ns)
        curve.thresholds.append(thresholds[k])
    }
    return curve
}

/// Scores sorted once, in decreasing order, for `rocCurve`. NaN scores are rejected: they have no
/// place in a threshold order (sklearn raises on them too).
public struct SortedScores: Sendable {
    public let descending: [Double]
    public var count: Int { descending.count }

    public init(_ scores: [Double]) throws {
        if let bad = scores.firstIndex(where: { $0.isNaN }) { throw ROCError.nanScore(index: bad) }
        descending = sortedDescending(scores)
    }

    /// Several sorted lists merged in one linear pass each (the combined signal of several samples).
    public init(merging parts: [SortedScores]) {
        var merged: [Double] = []
        for p in parts { merged = mergeDescending(merged, p.descending) }
        descending = merged
    }
}

/// Scores in decreasing order by a least-significant-digit radix sort on order-preserving 64-bit
/// keys: six passes of 11 bits, skipping the passes whose digit is the same for every score (the
/// exponent bits, usually). It is a few times faster than a comparison sort on the 35,000–106,000
/// scores of a test split, where the comparison sort's merges mispredict on random data. Equal
/// values stay equal, so the order of ties does not matter to the ROC.
func sortedDescending(_ values: [Double]) -> [Double] {
    let n = values.count
    if n < 512 { return values.sorted(by: >) }
    // Ascending doubles ↔ ascending keys: flip all bits of negatives, the sign bit of the rest; then
    // complement, so that ascending keys are descending doubles. (−0 and +0 get adjacent keys.)
    let sign: UInt64 = 1 << 63
    var keys = values.map { v -> UInt64 in
        let b = v.bitPattern
        return ~(b & sign != 0 ? ~b : b | sign)
    }
    var other = [UInt64](repeating: 0, count: n)
    let bits = 11, radix = 1 << bits, mask = UInt64(radix - 1), passes = 6
    var counts = [Int](repeating: 0, count: radix * passes)
    keys.withUnsafeMutableBufferPointer { k in
        other.withUnsafeMutableBufferPointer { o in
            counts.withUnsafeMutableBufferPointer { c in
                for key in k {
                    for p in 0..<passes { c[p * radix + Int((key >> UInt64(p * bits)) & mask)] += 1 }
                }
                var src = k, dst = o
                for p in 0..<passes {
                    let base = p * radix, shift = UInt64(p * bits)
                    if c[base + Int((src[0] >> shift) & mask)] == n { continue }  // one digit for all: no reordering
                    var sum = 0
                    for d in 0..<radix {
                        let count = c[base + d]
                        c[base + d] = sum
                        sum += count
                    }
                    for key in src {
                        let d = base + Int((key >> shift) & mask)
                        dst[c[d]] = key
                        c[d] += 1
                    }
                    swap(&src, &dst)
                }
                if src.baseAddress != k.baseAddress { k.baseAddress!.update(from: src.baseAddress!, count: n) }
            }
        }
    }
    return keys.map { key in
        let a = ~key
        return Double(bitPattern: a & sign != 0 ? a & ~sign : ~a)
    }
}

/// Two decreasing lists merged into one.
func mergeDescending(_ a: [Double], _ b: [Double]) -> [Double] {
    if a.isEmpty { return b }
    if b.isEmpty { return a }
    var out = [Double]()
    out.reserveCapacity(a.count + b.count)
    var i = 0, j = 0
    while i < a.count && j < b.count {
        if a[i] >= b[j] { out.append(a[i]); i += 1 } else { out.append(b[j]); j += 1 }
    }
    out += a[i...]
    out += b[j...]
    return out
}

public enum ROCError: Error, Equatable, CustomStringConvertible {
    case nanScore(index: Int)
    public var description: String {
        switch self {
        case let .nanScore(index): return "score \(index) is NaN"
        }
    }
}

/// The anomaly-detection figures of Table 4 for one signal against the background (§11.3).
public struct AnomalyDetection: Hashable, Sendable {
    public var curve: ROCCurve
    public var auc: Double
    /// True when the AUC came out below ½ and, as the reference does, the labels were flipped
    /// (`roc_curve(-labels, scores)`) and the curve recomputed: the score then separates the other way.
    public var flipped: Bool

    public init(signal: SortedScores, background: SortedScores) {
        var c = rocCurve(signal: signal, background: background)
        var a = c.auc
        flipped = a < 0.5
        if flipped {
            c = rocCurve(signal: background, background: signal)
            a = c.auc
        }
        curve = c
        auc = a
    }

    /// (the reference's first-point rule, linear interpolation) at background efficiency `eb`.
    public func signalEfficiency(atBackground eb: Double) -> (firstPoint: Double?, interpolated: Double) {
        (curve.signalEfficiencyAtFirstPoint(backgroundEfficiency: eb), curve.signalEfficiencyInterpolated(backgroundEfficiency: eb))
    }
}
