import Foundation
import Testing

@testable import KubeClient

/// Writes a kubeconfig with one cluster, one user and one current context.
private func kubeconfig(cluster: String, user: String, in directory: TemporaryDirectory, name: String = "kubeconfig")
    throws -> String
{
    try directory.write(
        name,
        """
        apiVersion: v1
        kind: Config
        current-context: proxy
        contexts:
        - name: other
          context: {cluster: nowhere, user: nobody}
        - name: proxy
          context:
            cluster: local
            user: kube-proxy
        clusters:
        - name: local
          cluster:
        \(cluster.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n"))
        users:
        - name: kube-proxy
          user:
        \(user.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n"))
        """)
}

@Suite struct KubeConfigLoaderTests {
    @Test func tokenAndCertificateAuthorityData() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let file = try kubeconfig(
            cluster: "server: https://10.0.0.1:6443\ncertificate-authority-data: \(base64(testCertificatePEM))",
            user: "token: abc.def", in: directory)
        let configuration = try KubeConfigLoader.load(file: file)
        #expect(configuration.server == "https://10.0.0.1:6443")
        #expect(configuration.certificateAuthorityPEM == Array(testCertificatePEM.utf8))
        #expect(configuration.credentials == .token(BearerToken("abc.def")))
        #expect(configuration.origin == "kubeconfig \(file) (context proxy)")
        #expect(!configuration.insecureSkipTLSVerify)
    }

    @Test func relativePathsResolveAgainstTheKubeconfigDirectory() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try directory.write("ca.crt", testCertificatePEM)
        try directory.write("token", "from-file\n")
        try directory.write("client.crt", testCertificatePEM)
        try directory.write("client.key", testKeyPEM)
        let file = try kubeconfig(
            cluster: "server: https://api.test\ncertificate-authority: ca.crt\ntls-server-name: kubernetes",
            user: "tokenFile: token\nclient-certificate: client.crt\nclient-key: client.key", in: directory)
        let configuration = try KubeConfigLoader.load(file: file)
        #expect(configuration.certificateAuthorityPEM == Array(testCertificatePEM.utf8))
        #expect(configuration.credentials == .tokenFile(directory.path + "/token"))
        #expect(configuration.clientCertificatePEM == Array(testCertificatePEM.utf8))
        #expect(configuration.clientKeyPEM == Array(testKeyPEM.utf8))
        #expect(configuration.tlsServerName == "kubernetes")
    }

    @Test func clientCertificateDataAndInsecure() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let file = try kubeconfig(
            cluster: "server: https://api.test\ninsecure-skip-tls-verify: true",
            user: "client-certificate-data: \(base64(testCertificatePEM))\nclient-key-data: \(base64(testKeyPEM))",
            in: directory)
        let configuration = try KubeConfigLoader.load(file: file)
        #expect(configuration.insecureSkipTLSVerify)
        #expect(configuration.clientKeyPEM == Array(testKeyPEM.utf8))
        #expect(configuration.credentials == .none)
        #expect(throws: Never.self) { try configuration.makeTLSConfiguration() }
    }

    @Test func tokenWinsOverTokenFile() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let file = try kubeconfig(
            cluster: "server: https://api.test", user: "token: direct\ntokenFile: /nonexistent", in: directory)
        #expect(try KubeConfigLoader.load(file: file).credentials == .token(BearerToken("direct")))
    }

    @Test func execPluginIsParsedWithItsCommandResolved() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let exec = """
            exec:
              apiVersion: client.authentication.k8s.io/v1
              command: ./bin/credential
              args: [get, --cluster, c1]
              env: [{name: REGION, value: eu}]
              provideClusterInfo: true
              interactiveMode: Never
            """
        let file = try kubeconfig(cluster: "server: https://api.test", user: exec, in: directory)
        let configuration = try KubeConfigLoader.load(file: file)
        guard case .exec(let plugin) = configuration.credentials else {
            Issue.record("expected an exec plugin, got \(configuration.credentials)")
            return
        }
        #expect(plugin.command == directory.path + "/./bin/credential")
        #expect(plugin.arguments == ["get", "--cluster", "c1"])
        #expect(plugin.environment == [.init(name: "REGION", value: "eu")])
        #expect(plugin.provideClusterInfo)
        #expect(plugin.origin == "\(file): users[0].user.exec")
    }

    @Test(arguments: [
        ("server: https://api.test", "client-key: key.pem", "users[0].user.client-key", "file {dir}/key.pem not readable"),
        ("server: https://api.test", "tokenFile: missing-token", "users[0].user.tokenFile", "file {dir}/missing-token not readable"),
        (
            "server: https://api.test", "client-key-data: \(base64(testKeyPEM))", "users[0].user.client-certificate",
            "is required with users[0].user.client-key-data"
        ),
        (
            "server: https://api.test", "client-certificate-data: \(base64("junk"))\nclient-key-data: \(base64(testKeyPEM))",
            "users[0].user.client-certificate-data", "no valid PEM certificate"
        ),
        (
            "server: https://api.test", "token: x\nauth-provider: {name: gcp}", "users[0].user.auth-provider",
            "is not supported (use a token, a client certificate or an exec plugin)"
        ),
        ("certificate-authority: ca.pem", "token: x", "clusters[0].cluster.server", "is required"),
        (
            "server: https://api.test\ncertificate-authority-data: '%%%'", "token: x",
            "clusters[0].cluster.certificate-authority-data", "is not valid base64"
        ),
        (
            "server: https://api.test\ninsecure-skip-tls-verify: true\ncertificate-authority-data: \(base64(testCertificatePEM))",
            "token: x", "clusters[0].cluster.insecure-skip-tls-verify", "cannot be combined with a certificate authority"
        ),
        (
            "server: https://api.test", "exec: {apiVersion: client.authentication.k8s.io/v1alpha1, command: x}",
            "users[0].user.exec.apiVersion",
            "\"client.authentication.k8s.io/v1alpha1\" is not supported (use one of client.authentication.k8s.io/v1, client.authentication.k8s.io/v1beta1)"
        ),
    ])
    func brokenFieldsAreNamedWithTheirFile(cluster: String, user: String, field: String, message: String) throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let file = try kubeconfig(cluster: cluster, user: user, in: directory)
        let expected = "\(file): \(field): \(message.replacingOccurrences(of: "{dir}", with: directory.path))"
        #expect(loadError(file) == expected)
    }

    @Test func missingContextAndBadYAMLAreReported() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let noContext = try directory.write("a", "apiVersion: v1\nclusters: []\n")
        #expect(loadError(noContext) == "\(noContext): current-context: is not set")
        let unknown = try directory.write("b", "current-context: x\ncontexts: [{name: y, context: {cluster: c}}]\n")
        #expect(loadError(unknown) == "\(unknown): current-context: context \"x\" not found in contexts")
        let noCluster = try directory.write("c", "current-context: y\ncontexts: [{name: y, context: {cluster: c}}]\n")
        #expect(loadError(noCluster) == "\(noCluster): contexts[0].context.cluster: cluster \"c\" not found in clusters")
        let broken = try directory.write("d", "clusters: [\n")
        #expect(loadError(broken)?.hasPrefix("\(broken): invalid YAML: ") == true)
        #expect(loadError(directory.path + "/none") == "\(directory.path)/none: does not exist")
    }

    @Test func errorsNeverContainTheToken() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let file = try kubeconfig(
            cluster: "server: https://api.test", user: "token: sup3rs3cret\nclient-key: nope.pem", in: directory)
        let text = try #require(loadError(file))
        #expect(text.contains("client-key"))
        #expect(!text.contains("sup3rs3cret"))
    }
}

/// The description of the error loading `file` throws, if any.
private func loadError(_ file: String) -> String? {
    do {
        _ = try KubeConfigLoader.load(file: file)
        return nil
    } catch {
        return "\(error)"
    }
}
