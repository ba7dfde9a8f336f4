import Foundation
import XCTest
@testable import LGAE

/// Permutation symmetry and padding behaviour (lgae.md §4.8, §5.3, §14.4), and cache reuse.
final class PermutationTests: XCTestCase {
    private func permutation(_ count: Int, seed: UInt64) -> [Int] {
        var rng = TestRandom(seed)
        var p = Array(0..<count)
        for i in stride(from: count - 1, to: 0, by: -1) { p.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
        return p
    }

    private func assertMinMaxLatentInvariant(_ config: LGAEConfig, _ jet: JetInput, permutation: [Int], _ what: String) {
        let model = LGAEModel(config: config, seed: 31)
        let (latent, cache) = model.encode(jet)
        let (permutedLatent, permutedCache) = model.encode(jet.permuted(by: permutation))
        XCTAssertLessThan(maxRelativeDeviation(permutedLatent.flatVectors, latent.flatVectors), 1e-13, "latent vectors, \(what)")
        XCTAssertLessThan(maxRelativeDeviation(permutedLatent.flatScalars, latent.flatScalars), 1e-13, "latent scalars, \(what)")
        // The same particle is selected, under its new slot number; padded particles are all
        // identical (zero momentum, identical messages), so among them any one may win the tie.
        for q in 0..<config.latentVectorCount {
            for (before, after) in [(cache.selection.vectorMin[q], permutedCache.selection.vectorMin[q]),
                                    (cache.selection.vectorMax[q], permutedCache.selection.vectorMax[q])] {
                if jet.mask[before.re] {
                    XCTAssertEqual(permutation[after.re], before.re, "selection of vector \(q), \(what)")
                } else {
                    XCTAssertFalse(jet.mask[permutation[after.re]], "a padded particle's selection must stay padded: vector \(q), \(what)")
                }
            }
        }
    }

    func testMinMaxLatentIsInvariantUnderPermutingRealParticlesWithoutPadding() {
        let jet = randomMassiveJet(slots: 30, real: 30, seed: 41)
        assertMinMaxLatentInvariant(LGAEConfig(aggregation: .minMax, mode: .faithful), jet,
                                    permutation: permutation(30, seed: 1), "faithful, no padding")
    }

    func testMinMaxLatentIsInvariantUnderPermutingSlotsWithMasksAlong() {
        let jet = randomMassiveJet(slots: 30, real: 18, seed: 42)
        for mode in PaddingMode.allCases {
            assertMinMaxLatentInvariant(LGAEConfig(aggregation: .minMax, mode: mode), jet,
                                        permutation: permutation(30, seed: 2), "\(mode), 12 padded slots permuted along")
        }
    }

    func testMeanLatentIsInvariantUnderPermutation() {
        let jet = randomMassiveJet(slots: 30, real: 22, seed: 43)
        let model = LGAEModel(config: LGAEConfig(aggregation: .mean, mode: .clean), seed: 32)
        let latent = model.encode(jet).latent
        let permuted = model.encode(jet.permuted(by: permutation(30, seed: 3))).latent
        XCTAssertLessThan(maxRelativeDeviation(permuted.flatVectors, latent.flatVectors), 1e-13)
    }

    func testCleanModeLatentDoesNotDependOnPaddingSlotsOrTheirContents() {
        // The min-max encoder's parameters do not depend on N, so the same weights encode the same
        // 9 real particles padded to 12 or to 30 slots.
        let config30 = LGAEConfig(particleCount: 30, aggregation: .minMax, mode: .clean)
        var config12 = config30
        config12.particleCount = 12
        let model30 = LGAEModel(config: config30, seed: 33)
        var parameters12 = LGAEModel(config: config12, seed: 0).parameters
        parameters12.replaceSubrange(0..<model30.layout.encoderCount, with: model30.parameters[0..<model30.layout.encoderCount])
        let model12 = LGAEModel(config: config12, parameters: parameters12)
        let jet30 = randomMassiveJet(slots: 30, real: 9, seed: 44)
        var jet12 = JetInput(p4: Array(jet30.p4[0..<48]), mask: Array(jet30.mask[0..<12]))
        let latent30 = model30.encode(jet30).latent
        XCTAssertLessThan(maxRelativeDeviation(model12.encode(jet12).latent.flatVectors, latent30.flatVectors), 1e-13,
                          "clean mode: the number of padded slots must not matter")
        // Garbage in a padded slot is ignored in clean mode.
        jet12.p4[4 * 10 ..< 4 * 11] = [0.3, 0.1, -0.1, 0.2]
        XCTAssertLessThan(maxRelativeDeviation(model12.encode(jet12).latent.flatVectors, latent30.flatVectors), 1e-13,
                          "clean mode: the contents of padded slots must not matter")

        // Faithful mode: padded particles interact through the radial bias (QUIRK), so the
        // number of padded slots changes the latent.
        var faithful30 = config30, faithful12 = config12
        faithful30.mode = .faithful
        faithful12.mode = .faithful
        let faithfulLatent30 = LGAEModel(config: faithful30, parameters: model30.parameters).encode(jet30).latent
        let faithfulLatent12 = LGAEModel(config: faithful12, parameters: parameters12)
            .encode(JetInput(p4: Array(jet30.p4[0..<48]), mask: Array(jet30.mask[0..<12]))).latent
        XCTAssertGreaterThan(maxRelativeDeviation(faithfulLatent12.flatVectors, faithfulLatent30.flatVectors), 1e-6)
    }

    func testReusedCachesGiveTheSameResultsAsFreshOnes() {
        let config = LGAEConfig(aggregation: .minMax, latentVectorCount: 4)
        let model = LGAEModel(config: config, seed: 34)
        let encoderCache = model.makeEncoderCache(), decoderCache = model.makeDecoderCache()
        let jets = (0..<12).map { randomMassiveJet(slots: 30, real: 6 + 2 * $0, seed: 100 + UInt64($0)) }
        // Also a rough forward throughput for this build configuration (printed, not asserted:
        // timings on a shared machine are noise, style.md).
        let start = DispatchTime.now().uptimeNanoseconds
        for jet in jets { model.reconstruct(jet, encoderCache: encoderCache, decoderCache: decoderCache) }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
        print("reconstruct (encode + decode), default config, reused caches: \(Int(Double(jets.count) / seconds)) jets/s wall")
        let last = jets[jets.count - 1]
        XCTAssertEqual(decoderCache.output.array, model.reconstruct(last), "a reused cache must not leak earlier jets")
        XCTAssertEqual(encoderCache.latent, model.encode(last).latent)
    }
}
