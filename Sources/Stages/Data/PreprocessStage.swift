import Executor
import Foundation
import JetData

/// `preprocess`: relative coordinates → absolute 4-momenta in TeV (lgae.md §2.2), with the jet
/// azimuth and the tiny particle masses drawn from a seeded generator, and the per-jet
/// normalisation factors of §2.3 (applied by the model, stored here so evaluation can undo them).
struct PreprocessStage: StageKind {
    let kind = "preprocess"
    let summary = "relative (eta, phi, pT) to absolute four-momenta (E, px, py, pz) in TeV"
    static let code = ["Stages/Data/PreprocessStage.swift", "Stages/Data/Classes.swift", "JetData/FourMomenta.swift",
                       "JetData/Random.swift", "SeededRandom/", "JetData/Npy.swift"]
    let codeDigest = Stages.codeDigest(PreprocessStage.code + commonCode)
    let parameters: [ParamSpec] = [
        ParamSpec("classes", .stringArray, default: ["g", "q", "t", "w", "z"], doc: "jet classes to convert"),
        ParamSpec("scale", .number, default: 1000, doc: "divide GeV by this (1000 gives TeV, as the reference code)"),
        ParamSpec("maxParticleMass", .number, default: 0.001, doc: "particle masses drawn uniformly from [0, this) GeV (reference: 1e-3; 0 for massless)"),
        ParamSpec("normalisation", .string, default: "overall_max", doc: "per-jet normalisation: none, overall_max, component_max or jet_E"),
        .seed(),
    ]

    func declaredOutputs(params: [String: JSONValue]) -> [String]? {
        jetClasses(params).flatMap { c in ["p4", "mask", "jet_phi", "norm"].map { "\(c.rawValue)_\($0).npy" } }
    }

    func check(params: [String: JSONValue]) -> [ParamIssue] {
        var issues = classIssues(params, key: "classes")
        if let s = params["scale"]?.doubleValue, s <= 0 {
            issues.append(ParamIssue(path: "scale", message: "must be positive", fix: "use 1000 (GeV to TeV)"))
        }
        if let m = params["maxParticleMass"]?.doubleValue, m < 0 {
            issues.append(ParamIssue(path: "maxParticleMass", message: "must be >= 0", fix: "use 0.001 as the reference, or 0"))
        }
        if let n = params["normalisation"]?.stringValue, JetNormalisation(rawValue: n) == nil {
            issues.append(ParamIssue(path: "normalisation", message: "unknown method '\(n)'",
                                     fix: "use one of: \(JetNormalisation.allCases.map(\.rawValue).joined(separator: ", "))"))
        }
        return issues
    }

    func run(_ ctx: StageContext) throws -> JSONValue {
        let options = FourMomentumOptions(scale: try ctx.double("scale"), maxParticleMass: try ctx.double("maxParticleMass"))
        let method = JetNormalisation(rawValue: try ctx.string("normalisation"))!
        let seed = try ctx.seed()
        let classes = jetClasses(ctx.params)
        var summary: [String: JSONValue] = [:]
        for (n, c) in classes.enumerated() {
            ctx.progress(Double(n), of: Double(classes.count), unit: .files)
            let pf = try readNpy(try ctx.input(named: "\(c.rawValue)_particle_features.npy").path, as: Float.self)
            let jf = try readNpy(try ctx.input(named: "\(c.rawValue)_jet_features.npy").path, as: Float.self)
            guard pf.shape.count == 3, pf.shape[2] == 4, jf.shape == [pf.shape[0], 4] else {
                throw StageFailure("preprocess: \(c.rawValue) features have shapes \(pf.shape) and \(jf.shape), expected [N, P, 4] and [N, 4]. Fix: feed the outputs of a `load` stage.")
            }
            let (count, particles) = (pf.shape[0], pf.shape[1])
            // One independent stream per class, so adding or reordering classes changes nothing else.
            let jets = absoluteFourMomenta(particleFeatures: pf.values, jetFeatures: jf.values, count: count, particles: particles,
                                           options: options, seed: deriveSeed(seed, "preprocess", c.rawValue))
            let norm = normalisationFactors(p4: jets.p4, count: count, particles: particles, method: method)
            try writeNpy(jets.p4, shape: [count, particles, 4], to: ctx.outputPath("\(c.rawValue)_p4.npy"))
            try writeNpy(jets.mask.map { UInt8($0) }, shape: [count, particles], to: ctx.outputPath("\(c.rawValue)_mask.npy"))
            try writeNpy(jets.jetPhi, shape: [count], to: ctx.outputPath("\(c.rawValue)_jet_phi.npy"))
            try writeNpy(norm, shape: method.factorsPerJet == 1 ? [count] : [count, method.factorsPerJet],
                         to: ctx.outputPath("\(c.rawValue)_norm.npy"))
            summary[c.rawValue] = .object(["jets": .number(Double(count)), "particles": .number(Double(particles))])
        }
        return .object(summary)
    }
}
