import KubeProxyCore
import Logging
import NIOCore
import NIOPosix
import Testing

@testable import KubeProxyDataPlane

/// Port claims (docs/userspace-behaviour.md#port-claims) with real sockets on loopback.
@Suite("PortClaims", .timeLimit(.minutes(1)))
struct PortClaimsTests {
    typealias T = UserspaceProxyTests
    static let loopback = IPAddress("127.0.0.1")!

    static func claims() -> PortClaims {
        PortClaims(group: MultiThreadedEventLoopGroup.singleton, family: .ipv4, logger: Logger(label: "test.claims"))
    }

    static func claim(
        _ port: Int,
        _ transport: TransportProtocol = .tcp,
        address: IPAddress? = loopback,
        owner: String = "web"
    ) -> PortClaim {
        PortClaim(address: address, port: port, protocol: transport, owner: T.service(owner, transport))
    }

    /// Binds another socket to 127.0.0.1:port the way a foreign program would (TCP with
    /// `SO_REUSEADDR`, as most servers set it); returns the errno of the failure, nil on success.
    static func foreignBind(_ port: Int, _ transport: TransportProtocol) async -> Int32? {
        do {
            let address = try SocketAddress(ipAddress: "127.0.0.1", port: port)
            let channel: any Channel
            switch transport {
            case .udp:
                channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                    .bind(to: address).get()
            default:
                channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                    .bind(to: address).get()
            }
            try? await channel.close()
            return nil
        } catch let error as IOError {
            return error.errnoCode
        } catch {
            return -1
        }
    }

    static func freePorts() async throws -> (Int, Int) {
        let range = try await UserspaceProxyListenerTests.freeRange()
        return (range.first, range.last)
    }

    @Test(arguments: [TransportProtocol.tcp, .udp], [true, false])
    func claimedPortCannotBeBoundUntilReleased(transport: TransportProtocol, allAddresses: Bool) async throws {
        let (port, _) = try await Self.freePorts()
        let claims = Self.claims()
        let claim = Self.claim(port, transport, address: allAddresses ? nil : Self.loopback)
        #expect(await claims.updateClaims([claim]) == [PortClaimResult(claim: claim, outcome: .claimed)])
        #expect(await Self.foreignBind(port, transport) == EADDRINUSE)
        #expect(await claims.updateClaims([claim]).isEmpty)

        #expect(await claims.updateClaims([]) == [PortClaimResult(claim: claim, outcome: .released)])
        #expect(await Self.foreignBind(port, transport) == nil)
        await claims.releaseAll()
    }

    /// A port taken by another program is reported with its owner and retried on every update;
    /// the other claims are unaffected.
    @Test func conflictWithAnotherProgramIsReportedAndRetried() async throws {
        let (busy, free) = try await Self.freePorts()
        let squatter = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(to: try SocketAddress(ipAddress: "127.0.0.1", port: busy)).get()
        let claims = Self.claims()
        let blocked = Self.claim(busy, address: nil)
        let fine = Self.claim(free, owner: "api")
        let first = await claims.updateClaims([blocked, fine])
        #expect(first.count == 2)
        let failure = try #require(first.first { $0.claim == blocked })
        guard case .failed(let errno, _) = failure.outcome else {
            Issue.record("expected a failure, got \(failure)")
            return
        }
        #expect(errno == EADDRINUSE)
        #expect(failure.isFailure)
        #expect(failure.description.hasPrefix("NodePort \(busy)/TCP for test/web:p is in use by another program ("))
        #expect(first.first { $0.claim == fine }?.outcome == .claimed)
        #expect(await claims.heldClaims() == [fine])

        #expect(await claims.updateClaims([blocked, fine]).map(\.claim) == [blocked])
        try await squatter.close()
        #expect(await claims.updateClaims([blocked, fine]) == [PortClaimResult(claim: blocked, outcome: .claimed)])
        #expect(await claims.heldClaims() == [blocked, fine])
        await claims.releaseAll()
    }

    /// Two service ports wanting one socket: the holder keeps it, the other is told who has it.
    @Test func twoOwnersOfOneSocketConflict() async throws {
        let (port, _) = try await Self.freePorts()
        let claims = Self.claims()
        let web = Self.claim(port, owner: "web")
        let api = Self.claim(port, owner: "api")
        let results = await claims.updateClaims([web])
        #expect(results.map(\.outcome) == [.claimed])
        let contested = await claims.updateClaims([web, api])
        #expect(contested == [PortClaimResult(claim: api, outcome: .conflict(holder: web.owner))])
        let expected = "port 127.0.0.1:\(port)/TCP for test/api:p conflicts with test/web:p, which holds it"
        #expect(contested.first?.description == expected)
        #expect(await claims.heldClaims() == [web])
        await claims.releaseAll()
    }

    @Test func releaseAllFreesEverythingAndEndsUpdates() async throws {
        let (first, second) = try await Self.freePorts()
        let claims = Self.claims()
        let wanted: Set = [Self.claim(first), Self.claim(second, .udp)]
        #expect(await claims.updateClaims(wanted).count == 2)
        await claims.releaseAll()
        #expect(await Self.foreignBind(first, .tcp) == nil)
        #expect(await Self.foreignBind(second, .udp) == nil)
        #expect(await claims.updateClaims(wanted).isEmpty)
        #expect(await claims.heldClaims().isEmpty)
    }

    @Test func sctpAndInvalidPortsFailWithoutSockets() async throws {
        let claims = Self.claims()
        let sctp = Self.claim(38412, .sctp)
        let invalid = Self.claim(70000)
        let results = await claims.updateClaims([sctp, invalid])
        #expect(results.map(\.isFailure) == [true, true])
        #expect(
            results.map(\.description).sorted() == [
                "cannot claim port 127.0.0.1:38412/SCTP for test/web:p: SCTP ports cannot be held by the user space proxy",
                "cannot claim port 127.0.0.1:70000/TCP for test/web:p: port 70000 is out of range",
            ])
        await claims.releaseAll()
    }

    /// The proxy's own claims end with its shutdown.
    @Test func proxyReleasesItsClaimsAtShutdown() async throws {
        let (port, _) = try await Self.freePorts()
        let proxy = T.proxy()
        let claim = Self.claim(port, .udp)
        #expect(await proxy.updateClaims([claim]).map(\.outcome) == [.claimed])
        #expect(await Self.foreignBind(port, .udp) == EADDRINUSE)
        await proxy.shutdown()
        #expect(await Self.foreignBind(port, .udp) == nil)
        #expect(await proxy.updateClaims([claim]).isEmpty)
    }
}
