import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// What a watcher saw since it was last asked.
enum ManifestWatchNews: Sendable, Hashable {
    /// Nothing happened in the watched directories: no listing is needed.
    case quiet
    /// Something in a watched directory changed: list and `stat` again.
    case changed
    /// The kernel dropped events (its queue overflowed): nothing seen can be trusted, so list
    /// and re-read everything.
    case overflowed
}

/// Tells the manifest source when a listing is worth doing, so an unchanged directory costs
/// nothing instead of a listing and a `stat` per file every poll.
///
/// Called only from the source's own task (never concurrently), so it need not be `Sendable`.
protocol ManifestWatcher: AnyObject {
    /// What happened since the last call; never blocks.
    func news() -> ManifestWatchNews

    /// Watches exactly `directories` (absolute or relative paths) from now on, dropping watches
    /// on others, and says whether `required` (the manifest directory, or a single file's
    /// directory) is among those watched; when it is not (it vanished), events cannot be
    /// trusted and the source lists every poll until it is.
    func watch(_ directories: Set<String>, required: String) -> Bool

    /// The files (as ``ManifestFiles/list()`` names them) whose last event in the news just
    /// taken says they are complete: closed after writing, or renamed into place. A listing
    /// may read those at once instead of waiting for their signature to hold still for a poll.
    func takeCompleted() -> Set<String>

    /// Signalled when there is news, so the source need not wait for its next poll; `nil` when
    /// the watcher can only be asked.
    var wakeups: WakeSignal? { get }
}

extension ManifestWatcher {
    /// No completion news: every changed file waits for its signature to settle.
    func takeCompleted() -> Set<String> { [] }

    /// No wake-ups: news is seen at the next poll.
    var wakeups: WakeSignal? { nil }
}

/// Linux inotify: one non-blocking descriptor, one watch per directory that holds manifests or
/// their symlink targets (a ConfigMap volume's timestamped `..data` directory).
final class InotifyWatcher: ManifestWatcher {
    #if os(Linux)
        private let descriptor: Int32
        /// Watched directory → watch descriptor. Two paths naming the same directory share a
        /// descriptor (the kernel keys watches by inode).
        private var watches: [String: Int32] = [:]
        private var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        /// Per watch descriptor and name, whether the file's last event left it complete.
        private var completion: [Int32: [String: Bool]] = [:]
        private let readiness: InotifyReadiness

        /// Everything that can change what a listing or a read would see.
        static let mask: UInt32 = UInt32(
            IN_CREATE | IN_DELETE | IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_ATTRIB
                | IN_DELETE_SELF | IN_MOVE_SELF)

        /// Opens an inotify instance, or throws `errno`'s words when the kernel refuses
        /// (no inotify support, the per-user instance limit reached).
        init() throws(WatcherUnavailable) {
            let descriptor = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
            guard descriptor >= 0 else {
                throw WatcherUnavailable(reason: "inotify_init1: \(String(cString: strerror(errno)))")
            }
            self.descriptor = descriptor
            self.readiness = InotifyReadiness(descriptor: descriptor)
        }

        deinit {
            // The readiness source closes the descriptor once it is cancelled.
            readiness.cancel()
        }

        var wakeups: WakeSignal? { readiness.signal }

        func takeCompleted() -> Set<String> {
            defer { completion = [:] }
            var files: Set<String> = []
            for (directory, wd) in watches {
                for (name, complete) in completion[wd] ?? [:] where complete {
                    files.insert(directory.hasSuffix("/") ? directory + name : directory + "/" + name)
                }
            }
            return files
        }

        func news() -> ManifestWatchNews {
            // Ask the kernel to tell us again only after this drain.
            defer { readiness.rearm() }
            var result = ManifestWatchNews.quiet
            while true {
                let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
                if count < 0 {
                    if errno == EINTR { continue }
                    // EAGAIN: drained. Anything else: events may be lost, which is what an
                    // overflow means too, so rescan and re-read everything.
                    return errno == EAGAIN || errno == EWOULDBLOCK ? result : .overflowed
                }
                if count == 0 { return result }
                let records = buffer.withUnsafeBytes { Self.records(UnsafeRawBufferPointer(rebasing: $0[..<count])) }
                buffer.withUnsafeBytes {
                    Self.completions(UnsafeRawBufferPointer(rebasing: $0[..<count]), into: &completion)
                }
                let (summary, ignored) = Self.news(of: records)
                for wd in ignored { forget(wd) }
                if summary == .overflowed { result = .overflowed } else if result == .quiet { result = summary }
            }
        }

        func watch(_ directories: Set<String>, required: String) -> Bool {
            for directory in watches.keys where !directories.contains(directory) {
                if let wd = watches.removeValue(forKey: directory), !watches.values.contains(wd) {
                    inotify_rm_watch(descriptor, wd)
                }
            }
            for directory in directories where watches[directory] == nil {
                let wd = inotify_add_watch(descriptor, directory, Self.mask | UInt32(IN_ONLYDIR))
                if wd >= 0 { watches[directory] = wd }
            }
            // A watch removed by the kernel (the directory was deleted or replaced) is
            // re-added on the next call, once the path exists again.
            return watches[required] != nil
        }

        /// Forgets the watches the kernel dropped (`IN_IGNORED`), so they are re-added.
        private func forget(_ wd: Int32) {
            watches = watches.filter { $0.value != wd }
        }

    #else
        /// inotify is Linux only; elsewhere the source polls.
        init() throws(WatcherUnavailable) {
            throw WatcherUnavailable(reason: "inotify is only available on Linux")
        }

        func news() -> ManifestWatchNews { .changed }

        func watch(_ directories: Set<String>, required: String) -> Bool { false }
    #endif
}

extension InotifyWatcher {
    /// `IN_Q_OVERFLOW` and `IN_IGNORED` as the kernel defines them, so the pure parsing below
    /// compiles (and is tested) everywhere.
    static let queueOverflow: UInt32 = 0x4000
    static let ignored: UInt32 = 0x8000

    /// What a batch of records means: an overflow anywhere wins, any other record is a change;
    /// `ignored` lists the watches the kernel dropped (their directory was deleted or replaced).
    static func news(of records: [(wd: Int32, mask: UInt32)]) -> (news: ManifestWatchNews, ignored: [Int32]) {
        var news = ManifestWatchNews.quiet
        var ignored: [Int32] = []
        for (wd, mask) in records {
            if mask & queueOverflow != 0 {
                news = .overflowed
            } else if news == .quiet {
                news = .changed
            }
            if mask & Self.ignored != 0 { ignored.append(wd) }
        }
        return (news, ignored)
    }

    /// Events that leave a file complete (`IN_CLOSE_WRITE`, `IN_MOVED_TO`) and events that
    /// leave it incomplete or gone (`IN_CREATE`, `IN_MODIFY`, `IN_MOVED_FROM`, `IN_DELETE`), as
    /// the kernel defines them.
    static let completing: UInt32 = 0x0008 | 0x0080
    static let unsettling: UInt32 = 0x0100 | 0x0002 | 0x0040 | 0x0200

    /// Records, per watch descriptor and file name in `bytes` (whole records, as for
    /// ``records(_:)``), whether the file's last event left it complete. A later write undoes
    /// an earlier close; other events (attributes) change nothing.
    static func completions(_ bytes: UnsafeRawBufferPointer, into completion: inout [Int32: [String: Bool]]) {
        let header = 16
        var offset = 0
        while offset + header <= bytes.count {
            let wd = bytes.loadUnaligned(fromByteOffset: offset, as: Int32.self)
            let mask = bytes.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self)
            let length = Int(bytes.loadUnaligned(fromByteOffset: offset + 12, as: UInt32.self))
            let end = min(offset + header + length, bytes.count)
            let name = UnsafeRawBufferPointer(rebasing: bytes[(offset + header)..<end]).prefix { $0 != 0 }
            if !name.isEmpty && mask & (completing | unsettling) != 0 {
                completion[wd, default: [:]][String(decoding: name, as: UTF8.self)] = mask & completing != 0
            }
            offset += header + length
        }
    }

    /// The `(wd, mask)` of each record in `bytes`, which holds whole records as `read` returns
    /// them: a fixed 16-byte header (`int wd; uint32 mask; uint32 cookie; uint32 len`, the
    /// kernel ABI) followed by `len` bytes of name. A truncated tail is ignored.
    static func records(_ bytes: UnsafeRawBufferPointer) -> [(wd: Int32, mask: UInt32)] {
        var records: [(wd: Int32, mask: UInt32)] = []
        let header = 16
        var offset = 0
        while offset + header <= bytes.count {
            let wd = bytes.loadUnaligned(fromByteOffset: offset, as: Int32.self)
            let mask = bytes.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self)
            let length = bytes.loadUnaligned(fromByteOffset: offset + 12, as: UInt32.self)
            records.append((wd, mask))
            offset += header + Int(length)
        }
        return records
    }
}

/// Why event-driven watching is not available, so the source polls instead.
struct WatcherUnavailable: Error, Sendable, Hashable, CustomStringConvertible {
    /// The system call and `errno`'s words.
    var reason: String

    /// The reason, as logged.
    var description: String { reason }
}

#if os(Linux)
    /// Turns the inotify descriptor's readability into a ``WakeSignal``: a dispatch read source
    /// that, once fired, stays suspended until the source has drained the descriptor
    /// (``rearm()``), so it fires once per batch of news rather than spinning while the news
    /// waits to be read.
    final class InotifyReadiness: @unchecked Sendable {
        /// Signalled once per batch of news.
        let signal = WakeSignal()
        // Safe to share: the dispatch source is thread-safe, and `suspended` (whether it is
        // suspended by us) is only read and written under its lock.
        private let source: any DispatchSourceRead
        private let suspended = Mutex(false)

        /// Watches `descriptor` for readability; the descriptor is closed when this is cancelled.
        init(descriptor: Int32) {
            source = DispatchSource.makeReadSource(
                fileDescriptor: descriptor, queue: DispatchQueue(label: "kube-proxy.manifests.inotify"))
            source.setCancelHandler { close(descriptor) }
            source.setEventHandler { [weak self] in self?.fired() }
            source.activate()
        }

        private func fired() {
            let suspend = suspended.withLock { suspended in
                defer { suspended = true }
                return !suspended
            }
            if suspend { source.suspend() }
            signal.signal()
        }

        /// Lets the next readability fire again.
        func rearm() {
            let resume = suspended.withLock { suspended in
                defer { suspended = false }
                return suspended
            }
            if resume { source.resume() }
        }

        /// Stops watching and closes the descriptor (a source must not be released suspended).
        func cancel() {
            rearm()
            source.cancel()
        }
    }
#endif

/// A wake-up that is not lost: a signal with nobody waiting is kept for the next ``wait()``.
final class WakeSignal: Sendable {
    private struct State {
        var pending = false
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let state = Mutex(State())

    /// Creates a signal with nothing pending.
    init() {}

    /// Wakes the waiter, or the next one to wait.
    func signal() {
        let waiter = state.withLock { state in
            guard let waiter = state.waiter else {
                state.pending = true
                return nil as CheckedContinuation<Void, Never>?
            }
            state.waiter = nil
            return waiter
        }
        waiter?.resume()
    }

    /// Returns at the next signal (at once if one is pending), or when the task is cancelled.
    func wait() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = state.withLock { state in
                    if state.pending || Task.isCancelled {
                        state.pending = false
                        return true
                    }
                    state.waiter = continuation
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { state in
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume()
        }
    }
}
