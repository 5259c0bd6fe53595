import KubeProxyCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension ConfigurationFile {
    /// The largest configuration file we read; upstream's are a few kilobytes.
    public static let maximumFileSize = 1 << 20

    /// Reads, parses and resolves the configuration file at `path` (`--config`): relative path
    /// fields inside it are taken relative to its directory (`resolvingPaths(of:relativeTo:)`).
    public static func load(path: String) throws(Error) -> KubeProxyConfiguration {
        let text = try readText(path)
        return resolvingPaths(of: try parse(text, file: path), relativeTo: path)
    }

    /// Writes `text` to `destination` (`--write-config-to`) without ever replacing something
    /// that is not a plain file:
    ///
    /// - `-`: standard output (`standardOutput`, a descriptor so tests can pass a pipe).
    /// - a missing path or a regular file: written atomically (a temporary file in the same
    ///   directory renamed over it), so a reader never sees half a file.
    /// - a symbolic link (a ConfigMap mount, `/dev/stdout`): followed; a regular target is
    ///   atomically replaced in its own directory keeping its permissions, so the link stays a
    ///   link; any other target is written in place as below.
    /// - a device, FIFO or socket (`/dev/null`, `/dev/stdout` when it is a pipe): opened and
    ///   written in place; nothing is created, renamed or truncated.
    public static func write(_ text: String, to destination: String, standardOutput: Int32 = STDOUT_FILENO) throws(Error) {
        if destination == "-" {
            try writeAll(Array(text.utf8), to: standardOutput, path: "standard output")
            return
        }
        var link = stat()
        guard lstat(destination, &link) == 0 else {
            guard errno == ENOENT else { throw failure(destination, "cannot inspect", errno) }
            try writeAtomically(text, to: destination, mode: 0o644)
            return
        }
        var target = link
        var targetPath = destination
        if isKind(link, S_IFLNK) {
            guard let real = realpath(destination, nil) else {
                throw failure(destination, "cannot follow the symbolic link", errno)
            }
            targetPath = String(cString: real)
            free(real)
            guard stat(targetPath, &target) == 0 else { throw failure(targetPath, "cannot inspect", errno) }
        }
        if isKind(target, S_IFDIR) {
            throw Error(file: destination, field: "", message: "is a directory")
        } else if isKind(target, S_IFREG) {
            try writeAtomically(text, to: targetPath, mode: target.st_mode & 0o7777)
        } else {
            try writeInPlace(text, to: targetPath)
        }
    }

    private static func isKind(_ info: stat, _ kind: mode_t) -> Bool {
        info.st_mode & S_IFMT == kind
    }

    private static func failure(_ path: String, _ what: String, _ code: Int32) -> Error {
        Error(file: path, field: "", message: "\(what): \(String(cString: strerror(code))) (errno \(code))")
    }

    private static func readText(_ path: String) throws(Error) -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw failure(path, "cannot read", errno) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw failure(path, "cannot read", errno)
            }
            if n == 0 { break }
            bytes += chunk[..<n]
            guard bytes.count <= maximumFileSize else {
                throw Error(file: path, field: "", message: "larger than \(maximumFileSize) bytes")
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func writeAtomically(_ text: String, to path: String, mode: mode_t) throws(Error) {
        var template = Array((path + ".tmp-XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw failure(path, "cannot create a temporary file next to it", errno) }
        let temporary = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        do throws(Error) {
            defer { close(fd) }
            guard fchmod(fd, mode) == 0 else { throw failure(temporary, "cannot set permissions", errno) }
            try writeAll(Array(text.utf8), to: fd, path: temporary)
            guard fsync(fd) == 0 else { throw failure(temporary, "cannot flush", errno) }
            guard rename(temporary, path) == 0 else { throw failure(path, "cannot replace", errno) }
        } catch {
            unlink(temporary)
            throw error
        }
    }

    private static func writeInPlace(_ text: String, to path: String) throws(Error) {
        let fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY)
        guard fd >= 0 else { throw failure(path, "cannot open for writing", errno) }
        defer { close(fd) }
        try writeAll(Array(text.utf8), to: fd, path: path)
    }

    private static func writeAll(_ bytes: [UInt8], to fd: Int32, path: String) throws(Error) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw failure(path, "cannot write", errno)
            }
            offset += n
        }
    }
}
