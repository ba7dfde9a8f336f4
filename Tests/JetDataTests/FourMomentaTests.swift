import Foundation
import XCTest
@testable import JetData

final class FourMomentaTests: XCTestCase {
    /// A small synthetic file: `count` jets of `particles` slots, the first `real[jet]` slots real.
    private func syntheticJets(count: Int, particles: Int, real: [Int],
                               jetPt: Float = 1000, jetEta: Float = 0.5) -> (particles: [Float], jets: [Float]) {
        var p: [Float] = []
        var j: [Float] = []
        for jet in 0..<count {
            for particle in 0..<particles {
                if particle < real[jet] {
                    let x = Float(jet * particles + particle)
                    p += [0.1 * sin(x), 0.2 * cos(1.7 * x), 0.3 / Float(particle + 1), 1]
                } else {
                    p += [0, 0, 0, 0]
                }
            }
            // Columns pt, eta, mass, nparticles; mass and nparticles must not be read as pt/eta.
            j += [jetPt + Float(jet), jetEta - 0.1 * Float(jet), 80 + Float(jet), Float(real[jet])]
        }
        return (p, j)
    }

    func testWorkedExampleOfSpec2_2() {
        let p = fourMomentum(ptRel: 0.2, etaRel: 0.1, phiRel: -0.05,
                             jetPt: 1000, jetEta: 0.5, jetPhi: 1.0, mass: 0, scale: 1000)
        XCTAssertEqual(p.E, 0.2370930436, accuracy: 1e-9)
        XCTAssertEqual(p.px, 0.1163366179, accuracy: 1e-9)
        XCTAssertEqual(p.py, 0.1626831010, accuracy: 1e-9)
        XCTAssertEqual(p.pz, 0.1273307164, accuracy: 1e-9)
    }

    func testAzimuthWrapsIntoMinusPiToPi() {
        XCTAssertEqual(wrapAzimuth(Double.pi), -Double.pi)
        XCTAssertEqual(wrapAzimuth(-Double.pi), -Double.pi)
        XCTAssertEqual(wrapAzimuth(0), 0)
        XCTAssertEqual(wrapAzimuth(1.5 * Double.pi), -0.5 * Double.pi, accuracy: 1e-15)
        XCTAssertEqual(wrapAzimuth(-1.5 * Double.pi), 0.5 * Double.pi, accuracy: 1e-15)
        XCTAssertEqual(wrapAzimuth(3 * Double.pi - 0.2), Double.pi - 0.2, accuracy: 1e-14)
        // Negative inputs are where a truncating remainder would differ from numpy's floor-mod.
        XCTAssertEqual(wrapAzimuth(-3 * Double.pi + 0.2), -Double.pi + 0.2, accuracy: 1e-14)
        for phi in [-100.0, -7.5, -3.2, 3.2, 7.5, 100.0, 12_345.678] {
            let floorMod = phi - 2 * Double.pi * ((phi + Double.pi) / (2 * Double.pi)).rounded(.down)
            XCTAssertEqual(wrapAzimuth(phi), floorMod, accuracy: 1e-11, "wrap(\(phi))")
            XCTAssertEqual(cos(wrapAzimuth(phi)), cos(phi), accuracy: 1e-11)
            XCTAssertEqual(sin(wrapAzimuth(phi)), sin(phi), accuracy: 1e-11)
        }
        let edges = [Double.pi.nextDown, Double.pi.nextUp, (-Double.pi).nextUp, (-Double.pi).nextDown,
                     -1e-300, 2 * Double.pi, -2 * Double.pi, 3 * Double.pi, -3 * Double.pi]
        for phi in edges {
            let w = wrapAzimuth(phi)
            XCTAssert(w >= -Double.pi && w < Double.pi, "wrap(\(phi)) = \(w) is outside [-π, π)")
        }
    }

    func testPaddedParticlesAreExactlyZero() {
        let (p, j) = syntheticJets(count: 3, particles: 5, real: [5, 2, 0])
        let jets = absoluteFourMomenta(particleFeatures: p, jetFeatures: j, count: 3, particles: 5,
                                       options: FourMomentumOptions(), seed: 1)
        XCTAssertEqual(jets.mask, [1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0])
        for slot in 0..<15 {
            let v = Array(jets.p4[(slot * 4)..<(slot * 4 + 4)])
            if jets.mask[slot] == 0 {
                XCTAssertEqual(v, [0, 0, 0, 0], "padded slot \(slot)")
            } else {
                XCTAssertGreaterThan(v[0], 0, "real slot \(slot) has no energy")
            }
        }
    }

    func testJetPtAndEtaComeFromColumnsZeroAndOne() {
        let (p, j) = syntheticJets(count: 2, particles: 3, real: [3, 3], jetPt: 500, jetEta: 1.2)
        let jets = absoluteFourMomenta(particleFeatures: p, jetFeatures: j, count: 2, particles: 3,
                                       options: FourMomentumOptions(scale: 1, maxParticleMass: 0), seed: 3)
        for jet in 0..<2 {
            for particle in 0..<3 {
                let slot = jet * 3 + particle
                let v = Array(jets.p4[(slot * 4)..<(slot * 4 + 4)])
                let pt = (v[1] * v[1] + v[2] * v[2]).squareRoot()
                XCTAssertEqual(pt, Double(p[slot * 4 + 2]) * Double(j[jet * 4]), accuracy: 1e-9)
                XCTAssertEqual(asinh(v[3] / pt), Double(p[slot * 4]) + Double(j[jet * 4 + 1]), accuracy: 1e-9)
                let phi = atan2(v[2], v[1])
                XCTAssertEqual(cos(phi - Double(p[slot * 4 + 1]) - jets.jetPhi[jet]), 1, accuracy: 1e-12)
            }
        }
    }

    func testRandomDrawOrderIsJetAzimuthsThenAllSlotMasses() {
        let count = 4, particles = 6
        let (p, j) = syntheticJets(count: count, particles: particles, real: [6, 3, 0, 1])
        let options = FourMomentumOptions(scale: 1000, maxParticleMass: 1e-3)
        let jets = absoluteFourMomenta(particleFeatures: p, jetFeatures: j, count: count, particles: particles,
                                       options: options, seed: 77)
        var rng = Xoshiro256StarStar(seed: 77)
        let phi = (0..<count).map { _ in 2 * Double.pi * rng.nextUniform() }
        let masses = (0..<(count * particles)).map { _ in options.maxParticleMass * rng.nextUniform() }
        XCTAssertEqual(jets.jetPhi, phi)
        for slot in 0..<(count * particles) where jets.mask[slot] == 1 {
            let jet = slot / particles
            let e = fourMomentum(ptRel: Double(p[slot * 4 + 2]), etaRel: Double(p[slot * 4]),
                                 phiRel: Double(p[slot * 4 + 1]), jetPt: Double(j[jet * 4]),
                                 jetEta: Double(j[jet * 4 + 1]), jetPhi: phi[jet],
                                 mass: masses[slot], scale: 1000)
            XCTAssertEqual(Array(jets.p4[(slot * 4)..<(slot * 4 + 4)]), [e.E, e.px, e.py, e.pz], "slot \(slot)")
        }
    }

    func testParticleMassJitterIsBelowOneMeV() {
        // Soft particles (pt ~ 0.3 GeV) in GeV units, so m² ~ 1e-7 GeV² stands far above rounding.
        let count = 20, particles = 10
        let (p, j) = syntheticJets(count: count, particles: particles, real: Array(repeating: 10, count: count),
                                   jetPt: 1, jetEta: 0.2)
        let jets = absoluteFourMomenta(particleFeatures: p, jetFeatures: j, count: count, particles: particles,
                                       options: FourMomentumOptions(scale: 1, maxParticleMass: 1e-3), seed: 11)
        var largest = 0.0
        for slot in 0..<(count * particles) {
            let v = Array(jets.p4[(slot * 4)..<(slot * 4 + 4)])
            let m2 = v[0] * v[0] - v[1] * v[1] - v[2] * v[2] - v[3] * v[3]
            let rounding = 8 * Double.ulpOfOne * v[0] * v[0]
            XCTAssert(m2 >= -rounding && m2 < 1e-6 + rounding, "slot \(slot): m² = \(m2) GeV²")
            largest = max(largest, m2)
        }
        XCTAssertGreaterThan(largest, 0.25e-6, "no particle received a mass jitter")

        let massless = absoluteFourMomenta(particleFeatures: p, jetFeatures: j, count: count, particles: particles,
                                           options: FourMomentumOptions(scale: 1, maxParticleMass: 0), seed: 11)
        XCTAssertEqual(massless.jetPhi, jets.jetPhi, "switching the jitter off must not move the azimuths")
        for slot in 0..<(count * particles) {
            let v = Array(massless.p4[(slot * 4)..<(slot * 4 + 4)])
            let m2 = v[0] * v[0] - v[1] * v[1] - v[2] * v[2] - v[3] * v[3]
            XCTAssertEqual(m2, 0, accuracy: 8 * Double.ulpOfOne * v[0] * v[0])
        }
    }

    func testSameSeedSameJetsOtherSeedOtherAzimuths() {
        let (p, j) = syntheticJets(count: 50, particles: 4, real: (0..<50).map { $0 % 5 })
        func run(_ seed: UInt64) -> AbsoluteJets {
            absoluteFourMomenta(particleFeatures: p, jetFeatures: j, count: 50, particles: 4,
                                options: FourMomentumOptions(), seed: seed)
        }
        let a = run(5), b = run(5), c = run(6)
        XCTAssertEqual(a.p4, b.p4)
        XCTAssertEqual(a.jetPhi, b.jetPhi)
        XCTAssertNotEqual(a.jetPhi, c.jetPhi)
        XCTAssertNotEqual(a.p4, c.p4)
        XCTAssert(a.jetPhi.allSatisfy { $0 >= 0 && $0 < 2 * Double.pi })
    }

    func testOverallMaxExampleOfSpec2_3() {
        let p4: [Double] = [0.25, 0.1, -0.2, 0.1, 0.05, 0.03, 0.04, 0, 0, 0, 0, 0]
        let f = normalisationFactors(p4: p4, count: 1, particles: 3, method: .overallMax)
        XCTAssertEqual(f.count, 1)
        XCTAssertEqual(f[0], 0.25, accuracy: 1e-15)
        let normalised = applyNormalisation(p4: p4, count: 1, particles: 3, factors: f)
        let expected: [Double] = [1, 0.4, -0.8, 0.4, 0.2, 0.12, 0.16, 0, 0, 0, 0, 0]
        for (a, b) in zip(normalised, expected) { XCTAssertEqual(a, b, accuracy: 1e-12) }
        let restored = undoNormalisation(p4: normalised, count: 1, particles: 3, factors: f)
        for (a, b) in zip(restored, p4) { XCTAssertEqual(a, b, accuracy: 1e-15) }
    }

    func testOtherNormalisationsArePerJet() {
        // Two jets of two particles; the second jet is all padding (only the epsilon saves it).
        let p4: [Double] = [2, 1, -3, 0.5, 1, -0.5, 1, 2,
                            0, 0, 0, 0, 0, 0, 0, 0]
        XCTAssertEqual(normalisationFactors(p4: p4, count: 2, particles: 2, method: .none), [1, 1])
        let overall = normalisationFactors(p4: p4, count: 2, particles: 2, method: .overallMax)
        XCTAssertEqual(overall[0], 3, accuracy: 1e-15)
        XCTAssertEqual(overall[1], 1e-16)
        let component = normalisationFactors(p4: p4, count: 2, particles: 2, method: .componentMax)
        XCTAssertEqual(component.count, 2 * JetNormalisation.componentMax.factorsPerJet)
        for (a, b) in zip(component, [2, 1, 3, 2, 1e-16, 1e-16, 1e-16, 1e-16]) { XCTAssertEqual(a, b, accuracy: 1e-15) }
        let perComponent = applyNormalisation(p4: p4, count: 2, particles: 2, factors: component)
        for (a, b) in zip(perComponent, [1, 1, -1, 0.25, 0.5, -0.5, 1 / 3.0, 1, 0, 0, 0, 0, 0, 0, 0, 0]) {
            XCTAssertEqual(a, b, accuracy: 1e-12)
        }
        let energy = normalisationFactors(p4: p4, count: 2, particles: 2, method: .jetE)
        XCTAssertEqual(energy[0], 3, accuracy: 1e-15)
        XCTAssertEqual(energy[1], 1e-16)
        XCTAssertEqual(JetNormalisation(rawValue: "jet_E"), .jetE)
        XCTAssertEqual(JetNormalisation(rawValue: "overall_max"), .overallMax)
        XCTAssertEqual(JetNormalisation(rawValue: "component_max"), .componentMax)
    }
}
