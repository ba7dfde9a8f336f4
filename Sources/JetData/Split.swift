// Train / validation / test split of the LGAE study, lgae.md §2.4, planned from per-class jet
// counts alone; the caller gathers the arrays with `gather`.

/// One jet: its class file and its row in that file.
public struct JetIndex: Hashable, Sendable {
    public let jetClass: JetClass
    public let row: Int

    public init(jetClass: JetClass, row: Int) {
        self.jetClass = jetClass
        self.row = row
    }
}

/// Row lists of each split, in the order the jets appear in the split's arrays.
public struct SplitPlan: Sendable {
    /// Background (QCD) training jets, in permuted order.
    public var train: [JetIndex]
    /// Background validation jets, in permuted order.
    public var valid: [JetIndex]
    /// Background (QCD) test jets: each background class's test part, in class order, unshuffled.
    public var test: [JetIndex]
    /// Per signal class, its test part in row order.
    public var signalTest: [JetClass: [JetIndex]]

    public init(train: [JetIndex], valid: [JetIndex], test: [JetIndex], signalTest: [JetClass: [JetIndex]]) {
        self.train = train
        self.valid = valid
        self.test = test
        self.signalTest = signalTest
    }
}

/// Number of leading rows of an n-jet file that form its train+valid part: ⌊n·(1 − testFraction)⌋
/// in Double arithmetic, as the reference's `int(len(data) * (1 - test_portion))`.
/// For 0.2: g 177,252 → 141,801 and q 170,679 → 136,543.
public func trainValidCount(_ n: Int, testFraction: Double) -> Int {
    Int((Double(n) * (1 - testFraction)).rounded(.down))
}

/// The LGAE split (lgae.md §2.4), reproducible from the seed:
///
/// 1. Per class with n jets, rows 0..<k with k = ⌊n·(1 − testFraction)⌋ (see `trainValidCount`)
///    are train+valid and rows k..<n are test. This is the reference's per-file split, done
///    before any concatenation.
/// 2. The background classes' train+valid rows are concatenated in the order of `background`
///    (g then q by default), giving M jets. A permutation P of 0..<M is drawn with
///    `fisherYatesPermutation(count: M, rng:)` from `Xoshiro256StarStar(seed: deriveSeed(seed, "split"))`.
///    train = concatenated[P[0..<T]] with T = ⌊trainFraction·M⌋, valid = concatenated[P[T..<M]].
///    (The reference uses torch's global generator, unseeded by default; this is our seeded
///    stand-in.) For the full JetNet counts: M = 278,344, train 208,758, valid 69,586.
/// 3. QCD test = the background classes' test rows concatenated in `background` order, not
///    shuffled: 35,451 + 34,136 = 69,587 jets for the full counts.
/// 4. Signals: each signal class's test rows (its last testFraction), in row order. The README
///    of the reference uses the first 80% of the t/w/z files instead, and the paper speaks of a
///    "validation dataset" (§14.15); signals are never trained on, so either unseen part serves,
///    and the test part keeps the signal and background samples symmetric.
///
/// In numpy, with `perm` the Fisher–Yates permutation of the derived stream:
/// `tv = [(c, r) for c in background for r in range(int(n[c] * (1 - test_fraction)))]`,
/// `train = [tv[i] for i in perm[:int(train_fraction * len(tv))]]`, `valid` the rest.
public func planSplit(counts: [JetClass: Int],
                      background: [JetClass] = [.g, .q],
                      signals: [JetClass] = [.t, .w, .z],
                      testFraction: Double = 0.2,
                      trainFraction: Double = 0.75,
                      seed: UInt64) -> SplitPlan {
    precondition((0...1).contains(testFraction), "planSplit: testFraction must lie in [0, 1], got \(testFraction)")
    precondition((0...1).contains(trainFraction), "planSplit: trainFraction must lie in [0, 1], got \(trainFraction)")
    precondition(Set(background).count == background.count && Set(signals).count == signals.count,
                 "planSplit: a class is listed twice (background \(background.map(\.rawValue)), signals \(signals.map(\.rawValue)))")
    precondition(Set(background).isDisjoint(with: signals),
                 "planSplit: classes \(Set(background).intersection(signals).map(\.rawValue).sorted()) are both background and signal")

    func jetCount(_ c: JetClass) -> Int {
        guard let n = counts[c] else {
            preconditionFailure("planSplit: no jet count for class \(c.rawValue); counts given for \(counts.keys.map(\.rawValue).sorted())")
        }
        precondition(n >= 0, "planSplit: negative jet count \(n) for class \(c.rawValue)")
        return n
    }

    var trainValid: [JetIndex] = []
    var test: [JetIndex] = []
    for c in background {
        let n = jetCount(c)
        let k = trainValidCount(n, testFraction: testFraction)
        trainValid += (0..<k).map { JetIndex(jetClass: c, row: $0) }
        test += (k..<n).map { JetIndex(jetClass: c, row: $0) }
    }

    var rng = Xoshiro256StarStar(seed: deriveSeed(seed, "split"))
    let permutation = fisherYatesPermutation(count: trainValid.count, rng: &rng)
    let trainCount = Int((trainFraction * Double(trainValid.count)).rounded(.down))
    let train = permutation[..<trainCount].map { trainValid[$0] }
    let valid = permutation[trainCount...].map { trainValid[$0] }

    var signalTest: [JetClass: [JetIndex]] = [:]
    for c in signals {
        let n = jetCount(c)
        let k = trainValidCount(n, testFraction: testFraction)
        signalTest[c] = (k..<n).map { JetIndex(jetClass: c, row: $0) }
    }
    return SplitPlan(train: train, valid: valid, test: test, signalTest: signalTest)
}

/// Rows `rows` of a row-major array with `stride` values per row, concatenated in the order
/// given, e.g. `gather(qcdTestMask, stride: 30, rows: [4, 0, 7])`.
public func gather<T>(_ values: [T], stride: Int, rows: [Int]) -> [T] {
    precondition(stride > 0, "gather: stride must be positive, got \(stride)")
    precondition(values.count % stride == 0,
                 "gather: \(values.count) values is not a whole number of rows of \(stride)")
    let rowCount = values.count / stride
    var out: [T] = []
    out.reserveCapacity(rows.count * stride)
    for r in rows {
        precondition(r >= 0 && r < rowCount, "gather: row \(r) out of range 0..<\(rowCount)")
        out += values[(r * stride)..<((r + 1) * stride)]
    }
    return out
}

/// The rows named by `jets`, in their order, each taken from its class's array: builds a split's
/// array from the per-class files, e.g. `gather(p4ByClass, stride: 30 * 4, jets: plan.train)`,
/// where the training jets interleave g and q rows.
public func gather<T>(_ valuesByClass: [JetClass: [T]], stride: Int, jets: [JetIndex]) -> [T] {
    precondition(stride > 0, "gather: stride must be positive, got \(stride)")
    var out: [T] = []
    out.reserveCapacity(jets.count * stride)
    for jet in jets {
        guard let values = valuesByClass[jet.jetClass] else {
            preconditionFailure("gather: no array for class \(jet.jetClass.rawValue); arrays given for \(valuesByClass.keys.map(\.rawValue).sorted())")
        }
        let rowCount = values.count / stride
        precondition(jet.row >= 0 && jet.row < rowCount,
                     "gather: row \(jet.row) of class \(jet.jetClass.rawValue) out of range 0..<\(rowCount)")
        out += values[(jet.row * stride)..<((jet.row + 1) * stride)]
    }
    return out
}
