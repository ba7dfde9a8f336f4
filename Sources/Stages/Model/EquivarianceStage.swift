import Executor
import Foundation
import JetData
import LGAE

/// `equivariance`: the test of paper App. C / Fig. 9 (lgae.md §11.4) on a trained model. Test
/// jets in TeV, not normalised, are boosted along z with rapidity α ∈ {0, Δα, …, αmax} and rotated
/// about z by θ ∈ {0, 2π/(n−1), …, 2π}; for every point the relative deviation δ between
/// LGAE(Λp) and Λ·LGAE(p) is written to `equivariance.csv`, with the worst values in
/// `equivariance.json`.
struct EquivarianceStage: StageKind {
    let kind = "equivariance"
    let summary = "boost and rotation sweep of a trained LGAE (paper Fig. 9)"
    static let code = ["Stages/Model/EquivarianceStage.swift", "Stages/Model/ModelData.swift", "LGAE/", "JetData/Npy.swift", "Training/"]
    let codeDigest = Stages.codeDigest(EquivarianceStage.code + commonCode)

    let parameters: [ParamSpec] = [
        ParamSpec("jets", .integer, default: 3000, doc: "test jets used (the first this many of qcd_test; paper: 3000)"),
        ParamSpec("batchSize", .integer, default: 100, doc: "jets per batch; δ is computed per batch and averaged (as the reference)"),
        ParamSpec("maxRapidity", .number, default: 10, doc: "largest boost rapidity α (γ = cosh α; paper: 10, γ ≈ 11013)"),
        ParamSpec("boostPoints", .integer, default: 26, doc: "boost points from α = 0 to maxRapidity (paper: 26, step 0.4)"),
        ParamSpec("rotationPoints", .integer, default: 26, doc: "rotation points from θ = 0 to 2π (paper: 26)"),
    ]

    func declaredOutputs(params: [String: JSONValue]) -> [String]? { ["equivariance.csv", "equivariance.json"] }

    func check(params: [String: JSONValue]) -> [ParamIssue] {
        var issues: [ParamIssue] = []
        for key in ["jets", "batchSize"] {
            if let v = params[key]?.intValue, v < 1 {
                issues.append(ParamIssue(path: key, message: "must be at least 1, found \(v)", fix: "use e.g. 3000 jets in batches of 100"))
            }
        }
        for key in ["boostPoints", "rotationPoints"] {
            if let v = params[key]?.intValue, v < 2 {
                issues.append(ParamIssue(path: key, message: "must be at least 2, found \(v)", fix: "use 26 as the paper"))
            }
        }
        if let a = params["maxRapidity"]?.doubleValue, !(a > 0 && a <= 20) {
            issues.append(ParamIssue(path: "maxRapidity", message: "must lie in (0, 20], found \(a)", fix: "use 10 as the paper"))
        }
        return issues
    }

    func run(_ ctx: StageContext) throws -> JSONValue {
        let (model, modelFile) = try trainedModel(ctx)
        let test = try JetArrays(ctx, part: "qcd_test", particles: model.config.particleCount)
        let count = min(test.count, try ctx.int("jets"))
        guard count > 0 else { throw StageFailure("stage '\(ctx.stage)': the test set is empty. Fix: check the `split` stage.") }
        // §11.4: TeV, no per-jet normalisation (it is not a Lorentz scalar).
        let jets = (0..<count).map { test.jet($0, normalised: false) }
        let probe = EquivarianceProbe(model: model, jets: jets, batchSize: try ctx.int("batchSize"), threads: ctx.threads)

        let boostPoints = try ctx.int("boostPoints"), rotationPoints = try ctx.int("rotationPoints")
        let maxRapidity = try ctx.double("maxRapidity")
        var points: [(kind: String, parameter: Double, gamma: Double, transformation: LorentzTransformation)] = []
        for i in 0..<boostPoints {
            let alpha = maxRapidity * Double(i) / Double(boostPoints - 1)
            points.append(("boost", alpha, cosh(alpha), .boost(along: .z, rapidity: alpha)))
        }
        for i in 0..<rotationPoints {
            let theta = 2 * Double.pi * Double(i) / Double(rotationPoints - 1)
            points.append(("rotation", theta, 1, .rotation(about: .z, angle: theta)))
        }
        var csv = "transformation,parameter,gamma,output_deviation,latent_vector_deviation,latent_scalar_deviation\n"
        var worst: [String: EquivarianceDeviation] = [:]
        for (n, p) in points.enumerated() {
            ctx.progress(Double(n), of: Double(points.count), unit: .items, detail: "\(p.kind) \(p.parameter)")
            let d = probe.deviation(under: p.transformation)
            csv += "\(p.kind),\(p.parameter),\(p.gamma),\(d.output),\(d.latentVectors),\(d.latentScalars)\n"
            var w = worst[p.kind] ?? EquivarianceDeviation(output: 0, latentVectors: 0, latentScalars: 0)
            w.output = max(w.output, d.output)
            w.latentVectors = max(w.latentVectors, d.latentVectors)
            w.latentScalars = max(w.latentScalars, d.latentScalars)
            worst[p.kind] = w
        }
        try csv.write(toFile: ctx.outputPath("equivariance.csv"), atomically: false, encoding: .utf8)
        func json(_ d: EquivarianceDeviation?) -> JSONValue {
            guard let d else { return .null }
            return ["output": .number(d.output), "latentVectors": .number(d.latentVectors), "latentScalars": .number(d.latentScalars)]
        }
        let report: JSONValue = [
            "jets": .number(Double(count)), "batchSize": .number(Double(probe.batchSize)),
            "maxRapidity": .number(maxRapidity), "maxGamma": .number(cosh(maxRapidity)),
            "worstBoost": json(worst["boost"]), "worstRotation": json(worst["rotation"]),
            "aggregation": .string(model.config.aggregation.rawValue), "latentVectors": .number(Double(model.config.latentVectorCount)),
        ]
        try (report.pretty + "\n").write(toFile: ctx.outputPath("equivariance.json"), atomically: false, encoding: .utf8)
        ctx.note(String(format: "%d jets: worst δ over boosts up to γ = %.4g: %.3g (output), %.3g (latent); over rotations: %.3g, %.3g",
                        count, cosh(maxRapidity), worst["boost"]?.output ?? 0, worst["boost"]?.latentVectors ?? 0,
                        worst["rotation"]?.output ?? 0, worst["rotation"]?.latentVectors ?? 0))
        return ["jets": .number(Double(count)), "worstBoostOutput": .number(worst["boost"]?.output ?? 0),
                "worstRotationOutput": .number(worst["rotation"]?.output ?? 0)]
    }
}
