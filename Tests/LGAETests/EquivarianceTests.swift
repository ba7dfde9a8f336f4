import XCTest
@testable import LGAE

/// Lorentz equivariance of the whole model (lgae.md §4.8, §11.4, §15.1): with per-jet
/// normalisation off and massive test particles, LGAE(Λp) = Λ·LGAE(p) for boosts up to rapidity 3
/// and for rotations, measured as max|A − B| / max|B| over the whole tensor. The paper reports
/// boost deviations ≲ 1e-3 up to rapidity 10 and rotations at machine precision; the spec's
/// Cartesian re-implementation reached ~1e-13 at rapidity 3, and §15.1 asks for 1e-12.
final class EquivarianceTests: XCTestCase {
    private static let tolerance = 1e-12

    private static var transformations: [(String, LorentzTransformation)] {
        var list: [(String, LorentzTransformation)] = []
        for axis in SpatialAxis.allCases {
            for rapidity in [0.4, 1.0, 2.0, 3.0] {
                list.append(("boost along \(axis) rapidity \(rapidity)", .boost(along: axis, rapidity: rapidity)))
            }
            for angle in [0.7, 2 * Double.pi / 25 * 7, 3.9] {
                list.append(("rotation about \(axis) by \(angle)", .rotation(about: axis, angle: angle)))
            }
        }
        let general = LorentzTransformation.boost(along: .x, rapidity: 1.1) * LorentzTransformation.rotation(about: .y, angle: 0.8)
            * LorentzTransformation.boost(along: .z, rapidity: -2.2)
        list.append(("boost x 1.1 · rotation y 0.8 · boost z −2.2", general))
        return list
    }

    private func checkEquivariance(_ config: LGAEConfig, jet: JetInput, seed: UInt64) {
        let model = LGAEModel(config: config, seed: seed)
        let (latent, _) = model.encode(jet)
        let (output, cache) = model.decode(latent)
        let complexOutput = (0..<config.particleCount).map { cache.complexOutput[$0, 0] }
        var worst = (latent: 0.0, scalars: 0.0, complexOutput: 0.0, output: 0.0)
        for (name, transformation) in Self.transformations {
            let (transformedLatent, _) = model.encode(jet.transformed(by: transformation))
            let latentDeviation = maxRelativeDeviation(transformedLatent.flatVectors, latent.transformed(by: transformation).flatVectors)
            let scalarDeviation = maxRelativeDeviation(transformedLatent.flatScalars, latent.flatScalars)
            let (transformedOutput, transformedCache) = model.decode(transformedLatent)
            let expectedComplex = complexOutput.map { transformation.apply($0) }.flatMap(\.flat)
            let complexDeviation = maxRelativeDeviation(transformedCache.complexOutput.flat, expectedComplex)
            let expectedReal = (0..<config.particleCount).flatMap { n -> [Double] in
                let v = transformation.apply(SIMD4(output[4 * n], output[4 * n + 1], output[4 * n + 2], output[4 * n + 3]))
                return [v[0], v[1], v[2], v[3]]
            }
            let realDeviation = maxRelativeDeviation(transformedOutput, expectedReal)
            let label = "\(config.aggregation) \(config.mode) \(config.complexToReal), \(name)"
            XCTAssertLessThan(latentDeviation, Self.tolerance, "latent vectors must transform as 4-vectors: \(label)")
            XCTAssertLessThan(scalarDeviation, Self.tolerance, "latent scalars must be invariant: \(label)")
            XCTAssertLessThan(complexDeviation, Self.tolerance, "complex output must transform as 4-vectors: \(label)")
            XCTAssertLessThan(realDeviation, Self.tolerance, "real output (\(config.complexToReal)) must transform as 4-vectors: \(label)")
            worst = (max(worst.latent, latentDeviation), max(worst.scalars, scalarDeviation),
                     max(worst.complexOutput, complexDeviation), max(worst.output, realDeviation))
        }
        print("equivariance \(config.aggregation) \(config.mode) \(config.complexToReal): worst max-relative deviation latent vectors \(worst.latent), latent scalars \(worst.scalars), complex output \(worst.complexOutput), real output \(worst.output)")
    }

    func testMinMaxModelCommutesWithBoostsAndRotations() {
        checkEquivariance(LGAEConfig(aggregation: .minMax, latentVectorCount: 4, complexToReal: .sum),
                          jet: randomMassiveJet(slots: 30, real: 24, seed: 21), seed: 1)
    }

    func testMixModelCommutesWithBoostsAndRotations() {
        checkEquivariance(LGAEConfig(aggregation: .mix, latentVectorCount: 9, complexToReal: .real),
                          jet: randomMassiveJet(slots: 30, real: 30, seed: 22), seed: 2)
    }

    func testCleanMeanModelCommutesWithBoostsAndRotations() {
        checkEquivariance(LGAEConfig(aggregation: .mean, latentVectorCount: 2, complexToReal: .sum, mode: .clean),
                          jet: randomMassiveJet(slots: 30, real: 13, seed: 23), seed: 3)
    }

    func testNormRuleIsNotEquivariant() {
        // §6.6: "norm" = sqrt(re² + im²) per component breaks equivariance; the property test
        // above would catch a model that silently ignored the rule.
        let config = LGAEConfig(aggregation: .mix, latentVectorCount: 2, complexToReal: .norm)
        let model = LGAEModel(config: config, seed: 5)
        let jet = randomMassiveJet(slots: 30, real: 20, seed: 24)
        let boost = LorentzTransformation.boost(along: .z, rapidity: 1)
        let output = model.reconstruct(jet)
        let boosted = model.reconstruct(jet.transformed(by: boost))
        let expected = (0..<30).flatMap { n -> [Double] in
            let v = boost.apply(SIMD4(output[4 * n], output[4 * n + 1], output[4 * n + 2], output[4 * n + 3]))
            return [v[0], v[1], v[2], v[3]]
        }
        XCTAssertGreaterThan(maxRelativeDeviation(boosted, expected), 1e-3)
    }

    func testDeviationGrowsOnlySlowlyUpToTheLargestBoostOfThePaper() {
        // §11.4 / App. C: rapidity up to 10 (γ ≈ 1.1e4) with TeV-scale massive particles. The
        // paper's bound is δ ≲ 1e-3 for its own measure |mean(A − B)/mean(B)|; the stricter
        // max-relative measure is checked against the same bound here.
        let config = LGAEConfig(aggregation: .minMax, latentVectorCount: 4, complexToReal: .sum)
        let model = LGAEModel(config: config, seed: 9)
        let jet = randomMassiveJet(slots: 30, real: 25, seed: 25)
        let (latent, _) = model.encode(jet)
        let (_, cache) = model.decode(latent)
        var report: [String] = []
        for rapidity in stride(from: 0.0, through: 10.0, by: 2.0) {
            let boost = LorentzTransformation.boost(along: .z, rapidity: rapidity)
            let (boostedLatent, _) = model.encode(jet.transformed(by: boost))
            let (_, boostedCache) = model.decode(boostedLatent)
            let a = boostedCache.complexOutput.flat
            let b = (0..<30).flatMap { boost.apply(cache.complexOutput[$0, 0]).flat }
            let deviation = maxRelativeDeviation(a, b)
            let meanDifference = zip(a, b).map { $0 - $1 }.reduce(0, +) / Double(a.count)
            let paperDelta = abs(meanDifference / (b.reduce(0, +) / Double(b.count)))
            report.append(String(format: "α=%.0f: max-rel %.1e, paper δ %.1e", rapidity, deviation, paperDelta))
            XCTAssertLessThan(deviation, 1e-3, "boost rapidity \(rapidity)")
        }
        print("boost deviation vs rapidity: " + report.joined(separator: "; "))
    }
}
