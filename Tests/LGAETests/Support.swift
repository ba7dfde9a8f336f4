import Foundation
import XCTest
@testable import LGAE

/// The deterministic weight scheme of lgae.md §15.2, written through the typed layout views.
enum GoldenWeights {
    static func fill(_ model: inout LGAEModel) {
        let layout = model.layout
        var p = model.parameters
        complex(layout.encoder.embedScalar, g: 1, r: 0, &p)
        complex(layout.encoder.embedVector, g: 1, r: 1, &p)
        levels(layout.encoder.levels, base: 0, &p)
        complex(layout.encoder.latentScalar, g: 90, r: 0, &p)
        complex(layout.encoder.latentVector, g: 90, r: 1, &p)
        complex(layout.decoder.latentScalar, g: 100, r: 0, &p)
        complex(layout.decoder.latentVector, g: 100, r: 1, &p)
        complex(layout.decoder.embedScalar, g: 101, r: 0, &p)
        complex(layout.decoder.embedVector, g: 101, r: 1, &p)
        levels(layout.decoder.levels, base: 100, &p)
        complex(layout.decoder.outputScalar, g: 190, r: 0, &p)
        complex(layout.decoder.outputVector, g: 190, r: 1, &p)
        model.parameters = p
    }

    /// Re W[o,c] = 0.3·cos(0.37o + 0.71c + g + 0.5r), Im W[o,c] = 0.3·sin(0.53o − 0.29c + g + 0.5r), 1-based.
    static func complex(_ w: ComplexMatrixView, g: Double, r: Double, _ p: inout [Double]) {
        for o in 1...w.rows {
            for c in 1...w.columns {
                let index = (o - 1) * w.columns + (c - 1)
                p[w.re + index] = 0.3 * cos(0.37 * Double(o) + 0.71 * Double(c) + g + 0.5 * r)
                p[w.im + index] = 0.3 * sin(0.53 * Double(o) - 0.29 * Double(c) + g + 0.5 * r)
            }
        }
    }

    /// W[o,c] = 0.4·sin(0.61o + 0.43c + g), b[o] = 0.1·cos(0.9o + g), 1-based.
    static func linear(_ l: LinearView, g: Double, _ p: inout [Double]) {
        for o in 1...l.outputs {
            for c in 1...l.inputs {
                p[l.weight + (o - 1) * l.inputs + (c - 1)] = 0.4 * sin(0.61 * Double(o) + 0.43 * Double(c) + g)
            }
            p[l.bias + o - 1] = 0.1 * cos(0.9 * Double(o) + g)
        }
    }

    static func levels(_ levels: [LMPLevelParameters], base: Double, _ p: inout [Double]) {
        for (t, level) in levels.enumerated() {
            let g = base + 10 * Double(t + 1)
            for k in 0..<level.bells.count {
                let x = Double(k)
                p[level.bells.a + k] = 0.2 * cos(x + g)
                p[level.bells.b + k] = 1 + 0.5 * sin(x + g)
                p[level.bells.c + k] = 0.8 + 0.3 * cos(2 * x + g)
            }
            linear(level.radialScalar, g: g + 1, &p)
            linear(level.radialVector, g: g + 2, &p)
            complex(level.mixScalar, g: g + 3, r: 0, &p)
            complex(level.mixVector, g: g + 3, r: 1, &p)
            for (j, layer) in level.mlp.enumerated() { linear(layer, g: g + 4 + Double(j), &p) }
        }
    }

    /// Config "G" of §15.2.
    static func config(_ aggregation: LatentAggregation) -> LGAEConfig {
        LGAEConfig(particleCount: 4, encoderChannels: [2, 2, 2], decoderChannels: [2, 2, 2], basisFunctionCount: 2,
                   mlpDepth: 2, mlpWidthMultiplier: 2, aggregation: aggregation, latentVectorCount: 1,
                   complexToReal: .real, mode: .faithful)
    }

    static let jet = JetInput(particles: [
        SIMD4(1.0, 0.6, 0.0, 0.7), SIMD4(0.6, 0.0, 0.3, 0.4), SIMD4(0.45, -0.2, 0.1, 0.35), SIMD4(0, 0, 0, 0),
    ], mask: [true, true, true, false])
}

/// Compares a value with a number printed in the spec to a limited number of digits: they must
/// agree to half a unit in the last printed place (plus 1e-12 relative slack), or to `units` of the
/// last place for a number the spec derived from already-rounded values.
struct PrintedValueChecker {
    /// The largest |actual − printed| / |printed| seen, to report the agreement reached.
    var worstRelative = 0.0
    /// The largest |actual − printed| / (half a unit in the last printed place).
    var worstInPrintedUnits = 0.0

    mutating func check(_ actual: Double, _ printed: String, _ what: String, units: Double = 0.5,
                        file: StaticString = #filePath, line: UInt = #line) {
        let text = printed.replacingOccurrences(of: "−", with: "-")
        guard let expected = Double(text) else { return XCTFail("unparsable golden number \(printed)", file: file, line: line) }
        let decimals = text.split(separator: ".").count == 2 ? text.split(separator: ".")[1].filter(\.isNumber).count : 0
        let halfUnit = 0.5 * pow(10, -Double(decimals))
        let allowed = units * pow(10, -Double(decimals))
        let deviation = abs(actual - expected)
        if expected != 0 { worstRelative = max(worstRelative, deviation / abs(expected)) }
        worstInPrintedUnits = max(worstInPrintedUnits, deviation / halfUnit)
        XCTAssertLessThanOrEqual(deviation, allowed + 1e-12 * abs(expected),
                                 "\(what): computed \(actual), spec prints \(printed)", file: file, line: line)
    }

    /// A complex number printed as "re+imj" or "re−imj".
    mutating func check(_ actual: Complex, _ printed: String, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        let text = printed.replacingOccurrences(of: "−", with: "-").replacingOccurrences(of: "j", with: "")
        // The sign that separates re from im is the last + or - that is not the leading sign.
        let characters = Array(text)
        guard let split = (1..<characters.count).last(where: { characters[$0] == "+" || characters[$0] == "-" }) else {
            return XCTFail("unparsable golden complex \(printed)", file: file, line: line)
        }
        let re = String(characters[..<split]), im = String(characters[split...]).replacingOccurrences(of: "+", with: "")
        check(actual.re, re, what + " (re)", file: file, line: line)
        check(actual.im, im, what + " (im)", file: file, line: line)
    }

    mutating func check(_ actual: LorentzVector, _ printed: [String], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        for mu in 0..<4 { check(actual[mu], printed[mu], what + "[\(mu)]", file: file, line: line) }
    }
}

/// A reproducible random source for test inputs (not the model initialiser).
struct TestRandom {
    var state: UInt64
    init(_ seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
    mutating func uniform(_ a: Double, _ b: Double) -> Double { a + (b - a) * Double(next() >> 11) * 0x1p-53 }
}

/// A jet of `real` massive particles (masses 0.02–0.1, momenta up to ~0.5) in `slots` slots, the
/// rest zero-padded: massive so that the input scalar sqrt|η(p,p)| is not rounding noise (§15.1).
func randomMassiveJet(slots: Int, real: Int, seed: UInt64) -> JetInput {
    var rng = TestRandom(seed)
    var particles = [SIMD4<Double>](repeating: .zero, count: slots)
    for n in 0..<real {
        let px = rng.uniform(-0.2, 0.2), py = rng.uniform(-0.2, 0.2), pz = rng.uniform(0.05, 0.5)
        let m = rng.uniform(0.02, 0.1)
        particles[n] = SIMD4((m * m + px * px + py * py + pz * pz).squareRoot(), px, py, pz)
    }
    return JetInput(particles: particles, mask: (0..<slots).map { $0 < real })
}

/// max |a − b| over all entries / max |b|, the deviation measure of §15.1.
func maxRelativeDeviation(_ a: [Double], _ b: [Double]) -> Double {
    precondition(a.count == b.count)
    let scale = b.map(abs).max() ?? 0
    let deviation = zip(a, b).map { abs($0 - $1) }.max() ?? 0
    return scale == 0 ? deviation : deviation / scale
}

extension LorentzVector {
    var flat: [Double] { [re[0], re[1], re[2], re[3], im[0], im[1], im[2], im[3]] }
}

extension Latent {
    var flatVectors: [Double] { vectors.flatMap(\.flat) }
    var flatScalars: [Double] { scalars.flatMap { [$0.value.re, $0.value.im] } }
}

extension NodeVectors {
    var flat: [Double] { buffer.array }
}
