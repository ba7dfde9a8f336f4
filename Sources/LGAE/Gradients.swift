// The gradient of a scalar loss with respect to every learnable number: one flat [Double] of the
// parameter buffer's length, indexed by the same ParameterLayout, so the typed views
// (ComplexMatrixView, LinearView, BellView) address the gradient of a block exactly where they
// address the block itself, and Adam can walk parameters and gradients in lock step.

public struct ParameterGradients: Sendable {
    public let layout: ParameterLayout
    /// dL/dθ[x] at x, for every offset x of the parameter buffer.
    public var values: [Double]

    /// A zero gradient for `layout`.
    public init(layout: ParameterLayout) {
        self.layout = layout
        values = [Double](repeating: 0, count: layout.count)
    }

    public var count: Int { values.count }

    /// The gradient of the block called `name` (e.g. "encoder.level0.bell.a"), row-major as the block.
    public subscript(block name: String) -> ArraySlice<Double> {
        values[layout.block(named: name).range]
    }

    /// Backward passes accumulate into the gradient (parameters are shared by every jet of a
    /// batch), so a new batch starts from zero.
    public mutating func setZero() {
        for x in values.indices { values[x] = 0 }
    }
}
