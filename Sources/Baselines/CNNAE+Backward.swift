// The CNNAE's backward pass: the gradient of one image's loss (Keras "mse", the mean over the S²
// pixels of (reconstruction − image)²) with respect to every parameter, ADDED into a
// caller-provided buffer in the layout of `CNNAEParameterLayout`. A trainer sums the images of a
// batch into one buffer in a fixed order (so the sum is reproducible) and divides by the batch
// size itself, as Keras' batch mean does.
//
// The chain, layer by layer backwards (g_X = ∂L/∂X, pre = pre-activation):
//   MSE:       g_s = 2(s − t)/S²
//   softmax:   g_z = s ⊙ (g_s − ⟨s, g_s⟩)
//   deconv2:   g_b += Σ_pix g_z;  g_K += kernelGradient(big = g_z, small = deconv1);
//              g_deconv1 = convStride2(g_z, K)                       (the adjoint of the transpose)
//   ReLU:      g_pre = g ⊙ [deconv1 > 0]
//   deconv1:   likewise, big = g_pre, small = the reshaped dense output; g_dense = convStride2(g_pre, K)
//   ReLU:      g_pre = g ⊙ [dense > 0]
//   dense:     g_W += z ⊗ g_pre;  g_b += g_pre;  g_z = W·g_pre
//   bottleneck: g_W += h ⊗ g_z;  g_b += g_z;  g_h = W·g_z, times [h > 0] (conv2's ReLU, fused)
//   conv2:     g_b += Σ_pix g_pre;  g_K += kernelGradient(big = conv1, small = g_pre);
//              g_conv1 = convTransposeStride2(g_pre, K)              (the adjoint of the convolution)
//   ReLU:      g_pre = g ⊙ [conv1 > 0]
//   conv1:     g_b += Σ_pix g_pre;  g_K += kernelGradient(big = image, small = g_pre)  (no image gradient)

extension CNNAE {
    /// Runs one image forward and backward: returns its loss (the mean over pixels of the squared
    /// error) and ADDS its gradient into `gradient` (count = `layout.count`). Allocates nothing;
    /// `workspace` afterwards also holds the forward's results.
    @discardableResult
    public func lossAndGradient(image: UnsafeBufferPointer<Double>, workspace: CNNAEWorkspace,
                                accumulatingInto gradient: UnsafeMutableBufferPointer<Double>) -> Double {
        precondition(image.count == config.pixelCount, "CNNAE: an image of \(config.pixelCount) pixels was expected, got \(image.count)")
        return lossAndGradient(images: image, workspace: workspace, accumulatingInto: gradient)
    }

    /// Several images stored one after another in `images` (a multiple of S² numbers): each runs
    /// forward and backward in order and ADDS its gradient into `gradient`, exactly as the same
    /// number of `lossAndGradient(image:…)` calls in that order would (bit for bit), but the
    /// transposed kernels are packed once for all of them (for C = 128 a pass over 2 × 147,456
    /// doubles saved per image). Writes each image's loss into `losses` if given; returns their sum.
    @discardableResult
    public func lossAndGradient(images: UnsafeBufferPointer<Double>, workspace: CNNAEWorkspace,
                                accumulatingInto gradient: UnsafeMutableBufferPointer<Double>,
                                losses: UnsafeMutableBufferPointer<Double>? = nil) -> Double {
        let n = config.pixelCount, count = images.count / n
        precondition(images.count == count * n, "CNNAE: images of \(n) pixels were expected, got \(images.count) numbers")
        precondition(losses == nil || losses!.count == count, "CNNAE: \(count) images but room for \(losses!.count) losses")
        precondition(gradient.count == layout.count, "CNNAE: a gradient buffer of \(layout.count) was expected, got \(gradient.count)")
        precondition(workspace.config == config, "CNNAE: the workspace was made for \(workspace.config), the model is \(config)")
        return parameters.withUnsafeBufferPointer { p in
            let pass = CNNAEPass(layout: layout, parameters: p.baseAddress!, workspace: workspace)
            pass.packForwardKernels()
            pass.packBackwardKernels()
            var total = 0.0
            for i in 0..<count {
                let image = images.baseAddress! + i * n
                pass.forward(image: image)
                let loss = pass.backward(image: image, gradient: gradient.baseAddress!)
                losses?[i] = loss
                total += loss
            }
            return total
        }
    }

    @discardableResult
    public func lossAndGradient(image: [Double], workspace: CNNAEWorkspace,
                                accumulatingInto gradient: inout [Double]) -> Double {
        image.withUnsafeBufferPointer { i in
            gradient.withUnsafeMutableBufferPointer { lossAndGradient(image: i, workspace: workspace, accumulatingInto: $0) }
        }
    }
}

extension CNNAEPass {
    /// The backward of `forward(image:)`, which must have just run on the same image (and
    /// `packBackwardKernels()` on these parameters); returns the loss.
    func backward(image: UnsafePointer<Double>, gradient g: UnsafeMutablePointer<Double>) -> Double {
        let w = workspace, p = parameters, c = config.channels, s = config.imageSize, n = config.pixelCount
        let half = s / 2, quarter = s / 4
        let squaredError = convSquaredError(w.reconstructionStorage, image, count: n)

        // MSE and softmax, then the result into the padded map the stride-2 kernels read.
        convMeanSquaredErrorBackward(w.reconstructionStorage, image, count: n, gradient: w.pixelGradient)
        convSoftmaxBackward(output: w.reconstructionStorage, outputGradient: w.pixelGradient, count: n,
                            inputGradient: w.pixelGradient)
        let logitGradient = w.logitGradient + w.logitMap.origin
        for y in 0..<s { (logitGradient + y * w.logitMap.rowStride).update(from: w.pixelGradient + y * s, count: s) }

        // deconv2 (C → 1, linear).
        let deconv1 = w.deconv1 + w.deconv1Map.origin, deconv1Gradient = w.deconv1Gradient + w.deconv1Map.origin
        let halfRow = w.deconv1Map.rowStride
        convBiasGradient(logitGradient, rowStride: w.logitMap.rowStride, height: s, width: s, channels: 1,
                         gradient: g + layout.deconv2.bias)
        convStride2KernelGradient(big: logitGradient, bigRowStride: w.logitMap.rowStride, bigChannels: 1,
                                  small: deconv1, smallRowStride: halfRow, height: half, width: half, smallChannels: c,
                                  gradient: g + layout.deconv2.kernel,
                                  scratch: w.kernelGradientScratch)
        convStride2(input: logitGradient, inputRowStride: w.logitMap.rowStride, height: s, width: s, inputChannels: 1,
                    kernel: p + layout.deconv2.kernel, panels: w.deconv2GradientPanels, outputChannels: c, bias: nil,
                    output: deconv1Gradient, outputRowStride: halfRow, relu: false)
        convReLUBackward(output: deconv1, outputRowStride: halfRow, gradient: deconv1Gradient, gradientRowStride: halfRow,
                         height: half, width: half, channels: c)

        // deconv1 (C → C, ReLU).
        let deconvInput = w.deconvInput + w.deconvInputMap.origin, quarterRow = w.deconvInputMap.rowStride
        convBiasGradient(deconv1Gradient, rowStride: halfRow, height: half, width: half, channels: c,
                         gradient: g + layout.deconv1.bias)
        convStride2KernelGradient(big: deconv1Gradient, bigRowStride: halfRow, bigChannels: c,
                                  small: deconvInput, smallRowStride: quarterRow, height: quarter, width: quarter,
                                  smallChannels: c, gradient: g + layout.deconv1.kernel,
                                  scratch: w.kernelGradientScratch)
        convStride2(input: deconv1Gradient, inputRowStride: halfRow, height: half, width: half, inputChannels: c,
                    kernel: p + layout.deconv1.kernel, panels: w.deconv1GradientPanels, outputChannels: c, bias: nil,
                    output: w.denseGradient, outputRowStride: quarter * c, relu: false)
        convReLUBackward(output: w.dense, outputRowStride: quarter * c, gradient: w.denseGradient,
                         gradientRowStride: quarter * c, height: quarter, width: quarter, channels: c)

        // dense (latent → flat, ReLU), then the bottleneck (flat → latent, linear) with conv2's
        // ReLU fused into its input gradient.
        convDenseBackward(input: w.latentStorage, inputs: config.latentDimension, weights: p + layout.dense.kernel,
                          outputs: config.flatLength, outputGradient: w.denseGradient, inputGradient: w.latentGradient,
                          inputIsReLUOutput: false, weightGradient: g + layout.dense.kernel, biasGradient: g + layout.dense.bias)
        convDenseBackward(input: w.conv2, inputs: config.flatLength, weights: p + layout.bottleneck.kernel,
                          outputs: config.latentDimension, outputGradient: w.latentGradient, inputGradient: w.flatGradient,
                          inputIsReLUOutput: true, weightGradient: g + layout.bottleneck.kernel,
                          biasGradient: g + layout.bottleneck.bias)
        let conv2Gradient = w.conv2Gradient + w.deconvInputMap.origin
        for y in 0..<quarter {
            (conv2Gradient + y * quarterRow).update(from: w.flatGradient + y * quarter * c, count: quarter * c)
        }

        // conv2 (C → C, ReLU).
        let conv1 = w.conv1 + w.conv1Map.origin, conv1Gradient = w.conv1Gradient + w.conv1Map.origin
        convBiasGradient(conv2Gradient, rowStride: quarterRow, height: quarter, width: quarter, channels: c,
                         gradient: g + layout.conv2.bias)
        convStride2KernelGradient(big: conv1, bigRowStride: halfRow, bigChannels: c,
                                  small: conv2Gradient, smallRowStride: quarterRow, height: quarter, width: quarter,
                                  smallChannels: c, gradient: g + layout.conv2.kernel,
                                  scratch: w.kernelGradientScratch)
        convTransposeStride2(input: conv2Gradient, inputRowStride: quarterRow, height: quarter, width: quarter,
                             inputChannels: c, kernel: p + layout.conv2.kernel,
                             panels: w.conv2GradientPanels, outputChannels: c, bias: nil,
                             output: conv1Gradient, outputRowStride: halfRow, relu: false)
        convReLUBackward(output: conv1, outputRowStride: halfRow, gradient: conv1Gradient, gradientRowStride: halfRow,
                         height: half, width: half, channels: c)

        // conv1 (1 → C, ReLU); the image is data, so no gradient flows into it.
        convBiasGradient(conv1Gradient, rowStride: halfRow, height: half, width: half, channels: c,
                         gradient: g + layout.conv1.bias)
        convStride2KernelGradient(big: w.input + w.inputMap.origin, bigRowStride: w.inputMap.rowStride, bigChannels: 1,
                                  small: conv1Gradient, smallRowStride: halfRow, height: half, width: half,
                                  smallChannels: c, gradient: g + layout.conv1.kernel,
                                  scratch: w.kernelGradientScratch)
        return squaredError / Double(n)
    }
}
