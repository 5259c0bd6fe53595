import Dispatch
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Runs an exec credential plugin once and checks what it printed.
///
/// The plugin runs with our environment plus its configured `env` and `KUBERNETES_EXEC_INFO`
/// (an `ExecCredential` request, non-interactive), stdin closed. It must exit 0 and print an
/// `ExecCredential` of the same `apiVersion` with a token or a certificate/key pair. A plugin
/// that runs longer than `timeout` is killed, and so is one that prints more than
/// ``APILimits/execOutputBytes`` (1 MiB) on stdout; of stderr only the last 4 KiB are kept.
/// Errors carry the command, exit status and an escaped excerpt of stderr's tail — never
/// stdout, which holds the credential.
enum ExecPlugin {
    /// A credential a plugin produced.
    struct Credential: Sendable, Hashable {
        /// Bearer token, if it gave one.
        var token: BearerToken?
        /// PEM client certificate and key, if it gave them.
        var certificatePEM: [UInt8]?
        /// PEM client key.
        var keyPEM: [UInt8]?
        /// When to run the plugin again (`nil`: only after a `401`).
        var expiry: Date?
    }

    /// Runs `plugin` and returns its credential.
    static func run(
        _ plugin: ExecPluginConfig, cluster: ExecCredential.Cluster?, environment: [String: String],
        timeout: TimeInterval = 60
    ) async throws(APIClientError) -> Credential {
        let source = "\(plugin.origin) (command \(plugin.command))"
        guard let executable = resolveExecutable(plugin.command, path: environment["PATH"]) else {
            let hint = plugin.installHint.map { "; \($0)" } ?? ""
            throw .credential(source: source, message: "command not found\(hint)")
        }
        var childEnvironment = environment
        for variable in plugin.environment { childEnvironment[variable.name] = variable.value }
        let request = ExecCredential.request(
            apiVersion: plugin.apiVersion, cluster: plugin.provideClusterInfo ? cluster : nil)
        if let info = try? JSONEncoder().encode(request) {
            childEnvironment["KUBERNETES_EXEC_INFO"] = String(decoding: info, as: UTF8.self)
        }
        let outcome: ProcessOutcome
        do {
            outcome = try await launch(executable, plugin.arguments, childEnvironment, timeout: timeout)
        } catch {
            throw .credential(source: source, message: "cannot run: \(error)")
        }
        if outcome.stdoutOverflowed {
            let limit = APILimits.execOutputBytes
            throw .credential(
                source: source, message: "printed more than \(APIClientError.describeBytes(limit)) on stdout; stopped")
        }
        guard outcome.status == 0 else {
            let tail = LogExcerpt.quote(
                String(decoding: outcome.stderr.suffix(400), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines),
                limit: 400)
            let how = outcome.timedOut ? "timed out after \(Int(timeout)) s" : "exited with status \(outcome.status)"
            throw .credential(source: source, message: tail.isEmpty ? how : "\(how): \(tail)")
        }
        return try parse(outcome.stdout, plugin: plugin, source: source)
    }

    /// Checks a plugin's output and extracts the credential.
    static func parse(_ output: [UInt8], plugin: ExecPluginConfig, source: String) throws(APIClientError)
        -> Credential
    {
        let credential: ExecCredential
        do {
            credential = try JSONDecoder().decode(ExecCredential.self, from: Data(output))
        } catch {
            throw .credential(source: source, message: "printed no valid ExecCredential: \(DecodingFailure(error))")
        }
        guard credential.apiVersion == plugin.apiVersion else {
            throw .credential(
                source: source,
                message:
                    "answered in apiVersion \"\(LogExcerpt.quote(credential.apiVersion ?? "", limit: 60))\", "
                    + "expected \"\(plugin.apiVersion)\"")
        }
        guard let status = credential.status else {
            throw .credential(source: source, message: "printed an ExecCredential without status")
        }
        var result = Credential()
        if let token = status.token, !token.isEmpty { result.token = BearerToken(token) }
        switch (status.clientCertificateData, status.clientKeyData) {
        case (let certificate?, let key?) where !certificate.isEmpty && !key.isEmpty:
            result.certificatePEM = Array(certificate.utf8)
            result.keyPEM = Array(key.utf8)
        case (nil, nil), ("", ""), (nil, ""), ("", nil):
            break
        default:
            throw .credential(source: source, message: "returned clientCertificateData without clientKeyData or vice versa")
        }
        guard result.token != nil || result.certificatePEM != nil else {
            throw .credential(source: source, message: "returned neither a token nor a client certificate")
        }
        if let timestamp = status.expirationTimestamp, !timestamp.isEmpty {
            guard let expiry = ExecCredential.parseTimestamp(timestamp) else {
                let quoted = LogExcerpt.quote(timestamp, limit: 60)
                throw .credential(source: source, message: "expirationTimestamp \"\(quoted)\" is not RFC 3339")
            }
            result.expiry = expiry
        }
        return result
    }

    /// `command` itself when it contains a `/`, else the first executable match in `path`.
    static func resolveExecutable(_ command: String, path: String?) -> String? {
        if command.contains("/") {
            return FileManager.default.isExecutableFile(atPath: command) ? command : nil
        }
        for directory in (path ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":") {
            let candidate = "\(directory)/\(command)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// Set by the timeout timer, so the error can say "timed out" rather than "killed".
    private final class TimeoutFlag: Sendable {
        private let value = Mutex(false)
        func set() { value.withLock { $0 = true } }
        var isSet: Bool { value.withLock { $0 } }
    }

    private struct ProcessOutcome: Sendable {
        var status: Int32
        var stdout: [UInt8]
        var stdoutOverflowed: Bool
        var stderr: [UInt8]
        var timedOut: Bool
    }

    /// Runs the process on a dispatch thread (Foundation's `Process` blocks), reading both
    /// pipes concurrently so a chatty plugin cannot deadlock on a full pipe, and bounded: stdout
    /// past ``APILimits/execOutputBytes`` terminates the plugin (the rest is drained, not
    /// kept), stderr keeps its tail.
    private static func launch(
        _ executable: String, _ arguments: [String], _ environment: [String: String], timeout: TimeInterval
    ) async throws -> ProcessOutcome {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                let process = Process()
                process.executableURL = URL(fileURLWithPath: executable)
                process.arguments = arguments
                process.environment = environment
                let output = Pipe()
                let errors = Pipe()
                process.standardOutput = output
                process.standardError = errors
                process.standardInput = FileHandle.nullDevice
                if let shortage = descriptorShortage(output, errors) {
                    continuation.resume(throwing: shortage)
                    return
                }
                do {
                    try process.run()
                } catch {
                    continuation.resume(throwing: error)
                    return
                }
                let fired = TimeoutFlag()
                let timer = DispatchWorkItem {
                    guard process.isRunning else { return }
                    fired.set()
                    killPlugin(process)
                }
                DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: timer)
                let group = DispatchGroup()
                nonisolated(unsafe) var errorBytes: [UInt8] = []
                DispatchQueue.global().async(group: group) {
                    errorBytes = readTail(errors.fileHandleForReading, keeping: APILimits.execErrorTailBytes)
                }
                let (outputBytes, overflowed) = readBounded(output.fileHandleForReading, limit: APILimits.execOutputBytes) {
                    killPlugin(process)
                }
                group.wait()
                process.waitUntilExit()
                timer.cancel()
                let timedOut = fired.isSet
                continuation.resume(
                    returning: ProcessOutcome(
                        status: process.terminationStatus, stdout: outputBytes, stdoutOverflowed: overflowed,
                        stderr: errorBytes, timedOut: timedOut))
            }
        }
    }

    /// Out of descriptors (`EMFILE`/`ENFILE`) when starting a plugin.
    struct DescriptorShortage: Error, CustomStringConvertible {
        /// The `errno` of the failed `pipe` or `socketpair`.
        let errno: Int32
        var description: String { "no file descriptor left to start it (errno \(errno))" }
    }

    /// Foundation's `Pipe` hands out descriptor -1 and `Process.run` ignores a failing
    /// `socketpair` when descriptors run out, which crashed in libdispatch: check both first.
    private static func descriptorShortage(_ pipes: Pipe...) -> DescriptorShortage? {
        if pipes.contains(where: { $0.fileHandleForReading.fileDescriptor < 0 }) { return DescriptorShortage(errno: EMFILE) }
        var probe: [Int32] = [-1, -1]
        #if canImport(Glibc)
            let stream = Int32(SOCK_STREAM.rawValue)
        #else
            let stream = SOCK_STREAM
        #endif
        guard socketpair(AF_UNIX, stream, 0, &probe) == 0 else { return DescriptorShortage(errno: errno) }
        close(probe[0])
        close(probe[1])
        return nil
    }

    /// Ends the plugin with `SIGKILL`: it inherits the signal mask of the dispatch thread that
    /// launched it, in which `SIGTERM` is blocked, so `Process.terminate()` would not stop it.
    private static func killPlugin(_ process: Process) {
        guard process.isRunning else { return }
        _ = kill(process.processIdentifier, SIGKILL)
    }

    /// Reads `handle` to its end, keeping at most `limit` bytes; calls `overflow` once when more
    /// arrive (and keeps draining, so the writer is never blocked on a full pipe).
    private static func readBounded(_ handle: FileHandle, limit: Int, overflow: () -> Void) -> ([UInt8], Bool) {
        var bytes: [UInt8] = []
        var overflowed = false
        while true {
            let chunk = handle.availableData
            if chunk.isEmpty { break }
            if overflowed { continue }
            if bytes.count + chunk.count > limit {
                overflowed = true
                overflow()
            } else {
                bytes.append(contentsOf: chunk)
            }
        }
        return (bytes, overflowed)
    }

    /// Reads `handle` to its end, keeping only the last `keeping` bytes.
    private static func readTail(_ handle: FileHandle, keeping: Int) -> [UInt8] {
        var bytes: [UInt8] = []
        while true {
            let chunk = handle.availableData
            if chunk.isEmpty { break }
            bytes.append(contentsOf: chunk)
            if bytes.count > 2 * keeping { bytes.removeFirst(bytes.count - keeping) }
        }
        return Array(bytes.suffix(keeping))
    }
}
