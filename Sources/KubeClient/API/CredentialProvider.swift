import Foundation
import Logging

/// Hands the transport the credential for the next request, keeping it fresh.
///
/// - A fixed token never changes.
/// - A token file (in-cluster service account, `tokenFile`) is re-read at most every
///   `tokenFileRefresh` (a minute, like client-go) and right after a `401`; projected tokens
///   rotate underneath us. If a re-read fails the previous token is kept (and a warning logged),
///   since the old token is usually still valid for a while.
/// - An exec plugin's credential is cached until its `expirationTimestamp` (or a `401`), then the
///   plugin runs again. A failing plugin is an error for the request; the watch backs off.
///
/// The wall clock is injected because plugin expiry is wall time.
actor CredentialProvider {
    /// What to attach to a request.
    struct Credentials: Sendable, Hashable {
        /// `Authorization: Bearer …`, if any.
        var token: BearerToken?
        /// A client certificate an exec plugin supplied (it replaces the kubeconfig's).
        var certificatePEM: [UInt8]?
        /// Its private key.
        var keyPEM: [UInt8]?
    }

    private let configuration: ClientConfiguration
    private let environment: [String: String]
    private let now: @Sendable () -> Date
    private let tokenFileRefresh: TimeInterval
    private let logger: Logger
    private var cached: Credentials?
    private var refreshAt: Date?
    private var invalidated = false

    /// Creates a provider for `configuration.credentials`.
    init(
        configuration: ClientConfiguration, environment: [String: String] = ProcessInfo.processInfo.environment,
        tokenFileRefresh: TimeInterval = 60, now: @escaping @Sendable () -> Date = { Date() }, logger: Logger
    ) {
        self.configuration = configuration
        self.environment = environment
        self.tokenFileRefresh = tokenFileRefresh
        self.now = now
        self.logger = logger
    }

    /// The credential to use now, refreshed if due.
    func current() async throws(APIClientError) -> Credentials {
        switch configuration.credentials {
        case .none:
            return Credentials()
        case .token(let token):
            return Credentials(token: token)
        case .tokenFile(let path):
            return try tokenFileCredentials(path)
        case .exec(let plugin):
            return try await execCredentials(plugin)
        }
    }

    /// The server rejected the credential (`401`): refresh it before the next request.
    func invalidate() {
        invalidated = true
    }

    private func isFresh() -> Bool {
        guard cached != nil, !invalidated else { return false }
        guard let refreshAt else { return true }
        return now() < refreshAt
    }

    private func tokenFileCredentials(_ path: String) throws(APIClientError) -> Credentials {
        if isFresh(), let cached { return cached }
        let read = BoundedFile.read(path)
        let token =
            (try? read.get()).map { String(decoding: $0, as: UTF8.self) }?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        refreshAt = now().addingTimeInterval(tokenFileRefresh)
        invalidated = false
        guard !token.isEmpty else {
            let problem: String
            switch read {
            case .success: problem = "empty"
            case .failure(let failure): problem = "\(failure)"
            }
            if let cached {
                logger.warning("token file \(path) is \(problem); keeping the previous token")
                return cached
            }
            throw .credential(source: "token file \(path)", message: problem)
        }
        let fresh = Credentials(token: BearerToken(token))
        cached = fresh
        return fresh
    }

    private func execCredentials(_ plugin: ExecPluginConfig) async throws(APIClientError) -> Credentials {
        if isFresh(), let cached { return cached }
        let credential = try await ExecPlugin.run(
            plugin, cluster: ExecCredential.Cluster(configuration), environment: environment)
        let fresh = Credentials(
            token: credential.token, certificatePEM: credential.certificatePEM, keyPEM: credential.keyPEM)
        cached = fresh
        refreshAt = credential.expiry
        invalidated = false
        logger.debug(
            "exec credential plugin ran",
            metadata: ["command": "\(plugin.command)", "expires": "\(credential.expiry.map { "\($0)" } ?? "never")"])
        return fresh
    }
}
