import CHDF5
import Foundation
import HDF5Shim

// A thin reader/writer over the HDF5 C library, enough for the JetNet class files
// (two numeric datasets at the root) and for test fixtures.
// Debian's libhdf5 is built thread-safe: every call takes one global lock, so concurrent use
// is correct but does not run in parallel.

/// HDF5 keeps its automatic error printing per thread in thread-safe builds (each thread gets
/// its own default error stack), so a single process-wide call would only silence one thread.
/// Every entry point calls this; it is a lock and a pointer store inside the library.
private func silenceHDF5Diagnostics() {
    H5Eset_auto2(hid_t(H5E_DEFAULT), nil, nil)
}

/// The most specific message on this thread's HDF5 error stack (e.g. "file signature not found"),
/// to append to our own error text.
private func hdf5ErrorDetail() -> String {
    final class Box { var deepest: String? }
    let box = Box()
    let walker: H5E_walk2_t = { _, error, context in
        guard let error, let context, let desc = error.pointee.desc else { return 0 }
        let text = String(cString: desc)
        if !text.isEmpty {
            Unmanaged<Box>.fromOpaque(context).takeUnretainedValue().deepest = text
        }
        return 0
    }
    _ = withExtendedLifetime(box) {
        H5Ewalk2(hid_t(H5E_DEFAULT), H5E_WALK_DOWNWARD, walker, Unmanaged.passUnretained(box).toOpaque())
    }
    return box.deepest.map { " (HDF5: \($0))" } ?? ""
}

public enum HDF5TypeClass: String, Sendable, Equatable {
    case integer, float, string, compound, other
}

public struct HDF5DatasetInfo: Sendable, Equatable {
    public let name: String
    public let shape: [Int]
    public let typeClass: HDF5TypeClass
    /// Bytes per element as stored (4 for float32, 8 for float64 and int64).
    public let elementSize: Int

    /// numpy-style name ("float32", "int64", ...), for error messages.
    public var typeDescription: String {
        switch typeClass {
        case .float: "float\(elementSize * 8)"
        case .integer: "int\(elementSize * 8)"
        case .string, .compound, .other: typeClass.rawValue
        }
    }
}

/// Element types the wrapper reads and writes. Reading converts inside the library from the
/// stored type of the same class (float64 on disk into `Float`, for instance).
public protocol HDF5Element: BitwiseCopyable, Sendable {
    static var hdf5TypeClass: HDF5TypeClass { get }
    static var hdf5MemoryType: hid_t { get }
    static var hdf5FileType: hid_t { get }
}

extension Float: HDF5Element {
    public static var hdf5TypeClass: HDF5TypeClass { .float }
    public static var hdf5MemoryType: hid_t { shim_H5T_NATIVE_FLOAT() }
    public static var hdf5FileType: hid_t { shim_H5T_IEEE_F32LE() }
}

extension Double: HDF5Element {
    public static var hdf5TypeClass: HDF5TypeClass { .float }
    public static var hdf5MemoryType: hid_t { shim_H5T_NATIVE_DOUBLE() }
    public static var hdf5FileType: hid_t { shim_H5T_IEEE_F64LE() }
}

extension Int64: HDF5Element {
    public static var hdf5TypeClass: HDF5TypeClass { .integer }
    public static var hdf5MemoryType: hid_t { shim_H5T_NATIVE_INT64() }
    public static var hdf5FileType: hid_t { shim_H5T_STD_I64LE() }
}

/// An HDF5 file opened read-only. The handle closes when the object is released.
public final class HDF5File {
    public let path: String
    private let fileID: hid_t

    public init(readingFrom path: String) throws {
        silenceHDF5Diagnostics()
        self.path = path
        let id = H5Fopen(path, shim_H5F_ACC_RDONLY(), hid_t(H5P_DEFAULT))
        guard id >= 0 else {
            let detail = hdf5ErrorDetail()
            guard FileManager.default.fileExists(atPath: path) else {
                throw JetDataError(file: path, item: nil, problem: "does not exist",
                                   fix: "check the path, or run the fetch step that downloads it")
            }
            throw JetDataError(
                file: path, item: nil, problem: "cannot be opened as an HDF5 file\(detail)",
                fix: "the file is not HDF5 or is damaged (e.g. an interrupted download); fetch it again")
        }
        fileID = id
    }

    deinit { H5Fclose(fileID) }

    /// Names of the datasets directly under the root group, in name order.
    public func datasetNames() throws -> [String] {
        silenceHDF5Diagnostics()
        var info = H5G_info_t()
        guard H5Gget_info(fileID, &info) >= 0 else {
            throw JetDataError(file: path, item: "root group", problem: "cannot be listed\(hdf5ErrorDetail())",
                               fix: "the file is damaged; fetch it again")
        }
        var names: [String] = []
        for index in 0..<info.nlinks {
            let length = H5Lget_name_by_idx(fileID, ".", H5_INDEX_NAME, H5_ITER_INC, index, nil, 0, hid_t(H5P_DEFAULT))
            guard length >= 0 else { continue }
            var buffer = [CChar](repeating: 0, count: Int(length) + 1)
            H5Lget_name_by_idx(fileID, ".", H5_INDEX_NAME, H5_ITER_INC, index, &buffer, buffer.count, hid_t(H5P_DEFAULT))
            let name = String(decoding: buffer.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            // Soft or external links that dangle cannot be opened; they are not datasets of this file.
            let object = H5Oopen(fileID, name, hid_t(H5P_DEFAULT))
            guard object >= 0 else { continue }
            if H5Iget_type(object) == H5I_DATASET { names.append(name) }
            H5Oclose(object)
        }
        return names
    }

    public func datasetInfo(_ name: String) throws -> HDF5DatasetInfo {
        try withDataset(name) { dataset in
            let type = H5Dget_type(dataset)
            defer { H5Tclose(type) }
            let typeClass: HDF5TypeClass
            switch H5Tget_class(type) {
            case H5T_FLOAT: typeClass = .float
            case H5T_INTEGER: typeClass = .integer
            case H5T_STRING: typeClass = .string
            case H5T_COMPOUND: typeClass = .compound
            default: typeClass = .other
            }
            return HDF5DatasetInfo(name: name, shape: try shape(of: dataset, name: name),
                                   typeClass: typeClass, elementSize: H5Tget_size(type))
        }
    }

    /// Reads a whole dataset, or with `leadingBlock` only the block that starts at the origin
    /// and spans `leadingBlock[k]` entries along axis k (the JetNet loader keeps the first P
    /// particles of each jet this way without reading the rest). Data lands directly in the
    /// returned array; the library converts between sizes of the same type class.
    public func read<T: HDF5Element>(_ name: String, as type: T.Type = T.self,
                                     leadingBlock: [Int]? = nil) throws -> (shape: [Int], values: [T]) {
        try withDataset(name) { dataset in
            let storedType = H5Dget_type(dataset)
            let storedClass = H5Tget_class(storedType)
            H5Tclose(storedType)
            let expectedClass: H5T_class_t = T.hdf5TypeClass == .float ? H5T_FLOAT : H5T_INTEGER
            guard storedClass == expectedClass else {
                let found = try datasetInfo(name).typeDescription
                throw JetDataError(
                    file: path, item: "dataset '\(name)'",
                    problem: "has element type \(found), expected \(T.hdf5TypeClass.rawValue) data",
                    fix: "re-create the dataset with a \(T.hdf5TypeClass.rawValue) dtype")
            }
            let fullShape = try shape(of: dataset, name: name)
            let outShape = leadingBlock ?? fullShape
            guard outShape.count == fullShape.count,
                  zip(outShape, fullShape).allSatisfy({ $0 >= 0 && $0 <= $1 }) else {
                throw JetDataError(
                    file: path, item: "dataset '\(name)'",
                    problem: "has shape \(fullShape); the requested block \(outShape) does not fit inside it",
                    fix: "request a block no larger than the dataset along every axis")
            }
            let count = outShape.reduce(1, *)
            if count == 0 { return (outShape, []) }

            let fileSpace = H5Dget_space(dataset)
            defer { H5Sclose(fileSpace) }
            var memorySpace = hid_t(H5S_ALL)
            if outShape != fullShape {
                let start = [hsize_t](repeating: 0, count: outShape.count)
                let blockCount = outShape.map { hsize_t($0) }
                guard H5Sselect_hyperslab(fileSpace, H5S_SELECT_SET, start, nil, blockCount, nil) >= 0 else {
                    throw JetDataError(file: path, item: "dataset '\(name)'",
                                       problem: "block \(outShape) cannot be selected\(hdf5ErrorDetail())", fix: nil)
                }
                memorySpace = H5Screate_simple(Int32(outShape.count), blockCount, nil)
            }
            defer { if memorySpace != hid_t(H5S_ALL) { H5Sclose(memorySpace) } }

            let values = try [T](unsafeUninitializedCapacity: count) { buffer, initialized in
                let status = H5Dread(dataset, T.hdf5MemoryType, memorySpace,
                                     outShape != fullShape ? fileSpace : hid_t(H5S_ALL),
                                     hid_t(H5P_DEFAULT), buffer.baseAddress)
                guard status >= 0 else {
                    throw JetDataError(
                        file: path, item: "dataset '\(name)'", problem: "cannot be read\(hdf5ErrorDetail())",
                        fix: "the file is damaged or truncated (e.g. an interrupted download); fetch it again")
                }
                initialized = count
            }
            return (outShape, values)
        }
    }

    public func readFloat(_ name: String, leadingBlock: [Int]? = nil) throws -> (shape: [Int], values: [Float]) {
        try read(name, as: Float.self, leadingBlock: leadingBlock)
    }

    public func readDouble(_ name: String, leadingBlock: [Int]? = nil) throws -> (shape: [Int], values: [Double]) {
        try read(name, as: Double.self, leadingBlock: leadingBlock)
    }

    private func withDataset<R>(_ name: String, _ body: (hid_t) throws -> R) throws -> R {
        silenceHDF5Diagnostics()
        let dataset = H5Dopen2(fileID, name, hid_t(H5P_DEFAULT))
        guard dataset >= 0 else {
            let detail = hdf5ErrorDetail()
            let present = (try? datasetNames()) ?? []
            throw JetDataError(
                file: path, item: "dataset '\(name)'",
                problem: "cannot be opened\(detail); datasets in the file: "
                    + (present.isEmpty ? "none" : present.map { "'\($0)'" }.joined(separator: ", ")),
                fix: "check the dataset name, or that this is the right file")
        }
        defer { H5Dclose(dataset) }
        return try body(dataset)
    }

    private func shape(of dataset: hid_t, name: String) throws -> [Int] {
        let space = H5Dget_space(dataset)
        defer { H5Sclose(space) }
        let rank = H5Sget_simple_extent_ndims(space)
        guard rank >= 0 else {
            throw JetDataError(file: path, item: "dataset '\(name)'", problem: "has no simple dataspace\(hdf5ErrorDetail())",
                               fix: "store the data as a plain n-dimensional array")
        }
        var dims = [hsize_t](repeating: 0, count: Int(rank))
        H5Sget_simple_extent_dims(space, &dims, nil)
        return dims.map { Int($0) }
    }
}

/// Creates (truncates) an HDF5 file and writes contiguous datasets at its root; for test
/// fixtures and synthetic JetNet-format samples.
public final class HDF5Writer {
    public let path: String
    private var fileID: hid_t

    public init(creating path: String) throws {
        silenceHDF5Diagnostics()
        self.path = path
        let id = H5Fcreate(path, shim_H5F_ACC_TRUNC(), hid_t(H5P_DEFAULT), hid_t(H5P_DEFAULT))
        guard id >= 0 else {
            throw JetDataError(file: path, item: nil, problem: "cannot be created\(hdf5ErrorDetail())",
                               fix: "check that the directory exists and is writable")
        }
        fileID = id
    }

    deinit { if fileID >= 0 { H5Fclose(fileID) } }

    /// Writes `values` (C order) as dataset `name` with the given shape; `[]` writes a scalar.
    public func write<T: HDF5Element>(_ values: [T], shape: [Int], to name: String) throws {
        silenceHDF5Diagnostics()
        guard fileID >= 0 else {
            throw JetDataError(file: path, item: "dataset '\(name)'", problem: "cannot be written after close()", fix: nil)
        }
        guard shape.allSatisfy({ $0 >= 0 }), shape.reduce(1, *) == values.count else {
            throw JetDataError(file: path, item: "dataset '\(name)'",
                               problem: "shape \(shape) holds \(shape.reduce(1, *)) values but \(values.count) were given",
                               fix: "pass a shape whose product equals the number of values")
        }
        let dims = shape.map { hsize_t($0) }
        let space = shape.isEmpty ? H5Screate(H5S_SCALAR) : H5Screate_simple(Int32(dims.count), dims, nil)
        defer { H5Sclose(space) }
        let dataset = H5Dcreate2(fileID, name, T.hdf5FileType, space,
                                 hid_t(H5P_DEFAULT), hid_t(H5P_DEFAULT), hid_t(H5P_DEFAULT))
        guard dataset >= 0 else {
            throw JetDataError(file: path, item: "dataset '\(name)'", problem: "cannot be created\(hdf5ErrorDetail())",
                               fix: "use a new dataset name")
        }
        defer { H5Dclose(dataset) }
        if values.isEmpty { return }
        let status = values.withUnsafeBytes {
            H5Dwrite(dataset, T.hdf5MemoryType, hid_t(H5S_ALL), hid_t(H5S_ALL), hid_t(H5P_DEFAULT), $0.baseAddress)
        }
        guard status >= 0 else {
            throw JetDataError(file: path, item: "dataset '\(name)'", problem: "cannot be written\(hdf5ErrorDetail())",
                               fix: "check free disk space")
        }
    }

    /// Flushes and closes the file, reporting failures that a close in `deinit` would hide.
    public func close() throws {
        silenceHDF5Diagnostics()
        guard fileID >= 0 else { return }
        let status = H5Fclose(fileID)
        fileID = -1
        guard status >= 0 else {
            throw JetDataError(file: path, item: nil, problem: "cannot be closed\(hdf5ErrorDetail())",
                               fix: "check free disk space")
        }
    }
}
