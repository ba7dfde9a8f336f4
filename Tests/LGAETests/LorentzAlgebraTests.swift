import XCTest
@testable import LGAE

/// The small hand checks of lgae.md §1, §3, §4 and §15.1.
final class LorentzAlgebraTests: XCTestCase {
    func testMinkowskiFormHasSignaturePlusMinusMinusMinus() {
        let a = LorentzVector(5, 1, 2, 3), b = LorentzVector(2, 1, 0, 1)
        XCTAssertEqual(minkowski(a, a), LorentzScalar(11), "η((5,1,2,3),(5,1,2,3)) = 25−1−4−9")
        XCTAssertEqual(minkowski(a, b), LorentzScalar(6), "η((5,1,2,3),(2,1,0,1)) = 10−1−0−3")
        XCTAssertEqual(minkowski(a.re, b.re), 6)
    }

    func testVectorTimesVectorKeepsOnlyHalfTheMinkowskiForm() {
        let a = LorentzVector(5, 1, 2, 3), b = LorentzVector(2, 1, 0, 1)
        XCTAssertEqual(clebschGordanScalar(a, a), LorentzScalar(5.5))
        XCTAssertEqual(clebschGordanScalar(a, b), LorentzScalar(3.0))
    }

    func testComplexMinkowskiFormIsBilinearWithoutConjugation() {
        // §3.1: v = (1+i, 0, 0, 1), v' = (1, 0, 0, i) gives ½((1+i)·1 − 1·i) = 0.5.
        let v = LorentzVector(Complex(1, 1), .zero, .zero, .one)
        let w = LorentzVector(.one, .zero, .zero, .i)
        XCTAssertEqual(clebschGordanScalar(v, w), LorentzScalar(0.5, 0))
        // With conjugation η(v, v) would be real and non-negative in the time part; bilinear it is (1+i)² − 1 = −1 + 2i.
        XCTAssertEqual(minkowski(v, v), LorentzScalar(-1, 2))
    }

    func testCanonicalBasisPreservesTheMinkowskiForm() {
        let c = LorentzVector(5, 1, 2, 3).canonicalComponents
        let r = 1 / 2.0.squareRoot()
        XCTAssertEqual(c[0], Complex(5, 0))
        XCTAssertEqual(c[1].re, r, accuracy: 1e-15)
        XCTAssertEqual(c[1].im, -2 * r, accuracy: 1e-15)
        XCTAssertEqual(c[2], Complex(3, 0))
        XCTAssertEqual(c[3].re, -r, accuracy: 1e-15)
        XCTAssertEqual(c[3].im, -2 * r, accuracy: 1e-15)
        let form = c[0] * c[0] + 2.0 * (c[1] * c[3]) - c[2] * c[2]
        XCTAssertEqual(form.re, 11, accuracy: 1e-13)
        XCTAssertEqual(form.im, 0, accuracy: 1e-13)
    }

    func testSignedNormIsASignedSquareRootWithTheSelfEdgeAt1e8() {
        XCTAssertEqual(signedMinkowskiNorm(intervalSquared: 0.25), 0.5, accuracy: 1e-15)
        XCTAssertEqual(signedMinkowskiNorm(intervalSquared: -0.25), -0.5, accuracy: 1e-15)
        XCTAssertEqual(signedMinkowskiNorm(intervalSquared: 0), 1e-8, accuracy: 1e-22)
    }

    func testLorentzianBellLosesTheIntervalSign() {
        let timelike = lorentzianBell(a: 0.1, b: 1, c: 2, norm: signedMinkowskiNorm(intervalSquared: 0.25))
        let spacelike = lorentzianBell(a: 0.1, b: 1, c: 2, norm: signedMinkowskiNorm(intervalSquared: -0.25))
        let selfEdge = lorentzianBell(a: 0.1, b: 1, c: 2, norm: signedMinkowskiNorm(intervalSquared: 0))
        XCTAssertEqual(timelike, 0.6, accuracy: 1e-15)
        XCTAssertEqual(spacelike, 0.6, accuracy: 1e-15)
        XCTAssertEqual(selfEdge, 1.1, accuracy: 1e-15)
    }

    func testBoostsAndRotationsPreserveTheComplexMinkowskiForm() {
        let v = LorentzVector(Complex(3, -1), Complex(0.5, 2), Complex(-1, 0.25), Complex(2, 1))
        let w = LorentzVector(Complex(1, 0.5), Complex(-0.3, 0.1), Complex(0.7, -2), Complex(0.2, 0.4))
        let before = minkowski(v, w)
        for axis in SpatialAxis.allCases {
            for transformation in [LorentzTransformation.boost(along: axis, rapidity: 1.3),
                                   LorentzTransformation.rotation(about: axis, angle: 2.1)] {
                let after = minkowski(transformation.apply(v), transformation.apply(w))
                XCTAssertEqual(after.value.re, before.value.re, accuracy: 1e-12, "axis \(axis)")
                XCTAssertEqual(after.value.im, before.value.im, accuracy: 1e-12, "axis \(axis)")
            }
        }
    }

    func testBoostAndRotationConventions() {
        // A particle at rest boosted with rapidity α moves along +axis with E = m cosh α.
        let moving = LorentzTransformation.boost(along: .z, rapidity: 0.5).apply(SIMD4<Double>(1, 0, 0, 0))
        XCTAssertEqual(moving[0], cosh(0.5), accuracy: 1e-15)
        XCTAssertEqual(moving[3], sinh(0.5), accuracy: 1e-15)
        // A right-handed quarter turn about z takes +x to +y, about x takes +y to +z, about y takes +z to +x.
        let quarter = Double.pi / 2
        let xToY = LorentzTransformation.rotation(about: .z, angle: quarter).apply(SIMD4<Double>(0, 1, 0, 0))
        XCTAssertEqual(xToY[2], 1, accuracy: 1e-15)
        let yToZ = LorentzTransformation.rotation(about: .x, angle: quarter).apply(SIMD4<Double>(0, 0, 1, 0))
        XCTAssertEqual(yToZ[3], 1, accuracy: 1e-15)
        let zToX = LorentzTransformation.rotation(about: .y, angle: quarter).apply(SIMD4<Double>(0, 0, 0, 1))
        XCTAssertEqual(zToX[1], 1, accuracy: 1e-15)
        // Composition applies the right factor first.
        let composed = LorentzTransformation.rotation(about: .z, angle: quarter) * LorentzTransformation.boost(along: .x, rapidity: 1)
        let viaSteps = LorentzTransformation.rotation(about: .z, angle: quarter)
            .apply(LorentzTransformation.boost(along: .x, rapidity: 1).apply(SIMD4<Double>(2, 0.1, 0.2, 0.3)))
        let direct = composed.apply(SIMD4<Double>(2, 0.1, 0.2, 0.3))
        for mu in 0..<4 { XCTAssertEqual(direct[mu], viaSteps[mu], accuracy: 1e-14) }
    }

    func testScalarTimesVectorIsComplexMultiplicationOfEachComponent() {
        let s = LorentzScalar(2, 1)
        let v = LorentzVector(Complex(1, 1), Complex(0, 1), Complex(3, 0), Complex(-1, 2))
        let product = s * v
        for mu in 0..<4 { XCTAssertEqual(product[mu], s.value * v[mu]) }
    }
}
