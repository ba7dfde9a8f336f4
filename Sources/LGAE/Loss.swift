// The training losses of §9, each with its gradient with respect to the reconstruction (the
// target is data). Both work on the real output and the target as flat (B, N, 4) arrays in
// normalised Cartesian units (E, px, py, pz); padded target particles (zeros) take part.

/// Chamfer loss (§9, paper App. B), exactly as the reference: per jet
/// D[i,j] = Σ_μ (x_iμ − y_jμ)² (squared Euclidean), L_jet = ½(Σ_i min_j D[i,j] + Σ_j min_i D[i,j]),
/// L = Σ over the batch (summed, not averaged).
/// The minimum is piecewise; on ties the FIRST index is taken (as torch.min does), and the
/// gradient is that of the selected branch: for the row term of i with partner j*,
/// ∂L/∂x_i += x_i − y_j*; for the column term of j with partner i*, ∂L/∂x_i* += x_i* − y_j.
/// If `gradient` is given (same size as `reconstruction`), ∂L/∂x is WRITTEN there.
public func chamferLoss(reconstruction x: [Double], target y: [Double], particles n: Int,
                        gradient: UnsafeMutablePointer<Double>? = nil) -> Double {
    precondition(n > 0 && x.count == y.count && x.count % (4 * n) == 0,
                 "chamferLoss: reconstruction (\(x.count) doubles) and target (\(y.count) doubles) must both be B×\(n)×4")
    let jets = x.count / (4 * n)
    gradient?.update(repeating: 0, count: x.count)
    var loss = 0.0
    x.withUnsafeBufferPointer { xb in
        y.withUnsafeBufferPointer { yb in
            for b in 0..<jets {
                let xs = xb.baseAddress! + 4 * n * b, ys = yb.baseAddress! + 4 * n * b
                @inline(__always) func distance(_ i: Int, _ j: Int) -> Double {
                    let d = load4(xs + 4 * i) - load4(ys + 4 * j)
                    return (d * d).sum()
                }
                // Row term: every reconstructed particle to its nearest target particle.
                for i in 0..<n {
                    var best = 0, bestD = distance(i, 0)
                    for j in 1..<n {
                        let value = distance(i, j)
                        if value < bestD { best = j; bestD = value }
                    }
                    loss += 0.5 * bestD
                    if let g = gradient {
                        let gi = g + 4 * n * b + 4 * i
                        store4(load4(gi) + (load4(xs + 4 * i) - load4(ys + 4 * best)), gi)
                    }
                }
                // Column term: every target particle to its nearest reconstructed particle.
                for j in 0..<n {
                    var best = 0, bestD = distance(0, j)
                    for i in 1..<n {
                        let value = distance(i, j)
                        if value < bestD { best = i; bestD = value }
                    }
                    loss += 0.5 * bestD
                    if let g = gradient {
                        let gi = g + 4 * n * b + 4 * best
                        store4(load4(gi) + (load4(xs + 4 * best) - load4(ys + 4 * j)), gi)
                    }
                }
            }
        }
    }
    return loss
}

/// MSE loss (§9, LGAE-Mix): the mean over all B·N·4 entries of (x − y)², slot i against input
/// particle i. If `gradient` is given, ∂L/∂x = 2(x − y)/(B·N·4) is WRITTEN there.
public func mseLoss(reconstruction x: [Double], target y: [Double],
                    gradient: UnsafeMutablePointer<Double>? = nil) -> Double {
    precondition(!x.isEmpty && x.count == y.count,
                 "mseLoss: reconstruction (\(x.count) doubles) and target (\(y.count) doubles) must have the same non-zero size")
    let scale = 1 / Double(x.count)
    var sum = 0.0
    for e in 0..<x.count {
        let d = x[e] - y[e]
        sum += d * d
        gradient?[e] = 2 * d * scale
    }
    return sum * scale
}

/// The training-only L1 regulariser of §9: λ·Σ|θ| over every encoder and decoder parameter
/// (λ = 1e-8 in the reference). ADDS its gradient λ·sign(θ) to `gradients` (sign(0) = 0, as
/// torch.sign); returns the penalty.
public func addL1Regulariser(parameters: [Double], lambda: Double, gradients: inout ParameterGradients) -> Double {
    addL1Regulariser(parameters: parameters, lambda: lambda, gradient: &gradients.values)
}
