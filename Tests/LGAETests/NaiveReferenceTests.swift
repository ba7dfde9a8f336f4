import XCTest
@testable import LGAE

/// A deliberately naive LGAE written straight from the formulas of lgae.md §4–§6 with the typed
/// Lorentz API: every pair (i, j) evaluated separately, E1 = R_1·d formed before the CG product,
/// and the decoder run through the generic O(N²) edge loop with its all-zero edge mask. The
/// fused kernels (symmetric φ/R reuse, packed radial weights, the O(N) factorised decoder) must
/// agree with it to rounding.
struct NaiveLGAE {
    let model: LGAEModel
    var config: LGAEConfig { model.config }

    func weight(_ w: ComplexMatrixView, _ o: Int, _ c: Int) -> Complex {
        Complex(model.parameters[w.re + o * w.columns + c], model.parameters[w.im + o * w.columns + c])
    }

    func linear(_ l: LinearView, _ x: [Double]) -> [Double] {
        (0..<l.outputs).map { o in
            (0..<l.inputs).reduce(model.parameters[l.bias + o]) { $0 + model.parameters[l.weight + o * l.inputs + $1] * x[$1] }
        }
    }

    func mixScalars(_ w: ComplexMatrixView, _ x: [LorentzScalar]) -> [LorentzScalar] {
        (0..<w.rows).map { o in (0..<w.columns).reduce(LorentzScalar.zero) { $0 + weight(w, o, $1) * x[$1] } }
    }

    func mixVectors(_ w: ComplexMatrixView, _ x: [LorentzVector]) -> [LorentzVector] {
        (0..<w.rows).map { o in (0..<w.columns).reduce(LorentzVector.zero) { $0 + weight(w, o, $1) * x[$1] } }
    }

    func mlp(_ layers: [LinearView], _ s: [LorentzScalar]) -> [LorentzScalar] {
        var x = s.flatMap { [$0.value.re, $0.value.im] }
        for (j, layer) in layers.enumerated() {
            x = linear(layer, x)
            if j + 1 < layers.count { x = x.map { $0 > 0 ? $0 : config.leakyReLUSlope * $0 } }
        }
        return (0..<s.count).map { LorentzScalar(x[2 * $0], x[2 * $0 + 1]) }
    }

    /// One LMP level. `live(i, j)` is the edge mask; `skipDead` drops non-live edges (clean mode).
    func level(_ level: LMPLevelParameters, scalars S: [[LorentzScalar]], vectors V: [[LorentzVector]],
               positions x: [LorentzVector], live: (Int, Int) -> Bool, skipDead: Bool, decoder: Bool)
        -> (scalars: [[LorentzScalar]], vectors: [[LorentzVector]]) {
        let n = S.count, cin = level.inputChannels
        let p = model.parameters
        var outS: [[LorentzScalar]] = [], outV: [[LorentzVector]] = []
        for i in 0..<n {
            var as2 = [LorentzScalar](repeating: .zero, count: cin), as1 = as2
            var av2 = [LorentzVector](repeating: .zero, count: cin), av1 = av2
            for j in 0..<n {
                let isLive = live(i, j)
                if skipDead && !isLive { continue }
                let d = x[i] - x[j]
                let phi: [Double] = (0..<level.bells.count).map { k in
                    guard isLive else { return 0 }
                    let norm = signedMinkowskiNorm(intervalSquared: minkowski(d, d).value.re)
                    return lorentzianBell(a: p[level.bells.a + k], b: p[level.bells.b + k], c: p[level.bells.c + k], norm: norm)
                }
                let l0 = linear(level.radialScalar, phi), l1 = linear(level.radialVector, phi)
                for c in 0..<cin {
                    let r0: Complex, r1: Complex
                    if decoder {
                        // L applied to φ of the real and of the imaginary part of a complex norm.
                        r0 = Complex(l0[c], l0[c])
                        r1 = Complex(l1[c], l1[c])
                    } else {
                        r0 = Complex(l0[2 * c], l0[2 * c + 1])
                        r1 = Complex(l1[2 * c], l1[2 * c + 1])
                    }
                    let e0 = LorentzScalar(r0 * Complex.onePlusI)
                    let e1 = r1 * d
                    as2[c] += clebschGordanScalar(V[j][c], e1)
                    as1[c] += S[j][c] * e0
                    av2[c] += e0 * V[j][c]
                    av1[c] += S[j][c] * e1
                }
            }
            let qs2 = (0..<cin).map { clebschGordanScalar(V[i][$0], V[i][$0]) }
            let qs1 = (0..<cin).map { S[i][$0] * S[i][$0] }
            let qv = (0..<cin).map { S[i][$0] * V[i][$0] }
            let catS = as2 + as1 + S[i] + qs2 + qs1
            let catV = av2 + av1 + V[i] + qv + qv
            outS.append(mlp(level.mlp, mixScalars(level.mixScalar, catS)))
            outV.append(mixVectors(level.mixVector, catV))
        }
        return (outS, outV)
    }

    func encode(_ jet: JetInput) -> Latent {
        let n = config.particleCount
        let clean = config.mode == .clean
        let enc = model.layout.encoder
        let x = (0..<n).map { LorentzVector(re: jet.particle($0)) }
        let mask = jet.mask
        func zeroPadded(_ s: inout [[LorentzScalar]], _ v: inout [[LorentzVector]]) {
            guard clean else { return }
            for i in 0..<n where !mask[i] {
                s[i] = s[i].map { _ in .zero }
                v[i] = v[i].map { _ in .zero }
            }
        }
        var S = (0..<n).map { i -> [LorentzScalar] in
            let m = LorentzScalar(abs(minkowski(x[i], x[i]).value.re).squareRoot())
            return mixScalars(enc.embedScalar, [m])
        }
        var V = (0..<n).map { mixVectors(enc.embedVector, [x[$0]]) }
        zeroPadded(&S, &V)
        for lvl in enc.levels {
            (S, V) = level(lvl, scalars: S, vectors: V, positions: x, live: { mask[$0] && mask[$1] }, skipDead: clean, decoder: false)
            zeroPadded(&S, &V)
        }
        let eligible = (0..<n).filter { !clean || mask[$0] }
        switch config.aggregation {
        case .mix:
            return Latent(scalars: mixScalars(enc.latentScalar, S.flatMap { $0 }), vectors: mixVectors(enc.latentVector, V.flatMap { $0 }))
        case .mean:
            let zs = S.map { mixScalars(enc.latentScalar, $0)[0] }, zv = V.map { mixVectors(enc.latentVector, $0) }
            let scale = 1 / Double(eligible.count)
            return Latent(scalars: [scale * eligible.reduce(LorentzScalar.zero) { $0 + zs[$1] }],
                          vectors: (0..<config.latentVectorCount).map { q in scale * eligible.reduce(LorentzVector.zero) { $0 + zv[$1][q] } })
        case .minMax:
            let zs = S.map { mixScalars(enc.latentScalar, $0)[0] }, zv = V.map { mixVectors(enc.latentVector, $0) }
            func pick(_ key: (Int) -> Double, largest: Bool) -> Int {
                var best = eligible[0]
                for i in eligible where largest ? key(i) > key(best) : key(i) < key(best) { best = i }
                return best
            }
            let minS = LorentzScalar(zs[pick({ zs[$0].value.re }, largest: false)].value.re, zs[pick({ zs[$0].value.im }, largest: false)].value.im)
            let maxS = LorentzScalar(zs[pick({ pow(zs[$0].value.re, 2) }, largest: true)].value.re,
                                     zs[pick({ pow(zs[$0].value.im, 2) }, largest: true)].value.im)
            func vector(_ q: Int, largest: Bool) -> LorentzVector {
                let re = pick({ minkowski(zv[$0][q].re, zv[$0][q].re) }, largest: largest)
                let im = pick({ minkowski(zv[$0][q].im, zv[$0][q].im) }, largest: largest)
                return LorentzVector(re: zv[re][q].re, im: zv[im][q].im)
            }
            let k = config.latentVectorCount
            return Latent(scalars: [minS, maxS], vectors: (0..<k).map { vector($0, largest: false) } + (0..<k).map { vector($0, largest: true) })
        }
    }

    func decodeComplex(_ latent: Latent) -> [LorentzVector] {
        let n = config.particleCount
        let dec = model.layout.decoder
        let positions = mixVectors(dec.latentVector, latent.vectors)
        var S = (0..<n).map { _ in mixScalars(dec.embedScalar, [LorentzScalar(Complex.onePlusI)]) }
        var V = (0..<n).map { mixVectors(dec.embedVector, [positions[$0]]) }
        for lvl in dec.levels {
            (S, V) = level(lvl, scalars: S, vectors: V, positions: positions, live: { _, _ in false }, skipDead: false, decoder: true)
        }
        return V.map { mixVectors(dec.outputVector, $0)[0] }
    }
}

final class NaiveReferenceTests: XCTestCase {
    private func compare(_ config: LGAEConfig, jet: JetInput, seed: UInt64, file: StaticString = #filePath, line: UInt = #line) {
        let model = LGAEModel(config: config, seed: seed)
        let naive = NaiveLGAE(model: model)
        let (latent, _) = model.encode(jet)
        let naiveLatent = naive.encode(jet)
        XCTAssertLessThan(maxRelativeDeviation(latent.flatVectors, naiveLatent.flatVectors), 1e-12,
                          "latent vectors, \(config.aggregation) \(config.mode)", file: file, line: line)
        XCTAssertLessThan(maxRelativeDeviation(latent.flatScalars, naiveLatent.flatScalars), 1e-12,
                          "latent scalars, \(config.aggregation) \(config.mode)", file: file, line: line)
        let (_, cache) = model.decode(latent)
        let naiveOutput = naive.decodeComplex(latent)
        XCTAssertLessThan(maxRelativeDeviation(cache.complexOutput.flat, naiveOutput.flatMap(\.flat)), 1e-12,
                          "decoder output, \(config.aggregation) \(config.mode)", file: file, line: line)
    }

    func testFusedEncoderAndFactorisedDecoderAgreeWithNaiveFormulasInFaithfulMode() {
        let jet = randomMassiveJet(slots: 30, real: 21, seed: 11)
        for aggregation in LatentAggregation.allCases {
            compare(LGAEConfig(aggregation: aggregation, latentVectorCount: 3, mode: .faithful), jet: jet, seed: 3)
        }
    }

    func testFusedEncoderAgreesWithNaiveFormulasInCleanMode() {
        let jet = randomMassiveJet(slots: 30, real: 17, seed: 12)
        for aggregation in LatentAggregation.allCases {
            compare(LGAEConfig(aggregation: aggregation, latentVectorCount: 2, mode: .clean), jet: jet, seed: 4)
        }
    }

    func testFusedKernelsHandleOddBellCountsAndWideLevels() {
        // K = 6 is not a multiple of the 4-wide bell blocks, and C = 5 makes 4C = 20 radial
        // outputs, i.e. two 16-wide blocks with padding.
        let config = LGAEConfig(particleCount: 7, encoderChannels: [5, 5, 2], decoderChannels: [3, 5, 1], basisFunctionCount: 3,
                                mlpDepth: 2, mlpWidthMultiplier: 3, aggregation: .minMax, latentVectorCount: 2)
        compare(config, jet: randomMassiveJet(slots: 7, real: 5, seed: 13), seed: 6)
        var clean = config
        clean.mode = .clean
        compare(clean, jet: randomMassiveJet(slots: 7, real: 5, seed: 14), seed: 7)
    }

    func testNaiveFormulasReproduceTheGoldenLatent() {
        // Ties the naive reference itself to the spec's golden numbers.
        var model = LGAEModel(config: GoldenWeights.config(.minMax), seed: 0)
        GoldenWeights.fill(&model)
        let latent = NaiveLGAE(model: model).encode(GoldenWeights.jet)
        var golden = PrintedValueChecker()
        golden.check(latent.scalars[1].value, "0.22933858−0.0345661692j", "naive latent scalar max")
        golden.check(latent.vectors[0][0], "0.0562890291−0.0696809086j", "naive latent vector min, E")
    }
}
