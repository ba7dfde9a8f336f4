// Linear assignment (minimum-cost perfect matching on a dense cost matrix) by the algorithm of
// R. Jonker and A. Volgenant, "A shortest augmenting path algorithm for dense and sparse linear
// assignment problems", Computing 38 (1987) 325–340. Written from the paper's description.
//
// The evaluation matches the particles of every input jet to those of its reconstruction (tens of
// thousands of 30×30 problems), so the square solver is a reusable workspace that allocates nothing
// per call. The semantics follow scipy.optimize.linear_sum_assignment (minimisation, rectangular
// matrices with rows ≤ columns, invalid entries rejected) so that results can be compared with the
// reference implementation.
//
// Notation: c[i][j] is the cost of giving column j to row i (row-major, c[i*n + j]); v[j] is the
// price (dual variable) of column j; the row duals stay implicit (u[i] = c[i][x[i]] − v[x[i]]).
// x[i] is the column of row i and y[j] the row of column j (−1: unassigned). Throughout, every
// assigned row's column minimises its reduced cost c[i][j] − v[j] over all j, which is what the
// shortest-path phase needs for its distances to be non-negative.

/// An optimal assignment: `columnOfRow[i]` is the column given to row `i` (all distinct), and
/// `cost` is the sum of the chosen entries, summed in row order.
public struct Assignment: Sendable, Equatable {
    /// The column assigned to each row; distinct, each in `0..<columns`.
    public let columnOfRow: [Int]
    /// Total cost of the assignment, `Σ_i cost[i][columnOfRow[i]]`, summed in row order.
    public let cost: Double

    public init(columnOfRow: [Int], cost: Double) {
        self.columnOfRow = columnOfRow
        self.cost = cost
    }
}

/// Why a matrix was refused. Like scipy, the solver rejects input it cannot give a meaningful
/// answer for instead of returning an arbitrary assignment.
public enum AssignmentError: Error, Equatable, CustomStringConvertible {
    /// An entry is NaN or ±infinity. Infinite costs are refused rather than treated as "forbidden":
    /// the evaluation never needs forbidden pairs, and a non-finite cost there is a bug upstream.
    case nonFiniteCost(row: Int, column: Int, value: Double)
    /// More rows than columns: no assignment gives every row a distinct column.
    case moreRowsThanColumns(rows: Int, columns: Int)
    /// The cost array does not have `rows × columns` entries, or a dimension is negative.
    case shapeMismatch(rows: Int, columns: Int, count: Int)

    public var description: String {
        switch self {
        case let .nonFiniteCost(row, column, value):
            return "linear assignment: cost matrix entry at row \(row), column \(column) is \(value); all costs must be finite"
        case let .moreRowsThanColumns(rows, columns):
            return "linear assignment: \(rows) rows > \(columns) columns; transpose the cost matrix (and swap the roles of rows and columns in the result)"
        case let .shapeMismatch(rows, columns, count):
            return "linear assignment: a \(rows)×\(columns) cost matrix needs \(max(rows, 0) * max(columns, 0)) entries, got \(count)"
        }
    }
}

/// Solves the linear sum assignment problem: gives each row a distinct column so that the total cost
/// is minimal, like `scipy.optimize.linear_sum_assignment(cost)` with `rows ≤ columns`.
///
/// - Parameters:
///   - cost: the `rows × columns` matrix in row-major order (`cost[i * columns + j]`).
///   - rows: number of rows (things to assign); may be 0.
///   - columns: number of columns (things to assign them to); must be at least `rows`.
/// - Returns: the column of every row and the total cost.
/// - Throws: `AssignmentError` for a non-finite entry (naming its row and column), for
///   `rows > columns` (transpose instead), or for an array of the wrong size.
///
/// A rectangular matrix (`rows < columns`) is padded internally with `columns − rows` rows of zeros
/// to a square one: a zero row costs the same whichever column it takes, so an optimal square
/// assignment restricted to the real rows is an optimal rectangular one, and the columns left to the
/// padding rows are the unused ones.
///
/// The result is a pure function of the input: ties between equally good choices are always broken
/// the same way (see `AssignmentSolver`), so the same matrix always gives the same assignment.
public func linearSumAssignment(cost: [Double], rows: Int, columns: Int) throws -> Assignment {
    guard rows >= 0, columns >= 0, cost.count == rows * columns else {
        throw AssignmentError.shapeMismatch(rows: rows, columns: columns, count: cost.count)
    }
    guard rows <= columns else {
        throw AssignmentError.moreRowsThanColumns(rows: rows, columns: columns)
    }
    for (index, value) in cost.enumerated() where !value.isFinite {
        throw AssignmentError.nonFiniteCost(row: index / columns, column: index % columns, value: value)
    }
    if rows == 0 { return Assignment(columnOfRow: [], cost: 0) }

    let n = columns
    let solver = AssignmentSolver(size: n)
    var columnOfRow = [Int](repeating: 0, count: n)
    if rows == columns {
        let total = cost.withUnsafeBufferPointer { c in
            columnOfRow.withUnsafeMutableBufferPointer { solver.solve(c.baseAddress!, into: $0.baseAddress!) }
        }
        return Assignment(columnOfRow: columnOfRow, cost: total)
    }
    var square = cost
    square.append(contentsOf: repeatElement(0.0, count: (columns - rows) * columns))
    _ = square.withUnsafeBufferPointer { c in
        columnOfRow.withUnsafeMutableBufferPointer { solver.solve(c.baseAddress!, into: $0.baseAddress!) }
    }
    columnOfRow.removeLast(columns - rows)
    var total = 0.0
    for i in 0..<rows { total += cost[i * columns + columnOfRow[i]] }
    return Assignment(columnOfRow: columnOfRow, cost: total)
}

/// A Jonker–Volgenant solver for square `size × size` problems that owns its working memory, so that
/// solving many matrices of one size (the evaluation solves tens of thousands of 30×30 ones)
/// allocates nothing per call. Not thread-safe: use one solver per thread.
///
/// The four phases of the paper:
/// 1. column reduction: every column's price is its minimum; a row that is the minimum of some
///    column(s) takes one of them;
/// 2. reduction transfer: each row assigned by phase 1 passes its slack to its column's price;
/// 3. augmenting row reduction, two passes: every free row takes the column with the smallest
///    reduced cost, lowering its price to the second smallest and evicting its previous owner
///    (an auction-like step that usually assigns most rows cheaply);
/// 4. shortest augmenting path (Dijkstra over columns with `todo` / `ready` sets) from each row that
///    is still free, followed by the price update of the `ready` columns and the augmentation.
///
/// Tie-breaking, so that results are reproducible: every scan for a minimum keeps the first
/// (lowest-index) minimum — the lowest row in a column during column reduction, the lowest column in
/// a row during augmenting row reduction — and phase 4 visits columns in an order that is itself a
/// function of the input only. No randomness and no address-dependent order is involved, so the same
/// matrix always yields the same assignment. (This does not promise the lexicographically smallest
/// among several optimal assignments — only the same one every time.)
public final class AssignmentSolver {
    /// The side of the square matrices this solver accepts.
    public let size: Int

    private let v: UnsafeMutablePointer<Double>      // column prices
    private let d: UnsafeMutablePointer<Double>      // shortest-path distances (phase 4)
    private let x: UnsafeMutablePointer<Int>         // column of each row, −1 when free
    private let y: UnsafeMutablePointer<Int>         // row of each column, −1 when free
    private let pred: UnsafeMutablePointer<Int>      // phase 4 predecessor rows; phase 1–2 match counts
    private let col: UnsafeMutablePointer<Int>       // phase 4 column list: ready | scan | todo
    private let free: UnsafeMutablePointer<Int>      // free rows

    /// Creates a solver for `size × size` matrices (`size ≥ 0`).
    public init(size: Int) {
        precondition(size >= 0, "AssignmentSolver: negative size \(size)")
        self.size = size
        let capacity = max(size, 1)
        v = .allocate(capacity: capacity)
        d = .allocate(capacity: capacity)
        x = .allocate(capacity: capacity)
        y = .allocate(capacity: capacity)
        pred = .allocate(capacity: capacity)
        col = .allocate(capacity: capacity)
        free = .allocate(capacity: capacity)
    }

    deinit {
        v.deallocate(); d.deallocate(); x.deallocate(); y.deallocate()
        pred.deallocate(); col.deallocate(); free.deallocate()
    }

    /// Solves one square problem and returns its minimal total cost.
    ///
    /// - Parameters:
    ///   - cost: `size × size` costs, row-major (`cost[i * size + j]`). They must all be finite: this
    ///     hot-loop entry point does not check (`linearSumAssignment` does). Non-finite input cannot
    ///     hang or crash the solver, but the result is then meaningless.
    ///   - columnOfRow: receives `size` distinct column indices, the column of each row.
    /// - Returns: `Σ_i cost[i][columnOfRow[i]]`, summed in row order.
    public func solve(_ cost: UnsafePointer<Double>, into columnOfRow: UnsafeMutablePointer<Int>) -> Double {
        let n = size
        if n == 0 { return 0 }
        if n == 1 { columnOfRow[0] = 0; return cost[0] }
        let c = cost, v = self.v, d = self.d, x = self.x, y = self.y
        let pred = self.pred, col = self.col, free = self.free

        // Phase 1: column reduction. The column minima are found four columns at a time walking down
        // the rows (SIMD loads, branch-free updates; a strict `<` keeps the lowest row on ties), then the columns are
        // visited from last to first, as in the paper: the minimal row of each column takes it, and a
        // row that is minimal in several columns ends up holding the lowest-index one.
        let matches = pred
        let minRow = col
        columnMinima(c, n, v, minRow)
        for i in 0..<n { x[i] = -1; matches[i] = 0 }
        var j = n - 1
        while j >= 0 {
            let i = minRow[j]
            matches[i] += 1
            if matches[i] > 1 { y[x[i]] = -1 }   // the row moves to this lower column, freeing the other
            x[i] = j
            y[j] = i
            j -= 1
        }

        // Phase 2: reduction transfer. A row that is the minimum of exactly one column gives that
        // column's price the row's slack (its second-best reduced cost), which leaves the column
        // still the row's best choice and makes the other columns relatively cheaper for other rows.
        var numFree = 0
        for i in 0..<n {
            if matches[i] == 0 {
                free[numFree] = i; numFree += 1
            } else if matches[i] == 1 {
                let j1 = x[i]
                let row = c + i * n
                var slack = Double.infinity
                for j in 0..<j1 { slack = Swift.min(slack, row[j] - v[j]) }
                for j in (j1 + 1)..<n { slack = Swift.min(slack, row[j] - v[j]) }
                v[j1] -= slack
            }
        }
        if numFree == 0 { return finish(c, columnOfRow) }

        // Phase 3: augmenting row reduction, two passes. A row evicted by a strict price cut is
        // processed again at once (it is re-inserted at the current position of the list); one
        // evicted on a tie waits for the next pass. In floating point a chain of strict but
        // vanishing price cuts could in principle go on for very long, so immediate re-processing is
        // capped per pass; rows beyond the cap simply wait, which only shifts work to phase 4.
        let reinsertionCap = 16 * n
        for _ in 0..<2 {
            var k = 0
            let previousFree = numFree
            numFree = 0
            var reinsertions = 0
            while k < previousFree {
                let i = free[k]
                k += 1
                let row = c + i * n
                // Smallest (u1 at j1) and second smallest (u2 at j2) reduced cost, first index on ties.
                var (u1, j1, u2, j2) = twoSmallest(row, v, n)
                var i0 = y[j1]
                let strict = u1 < u2
                if strict {
                    // Lower j1's price until row i is indifferent between j1 and j2.
                    v[j1] -= u2 - u1
                } else if i0 >= 0 && j2 >= 0 {  // (j2 < 0 only for non-finite input)
                    // Tie and j1 is taken: take j2 instead, no price change.
                    j1 = j2
                    i0 = y[j2]
                }
                x[i] = j1
                y[j1] = i
                if i0 >= 0 {
                    if strict && reinsertions < reinsertionCap {
                        reinsertions += 1
                        k -= 1
                        free[k] = i0
                    } else {
                        free[numFree] = i0
                        numFree += 1
                    }
                }
            }
            if numFree == 0 { return finish(c, columnOfRow) }
        }

        // Phase 4: shortest augmenting path from each remaining free row. col[0..<low] are the
        // `ready` columns (distance final), col[low..<up] the columns at the current minimum
        // distance still to scan, col[up..<n] the `todo` columns.
        for f in 0..<numFree {
            let freeRow = free[f]
            let rowF = c + freeRow * n
            for j in 0..<n {
                d[j] = rowF[j] - v[j]
                pred[j] = freeRow
                col[j] = j
            }
            var low = 0
            var up = 0
            var minD = 0.0
            var end = -1
            search: while true {
                if up == low {
                    // Move every todo column at the smallest distance into the scan list.
                    minD = d[col[up]]
                    up += 1
                    var k = up
                    while k < n {
                        let jk = col[k]
                        let h = d[jk]
                        if h <= minD {
                            if h < minD { up = low; minD = h }
                            col[k] = col[up]
                            col[up] = jk
                            up += 1
                        }
                        k += 1
                    }
                    // An unassigned column at that distance ends the search.
                    for k in low..<up where y[col[k]] < 0 {
                        end = col[k]
                        break search
                    }
                }
                // Scan one column: relax the todo columns through the row that holds it.
                let j1 = col[low]
                low += 1
                let i = y[j1]
                let row = c + i * n
                let u1 = row[j1] - v[j1] - minD
                var k = up
                while k < n {
                    let jk = col[k]
                    let h = row[jk] - v[jk] - u1
                    if h < d[jk] {
                        pred[jk] = i
                        if h <= minD {
                            // Exactly at the current minimum (a value below it can only be rounding:
                            // reduced costs are non-negative), so clamp to keep distances monotone.
                            d[jk] = minD
                            if y[jk] < 0 {
                                end = jk
                                break search
                            }
                            col[k] = col[up]
                            col[up] = jk
                            up += 1
                        } else {
                            d[jk] = h
                        }
                    }
                    k += 1
                }
            }
            // Price update of the ready columns keeps every assigned row on a minimal reduced cost.
            for k in 0..<low {
                let jk = col[k]
                v[jk] += d[jk] - minD
            }
            // Augment along the predecessor chain back to the free row.
            while true {
                let i = pred[end]
                y[end] = i
                let previous = x[i]
                x[i] = end
                end = previous
                if i == freeRow { break }
            }
        }
        return finish(c, columnOfRow)
    }

    @inline(__always)
    private func finish(_ c: UnsafePointer<Double>, _ columnOfRow: UnsafeMutablePointer<Int>) -> Double {
        let n = size
        var total = 0.0
        for i in 0..<n {
            let j = x[i]
            columnOfRow[i] = j
            total += c[i * n + j]
        }
        return total
    }
}

private typealias Lanes = SIMD4<Double>
private typealias LaneIndices = SIMD4<Int64>

@inline(__always)
private func load(_ p: UnsafePointer<Double>) -> Lanes {
    UnsafeRawPointer(p).loadUnaligned(as: Lanes.self)
}

/// Column minima of the n×n row-major matrix `c` into `v`, and for each column the lowest row
/// attaining it into `minRow`. Four columns at a time walking down the rows, so that the loads are
/// contiguous and the updates are selects rather than unpredictable branches.
@inline(__always)
private func columnMinima(_ c: UnsafePointer<Double>, _ n: Int,
                          _ v: UnsafeMutablePointer<Double>, _ minRow: UnsafeMutablePointer<Int>) {
    var j = 0
    while j + 4 <= n {
        var m = load(c + j)
        var index = LaneIndices(repeating: 0)
        var i = 1
        while i < n {
            let h = load(c + i * n + j)
            let better = h .< m
            m.replace(with: h, where: better)
            index.replace(with: LaneIndices(repeating: Int64(i)), where: better)
            i += 1
        }
        for lane in 0..<4 {
            v[j + lane] = m[lane]
            minRow[j + lane] = Int(index[lane])
        }
        j += 4
    }
    while j < n {
        var m = c[j]
        var index = 0
        for i in 1..<n where c[i * n + j] < m {
            m = c[i * n + j]
            index = i
        }
        v[j] = m
        minRow[j] = index
        j += 1
    }
}

/// The smallest reduced cost `row[j] − v[j]` (u1, at the lowest such column j1) and the smallest
/// among the other columns (u2, at the lowest such column j2 ≠ j1), for n ≥ 2. Each of four lanes keeps
/// its own best and second best (strict `<`: the first index wins within a lane); merging the lanes
/// compares (value, index) pairs, so the result is the same as that of a plain left-to-right scan.
/// For non-finite input j1 or j2 may be −1; the caller copes.
/// (Internal rather than private so that the tests can compare it with a plain scan.)
@inline(__always)
func twoSmallest(_ row: UnsafePointer<Double>, _ v: UnsafePointer<Double>, _ n: Int)
    -> (u1: Double, j1: Int, u2: Double, j2: Int) {
    var u1 = Double.infinity, u2 = Double.infinity
    var j1 = -1, j2 = -1
    var j = 0
    if n >= 8 {
        var m1 = Lanes(repeating: .infinity), m2 = Lanes(repeating: .infinity)
        var i1 = LaneIndices(repeating: -1), i2 = LaneIndices(repeating: -1)
        var jj = LaneIndices(0, 1, 2, 3)
        while j + 4 <= n {
            let h = load(row + j) - load(v + j)
            let below1 = h .< m1
            let below2 = h .< m2
            // Second best: the old best where h beats it, else h where h beats the second best.
            m2.replace(with: h, where: below2)
            i2.replace(with: jj, where: below2)
            m2.replace(with: m1, where: below1)
            i2.replace(with: i1, where: below1)
            m1.replace(with: h, where: below1)
            i1.replace(with: jj, where: below1)
            jj &+= 4
            j += 4
        }
        // Merge: best = least (value, index) among the lane bests; second = least among the rest.
        var best = -1
        for lane in 0..<4 where i1[lane] >= 0 {
            if best < 0 || m1[lane] < m1[best] || (m1[lane] == m1[best] && i1[lane] < i1[best]) { best = lane }
        }
        if best >= 0 { u1 = m1[best]; j1 = Int(i1[best]) }
        @inline(__always) func consider(_ value: Double, _ index: Int64) {
            if index >= 0 && (j2 < 0 || value < u2 || (value == u2 && Int(index) < j2)) { u2 = value; j2 = Int(index) }
        }
        for lane in 0..<4 {
            if lane != best { consider(m1[lane], i1[lane]) }
            consider(m2[lane], i2[lane])
        }
    }
    // The remaining columns (all of them for small n), in increasing order: a plain scan.
    while j < n {
        let h = row[j] - v[j]
        if j1 < 0 || h < u1 {
            u2 = u1; j2 = j1; u1 = h; j1 = j
        } else if j2 < 0 || h < u2 {
            u2 = h; j2 = j
        }
        j += 1
    }
    return (u1, j1, u2, j2)
}
