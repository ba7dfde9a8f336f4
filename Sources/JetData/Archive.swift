import CArchive
import Foundation
#if canImport(Glibc)
import Glibc
#endif

// Extraction of downloaded zip / tar.gz archives (the Zenodo "files-archive" zip holds the five
// class files). Archives come from the network, so every entry is checked before anything is
// written, and every refusal is an error, never a silent skip: a dataset missing one file
// because an entry was dropped would be worse than a clear failure.
//
// Link policy: every symlink and every hardlink entry is refused, wherever it points. JetNet
// archives hold only regular files, and refusing all links also closes the "symlink, then a
// file written through it" attack without reasoning about link targets.

public struct ExtractionLimits: Sendable, Equatable {
    public var maxEntries = 10_000
    public var maxEntryBytes: Int64 = 8 << 30
    public var maxTotalBytes: Int64 = 32 << 30

    public init(maxEntries: Int = 10_000, maxEntryBytes: Int64 = 8 << 30, maxTotalBytes: Int64 = 32 << 30) {
        self.maxEntries = maxEntries
        self.maxEntryBytes = maxEntryBytes
        self.maxTotalBytes = maxTotalBytes
    }
}

public enum ArchiveKind: Sendable, Equatable {
    case zip, tarGz, notArchive
}

/// Recognises an archive by its first bytes, not its name (a download's name may be anything).
public func archiveKind(of path: String) throws -> ArchiveKind {
    let bytes = try leadingBytes(of: path)
    if bytes.starts(with: [0x50, 0x4B, 0x03, 0x04]) || bytes.starts(with: [0x50, 0x4B, 0x05, 0x06]) { return .zip }
    if bytes.starts(with: [0x1F, 0x8B]) { return .tarGz }
    return .notArchive
}

private func leadingBytes(of path: String) throws -> [UInt8] {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else {
        throw JetDataError(file: path, item: nil, problem: "cannot be opened: \(errnoDescription())",
                           fix: "check the path, or run the fetch step that downloads it")
    }
    defer { close(fd) }
    var bytes = [UInt8](repeating: 0, count: 4)
    let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress, 4) }
    guard n >= 0 else {
        throw JetDataError(file: path, item: nil, problem: "cannot be read: \(errnoDescription())", fix: nil)
    }
    return Array(bytes.prefix(n))
}

// The AE_IF* macros are casts that Swift cannot import (swift-deps.md §2).
private let AE_IFMT: mode_t = 0o170000
private let AE_IFREG: mode_t = 0o100000
private let AE_IFDIR: mode_t = 0o040000
private let AE_IFLNK: mode_t = 0o120000

/// libarchive converts entry names through the C locale; Swift never calls setlocale, and in the
/// "C" locale UTF-8 names come back nil (swift-deps.md §2, "UTF-8 entry names need a locale").
/// A global `let` runs its initialiser exactly once, thread-safely.
private let utf8LocaleInstalled: Bool = setlocale(LC_CTYPE, "C.UTF-8") != nil

/// Extracts a zip or tar.gz archive into `destination` (created if missing) and returns the
/// relative paths of the regular files written, sorted. Directories are created but not listed.
/// Any unsafe or over-limit entry aborts the extraction with an error naming the entry.
public func extractArchive(at path: String, to destination: String,
                           limits: ExtractionLimits = .init()) throws -> [String] {
    _ = utf8LocaleInstalled
    let kind = try archiveKind(of: path)
    guard kind != .notArchive else {
        let bytes = try leadingBytes(of: path)
        throw JetDataError(
            file: path, item: nil,
            problem: "is neither a zip nor a gzip-compressed tar archive (first bytes: \(hexPreview(bytes)))",
            fix: "check that the download is the archive itself and not an HTML error page")
    }
    func refuse(_ entry: String, _ why: String, fix: String) -> JetDataError {
        JetDataError(file: path, item: "entry '\(entry)'", problem: why, fix: fix)
    }
    func damaged(_ handle: OpaquePointer?, _ place: String) -> JetDataError {
        JetDataError(file: path, item: nil,
                     problem: "is damaged or truncated \(place): \(archiveMessage(handle))",
                     fix: "download the archive again and compare its checksum")
    }

    do {
        try FileManager.default.createDirectory(atPath: destination, withIntermediateDirectories: true)
    } catch {
        throw JetDataError(file: destination, item: nil, problem: "cannot be created as the extraction directory: \(error)",
                           fix: "check that the parent directory is writable")
    }
    // libarchive's SECURE_SYMLINKS check walks every component of the target path, including the
    // destination's own; resolving it first keeps a legitimately symlinked destination usable.
    guard let resolved = realpath(destination, nil) else {
        throw JetDataError(file: destination, item: nil, problem: "cannot be resolved: \(errnoDescription())", fix: nil)
    }
    let root = String(cString: resolved)
    free(resolved)

    let reader = archive_read_new()
    defer { archive_read_free(reader) }
    // Only the two formats we expect: no cpio, iso9660, rar or other surprises from the network.
    switch kind {
    case .zip:
        archive_read_support_format_zip(reader)
    case .tarGz:
        archive_read_support_filter_gzip(reader)
        archive_read_support_format_tar(reader)
    case .notArchive:
        break
    }
    guard archive_read_open_filename(reader, path, 64 * 1024) == ARCHIVE_OK else {
        throw damaged(reader, "at its start")
    }

    let writer = archive_write_disk_new()
    defer { archive_write_free(writer) }
    // A second line of defence behind our own checks. SECURE_NOABSOLUTEPATHS is left out on
    // purpose: it also rejects the absolute destination path we build (swift-deps.md §2).
    // PERM makes the 0644/0755 modes set below exact instead of filtered through the umask.
    archive_write_disk_set_options(
        writer, ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_PERM)

    var files: [String] = []
    var fileSet: Set<String> = []
    var directorySet: Set<String> = []  // directory entries and every parent of a file
    var entryNames: Set<String> = []
    var entryCount = 0
    var totalBytes: Int64 = 0
    var partialFile: String?
    var lastName: String?
    do {
        var entry: OpaquePointer?
        while true {
            let status = archive_read_next_header(reader, &entry)
            if status == ARCHIVE_EOF { break }
            guard status == ARCHIVE_OK || status == ARCHIVE_WARN, let entry else {
                throw damaged(reader, lastName.map { "after entry '\($0)'" } ?? "before its first entry")
            }
            entryCount += 1
            guard let rawName = archive_entry_pathname(entry).map({ String(cString: $0) }) else {
                throw refuse("#\(entryCount)", "has a name that cannot be decoded as UTF-8 (\(archiveMessage(reader)))",
                             fix: "re-create the archive with UTF-8 file names")
            }
            guard entryCount <= limits.maxEntries else {
                throw refuse(rawName, "exceeds the limit of \(limits.maxEntries) entries",
                             fix: "raise ExtractionLimits.maxEntries if this archive is trusted")
            }
            if let target = archive_entry_hardlink(entry).map({ String(cString: $0) }) {
                throw refuse(rawName, "is a hard link to '\(target)'; links are not extracted",
                             fix: "re-create the archive with regular files instead of links")
            }
            let type = archive_entry_filetype(entry) & AE_IFMT
            if type == AE_IFLNK {
                let target = archive_entry_symlink(entry).map { String(cString: $0) } ?? "?"
                throw refuse(rawName, "is a symbolic link to '\(target)'; links are not extracted",
                             fix: "re-create the archive with regular files instead of links")
            }
            guard type == AE_IFREG || type == AE_IFDIR else {
                throw refuse(rawName, "is a \(fileTypeName(type)), not a regular file or directory",
                             fix: "re-create the archive with regular files only")
            }
            let isDirectory = type == AE_IFDIR
            let relative = try safeRelativePath(rawName) { why in
                refuse(rawName, why, fix: "re-create the archive with relative paths inside one folder")
            }
            if relative.isEmpty {
                // "./" itself, as `tar -C dir .` writes it: that is the destination.
                guard isDirectory else {
                    throw refuse(rawName, "has an empty file name", fix: "re-create the archive with named files")
                }
                continue
            }
            let parents = parentPaths(of: relative)
            guard !entryNames.contains(relative) else {
                throw refuse(rawName, "duplicates an earlier entry", fix: "re-create the archive without duplicate names")
            }
            if let clash = parents.first(where: fileSet.contains) {
                throw refuse(rawName, "lies inside '\(clash)', which the archive already holds as a file",
                             fix: "re-create the archive without conflicting names")
            }
            guard isDirectory || !directorySet.contains(relative) else {
                throw refuse(rawName, "is a file, but earlier entries made it a directory",
                             fix: "re-create the archive without conflicting names")
            }

            var entryBytes: Int64 = 0
            if !isDirectory && archive_entry_size_is_set(entry) != 0 {
                let declared = archive_entry_size(entry)
                guard declared <= limits.maxEntryBytes else {
                    throw refuse(rawName, "declares \(declared) bytes, over the limit of \(limits.maxEntryBytes)",
                                 fix: "raise ExtractionLimits.maxEntryBytes if this archive is trusted")
                }
                guard totalBytes + declared <= limits.maxTotalBytes else {
                    throw refuse(rawName, "brings the archive's total to \(totalBytes + declared) bytes, over the limit of \(limits.maxTotalBytes)",
                                 fix: "raise ExtractionLimits.maxTotalBytes if this archive is trusted")
                }
            }

            let target = root + "/" + relative
            archive_entry_set_pathname(entry, target)
            archive_entry_set_perm(entry, isDirectory ? 0o755 : 0o644)
            guard archive_write_header(writer, entry) >= ARCHIVE_WARN else {
                throw refuse(rawName, "cannot be written: \(archiveMessage(writer))",
                             fix: "re-create the archive with relative paths and no links")
            }
            if !isDirectory {
                partialFile = target
                var buffer: UnsafeRawPointer?
                var length = 0
                var offset: la_int64_t = 0
                while true {
                    let r = archive_read_data_block(reader, &buffer, &length, &offset)
                    if r == ARCHIVE_EOF { break }
                    guard r == ARCHIVE_OK else {  // WARN here is e.g. a CRC mismatch: corrupt data
                        throw damaged(reader, "in the data of entry '\(rawName)'")
                    }
                    // Sparse tar entries arrive with offsets; the file's size is the furthest byte.
                    let end = Int64(offset) + Int64(length)
                    if end > entryBytes {
                        totalBytes += end - entryBytes
                        entryBytes = end
                    }
                    guard entryBytes <= limits.maxEntryBytes else {
                        throw refuse(rawName, "expands to more than \(limits.maxEntryBytes) bytes, over its limit",
                                     fix: "raise ExtractionLimits.maxEntryBytes if this archive is trusted")
                    }
                    guard totalBytes <= limits.maxTotalBytes else {
                        throw refuse(rawName, "brings the archive's total beyond the limit of \(limits.maxTotalBytes) bytes",
                                     fix: "raise ExtractionLimits.maxTotalBytes if this archive is trusted")
                    }
                    guard archive_write_data_block(writer, buffer, length, offset) >= 0 else {
                        throw refuse(rawName, "cannot be written: \(archiveMessage(writer))",
                                     fix: "check free disk space in \(root)")
                    }
                }
            }
            guard archive_write_finish_entry(writer) >= ARCHIVE_WARN else {
                throw refuse(rawName, "cannot be completed: \(archiveMessage(writer))",
                             fix: "check free disk space in \(root)")
            }
            partialFile = nil
            lastName = rawName
            entryNames.insert(relative)
            if isDirectory {
                directorySet.insert(relative)
            } else {
                files.append(relative)
                fileSet.insert(relative)
            }
            directorySet.formUnion(parents)
        }
    } catch {
        if let partialFile { unlink(partialFile) }
        throw error
    }
    return files.sorted()
}

/// The entry name as a clean relative path ("./a//b" becomes "a/b"; "" for the root itself),
/// or an error for an absolute name or any ".." component.
private func safeRelativePath(_ raw: String, refuse: (String) -> JetDataError) throws -> String {
    guard !raw.hasPrefix("/") else { throw refuse("has an absolute path") }
    var components: [Substring] = []
    for component in raw.split(separator: "/", omittingEmptySubsequences: true) where component != "." {
        guard component != ".." else { throw refuse("has a '..' component that could escape the destination") }
        components.append(component)
    }
    return components.joined(separator: "/")
}

/// "a/b/c" gives ["a", "a/b"].
private func parentPaths(of relative: String) -> [String] {
    var parents: [String] = []
    var index = relative.startIndex
    while let slash = relative[index...].firstIndex(of: "/") {
        parents.append(String(relative[..<slash]))
        index = relative.index(after: slash)
    }
    return parents
}

private func fileTypeName(_ type: mode_t) -> String {
    switch type {
    case 0o020000: "character device"
    case 0o060000: "block device"
    case 0o010000: "FIFO"
    case 0o140000: "socket"
    default: "special file (mode \(String(type, radix: 8)))"
    }
}

private func archiveMessage(_ handle: OpaquePointer?) -> String {
    archive_error_string(handle).map { String(cString: $0) } ?? "no detail from libarchive"
}
