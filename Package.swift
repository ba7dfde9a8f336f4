// swift-tools-version:6.1
import PackageDescription

// Layering (each layer knows nothing about the ones above it):
//   pipeline (CLI) -> Stages (one small type per stage kind) -> Executor (DAG, keys, store), JetData (physics, files),
//   LGAE and Baselines (the models and their gradients), Evaluation (metrics)
//   -> Training (the loop every model trains on) -> SeededRandom
//   Digest and the C modules sit at the bottom.

// The LGAE kernels are written for 256-bit SIMD with fused multiply-add. x86-64 compilers default
// to SSE2, where they run about half as fast and every fused multiply-add is a libm call, so LGAE is
// compiled for AVX2 + FMA ("haswell": any Intel or AMD x86-64 CPU since 2013/2017); so are the
// evaluation kernels (Chamfer distances, assignment costs).
#if arch(x86_64)
let lgaeSwiftSettings: [SwiftSetting] = [.unsafeFlags(["-target-cpu", "haswell"])]
#else
let lgaeSwiftSettings: [SwiftSetting] = []
#endif

let package = Package(
    name: "pipeline",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "pipeline", targets: ["pipeline"]),
    ],
    dependencies: [
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        .systemLibrary(name: "CArchive", pkgConfig: "libarchive", providers: [.apt(["libarchive-dev"])]),
        .systemLibrary(name: "CHDF5", pkgConfig: "hdf5", providers: [.apt(["libhdf5-dev"])]),
        .systemLibrary(name: "CLibCrypto", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        .target(name: "HDF5Shim", dependencies: ["CHDF5"]),

        // The one random generator of the project (xoshiro256** seeded by SplitMix64), specified
        // exactly so that every draw can be reproduced outside Swift.
        .target(name: "SeededRandom"),

        // SHA-256 / MD5 over libcrypto: content digests for the store and checksums for fetch.
        .target(name: "Digest", dependencies: ["CLibCrypto"]),

        // The executor: pipeline.json, DAG, stage keys, SQLite store, scheduler, provenance.
        // It knows nothing about jets.
        .target(
            name: "Executor",
            dependencies: ["Digest", .product(name: "GRDB", package: "GRDB.swift")]
        ),

        // Data and physics: download, archives, HDF5, .npy, four-momenta, splits.
        // It knows nothing about SQLite or the executor.
        .target(name: "JetData", dependencies: ["Digest", "SeededRandom", "CArchive", "CHDF5", "HDF5Shim"]),

        // The Lorentz group equivariant autoencoder (spec lgae.md): complex Lorentz scalars and
        // 4-vectors as distinct types, LMP layers, encoder and decoder. Pure Swift, no executor, no I/O.
        // The training loop shared by every model: Adam, L1, epochs, early stopping, checkpoints that
        // resume bit for bit, and thread-count-independent gradient sums. Knows no model.
        .target(name: "Training", dependencies: ["SeededRandom"]),

        .target(name: "LGAE", dependencies: ["SeededRandom", "Training"], swiftSettings: lgaeSwiftSettings),
        .executableTarget(name: "lgae-bench", dependencies: ["LGAE"], path: "Sources/lgae-bench"),

        // The paper's baselines (spec §12): GNNAE (MPNN, jet- and particle-level latents) and CNNAE
        // (jet images). Flat float64 parameters with hand-written backward passes, like the LGAE.
        .target(name: "Baselines", dependencies: ["SeededRandom", "Training"], swiftSettings: lgaeSwiftSettings),
        .executableTarget(name: "baselines-bench", dependencies: ["Baselines", "Training", "SeededRandom"], path: "Sources/baselines-bench"),

        // Evaluation: matching, relative errors, ROC curves. Pure Swift, knows nothing about SQLite or the executor.
        .target(name: "Evaluation", swiftSettings: lgaeSwiftSettings),
        .executableTarget(name: "eval-bench", dependencies: ["Evaluation", "JetData"], path: "Sources/eval-bench"),

        // Build-time code digests: hashes the sources of every stage so that editing a stage's code
        // invalidates exactly that stage, with no version number to bump by hand.
        .executableTarget(name: "CodeDigestTool", path: "Sources/CodeDigestTool"),
        .plugin(name: "CodeDigestPlugin", capability: .buildTool(), dependencies: ["CodeDigestTool"]),

        // One small type per stage kind: binds the executor's StageKind protocol to JetData.
        .target(
            name: "Stages",
            dependencies: ["Executor", "JetData", "LGAE", "Baselines", "Evaluation", "Digest"],
            plugins: ["CodeDigestPlugin"]
        ),

        .executableTarget(
            name: "pipeline",
            dependencies: ["Stages", "Executor", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),

        .testTarget(name: "ExecutorTests", dependencies: ["Executor", "Digest"]),
        .testTarget(name: "JetDataTests", dependencies: ["JetData", "SeededRandom", "Digest", "CHDF5", "HDF5Shim"]),
        .testTarget(name: "LGAETests", dependencies: ["LGAE", "SeededRandom"]),
        .testTarget(name: "StagesTests", dependencies: ["Stages", "Executor", "JetData", "LGAE", "Baselines", "Evaluation", "Training"]),
        .testTarget(name: "EvaluationTests", dependencies: ["Evaluation", "SeededRandom"]),
        .testTarget(name: "BaselinesTests", dependencies: ["Baselines", "Training", "SeededRandom"]),
    ]
)
