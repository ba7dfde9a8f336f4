import Baselines
import Executor
import Foundation
import JetData

// `reconstruct` for the baselines. The GNNAE reconstructs JetNet's relative coordinates; mapped
// back to four-momenta with each jet's own pT, η and azimuth (the same §2.2 formula that made the
// targets, massless), its output goes through exactly the matching, errors and scores of the
// LGAE. The CNNAE reconstructs jet images; it gets the image-based jet features (paper footnote 3)
// and the per-image anomaly score instead.

extension ReconstructStage {
    func reconstructGNNAE(_ ctx: StageContext, parts: [String], limit: Int) throws -> JSONValue {
        let (model, file) = try modelInput(ctx, named: "model.gnnae", trainedBy: "train-gnnae", GNNAEModel.init(serialized:))
        let (trainingFile, training) = try trainingReport(ctx, family: "GNNAE")
        guard let loss = training["loss"]?.stringValue else {
            throw StageFailure("stage '\(ctx.stage)': \(trainingFile.label) lacks 'loss'. Fix: feed the `training.json` of the `train-gnnae` stage that made the model.")
        }
        let config = model.config, n = config.particleCount, f = config.particleFeatures
        let scale = try ctx.double("scale")
        var counts: [String: JSONValue] = [:]
        var seconds = 0.0, total = 0
        for (k, part) in parts.enumerated() {
            ctx.progress(Double(k), of: Double(parts.count), unit: .items, detail: part)
            let relative = try RelativeJets(ctx, part: part, limit: limit)
            let data = try JetArrays(ctx, part: part, particles: n)
            guard relative.particles == n, relative.count <= data.count else {
                throw StageFailure("stage '\(ctx.stage)': \(part) has \(relative.count) jets of \(relative.particles) particles in `load` but \(data.count) of \(data.particles) in `split`, and the model takes \(n). Fix: feed `load` and `split` stages of one run.")
            }
            let count = relative.count
            let axes = try relative.jetAxes(ctx)
            let inputs = relative.gnnaeInputs()
            let target = Array(data.p4[0..<(count * n * 4)])
            try checkTargetsAgree(ctx, part: part, relative: relative, axes: axes, target: target, scale: scale)
            let started = Date()
            let chunks = try inChunks(count: count, threads: ctx.threads, chunk: 64) { first, end -> (relative: [Double], p4: [Double], latent: [Double]) in
                let workspace = model.makeWorkspace()
                var rel: [Double] = [], p4: [Double] = [], latent: [Double] = []
                for j in first..<end {
                    let (output, z) = model.forward(jet: Array(inputs[(j * n * f)..<((j + 1) * n * f)]), workspace: workspace)
                    rel += output
                    latent += z
                    for i in 0..<n {
                        // The network's features are (pT_rel, η_rel, φ_rel), in that order. Its last
                        // LeakyReLU lets pT_rel go negative; such a particle comes out with pT
                        // |pT_rel|·pT_jet at φ + π and −η, which is what the four-vector means.
                        let p = fourMomentum(ptRel: output[i * f], etaRel: output[i * f + 1], phiRel: output[i * f + 2],
                                             jetPt: axes[j].pt, jetEta: axes[j].eta, jetPhi: axes[j].phi, mass: 0, scale: scale)
                        p4 += [p.E, p.px, p.py, p.pz]
                    }
                }
                return (rel, p4, latent)
            }
            seconds += Date().timeIntervalSince(started)
            total += count
            let output = chunks.flatMap(\.p4)
            if let bad = output.firstIndex(where: { !$0.isFinite }) {
                throw StageFailure("stage '\(ctx.stage)': the model's output for \(part) jet \(bad / (4 * n)) is \(output[bad]). Fix: the model in \(file.label) is broken; retrain it.")
            }
            try writeNpy(target, shape: [count, n, 4], to: ctx.outputPath("\(part)_target.npy"))
            try writeNpy(output, shape: [count, n, 4], to: ctx.outputPath("\(part)_output.npy"))
            // The target jets' factors of §2.3, for the normalised scores (the GNNAE itself is not
            // trained on normalised jets).
            try writeNpy(Array(data.norm[0..<(count * data.normWidth)]), shape: data.normWidth == 1 ? [count] : [count, data.normWidth],
                         to: ctx.outputPath("\(part)_norm.npy"))
            try writeNpy(chunks.flatMap(\.relative), shape: [count, n, f], to: ctx.outputPath("\(part)_output_relative.npy"))
            try writeNpy(chunks.flatMap(\.latent), shape: [count, config.latentCount], to: ctx.outputPath("\(part)_latent.npy"))
            counts[part] = .number(Double(count))
        }
        let info: JSONValue = [
            "model": "GNNAE", "aggregation": .string(config.encoding.label),
            "latentDimension": .number(Double(config.encoding.latentSize)), "latentCount": .number(Double(config.latentCount)),
            "compressionRate": .number(config.compressionRate), "loss": .string(loss), "particles": .number(Double(n)),
            "normalisation": false, "units": "TeV", "outputs": "particles",
            "outputCoordinates": "relative polar (pT_rel, eta_rel, phi_rel) mapped to massless four-momenta with each jet's pT, eta and azimuth",
            "parts": .object(counts),
        ]
        try (info.pretty + "\n").write(toFile: ctx.outputPath("reconstruction.json"), atomically: false, encoding: .utf8)
        ctx.note(String(format: "%d jets over %d parts in %.2f s (%.0f jets/s)", total, parts.count, seconds, Double(total) / max(seconds, 1e-9)))
        return ["jets": .number(Double(total)), "parts": .object(counts), "jetsPerSecond": .number(Double(total) / max(seconds, 1e-9))]
    }

    func reconstructCNNAE(_ ctx: StageContext, parts: [String], limit: Int) throws -> JSONValue {
        let (model, file) = try modelInput(ctx, named: "model.cnnae", trainedBy: "train-cnnae", CNNAE.init(serialized:))
        let (trainingFile, training) = try trainingReport(ctx, family: "CNNAE")
        guard let radius = training["model"]?["imageRadius"]?.doubleValue else {
            throw StageFailure("stage '\(ctx.stage)': \(trainingFile.label) lacks model.imageRadius. Fix: feed the `training.json` of the `train-cnnae` stage that made the model.")
        }
        let config = model.config, s2 = config.pixelCount
        let binning = JetImageBinning(pixelCount: config.imageSize, radius: radius)
        var counts: [String: JSONValue] = [:]
        var seconds = 0.0, total = 0
        for (k, part) in parts.enumerated() {
            ctx.progress(Double(k), of: Double(parts.count), unit: .items, detail: part)
            let relative = try RelativeJets(ctx, part: part, limit: limit)
            let count = relative.count
            let target = relative.images(binning).values
            let started = Date()
            let chunks = try inChunks(count: count, threads: ctx.threads, chunk: 64) { first, end -> (images: [Double], latent: [Double]) in
                let workspace = CNNAEWorkspace(config: config)
                var images: [Double] = [], latent: [Double] = []
                target.withUnsafeBufferPointer { t in
                    for j in first..<end {
                        model.forward(image: UnsafeBufferPointer(rebasing: t[(j * s2)..<((j + 1) * s2)]), workspace: workspace)
                        images += workspace.reconstruction
                        latent += workspace.latent
                    }
                }
                return (images, latent)
            }
            seconds += Date().timeIntervalSince(started)
            total += count
            let output = chunks.flatMap(\.images)
            if let bad = output.firstIndex(where: { !$0.isFinite }) {
                throw StageFailure("stage '\(ctx.stage)': the model's output for \(part) image \(bad / s2) is \(output[bad]). Fix: the model in \(file.label) is broken; retrain it.")
            }
            try writeNpy(target, shape: [count, config.imageSize, config.imageSize], to: ctx.outputPath("\(part)_target_image.npy"))
            try writeNpy(output, shape: [count, config.imageSize, config.imageSize], to: ctx.outputPath("\(part)_output_image.npy"))
            try writeNpy(chunks.flatMap(\.latent), shape: [count, config.latentDimension], to: ctx.outputPath("\(part)_latent.npy"))
            // Each jet's pT (GeV), η and azimuth: where its image sits, so that Table 3 compares the
            // same absolute jet features for the CNNAE as for the four-momentum models.
            try writeNpy(try relative.jetAxes(ctx).flatMap { [$0.pt, $0.eta, $0.phi] }, shape: [count, 3],
                         to: ctx.outputPath("\(part)_jet_frame.npy"))
            counts[part] = .number(Double(count))
        }
        let info: JSONValue = [
            "model": "CNNAE", "aggregation": "linear", "latentDimension": .number(Double(config.latentDimension)),
            "compressionRate": .number(config.compressionRate), "loss": "mse", "outputs": "images",
            "imageSize": .number(Double(config.imageSize)), "imageRadius": .number(radius), "parts": .object(counts),
        ]
        try (info.pretty + "\n").write(toFile: ctx.outputPath("reconstruction.json"), atomically: false, encoding: .utf8)
        ctx.note(String(format: "%d images over %d parts in %.2f s (%.0f images/s)", total, parts.count, seconds, Double(total) / max(seconds, 1e-9)))
        return ["jets": .number(Double(total)), "parts": .object(counts), "jetsPerSecond": .number(Double(total) / max(seconds, 1e-9))]
    }

    /// The `training.json` input, checked to describe a model of `family`.
    private func trainingReport(_ ctx: StageContext, family: String) throws -> (StageInput, JSONValue) {
        let file = try ctx.input(named: "training.json")
        let report = try readJSON(ctx, file, fix: "feed the `training.json` of the same training stage as the model")
        guard report["model"]?["family"]?.stringValue == family else {
            throw StageFailure("stage '\(ctx.stage)': \(file.label) does not describe a \(family) (model.family is \(report["model"]?["family"]?.canonical ?? "missing")). Fix: take the model and training.json from the same `train-\(family.lowercased())` stage.")
        }
        return (file, report)
    }

    /// The relative coordinates, jet axes and `scale` must rebuild the split's four-momenta: px, py,
    /// pz of every real particle exactly (the energies differ by the tiny masses of §2.2). This
    /// proves that `load`, `preprocess` and `split` belong together and that `scale` is theirs, so
    /// that the GNNAE's output lands in the targets' frame and units.
    private func checkTargetsAgree(_ ctx: StageContext, part: String, relative: RelativeJets, axes: [(pt: Double, eta: Double, phi: Double)],
                                   target: [Double], scale: Double) throws {
        let n = relative.particles
        for j in 0..<relative.count {
            for i in 0..<n where relative.features[(j * n + i) * 4 + 3] != 0 {
                let x = relative.features[(j * n + i) * 4..<((j * n + i) * 4 + 3)].map { $0 }
                let p = fourMomentum(ptRel: x[2], etaRel: x[0], phiRel: x[1], jetPt: axes[j].pt, jetEta: axes[j].eta, jetPhi: axes[j].phi,
                                     mass: 0, scale: scale)
                let t = (j * n + i) * 4
                let worst = max(abs(p.px - target[t + 1]), abs(p.py - target[t + 2]), abs(p.pz - target[t + 3]))
                if worst > 1e-12 * max(1, abs(target[t])) {
                    throw StageFailure("stage '\(ctx.stage)': \(part) jet \(j) particle \(i) rebuilt from `load`'s relative coordinates is (\(p.px), \(p.py), \(p.pz)) but the split holds (\(target[t + 1]), \(target[t + 2]), \(target[t + 3])). Fix: set `stages.\(ctx.stage).params.scale` to `preprocess`'s scale, and feed the `load`, `preprocess` and `split` stages of one run.")
                }
            }
        }
    }
}
