/// A complex number in float64 (lgae.md §1: every learnable mixing weight and every node feature
/// is complex). Kept as a small local type so the LGAE module has no dependencies and so its
/// arithmetic, and therefore its rounding, is exactly what the hand-written backward passes
/// differentiate.
public struct Complex: Hashable, Sendable, CustomStringConvertible {
    public var re: Double
    public var im: Double

    @inlinable
    public init(_ re: Double, _ im: Double = 0) {
        self.re = re
        self.im = im
    }

    public static let zero = Complex(0, 0)
    public static let one = Complex(1, 0)
    public static let i = Complex(0, 1)
    /// The reference's degree-0 zonal function and decoder scalar input (§4.3, §6.2): ones in both
    /// the real and the imaginary slot.
    public static let onePlusI = Complex(1, 1)

    @inlinable public static func + (a: Complex, b: Complex) -> Complex { Complex(a.re + b.re, a.im + b.im) }
    @inlinable public static func - (a: Complex, b: Complex) -> Complex { Complex(a.re - b.re, a.im - b.im) }
    @inlinable public static prefix func - (a: Complex) -> Complex { Complex(-a.re, -a.im) }
    @inlinable public static func * (a: Complex, b: Complex) -> Complex {
        Complex(a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re)
    }
    @inlinable public static func * (a: Double, b: Complex) -> Complex { Complex(a * b.re, a * b.im) }
    @inlinable public static func += (a: inout Complex, b: Complex) { a = a + b }
    @inlinable public static func -= (a: inout Complex, b: Complex) { a = a - b }

    @inlinable public var conjugate: Complex { Complex(re, -im) }
    /// |z| = sqrt(re² + im²).
    @inlinable public var magnitude: Double { (re * re + im * im).squareRoot() }

    public var description: String {
        im.sign == .minus ? "\(re)\(im)j" : "\(re)+\(im)j"
    }
}
