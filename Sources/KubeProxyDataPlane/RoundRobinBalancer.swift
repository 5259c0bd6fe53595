import KubeProxyCore

/// The endpoint choice of one service port: shuffled round robin with optional ClientIP affinity
/// (docs/userspace-behaviour.md#round-robin and the sections after it), as a value with no I/O.
///
/// Upstream semantics kept:
/// - a new endpoint *set* is shuffled and the rotation restarts at its first element; an update
///   with the same set in another order changes nothing (order, position and pins kept);
/// - an update that changes the set drops only the pins of endpoints that vanished;
/// - an empty update empties the list and every pin but keeps the affinity configuration, so
///   affinity survives a scale to zero (kubernetes/kubernetes#25314);
/// - with ClientIP affinity a client keeps its endpoint while it has been idle for less than the
///   timeout (whole seconds); a reset (a retry after a failed dial) takes the next endpoint
///   in turn and re-pins the client (kubernetes/kubernetes#24648);
/// - expired pins are ignored by `next` and removed by `removeStaleAffinity`.
///
/// Deliberately different from upstream: endpoints and affinity (with its timeout) arrive in
/// one `update` call, so the configured `timeoutSeconds` is always honoured whatever order the
/// Service and its endpoints were seen in (upstream bug kubernetes/kubernetes#107398). Endpoints
/// with a port outside 1…65535 are dropped, order kept (upstream's historical validate/filter).
///
/// Instants are passed in (`ContinuousClock.Instant`) so tests control time.
public struct RoundRobinBalancer: Sendable {
    /// The clock reading used for affinity ages.
    public typealias Instant = ContinuousClock.Instant

    /// The endpoints in rotation order (a shuffle of the last changed set).
    public private(set) var endpoints: [EndpointAddress] = []
    /// The affinity configuration in force.
    public private(set) var sessionAffinity: SessionAffinity
    /// Position of the next round-robin choice in `endpoints`.
    private var index = 0
    /// ClientIP pins: client address → endpoint and last use.
    private var pins: [IPAddress: Pin] = [:]

    private struct Pin: Sendable {
        var endpoint: EndpointAddress
        var lastUsed: Instant
    }

    /// Creates an empty balancer; `next` answers `nil` until endpoints arrive.
    public init(sessionAffinity: SessionAffinity = .none) {
        self.sessionAffinity = sessionAffinity
    }

    /// Replaces affinity configuration and endpoints in one step (see the type's documentation).
    ///
    /// `generator` shuffles a changed endpoint set; it is not used otherwise.
    public mutating func update(
        endpoints newEndpoints: [EndpointAddress],
        sessionAffinity newAffinity: SessionAffinity,
        using generator: inout some RandomNumberGenerator
    ) {
        setSessionAffinity(newAffinity)
        setEndpoints(newEndpoints, using: &generator)
    }

    /// Changes the affinity configuration.
    ///
    /// Turning affinity off forgets every pin; turning it on or changing the timeout keeps the
    /// existing pins (they are judged against the new timeout from now on).
    public mutating func setSessionAffinity(_ newAffinity: SessionAffinity) {
        guard newAffinity != sessionAffinity else { return }
        sessionAffinity = newAffinity
        if case .none = newAffinity { pins.removeAll() }
    }

    /// Replaces the endpoint list (docs/userspace-behaviour.md#endpoint-updates); see the type's documentation.
    public mutating func setEndpoints(
        _ newEndpoints: [EndpointAddress],
        using generator: inout some RandomNumberGenerator
    ) {
        // The list is kept for the port's lifetime (10k ports at scale): built at its exact
        // size, not by `filter`'s doubling (room for 16 when 10 arrive).
        var valid: [EndpointAddress] = []
        valid.reserveCapacity(newEndpoints.count)
        for endpoint in newEndpoints where (1...PortRange.maximumPort).contains(endpoint.port) {
            valid.append(endpoint)
        }
        guard valid.sorted() != endpoints.sorted() else { return }
        index = 0
        guard !valid.isEmpty else {
            endpoints = []
            pins.removeAll()
            return
        }
        if !pins.isEmpty {
            let kept = Set(valid)
            pins = pins.filter { kept.contains($0.value.endpoint) }
        }
        valid.shuffle(using: &generator)
        endpoints = valid
    }

    /// Chooses the endpoint for one dial attempt; `nil` when there are no endpoints.
    ///
    /// - Parameters:
    ///   - clientIP: the client's address as seen by the proxy; `nil` (unknown) disables affinity
    ///     for this call.
    ///   - resetAffinity: `false` on a connection's first attempt, `true` on every retry after a
    ///     failed dial, so a pinned but dead endpoint is not chosen again.
    ///   - now: the current instant, for affinity ages.
    public mutating func next(clientIP: IPAddress?, resetAffinity: Bool, now: Instant) -> EndpointAddress? {
        guard !endpoints.isEmpty else { return nil }
        guard let timeout = affinityTimeout, let clientIP else { return advance() }
        if !resetAffinity, let pin = pins[clientIP], now - pin.lastUsed < timeout {
            pins[clientIP]?.lastUsed = now
            return pin.endpoint
        }
        let endpoint = advance()
        pins[clientIP] = Pin(endpoint: endpoint, lastUsed: now)
        return endpoint
    }

    /// Forgets pins idle for at least the affinity timeout; run once per sync so the table
    /// does not grow with every client ever seen.
    public mutating func removeStaleAffinity(now: Instant) {
        guard let timeout = affinityTimeout else { return }
        pins = pins.filter { now - $0.value.lastUsed < timeout }
    }

    /// The endpoint `clientIP` is pinned to, whatever the pin's age; for diagnostics and tests.
    public func pinnedEndpoint(for clientIP: IPAddress) -> EndpointAddress? {
        pins[clientIP]?.endpoint
    }

    /// The number of pinned clients (expired pins included until `removeStaleAffinity`).
    public var pinnedClientCount: Int { pins.count }

    /// The ClientIP affinity timeout, `nil` without affinity. A non-positive configured timeout
    /// means the API default (10800 s), as upstream's `NewService` does.
    public var affinityTimeout: Duration? {
        guard case .clientIP(let seconds) = sessionAffinity else { return nil }
        return .seconds(seconds > 0 ? seconds : SessionAffinity.defaultClientIPTimeoutSeconds)
    }

    /// Takes the endpoint at the rotation position and moves the position on.
    private mutating func advance() -> EndpointAddress {
        let endpoint = endpoints[index]
        index = (index + 1) % endpoints.count
        return endpoint
    }
}
