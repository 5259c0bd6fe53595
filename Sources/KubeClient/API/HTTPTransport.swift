import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL
import Synchronization

/// ``APITransport`` on AsyncHTTPClient: one shared `HTTPClient` (connection pooling, TLS from
/// the ``ClientConfiguration``), bearer tokens from the ``CredentialProvider``,
/// `Accept: application/json`, `User-Agent: swift-kube-proxy`, no compression.
///
/// Timeouts: the shared client has **no read timeout**, because a healthy watch can be silent
/// for minutes; a response head must arrive within `headTimeout`, and the driver bounds whole
/// lists and watches itself. A `401` invalidates the credential so the next request refreshes
/// it. When an exec plugin hands out a new client certificate, a new `HTTPClient` is made for
/// it; the old one is kept until ``shutdown()`` so watches in flight are not cut.
///
/// Bodies are read with the bounds of ``APILimits``: a `200` GET (a LIST page or a whole list)
/// up to `listBodyBytes` (more is ``APIClientError/tooLarge(url:what:limit:)``, also when a
/// `Content-Length` announces it), a non-`200` body only up to `errorBodyBytes` (the rest is not
/// read; the status is what counts). Watch bodies are streamed; the driver's framer bounds them.
///
/// `tls-server-name` is implemented with AsyncHTTPClient's `dnsOverride`: requests name the TLS
/// server name as host (so SNI and verification use it) and connect to the configured host.
final class HTTPTransport: APITransport {
    /// Sent on every request.
    static let userAgent = "swift-kube-proxy"

    private struct Clients {
        var current: HTTPClient
        var certificate: [UInt8]?
        var retired: [HTTPClient] = []
    }

    private let configuration: ClientConfiguration
    private let credentials: CredentialProvider
    private let headTimeout: TimeAmount
    private let limits: APILimits
    private let logger: Logger
    private let requestServer: String
    private let dnsOverride: [String: String]
    private let clients: Mutex<Clients>

    /// Creates the transport and its first `HTTPClient`.
    ///
    /// - Throws: ``APIClientError/configuration(file:field:message:)`` when the TLS material
    ///   does not load.
    init(
        configuration: ClientConfiguration, credentials: CredentialProvider, headTimeout: TimeAmount = .seconds(30),
        limits: APILimits = APILimits(), logger: Logger
    ) throws(APIClientError) {
        self.configuration = configuration
        self.credentials = credentials
        self.headTimeout = headTimeout
        self.limits = limits
        self.logger = logger
        (requestServer, dnsOverride) = Self.serverNameOverride(configuration)
        let client = try Self.makeClient(configuration, dnsOverride: dnsOverride, certificate: nil, key: nil)
        clients = Mutex(Clients(current: client))
    }

    /// A GET with the current credential; a `200` body is read whole, up to
    /// ``APILimits/listBodyBytes``.
    ///
    /// - Throws: ``APIClientError/tooLarge(url:what:limit:)`` for a longer `200` body, or what
    ///   the connection threw.
    func get(_ request: APIRequest) async throws -> APIResponse {
        let (client, http) = try await prepare(request)
        let response = try await client.execute(http, timeout: headTimeout, logger: logger)
        guard response.status == .ok else {
            let body = try await Self.prefix(of: response.body, upTo: limits.errorBodyBytes)
            return await finish(response, body: body)
        }
        let body: ByteBuffer
        do {
            body = try await response.body.collect(upTo: limits.listBodyBytes)
        } catch is NIOTooManyBytesError {
            throw APIClientError.tooLarge(
                url: request.url(server: configuration.redactedServer), what: "response body",
                limit: limits.listBodyBytes)
        }
        return await finish(response, body: Array(buffer: body))
    }

    /// A streamed GET: chunks go to `receive` as they arrive, with no idle timeout.
    func watch(_ request: APIRequest, receive: @Sendable ([UInt8]) async throws -> Void) async throws -> APIResponse {
        let (client, http) = try await prepare(request)
        let response = try await client.execute(http, timeout: headTimeout, logger: logger)
        guard response.status == .ok else {
            let body = try await Self.prefix(of: response.body, upTo: limits.errorBodyBytes)
            return await finish(response, body: body)
        }
        for try await buffer in response.body {
            try await receive(Array(buffer.readableBytesView))
        }
        return APIResponse(status: 200)
    }

    /// Shuts every `HTTPClient` down; call once, after the last request.
    func shutdown() async {
        let all = clients.withLock { [$0.current] + $0.retired }
        for client in all {
            do {
                try await client.shutdown()
            } catch {
                logger.debug("HTTP client shutdown: \(error)")
            }
        }
    }

    /// The first `limit` bytes of `body`; the rest is not read (the connection is closed).
    private static func prefix(of body: HTTPClientResponse.Body, upTo limit: Int) async throws -> [UInt8] {
        var bytes: [UInt8] = []
        for try await buffer in body {
            bytes += buffer.readableBytesView.prefix(limit - bytes.count)
            if bytes.count >= limit { break }
        }
        return bytes
    }

    private func finish(_ response: HTTPClientResponse, body: [UInt8]) async -> APIResponse {
        if response.status == .unauthorized { await credentials.invalidate() }
        let retryAfter = response.headers.first(name: "Retry-After").flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        return APIResponse(status: Int(response.status.code), body: body, retryAfterSeconds: retryAfter)
    }

    private func prepare(_ request: APIRequest) async throws -> (HTTPClient, HTTPClientRequest) {
        let credential = try await credentials.current()
        let client = try client(for: credential)
        var http = HTTPClientRequest(url: request.url(server: requestServer))
        http.method = .GET
        http.headers.add(name: "Accept", value: "application/json")
        http.headers.add(name: "User-Agent", value: Self.userAgent)
        if let token = credential.token {
            http.headers.add(name: "Authorization", value: "Bearer \(token.value)")
        }
        return (client, http)
    }

    /// The client for the credential's certificate (the current one unless an exec plugin
    /// rotated it).
    private func client(for credential: CredentialProvider.Credentials) throws -> HTTPClient {
        try clients.withLock { clients in
            guard let certificate = credential.certificatePEM, certificate != clients.certificate else {
                return clients.current
            }
            let client = try Self.makeClient(
                configuration, dnsOverride: dnsOverride, certificate: certificate, key: credential.keyPEM)
            clients.retired.append(clients.current)
            clients.current = client
            clients.certificate = certificate
            return client
        }
    }

    private static func makeClient(
        _ configuration: ClientConfiguration, dnsOverride: [String: String], certificate: [UInt8]?, key: [UInt8]?
    ) throws(APIClientError) -> HTTPClient {
        var settings = HTTPClient.Configuration()
        settings.timeout = .init(connect: .seconds(10), read: nil)
        settings.redirectConfiguration = .disallow
        settings.decompression = .disabled
        settings.dnsOverride = dnsOverride
        if configuration.server.lowercased().hasPrefix("https://") {
            do {
                settings.tlsConfiguration = try configuration.makeTLSConfiguration(
                    execCertificatePEM: certificate, execKeyPEM: key)
            } catch {
                throw .credential(source: configuration.origin, message: "TLS material does not load: \(error)")
            }
        }
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: settings)
    }

    /// With `tls-server-name`, the URL to request (host replaced by the name) and the override
    /// that connects that name to the real host.
    ///
    /// Internal for tests.
    static func serverNameOverride(_ configuration: ClientConfiguration) -> (String, [String: String]) {
        guard let name = configuration.tlsServerName,
            var components = URLComponents(string: configuration.server), let host = components.host, host != name
        else { return (configuration.server, [:]) }
        components.host = name
        guard let rewritten = components.string else { return (configuration.server, [:]) }
        let target = host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host
        return (rewritten, [name: target])
    }
}
