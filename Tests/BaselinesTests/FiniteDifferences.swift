import XCTest

// Finite-difference checks shared by the GNNAE and CNNAE gradient tests.

/// Central differences of `f` at the given indices of `x`, step `step`·max(1, |x|).
func centralDifferences(_ x: [Double], indices: [Int], step: Double = 1e-6, _ f: ([Double]) -> Double) -> [Double] {
    indices.map { index in
        var plus = x, minus = x
        let h = step * max(1, abs(x[index]))
        plus[index] += h
        minus[index] -= h
        return (f(plus) - f(minus)) / (2 * h)
    }
}

/// max |analytic − numeric| / max |numeric| over one gradient block (norm-wise, so a component tiny
/// against its block is not judged against its own rounding). Fails when the block is below
/// `minimumScale`, where the comparison would check nothing.
func relativeGradientError(_ analytic: [Double], _ numeric: [Double], minimumScale: Double = 1e-10,
                           file: StaticString = #filePath, line: UInt = #line) -> Double {
    XCTAssertEqual(analytic.count, numeric.count, file: file, line: line)
    let scale = numeric.map(abs).max() ?? 0
    XCTAssertGreaterThan(scale, minimumScale, "the gradient block is (numerically) zero, so the test would not check it",
                         file: file, line: line)
    return zip(analytic, numeric).map { abs($0 - $1) }.max()! / scale
}

func dot(_ a: [Double], _ b: [Double]) -> Double { zip(a, b).reduce(0) { $0 + $1.0 * $1.1 } }
