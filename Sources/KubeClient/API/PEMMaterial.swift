import NIOSSL

/// Checks that PEM bytes from a kubeconfig or an exec plugin parse, so a bad certificate fails
/// at start naming its field, not later as an opaque TLS handshake error.
enum PEMMaterial {
    /// The certificates in `bytes`; at least one is required.
    static func certificates(_ bytes: [UInt8]) throws -> [NIOSSLCertificate] {
        let certificates = try NIOSSLCertificate.fromPEMBytes(bytes)
        guard !certificates.isEmpty else { throw PEMError.noCertificate }
        return certificates
    }

    /// The private key in `bytes`.
    static func privateKey(_ bytes: [UInt8]) throws -> NIOSSLPrivateKey {
        try NIOSSLPrivateKey(bytes: bytes, format: .pem)
    }

    /// Throws a configuration error about `field` (and the file it named) unless `bytes` holds
    /// at least one PEM certificate.
    static func checkCertificates(_ bytes: [UInt8], field: ConfigNode, path: String? = nil) throws(APIClientError) {
        do {
            _ = try certificates(bytes)
        } catch {
            throw field.error((path.map { "file \($0): " } ?? "") + "no valid PEM certificate")
        }
    }

    /// Throws a configuration error about `field` unless `bytes` holds a PEM private key.
    static func checkPrivateKey(_ bytes: [UInt8], field: ConfigNode, path: String? = nil) throws(APIClientError) {
        do {
            _ = try privateKey(bytes)
        } catch {
            throw field.error((path.map { "file \($0): " } ?? "") + "no valid PEM private key")
        }
    }

    private enum PEMError: Error {
        case noCertificate
    }
}
