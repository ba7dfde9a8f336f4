import Foundation
import SeededRandom

// The CNNAE baseline (paper App. A.3; spec §12.2): a convolutional autoencoder of normalised jet
// images, as the reference TensorFlow/Keras script `cnnae_ucsd.py` builds it:
//
//   input S×S×1
//   Conv2D 3×3 stride 2 "same" 1 → C, ReLU                       S/2 × S/2 × C
//   Conv2D 3×3 stride 2 "same" C → C, ReLU                       S/4 × S/4 × C
//   Flatten (channels-last: index (y·S/4 + x)·C + c)             (S/4)²·C
//   Dense → latent, linear ("bottleneck")                        latent
//   Dense latent → (S/4)²·C, ReLU; Reshape (same order)          S/4 × S/4 × C
//   Conv2DTranspose 3×3 stride 2 "same" C → C, ReLU              S/2 × S/2 × C
//   Conv2DTranspose 3×3 stride 2 "same" C → 1, linear            S × S × 1
//   Softmax over all S² pixels                                   S × S (sums to 1)
//
// Paper: S = 40, C = 128, latent 55 (the script's default latent is 16). Loss: Keras "mse", the
// mean over the S² pixels of one image (then over the batch); anomaly score: Σ over pixels of
// (reconstruction − target)² (§11.3). Everything is float64 (the reference trains in float32).
//
// The forward and backward passes here chain the kernels of ConvKernels.swift; the data flow
// between them is spelled out in CNNAE+Backward.swift.

/// The CNNAE's shape. The paper's network is the default; the pipeline may shrink `channels`.
public struct CNNAEConfig: Hashable, Sendable, Codable {
    /// Image side S in pixels; a multiple of 4 (two stride-2 halvings, then two doublings back).
    public var imageSize: Int
    /// C, the channels of every hidden convolution (paper 128).
    public var channels: Int
    /// The bottleneck width (paper 55; the reference script's default 16).
    public var latentDimension: Int

    public init(imageSize: Int = 40, channels: Int = 128, latentDimension: Int = 55) {
        self.imageSize = imageSize
        self.channels = channels
        self.latentDimension = latentDimension
    }

    public func validate() throws {
        guard imageSize >= 4, imageSize % 4 == 0 else {
            throw CNNAEConfigError("imageSize must be a positive multiple of 4 (two stride-2 halvings), got \(imageSize)")
        }
        guard channels >= 1 else { throw CNNAEConfigError("channels must be at least 1, got \(channels)") }
        guard latentDimension >= 1 else { throw CNNAEConfigError("latentDimension must be at least 1, got \(latentDimension)") }
    }

    /// S².
    public var pixelCount: Int { imageSize * imageSize }
    /// The side after the first convolution, S/2.
    public var halfSize: Int { imageSize / 2 }
    /// The side after the second convolution, S/4.
    public var quarterSize: Int { imageSize / 4 }
    /// The length of the flattened encoder output, (S/4)²·C (12,800 for the paper).
    public var flatLength: Int { quarterSize * quarterSize * channels }

    /// The latent size over the 30 × 3 = 90 particle features of a JetNet jet, the denominator the
    /// paper uses for the GNNAE baselines: 55/90 = 0.6111 for the paper's CNNAE.
    public var compressionRate: Double { Double(latentDimension) / 90 }

    /// The rate as the paper's Tables 3 and 4 print it. For latent 55 the paper prints "61.67%",
    /// although 55/90 = 61.11% (spec §14 item 8; 61.67% = 74/120 is the rate of the LGAE-Mix τ = 9
    /// row above it, which looks like the source of the slip); it is kept here verbatim so that a
    /// reproduced table reads like the paper's. Any other latent gets its true rate, 2 decimals.
    /// (The reference script itself logs S²/latent followed by "%", which is not a rate.)
    public var paperCompressionRateLabel: String {
        latentDimension == 55 ? "61.67%" : String(format: "%.2f%%", 100 * compressionRate)
    }
}

public struct CNNAEConfigError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// One named block of the CNNAE's flat parameter buffer: row-major with Keras' shape, in Keras'
/// weight order, so that `model.get_weights()` of the reference maps block for block.
public struct CNNAEParameterBlock: Hashable, Sendable {
    public let name: String
    public let offset: Int
    public let shape: [Int]
    /// Glorot-uniform bound √(6 / (fan_in + fan_out)) for a kernel; nil for a bias (zeros).
    public let glorotBound: Double?

    public var count: Int { shape.reduce(1, *) }
    public var range: Range<Int> { offset..<(offset + count) }
}

/// Offsets of the kernel and bias of one layer.
public struct CNNAELayerView: Hashable, Sendable {
    public let kernel: Int
    public let bias: Int
}

/// The flat parameter layout, blocks in this order:
///
///     conv1.kernel       (3, 3, 1, C)          conv1.bias       (C)
///     conv2.kernel       (3, 3, C, C)          conv2.bias       (C)
///     bottleneck.kernel  ((S/4)²·C, latent)    bottleneck.bias  (latent)
///     dense.kernel       (latent, (S/4)²·C)    dense.bias       ((S/4)²·C)
///     deconv1.kernel     (3, 3, C, C)          deconv1.bias     (C)     Conv2DTranspose: (kh, kw, out, in)
///     deconv2.kernel     (3, 3, 1, C)          deconv2.bias     (1)
///
/// For the paper's S = 40, C = 128, latent 55: 1,280 + 147,584 + 704,055 + 716,800 + 147,584 +
/// 1,153 = 1,718,456 parameters.
public struct CNNAEParameterLayout: Hashable, Sendable {
    public let config: CNNAEConfig
    public let blocks: [CNNAEParameterBlock]
    public let count: Int
    public let conv1: CNNAELayerView
    public let conv2: CNNAELayerView
    public let bottleneck: CNNAELayerView
    public let dense: CNNAELayerView
    public let deconv1: CNNAELayerView
    public let deconv2: CNNAELayerView

    public init(config: CNNAEConfig) {
        do { try config.validate() } catch { preconditionFailure("\(error)") }
        let c = config.channels, latent = config.latentDimension, flat = config.flatLength
        var blocks: [CNNAEParameterBlock] = []
        var offset = 0
        func layer(_ name: String, kernel shape: [Int], fanIn: Int, fanOut: Int, biases: Int) -> CNNAELayerView {
            let kernel = CNNAEParameterBlock(name: name + ".kernel", offset: offset, shape: shape,
                                             glorotBound: (6 / Double(fanIn + fanOut)).squareRoot())
            offset += kernel.count
            let bias = CNNAEParameterBlock(name: name + ".bias", offset: offset, shape: [biases], glorotBound: nil)
            offset += bias.count
            blocks += [kernel, bias]
            return CNNAELayerView(kernel: kernel.offset, bias: bias.offset)
        }
        // Keras' fans for a (kh, kw, a, b) kernel: 9·a and 9·b (their sum is all Glorot needs,
        // so the transposed layout of Conv2DTranspose gets the same bound).
        conv1 = layer("conv1", kernel: [3, 3, 1, c], fanIn: 9, fanOut: 9 * c, biases: c)
        conv2 = layer("conv2", kernel: [3, 3, c, c], fanIn: 9 * c, fanOut: 9 * c, biases: c)
        bottleneck = layer("bottleneck", kernel: [flat, latent], fanIn: flat, fanOut: latent, biases: latent)
        dense = layer("dense", kernel: [latent, flat], fanIn: latent, fanOut: flat, biases: flat)
        deconv1 = layer("deconv1", kernel: [3, 3, c, c], fanIn: 9 * c, fanOut: 9 * c, biases: c)
        deconv2 = layer("deconv2", kernel: [3, 3, 1, c], fanIn: 9, fanOut: 9 * c, biases: 1)
        self.config = config
        self.blocks = blocks
        count = offset
    }

    /// The block called `name`, e.g. "conv2.kernel".
    public func block(named name: String) -> CNNAEParameterBlock {
        guard let block = blocks.first(where: { $0.name == name }) else {
            preconditionFailure("CNNAEParameterLayout has no block named \"\(name)\"; its blocks are: "
                                + blocks.map(\.name).joined(separator: ", "))
        }
        return block
    }

    /// Keras' defaults: Glorot-uniform kernels, zero biases. One xoshiro256** stream from `seed`
    /// fills the kernels in block order, element by element in row-major order, each value
    /// bound·(2·U[0,1) − 1); biases draw nothing. (Keras draws from TensorFlow's generators, so
    /// the distribution matches the reference but the numbers cannot.)
    public func initialParameters(seed: UInt64) -> [Double] {
        var rng = Xoshiro256StarStar(seed: seed)
        var parameters = [Double](repeating: 0, count: count)
        for block in blocks {
            guard let bound = block.glorotBound else { continue }
            for i in block.range { parameters[i] = bound * (2 * rng.nextUniform() - 1) }
        }
        return parameters
    }
}

/// A CNNAE: its configuration, layout and parameters. Read-only during a pass, so one value may
/// serve several threads at once, each with its own `CNNAEWorkspace`.
public struct CNNAE: Sendable {
    public let config: CNNAEConfig
    public let layout: CNNAEParameterLayout
    public var parameters: [Double]

    /// Keras-initialised (see `CNNAEParameterLayout.initialParameters(seed:)`).
    public init(config: CNNAEConfig = CNNAEConfig(), seed: UInt64) {
        self.config = config
        layout = CNNAEParameterLayout(config: config)
        parameters = layout.initialParameters(seed: seed)
    }

    public init(config: CNNAEConfig, parameters: [Double]) {
        self.config = config
        layout = CNNAEParameterLayout(config: config)
        precondition(parameters.count == layout.count,
                     "CNNAE: \(parameters.count) parameters given, the layout needs \(layout.count)")
        self.parameters = parameters
    }

    /// Reconstruction (S² pixels, row-major, summing to 1) and latent vector of one image.
    /// Allocates its results and a workspace; loops should use `forward(image:workspace:)`.
    public func forward(image: [Double]) -> (reconstruction: [Double], latent: [Double]) {
        let workspace = CNNAEWorkspace(config: config)
        forward(image: image, workspace: workspace)
        return (Array(workspace.reconstruction), Array(workspace.latent))
    }

    /// Runs the network on one S × S image (row-major [φ bin][η bin], as `JetImage.intensities`),
    /// leaving every intermediate in `workspace`; read `workspace.reconstruction` and
    /// `workspace.latent`. Allocates nothing.
    public func forward(image: [Double], workspace: CNNAEWorkspace) {
        image.withUnsafeBufferPointer { forward(image: $0, workspace: workspace) }
    }

    public func forward(image: UnsafeBufferPointer<Double>, workspace: CNNAEWorkspace) {
        precondition(image.count == config.pixelCount, "CNNAE: an image of \(config.pixelCount) pixels was expected, got \(image.count)")
        precondition(workspace.config == config, "CNNAE: the workspace was made for \(workspace.config), the model is \(config)")
        parameters.withUnsafeBufferPointer { p in
            let pass = CNNAEPass(layout: layout, parameters: p.baseAddress!, workspace: workspace)
            pass.packForwardKernels()
            pass.forward(image: image.baseAddress!)
        }
    }

    /// The anomaly score of one image, Σ over pixels of (reconstruction − image)² (§11.3).
    public func anomalyScore(image: UnsafeBufferPointer<Double>, workspace: CNNAEWorkspace) -> Double {
        forward(image: image, workspace: workspace)
        return convSquaredError(workspace.reconstruction.baseAddress!, image.baseAddress!, count: config.pixelCount)
    }

    /// The anomaly scores of `scores.count` images stored one after another in `images`
    /// (scores.count·S² numbers), as `anomalyScore(image:workspace:)` computes them one by one,
    /// bit for bit, with the kernel packing done once for all of them.
    public func anomalyScores(images: UnsafeBufferPointer<Double>, workspace: CNNAEWorkspace,
                              into scores: UnsafeMutableBufferPointer<Double>) {
        let n = config.pixelCount
        precondition(images.count == scores.count * n, "CNNAE: \(scores.count) images of \(n) pixels need \(scores.count * n) numbers, got \(images.count)")
        precondition(workspace.config == config, "CNNAE: the workspace was made for \(workspace.config), the model is \(config)")
        parameters.withUnsafeBufferPointer { p in
            let pass = CNNAEPass(layout: layout, parameters: p.baseAddress!, workspace: workspace)
            pass.packForwardKernels()
            for i in 0..<scores.count {
                let image = images.baseAddress! + i * n
                pass.forward(image: image)
                scores[i] = convSquaredError(workspace.reconstructionStorage, image, count: n)
            }
        }
    }

    public func anomalyScore(image: [Double], workspace: CNNAEWorkspace) -> Double {
        image.withUnsafeBufferPointer { anomalyScore(image: $0, workspace: workspace) }
    }

    /// The training loss of one image, Keras "mse": the mean over the S² pixels of
    /// (reconstruction − image)².
    public func loss(image: UnsafeBufferPointer<Double>, workspace: CNNAEWorkspace) -> Double {
        anomalyScore(image: image, workspace: workspace) / Double(config.pixelCount)
    }

    public func loss(image: [Double], workspace: CNNAEWorkspace) -> Double {
        image.withUnsafeBufferPointer { loss(image: $0, workspace: workspace) }
    }
}

/// Every buffer one forward and backward pass needs, allocated once (per thread) and reused, so
/// that a pass allocates nothing. One thread at a time: a trainer makes one per worker (it may
/// make them up front and hand each to its thread, hence `@unchecked Sendable`).
public final class CNNAEWorkspace: @unchecked Sendable {
    public let config: CNNAEConfig

    // Activations (forward). Padded maps keep a ring of zeros that nothing writes (ConvKernels).
    let inputMap: ConvPaddedMap       // S × S × 1, the image
    let conv1Map: ConvPaddedMap       // S/2 × S/2 × C, after ReLU
    let deconvInputMap: ConvPaddedMap // S/4 × S/4 × C, the reshaped Dense output after ReLU
    let deconv1Map: ConvPaddedMap     // S/2 × S/2 × C, after ReLU
    let logitMap: ConvPaddedMap       // S × S × 1, the gradient of the last layer's output

    let input: UnsafeMutablePointer<Double>
    let conv1: UnsafeMutablePointer<Double>
    /// Conv2 output after ReLU, flattened: (S/4)²·C.
    let conv2: UnsafeMutablePointer<Double>
    let latentStorage: UnsafeMutablePointer<Double>
    /// Dense output after ReLU, flat; `deconvInput` holds the same numbers as a padded map.
    let dense: UnsafeMutablePointer<Double>
    let deconvInput: UnsafeMutablePointer<Double>
    let deconv1: UnsafeMutablePointer<Double>
    /// The last Conv2DTranspose output (the softmax's argument), S × S.
    let logits: UnsafeMutablePointer<Double>
    let reconstructionStorage: UnsafeMutablePointer<Double>

    // Gradients (backward).
    let pixelGradient: UnsafeMutablePointer<Double>      // flat S²: ∂L/∂softmax, then ∂L/∂logits
    let logitGradient: UnsafeMutablePointer<Double>      // logitMap
    let deconv1Gradient: UnsafeMutablePointer<Double>    // deconv1Map layout: ∂L/∂(deconv1 pre-activation)
    let denseGradient: UnsafeMutablePointer<Double>      // flat: ∂L/∂(dense pre-activation)
    let latentGradient: UnsafeMutablePointer<Double>
    let flatGradient: UnsafeMutablePointer<Double>       // flat: ∂L/∂(conv2 pre-activation)
    let conv2Gradient: UnsafeMutablePointer<Double>      // deconvInputMap layout, the same numbers: ∂L/∂(conv2 pre-activation)
    let conv1Gradient: UnsafeMutablePointer<Double>      // conv1Map layout: ∂L/∂(conv1 pre-activation)
    // The kernels as the register tiles read them (`convPackPanels`), packed once per API call
    // and shared by its images: for the forward, then for the input gradients of the backward.
    let conv1Panels: UnsafeMutablePointer<Double>
    let conv2Panels: UnsafeMutablePointer<Double>
    let deconv1Panels: UnsafeMutablePointer<Double>
    let deconv2GradientPanels: UnsafeMutablePointer<Double>
    let deconv1GradientPanels: UnsafeMutablePointer<Double>
    let conv2GradientPanels: UnsafeMutablePointer<Double>
    /// Scratch of `convStride2KernelGradient`.
    let kernelGradientScratch: UnsafeMutablePointer<Double>

    private var allocations: [(UnsafeMutablePointer<Double>, Int)] = []

    public init(config: CNNAEConfig) {
        do { try config.validate() } catch { preconditionFailure("\(error)") }
        self.config = config
        let s = config.imageSize, c = config.channels
        inputMap = ConvPaddedMap(height: s, width: s, channels: 1)
        conv1Map = ConvPaddedMap(height: s / 2, width: s / 2, channels: c)
        deconvInputMap = ConvPaddedMap(height: s / 4, width: s / 4, channels: c)
        deconv1Map = conv1Map
        logitMap = inputMap
        var allocations: [(UnsafeMutablePointer<Double>, Int)] = []
        func buffer(_ count: Int) -> UnsafeMutablePointer<Double> {
            let p = UnsafeMutablePointer<Double>.allocate(capacity: count)
            p.initialize(repeating: 0, count: count)
            allocations.append((p, count))
            return p
        }
        input = buffer(inputMap.count)
        conv1 = buffer(conv1Map.count)
        conv2 = buffer(config.flatLength)
        latentStorage = buffer(config.latentDimension)
        dense = buffer(config.flatLength)
        deconvInput = buffer(deconvInputMap.count)
        deconv1 = buffer(deconv1Map.count)
        logits = buffer(config.pixelCount)
        reconstructionStorage = buffer(config.pixelCount)
        pixelGradient = buffer(config.pixelCount)
        logitGradient = buffer(logitMap.count)
        deconv1Gradient = buffer(deconv1Map.count)
        denseGradient = buffer(config.flatLength)
        latentGradient = buffer(config.latentDimension)
        flatGradient = buffer(config.flatLength)
        conv2Gradient = buffer(deconvInputMap.count)
        conv1Gradient = buffer(conv1Map.count)
        conv1Panels = buffer(convPanelCount(depth: 1, columns: c))
        conv2Panels = buffer(convPanelCount(depth: c, columns: c))
        deconv1Panels = buffer(convPanelCount(depth: c, columns: c))
        deconv2GradientPanels = buffer(convPanelCount(depth: 1, columns: c))
        deconv1GradientPanels = buffer(convPanelCount(depth: c, columns: c))
        conv2GradientPanels = buffer(convPanelCount(depth: c, columns: c))
        kernelGradientScratch = buffer(convKernelGradientScratchCount(pixels: conv1Map.pixels, smallChannels: c))
        self.allocations = allocations
    }

    deinit {
        for (p, count) in allocations {
            p.deinitialize(count: count)
            p.deallocate()
        }
    }

    /// The last reconstruction: S² pixels, row-major, summing to 1. Valid until the next pass.
    public var reconstruction: UnsafeBufferPointer<Double> {
        UnsafeBufferPointer(start: reconstructionStorage, count: config.pixelCount)
    }

    /// The last latent vector. Valid until the next pass.
    public var latent: UnsafeBufferPointer<Double> {
        UnsafeBufferPointer(start: latentStorage, count: config.latentDimension)
    }

    /// The shapes (height, width, channels) of the forward intermediates, in order: input, conv1,
    /// conv2, latent (1, 1, latent), dense, deconv1, deconv2 (logits), softmax.
    public var intermediateShapes: [(name: String, shape: [Int])] {
        let s = config.imageSize, c = config.channels
        return [("input", [s, s, 1]), ("conv1", [s / 2, s / 2, c]), ("conv2", [s / 4, s / 4, c]),
                ("flatten", [config.flatLength]), ("bottleneck", [config.latentDimension]),
                ("dense", [config.flatLength]), ("reshape", [s / 4, s / 4, c]), ("deconv1", [s / 2, s / 2, c]),
                ("deconv2", [s, s, 1]), ("softmax", [s, s, 1])]
    }

    /// A copy of one intermediate activation as a dense channels-last array (for tests and
    /// inspection): "conv1", "conv2", "bottleneck", "dense", "deconv1", "deconv2" or "softmax".
    public func activation(_ name: String) -> [Double] {
        func unpad(_ map: ConvPaddedMap, _ p: UnsafeMutablePointer<Double>) -> [Double] {
            var out: [Double] = []
            out.reserveCapacity(map.pixels * map.channels)
            for y in 0..<map.height {
                let row = p + map.origin + y * map.rowStride
                out += UnsafeBufferPointer(start: row, count: map.width * map.channels)
            }
            return out
        }
        switch name {
        case "input": return unpad(inputMap, input)
        case "conv1": return unpad(conv1Map, conv1)
        case "conv2": return Array(UnsafeBufferPointer(start: conv2, count: config.flatLength))
        case "bottleneck": return Array(latent)
        case "dense": return Array(UnsafeBufferPointer(start: dense, count: config.flatLength))
        case "deconv1": return unpad(deconv1Map, deconv1)
        case "deconv2": return Array(UnsafeBufferPointer(start: logits, count: config.pixelCount))
        case "softmax": return Array(reconstruction)
        default: preconditionFailure("CNNAEWorkspace has no activation \"\(name)\"")
        }
    }
}

/// One pass of the network over one image: the parameters and a workspace, with the forward here
/// and the backward in CNNAE+Backward.swift.
struct CNNAEPass {
    let layout: CNNAEParameterLayout
    let parameters: UnsafePointer<Double>
    let workspace: CNNAEWorkspace

    var config: CNNAEConfig { layout.config }

    /// Packs the kernels of the forward pass; once per parameter set, before `forward`.
    func packForwardKernels() {
        let w = workspace, c = config.channels, p = parameters
        convPackPanels(p + layout.conv1.kernel, depth: 1, columns: c, transposed: false, into: w.conv1Panels)
        convPackPanels(p + layout.conv2.kernel, depth: c, columns: c, transposed: false, into: w.conv2Panels)
        convPackPanels(p + layout.deconv1.kernel, depth: c, columns: c, transposed: true, into: w.deconv1Panels)
    }

    /// Packs the kernels of the backward pass' input gradients; once per parameter set, before `backward`.
    func packBackwardKernels() {
        let w = workspace, c = config.channels, p = parameters
        convPackPanels(p + layout.deconv2.kernel, depth: 1, columns: c, transposed: false, into: w.deconv2GradientPanels)
        convPackPanels(p + layout.deconv1.kernel, depth: c, columns: c, transposed: false, into: w.deconv1GradientPanels)
        convPackPanels(p + layout.conv2.kernel, depth: c, columns: c, transposed: true, into: w.conv2GradientPanels)
    }

    /// The forward pass of one image; `packForwardKernels()` must have run on these parameters.
    func forward(image: UnsafePointer<Double>) {
        let w = workspace, c = config.channels, s = config.imageSize, p = parameters
        // The image into the interior of its padded map.
        for y in 0..<s {
            (w.input + w.inputMap.origin + y * w.inputMap.rowStride).update(from: image + y * s, count: s)
        }
        // conv1, conv2 (+ ReLU), the second straight into the flat Flatten order.
        convStride2(input: w.input + w.inputMap.origin, inputRowStride: w.inputMap.rowStride, height: s, width: s,
                    inputChannels: 1, kernel: p + layout.conv1.kernel, panels: w.conv1Panels, outputChannels: c,
                    bias: p + layout.conv1.bias,
                    output: w.conv1 + w.conv1Map.origin, outputRowStride: w.conv1Map.rowStride, relu: true)
        convStride2(input: w.conv1 + w.conv1Map.origin, inputRowStride: w.conv1Map.rowStride, height: s / 2, width: s / 2,
                    inputChannels: c, kernel: p + layout.conv2.kernel, panels: w.conv2Panels, outputChannels: c,
                    bias: p + layout.conv2.bias,
                    output: w.conv2, outputRowStride: (s / 4) * c, relu: true)
        // bottleneck (linear), dense (+ ReLU), reshape into the padded map deconv1 reads.
        convDenseForward(input: w.conv2, inputs: config.flatLength, weights: p + layout.bottleneck.kernel,
                         bias: p + layout.bottleneck.bias, outputs: config.latentDimension, output: w.latentStorage, relu: false)
        convDenseForward(input: w.latentStorage, inputs: config.latentDimension, weights: p + layout.dense.kernel,
                         bias: p + layout.dense.bias, outputs: config.flatLength, output: w.dense, relu: true)
        let quarterRow = (s / 4) * c
        for y in 0..<(s / 4) {
            (w.deconvInput + w.deconvInputMap.origin + y * w.deconvInputMap.rowStride)
                .update(from: w.dense + y * quarterRow, count: quarterRow)
        }
        // deconv1 (+ ReLU), deconv2 (linear), softmax over all pixels.
        convTransposeStride2(input: w.deconvInput + w.deconvInputMap.origin, inputRowStride: w.deconvInputMap.rowStride,
                             height: s / 4, width: s / 4, inputChannels: c, kernel: p + layout.deconv1.kernel,
                             panels: w.deconv1Panels, outputChannels: c,
                             bias: p + layout.deconv1.bias,
                             output: w.deconv1 + w.deconv1Map.origin, outputRowStride: w.deconv1Map.rowStride, relu: true)
        convTransposeStride2(input: w.deconv1 + w.deconv1Map.origin, inputRowStride: w.deconv1Map.rowStride,
                             height: s / 2, width: s / 2, inputChannels: c, kernel: p + layout.deconv2.kernel,
                             panels: nil, outputChannels: 1, bias: p + layout.deconv2.bias,
                             output: w.logits, outputRowStride: s, relu: false)
        convSoftmax(w.logits, count: config.pixelCount, output: w.reconstructionStorage)
    }
}
