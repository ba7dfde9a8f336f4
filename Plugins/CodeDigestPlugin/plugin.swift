import Foundation
import PackagePlugin

/// Generates `CodeDigests.swift` for a target: the SHA-256 of each source file of the target and
/// of every module it depends on, keyed by the path under `Sources/`. Stage kinds derive their
/// code digest from these, so editing a stage's code invalidates exactly that stage.
@main
struct CodeDigestPlugin: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        guard let module = target as? SourceModuleTarget else { return [] }
        var files = module.sourceFiles.map(\.url)
        for dep in module.recursiveTargetDependencies {
            if let m = dep as? SourceModuleTarget { files += m.sourceFiles.map(\.url) }
        }
        let sourcesRoot = context.package.directoryURL.appending(path: "Sources")
        // Only this package's own sources: dependencies (GRDB, …) are pinned by their versions.
        files = files.filter { ["swift", "c", "h", "modulemap"].contains($0.pathExtension) && $0.path.hasPrefix(sourcesRoot.path + "/") }
            .sorted { $0.path < $1.path }
        let output = context.pluginWorkDirectoryURL.appending(path: "CodeDigests.swift")
        return [
            .buildCommand(
                displayName: "Hashing stage sources for \(target.name)",
                executable: try context.tool(named: "CodeDigestTool").url,
                arguments: [sourcesRoot.path, output.path] + files.map(\.path),
                inputFiles: files,
                outputFiles: [output])
        ]
    }
}
