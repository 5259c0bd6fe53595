import Foundation

/// Reads a whole file, but only up to a size limit.
///
/// `FileManager.contents(atPath:)` reads whatever is there: a kubeconfig path pointing at a log
/// file or `/dev/zero` would fill memory. This reads at most `limit + 1` bytes and reports a
/// file that is longer as too large.
enum BoundedFile {
    /// Why a file could not be read.
    enum Failure: Error, Sendable, Hashable, CustomStringConvertible {
        /// Missing, a directory, or no permission.
        case unreadable
        /// Longer than the limit (in bytes).
        case tooLarge(limit: Int)

        /// `not readable` or `larger than the 16 MiB limit`, to follow a file name.
        var description: String {
            switch self {
            case .unreadable: return "not readable"
            case .tooLarge(let limit): return "larger than the \(APIClientError.describeBytes(limit)) limit"
            }
        }
    }

    /// The contents of `path`, at most `limit` bytes.
    static func read(_ path: String, limit: Int = APILimits.configurationFileBytes) -> Result<[UInt8], Failure> {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue,
            let handle = FileHandle(forReadingAtPath: path)
        else { return .failure(.unreadable) }
        defer { try? handle.close() }
        var bytes: [UInt8] = []
        do {
            while bytes.count <= limit {
                guard let chunk = try handle.read(upToCount: min(1 << 20, limit + 1 - bytes.count)), !chunk.isEmpty
                else { break }
                bytes.append(contentsOf: chunk)
            }
        } catch {
            return .failure(.unreadable)
        }
        return bytes.count > limit ? .failure(.tooLarge(limit: limit)) : .success(bytes)
    }
}
