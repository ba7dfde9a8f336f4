// lgae-bench: training and inference throughput of the LGAE (float64) on synthetic jets.
//
// Synthetic jets (the same recipe as the PyTorch reference benchmark): B jets × N = 30
// particles, all real; each particle massless with E = |p|, pt ~ Exp(1), eta ~ N(0, 0.2),
// phi ~ N(0, 0.2), p4 = (pt cosh eta, pt cos phi, pt sin phi, pt sinh eta); then each jet is
// divided by its largest |component| (the per-jet overall-max normalisation of lgae.md §2.3).
// Random numbers come from the project's Xoshiro256StarStar (exponential by inversion, normal by
// Box–Muller), so the jets are the same on every machine.
//
// Training: full `trainStep`s (forward + Chamfer loss + backward + Adam) on one batch.
// Inference: encode + decode only; with T threads the batch is split into T contiguous slices
// run by DispatchQueue.concurrentPerform, one cache pair per worker.
//
// Usage: lgae-bench [--seconds S] [--threads 1,2] [--batch B] [--seed N] [--only train|inference]
//                   [--configs minmax-k4,mix-k2]
// Prints human-readable lines, then one JSON line with every figure.

import Foundation
import LGAE
import SeededRandom

struct Options {
    var seconds = 5.0
    var threads = [1, 2]
    var batch = 32
    var seed: UInt64 = 1
    /// nil: both; "train" or "inference": only that measurement (for profiling).
    var only: String? = nil
    /// Configuration names to run (default all).
    var configs: [String]? = nil
}

func parseOptions() -> Options {
    var options = Options()
    var arguments = CommandLine.arguments.dropFirst()
    func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data("lgae-bench: \(message)\nusage: lgae-bench [--seconds S] [--threads 1,2] [--batch B] [--seed N] [--only train|inference] [--configs minmax-k4,mix-k2]\n".utf8))
        exit(2)
    }
    while let flag = arguments.popFirst() {
        guard let value = arguments.popFirst() else { fail("\(flag) needs a value") }
        switch flag {
        case "--seconds":
            guard let s = Double(value), s > 0 else { fail("--seconds needs a positive number, got \(value)") }
            options.seconds = s
        case "--threads":
            let list = value.split(separator: ",").map { Int($0) }
            guard !list.isEmpty, list.allSatisfy({ ($0 ?? 0) >= 1 }) else {
                fail("--threads needs a comma-separated list of positive integers, got \(value)")
            }
            options.threads = list.map { $0! }
        case "--batch":
            guard let b = Int(value), b >= 1 else { fail("--batch needs a positive integer, got \(value)") }
            options.batch = b
        case "--only":
            guard value == "train" || value == "inference" else { fail("--only needs train or inference, got \(value)") }
            options.only = value
        case "--configs":
            options.configs = value.split(separator: ",").map(String.init)
        case "--seed":
            guard let s = UInt64(value) else { fail("--seed needs a non-negative integer, got \(value)") }
            options.seed = s
        default:
            fail("unknown option \(flag)")
        }
    }
    return options
}

/// B normalised synthetic jets of N particles (all real) and their targets (the same jets).
func syntheticJets(count: Int, particles n: Int, rng: inout Xoshiro256StarStar) -> (jets: [JetInput], targets: [[Double]]) {
    var jets: [JetInput] = []
    var targets: [[Double]] = []
    for _ in 0..<count {
        var p4 = [Double](repeating: 0, count: 4 * n)
        for i in 0..<n {
            let pt = rng.nextExponential()
            let eta = 0.2 * rng.nextStandardNormal()
            let phi = 0.2 * rng.nextStandardNormal()
            p4[4 * i] = pt * cosh(eta)
            p4[4 * i + 1] = pt * cos(phi)
            p4[4 * i + 2] = pt * sin(phi)
            p4[4 * i + 3] = pt * sinh(eta)
        }
        let scale = p4.map(abs).max()!
        p4 = p4.map { $0 / scale }
        jets.append(JetInput(p4: p4, mask: Array(repeating: true, count: n)))
        targets.append(p4)
    }
    return (jets, targets)
}

func clock(_ id: clockid_t) -> Double {
    var t = timespec()
    clock_gettime(id, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}

struct Measurement {
    /// Jets per wall-clock second.
    var jetsPerSecond: Double
    /// Jets per second of process CPU time (all threads): the per-core throughput, much less
    /// sensitive than wall time to other processes competing for the cores.
    var jetsPerCPUSecond: Double
    var calls: Int
    static let skipped = Measurement(jetsPerSecond: 0, jetsPerCPUSecond: 0, calls: 0)
}

/// Runs `body` (one unit of `jetsPerCall` jets) once to warm up, then repeatedly for at least
/// `seconds` of wall time.
func measure(seconds: Double, jetsPerCall: Int, _ body: () -> Void) -> Measurement {
    body()
    let start = clock(CLOCK_MONOTONIC), cpuStart = clock(CLOCK_PROCESS_CPUTIME_ID)
    var calls = 0
    var elapsed = 0.0
    repeat {
        body()
        calls += 1
        elapsed = clock(CLOCK_MONOTONIC) - start
    } while elapsed < seconds
    let cpu = clock(CLOCK_PROCESS_CPUTIME_ID) - cpuStart
    let jets = Double(calls * jetsPerCall)
    return Measurement(jetsPerSecond: jets / elapsed, jetsPerCPUSecond: jets / cpu, calls: calls)
}

final class InferenceWorkers: @unchecked Sendable {
    let encoderCaches: [EncoderCache]
    let decoderCaches: [DecoderCache]
    init(model: LGAEModel, threads: Int) {
        encoderCaches = (0..<threads).map { _ in model.makeEncoderCache() }
        decoderCaches = (0..<threads).map { _ in model.makeDecoderCache() }
    }
}

/// Encode + decode every jet; jets are split into `threads` contiguous slices.
func infer(model: LGAEModel, jets: [JetInput], threads: Int, workers: InferenceWorkers) {
    if threads == 1 {
        for jet in jets {
            model.reconstruct(jet, encoderCache: workers.encoderCaches[0], decoderCache: workers.decoderCaches[0])
        }
        return
    }
    let count = jets.count
    DispatchQueue.concurrentPerform(iterations: threads) { w in
        let lower = count * w / threads, upper = count * (w + 1) / threads
        for b in lower..<upper {
            model.reconstruct(jets[b], encoderCache: workers.encoderCaches[w], decoderCache: workers.decoderCaches[w])
        }
    }
}

struct Result: Codable {
    var config: String
    var aggregation: String
    var k: Int
    var loss: String
    var parameters: Int
    var threads: Int
    var batch: Int
    var trainJetsPerSecond: Double
    var trainJetsPerSecondPerThread: Double
    var trainJetsPerCPUSecond: Double
    var trainSteps: Int
    var inferenceJetsPerSecond: Double
    var inferenceJetsPerSecondPerThread: Double
    var inferenceJetsPerCPUSecond: Double
    var deterministicAcrossThreads: Bool
}

let options = parseOptions()
let configurations: [(name: String, config: LGAEConfig)] = [
    ("minmax-k4", LGAEConfig()),
    ("mix-k2", LGAEConfig(aggregation: .mix, latentVectorCount: 2)),
]
func loadAverage() -> Double {
    var loads = [0.0, 0.0, 0.0]
    return getloadavg(&loads, 3) > 0 ? loads[0] : -1
}
let loadAtStart = loadAverage()
print("lgae-bench: float64, batch \(options.batch), \(options.seconds) s per measurement, threads \(options.threads.map(String.init).joined(separator: ",")), \(ProcessInfo.processInfo.activeProcessorCount) CPUs, load average \(loadAtStart)")

var results: [Result] = []
for (name, config) in configurations where options.configs?.contains(name) ?? true {
    var rng = Xoshiro256StarStar(seed: options.seed)
    let (jets, targets) = syntheticJets(count: options.batch, particles: config.particleCount, rng: &rng)
    let model0 = LGAEModel(config: config, seed: options.seed)
    let loss = TrainingLoss.chamfer

    // Determinism check: the batch gradient must be bit-identical for every thread count.
    let reference = batchLossAndGradient(model: model0, jets: jets, targets: targets, loss: loss, threads: 1,
                                         workspace: TrainingWorkspace(model: model0, threads: 1))
    var deterministic = true
    for threads in options.threads where threads > 1 {
        let other = batchLossAndGradient(model: model0, jets: jets, targets: targets, loss: loss, threads: threads,
                                         workspace: TrainingWorkspace(model: model0, threads: threads))
        if other.loss.bitPattern != reference.loss.bitPattern
            || !zip(other.gradients.values, reference.gradients.values).allSatisfy({ $0.bitPattern == $1.bitPattern }) {
            deterministic = false
        }
    }
    print("\(name): \(model0.layout.count) parameters, batch loss \(reference.loss), gradients identical for threads \(options.threads): \(deterministic)")

    for threads in options.threads {
        var model = model0
        var adam = Adam(parameterCount: model.layout.count)
        let workspace = TrainingWorkspace(model: model, threads: threads)
        let skipTrain = options.only == "inference", skipInference = options.only == "train"
        let train = skipTrain ? Measurement.skipped : measure(seconds: options.seconds, jetsPerCall: options.batch) {
            do {
                try trainStep(model: &model, optimiser: &adam, jets: jets, targets: targets, loss: loss,
                              threads: threads, workspace: workspace)
            } catch {
                fatalError("lgae-bench: \(error)")
            }
        }
        let workers = InferenceWorkers(model: model0, threads: threads)
        let inference = skipInference ? Measurement.skipped : measure(seconds: options.seconds, jetsPerCall: options.batch) {
            infer(model: model0, jets: jets, threads: threads, workers: workers)
        }
        let result = Result(
            config: name, aggregation: config.aggregation.rawValue, k: config.latentVectorCount, loss: loss.rawValue,
            parameters: model0.layout.count, threads: threads, batch: options.batch,
            trainJetsPerSecond: train.jetsPerSecond, trainJetsPerSecondPerThread: train.jetsPerSecond / Double(threads),
            trainJetsPerCPUSecond: train.jetsPerCPUSecond, trainSteps: train.calls,
            inferenceJetsPerSecond: inference.jetsPerSecond,
            inferenceJetsPerSecondPerThread: inference.jetsPerSecond / Double(threads),
            inferenceJetsPerCPUSecond: inference.jetsPerCPUSecond,
            deterministicAcrossThreads: deterministic)
        results.append(result)
        print(String(format: "%@ threads=%d  train %8.1f jets/s (%7.1f /thread, %7.1f /CPU-s, %d steps)   inference %9.1f jets/s (%8.1f /thread, %8.1f /CPU-s)",
                     name, threads, train.jetsPerSecond, train.jetsPerSecond / Double(threads), train.jetsPerCPUSecond,
                     train.calls, inference.jetsPerSecond, inference.jetsPerSecond / Double(threads),
                     inference.jetsPerCPUSecond))
    }
}

let encoder = JSONEncoder()
encoder.outputFormatting = [.sortedKeys]
struct Summary: Codable {
    var benchmark = "lgae-bench"
    var precision = "float64"
    var batch: Int
    var secondsPerMeasurement: Double
    var loadAverageAtStart: Double
    var loadAverageAtEnd: Double
    var results: [Result]
}
let json = try! encoder.encode(Summary(batch: options.batch, secondsPerMeasurement: options.seconds,
                                       loadAverageAtStart: loadAtStart, loadAverageAtEnd: loadAverage(), results: results))
print(String(data: json, encoding: .utf8)!)
