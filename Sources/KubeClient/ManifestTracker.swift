import KubeAPI

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
///
/// Memory: the tracker keeps a ``StoredObject`` (key, document, digest) per object, not the
/// object. The proxy's state holds what it uses of each object; the decoded objects themselves
/// were a quarter of the heap at 10k Services. An event's `old` is therefore a placeholder with
/// metadata only (``ObjectChange``'s contract), and the rare event that needs an object the
/// poll did not just decode (another file's definition taking over a duplicate) gets it from
/// the file's ``Reload``. If that file changed since it was applied (it is being edited, or is
/// broken now), the object stays as last delivered until the file is read again.
struct ManifestTracker: Sendable {
    /// Produces the objects of a file's applied contents again, exactly as they were decoded
    /// (the source reads the file again and decodes it with the same validator), or `nil` when
    /// the file no longer holds those contents.
    typealias Reload = @Sendable () -> [LoadedObject]?

    /// What reading one due file produced.
    enum FileLoad: Sendable {
        /// The bytes hash the same as the last decode: only the signature is refreshed.
        case unchanged(FileSignature)
        /// New bytes, decoded; `reload` decodes them again on demand.
        case decoded(FileSignature, hash: UInt64, ManifestFileContents, reload: Reload)
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

    fileprivate struct FileState: Sendable {
        var applied: FileSignature?
        var hash: UInt64?
        var objects: [StoredObject] = []
        /// Decodes the contents `objects` came from again; `nil` while none applied.
        var reload: Reload?
        var errors: [ManifestError] = []
    }

    private var files: [String: FileState] = [:]
    private var lastSeen: [String: FileSignature] = [:]
    private var missing: Set<String> = []
    private var effective: [ManifestObject.Key: StoredObject] = [:]
    /// The file each object in `effective` comes from.
    private var origin: [ManifestObject.Key: String] = [:]
    private var duplicates: [ManifestError] = []

    /// Every current problem, by file and document.
    var errors: [ManifestError] {
        files.keys.sorted().flatMap { files[$0]?.errors ?? [] } + duplicates
    }

    /// How many objects are currently delivered.
    var objectCount: Int { effective.count }

    /// The merged objects currently delivered, decoded again from every file (tests and
    /// diagnostics: the tracker does not keep them).
    var objects: [ManifestObject.Key: ManifestObject] {
        var result: [ManifestObject.Key: ManifestObject] = [:]
        var reloaded = Reloaded()
        for (key, file) in origin {
            if let object = reloaded.object(key, in: file, files: files) { result[key] = object }
        }
        return result
    }

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
            for stored in files[file]?.objects ?? [] { previousKeys.insert(stored.key) }
        }
        // The objects decoded in this poll, the only ones at hand without a reload.
        var reloaded = Reloaded()
        for file in removed { files[file] = nil }
        for (file, load) in loads.sorted(by: { $0.key < $1.key }) {
            var state = files[file] ?? FileState()
            switch load {
            case .unchanged(let signature):
                state.applied = signature
            case .decoded(let signature, let hash, let contents, let reload):
                state.applied = signature
                state.hash = hash
                update.warnings += contents.warnings
                if contents.errors.isEmpty {
                    state.objects = contents.objects.map(StoredObject.init)
                    state.reload = reload
                    state.errors = []
                    reloaded.keep(contents.objects, of: file)
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
        let before: [ManifestObject.Key: StoredObject]
        let changes: Changes
        if let (old, new) = mergeIncrementally(touched: touched, previousKeys: previousKeys) {
            before = old
            changes = Self.changes(from: old, to: new)
        } else {
            let (merged, origin) = merge()
            // Objects whose defining file was neither re-read nor removed cannot have changed,
            // so they are not compared.
            changes = Self.changes(from: effective, to: merged) { key in
                guard let file = origin[key], file == self.origin[key] else { return true }
                return touched.contains(file)
            }
            before = effective
            effective = merged
            self.origin = origin
        }
        update.events = events(for: changes, before: before, reloaded: &reloaded)

        let errorsAfter = errorsByFile()
        let reported = Set(errorsBefore.values.joined())
        update.newErrors = errors.filter { !reported.contains($0) }
        update.recovered = errorsBefore.keys.sorted().filter { errorsAfter[$0] == nil && files[$0] != nil }
        return update
    }

    /// Updates the merged set for the `touched` files only (their objects before were
    /// `previousKeys`) and returns the touched objects before and after, so an edit costs its
    /// own file's objects rather than a merge of every file. Only while no object is defined
    /// twice: then each object has exactly one defining file and "first file wins" has nothing
    /// to decide. `nil` (nothing changed yet) when there are duplicates before or after; the
    /// full merge handles those.
    private mutating func mergeIncrementally(
        touched: Set<String>, previousKeys: Set<ManifestObject.Key>
    ) -> ([ManifestObject.Key: StoredObject], [ManifestObject.Key: StoredObject])? {
        guard duplicates.isEmpty, !effective.isEmpty else { return nil }
        var claimed: [ManifestObject.Key: (file: String, object: StoredObject)] = [:]
        for file in touched {
            for stored in files[file]?.objects ?? [] {
                let key = stored.key
                if claimed[key] != nil { return nil }
                if let owner = origin[key], !touched.contains(owner) { return nil }
                claimed[key] = (file, stored)
            }
        }
        var before: [ManifestObject.Key: StoredObject] = [:]
        for key in previousKeys {
            before[key] = effective.removeValue(forKey: key)
            origin[key] = nil
        }
        var after: [ManifestObject.Key: StoredObject] = [:]
        for (key, claim) in claimed {
            effective[key] = claim.object
            origin[key] = claim.file
            after[key] = claim.object
        }
        return (before, after)
    }

    /// Merges the files' objects in sorted file order, recording duplicates; also returns
    /// which file each merged object comes from.
    private mutating func merge() -> ([ManifestObject.Key: StoredObject], [ManifestObject.Key: String]) {
        var merged: [ManifestObject.Key: StoredObject] = [:]
        var origin: [ManifestObject.Key: String] = [:]
        duplicates = []
        for file in files.keys.sorted() {
            for stored in files[file]?.objects ?? [] {
                let key = stored.key
                if let first = origin[key] {
                    duplicates.append(
                        ManifestError(
                            reason: .duplicate, file: file, document: stored.document, kind: "\(key.kind)",
                            object: "\(key.namespace)/\(key.name)",
                            message: "already defined in \(first); this definition is ignored"))
                } else {
                    origin[key] = file
                    merged[key] = stored
                }
            }
        }
        return (merged, origin)
    }

    private func errorsByFile() -> [String: [ManifestError]] {
        Dictionary(grouping: errors, by: \.file)
    }

    /// The keys to emit: additions and updates (Services first), then deletions (Services last).
    struct Changes {
        var upserted: [ManifestObject.Key] = []
        var deleted: [ManifestObject.Key] = []
    }

    /// What differs from `old` to `new`, in emission order. Objects in both are compared (by
    /// digest) only where `mayHaveChanged` says so; only changed keys are sorted.
    static func changes<Value: Equatable>(
        from old: [ManifestObject.Key: Value], to new: [ManifestObject.Key: Value],
        mayHaveChanged: (ManifestObject.Key) -> Bool = { _ in true }
    ) -> Changes {
        var changes = Changes()
        for (key, value) in new {
            guard let previous = old[key] else {
                changes.upserted.append(key)
                continue
            }
            if mayHaveChanged(key) && previous != value { changes.upserted.append(key) }
        }
        changes.upserted.sort()
        changes.deleted = old.keys.filter { new[$0] == nil }.sorted {
            (-$0.kind.rawValue, $0.namespace, $0.name) < (-$1.kind.rawValue, $1.namespace, $1.name)
        }
        return changes
    }

    /// The events for `changes`: each new state is the object itself (decoded in this poll, or
    /// reloaded from its file), each old one a placeholder with its metadata. An object whose
    /// file no longer holds the contents applied (only possible for one reloaded) keeps its
    /// origin but stays in `effective` as last delivered, with no event: its file's next read
    /// differs from that and emits the change.
    private mutating func events(
        for changes: Changes, before: [ManifestObject.Key: StoredObject], reloaded: inout Reloaded
    ) -> [SourceEvent] {
        var events: [SourceEvent] = []
        events.reserveCapacity(changes.upserted.count + changes.deleted.count)
        for key in changes.upserted {
            guard let file = origin[key], let object = reloaded.object(key, in: file, files: files) else {
                effective[key] = before[key]
                continue
            }
            if let previous = before[key] {
                events += SourceEvent.updated(old: previous.placeholder, new: object)
            } else {
                events.append(.added(object))
            }
        }
        for key in changes.deleted {
            if let previous = before[key] { events.append(.deleted(previous.placeholder)) }
        }
        return events
    }

    /// Events turning `old` into `new` (full objects; the tracker itself diffs digests).
    static func diff(
        from old: [ManifestObject.Key: ManifestObject], to new: [ManifestObject.Key: ManifestObject],
        mayHaveChanged: (ManifestObject.Key) -> Bool = { _ in true }
    ) -> [SourceEvent] {
        let changes = Self.changes(from: old, to: new, mayHaveChanged: mayHaveChanged)
        var events: [SourceEvent] = []
        for key in changes.upserted {
            guard let object = new[key] else { continue }
            if let previous = old[key] {
                events += SourceEvent.updated(old: previous, new: object)
            } else {
                events.append(.added(object))
            }
        }
        for key in changes.deleted {
            if let object = old[key] { events.append(.deleted(object)) }
        }
        return events
    }
}

/// What the tracker keeps of one object a file defines: enough to merge, diff and name it in
/// an event, not the object.
struct StoredObject: Sendable, Hashable {
    /// The 1-based document that defines it (for duplicate errors).
    var document: Int
    var key: ManifestObject.Key
    /// The object's hash: equal objects have equal digests. A different object with the same
    /// digest (a 64-bit collision) would go unnoticed until its file changes again.
    var digest: Int
    /// Set only when the manifest sets them; the rest of the placeholder comes from `key`.
    var uid: String?
    var resourceVersion: String?

    init(_ loaded: LoadedObject) {
        document = loaded.document
        key = loaded.object.key
        digest = loaded.digest
        uid = loaded.object.metadata.uid
        resourceVersion = loaded.object.metadata.resourceVersion
    }

    /// The object with its identity only, for an event's `old` (``ObjectChange/old``).
    var placeholder: ManifestObject {
        let metadata = ObjectMeta(
            name: key.name, namespace: key.kind == .serviceCIDR ? nil : key.namespace, uid: uid,
            resourceVersion: resourceVersion)
        switch key.kind {
        case .service: return .service(Service(metadata: metadata))
        case .endpointSlice: return .endpointSlice(EndpointSlice(metadata: metadata))
        case .endpoints: return .endpoints(Endpoints(metadata: metadata))
        case .serviceCIDR: return .serviceCIDR(ServiceCIDR(metadata: metadata))
        }
    }
}

/// The objects of files at hand during one ``ManifestTracker/apply(loads:removed:)``: those
/// decoded in the poll, and those of other files reloaded (each file at most once).
private struct Reloaded {
    private var byFile: [String: [ManifestObject.Key: ManifestObject]] = [:]

    /// Records a file's freshly decoded objects (the first definition of a key wins, as in the
    /// file's own duplicate check).
    mutating func keep(_ objects: [LoadedObject], of file: String) {
        byFile[file] = Dictionary(objects.map { ($0.object.key, $0.object) }) { first, _ in first }
    }

    /// `key`'s object as `file` defines it, reloading the file if this poll did not decode it;
    /// `nil` if the file no longer holds the contents applied.
    mutating func object(
        _ key: ManifestObject.Key, in file: String, files: [String: ManifestTracker.FileState]
    ) -> ManifestObject? {
        if byFile[file] == nil, let reload = files[file]?.reload { keep(reload() ?? [], of: file) }
        return byFile[file]?[key]
    }
}
