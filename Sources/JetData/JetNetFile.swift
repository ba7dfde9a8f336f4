import Foundation

/// An error from reading or writing data files. The text names the file, the part of it at
/// fault (dataset, entry, field), what was expected against what was found, and the fix.
public struct JetDataError: Error, CustomStringConvertible, LocalizedError, Sendable {
    public let file: String
    /// The part of the file at fault, e.g. "dataset 'particle_features'" or "entry '../evil'".
    public let item: String?
    public let problem: String
    public let fix: String?

    public init(file: String, item: String?, problem: String, fix: String?) {
        self.file = file
        self.item = item
        self.problem = problem
        self.fix = fix
    }

    public var description: String {
        "\(file): " + (item.map { "\($0) " } ?? "") + problem + (fix.map { ". Fix: \($0)" } ?? "")
    }

    public var errorDescription: String? { description }
}

/// The five JetNet jet classes, in jetnet's order (class index 0...4): gluon, light quark,
/// top quark, W boson and Z boson jets.
public enum JetClass: String, CaseIterable, Sendable {
    case g, q, t, w, z

    /// jetnet's class index (the "type" jet feature).
    public var index: Int { Self.allCases.firstIndex(of: self)! }

    /// File name in the 30-particle Zenodo record 6975118.
    public var fileName: String { "\(rawValue).hdf5" }
}

/// One JetNet class file, in the layout of the 30-particle record (spec: jetnet-data.md §1).
public struct JetNetClassData: Sendable {
    public let jetClass: JetClass
    public let count: Int
    public let particles: Int
    /// count × particles × 4, C order: etarel, phirel, ptrel, mask.
    public var particleFeatures: [Float]
    /// count × 4, C order: pt (GeV), eta, mass (GeV), number of particles.
    public var jetFeatures: [Float]

    public init(jetClass: JetClass, count: Int, particles: Int, particleFeatures: [Float], jetFeatures: [Float]) {
        self.jetClass = jetClass
        self.count = count
        self.particles = particles
        self.particleFeatures = particleFeatures
        self.jetFeatures = jetFeatures
    }

    public static let particleFeatureNames = ["etarel", "phirel", "ptrel", "mask"]
    public static let jetFeatureNames = ["pt", "eta", "mass", "nparticles"]
}

private let jetNetRecord = "the 30-particle JetNet files g/q/t/w/z.hdf5 of Zenodo record 6975118"
private let recordFix = "use " + jetNetRecord

/// Loads and validates one JetNet class file (`g.hdf5`, ...). Like jetnet's loader, a file with
/// more than `particles` particles per jet is truncated to the first `particles` (the highest-pT
/// ones), and the stored number of particles becomes min(stored, particles).
public func loadJetNetClassFile(path: String, jetClass: JetClass, particles: Int = 30) throws -> JetNetClassData {
    guard particles >= 1 else {
        throw JetDataError(file: path, item: "particles argument", problem: "is \(particles), expected at least 1",
                           fix: "request a positive number of particles per jet (30 for the LGAE paper)")
    }
    let file = try HDF5File(readingFrom: path)
    let particleName = "particle_features", jetName = "jet_features"
    let present = try file.datasetNames()
    for name in [particleName, jetName] where !present.contains(name) {
        throw JetDataError(
            file: path, item: "dataset '\(name)'",
            problem: "is missing; the file holds "
                + (present.isEmpty ? "no datasets" : "only " + present.map { "'\($0)'" }.joined(separator: ", ")),
            fix: recordFix + " (the older record 6302454 has no jet_features)")
    }

    let particleInfo = try file.datasetInfo(particleName)
    let jetInfo = try file.datasetInfo(jetName)
    for info in [particleInfo, jetInfo] where info.typeClass != .float {
        throw JetDataError(
            file: path, item: "dataset '\(info.name)'",
            problem: "has element type \(info.typeDescription), expected float32 (float64 is also accepted)",
            fix: "store the features as floating point, as in \(jetNetRecord)")
    }

    let ps = particleInfo.shape
    guard ps.count == 3, ps[2] == 4, ps[1] >= particles else {
        let tooFew = ps.count == 3 && ps[2] == 4
        throw JetDataError(
            file: path, item: "dataset '\(particleName)'",
            problem: "has shape \(ps), expected [N, \(particles), 4] (etarel, phirel, ptrel, mask)"
                + (tooFew ? "; it has fewer than the \(particles) particles per jet requested" : ""),
            fix: tooFew ? "request at most \(ps[1]) particles, or use the 150-particle files (Zenodo record 6975117)"
                : recordFix)
    }
    let js = jetInfo.shape
    guard js.count == 2, js[1] == 4 else {
        throw JetDataError(
            file: path, item: "dataset '\(jetName)'",
            problem: "has shape \(js), expected [N, 4] (pt, eta, mass, nparticles)", fix: recordFix)
    }
    let count = ps[0]
    guard js[0] == count else {
        throw JetDataError(
            file: path, item: "datasets '\(particleName)' and '\(jetName)'",
            problem: "hold different numbers of jets: \(count) and \(js[0]), expected equal",
            fix: "the file is damaged or assembled from different samples; fetch it again (\(jetNetRecord))")
    }
    guard count > 0 else {
        throw JetDataError(
            file: path, item: "dataset '\(particleName)'", problem: "holds 0 jets, expected at least 1",
            fix: "the file is empty; fetch it again (\(jetNetRecord))")
    }

    let particleFeatures = try file.readFloat(particleName, leadingBlock: [count, particles, 4]).values
    var jetFeatures = try file.readFloat(jetName).values

    try validateParticleFeatures(particleFeatures, particles: particles, path: path, dataset: particleName)
    if let bad = jetFeatures.firstIndex(where: { !$0.isFinite }) {
        throw JetDataError(
            file: path, item: "dataset '\(jetName)'",
            problem: "has \(jetFeatures[bad]) at jet \(bad / 4), feature \(JetNetClassData.jetFeatureNames[bad % 4]); expected finite values",
            fix: "the file is damaged; fetch it again (\(jetNetRecord))")
    }
    // jetnet rebuilds the multiplicity as min(stored, num_particles) after truncating.
    let cap = Float(particles)
    for jet in 0..<count where jetFeatures[4 * jet + 3] > cap {
        jetFeatures[4 * jet + 3] = cap
    }
    return JetNetClassData(jetClass: jetClass, count: count, particles: particles,
                           particleFeatures: particleFeatures, jetFeatures: jetFeatures)
}

/// Every value finite; mask exactly 0 or 1; padded particles (mask 0) all zero, as JetNet
/// pads jets with fewer than 30 constituents (spec: jetnet-data.md §1, "ordering / padding").
private func validateParticleFeatures(_ values: [Float], particles: Int, path: String, dataset: String) throws {
    let names = JetNetClassData.particleFeatureNames
    func location(_ row: Int) -> String { "jet \(row / particles), particle \(row % particles)" }
    let damaged = "the file is damaged; fetch it again (\(jetNetRecord))"
    try values.withUnsafeBufferPointer { v in
        for row in 0..<(v.count / 4) {
            let base = 4 * row
            let eta = v[base], phi = v[base + 1], pt = v[base + 2], mask = v[base + 3]
            guard eta.isFinite, phi.isFinite, pt.isFinite, mask.isFinite else {
                let feature = (0..<4).first { !v[base + $0].isFinite }!
                throw JetDataError(
                    file: path, item: "dataset '\(dataset)'",
                    problem: "has \(v[base + feature]) at \(location(row)), feature \(names[feature]); expected finite values",
                    fix: damaged)
            }
            if mask == 1 { continue }
            guard mask == 0 else {
                throw JetDataError(
                    file: path, item: "dataset '\(dataset)'",
                    problem: "has mask value \(mask) at \(location(row)); expected exactly 0 or 1",
                    fix: "the 4th feature must be the particle mask; " + recordFix)
            }
            guard eta == 0, phi == 0, pt == 0 else {
                throw JetDataError(
                    file: path, item: "dataset '\(dataset)'",
                    problem: "has a padded particle (mask 0) with non-zero features (etarel \(eta), phirel \(phi), ptrel \(pt)) at \(location(row)); expected all zeros",
                    fix: "the feature order must be etarel, phirel, ptrel, mask with zero padding; " + recordFix)
            }
        }
    }
}
