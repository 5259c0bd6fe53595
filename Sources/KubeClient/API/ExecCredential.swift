import Foundation

/// `client.authentication.k8s.io` `ExecCredential`: what we pass an exec plugin in
/// `KUBERNETES_EXEC_INFO` (the spec) and what it prints back (the status).
struct ExecCredential: Codable, Sendable {
    /// What we tell the plugin.
    struct Spec: Codable, Sendable {
        /// Always `false`: a proxy has no terminal.
        var interactive: Bool
        /// The cluster, when `provideClusterInfo` is set.
        var cluster: Cluster?
    }

    /// The cluster a plugin may need to mint a credential for.
    struct Cluster: Codable, Sendable {
        /// The API server URL.
        var server: String
        /// The name the server certificate is verified against, if not the URL's host.
        var tlsServerName: String?
        /// Set when verification is off.
        var insecureSkipTLSVerify: Bool?
        /// Base64 PEM CA bundle.
        var certificateAuthorityData: String?

        private enum CodingKeys: String, CodingKey {
            case server
            case tlsServerName = "tls-server-name"
            case insecureSkipTLSVerify = "insecure-skip-tls-verify"
            case certificateAuthorityData = "certificate-authority-data"
        }

        /// The cluster of `configuration` (CA as base64 PEM).
        init(_ configuration: ClientConfiguration) {
            server = configuration.server
            tlsServerName = configuration.tlsServerName
            insecureSkipTLSVerify = configuration.insecureSkipTLSVerify ? true : nil
            certificateAuthorityData = configuration.certificateAuthorityPEM.map { Data($0).base64EncodedString() }
        }
    }

    /// What the plugin answers.
    struct CredentialStatus: Codable, Sendable {
        /// RFC 3339 time after which the plugin must be run again.
        var expirationTimestamp: String?
        /// A bearer token.
        var token: String?
        /// PEM client certificate (not base64).
        var clientCertificateData: String?
        /// PEM client key (not base64).
        var clientKeyData: String?
    }

    /// `client.authentication.k8s.io/v1` or `…/v1beta1`.
    var apiVersion: String?
    /// `ExecCredential`.
    var kind: String?
    /// Our request (in `KUBERNETES_EXEC_INFO`).
    var spec: Spec?
    /// The plugin's answer.
    var status: CredentialStatus?

    /// The request for a plugin speaking `apiVersion`.
    static func request(apiVersion: String, cluster: Cluster?) -> ExecCredential {
        ExecCredential(
            apiVersion: apiVersion, kind: "ExecCredential", spec: Spec(interactive: false, cluster: cluster),
            status: nil)
    }

    /// Parses an RFC 3339 timestamp, with or without fractional seconds.
    static func parseTimestamp(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.date(from: text)
    }
}
