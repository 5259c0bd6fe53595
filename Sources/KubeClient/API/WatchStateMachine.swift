import Foundation
import KubeAPI

/// client-go's reflector for one resource, as a pure state machine: it decides which LIST or
/// WATCH to issue next, what each response and watch line changes, and how long to back off.
/// A driver (``ResourceWatcher``) performs the requests and sleeps.
///
/// Behaviour (see `docs/api-client-behaviour.md#list-and-watch`):
/// - **List**: the first list is `resourceVersion=0&limit=500` (served from the watch cache),
///   pages followed through `continue`. Relists ask for the last seen version without `limit`
///   (unless the server paginated a `resourceVersion=0` list, then it keeps paging). A page whose
///   continue token expired (`410`) restarts the list once without `limit`; a relist whose version
///   expired or is "too large" retries at once as a consistent read (no `resourceVersion`).
/// - **Replace**: a completed list is diffed against what was delivered: additions, updates
///   (changed `resourceVersion`) and deletions of objects that vanished while we were away.
///   Unchanged objects emit nothing.
/// - **Watch** from the list's `resourceVersion` with `allowWatchBookmarks=true` and a random
///   5–10 minute `timeoutSeconds`. Each event moves the resume point; a `BOOKMARK` only moves
///   the resume point. A clean end of the stream re-watches at once from the last version (no
///   relist), unless the watch ended within a second having delivered nothing.
/// - **Errors**: `410` (HTTP status or `ERROR` event) → relist; connection errors, `429` and a
///   cut-off stream → re-watch; any other status, an undecodable line or a line above the size
///   limit (``watchEventTooLarge(limit:now:)``) → relist; a LIST body above its limit is a failed
///   list, retried. Every retry
///   except a clean end waits for the ``Backoff`` (800 ms doubling to 30 s, jittered,
///   `Retry-After` honoured).
struct WatchStateMachine<Object: APIObject>: Sendable {
    /// Tunables; the defaults are client-go's.
    struct Configuration: Sendable {
        /// `limit` for paged lists.
        var pageSize = 500
        /// Range `timeoutSeconds` is drawn from for each watch.
        var watchTimeoutSeconds: ClosedRange<Int> = 300...600
        /// A watch that ends cleanly this soon with no events is treated as a failure.
        var shortWatch: Duration = .seconds(1)
        /// The retry policy.
        var backoff = Backoff()

        /// Creates the default configuration.
        init() {}
    }

    /// What the driver does next.
    enum Action: Sendable, Hashable {
        /// Issue this LIST; report with ``listResponded(_:now:)`` or ``listFailed(_:now:)``.
        case list(APIRequest)
        /// Open this WATCH; feed lines to ``watchLine(_:now:)``, then report the end with
        /// ``watchEnded(_:truncated:now:)`` or ``watchFailed(_:now:)``.
        case watch(APIRequest)
        /// Abandon any open stream, sleep this long, then call ``retry(now:)``.
        case wait(Duration)
        /// Keep reading the open watch stream.
        case keepReading
    }

    /// Something that went wrong, for the driver to log, and what happens next.
    struct Problem: Sendable, Hashable, CustomStringConvertible {
        /// What the server or the connection did.
        var error: APIClientError
        /// What the machine does about it, e.g. `relisting in 1.2 seconds`.
        var consequence: String
        /// Expected in normal operation (an expired watch): log quietly.
        var routine: Bool

        /// `error; consequence`, as logged.
        var description: String { "\(error); \(consequence)" }
    }

    /// The outcome of one event: changes to deliver (in order), whether a full list was just
    /// applied, an optional problem to log, and the next action.
    struct Step: Sendable, Hashable {
        /// Object changes to emit, in order.
        var changes: [ObjectChange<Object>] = []
        /// A complete LIST has just been applied (the first one means "synced").
        var completedList = false
        /// A LIST just failed (and will be retried after the wait).
        var failedList = false
        /// A failure to report.
        var problem: Problem?
        /// What to do next.
        var action: Action
    }

    private enum Resume: Sendable, Hashable {
        case list(resourceVersion: String?)
        case watch
    }

    private struct Listing: Sendable {
        var resourceVersion: String?
        var limit: Int?
        var continueToken: String?
        var listVersion: String?
        var items: [Object] = []
        var request: APIRequest
    }

    private struct Watching: Sendable {
        var request: APIRequest
        var startedAt: Duration
        var events = 0
    }

    private enum State: Sendable {
        case idle
        case listing(Listing)
        case watching(Watching)
        case waiting(Resume)
    }

    /// The resource this machine lists and watches.
    let resource: WatchResource
    /// The server URL with any user info redacted, used only to name requests in errors.
    let server: String
    private let configuration: Configuration
    private let random: @Sendable () -> Double
    private var state: State = .idle
    private var store = ObjectStore<Object>()
    private var backoff: Backoff
    private var paginatedResult = false
    private var hasListed = false

    /// The version a watch resumes from: the last list's, then each event's and bookmark's.
    private(set) var resourceVersion: String?

    /// Creates a machine; `random` yields values in `0..<1` for jitter and watch timeouts.
    init(
        resource: WatchResource, server: String, configuration: Configuration = Configuration(),
        random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }
    ) {
        self.resource = resource
        self.server = ServerURL.redactingUserInfo(server)
        self.configuration = configuration
        self.random = random
        self.backoff = configuration.backoff
    }

    /// What the store keeps of the objects delivered so far, by `namespace/name`.
    var delivered: [String: ObjectStore<Object>.Entry] { store.entries }

    /// Starts with the first list.
    mutating func start() -> Step {
        Step(action: beginList(resourceVersion: "0"))
    }

    /// Sleeping is over: resume whatever the backoff interrupted.
    mutating func retry(now: Duration) -> Step {
        guard case .waiting(let resume) = state else { return Step(action: .keepReading) }
        switch resume {
        case .list(let version): return Step(action: beginList(resourceVersion: version))
        case .watch: return Step(action: beginWatch(now: now))
        }
    }

    // MARK: - List

    /// The LIST in flight was answered.
    mutating func listResponded(_ response: APIResponse, now: Duration) -> Step {
        guard case .listing(var listing) = state else { return Step(action: .keepReading) }
        let url = listing.request.url(server: server)
        guard response.status == 200 else { return listRejected(response, listing: listing, now: now) }
        let page: ObjectList<Object>
        do {
            page = try response.body.decodeJSON(ObjectList<Object>.self)
        } catch {
            let failure = APIClientError.protocolViolation(url: url, message: "\(DecodingFailure(error))")
            var step = fail(failure, resume: .list(resourceVersion: listing.resourceVersion), now: now)
            step.failedList = true
            return step
        }
        let token = page.metadata?.continue.flatMap { $0.isEmpty ? nil : $0 }
        if listing.continueToken == nil {
            listing.listVersion = page.metadata?.resourceVersion
            if listing.resourceVersion == "0", token != nil { paginatedResult = true }
        }
        // Out of `state` first: the copy bound above shares its items with `state`, so
        // appending copied every item listed so far, once per page (quadratic in pages).
        state = .idle
        listing.items.reserveCapacity(listing.items.count + page.items.count)
        for item in page.items { listing.items.append(item.compacted()) }
        if let token {
            listing.continueToken = token
            listing.request = resource.listRequest(
                resourceVersion: nil, limit: listing.limit ?? configuration.pageSize, continue: token)
            state = .listing(listing)
            return Step(action: .list(listing.request))
        }
        let changes = store.replace(with: listing.items)
        if let version = listing.listVersion, !version.isEmpty { resourceVersion = version }
        hasListed = true
        return Step(changes: changes, completedList: true, action: beginWatch(now: now))
    }

    /// The LIST in flight got no answer.
    mutating func listFailed(_ error: APIClientError, now: Duration) -> Step {
        guard case .listing(let listing) = state else { return Step(action: .keepReading) }
        var step = fail(error, resume: .list(resourceVersion: listing.resourceVersion), now: now)
        step.failedList = true
        return step
    }

    private mutating func listRejected(_ response: APIResponse, listing: Listing, now: Duration) -> Step {
        let status = response.decodedStatus
        let error = status.error(url: listing.request.url(server: server), fallbackCode: response.status)
        if status.isExpired, listing.continueToken != nil, listing.limit != nil {
            // client-go's pager: an expired continue token becomes one full list, unpaged.
            let problem = Problem(error: error, consequence: "restarting the list without paging", routine: true)
            return Step(problem: problem, action: beginList(resourceVersion: listing.resourceVersion, paged: false))
        }
        if status.isExpired || status.isResourceVersionTooLarge, let version = listing.resourceVersion,
            version != "0"
        {
            let problem = Problem(
                error: error, consequence: "listing again from a consistent read", routine: status.isExpired)
            return Step(problem: problem, action: beginList(resourceVersion: nil))
        }
        let retryAfter = response.retryAfter(status)
        var step = fail(error, resume: .list(resourceVersion: listing.resourceVersion), now: now, retryAfter: retryAfter)
        step.failedList = true
        return step
    }

    private mutating func beginList(resourceVersion version: String?, paged: Bool = true) -> Action {
        let pages = paged && (version == nil || version == "0" || paginatedResult)
        let limit = pages ? configuration.pageSize : nil
        let request = resource.listRequest(resourceVersion: version, limit: limit)
        state = .listing(Listing(resourceVersion: version, limit: limit, request: request))
        return .list(request)
    }

    /// The version a relist asks for: the last seen one (served by the watch cache), or a
    /// consistent read when the server never gave one.
    private var relistVersion: String? {
        guard hasListed else { return "0" }
        guard let resourceVersion, !resourceVersion.isEmpty else { return nil }
        return resourceVersion
    }

    // MARK: - Watch

    private mutating func beginWatch(now: Duration) -> Action {
        let range = configuration.watchTimeoutSeconds
        let spread = Double(range.upperBound - range.lowerBound + 1)
        let timeout = min(range.upperBound, range.lowerBound + Int(random() * spread))
        let request = resource.watchRequest(resourceVersion: resourceVersion, timeoutSeconds: timeout)
        state = .watching(Watching(request: request, startedAt: now))
        return .watch(request)
    }

    /// One complete line of the open watch stream.
    mutating func watchLine(_ line: [UInt8], now: Duration) -> Step {
        guard case .watching(var watching) = state else { return Step(action: .keepReading) }
        let url = watching.request.url(server: server)
        let event: DecodedWatchEvent<Object>
        switch DecodedWatchEvent<Object>.decode(line) {
        case .success(let decoded): event = decoded
        case .failure(let failure):
            let error = APIClientError.protocolViolation(url: url, message: "undecodable watch event: \(failure)")
            return fail(error, resume: .list(resourceVersion: relistVersion), now: now)
        }
        watching.events += 1
        state = .watching(watching)
        switch event {
        case .upsert(let object):
            advance(to: object.metadata.resourceVersion)
            return Step(changes: store.upsert(object.compacted()), action: .keepReading)
        case .deleted(let object):
            advance(to: object.metadata.resourceVersion)
            return Step(changes: store.delete(object), action: .keepReading)
        case .bookmark(let version):
            advance(to: version)
            return Step(action: .keepReading)
        case .error(let status):
            return watchRejected(status, error: status.error(url: url, fallbackCode: 500), retryAfter: nil, now: now)
        case .unknown(let type):
            let error = APIClientError.protocolViolation(
                url: url, message: "unknown watch event type \"\(LogExcerpt.quote(type, limit: 40))\"")
            return fail(error, resume: .list(resourceVersion: relistVersion), now: now)
        }
    }

    /// A watch line was longer than `limit` bytes (``JSONLinesFramer/LineTooLong``); the driver
    /// has abandoned the stream. The event is lost, so a re-watch from the same version would
    /// only meet it again: relist after a backoff.
    mutating func watchEventTooLarge(limit: Int, now: Duration) -> Step {
        guard case .watching(let watching) = state else { return Step(action: .keepReading) }
        let error = APIClientError.tooLarge(url: watching.request.url(server: server), what: "watch event", limit: limit)
        return fail(error, resume: .list(resourceVersion: relistVersion), now: now)
    }

    /// The watch request returned: a non-`200` answer, or the clean end of a `200` stream
    /// (`truncated` when the last event was cut off).
    mutating func watchEnded(_ response: APIResponse, truncated: Bool, now: Duration) -> Step {
        guard case .watching(let watching) = state else { return Step(action: .keepReading) }
        let url = watching.request.url(server: server)
        guard response.status == 200 else {
            let status = response.decodedStatus
            let error = status.error(url: url, fallbackCode: response.status)
            return watchRejected(status, error: error, retryAfter: response.retryAfter(status), now: now)
        }
        if truncated {
            let error = APIClientError.protocolViolation(url: url, message: "stream ended in the middle of an event")
            return fail(error, resume: .watch, now: now)
        }
        if watching.events == 0, now - watching.startedAt < configuration.shortWatch {
            let error = APIClientError.protocolViolation(url: url, message: "very short watch: no events")
            return fail(error, resume: .watch, now: now)
        }
        return Step(action: beginWatch(now: now))
    }

    /// The watch connection failed (before or during the stream): re-watch after a backoff.
    mutating func watchFailed(_ error: APIClientError, now: Duration) -> Step {
        guard case .watching = state else { return Step(action: .keepReading) }
        return fail(error, resume: .watch, now: now)
    }

    private mutating func watchRejected(
        _ status: Status, error: APIClientError, retryAfter: Duration?, now: Duration
    ) -> Step {
        if status.isTooManyRequests {
            return fail(error, resume: .watch, now: now, retryAfter: retryAfter)
        }
        return fail(error, resume: .list(resourceVersion: relistVersion), now: now, routine: status.isExpired)
    }

    private mutating func advance(to version: String?) {
        if let version, !version.isEmpty { resourceVersion = version }
    }

    // MARK: - Backoff

    private mutating func fail(
        _ error: APIClientError, resume: Resume, now: Duration, retryAfter: Duration? = nil, routine: Bool = false
    ) -> Step {
        let delay = backoff.next(now: now, random: random(), retryAfter: retryAfter)
        state = .waiting(resume)
        let what: String
        switch resume {
        case .list: what = "relisting"
        case .watch: what = "watching again"
        }
        let seconds = Double(delay.components.seconds) + Double(delay.components.attoseconds) / 1e18
        let consequence = "\(what) in \(String(format: "%.1f", seconds)) s"
        return Step(problem: Problem(error: error, consequence: consequence, routine: routine), action: .wait(delay))
    }
}
