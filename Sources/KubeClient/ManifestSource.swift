import Foundation
import KubeAPI
import Logging
import Synchronization

/// Serves Services, EndpointSlices and Endpoints from manifest files instead of an API server:
/// `kube-proxy --manifests PATH`, our own extension for running the proxy with no cluster.
///
/// `PATH` is a YAML (multi-document) or JSON file, or a directory whose `*.yaml`, `*.yml` and
/// `*.json` files (not hidden, not recursive) are read in sorted order. The source emits the
/// initial objects as additions, then ``SourceEvent/synced`` once, then polls every
/// `pollInterval` and emits additions, updates and deletions as files are edited, added and
/// removed — the same events the API-server client emits, so the rest of the proxy cannot tell
/// the difference.
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
/// A change shows up within about two poll intervals: a changed file is read once its `stat`
/// signature is stable across two polls, which keeps editors' intermediate states out.
public final class ManifestSource: Sendable {
    /// The manifest path as given.
    public let path: String
    private let validator: ManifestValidator
    private let pollInterval: Duration
    private let clock: any Clock<Duration>
    private let limits: ManifestLimits
    private let logger: Logger
    private let errors = Mutex<[ManifestError]>([])

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
    public init(
        path: String, validator: @escaping ManifestValidator, pollInterval: Duration = .milliseconds(250),
        clock: any Clock<Duration> = ContinuousClock(), limits: ManifestLimits = ManifestLimits(), logger: Logger
    ) {
        self.path = path
        self.validator = validator
        self.pollInterval = pollInterval
        self.clock = clock
        self.limits = limits
        self.logger = logger
    }

    /// Loads the manifests, emits their objects and `.synced`, then watches until cancelled
    /// (returning normally on cancellation).
    ///
    /// - Throws: ``ManifestError`` (`.missingPath`) if `path` does not exist at start, or
    ///   (`.unreadable`) if a directory cannot be listed at start.
    public func run(_ emit: @Sendable (SourceEvent) async -> Void) async throws {
        var poller = ManifestPoller(files: try ManifestFiles(path: path), validator: validator, limits: limits)
        switch poller.poll(initial: true, rehash: false) {
        case .failure(let failure):
            throw ManifestError(reason: .unreadable, file: path, message: "cannot list: \(failure.message)")
        case .success(let update):
            await deliver(update, poller.errors, emit)
        }
        await emit(.synced)
        logger.info("manifests loaded", metadata: ["path": "\(path)", "objects": "\(poller.objectCount)"])

        var polls = 0
        var listingError: String?
        while !Task.isCancelled {
            do {
                try await clock.sleep(for: pollInterval)
            } catch {
                return
            }
            polls += 1
            switch poller.poll(initial: false, rehash: polls % Self.rehashEvery == 0) {
            case .failure(let failure):
                if failure.message != listingError {
                    logger.error("\(ManifestExcerpt.excerpt(path)): cannot list: \(failure.message)")
                }
                listingError = failure.message
            case .success(let update):
                listingError = nil
                if !update.isIdle { await deliver(update, poller.errors, emit) }
            }
        }
    }

    /// The problems that currently keep files (or objects) from applying.
    public func currentErrors() -> [ManifestError] {
        errors.withLock { $0 }
    }

    private func deliver(
        _ update: ManifestTracker.Update, _ current: [ManifestError], _ emit: @Sendable (SourceEvent) async -> Void
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
        for event in update.events {
            logger.debug("manifest change", metadata: ["event": "\(event)"])
            await emit(event)
        }
    }
}

/// One poll's I/O around the pure ``ManifestTracker``: list, read what is due, decode, apply.
private struct ManifestPoller {
    let files: ManifestFiles
    let validator: ManifestValidator
    let limits: ManifestLimits
    var tracker = ManifestTracker()

    var errors: [ManifestError] { tracker.errors }
    var objectCount: Int { tracker.objects.count }

    /// The update, or why the path could not be listed (then nothing changed).
    mutating func poll(initial: Bool, rehash: Bool) -> Result<ManifestTracker.Update, ListingFailure> {
        let listing: [String: FileSignature]
        do {
            listing = try files.list()
        } catch {
            return .failure(ListingFailure(message: "\(error)"))
        }
        let plan = tracker.plan(listing: listing, initial: initial, rehash: rehash)
        var loads: [String: ManifestTracker.FileLoad] = [:]
        for file in plan.read {
            guard let signature = listing[file] else { continue }
            loads[file] = load(file, signature: signature)
        }
        return .success(tracker.apply(loads: loads, removed: plan.removed))
    }

    /// Reads and decodes one due file; a file over the size limit by its listed size is
    /// refused without being opened.
    private func load(_ file: String, signature: FileSignature) -> ManifestTracker.FileLoad {
        if signature.size > Int64(limits.maxFileBytes) {
            return .refused(signature, tooLarge(file, size: signature.size))
        }
        let data: Data
        do {
            switch try files.read(file, maxBytes: limits.maxFileBytes) {
            case .bytes(let bytes): data = bytes
            case .tooLarge(let size): return .refused(signature, tooLarge(file, size: size))
            }
        } catch {
            return .unreadable(message: error.description)
        }
        let hash = ManifestFiles.contentHash(data)
        if tracker.hash(of: file) == hash { return .unchanged(signature) }
        return .decoded(
            signature, hash: hash, ManifestDecoder.decode(data, file: file, validator: validator, limits: limits))
    }

    private func tooLarge(_ file: String, size: Int64) -> ManifestError {
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
