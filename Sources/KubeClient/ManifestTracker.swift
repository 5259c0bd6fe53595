/// The pure heart of the manifest source: which files to (re)read, what each file last
/// contributed, the merged object set, and the events that turn the old set into the new one.
///
/// Guarantees:
/// - **Atomic files.** A file whose new contents have any error keeps contributing exactly what
///   it contributed before (nothing, if it never loaded); its errors stand until it is fixed.
/// - **Settled reads.** Outside the initial load a changed file is read only once its `stat`
///   signature has been the same for two polls, and a file is deleted only once it has been
///   missing for two polls, so an editor's truncate-then-write or write-temp-then-rename never
///   shows as a broken file or a delete-then-add.
/// - **First file wins.** An object defined in several files comes from the first file in sorted
///   order; the others get a `duplicate` error naming that file. Their other objects still apply.
/// - **Minimal, ordered diffs.** Unchanged objects emit nothing; additions and updates go
///   Services, EndpointSlices, Endpoints; deletions go the other way.
struct ManifestTracker: Sendable {
    /// What reading one due file produced.
    enum FileLoad: Sendable {
        /// The bytes hash the same as the last decode: only the signature is refreshed.
        case unchanged(FileSignature)
        /// New bytes, decoded.
        case decoded(FileSignature, hash: UInt64, ManifestFileContents)
        /// The file could not be read.
        case unreadable(message: String)
        /// The file was refused unread (larger than the limit): an error like a bad document,
        /// but recorded against this signature so it is not looked at again until it changes.
        case refused(FileSignature, ManifestError)
    }

    /// Which files to read and which are gone, from one listing.
    struct Plan: Sendable, Hashable {
        /// Files to read now, sorted.
        var read: [String]
        /// Files confirmed gone, sorted.
        var removed: [String]
    }

    /// The result of applying one poll.
    struct Update: Sendable {
        /// Events to emit, in order.
        var events: [SourceEvent] = []
        /// Errors that were not reported before (log them).
        var newErrors: [ManifestError] = []
        /// Files that had errors and now have none (log that they recovered).
        var recovered: [String] = []
        /// Warnings from files decoded in this poll (unsupported kinds).
        var warnings: [ManifestError] = []
        /// Nothing was read and nothing is gone, so nothing (errors included) changed.
        var isIdle = false
    }

    private struct FileState: Sendable {
        var applied: FileSignature?
        var hash: UInt64?
        var objects: [LoadedObject] = []
        var errors: [ManifestError] = []
    }

    private var files: [String: FileState] = [:]
    private var lastSeen: [String: FileSignature] = [:]
    private var missing: Set<String> = []
    private var effective: [ManifestObject.Key: ManifestObject] = [:]
    /// The file each object in `effective` comes from.
    private var origin: [ManifestObject.Key: String] = [:]
    private var duplicates: [ManifestError] = []

    /// Every current problem, by file and document.
    var errors: [ManifestError] {
        files.keys.sorted().flatMap { files[$0]?.errors ?? [] } + duplicates
    }

    /// The merged objects currently delivered.
    var objects: [ManifestObject.Key: ManifestObject] { effective }

    /// Whether the last listing left work for a later one: a file changed but not yet settled
    /// (or not readable), or a file missing but not yet confirmed gone. An event-driven source
    /// lists again on the next poll while this holds, even without new events.
    var hasPending: Bool {
        !missing.isEmpty || lastSeen.contains { files[$0.key]?.applied != $0.value }
    }

    /// The content hash of the last bytes decoded from `file` (`nil` if never, or if the file
    /// was unreadable since, so the next successful read is always decoded).
    func hash(of file: String) -> UInt64? {
        files[file]?.hash
    }

    /// Decides what to read from a fresh listing. `initial` reads everything at once; `rehash`
    /// re-reads every settled file (a safety net for file systems with coarse timestamps);
    /// files in `complete` were closed after writing or renamed into place since the last
    /// listing (inotify says so), so they are read now rather than after a second listing.
    /// `settle` is false for a listing that follows the previous one by less than a poll
    /// interval (an inotify wake-up): an unchanged signature then proves nothing.
    mutating func plan(
        listing: [String: FileSignature], initial: Bool = false, rehash: Bool = false, complete: Set<String> = [],
        settle: Bool = true
    ) -> Plan {
        var read: [String] = []
        for (file, signature) in listing {
            missing.remove(file)
            let settled = initial || (settle && lastSeen[file] == signature) || complete.contains(file)
            let changed = files[file]?.applied != signature
            if settled && (changed || rehash) { read.append(file) }
        }
        var removed: [String] = []
        for file in Set(files.keys).union(lastSeen.keys) where listing[file] == nil {
            if missing.contains(file) || files[file] == nil {
                missing.remove(file)
                if files[file] != nil { removed.append(file) }
            } else {
                missing.insert(file)
            }
        }
        lastSeen = listing
        return Plan(read: read.sorted(), removed: removed.sorted())
    }

    /// Applies what was read (and what is gone) and returns the events and report. An idle poll
    /// (nothing read, nothing gone) cannot change anything and returns at once, so an unchanged
    /// directory costs a listing per poll, not a merge and a diff of every object.
    mutating func apply(loads: [String: FileLoad], removed: [String] = []) -> Update {
        if loads.isEmpty && removed.isEmpty { return Update(isIdle: true) }
        let errorsBefore = errorsByFile()
        var update = Update()
        let touched = Set(loads.keys).union(removed)
        var previousKeys: Set<ManifestObject.Key> = []
        for file in touched {
            for loaded in files[file]?.objects ?? [] { previousKeys.insert(loaded.object.key) }
        }
        for file in removed { files[file] = nil }
        for (file, load) in loads.sorted(by: { $0.key < $1.key }) {
            var state = files[file] ?? FileState()
            switch load {
            case .unchanged(let signature):
                state.applied = signature
            case .decoded(let signature, let hash, let contents):
                state.applied = signature
                state.hash = hash
                update.warnings += contents.warnings
                if contents.errors.isEmpty {
                    state.objects = contents.objects
                    state.errors = []
                } else {
                    state.errors = contents.errors
                }
            case .unreadable(let message):
                state.hash = nil
                state.errors = [ManifestError(reason: .unreadable, file: file, message: "cannot read: \(message)")]
            case .refused(let signature, let error):
                state.applied = signature
                state.hash = nil
                state.errors = [error]
            }
            files[file] = state
        }
        if let events = mergeIncrementally(touched: touched, previousKeys: previousKeys) {
            update.events = events
        } else {
            let (merged, origin) = merge()
            // Objects whose defining file was neither re-read nor removed cannot have changed,
            // so they are not compared.
            update.events = Self.diff(from: effective, to: merged) { key in
                guard let file = origin[key], file == self.origin[key] else { return true }
                return touched.contains(file)
            }
            effective = merged
            self.origin = origin
        }

        let errorsAfter = errorsByFile()
        let reported = Set(errorsBefore.values.joined())
        update.newErrors = errors.filter { !reported.contains($0) }
        update.recovered = errorsBefore.keys.sorted().filter { errorsAfter[$0] == nil && files[$0] != nil }
        return update
    }

    /// Updates the merged set for the `touched` files only (their objects before were
    /// `previousKeys`) and returns the events, so an edit costs its own file's objects rather
    /// than a merge of every file. Only while no object is defined twice: then each object has
    /// exactly one defining file and "first file wins" has nothing to decide. `nil` (nothing
    /// changed yet) when there are duplicates before or after; the full merge handles those.
    private mutating func mergeIncrementally(
        touched: Set<String>, previousKeys: Set<ManifestObject.Key>
    ) -> [SourceEvent]? {
        guard duplicates.isEmpty, !effective.isEmpty else { return nil }
        var claimed: [ManifestObject.Key: (file: String, object: ManifestObject)] = [:]
        for file in touched {
            for loaded in files[file]?.objects ?? [] {
                let key = loaded.object.key
                if claimed[key] != nil { return nil }
                if let owner = origin[key], !touched.contains(owner) { return nil }
                claimed[key] = (file, loaded.object)
            }
        }
        var before: [ManifestObject.Key: ManifestObject] = [:]
        for key in previousKeys {
            before[key] = effective.removeValue(forKey: key)
            origin[key] = nil
        }
        var after: [ManifestObject.Key: ManifestObject] = [:]
        for (key, claim) in claimed {
            effective[key] = claim.object
            origin[key] = claim.file
            after[key] = claim.object
        }
        return Self.diff(from: before, to: after)
    }

    /// Merges the files' objects in sorted file order, recording duplicates; also returns
    /// which file each merged object comes from.
    private mutating func merge() -> ([ManifestObject.Key: ManifestObject], [ManifestObject.Key: String]) {
        var merged: [ManifestObject.Key: ManifestObject] = [:]
        var origin: [ManifestObject.Key: String] = [:]
        duplicates = []
        for file in files.keys.sorted() {
            for loaded in files[file]?.objects ?? [] {
                let key = loaded.object.key
                if let first = origin[key] {
                    duplicates.append(
                        ManifestError(
                            reason: .duplicate, file: file, document: loaded.document, kind: "\(key.kind)",
                            object: "\(key.namespace)/\(key.name)",
                            message: "already defined in \(first); this definition is ignored"))
                } else {
                    origin[key] = file
                    merged[key] = loaded.object
                }
            }
        }
        return (merged, origin)
    }

    private func errorsByFile() -> [String: [ManifestError]] {
        Dictionary(grouping: errors, by: \.file)
    }

    /// Additions and updates (Services first), then deletions (Services last). Objects in both
    /// sets are compared only where `mayHaveChanged` says so; only changed keys are sorted.
    static func diff(
        from old: [ManifestObject.Key: ManifestObject], to new: [ManifestObject.Key: ManifestObject],
        mayHaveChanged: (ManifestObject.Key) -> Bool = { _ in true }
    ) -> [SourceEvent] {
        var changed: [ManifestObject.Key] = []
        for (key, object) in new {
            guard let previous = old[key] else {
                changed.append(key)
                continue
            }
            if mayHaveChanged(key) && previous != object { changed.append(key) }
        }
        var events: [SourceEvent] = []
        for key in changed.sorted() {
            guard let object = new[key] else { continue }
            if let previous = old[key] {
                events += SourceEvent.updated(old: previous, new: object)
            } else {
                events.append(.added(object))
            }
        }
        let deleted = old.keys.filter { new[$0] == nil }.sorted {
            (-$0.kind.rawValue, $0.namespace, $0.name) < (-$1.kind.rawValue, $1.namespace, $1.name)
        }
        for key in deleted {
            if let object = old[key] { events.append(.deleted(object)) }
        }
        return events
    }
}
