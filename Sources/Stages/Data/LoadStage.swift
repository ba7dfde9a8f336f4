import Executor
import Foundation
import JetData

/// `load`: read `particle_features` [N,30,4] and `jet_features` [N,4] of each class file with
/// libhdf5, check names, shapes, dtypes and mask values, and write them as .npy.
struct LoadStage: StageKind {
    let kind = "load"
    let summary = "read and check the JetNet HDF5 class files; write particle and jet features as .npy"
    static let code = ["Stages/Data/LoadStage.swift", "Stages/Data/Classes.swift", "JetData/HDF5.swift", "JetData/JetNetFile.swift",
                       "JetData/Npy.swift", "HDF5Shim/"]
    let codeDigest = Stages.codeDigest(LoadStage.code + commonCode)
    let parameters: [ParamSpec] = [
        ParamSpec("classes", .stringArray, default: ["g", "q", "t", "w", "z"], doc: "jet classes to load, from g, q, t, w, z"),
        ParamSpec("particles", .integer, default: 30, doc: "particles per jet (30 for the 30-particle JetNet record)"),
    ]

    func declaredOutputs(params: [String: JSONValue]) -> [String]? {
        jetClasses(params).flatMap { ["\($0.rawValue)_particle_features.npy", "\($0.rawValue)_jet_features.npy"] }
    }

    func check(params: [String: JSONValue]) -> [ParamIssue] {
        var issues = classIssues(params, key: "classes")
        if let p = params["particles"]?.intValue, p < 1 {
            issues.append(ParamIssue(path: "particles", message: "must be at least 1", fix: "use 30"))
        }
        return issues
    }

    func run(_ ctx: StageContext) throws -> JSONValue {
        let classes = jetClasses(ctx.params)
        let particles = try ctx.int("particles")
        var summary: [String: JSONValue] = [:]
        for (n, c) in classes.enumerated() {
            ctx.progress(Double(n), of: Double(classes.count), unit: .files)
            let input = try ctx.input(named: c.fileName)
            let data: JetNetClassData
            do {
                data = try loadJetNetClassFile(path: input.path, jetClass: c, particles: particles)
            } catch {
                // The loader names the store object; the user knows the file by its stage label.
                throw StageFailure("\(input.label): \(error)")
            }
            try writeNpy(data.particleFeatures, shape: [data.count, data.particles, 4], to: ctx.outputPath("\(c.rawValue)_particle_features.npy"))
            try writeNpy(data.jetFeatures, shape: [data.count, 4], to: ctx.outputPath("\(c.rawValue)_jet_features.npy"))
            var real = 0
            for j in 0..<(data.count * data.particles) where data.particleFeatures[4 * j + 3] == 1 { real += 1 }
            summary[c.rawValue] = .object([
                "jets": .number(Double(data.count)),
                "mean_particles": .number((Double(real) / Double(max(1, data.count)) * 1000).rounded() / 1000),
            ])
        }
        return .object(summary)
    }
}
