// eval-bench: throughput of the evaluation kernels (Sources/Evaluation) on data written by
// scripts/bench/eval_bench.py, which times the reference tools (scipy, lap, numpy, scikit-learn) on
// the same files in the same invocation and compares the results.
//
// Kernels, each timed as a whole loop over the data set with CLOCK_MONOTONIC (one untimed warm-up
// pass, then --reps timed passes; best and median reported), single-threaded:
//   assignment  AssignmentSolver(size: n).solve for every matrix of assign_near.npy and
//               assign_random.npy (each M × n × n float64);
//   chamfer     chamferScore for every jet of chamfer_reconstruction.npy against
//               chamfer_target.npy (each J × n × 4 float64; the points are copied once, untimed, into
//               the SIMD4 layout that scorePoints produces in the pipeline);
//   roc         from the raw score arrays roc_background.npy and roc_signal_{t,w,z}.npy: SortedScores
//               for the background (once) and each signal, the combined signal by merging, then
//               AnomalyDetection (ROC + AUC, label flip below ½) for t, w, z and combined against the
//               background, and ε_s at ε_b = 1e-1, 1e-2, 1e-3 (first-point rule and interpolation).
//
// Results go to --out (default: the data directory) as .npy for the driver to compare:
//   swift_assign_{near,random}_cost.npy (M), swift_assign_{near,random}_columns.npy (M × n, int64),
//   swift_chamfer.npy (J), swift_roc_{t,w,z,combined}_{fpr,tpr,thresholds}.npy.
//
// Usage: eval-bench --data DIR [--out DIR] [--reps N] [--only assignment,chamfer,roc]
// Prints human-readable lines, then one JSON line with every figure.

import Foundation
import Evaluation
import JetData

struct Options {
    var data: String? = nil
    var out: String? = nil
    var reps = 5
    var only: Set<String> = ["assignment", "chamfer", "roc"]
}

let usage = "usage: eval-bench --data DIR [--out DIR] [--reps N] [--only assignment,chamfer,roc]"

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("eval-bench: \(message)\n\(usage)\n".utf8))
    exit(2)
}

func parseOptions() -> Options {
    var options = Options()
    var arguments = CommandLine.arguments.dropFirst()
    while let flag = arguments.popFirst() {
        if flag == "--help" || flag == "-h" { print(usage); exit(0) }
        guard let value = arguments.popFirst() else { fail("\(flag) needs a value") }
        switch flag {
        case "--data": options.data = value
        case "--out": options.out = value
        case "--reps":
            guard let r = Int(value), r >= 1 else { fail("--reps needs a positive integer, got \(value)") }
            options.reps = r
        case "--only":
            let kernels = Set(value.split(separator: ",").map(String.init))
            let known: Set<String> = ["assignment", "chamfer", "roc"]
            guard !kernels.isEmpty, kernels.isSubset(of: known) else {
                fail("--only needs a comma-separated subset of assignment,chamfer,roc, got \(value)")
            }
            options.only = kernels
        default:
            fail("unknown option \(flag)")
        }
    }
    if options.data == nil { fail("--data is required") }
    return options
}

func now(_ id: clockid_t) -> Double {
    var t = timespec()
    clock_gettime(id, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}

func loadAverage() -> Double {
    var loads = [0.0, 0.0, 0.0]
    return getloadavg(&loads, 3) > 0 ? loads[0] : -1
}

func median(_ values: [Double]) -> Double {
    let s = values.sorted()
    let n = s.count
    if n == 0 { return .nan }
    return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2
}

/// Wall and thread-CPU seconds of each timed pass.
struct Timing: Codable {
    var wallSeconds: [Double]
    var cpuSeconds: [Double]
    var bestSeconds: Double
    var medianSeconds: Double

    init(wall: [Double], cpu: [Double]) {
        wallSeconds = wall
        cpuSeconds = cpu
        bestSeconds = wall.min() ?? .nan
        medianSeconds = median(wall)
    }
}

/// One untimed warm-up pass (which also leaves the results in place), then `reps` timed passes.
func measure(reps: Int, _ body: () -> Void) -> Timing {
    body()
    var wall: [Double] = [], cpu: [Double] = []
    for _ in 0..<reps {
        let c0 = now(CLOCK_THREAD_CPUTIME_ID), w0 = now(CLOCK_MONOTONIC)
        body()
        let w1 = now(CLOCK_MONOTONIC), c1 = now(CLOCK_THREAD_CPUTIME_ID)
        wall.append(w1 - w0)
        cpu.append(c1 - c0)
    }
    return Timing(wall: wall, cpu: cpu)
}

func load(_ directory: String, _ name: String) -> NpyArray<Double> {
    do {
        return try readNpy(directory + "/" + name, as: Double.self)
    } catch {
        fail("\(error)")
    }
}

func save<T: NpyElement>(_ values: [T], shape: [Int], _ directory: String, _ name: String) {
    do {
        try writeNpy(values, shape: shape, to: directory + "/" + name)
    } catch {
        fail("\(error)")
    }
}

// MARK: - Results written to the JSON line

struct AssignmentResult: Codable {
    var kind: String
    var matrices: Int
    var size: Int
    var timing: Timing
    var microsecondsPerMatrixBest: Double
    var microsecondsPerMatrixMedian: Double
    var totalCost: Double
}

struct ChamferResult: Codable {
    var jets: Int
    var particles: Int
    var timing: Timing
    var microsecondsPerJetBest: Double
    var microsecondsPerJetMedian: Double
    var scoreSum: Double
}

struct Efficiency: Codable {
    var backgroundEfficiency: Double
    var firstPoint: Double?
    var interpolated: Double
}

struct CurveResult: Codable {
    var signal: String
    var signalCount: Int
    var backgroundCount: Int
    var auc: Double
    var flipped: Bool
    var points: Int
    var efficiencies: [Efficiency]
}

struct ROCResult: Codable {
    var timing: Timing
    var millisecondsBest: Double
    var millisecondsMedian: Double
    /// Median over the timed passes of the sorting part (SortedScores × 4 + the merged combined signal).
    var sortMillisecondsMedian: Double
    /// Median over the timed passes of the rest (four AnomalyDetection + efficiencies).
    var curvesMillisecondsMedian: Double
    var curves: [CurveResult]
}

struct Summary: Codable {
    var benchmark = "eval-bench"
    var reps: Int
    var cpus: Int
    var loadAverageAtStart: Double
    var loadAverageAtEnd: Double
    var assignment: [AssignmentResult]
    var chamfer: ChamferResult?
    var roc: ROCResult?
}

// MARK: - Kernels

func benchAssignment(kind: String, data: String, out: String, reps: Int) -> AssignmentResult {
    let file = "assign_\(kind).npy"
    let array = load(data, file)
    guard array.shape.count == 3, array.shape[1] == array.shape[2], array.shape[1] > 0 else {
        fail("\(file): expected shape (M, n, n), got \(array.shape)")
    }
    let m = array.shape[0], n = array.shape[1]
    let solver = AssignmentSolver(size: n)
    var costs = [Double](repeating: 0, count: m)
    var columns = [Int](repeating: 0, count: m * n)
    let timing = array.values.withUnsafeBufferPointer { c in
        costs.withUnsafeMutableBufferPointer { costOut in
            columns.withUnsafeMutableBufferPointer { columnOut in
                let base = c.baseAddress!, columnBase = columnOut.baseAddress!
                return measure(reps: reps) {
                    for k in 0..<m {
                        costOut[k] = solver.solve(base + k * n * n, into: columnBase + k * n)
                    }
                }
            }
        }
    }
    save(costs, shape: [m], out, "swift_assign_\(kind)_cost.npy")
    save(columns.map(Int64.init), shape: [m, n], out, "swift_assign_\(kind)_columns.npy")
    let result = AssignmentResult(
        kind: kind, matrices: m, size: n, timing: timing,
        microsecondsPerMatrixBest: timing.bestSeconds / Double(m) * 1e6,
        microsecondsPerMatrixMedian: timing.medianSeconds / Double(m) * 1e6,
        totalCost: costs.reduce(0, +))
    print(String(format: "assignment %@: %d matrices %d×%d, %.3f µs/matrix best, %.3f median (%d passes), Σ cost %.9f",
                 kind, m, n, n, result.microsecondsPerMatrixBest, result.microsecondsPerMatrixMedian, reps,
                 result.totalCost))
    return result
}

func points(_ array: NpyArray<Double>, _ file: String) -> [SIMD4<Double>] {
    guard array.shape.count == 3, array.shape[2] == 4 else { fail("\(file): expected shape (J, n, 4), got \(array.shape)") }
    let v = array.values
    return (0..<(v.count / 4)).map { p in SIMD4(v[4 * p], v[4 * p + 1], v[4 * p + 2], v[4 * p + 3]) }
}

func benchChamfer(data: String, out: String, reps: Int) -> ChamferResult {
    let targetArray = load(data, "chamfer_target.npy")
    let reconstructionArray = load(data, "chamfer_reconstruction.npy")
    guard targetArray.shape == reconstructionArray.shape else {
        fail("chamfer_target.npy \(targetArray.shape) and chamfer_reconstruction.npy \(reconstructionArray.shape) differ in shape")
    }
    let target = points(targetArray, "chamfer_target.npy")
    let reconstruction = points(reconstructionArray, "chamfer_reconstruction.npy")
    let jets = targetArray.shape[0], n = targetArray.shape[1]
    var scores = [Double](repeating: 0, count: jets)
    var minima = [Double](repeating: 0, count: chamferScratchCount(particles: n))
    let timing = target.withUnsafeBufferPointer { y in
        reconstruction.withUnsafeBufferPointer { x in
            scores.withUnsafeMutableBufferPointer { scoreOut in
                minima.withUnsafeMutableBufferPointer { columnMinima in
                    let xb = x.baseAddress!, yb = y.baseAddress!
                    return measure(reps: reps) {
                        for k in 0..<jets {
                            scoreOut[k] = chamferScore(reconstruction: UnsafeBufferPointer(start: xb + k * n, count: n),
                                                       target: UnsafeBufferPointer(start: yb + k * n, count: n),
                                                       scratch: columnMinima)
                        }
                    }
                }
            }
        }
    }
    save(scores, shape: [jets], out, "swift_chamfer.npy")
    let result = ChamferResult(
        jets: jets, particles: n, timing: timing,
        microsecondsPerJetBest: timing.bestSeconds / Double(jets) * 1e6,
        microsecondsPerJetMedian: timing.medianSeconds / Double(jets) * 1e6,
        scoreSum: scores.reduce(0, +))
    print(String(format: "chamfer: %d jets × %d particles, %.3f µs/jet best, %.3f median (%d passes), Σ score %.9f",
                 jets, n, result.microsecondsPerJetBest, result.microsecondsPerJetMedian, reps, result.scoreSum))
    return result
}

let signalNames = ["t", "w", "z"]
let backgroundEfficiencies = [1e-1, 1e-2, 1e-3]

func benchROC(data: String, out: String, reps: Int) -> ROCResult {
    let background = load(data, "roc_background.npy").values
    let signals = signalNames.map { load(data, "roc_signal_\($0).npy").values }
    var detections: [AnomalyDetection] = []
    var efficiencies: [[(firstPoint: Double?, interpolated: Double)]] = []
    var signalCounts: [Int] = []
    var sortSeconds: [Double] = [], curveSeconds: [Double] = []
    let timing = measure(reps: reps) {
        let t0 = now(CLOCK_MONOTONIC)
        let sortedBackground: SortedScores
        let sortedSignals: [SortedScores]
        do {
            sortedBackground = try SortedScores(background)
            sortedSignals = try signals.map { try SortedScores($0) }
        } catch {
            fail("roc: \(error)")
        }
        let all = sortedSignals + [SortedScores(merging: sortedSignals)]
        let t1 = now(CLOCK_MONOTONIC)
        let d = all.map { AnomalyDetection(signal: $0, background: sortedBackground) }
        let e = d.map { detection in backgroundEfficiencies.map { detection.signalEfficiency(atBackground: $0) } }
        let t2 = now(CLOCK_MONOTONIC)
        detections = d
        efficiencies = e
        signalCounts = all.map(\.count)
        sortSeconds.append(t1 - t0)
        curveSeconds.append(t2 - t1)
    }
    // The first entries are the warm-up pass.
    sortSeconds.removeFirst()
    curveSeconds.removeFirst()

    var curves: [CurveResult] = []
    for (index, name) in (signalNames + ["combined"]).enumerated() {
        let d = detections[index]
        save(d.curve.fpr, shape: [d.curve.fpr.count], out, "swift_roc_\(name)_fpr.npy")
        save(d.curve.tpr, shape: [d.curve.tpr.count], out, "swift_roc_\(name)_tpr.npy")
        save(d.curve.thresholds, shape: [d.curve.thresholds.count], out, "swift_roc_\(name)_thresholds.npy")
        let effs = zip(backgroundEfficiencies, efficiencies[index]).map {
            Efficiency(backgroundEfficiency: $0, firstPoint: $1.firstPoint, interpolated: $1.interpolated)
        }
        curves.append(CurveResult(signal: name, signalCount: signalCounts[index], backgroundCount: background.count,
                                  auc: d.auc, flipped: d.flipped, points: d.curve.fpr.count, efficiencies: effs))
        let effText = effs.map { String(format: "ε_s(%g) = %@", $0.backgroundEfficiency, $0.firstPoint.map { String(format: "%.6f", $0) } ?? "-") }
        print(String(format: "roc %@: %d signal vs %d background, AUC %.12f%@, %d points, ",
                     name, signalCounts[index], background.count, d.auc, d.flipped ? " (flipped)" : "", d.curve.fpr.count)
              + effText.joined(separator: ", "))
    }
    let result = ROCResult(
        timing: timing, millisecondsBest: timing.bestSeconds * 1e3, millisecondsMedian: timing.medianSeconds * 1e3,
        sortMillisecondsMedian: median(sortSeconds) * 1e3, curvesMillisecondsMedian: median(curveSeconds) * 1e3,
        curves: curves)
    print(String(format: "roc: four ROCs in %.3f ms best, %.3f median (%d passes); median sorting %.3f ms, curves %.3f ms",
                 result.millisecondsBest, result.millisecondsMedian, reps, result.sortMillisecondsMedian,
                 result.curvesMillisecondsMedian))
    return result
}

// MARK: - Main

let options = parseOptions()
let dataDirectory = options.data!
let outDirectory = options.out ?? dataDirectory
let loadAtStart = loadAverage()
print("eval-bench: single-threaded, \(options.reps) timed passes per kernel after one warm-up, \(ProcessInfo.processInfo.activeProcessorCount) CPUs, load average \(loadAtStart)")

var summary = Summary(reps: options.reps, cpus: ProcessInfo.processInfo.activeProcessorCount,
                      loadAverageAtStart: loadAtStart, loadAverageAtEnd: loadAtStart, assignment: [])
if options.only.contains("assignment") {
    for kind in ["near", "random"] {
        summary.assignment.append(benchAssignment(kind: kind, data: dataDirectory, out: outDirectory, reps: options.reps))
    }
}
if options.only.contains("chamfer") {
    summary.chamfer = benchChamfer(data: dataDirectory, out: outDirectory, reps: options.reps)
}
if options.only.contains("roc") {
    summary.roc = benchROC(data: dataDirectory, out: outDirectory, reps: options.reps)
}
summary.loadAverageAtEnd = loadAverage()

let encoder = JSONEncoder()
encoder.outputFormatting = [.sortedKeys]
do {
    let json = try encoder.encode(summary)
    print(String(decoding: json, as: UTF8.self))
} catch {
    fail("cannot encode the summary: \(error)")
}
