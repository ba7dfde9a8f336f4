/// Anomaly scores of one jet: how far a reconstruction lies from its target (§11.3). Points are
/// SIMD4 rows — Cartesian (E, px, py, pz), or three coordinates with a zero fourth lane — so one
/// distance is one vector subtraction and one horizontal sum.

/// The reference's Chamfer score (non-batched `chamfer(...).mean(-1)`, §11.3):
///     (1/n)·Σ_i min_j ‖x_i − y_j‖₂ + (1/n)·Σ_j min_i ‖x_i − y_j‖₂
/// with the non-squared Euclidean norm and a mean over the n slots, x the reconstruction and y the
/// target. The minima are taken on squared distances and rooted once each — √ is monotonic and
/// correctly rounded, so min √d² = √(min d²) exactly — which saves n² − 2n square roots.
public func chamferScore(reconstruction x: UnsafeBufferPointer<SIMD4<Double>>, target y: UnsafeBufferPointer<SIMD4<Double>>,
                         columnMinima: UnsafeMutableBufferPointer<Double>) -> Double {
    let n = x.count
    precondition(y.count == n && columnMinima.count >= n, "chamferScore: clouds of different sizes")
    guard n > 0 else { return 0 }
    for j in 0..<n { columnMinima[j] = .infinity }
    var rows = 0.0
    for i in 0..<n {
        let xi = x[i]
        var rowMin = Double.infinity
        for j in 0..<n {
            let d = xi - y[j]
            let d2 = (d * d).sum()
            rowMin = min(rowMin, d2)
            columnMinima[j] = min(columnMinima[j], d2)
        }
        rows += rowMin.squareRoot()
    }
    var columns = 0.0
    for j in 0..<n { columns += columnMinima[j].squareRoot() }
    return (rows + columns) / Double(n)
}

/// The reference's particle MSE score, `((x − y)²).sum(-1).mean(-1)`: slot i against slot i, the
/// squared distance averaged over the n slots (no matching; §11.3).
public func mseScore(reconstruction x: UnsafeBufferPointer<SIMD4<Double>>, target y: UnsafeBufferPointer<SIMD4<Double>>) -> Double {
    let n = x.count
    precondition(y.count == n, "mseScore: clouds of different sizes")
    guard n > 0 else { return 0 }
    var s = 0.0
    for i in 0..<n {
        let d = x[i] - y[i]
        s += (d * d).sum()
    }
    return s / Double(n)
}

/// The spaces a per-jet score can be computed in (§11.3 (a), (c), (e)).
public enum ScoreSpace: String, Sendable, CaseIterable {
    /// (E, px, py, pz) in TeV.
    case cartesian
    /// (E, px, py, pz) divided by the jet's normalisation factor (§2.3): what the network sees.
    case normalisedCartesian = "normalised_cartesian"
    /// (pT_rel, η_rel, φ_rel), each cloud relative to its own jet axis, in the reference's
    /// anomaly-score convention (`RelativePolarConvention.anomalyScores`).
    case relativePolar = "relative_polar"
}

/// Fills `out` with one jet's points in `space`. `p4` is `n × 4` Cartesian in TeV; `norm` the jet's
/// normalisation factor per component (all four equal for the default overall-max normalisation;
/// used by `.normalisedCartesian` only); `scratch` holds at least 3n doubles.
public func scorePoints(_ p4: UnsafeBufferPointer<Double>, space: ScoreSpace, norm: SIMD4<Double>,
                        scratch: UnsafeMutableBufferPointer<Double>, into out: UnsafeMutableBufferPointer<SIMD4<Double>>) {
    let n = p4.count / 4
    precondition(out.count >= n, "scorePoints: output too small")
    switch space {
    case .cartesian:
        for i in 0..<n { out[i] = SIMD4(p4[4 * i], p4[4 * i + 1], p4[4 * i + 2], p4[4 * i + 3]) }
    case .normalisedCartesian:
        for i in 0..<n { out[i] = SIMD4(p4[4 * i], p4[4 * i + 1], p4[4 * i + 2], p4[4 * i + 3]) / norm }
    case .relativePolar:
        relativePolarCoordinates(p4, into: scratch, convention: .anomalyScores)
        for i in 0..<n { out[i] = SIMD4(scratch[3 * i], scratch[3 * i + 1], scratch[3 * i + 2], 0) }
    }
}
