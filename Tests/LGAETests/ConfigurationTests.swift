import XCTest
@testable import LGAE

/// Parameter counts (§7.3), compression rates (§5.4), the named layout and initialisation (§7).
final class ConfigurationTests: XCTestCase {
    func testParameterCountsMatchTheReferenceForTheDefaultConfig() {
        let minMax = ParameterLayout(config: LGAEConfig(aggregation: .minMax, latentVectorCount: 4))
        XCTAssertEqual(minMax.encoderCount, 34_114)
        XCTAssertEqual(minMax.decoderCount, 28_862)
        let mix = ParameterLayout(config: LGAEConfig(aggregation: .mix, latentVectorCount: 9))
        XCTAssertEqual(mix.encoderCount, 36_474)
        XCTAssertEqual(mix.decoderCount, 28_862)
    }

    func testParameterCountsFollowTheReferenceFormulasForEveryK() {
        for k in [1, 2, 3, 4, 7, 9, 13, 20] {
            let minMax = ParameterLayout(config: LGAEConfig(aggregation: .minMax, latentVectorCount: k))
            XCTAssertEqual(minMax.encoderCount, 34_082 + 8 * k, "min-max encoder, k = \(k)")
            XCTAssertEqual(minMax.decoderCount, 28_382 + 120 * k, "min-max decoder, k = \(k)")
            let mix = ParameterLayout(config: LGAEConfig(aggregation: .mix, latentVectorCount: k))
            XCTAssertEqual(mix.encoderCount, 34_314 + 240 * k, "mix encoder, k = \(k)")
            XCTAssertEqual(mix.decoderCount, 28_322 + 60 * k, "mix decoder, k = \(k)")
            // Mean aggregation has min-max's per-particle projection and mix's latent size.
            let mean = ParameterLayout(config: LGAEConfig(aggregation: .mean, latentVectorCount: k))
            XCTAssertEqual(mean.encoderCount, 34_082 + 8 * k, "mean encoder, k = \(k)")
            XCTAssertEqual(mean.decoderCount, 28_322 + 60 * k, "mean decoder, k = \(k)")
        }
    }

    func testParameterBreakdownMatchesSection7() {
        let layout = ParameterLayout(config: LGAEConfig())
        func total(_ prefix: String, _ contains: String = "") -> Int {
            layout.blocks.filter { $0.name.hasPrefix(prefix) && (contains.isEmpty || $0.name.contains(contains)) }.map(\.count).reduce(0, +)
        }
        XCTAssertEqual(total("encoder.W0"), 12)
        XCTAssertEqual(total("encoder.level", ".bell.") + total("encoder.level", ".radial."), 1_020)
        XCTAssertEqual(total("encoder.level", ".mix."), 740)
        XCTAssertEqual(total("encoder.level", ".mlp."), 32_302)
        XCTAssertEqual(total("decoder.W0"), 16)
        XCTAssertEqual(total("decoder.level", ".bell.") + total("decoder.level", ".radial."), 642)
        XCTAssertEqual(total("decoder.level", ".mix."), 740)
        XCTAssertEqual(total("decoder.level", ".mlp."), 26_852)
        XCTAssertEqual(total("decoder.out"), 12)
        // Three LMP levels each side, not four (§5.2 QUIRK).
        XCTAssertEqual(layout.encoder.levels.map(\.inputChannels), [3, 3, 4])
        XCTAssertEqual(layout.encoder.levels.map(\.outputChannels), [3, 4, 4])
        XCTAssertEqual(layout.decoder.levels.map(\.inputChannels), [4, 4, 3])
        XCTAssertEqual(layout.decoder.levels.map(\.outputChannels), [4, 3, 3])
        // The MLP: 2C → 12C, five 12C → 12C, 12C → 2C.
        XCTAssertEqual(layout.encoder.levels[2].mlp.map(\.outputs), [48, 48, 48, 48, 48, 48, 8])
    }

    func testLayoutBlocksTileTheBufferWithEncoderFirst() {
        let layout = ParameterLayout(config: LGAEConfig())
        var offset = 0
        for block in layout.blocks {
            XCTAssertEqual(block.offset, offset, "block \(block.name) must follow its predecessor")
            offset += block.count
        }
        XCTAssertEqual(offset, layout.count)
        XCTAssertTrue(layout.blocks.filter { $0.offset < layout.encoderCount }.allSatisfy { $0.name.hasPrefix("encoder.") })
        XCTAssertTrue(layout.blocks.filter { $0.offset >= layout.encoderCount }.allSatisfy { $0.name.hasPrefix("decoder.") })
        XCTAssertEqual(Set(layout.blocks.map(\.name)).count, layout.blocks.count, "block names are unique")
        let w0 = layout.block(named: "encoder.W0.s.re")
        XCTAssertEqual(w0.shape, [3, 1])
        XCTAssertEqual(w0.offset, layout.encoder.embedScalar.re)
        XCTAssertEqual(layout.block(named: "decoder.level1.mlp.6.weight").shape, [6, 36])
        XCTAssertEqual(layout.block(named: "encoder.level0.radial.v.weight").shape, [6, 20])
        XCTAssertEqual(layout.block(named: "decoder.level0.radial.v.weight").shape, [4, 20])
    }

    func testCompressionRatesMatchEveryRowOfThePaperTable() {
        let rows: [(LatentAggregation, Int, String)] = [
            (.minMax, 2, "30.00"), (.minMax, 4, "56.67"), (.minMax, 7, "96.67"),
            (.mix, 2, "15.00"), (.mix, 4, "28.33"), (.mix, 7, "48.33"), (.mix, 9, "61.67"), (.mix, 13, "88.33"),
        ]
        for (aggregation, k, paper) in rows {
            let rate = compressionRate(aggregation: aggregation, latentVectorCount: k)
            XCTAssertEqual(String(format: "%.2f", 100 * rate), paper, "\(aggregation) k = \(k)")
            XCTAssertEqual(LGAEConfig(aggregation: aggregation, latentVectorCount: k).compressionRate, rate)
        }
        XCTAssertEqual(compressionRate(aggregation: .minMax, latentVectorCount: 4), 68.0 / 120.0)
    }

    func testGeneratorMatchesTheProjectXoshiroReferenceValues() {
        // The same generator as JetData's Xoshiro256StarStar: seed 0 first output 0x99ec5f36cb75f2b4.
        var rng = ParameterRandom(seed: 0)
        XCTAssertEqual(rng.next(), 0x99ec_5f36_cb75_f2b4)
    }

    func testInitialisationHasTheSpreadsOfSection7() {
        let model = LGAEModel(config: LGAEConfig(aggregation: .mix, latentVectorCount: 9), seed: 7)
        let p = model.parameters
        func values(_ name: String) -> [Double] { Array(p[model.layout.block(named: name).range]) }
        func std(_ x: [Double]) -> Double {
            let mean = x.reduce(0, +) / Double(x.count)
            return (x.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(x.count)).squareRoot()
        }
        // Mix latent 120 → k: σ = 1/120 (scalars) and 1/1200 (vectors); 2·1080 draws for the vectors.
        let latentVectors = values("encoder.latent.v.re") + values("encoder.latent.v.im")
        XCTAssertEqual(std(latentVectors), 1.0 / 1200, accuracy: 0.1 / 1200)
        let latentScalars = values("encoder.latent.s.re") + values("encoder.latent.s.im")
        XCTAssertEqual(std(latentScalars), 1.0 / 120, accuracy: 0.2 / 120)
        // MLP Linear 48 → 48: U(±1/sqrt(48)), σ = bound/sqrt(3).
        let mlp = values("encoder.level2.mlp.3.weight")
        let bound = 1 / 48.0.squareRoot()
        XCTAssertLessThanOrEqual(mlp.map(abs).max()!, bound)
        XCTAssertEqual(std(mlp), bound / 3.0.squareRoot(), accuracy: 0.05 * bound)
        // Bells N(0, 1).
        let bells = (0..<3).flatMap { values("encoder.level\($0).bell.a") + values("encoder.level\($0).bell.b") + values("encoder.level\($0).bell.c") }
        XCTAssertEqual(std(bells), 1, accuracy: 0.15)
        // Reproducible from the seed, different for another seed.
        XCTAssertEqual(LGAEModel(config: model.config, seed: 7).parameters, p)
        XCTAssertNotEqual(LGAEModel(config: model.config, seed: 8).parameters, p)
    }

    func testInvalidConfigurationsAreRejectedWithTheFieldNamed() {
        XCTAssertThrowsError(try LGAEConfig(latentVectorCount: 0).validate()) { error in
            XCTAssertTrue("\(error)".contains("latentVectorCount"), "\(error)")
        }
        XCTAssertThrowsError(try LGAEConfig(encoderChannels: []).validate())
        XCTAssertThrowsError(try LGAEConfig(mlpDepth: 0).validate())
        XCTAssertNoThrow(try LGAEConfig().validate())
    }
}
