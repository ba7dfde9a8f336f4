import Digest

/// The code digest of a stage kind: SHA-256 over the build-time digests of the source files
/// under the given prefixes (paths under `Sources/`). A prefix that matches nothing is a
/// programming error caught by the tests, so a renamed file cannot silently drop out.
func codeDigest(_ prefixes: [String]) -> String {
    var h = Hasher(.sha256)
    for (path, digest) in CodeDigests.files where prefixes.contains(where: { path.hasPrefix($0) }) {
        h.update("\(path)\u{0}\(digest)\n")
    }
    return h.finalize()
}

/// Files every stage kind depends on.
let commonCode = ["Stages/Support/", "Digest/"]

/// For tests: prefixes that match no source file.
public func unmatchedCodePrefixes() -> [String] {
    allStageKindPrefixes.flatMap { $0 }.filter { p in !CodeDigests.files.contains { $0.path.hasPrefix(p) } }
}
