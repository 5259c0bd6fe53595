import Foundation
import KubeAPI
import Logging
import Synchronization

/// Serves Services, EndpointSlices and Endpoints from manifest files instead of an API server:
/// `kube-proxy --manifests PATH`, our own extension for running the proxy with no cluster.
///
/// `PATH` is a YAML (multi-document) or JSON file, or a directory whose `*.yaml`, `*.yml` and
/// `*.json` files (not hidden, not recursive) are read in sorted order. The source emits the
/// initial objects as additions, then ``SourceEvent/synced`` once, then emits additions, updates
/// and deletions as files are edited, added and removed — the same events the API-server client
/// emits, so the rest of the proxy cannot tell the difference.
///
/// Watching (``ManifestWatching``): on Linux, inotify watches the directory (a single file's
/// parent) and the directories symlinked files resolve to; every `pollInterval` the source does
/// one non-blocking `read` of the inotify descriptor and lists and `stat`s the files only when
/// something happened there, so an unchanged directory costs no listing, no `stat` and no parse.
/// A stat-only safety listing runs every `safetyInterval` for what inotify cannot see (network
/// file systems, a swapped intermediate symlink); a kernel queue overflow re-reads everything.
/// Where inotify is unavailable, or with ``ManifestWatching/polling``, the source lists and
/// `stat`s every poll, and re-reads every file about every 5 s for coarse timestamps.
///
/// Error handling, all logged and visible through ``currentErrors()``:
/// - a file that fails to parse, decode or validate changes nothing: its objects stay as they
///   were until it is fixed (an info line says when it recovers);
/// - an unreadable file keeps its objects; a vanished file deletes them;
/// - an object defined in two files comes from the first, the other is an error naming both;
/// - unsupported kinds are logged as warnings and skipped;
/// - a file beyond ``ManifestLimits`` (too large, too many documents, aliases expanding too
///   far) is refused like a broken one, and a too large file is refused by its `stat` size,
///   unread, and not looked at again until its signature changes;
/// - error text quoting the file's content is short and escaped (``ManifestError``).
///
/// A change shows up within milliseconds when inotify says the file is complete (closed after
/// writing, or renamed into place); otherwise within about two poll intervals, once its `stat`
/// signature is stable across two listings a poll apart, which keeps editors' intermediate
/// states out. ``counters()`` tells how much work that took (and proves an idle source idle).
public final class ManifestSource: Sendable {
    /// The manifest path as given.
    public let path: String
    private let validator: ManifestValidator
    private let pollInterval: Duration
    private let clock: any Clock<Duration>
    private let limits: ManifestLimits
    private let logger: Logger
    private let safetyInterval: Duration
    private let makeWatcher: (@Sendable () throws(WatcherUnavailable) -> any ManifestWatcher)?
    private let errors = Mutex<[ManifestError]>([])
    private let work = Mutex(ManifestSourceCounters())

    /// Every how many polls all files are re-read and hashed regardless of their `stat`
    /// signature, for file systems with coarse timestamps (about every 5 s by default).
    static let rehashEvery = 20

    /// Creates a source; nothing is read until ``run(_:)``.
    ///
    /// - Parameters:
    ///   - path: a manifest file or a directory of them.
    ///   - validator: checks each object; any cause rejects the object's whole file.
    ///   - pollInterval: how often the files are checked for changes.
    ///   - clock: the clock polls sleep on (injected for tests).
    ///   - limits: the bounds on file size, documents and alias expansion.
    ///   - logger: receives errors, warnings, recoveries and a debug line per event.
    ///   - watching: inotify where available (the default), or plain polling.
    ///   - safetyInterval: with inotify, how often the files are listed and `stat`ed anyway.
    public convenience init(
        path: String, validator: @escaping ManifestValidator, pollInterval: Duration = .milliseconds(250),
        clock: any Clock<Duration> = ContinuousClock(), limits: ManifestLimits = ManifestLimits(), logger: Logger,
        watching: ManifestWatching = .automatic, safetyInterval: Duration = .seconds(30)
    ) {
        let makeWatcher: (@Sendable () throws(WatcherUnavailable) -> any ManifestWatcher)?
        switch watching {
        case .automatic: makeWatcher = { () throws(WatcherUnavailable) in try InotifyWatcher() }
        case .polling: makeWatcher = nil
        }
        self.init(
            path: path, validator: validator, pollInterval: pollInterval, clock: clock, limits: limits, logger: logger,
            safetyInterval: safetyInterval, makeWatcher: makeWatcher)
    }

    /// Creates a source with an injected watcher (tests), or none (`nil`: polling).
    init(
        path: String, validator: @escaping ManifestValidator, pollInterval: Duration, clock: any Clock<Duration>,
        limits: ManifestLimits, logger: Logger, safetyInterval: Duration,
        makeWatcher: (@Sendable () throws(WatcherUnavailable) -> any ManifestWatcher)?
    ) {
        self.path = path
        self.validator = validator
        self.pollInterval = pollInterval
        self.clock = clock
        self.limits = limits
        self.logger = logger
        self.safetyInterval = safetyInterval
        self.makeWatcher = makeWatcher
    }

    /// Loads the manifests, emits their objects and `.synced`, then watches until cancelled
    /// (returning normally on cancellation); one event per call (see ``runInBatches(_:)``).
    ///
    /// - Throws: ``ManifestError`` (`.missingPath`) if `path` does not exist at start, or
    ///   (`.unreadable`) if a directory cannot be listed at start.
    public func run(_ emit: @Sendable (SourceEvent) async -> Void) async throws {
        try await runInBatches { events in
            for event in events { await emit(event) }
        }
    }

    /// ``run(_:)`` with the events of one poll in one call, in order: the initial load is one
    /// batch (then `[.synced]`), and each later poll that changed something one more. A
    /// consumer behind an actor then hops once per batch instead of once per object.
    ///
    /// - Throws: as ``run(_:)``.
    public func runInBatches(_ emit: @Sendable ([SourceEvent]) async -> Void) async throws {
        var poller = ManifestPoller(files: try ManifestFiles(path: path), validator: validator, limits: limits)
        let watcher = startWatching(poller.files)
        var watched: Set<String> = [poller.files.watchRoot]
        switch poller.poll(initial: true, rehash: false) {
        case .failure(let failure):
            throw ManifestError(reason: .unreadable, file: path, message: "cannot list: \(failure.message)")
        case .success(let update):
            await deliver(update, poller.errors, emit)
        }
        record(poller, safety: false)
        await emit([.synced])
        logger.info("manifests loaded", metadata: ["path": "\(path)", "objects": "\(poller.objectCount)"])

        // With a watcher, list again on the next poll whenever the watches changed (an event
        // between a listing and a new watch would otherwise be missed) or the directory is not
        // watched (it vanished: poll until it is back, and once more after that).
        var complete = watcher.map { Self.rewatch($0, poller, &watched) } ?? false
        var listNext = !complete
        let safetyPolls = max(1, Int((safetyInterval / pollInterval).rounded(.up)))
        var polls = 0
        var pollsSinceListing = 0
        var listingError: String?
        while !Task.isCancelled {
            // Whether a whole poll interval passed since the last listing: only then may a file
            // count as settled because its signature did not change (wake-ups come
            // microseconds apart, while a writer may be between two writes).
            let fullInterval: Bool
            do {
                fullInterval = try await pause(wakingOn: watcher?.wakeups)
            } catch {
                return
            }
            polls += 1
            pollsSinceListing += 1
            var rehash = polls % Self.rehashEvery == 0
            var safety = false
            var completed: Set<String> = []
            if let watcher {
                let news = watcher.news()
                if news == .overflowed {
                    work.withLock { $0.overflows += 1 }
                    logger.info("inotify queue overflowed; re-reading every manifest", metadata: ["path": "\(path)"])
                }
                let due = news != .quiet || listNext || poller.hasPending || listingError != nil
                if !due && pollsSinceListing < safetyPolls { continue }
                safety = !due
                rehash = news == .overflowed
                completed = watcher.takeCompleted()
            }
            pollsSinceListing = 0
            switch poller.poll(initial: false, rehash: rehash, complete: completed, settle: fullInterval) {
            case .failure(let failure):
                if failure.message != listingError {
                    logger.error("\(ManifestExcerpt.excerpt(path)): cannot list: \(failure.message)")
                }
                listingError = failure.message
            case .success(let update):
                listingError = nil
                if !update.isIdle { await deliver(update, poller.errors, emit) }
            }
            record(poller, safety: safety)
            if let watcher {
                let wasComplete = complete
                complete = Self.rewatch(watcher, poller, &watched)
                listNext = !complete || !wasComplete
            }
        }
    }

    /// Waits for the next poll: `pollInterval` on the clock, or less when the watcher signals
    /// news (so an edit applies in milliseconds, not at the next tick). Returns whether the
    /// whole interval passed.
    private func pause(wakingOn wakeups: WakeSignal?) async throws -> Bool {
        guard let wakeups else {
            try await clock.sleep(for: pollInterval)
            return true
        }
        let clock = self.clock
        let interval = pollInterval
        return try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                try await clock.sleep(for: interval)
                return true
            }
            group.addTask {
                await wakeups.wait()
                return false
            }
            defer { group.cancelAll() }
            return try await group.next() ?? true
        }
    }

    /// The work done so far: listings, reads, parses, overflows. A test proves an unchanged
    /// directory idle by these, not by time.
    public func counters() -> ManifestSourceCounters {
        work.withLock { $0 }
    }

    /// The watcher, with the manifest directory watched before its first listing so no change
    /// after that listing is missed; `nil` (polling) when watching is off or unavailable.
    private func startWatching(_ files: ManifestFiles) -> (any ManifestWatcher)? {
        guard let makeWatcher else {
            logger.info("watching manifests by polling", metadata: ["interval": "\(pollInterval)"])
            return nil
        }
        let watcher: any ManifestWatcher
        do {
            watcher = try makeWatcher()
        } catch {
            logger.warning(
                "cannot watch manifests for changes (\(error)); polling every \(pollInterval) instead",
                metadata: ["path": "\(path)"])
            return nil
        }
        _ = watcher.watch([files.watchRoot], required: files.watchRoot)
        work.withLock { $0.eventDriven = true }
        logger.info("watching manifests with inotify", metadata: ["path": "\(path)"])
        return watcher
    }

    /// Points the watcher at the directories the last listing needs; `false` when the next poll
    /// must list regardless (the set changed, or the manifest directory is not watched). Costs a
    /// `lstat` per listed file, only after a listing.
    private static func rewatch(
        _ watcher: any ManifestWatcher, _ poller: ManifestPoller, _ watched: inout Set<String>
    ) -> Bool {
        let directories = poller.files.watchDirectories(for: poller.listed)
        let rootWatched = watcher.watch(directories, required: poller.files.watchRoot)
        defer { watched = directories }
        return rootWatched && directories == watched
    }

    private func record(_ poller: ManifestPoller, safety: Bool) {
        work.withLock {
            $0.listings += 1
            if safety { $0.safetyListings += 1 }
            $0.reads = poller.reads
            $0.parses = poller.parses
        }
    }

    /// The problems that currently keep files (or objects) from applying.
    public func currentErrors() -> [ManifestError] {
        errors.withLock { $0 }
    }

    private func deliver(
        _ update: ManifestTracker.Update, _ current: [ManifestError], _ emit: @Sendable ([SourceEvent]) async -> Void
    ) async {
        for warning in update.warnings {
            logger.warning("\(warning)", metadata: ["file": "\(warning.displayFile)"])
        }
        for error in update.newErrors {
            logger.error("\(error)", metadata: ["file": "\(error.displayFile)"])
        }
        for file in update.recovered {
            let display = ManifestExcerpt.excerpt(file, limit: 4096)
            logger.info("\(display): recovered; its contents are applied", metadata: ["file": "\(display)"])
        }
        errors.withLock { $0 = current }
        if logger.logLevel <= .debug {
            for event in update.events { logger.debug("manifest change", metadata: ["event": "\(event)"]) }
        }
        if !update.events.isEmpty { await emit(update.events) }
    }
}

/// One poll's I/O around the pure ``ManifestTracker``: list, read what is due, decode, apply.
private struct ManifestPoller {
    let files: ManifestFiles
    let validator: ManifestValidator
    let limits: ManifestLimits
    var tracker = ManifestTracker()
    /// The files of the last successful listing.
    var listed: [String] = []
    /// Files read and files decoded since the start (see ``ManifestSourceCounters``).
    var reads = 0
    var parses = 0

    var errors: [ManifestError] { tracker.errors }
    var objectCount: Int { tracker.objectCount }
    /// Whether the last listing left work for the next (``ManifestTracker/hasPending``), worked
    /// out once per listing so an idle poll does nothing per file.
    private(set) var hasPending = false

    /// The update, or why the path could not be listed (then nothing changed).
    mutating func poll(
        initial: Bool, rehash: Bool, complete: Set<String> = [], settle: Bool = true
    ) -> Result<ManifestTracker.Update, ListingFailure> {
        let listing: [String: FileSignature]
        do {
            listing = try files.list()
        } catch {
            return .failure(ListingFailure(message: "\(error)"))
        }
        listed = Array(listing.keys)
        let plan = tracker.plan(
            listing: listing, initial: initial, rehash: rehash, complete: complete, settle: settle)
        let due = plan.read.compactMap { file in listing[file].map { (file, $0, tracker.hash(of: file)) } }
        var loads: [String: ManifestTracker.FileLoad] = [:]
        for (file, outcome) in Self.load(due, files: files, validator: validator, limits: limits) {
            loads[file] = outcome.load
            if outcome.read { reads += 1 }
            if outcome.parsed { parses += 1 }
        }
        let update = tracker.apply(loads: loads, removed: plan.removed)
        hasPending = tracker.hasPending
        return .success(update)
    }

    /// What loading one file did, for the counters.
    private struct Outcome: Sendable {
        var load: ManifestTracker.FileLoad
        var read = false
        var parsed = false
    }

    /// Loads the due files (path, listed signature, hash of the bytes last decoded), several at
    /// once when there are several: decoding is pure and, at 10k Services in a dozen files, most
    /// of the start-up. At most one file per core is in flight, so memory stays a few files'
    /// worth of documents.
    private static func load(
        _ due: [(String, FileSignature, UInt64?)], files: ManifestFiles, validator: @escaping ManifestValidator,
        limits: ManifestLimits
    ) -> [(String, Outcome)] {
        let load: @Sendable (Int) -> Outcome = { index in
            let (file, signature, previous) = due[index]
            return Self.load(file, signature: signature, previous: previous, files: files, validator: validator, limits: limits)
        }
        guard due.count > 1, ProcessInfo.processInfo.activeProcessorCount > 1 else {
            return due.indices.map { (due[$0].0, load($0)) }
        }
        let results = Mutex([Outcome?](repeating: nil, count: due.count))
        DispatchQueue.concurrentPerform(iterations: due.count) { index in
            let outcome = load(index)
            results.withLock { $0[index] = outcome }
        }
        return results.withLock { outcomes in
            due.indices.map { (due[$0].0, outcomes[$0] ?? Outcome(load: .unreadable(message: "not loaded"))) }
        }
    }

    /// Reads and decodes one due file; a file over the size limit by its listed size is
    /// refused without being opened, and bytes that hash as `previous` are not decoded again.
    private static func load(
        _ file: String, signature: FileSignature, previous: UInt64?, files: ManifestFiles,
        validator: @escaping ManifestValidator, limits: ManifestLimits
    ) -> Outcome {
        if signature.size > Int64(limits.maxFileBytes) {
            return Outcome(load: .refused(signature, tooLarge(file, size: signature.size, limits: limits)))
        }
        let data: Data
        do {
            switch try files.read(file, maxBytes: limits.maxFileBytes) {
            case .bytes(let bytes): data = bytes
            case .tooLarge(let size):
                return Outcome(load: .refused(signature, tooLarge(file, size: size, limits: limits)), read: true)
            }
        } catch {
            return Outcome(load: .unreadable(message: error.description), read: true)
        }
        let hash = ManifestFiles.contentHash(data)
        if previous == hash { return Outcome(load: .unchanged(signature), read: true) }
        let contents = ManifestDecoder.decode(data, file: file, validator: validator, limits: limits)
        // The tracker keeps no objects (nor these bytes: 13 MB at 10k). In the rare case it must
        // emit one it did not just get (a duplicate's other definition taking over), it reads
        // the file again, and decodes it only if the bytes are still those applied.
        let reload: ManifestTracker.Reload = {
            guard case .bytes(let again)? = try? files.read(file, maxBytes: limits.maxFileBytes),
                ManifestFiles.contentHash(again) == hash
            else { return nil }
            return ManifestDecoder.decode(again, file: file, validator: validator, limits: limits).objects
        }
        return Outcome(load: .decoded(signature, hash: hash, contents, reload: reload), read: true, parsed: true)
    }

    private static func tooLarge(_ file: String, size: Int64, limits: ManifestLimits) -> ManifestError {
        ManifestError(
            reason: .limitExceeded, file: file,
            message: "file is \(size) bytes, more than the limit of \(limits.maxFileBytes) (--manifest-max-bytes); "
                + "not read until it changes")
    }
}
/// Why a manifest directory could not be listed.
private struct ListingFailure: Error, Equatable {
    var message: String
}

/// How ``ManifestSource`` notices changes.
public enum ManifestWatching: Sendable, Hashable {
    /// inotify where available (Linux), else polling.
    case automatic
    /// List and `stat` every file every poll (the fallback, and for file systems where inotify
    /// sees nothing, such as some network mounts).
    case polling
}

/// The work a ``ManifestSource`` has done since it started, for tests and diagnostics.
public struct ManifestSourceCounters: Sendable, Hashable {
    /// Whether changes are noticed by inotify events (else by polling).
    public var eventDriven = false
    /// Directory listings, each a `stat` per file; the initial load counts as one.
    public var listings = 0
    /// Of ``listings``, those done only because the safety interval passed.
    public var safetyListings = 0
    /// Files read.
    public var reads = 0
    /// Files whose bytes were new, so they were parsed and decoded.
    public var parses = 0
    /// inotify queue overflows (each re-reads every file).
    public var overflows = 0

    /// All zero.
    public init() {}
}
