import KubeProxyCore
import Logging
import NIOCore
import NIOPosix

/// Holds ports open so no other program can take them (docs/userspace-behaviour.md#port-claims): a TCP socket that listens
/// but never accepts, or a bound UDP socket that is never read.
///
/// Declarative like `UserspaceProxy.apply`: `updateClaims` gets the complete desired set, keeps
/// the claims it already holds, opens new ones and closes vanished ones. A claim that cannot be
/// held (the port is taken) is reported with its owner and the system's error, the others keep
/// working, and it is tried again on the next update. Upstream failed the whole portal of the
/// service port instead and retried only on the next full sync.
///
/// Held sockets:
/// - TCP: `listen` with a backlog of 1 and reading off, so nothing is ever accepted (upstream
///   kept a real listener rather than a bare `bind` so `ss`/`netstat` show the port taken);
///   `SO_REUSEADDR` so a restart can re-take a port whose old connections sit in `TIME_WAIT` (it
///   never lets a second socket listen on it).
/// - UDP: `bind` only, without `SO_REUSEADDR` (on Linux that would let another socket with the
///   option share the port).
/// - An all-addresses claim binds `0.0.0.0` or `::` of the proxy's family; `::` is bound
///   IPv6-only, matching the family the proxy's rules cover.
///
/// When two service ports want the same address, port and protocol, the one already holding it
/// keeps it (else the first in `PortClaim` order) and the others get `.conflict`.
public actor PortClaims {
    /// What identifies a held socket.
    private struct Key: Hashable {
        let address: IPAddress?
        let port: Int
        let transport: TransportProtocol

        init(_ claim: PortClaim) {
            address = claim.address
            port = claim.port
            transport = claim.protocol
        }
    }

    private struct Held {
        var claim: PortClaim
        let channel: any Channel
    }

    private let group: any EventLoopGroup
    private let family: IPFamily
    private let logger: Logger
    private let descriptors: DescriptorBudget?
    private var held: [Key: Held] = [:]
    private var turns = TurnQueue()
    private var isClosed = false

    /// Creates an empty claim set.
    ///
    /// - Parameters:
    ///   - group: event loops for the held sockets (not owned).
    ///   - family: the family of all-addresses claims (`address == nil`).
    ///   - descriptors: counts every held socket (one descriptor each) while it is open; claims
    ///     are never refused for it, since the portal rules need them.
    ///   - logger: receives debug detail; results are returned for the caller to log.
    public init(group: any EventLoopGroup, family: IPFamily, descriptors: DescriptorBudget? = nil, logger: Logger) {
        self.group = group
        self.family = family
        self.descriptors = descriptors
        self.logger = logger
    }

    /// Makes the held ports match `desired`; returns what changed and every claim that is not
    /// held (failures are reported on every update until they succeed), sorted by claim. After
    /// `releaseAll` it does nothing.
    public func updateClaims(_ desired: Set<PortClaim>) async -> [PortClaimResult] {
        if !turns.take() { await withCheckedContinuation { turns.wait($0) } }
        defer { turns.pass() }
        guard !isClosed else { return [] }
        let (wanted, conflicts) = resolve(desired)
        var results = conflicts
        for (key, entry) in held where wanted[key] == nil {
            held[key] = nil
            try? await entry.channel.close()
            results.append(PortClaimResult(claim: entry.claim, outcome: .released))
        }
        // A first sync of thousands of NodePorts opens as many sockets: grow the table once.
        descriptors?.prepareTable(forMore: wanted.count - held.count)
        for (key, claim) in wanted {
            if held[key] != nil {
                held[key]?.claim = claim
                continue
            }
            do {
                let channel = try await open(claim)
                if let descriptors {
                    descriptors.acquire(1)
                    channel.closeFuture.whenComplete { _ in descriptors.release(1) }
                }
                held[key] = Held(claim: claim, channel: channel)
                results.append(PortClaimResult(claim: claim, outcome: .claimed))
            } catch {
                let outcome = PortClaimResult.Outcome.failed(errno: Self.errno(error), detail: "\(error)")
                results.append(PortClaimResult(claim: claim, outcome: outcome))
            }
        }
        return results.sorted { $0.claim < $1.claim }
    }

    /// The claims currently held.
    public func heldClaims() -> Set<PortClaim> {
        Set(held.values.map(\.claim))
    }

    /// Closes every held socket; later updates do nothing. Call it before dropping the object:
    /// the sockets live on the event loops.
    public func releaseAll() async {
        if !turns.take() { await withCheckedContinuation { turns.wait($0) } }
        defer { turns.pass() }
        isClosed = true
        let closing = held.values.map(\.channel)
        held = [:]
        for channel in closing {
            try? await channel.close()
        }
    }

    /// One winner per socket (the current holder if it still wants it, else the least claim);
    /// the other claims of the same socket are conflicts.
    private func resolve(_ desired: Set<PortClaim>) -> ([Key: PortClaim], [PortClaimResult]) {
        var wanted: [Key: PortClaim] = [:]
        var conflicts: [PortClaimResult] = []
        for (key, claims) in Dictionary(grouping: desired, by: Key.init) {
            let ordered = claims.sorted()
            let holder = held[key].flatMap { current in ordered.first { $0.owner == current.claim.owner } }
            guard let winner = holder ?? ordered.first else { continue }
            wanted[key] = winner
            for loser in ordered where loser != winner {
                conflicts.append(PortClaimResult(claim: loser, outcome: .conflict(holder: winner.owner)))
            }
        }
        return (wanted, conflicts)
    }

    private func open(_ claim: PortClaim) async throws -> any Channel {
        guard (1...PortRange.maximumPort).contains(claim.port) else {
            throw PortClaimError(detail: "port \(claim.port) is out of range")
        }
        let ip = claim.address ?? (family == .ipv4 ? .v4(0) : .v6(0, 0))
        let address = try ip.socketAddress(port: claim.port)
        let v6Only = claim.address == nil && family == .ipv6
        // Bound with system calls (`ListeningSocket`): the bind error throws here, and NIO only
        // registers the socket, with reading off so nothing is ever accepted or read.
        var options = v6Only ? [ListeningSocket.v6Only] : []
        switch claim.protocol {
        case .tcp:
            options.append(ListeningSocket.reuseAddress)
            let fd = try ListeningSocket.tcp(address: address, options: options, backlog: 1)
            return try await ServerBootstrap(group: group)
                .serverChannelInitializer { server in
                    server.eventLoop.makeCompletedFuture {
                        // NIO listens again with its default queue of 128 when it adopts the socket.
                        try ListeningSocket.setBacklog(fd, 1)
                        try server.syncOptions?.setOption(.autoRead, value: false)
                    }
                }
                .withBoundSocket(fd).get()
        case .udp:
            let fd = try ListeningSocket.udp(address: address, options: options)
            return try await DatagramBootstrap(group: group)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture { try channel.syncOptions?.setOption(.autoRead, value: false) }
                }
                .withBoundSocket(fd).get()
        case .sctp:
            throw PortClaimError(detail: "SCTP ports cannot be held by the user space proxy")
        }
    }

    /// Why a claim was refused before any socket call; its text ends up in `PortClaimResult`.
    private struct PortClaimError: Error, CustomStringConvertible {
        let detail: String
        var description: String { detail }
    }

    private static func errno(_ error: any Error) -> Int32? {
        (error as? IOError)?.errnoCode
    }
}
