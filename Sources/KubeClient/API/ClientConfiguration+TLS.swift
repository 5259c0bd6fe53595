import NIOSSL

extension ClientConfiguration {
    /// The NIOSSL client configuration for this server: trust the configured CA (or the system
    /// roots), skip verification only when told to, and present a client certificate — the one
    /// from the kubeconfig, or `exec`'s when an exec plugin supplied one.
    ///
    /// The wait for the server's `close_notify` is cut from NIOSSL's 5 s to 500 ms: closing a
    /// watch (cancellation, shutdown) must not hold the proxy's shutdown for seconds when the
    /// server does not answer it mid-stream.
    ///
    /// - Throws: when PEM material does not parse (checked at load, so only for certificates an
    ///   exec plugin returned at run time).
    func makeTLSConfiguration(execCertificatePEM: [UInt8]? = nil, execKeyPEM: [UInt8]? = nil) throws
        -> TLSConfiguration
    {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.shutdownTimeout = .milliseconds(500)
        if let certificateAuthorityPEM {
            tls.trustRoots = .certificates(try PEMMaterial.certificates(certificateAuthorityPEM))
        }
        if insecureSkipTLSVerify { tls.certificateVerification = .none }
        if let certificate = execCertificatePEM ?? clientCertificatePEM, let key = execKeyPEM ?? clientKeyPEM {
            tls.certificateChain = try PEMMaterial.certificates(certificate).map { .certificate($0) }
            tls.privateKey = .privateKey(try PEMMaterial.privateKey(key))
        }
        return tls
    }
}
