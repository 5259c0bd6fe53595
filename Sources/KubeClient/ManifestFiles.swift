import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// `read(2)`, under a name the `read` method below does not shadow.
private func systemRead(_ descriptor: Int32, _ buffer: UnsafeMutableRawPointer?, _ count: Int) -> Int {
    read(descriptor, buffer, count)
}

/// What `stat` says about a file; any change means the content may have changed.
///
/// The inode catches editors that write a temporary file and rename it over the original (and
/// ConfigMap volumes that swap a symlink); size and the two timestamps catch in-place writes.
struct FileSignature: Sendable, Hashable {
    var device: UInt64
    var inode: UInt64
    var size: Int64
    var modifiedNanoseconds: Int64
    var changedNanoseconds: Int64
}

/// The file-system edge of the manifest source: lists the manifest files under a path and reads
/// them. Symlinks are followed. Nothing here interprets content.
struct ManifestFiles: Sendable {
    /// The path as the user gave it.
    let path: String
    /// Whether `path` was a directory at start; otherwise it is a single manifest file.
    let isDirectory: Bool

    /// File name suffixes read from a directory.
    static let suffixes = [".yaml", ".yml", ".json"]

    /// Opens `path`.
    ///
    /// - Throws: ``ManifestError`` with reason `.missingPath` if nothing exists there.
    init(path: String) throws {
        guard let status = Self.status(of: path) else {
            throw ManifestError(reason: .missingPath, file: path, message: "no such file or directory")
        }
        self.path = path
        self.isDirectory = (status.st_mode & S_IFMT) == S_IFDIR
    }

    /// The manifest files now present, by display path (`PATH/name` in a directory, `PATH` for a
    /// single file), with their signatures. A vanished path lists as empty, so its objects go.
    /// Hidden files (editor swap and lock files) and non-regular files are skipped.
    func list() throws -> [String: FileSignature] {
        guard isDirectory else {
            return Self.signature(of: path).map { [path: $0] } ?? [:]
        }
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: path)
        } catch {
            if Self.status(of: path) == nil { return [:] }
            throw error
        }
        var files: [String: FileSignature] = [:]
        for name in names where Self.isManifestName(name) {
            let file = path.hasSuffix("/") ? path + name : path + "/" + name
            if let signature = Self.signature(of: file) { files[file] = signature }
        }
        return files
    }

    /// The directory whose entries decide what ``list()`` returns: the manifest directory, or
    /// a single file's parent (where an editor's rename or a ConfigMap's `..data` swap shows).
    var watchRoot: String {
        if isDirectory { return path }
        let parent = (path as NSString).deletingLastPathComponent
        return parent.isEmpty ? "." : parent
    }

    /// The directories to watch for `files` (display paths from ``list()``): ``watchRoot``, plus
    /// the directory each symlinked file finally resolves to, where in-place edits of its target
    /// show (a ConfigMap volume's `..2026_01_01_00_00_00.123/` behind `..data`).
    func watchDirectories(for files: some Sequence<String>) -> Set<String> {
        var directories: Set<String> = [watchRoot]
        for file in files {
            var status = stat()
            guard lstat(file, &status) == 0, (status.st_mode & S_IFMT) == S_IFLNK,
                let resolved = realpath(file, nil)
            else { continue }
            let target = String(cString: resolved)
            free(resolved)
            directories.insert((target as NSString).deletingLastPathComponent)
        }
        return directories
    }

    /// What reading one file found.
    enum Contents: Sendable, Hashable {
        /// All of the file.
        case bytes(Data)
        /// The file is larger than the limit (`size` is what `fstat` said, or at least the limit
        /// plus one if it grew while being read); nothing beyond the limit was read.
        case tooLarge(size: Int64)
    }

    /// Why a file could not be read.
    struct ReadFailure: Error, Sendable, Hashable, CustomStringConvertible {
        /// The system's words for `errno` (`Permission denied`).
        var description: String
    }

    /// The bytes of `file`, unless it holds more than `maxBytes`: the size is checked with
    /// `fstat` on the open file before anything is read, and the read stops one byte past the
    /// limit, so a file that grows between `stat` and `read` cannot slip through either.
    func read(_ file: String, maxBytes: Int) throws(ReadFailure) -> Contents {
        let descriptor = open(file, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw Self.failure() }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw Self.failure() }
        let size = Int64(status.st_size)
        if size > Int64(maxBytes) { return .tooLarge(size: size) }
        // Room for the whole file and one byte more, so the usual file is read by one `read`
        // straight into the buffer that is returned, and a second `read` of 0 bytes confirms
        // its end (a file that grew since `fstat` fills the spare byte and goes on in chunks).
        var data = Data(count: Int(size) + 1)
        var filled = 0
        while true {
            if filled == data.count {
                if filled > maxBytes { return .tooLarge(size: max(size, Int64(filled))) }
                data.count = min(max(filled * 2, 1 << 16), maxBytes + 1)
            }
            let count = data.withUnsafeMutableBytes { buffer in
                systemRead(descriptor, buffer.baseAddress.map { $0 + filled }, buffer.count - filled)
            }
            if count < 0 {
                if errno == EINTR { continue }
                throw Self.failure()
            }
            if count == 0 {
                data.count = filled
                return .bytes(data)
            }
            filled += count
            if filled > maxBytes { return .tooLarge(size: max(size, Int64(filled))) }
        }
    }

    private static func failure() -> ReadFailure {
        ReadFailure(description: String(cString: strerror(errno)))
    }

    /// Whether a directory entry is read: `*.yaml`, `*.yml`, `*.json`, not hidden.
    static func isManifestName(_ name: String) -> Bool {
        guard !name.hasPrefix(".") else { return false }
        let lower = name.lowercased()
        return suffixes.contains { lower.hasSuffix($0) }
    }

    /// FNV-1a, 64 bit: a cheap content fingerprint to skip re-parsing files whose bytes did not
    /// change (a `touch`, a save without edits).
    static func contentHash(_ data: Data) -> UInt64 {
        // Over the raw bytes: `Data`'s iterator costs a call per byte (3 % of start-up at 10k).
        data.withUnsafeBytes { bytes in
            var hash: UInt64 = 0xcbf2_9ce4_8422_2325
            for byte in bytes {
                hash ^= UInt64(byte)
                hash = hash &* 0x0000_0100_0000_01b3
            }
            return hash
        }
    }

    private static func signature(of file: String) -> FileSignature? {
        guard let status = status(of: file), (status.st_mode & S_IFMT) == S_IFREG else { return nil }
        #if canImport(Darwin)
            let modified = status.st_mtimespec
            let changed = status.st_ctimespec
        #else
            let modified = status.st_mtim
            let changed = status.st_ctim
        #endif
        return FileSignature(
            device: UInt64(status.st_dev), inode: UInt64(status.st_ino), size: Int64(status.st_size),
            modifiedNanoseconds: Int64(modified.tv_sec) * 1_000_000_000 + Int64(modified.tv_nsec),
            changedNanoseconds: Int64(changed.tv_sec) * 1_000_000_000 + Int64(changed.tv_nsec))
    }

    private static func status(of file: String) -> stat? {
        var status = stat()
        return stat(file, &status) == 0 ? status : nil
    }
}
