import Foundation
import Testing

@testable import KubeClient

@Suite struct ClientConfigurationTests {
    /// A directory with a kubeconfig named `name` pointing at `server`, and in-cluster files.
    struct Setup {
        let directory: TemporaryDirectory
        let inCluster: InClusterPaths

        init() throws {
            directory = try TemporaryDirectory()
            inCluster = InClusterPaths(
                tokenFile: try directory.write("sa-token", "service-account-token\n"),
                certificateAuthorityFile: try directory.write("sa-ca.crt", testCertificatePEM))
        }

        func kubeconfig(_ name: String, server: String) throws -> String {
            try directory.write(
                name,
                """
                current-context: c
                contexts: [{name: c, context: {cluster: k, user: u}}]
                clusters: [{name: k, cluster: {server: "\(server)"}}]
                users: [{name: u, user: {token: t}}]
                """)
        }
    }

    @Test func theKubeconfigFlagComesFirst() throws {
        let setup = try Setup()
        defer { setup.directory.remove() }
        let flag = try setup.kubeconfig("flag", server: "https://flag")
        let env = try setup.kubeconfig("env", server: "https://env")
        let environment = ["KUBECONFIG": env, "KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"]
        let configuration = try ClientConfiguration.load(
            kubeconfig: flag, master: nil, environment: environment, inCluster: setup.inCluster)
        #expect(configuration.server == "https://flag")
    }

    @Test func thenTheFirstFileOfKUBECONFIG() throws {
        let setup = try Setup()
        defer { setup.directory.remove() }
        let env = try setup.kubeconfig("env", server: "https://env")
        let environment = ["KUBECONFIG": "\(env):/elsewhere", "KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"]
        let configuration = try ClientConfiguration.load(
            kubeconfig: "", master: nil, environment: environment, inCluster: setup.inCluster)
        #expect(configuration.server == "https://env")
    }

    @Test(arguments: [("10.96.0.1", "https://10.96.0.1:443"), ("fd00::1", "https://[fd00::1]:443")])
    func thenTheInClusterServiceAccount(host: String, server: String) throws {
        let setup = try Setup()
        defer { setup.directory.remove() }
        try FileManager.default.createDirectory(atPath: setup.directory.path + "/.kube", withIntermediateDirectories: true)
        _ = try setup.kubeconfig(".kube/config", server: "https://home")
        let environment = ["HOME": setup.directory.path, "KUBERNETES_SERVICE_HOST": host, "KUBERNETES_SERVICE_PORT": "443"]
        let configuration = try ClientConfiguration.load(
            kubeconfig: nil, master: nil, environment: environment, inCluster: setup.inCluster)
        #expect(configuration.server == server)
        #expect(configuration.credentials == .tokenFile(setup.inCluster.tokenFile))
        #expect(configuration.certificateAuthorityPEM == Array(testCertificatePEM.utf8))
        #expect(configuration.origin == "in-cluster service account")
    }

    @Test func thenTheHomeKubeconfig() throws {
        let setup = try Setup()
        defer { setup.directory.remove() }
        try FileManager.default.createDirectory(atPath: setup.directory.path + "/.kube", withIntermediateDirectories: true)
        _ = try setup.kubeconfig(".kube/config", server: "https://home")
        let configuration = try ClientConfiguration.load(
            kubeconfig: nil, master: nil, environment: ["HOME": setup.directory.path], inCluster: setup.inCluster)
        #expect(configuration.server == "https://home")
    }

    @Test func masterOverridesTheServerOrStandsAlone() throws {
        let setup = try Setup()
        defer { setup.directory.remove() }
        let flag = try setup.kubeconfig("flag", server: "https://flag")
        let overridden = try ClientConfiguration.load(
            kubeconfig: flag, master: "https://127.0.0.1:6443", environment: [:], inCluster: setup.inCluster)
        #expect(overridden.server == "https://127.0.0.1:6443")
        #expect(overridden.credentials == .token(BearerToken("t")))
        let alone = try ClientConfiguration.load(
            kubeconfig: nil, master: "127.0.0.1:8080", environment: [:], inCluster: setup.inCluster)
        #expect(alone.server == "http://127.0.0.1:8080")
        #expect(alone.credentials == .none)
    }

    @Test func nothingToGoByIsAnErrorThatSaysWhatWasTried() throws {
        let setup = try Setup()
        defer { setup.directory.remove() }
        #expect(throws: APIClientError.self) {
            try ClientConfiguration.load(
                kubeconfig: nil, master: nil, environment: ["HOME": setup.directory.path], inCluster: setup.inCluster)
        }
        do {
            _ = try ClientConfiguration.load(
                kubeconfig: nil, master: nil, environment: ["HOME": setup.directory.path], inCluster: setup.inCluster)
        } catch {
            #expect("\(error)".hasPrefix("\(setup.directory.path)/.kube/config: does not exist"))
            #expect("\(error)".contains("KUBERNETES_SERVICE_HOST"))
        }
    }

    @Test func aMissingServiceAccountTokenNamesItsFile() throws {
        let setup = try Setup()
        defer { setup.directory.remove() }
        let paths = InClusterPaths(
            tokenFile: setup.directory.path + "/absent", certificateAuthorityFile: setup.inCluster.certificateAuthorityFile)
        let environment = ["KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"]
        #expect(
            throws: APIClientError.configuration(
                file: setup.directory.path + "/absent", field: nil,
                message: "service-account token not readable (in-cluster configuration)")
        ) {
            try ClientConfiguration.load(kubeconfig: nil, master: nil, environment: environment, inCluster: paths)
        }
    }

    @Test func theDescriptionShowsTheAuthKindButNoSecrets() {
        let configuration = ClientConfiguration(
            server: "https://h", origin: "test", clientCertificatePEM: [1], clientKeyPEM: Array("KEYMATERIAL".utf8),
            credentials: .token(BearerToken("tok3n")))
        #expect("\(configuration)" == "https://h (test, auth: token + client certificate)")
    }

    // MARK: - User info and size limits

    @Test func userInfoInMasterIsRejectedWithThePasswordRedacted() throws {
        let setup = try Setup()
        defer { setup.directory.remove() }
        let kubeconfig = try setup.kubeconfig("k", server: "https://ok")
        for file in [nil, kubeconfig] {
            do {
                _ = try ClientConfiguration.load(
                    kubeconfig: file, master: "http://user:s3cr3tpass@127.0.0.1:8080", environment: [:],
                    inCluster: setup.inCluster)
                Issue.record("user info in --master was accepted")
            } catch {
                let text = "\(error)"
                #expect(text.hasPrefix(#"--master: "http://REDACTED@127.0.0.1:8080" carries user info"#))
                #expect(text.contains("basic auth is not supported"))
                #expect(!text.contains("s3cr3tpass"))
            }
        }
    }

    @Test func userInfoInAKubeconfigServerIsRejectedNamingTheField() throws {
        let setup = try Setup()
        defer { setup.directory.remove() }
        let file = try setup.kubeconfig("k", server: "https://admin:s3cr3tpass@10.0.0.1:6443")
        do {
            _ = try ClientConfiguration.load(kubeconfig: file, master: nil, environment: [:], inCluster: setup.inCluster)
            Issue.record("user info in server was accepted")
        } catch {
            let text = "\(error)"
            #expect(text.hasPrefix(#"\#(file): clusters[0].cluster.server: "https://REDACTED@10.0.0.1:6443" carries"#))
            #expect(!text.contains("s3cr3tpass"))
        }
    }

    @Test func aKubeconfigAboveTheSizeLimitIsRefusedWithoutReadingItAll() throws {
        let setup = try Setup()
        defer { setup.directory.remove() }
        let big = setup.directory.path + "/big"
        #expect(FileManager.default.createFile(atPath: big, contents: nil))
        let handle = try #require(FileHandle(forWritingAtPath: big))
        try handle.truncate(atOffset: UInt64(APILimits.configurationFileBytes + 1))
        try handle.close()
        for file in [big, "/dev/zero"] {
            #expect(
                throws: APIClientError.configuration(file: file, field: nil, message: "larger than the 16 MiB limit")
            ) {
                try ClientConfiguration.load(kubeconfig: file, master: nil, environment: [:], inCluster: setup.inCluster)
            }
        }
    }

    @Test func aFileAtTheSizeLimitIsRead() throws {
        let setup = try Setup()
        defer { setup.directory.remove() }
        let file = try setup.directory.write("exact", String(repeating: "x", count: 100))
        #expect(BoundedFile.read(file, limit: 100) == .success([UInt8](repeating: UInt8(ascii: "x"), count: 100)))
        #expect(BoundedFile.read(file, limit: 99) == .failure(.tooLarge(limit: 99)))
        #expect(BoundedFile.read(setup.directory.path, limit: 99) == .failure(.unreadable))
    }
}
