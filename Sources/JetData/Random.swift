import Digest
@_exported import SeededRandom

// The generator itself (xoshiro256** seeded by SplitMix64, Fisher–Yates) lives in SeededRandom,
// shared with the model's initialisation; JetData adds the SHA-256 sub-stream derivation.

/// A seed for an independent sub-stream, so that adding a random draw in one stage never shifts
/// the numbers another stage sees.
///
/// The canonical string is the decimal seed followed by each label, joined with "/", e.g.
/// `deriveSeed(42, "split")` hashes the UTF-8 bytes of `"42/split"` and
/// `deriveSeed(42, "four-momenta", "g")` hashes `"42/four-momenta/g"`. The derived seed is the
/// first 8 bytes of the SHA-256 digest read as a big-endian unsigned integer; in Python:
/// `int(hashlib.sha256("42/split".encode()).hexdigest()[:16], 16)`.
/// Labels must not contain "/" so that distinct label lists give distinct strings.
public func deriveSeed(_ seed: UInt64, _ labels: String...) -> UInt64 {
    for label in labels {
        precondition(!label.contains("/"),
                     "deriveSeed label \"\(label)\" contains \"/\", which would make the canonical string ambiguous; use another separator")
    }
    let canonical = ([String(seed)] + labels).joined(separator: "/")
    let digest = sha256(canonical)
    // Hex digits 0..<16 are the first 8 bytes, most significant first.
    guard let value = UInt64(digest.prefix(16), radix: 16) else {
        preconditionFailure("sha256 returned \"\(digest)\", not 64 hex digits")
    }
    return value
}

