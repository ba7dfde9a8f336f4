import XCTest
@testable import LGAE

/// The statistic of the equivariance stage (§11.4): small for an equivariant model, large for the
/// non-equivariant "norm" output rule, so the stage's numbers can fail.
final class EquivarianceSweepTests: XCTestCase {
    private func jets() -> [JetInput] {
        (0..<6).map { randomMassiveJet(slots: 30, real: 8 + 3 * $0, seed: UInt64(40 + $0)) }
    }

    func testDeviationIsAtRoundingLevelForTheModel() {
        let model = LGAEModel(config: LGAEConfig(aggregation: .minMax, latentVectorCount: 4), seed: 8)
        let probe = EquivarianceProbe(model: model, jets: jets(), batchSize: 4, threads: 2)
        let identity = probe.deviation(under: .boost(along: .z, rapidity: 0))
        XCTAssertEqual(identity, EquivarianceDeviation(output: 0, latentVectors: 0, latentScalars: 0))
        let boost = probe.deviation(under: .boost(along: .z, rapidity: 3))
        let rotation = probe.deviation(under: .rotation(about: .z, angle: 2.1))
        print("equivariance statistic: boost α=3 \(boost), rotation 2.1 \(rotation)")
        for d in [boost, rotation] {
            XCTAssertLessThan(d.output, 1e-10)
            XCTAssertLessThan(d.latentVectors, 1e-10)
            XCTAssertLessThan(d.latentScalars, 1e-10)
        }
    }

    func testDeviationIsLargeForAMatrixThatIsNotALorentzTransformation() {
        // Stretching px by 2 changes Minkowski products, and the model is not covariant under it:
        // the statistic must show that rather than average it away.
        let model = LGAEModel(config: LGAEConfig(aggregation: .mix, latentVectorCount: 2), seed: 9)
        let probe = EquivarianceProbe(model: model, jets: jets(), batchSize: 6, threads: 1)
        let stretch = LorentzTransformation(rows: [SIMD4(1, 0, 0, 0), SIMD4(0, 2, 0, 0), SIMD4(0, 0, 1, 0), SIMD4(0, 0, 0, 1)])
        let d = probe.deviation(under: stretch)
        XCTAssertGreaterThan(d.output, 1e-3)
        XCTAssertGreaterThan(d.latentScalars, 1e-3)
    }
}
