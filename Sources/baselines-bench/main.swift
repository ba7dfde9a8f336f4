// baselines-bench: single-thread training throughput of the two baseline autoencoders (float64,
// the paper's widths) on synthetic jets.
//
// Synthetic jets: B jets × N = 30 particle slots of relative polar features
// (pT_rel, η_rel, φ_rel). Each jet has 20…30 real particles (uniform), the remaining slots are
// zeros (zero-padded, as JetNet). Per real particle pT ~ Exp(1), then divided by the jet's
// Σ pT (so pT_rel sums to 1); η_rel, φ_rel ~ N(0, 0.1). Random numbers come from the project's
// Xoshiro256StarStar (exponential by inversion, normal by Box–Muller), seed --seed, so the
// jets are the same on every machine. CNNAE images: the same jets pixelated with `JetImage`
// (40 × 40, R = 0.8, normalised to sum 1).
//
// Measurements (one thread, one step = one batch):
//   gnnae-jl: GNNAE-JL (latent 45, Chamfer loss, summed over the batch as the reference does)
//   gnnae-pl: GNNAE-PL (d = 2 per particle, latent 60, MSE, mean over the batch)
//     step = zero the gradient, `lossAndGradient(jet:target:loss:workspace:accumulatingInto:)`
//            for each of the B jets (forward + backward, target = input), scale, and an Adam
//            update (lr 1e-3, β 0.9/0.999, ε 1e-8; `--no-adam` leaves it out).
//   cnnae:    CNNAE (C = 128, latent 55, 40 × 40), batch --cnn-batch (default 64, as Keras):
//     step = zero the gradient, the batch `lossAndGradient(images:workspace:accumulatingInto:)`
//            (forward + backward of every image), divide by the batch size, Adam update.
// Each measurement: one untimed warm-up step, then steps for at least --seconds of wall time.
// Reported: mean rate (all timed items / timed seconds), best and median per-step rate
// (items / fastest or median step time) and items per CPU-second of the process.
//
// Usage: baselines-bench [--seconds S] [--batch B] [--cnn-batch B] [--seed N]
//                        [--only gnnae-jl,gnnae-pl,cnnae] [--no-adam]
// Prints human-readable lines, then one JSON line with every figure.

import Baselines
import Training  // Adam, the optimiser every model trains with
import Foundation
import SeededRandom

struct Options {
    var seconds = 5.0
    var batch = 32
    var cnnBatch = 64
    var seed: UInt64 = 1
    var only: [String]? = nil
    var adam = true
}

let allModels = ["gnnae-jl", "gnnae-pl", "cnnae"]

func parseOptions() -> Options {
    var options = Options()
    var arguments = CommandLine.arguments.dropFirst()
    func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data("baselines-bench: \(message)\nusage: baselines-bench [--seconds S] [--batch B] [--cnn-batch B] [--seed N] [--only gnnae-jl,gnnae-pl,cnnae] [--no-adam]\n".utf8))
        exit(2)
    }
    while let flag = arguments.popFirst() {
        if flag == "--no-adam" { options.adam = false; continue }
        guard let value = arguments.popFirst() else { fail("\(flag) needs a value") }
        switch flag {
        case "--seconds":
            guard let s = Double(value), s > 0 else { fail("--seconds needs a positive number, got \(value)") }
            options.seconds = s
        case "--batch":
            guard let b = Int(value), b >= 1 else { fail("--batch needs a positive integer, got \(value)") }
            options.batch = b
        case "--cnn-batch":
            guard let b = Int(value), b >= 1 else { fail("--cnn-batch needs a positive integer, got \(value)") }
            options.cnnBatch = b
        case "--seed":
            guard let s = UInt64(value) else { fail("--seed needs a non-negative integer, got \(value)") }
            options.seed = s
        case "--only":
            let list = value.split(separator: ",").map(String.init)
            guard !list.isEmpty, list.allSatisfy(allModels.contains) else {
                fail("--only needs a comma-separated subset of \(allModels.joined(separator: ",")), got \(value)")
            }
            options.only = list
        default:
            fail("unknown option \(flag)")
        }
    }
    return options
}

let particleCount = 30

/// `count` jets, each N × 3 (pT_rel, η_rel, φ_rel) row-major, 20…30 real particles then zeros.
func syntheticJets(count: Int, rng: inout Xoshiro256StarStar) -> [[Double]] {
    (0..<count).map { _ in
        let real = 20 + Int(rng.nextBelow(UInt64(particleCount - 20 + 1)))
        var jet = [Double](repeating: 0, count: 3 * particleCount)
        var sum = 0.0
        for i in 0..<real {
            let pt = rng.nextExponential()
            jet[3 * i] = pt
            jet[3 * i + 1] = 0.1 * rng.nextStandardNormal()
            jet[3 * i + 2] = 0.1 * rng.nextStandardNormal()
            sum += pt
        }
        for i in 0..<real { jet[3 * i] /= sum }
        return jet
    }
}

/// The jet's image: JetImage wants (η_rel, φ_rel, pT_rel) rows.
func image(of jet: [Double]) -> [Double] {
    var rows = [Double](repeating: 0, count: jet.count)
    for i in 0..<(jet.count / 3) {
        rows[3 * i] = jet[3 * i + 1]
        rows[3 * i + 1] = jet[3 * i + 2]
        rows[3 * i + 2] = jet[3 * i]
    }
    return JetImage(particles: rows).intensities
}


func clock(_ id: clockid_t) -> Double {
    var t = timespec()
    clock_gettime(id, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}

struct Measurement {
    var meanRate: Double
    var bestRate: Double
    var medianRate: Double
    var ratePerCPUSecond: Double
    var steps: Int
    var medianStepMilliseconds: Double
}

/// One untimed warm-up call of `body` (one step of `items` items), then steps for at least `seconds`.
func measure(seconds: Double, items: Int, _ body: () -> Void) -> Measurement {
    body()
    var times: [Double] = []
    let start = clock(CLOCK_MONOTONIC), cpuStart = clock(CLOCK_PROCESS_CPUTIME_ID)
    var elapsed = 0.0
    repeat {
        let t0 = clock(CLOCK_MONOTONIC)
        body()
        let t1 = clock(CLOCK_MONOTONIC)
        times.append(t1 - t0)
        elapsed = t1 - start
    } while elapsed < seconds
    let cpu = clock(CLOCK_PROCESS_CPUTIME_ID) - cpuStart
    let sorted = times.sorted()
    let median = sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    let n = Double(items)
    return Measurement(meanRate: n * Double(times.count) / elapsed, bestRate: n / sorted[0], medianRate: n / median,
                       ratePerCPUSecond: n * Double(times.count) / cpu, steps: times.count,
                       medianStepMilliseconds: 1e3 * median)
}

struct Result: Codable {
    var model: String
    var loss: String
    var unit: String
    var parameters: Int
    var latent: Int
    var batch: Int
    var adam: Bool
    var meanPerSecond: Double
    var bestPerSecond: Double
    var medianPerSecond: Double
    var perCPUSecond: Double
    var steps: Int
    var medianStepMilliseconds: Double
    var firstLoss: Double
    var lastLoss: Double
}

func loadAverage() -> Double {
    var loads = [0.0, 0.0, 0.0]
    return getloadavg(&loads, 3) > 0 ? loads[0] : -1
}

let options = parseOptions()
let selected = options.only ?? allModels
let loadAtStart = loadAverage()
print("baselines-bench: float64, 1 thread, GNNAE batch \(options.batch), CNNAE batch \(options.cnnBatch), \(options.seconds) s per measurement, Adam \(options.adam ? "included" : "left out"), \(ProcessInfo.processInfo.activeProcessorCount) CPUs, load average \(loadAtStart)")

var rng = Xoshiro256StarStar(seed: options.seed)
let jets = syntheticJets(count: max(options.batch, options.cnnBatch), rng: &rng)
var results: [Result] = []

func benchGNNAE(name: String, encoding: GNNAEConfig.Encoding, loss: GNNAELoss, meanOverBatch: Bool) -> Result {
    let config = GNNAEConfig(encoding: encoding)
    var model = GNNAEModel(config: config, seed: options.seed)
    let workspace = model.makeWorkspace()
    var gradient = [Double](repeating: 0, count: model.layout.count)
    var adam = Adam(parameterCount: model.layout.count)
    let batch = Array(jets.prefix(options.batch))
    // MSE as nn.MSELoss: the mean over the B·N·3 entries = the mean of the per-jet means;
    // Chamfer as the reference: summed over the batch.
    let scale = meanOverBatch ? 1 / Double(batch.count) : 1
    var losses: [Double] = []
    let m = measure(seconds: options.seconds, items: batch.count) {
        for k in gradient.indices { gradient[k] = 0 }
        var total = 0.0
        for jet in batch {
            total += model.lossAndGradient(jet: jet, target: jet, loss: loss, workspace: workspace, accumulatingInto: &gradient)
        }
        if scale != 1 { for k in gradient.indices { gradient[k] *= scale } }
        losses.append(total * scale)
        if options.adam { adam.update(parameters: &model.parameters, gradient: gradient) }
    }
    return Result(model: name, loss: loss.rawValue, unit: "jets", parameters: model.layout.count, latent: config.latentCount,
                  batch: batch.count, adam: options.adam, meanPerSecond: m.meanRate, bestPerSecond: m.bestRate,
                  medianPerSecond: m.medianRate, perCPUSecond: m.ratePerCPUSecond, steps: m.steps,
                  medianStepMilliseconds: m.medianStepMilliseconds, firstLoss: losses.first!, lastLoss: losses.last!)
}

func benchCNNAE() -> Result {
    let config = CNNAEConfig(imageSize: 40, channels: 128, latentDimension: 55)
    var model = CNNAE(config: config, seed: options.seed)
    let workspace = CNNAEWorkspace(config: config)
    let images = jets.prefix(options.cnnBatch).flatMap(image(of:))
    var gradient = [Double](repeating: 0, count: model.layout.count)
    var adam = Adam(parameterCount: model.layout.count)
    let scale = 1 / Double(options.cnnBatch)
    var losses: [Double] = []
    let m = measure(seconds: options.seconds, items: options.cnnBatch) {
        for k in gradient.indices { gradient[k] = 0 }
        let total = images.withUnsafeBufferPointer { i in
            gradient.withUnsafeMutableBufferPointer { g in
                model.lossAndGradient(images: i, workspace: workspace, accumulatingInto: g)
            }
        }
        for k in gradient.indices { gradient[k] *= scale }
        losses.append(total * scale)
        if options.adam { adam.update(parameters: &model.parameters, gradient: gradient) }
    }
    return Result(model: "cnnae", loss: "mse", unit: "images", parameters: model.layout.count, latent: config.latentDimension,
                  batch: options.cnnBatch, adam: options.adam, meanPerSecond: m.meanRate, bestPerSecond: m.bestRate,
                  medianPerSecond: m.medianRate, perCPUSecond: m.ratePerCPUSecond, steps: m.steps,
                  medianStepMilliseconds: m.medianStepMilliseconds, firstLoss: losses.first!, lastLoss: losses.last!)
}

for name in allModels where selected.contains(name) {
    let result: Result
    switch name {
    case "gnnae-jl": result = benchGNNAE(name: name, encoding: .jetLevel(latent: 45), loss: .chamfer, meanOverBatch: false)
    case "gnnae-pl": result = benchGNNAE(name: name, encoding: .particleLevel(perNode: 2), loss: .mse, meanOverBatch: true)
    default: result = benchCNNAE()
    }
    results.append(result)
    print(String(format: "%@ (%@, %d parameters, latent %d, batch %d): train %8.1f %@/s mean, %8.1f best, %8.1f median (%.1f ms/step), %8.1f /CPU-s, %d steps; loss %.4g -> %.4g",
                 result.model, result.loss, result.parameters, result.latent, result.batch, result.meanPerSecond, result.unit,
                 result.bestPerSecond, result.medianPerSecond, result.medianStepMilliseconds, result.perCPUSecond,
                 result.steps, result.firstLoss, result.lastLoss))
}

struct Summary: Codable {
    var benchmark = "baselines-bench"
    var precision = "float64"
    var threads = 1
    var seed: UInt64
    var secondsPerMeasurement: Double
    var loadAverageAtStart: Double
    var loadAverageAtEnd: Double
    var results: [Result]
}
let encoder = JSONEncoder()
encoder.outputFormatting = [.sortedKeys]
let json = try! encoder.encode(Summary(seed: options.seed, secondsPerMeasurement: options.seconds,
                                       loadAverageAtStart: loadAtStart, loadAverageAtEnd: loadAverage(), results: results))
print(String(data: json, encoding: .utf8)!)
