#if canImport(Glibc)
    import Glibc
#endif

/// Writes diagnostics to file descriptor 2 without touching libc's global `stderr` stream,
/// which Swift 6 strict concurrency rejects as shared mutable state.
enum StandardError {
    /// Writes `text` as UTF-8, retrying short writes.
    static func write(_ text: String) {
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { Glibc.write(2, $0.baseAddress, $0.count) }
            if written <= 0 { return }
            bytes = bytes.dropFirst(written)
        }
    }
}
