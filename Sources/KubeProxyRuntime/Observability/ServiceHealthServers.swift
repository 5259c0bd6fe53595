import KubeProxyCore
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// One HTTP server per Service with `externalTrafficPolicy: Local`, on its `healthCheckNodePort`,
/// telling cloud load balancers whether this node has a local ready endpoint for it (upstream
/// `ServiceHealthServer`).
///
/// `update(_:)` makes the open servers match the desired set after each sync: new Services are
/// opened, vanished ones and those whose port changed are closed, endpoint counts are replaced.
/// A bind failure is logged and returned, never fatal: that Service stays unopened and is tried
/// again on the next update (upstream leaves it out of its map for the same effect). Requests on
/// any path get the same answer.
public actor ServiceHealthServers {
    /// A health check port that could not be opened.
    public struct BindFailure: Error, Hashable, Sendable, CustomStringConvertible {
        /// The Service concerned.
        public var service: NamespacedName
        /// Its `healthCheckNodePort`.
        public var port: Int
        /// The bind error (address and OS error).
        public var error: ServerBindError

        /// The bind error's text.
        public var description: String { error.description }
    }

    private struct Instance {
        var port: Int
        var servers: [HTTPRouteServer]
        var boundPorts: [Int]
    }

    private let addresses: [IPAddress]
    private let health: HealthHolder
    private let group: any EventLoopGroup
    private let logger: Logger
    private let limits: HTTPServerLimits
    private let counts = EndpointCounts()
    private var instances: [NamespacedName: Instance] = [:]
    private var isShutDown = false

    /// Creates the manager; nothing listens until `update(_:)`.
    ///
    /// - Parameters:
    ///   - addresses: the IPs to listen on (from `--nodeport-addresses`); empty means every
    ///     address of `family` (`0.0.0.0` or `::`), as upstream does when no addresses are given.
    ///   - health: read on each request for `serviceProxyHealthy`.
    ///   - limits: per server (one per Service and address): connection cap and deadlines.
    public init(
        addresses: [IPAddress] = [], family: IPFamily, health: HealthHolder,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger,
        limits: HTTPServerLimits = .serviceHealthCheck
    ) {
        self.limits = limits
        self.addresses = addresses.isEmpty ? [family == .ipv4 ? .v4(0) : .v6(0, 0)] : addresses
        self.health = health
        self.group = group
        self.logger = logger
    }

    /// Makes the open servers match `services` (Service → health check port and number of local
    /// ready endpoints). Returns the ports that could not be opened (also logged).
    ///
    /// Call it from one place at a time (after each sync; the sync loop never overlaps syncs):
    /// the actor is re-entrant while ports are being opened.
    @discardableResult
    public func update(_ services: [NamespacedName: (port: Int, localEndpoints: Int)]) async -> [BindFailure] {
        counts.replace(with: services.mapValues(\.localEndpoints))
        for (name, instance) in instances.sorted(by: { $0.key < $1.key }) where services[name]?.port != instance.port {
            logger.info("closing health check", metadata: ["service": "\(name)", "port": "\(instance.port)"])
            instances[name] = nil
            for server in instance.servers { await server.shutdown() }
        }
        guard !isShutDown else { return [] }
        var failures: [BindFailure] = []
        for (name, desired) in services.sorted(by: { $0.key < $1.key }) where instances[name] == nil {
            do {
                let instance = try await open(name, port: desired.port)
                guard !isShutDown else {
                    // shutdown() ran while this bind was in flight: do not leave the port open.
                    for server in instance.servers { await server.shutdown() }
                    return failures
                }
                instances[name] = instance
                logger.info("opened health check", metadata: ["service": "\(name)", "port": "\(desired.port)"])
            } catch {
                logger.error(
                    "failed to start health check; will retry on the next sync",
                    metadata: ["service": "\(name)", "port": "\(desired.port)", "error": "\(error)"])
                failures.append(BindFailure(service: name, port: desired.port, error: error))
            }
        }
        return failures
    }

    /// Closes every server; later updates open nothing.
    public func shutdown() async {
        isShutDown = true
        let open = instances
        instances = [:]
        for instance in open.values {
            for server in instance.servers { await server.shutdown() }
        }
    }

    /// The ports actually bound per Service (one per address; differs from the requested port
    /// only when that was 0, as in tests).
    public var listeningPorts: [NamespacedName: [Int]] {
        instances.mapValues(\.boundPorts)
    }

    /// Opens the servers of one Service on every address; all or nothing.
    private func open(_ name: NamespacedName, port: Int) async throws(ServerBindError) -> Instance {
        var instance = Instance(port: port, servers: [], boundPorts: [])
        let route = Self.route(for: name, counts: counts, health: health)
        for ip in addresses {
            let server = HTTPRouteServer(
                name: "health check for \(name)", ip: ip, port: port, group: group, limits: limits, logger: logger,
                route: route)
            do {
                instance.boundPorts.append(try await server.start())
                instance.servers.append(server)
            } catch {
                for opened in instance.servers { await opened.shutdown() }
                throw error
            }
        }
        return instance
    }

    private static func route(for name: NamespacedName, counts: EndpointCounts, health: HealthHolder) -> HTTPRoute {
        { _ in
            ServiceHealthResponse.make(
                service: name, localEndpoints: counts.count(for: name), proxyHealthy: health.isHealthy)
        }
    }
}

/// The local endpoint count per Service, read by request handlers on event-loop threads.
private final class EndpointCounts: Sendable {
    private let counts = Mutex<[NamespacedName: Int]>([:])

    /// Replaces every count (Services not in `new` have none).
    func replace(with new: [NamespacedName: Int]) {
        counts.withLock { $0 = new }
    }

    /// The count for `name`; 0 when unknown.
    func count(for name: NamespacedName) -> Int {
        counts.withLock { $0[name] ?? 0 }
    }
}
