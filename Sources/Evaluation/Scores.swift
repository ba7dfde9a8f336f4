/// Anomaly scores of one jet: how far a reconstruction lies from its target (§11.3). Points are
/// SIMD4 rows — Cartesian (E, px, py, pz), or three coordinates with a zero fourth lane — so one
/// distance is one vector subtraction and one horizontal sum.

/// The reference's Chamfer score (non-batched `chamfer(...).mean(-1)`, §11.3):
///     (1/n)·Σ_i min_j ‖x_i − y_j‖₂ + (1/n)·Σ_j min_i ‖x_i − y_j‖₂
/// with the non-squared Euclidean norm and a mean over the n slots, x the reconstruction and y the
/// target. The minima are taken on squared distances and rooted once each — √ is monotonic and
/// correctly rounded, so min √d² = √(min d²) exactly — which saves n² − 2n square roots.
///
/// The target is transposed into four component arrays of ⌈n/4⌉ SIMD4 blocks (padded with +∞,
/// whose distances are +∞ and never a minimum), so one reconstructed point meets four target points
/// per step: four subtractions, one multiply and three fused multiply-adds, and two vector minima
/// that keep the row minimum and the four column minima in registers and memory without a
/// horizontal reduction per pair. `scratch` must hold `chamferScratchCount(particles: n)` doubles.
public func chamferScore(reconstruction x: UnsafeBufferPointer<SIMD4<Double>>, target y: UnsafeBufferPointer<SIMD4<Double>>,
                         scratch: UnsafeMutableBufferPointer<Double>) -> Double {
    let n = x.count
    let blocks = (n + 3) / 4
    precondition(y.count == n && scratch.count >= chamferScratchCount(particles: n), "chamferScore: clouds of different sizes or scratch too small")
    guard n > 0 else { return 0 }
    return UnsafeMutableRawPointer(scratch.baseAddress!).withMemoryRebound(to: SIMD4<Double>.self, capacity: 5 * blocks) { v in
        let e = v, px = v + blocks, py = v + 2 * blocks, pz = v + 3 * blocks, colMin = v + 4 * blocks
        for b in 0..<blocks {
            var ve = SIMD4<Double>(repeating: .infinity), vx = ve, vy = ve, vz = ve
            for l in 0..<4 where 4 * b + l < n {
                let p = y[4 * b + l]
                ve[l] = p[0]; vx[l] = p[1]; vy[l] = p[2]; vz[l] = p[3]
            }
            e[b] = ve; px[b] = vx; py[b] = vy; pz[b] = vz
            colMin[b] = SIMD4(repeating: .infinity)
        }
        var rows = 0.0
        for i in 0..<n {
            let xi = x[i]
            let xe = SIMD4(repeating: xi[0]), xx = SIMD4(repeating: xi[1]), xy = SIMD4(repeating: xi[2]), xz = SIMD4(repeating: xi[3])
            var rowMin = SIMD4<Double>(repeating: .infinity)
            for b in 0..<blocks {
                let de = xe - e[b], dx = xx - px[b], dy = xy - py[b], dz = xz - pz[b]
                var d2 = de * de
                d2.addProduct(dx, dx)
                d2.addProduct(dy, dy)
                d2.addProduct(dz, dz)
                rowMin = lanewiseMin(rowMin, d2)
                colMin[b] = lanewiseMin(colMin[b], d2)
            }
            rows += rowMin.min().squareRoot()
        }
        var columns = 0.0
        for j in 0..<n { columns += colMin[j / 4][j % 4].squareRoot() }
        return (rows + columns) / Double(n)
    }
}

/// The smaller of each lane (no NaN here). The standard library's `pointwiseMin` is not inlined into
/// this loop and cost three quarters of its time; a compare-and-blend is two instructions.
@inline(__always)
func lanewiseMin(_ a: SIMD4<Double>, _ b: SIMD4<Double>) -> SIMD4<Double> { a.replacing(with: b, where: b .< a) }

/// Doubles of scratch `chamferScore` needs for clouds of `n` points.
public func chamferScratchCount(particles n: Int) -> Int { 5 * 4 * ((n + 3) / 4) }

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
