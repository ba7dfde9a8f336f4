import Executor
import Foundation
import JetData

/// `split`: 60/20/20 train/validation/test of the QCD background (g+q), and the test parts of
/// the signals (t, w, z) for anomaly detection, following lgae.md §2.4 with a seeded,
/// platform-independent generator (rules in `planSplit`).
struct SplitStage: StageKind {
    let kind = "split"
    let summary = "QCD train/valid/test split and signal test sets"
    static let code = ["Stages/Data/SplitStage.swift", "Stages/Data/Classes.swift", "JetData/Split.swift", "JetData/Random.swift", "SeededRandom/",
                       "JetData/Npy.swift"]
    let codeDigest = Stages.codeDigest(SplitStage.code + commonCode)
    let parameters: [ParamSpec] = [
        ParamSpec("background", .stringArray, default: ["g", "q"], doc: "classes trained on, concatenated in this order"),
        ParamSpec("signals", .stringArray, default: ["t", "w", "z"], doc: "classes kept for anomaly detection"),
        ParamSpec("testFraction", .number, default: 0.2, doc: "last fraction of every class file held out as test"),
        ParamSpec("trainFraction", .number, default: 0.75, doc: "fraction of the background's train+valid part used for training"),
        .seed(),
    ]

    static let arrays = ["p4", "mask", "norm"]

    func declaredOutputs(params: [String: JSONValue]) -> [String]? {
        var outs: [String] = []
        for part in ["train", "valid", "test"] {
            outs += (SplitStage.arrays + ["index"]).map { "qcd_\(part)_\($0).npy" }
        }
        for s in jetClasses(params, key: "signals") {
            outs += (SplitStage.arrays + ["index"]).map { "\(s.rawValue)_test_\($0).npy" }
        }
        return outs
    }

    func check(params: [String: JSONValue]) -> [ParamIssue] {
        var issues = classIssues(params, key: "background") + classIssues(params, key: "signals", allowEmpty: true)
        let bg = Set(jetClasses(params, key: "background")), sig = Set(jetClasses(params, key: "signals"))
        if !bg.isDisjoint(with: sig) {
            issues.append(ParamIssue(path: "signals", message: "a class is both background and signal", fix: "list each class in one of them"))
        }
        for k in ["testFraction", "trainFraction"] {
            if let f = params[k]?.doubleValue, !(f > 0 && f < 1) {
                issues.append(ParamIssue(path: k, message: "must lie strictly between 0 and 1, found \(f)", fix: "use e.g. 0.2 / 0.75"))
            }
        }
        return issues
    }

    func run(_ ctx: StageContext) throws -> JSONValue {
        let background = jetClasses(ctx.params, key: "background"), signals = jetClasses(ctx.params, key: "signals")
        var p4: [JetClass: [Double]] = [:], mask: [JetClass: [UInt8]] = [:], norm: [JetClass: [Double]] = [:]
        var counts: [JetClass: Int] = [:]
        var particles = 0, normWidth = 1
        for c in background + signals {
            let a = try readNpy(try ctx.input(named: "\(c.rawValue)_p4.npy").path, as: Double.self)
            let m = try readNpy(try ctx.input(named: "\(c.rawValue)_mask.npy").path, as: UInt8.self)
            let f = try readNpy(try ctx.input(named: "\(c.rawValue)_norm.npy").path, as: Double.self)
            guard a.shape.count == 3, a.shape[2] == 4, m.shape == [a.shape[0], a.shape[1]], f.shape.first == a.shape[0] else {
                throw StageFailure("split: the arrays of class \(c.rawValue) disagree: p4 \(a.shape), mask \(m.shape), norm \(f.shape). Fix: feed the outputs of one `preprocess` stage.")
            }
            if particles != 0, particles != a.shape[1] {
                throw StageFailure("split: class \(c.rawValue) has \(a.shape[1]) particles per jet, others \(particles).")
            }
            particles = a.shape[1]
            normWidth = f.shape.count == 2 ? f.shape[1] : 1
            counts[c] = a.shape[0]
            p4[c] = a.values
            mask[c] = m.values
            norm[c] = f.values
        }
        let plan = planSplit(counts: counts, background: background, signals: signals,
                             testFraction: try ctx.double("testFraction"), trainFraction: try ctx.double("trainFraction"),
                             seed: try ctx.seed())
        func write(_ prefix: String, _ jets: [JetIndex]) throws {
            let n = jets.count
            try writeNpy(gather(p4, stride: particles * 4, jets: jets), shape: [n, particles, 4], to: ctx.outputPath(prefix + "_p4.npy"))
            try writeNpy(gather(mask, stride: particles, jets: jets), shape: [n, particles], to: ctx.outputPath(prefix + "_mask.npy"))
            try writeNpy(gather(norm, stride: normWidth, jets: jets), shape: normWidth == 1 ? [n] : [n, normWidth],
                         to: ctx.outputPath(prefix + "_norm.npy"))
            // (class index in g,q,t,w,z order, row in that class's file): every jet traces back to its source row.
            try writeNpy(jets.flatMap { [Int64($0.jetClass.index), Int64($0.row)] }, shape: [n, 2], to: ctx.outputPath(prefix + "_index.npy"))
        }
        try write("qcd_train", plan.train)
        try write("qcd_valid", plan.valid)
        try write("qcd_test", plan.test)
        var summary: [String: JSONValue] = [
            "qcd_train": .number(Double(plan.train.count)), "qcd_valid": .number(Double(plan.valid.count)),
            "qcd_test": .number(Double(plan.test.count)),
        ]
        for s in signals {
            try write("\(s.rawValue)_test", plan.signalTest[s] ?? [])
            summary["\(s.rawValue)_test"] = .number(Double(plan.signalTest[s]?.count ?? 0))
        }
        return .object(summary)
    }
}
