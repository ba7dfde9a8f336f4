import Foundation

// Lorentz irreps as types (lgae.md §1, §3; style.md "e3nn"): a `LorentzScalar` is the (0,0)
// irrep, a `LorentzVector` the (1/2,1/2) irrep, both complex. Their components are plain `Complex`
// numbers, which are *not* Lorentz scalars, so `scalar + vector.e` does not compile, and neither
// does `scalar + vector`. The only ways to combine the irreps are the ones the truncated CG
// products of §3.1 allow: scalar·scalar, scalar·vector and the bilinear Minkowski form.

/// η(a, b) = a0 b0 − a1 b1 − a2 b2 − a3 b3 for real 4-vectors, signature (+,−,−,−) (§1).
@inlinable
public func minkowski(_ a: SIMD4<Double>, _ b: SIMD4<Double>) -> Double {
    a[0] * b[0] - a[1] * b[1] - a[2] * b[2] - a[3] * b[3]
}

/// A complex Lorentz scalar, the (0,0) irrep.
public struct LorentzScalar: Hashable, Sendable, CustomStringConvertible {
    public var value: Complex

    @inlinable public init(_ value: Complex) { self.value = value }
    @inlinable public init(_ re: Double, _ im: Double = 0) { value = Complex(re, im) }

    public static let zero = LorentzScalar(Complex.zero)

    @inlinable public static func + (a: LorentzScalar, b: LorentzScalar) -> LorentzScalar { LorentzScalar(a.value + b.value) }
    @inlinable public static func - (a: LorentzScalar, b: LorentzScalar) -> LorentzScalar { LorentzScalar(a.value - b.value) }
    /// scalar ⊗ scalar → scalar (§3.1).
    @inlinable public static func * (a: LorentzScalar, b: LorentzScalar) -> LorentzScalar { LorentzScalar(a.value * b.value) }
    /// A complex channel-mixing weight times a scalar (§4.6): weights are invariant numbers.
    @inlinable public static func * (w: Complex, a: LorentzScalar) -> LorentzScalar { LorentzScalar(w * a.value) }
    @inlinable public static func * (w: Double, a: LorentzScalar) -> LorentzScalar { LorentzScalar(w * a.value) }
    @inlinable public static func += (a: inout LorentzScalar, b: LorentzScalar) { a = a + b }

    public var description: String { value.description }
}

/// A complex Lorentz 4-vector P = A + iB in Cartesian components (E, px, py, pz), the
/// (1/2,1/2) irrep in the complex Cartesian representation of §3.4. A real Lorentz matrix acts as
/// ΛP = ΛA + iΛB.
public struct LorentzVector: Hashable, Sendable, CustomStringConvertible {
    /// A = Re P, components (E, px, py, pz).
    public var re: SIMD4<Double>
    /// B = Im P.
    public var im: SIMD4<Double>

    @inlinable public init(re: SIMD4<Double>, im: SIMD4<Double> = .zero) {
        self.re = re
        self.im = im
    }

    @inlinable public init(_ e: Complex, _ px: Complex, _ py: Complex, _ pz: Complex) {
        re = SIMD4(e.re, px.re, py.re, pz.re)
        im = SIMD4(e.im, px.im, py.im, pz.im)
    }

    /// A real 4-vector (E, px, py, pz), imaginary part 0.
    @inlinable public init(_ e: Double, _ px: Double, _ py: Double, _ pz: Double) {
        re = SIMD4(e, px, py, pz)
        im = .zero
    }

    public static let zero = LorentzVector(re: .zero, im: .zero)

    /// Component μ ∈ 0...3 in the order (E, px, py, pz). Not a Lorentz scalar.
    @inlinable public subscript(mu: Int) -> Complex {
        get { Complex(re[mu], im[mu]) }
        set {
            re[mu] = newValue.re
            im[mu] = newValue.im
        }
    }

    @inlinable public static func + (a: LorentzVector, b: LorentzVector) -> LorentzVector { LorentzVector(re: a.re + b.re, im: a.im + b.im) }
    @inlinable public static func - (a: LorentzVector, b: LorentzVector) -> LorentzVector { LorentzVector(re: a.re - b.re, im: a.im - b.im) }
    @inlinable public static prefix func - (a: LorentzVector) -> LorentzVector { LorentzVector(re: -a.re, im: -a.im) }
    @inlinable public static func += (a: inout LorentzVector, b: LorentzVector) { a = a + b }

    /// A complex number times every component: used both for scalar ⊗ vector (§3.1) and for a
    /// complex channel-mixing weight (§4.6).
    @inlinable public static func * (w: Complex, v: LorentzVector) -> LorentzVector {
        LorentzVector(re: w.re * v.re - w.im * v.im, im: w.re * v.im + w.im * v.re)
    }
    /// scalar ⊗ vector → vector (§3.1).
    @inlinable public static func * (s: LorentzScalar, v: LorentzVector) -> LorentzVector { s.value * v }
    @inlinable public static func * (w: Double, v: LorentzVector) -> LorentzVector { LorentzVector(re: w * v.re, im: w * v.im) }

    /// The components in the reference's complex canonical (spherical) basis (§3.3):
    /// c0 = E, c1 = (px − i·py)/√2, c2 = pz, c3 = −(px + i·py)/√2. Only needed to compare with
    /// tensors dumped from the reference; the model itself works in Cartesian components.
    public var canonicalComponents: [Complex] {
        let e = self[0], px = self[1], py = self[2], pz = self[3]
        let invSqrt2 = 1 / 2.0.squareRoot()
        return [e, invSqrt2 * (px - Complex.i * py), pz, -invSqrt2 * (px + Complex.i * py)]
    }

    public var description: String {
        "(" + (0..<4).map { self[$0].description }.joined(separator: ", ") + ")"
    }
}

/// The bilinear Minkowski form η(a, b) of two complex 4-vectors, signature (+,−,−,−), with **no**
/// complex conjugation (§1). It is a Lorentz scalar.
@inlinable
public func minkowski(_ a: LorentzVector, _ b: LorentzVector) -> LorentzScalar {
    LorentzScalar(minkowski(a.re, b.re) - minkowski(a.im, b.im), minkowski(a.re, b.im) + minkowski(a.im, b.re))
}

/// The scalar part of vector ⊗ vector, the only part `maxdim = 2` keeps: ½·η(a, b), with ½ the
/// exact Clebsch–Gordan coefficient (§3.1).
@inlinable
public func clebschGordanScalar(_ a: LorentzVector, _ b: LorentzVector) -> LorentzScalar {
    0.5 * minkowski(a, b)
}

/// A spatial axis for boosts and rotations.
public enum SpatialAxis: Int, Sendable, CaseIterable {
    case x = 1, y = 2, z = 3
}

/// A real proper orthochronous Lorentz transformation Λ, a 4×4 matrix acting on Cartesian
/// (E, px, py, pz). Being real, it acts on a complex vector part by part: ΛP = ΛA + iΛB (§3.4).
public struct LorentzTransformation: Hashable, Sendable {
    /// Matrix rows: (ΛP)^μ = rows[μ] · P.
    public var rows: [SIMD4<Double>]

    public init(rows: [SIMD4<Double>]) {
        precondition(rows.count == 4, "a Lorentz transformation needs 4 rows, got \(rows.count)")
        self.rows = rows
    }

    public static let identity = LorentzTransformation(rows: [
        SIMD4(1, 0, 0, 0), SIMD4(0, 1, 0, 0), SIMD4(0, 0, 1, 0), SIMD4(0, 0, 0, 1),
    ])

    /// The active boost along `axis` with rapidity α: a particle at rest ends up moving with
    /// velocity tanh α along +axis, i.e. E' = cosh α·E + sinh α·p_a and p_a' = sinh α·E + cosh α·p_a.
    public static func boost(along axis: SpatialAxis, rapidity: Double) -> LorentzTransformation {
        var m = identity.rows
        let a = axis.rawValue
        let ch = cosh(rapidity), sh = sinh(rapidity)
        m[0][0] = ch
        m[0][a] = sh
        m[a][0] = sh
        m[a][a] = ch
        return LorentzTransformation(rows: m)
    }

    /// The active rotation by `angle` (right-handed) about `axis`.
    public static func rotation(about axis: SpatialAxis, angle: Double) -> LorentzTransformation {
        var m = identity.rows
        // (u, w) is the plane rotated u → w: (y, z) about x, (z, x) about y, (x, y) about z.
        let u = axis.rawValue % 3 + 1
        let w = u % 3 + 1
        let c = cos(angle), s = sin(angle)
        m[u][u] = c
        m[u][w] = -s
        m[w][u] = s
        m[w][w] = c
        return LorentzTransformation(rows: m)
    }

    /// The real 4-vector Λp.
    public func apply(_ p: SIMD4<Double>) -> SIMD4<Double> {
        SIMD4((rows[0] * p).sum(), (rows[1] * p).sum(), (rows[2] * p).sum(), (rows[3] * p).sum())
    }

    /// ΛP = ΛA + iΛB.
    public func apply(_ v: LorentzVector) -> LorentzVector {
        LorentzVector(re: apply(v.re), im: apply(v.im))
    }

    /// The composition (self ∘ other): first `other`, then `self`.
    public static func * (a: LorentzTransformation, b: LorentzTransformation) -> LorentzTransformation {
        var out = [SIMD4<Double>](repeating: .zero, count: 4)
        for r in 0..<4 {
            for c in 0..<4 {
                out[r][c] = (0..<4).reduce(0.0) { $0 + a.rows[r][$1] * b.rows[$1][c] }
            }
        }
        return LorentzTransformation(rows: out)
    }
}

/// The reference's signed Minkowski "norm" of an edge (§4.1): q = η(d, d) + 1e-16, then
/// q / sqrt(|q|). The 1e-16 makes the self-edge value 1e-8, not 0, which is why self-edges of
/// real particles count as live in the encoder.
@inlinable
public func signedMinkowskiNorm(intervalSquared: Double) -> Double {
    let q = intervalSquared + 1e-16
    return q / abs(q).squareRoot()
}

/// The reference's "Lorentzian bell" basis function (§4.2), b / (1 + (c·norm)² + 1e-16) + a.
/// (c·norm)² = c²·|η(d,d)|, so the sign of the interval is lost; the reference comment's
/// "a + 1/(b + c²p²)" is not what it computes.
@inlinable
public func lorentzianBell(a: Double, b: Double, c: Double, norm: Double) -> Double {
    let t = c * norm
    return b / (1 + t * t + 1e-16) + a
}
