import NIOSSL

/// How the fake server does TLS: the certificates to serve and whether clients must present a
/// certificate signed by the test CA.
public struct FakeAPITLS: Sendable {
    /// Whether and how client certificates are asked for.
    public enum ClientCertificates: Sendable, Hashable {
        /// Not asked for; clients authenticate with the bearer token (the usual kube-proxy setup).
        case notRequested
        /// Verified when presented, not required; a verified certificate authenticates the
        /// request without a token, as on a real API server.
        case optional
        /// Required (mutual TLS); the handshake fails without one.
        case required
    }

    /// The CA, server and client certificates.
    public var pki: FakeAPIPKI
    /// The client-certificate policy.
    public var clientCertificates: ClientCertificates

    /// Serves with `pki`'s server certificate under `clientCertificates`.
    public init(pki: FakeAPIPKI, clientCertificates: ClientCertificates = .optional) {
        self.pki = pki
        self.clientCertificates = clientCertificates
    }

    /// The NIOSSL server configuration: HTTP/1.1 only in ALPN (the fake speaks no HTTP/2, and
    /// Go clients then fall back to HTTP/1.1 exactly as against an HTTP/1.1-only proxy).
    func serverConfiguration() throws -> TLSConfiguration {
        let chain = try NIOSSLCertificate.fromPEMFile(pki.serverCertificatePath).map { NIOSSLCertificateSource.certificate($0) }
        let key = try NIOSSLPrivateKey(file: pki.serverKeyPath, format: .pem)
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
        configuration.applicationProtocols = ["http/1.1"]
        switch clientCertificates {
        case .notRequested:
            configuration.certificateVerification = .none
        case .optional:
            configuration.certificateVerification = .optionalVerification
            configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(pki.caCertificatePath))
        case .required:
            configuration.certificateVerification = .noHostnameVerification
            configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(pki.caCertificatePath))
        }
        return configuration
    }
}
