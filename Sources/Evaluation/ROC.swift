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
        descending = scores.sorted(by: >)
    }

    /// Two sorted lists merged (the combined signal of several samples).
    public init(merging parts: [SortedScores]) {
        var merged: [Double] = []
        merged.reserveCapacity(parts.reduce(0) { $0 + $1.count })
        for p in parts { merged += p.descending }
        descending = merged.sorted(by: >)
    }
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
