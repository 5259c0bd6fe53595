#if canImport(Glibc)
    import Glibc
#endif

/// Memory figures of this process from `/proc/self/status`, in MiB.
///
/// Why `VmHWM`: it is the kernel's own peak resident set, so a short spike between two
/// samples is not missed; that is why each size runs in a fresh process.
enum ProcessMemory {
    /// Peak resident set size (`VmHWM`), or nil where `/proc` is unavailable.
    static var peakResidentMiB: Double? { field("VmHWM:") }
    /// Current resident set size (`VmRSS`).
    static var residentMiB: Double? { field("VmRSS:") }

    private static func field(_ name: String) -> Double? {
        guard let file = fopen("/proc/self/status", "r") else { return nil }
        defer { fclose(file) }
        var buffer = [CChar](repeating: 0, count: 512)
        while fgets(&buffer, Int32(buffer.count), file) != nil {
            let line = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            guard line.hasPrefix(name) else { continue }
            let digits = line.dropFirst(name.count).filter(\.isNumber)
            return Double(String(digits)).map { $0 / 1024 }
        }
        return nil
    }
}
