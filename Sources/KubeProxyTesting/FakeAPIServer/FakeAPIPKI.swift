import Foundation

/// A throw-away PKI for the fake API server, made with the `openssl` command-line tool in a
/// temporary directory: a CA, a server certificate for `127.0.0.1`, `::1` and `localhost`, and a
/// client certificate (`CN=kube-proxy`, `O=system:nodes`) for mutual TLS. EC P-256 keys, valid
/// for 7 days; Go (kubectl) and BoringSSL (NIOSSL) both accept them.
///
/// Generated rather than checked in so no key material lives in the repository and no
/// certificate ever expires under the test suite.
public struct FakeAPIPKI: Sendable, Hashable {
    /// The directory holding every file below.
    public var directory: String
    /// CA certificate (PEM).
    public var caCertificatePath: String { directory + "/ca.crt" }
    /// Server certificate (PEM).
    public var serverCertificatePath: String { directory + "/server.crt" }
    /// Server private key (PEM, PKCS#8).
    public var serverKeyPath: String { directory + "/server.key" }
    /// Client certificate (PEM).
    public var clientCertificatePath: String { directory + "/client.crt" }
    /// Client private key (PEM, PKCS#8).
    public var clientKeyPath: String { directory + "/client.key" }

    /// The `openssl` executable in `PATH`, or `nil` when it is not installed (tests skip then).
    public static var opensslPath: String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/openssl" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Generates a fresh PKI in a new directory under `parent` (default: the system temporary
    /// directory).
    ///
    /// - Throws: ``FakeAPIServerError/opensslMissing`` (install the Debian package `openssl`),
    ///   or ``FakeAPIServerError/commandFailed(command:status:stderrTail:)``.
    public static func generate(in parent: String? = nil) throws(FakeAPIServerError) -> FakeAPIPKI {
        guard let openssl = opensslPath else { throw .opensslMissing }
        let base = parent ?? NSTemporaryDirectory()
        let directory = (base.hasSuffix("/") ? base : base + "/") + "fake-apiserver-pki-" + UUID().uuidString
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try Data(configuration.utf8).write(to: URL(fileURLWithPath: directory + "/openssl.cnf"))
        } catch {
            throw .file(path: directory, reason: "\(error)")
        }
        let pki = FakeAPIPKI(directory: directory)
        let steps: [[String]] =
            [
                ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "ca.key"],
                [
                    "req", "-x509", "-new", "-key", "ca.key", "-config", "openssl.cnf", "-extensions", "ca", "-days", "7",
                    "-subj", "/CN=fake-apiserver-ca", "-out", "ca.crt",
                ],
            ] + leaf("server", subject: "/CN=fake-apiserver", serial: "2")
            + leaf("client", subject: "/O=system:nodes/CN=kube-proxy", serial: "3")
        for arguments in steps {
            try run(openssl, arguments, in: directory)
        }
        return pki
    }

    /// Deletes the directory.
    public func remove() {
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// PEM text of a file of this PKI (for kubeconfig `*-data` fields).
    public func pem(_ path: String) throws(FakeAPIServerError) -> String {
        do {
            return try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw .file(path: path, reason: "\(error)")
        }
    }

    private static func leaf(_ name: String, subject: String, serial: String) -> [[String]] {
        [
            ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "\(name).key"],
            ["req", "-new", "-key", "\(name).key", "-config", "openssl.cnf", "-subj", subject, "-out", "\(name).csr"],
            [
                "x509", "-req", "-in", "\(name).csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-set_serial", serial, "-days", "7",
                "-extfile", "openssl.cnf", "-extensions", name, "-out", "\(name).crt",
            ],
        ]
    }

    private static func run(_ executable: String, _ arguments: [String], in directory: String) throws(FakeAPIServerError) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        let stderr = Pipe()
        process.standardError = stderr
        process.standardOutput = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        let command = ([executable] + arguments).joined(separator: " ")
        do {
            try process.run()
        } catch {
            throw .commandFailed(command: command, status: -1, stderrTail: "\(error)")
        }
        let output = stderr.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let text = String(decoding: output, as: UTF8.self)
            throw .commandFailed(command: command, status: process.terminationStatus, stderrTail: String(text.suffix(500)))
        }
    }

    /// Extensions: a CA that may sign, a server certificate for the loopback names (Go
    /// ignores the CN, so the SANs are what matter), a client certificate for clientAuth.
    private static let configuration = """
        [req]
        distinguished_name = dn
        prompt = no
        [dn]
        CN = fake-apiserver
        [ca]
        basicConstraints = critical,CA:TRUE
        keyUsage = critical,keyCertSign,cRLSign,digitalSignature
        subjectKeyIdentifier = hash
        [server]
        basicConstraints = critical,CA:FALSE
        keyUsage = critical,digitalSignature,keyEncipherment
        extendedKeyUsage = serverAuth
        subjectAltName = IP:127.0.0.1,IP:::1,DNS:localhost
        authorityKeyIdentifier = keyid
        [client]
        basicConstraints = critical,CA:FALSE
        keyUsage = critical,digitalSignature,keyEncipherment
        extendedKeyUsage = clientAuth
        authorityKeyIdentifier = keyid

        """
}
