import Foundation
import Logging
import Synchronization
import Testing

@testable import KubeClient

/// A wall clock the test moves by hand.
private final class TestWallClock: Sendable {
    private let date = Mutex(Date(timeIntervalSince1970: 1_800_000_000))

    var now: Date { date.withLock { $0 } }

    func advance(by seconds: TimeInterval) {
        date.withLock { $0 = $0.addingTimeInterval(seconds) }
    }
}

/// An executable shell script in `directory` that counts its runs, saves `KUBERNETES_EXEC_INFO`
/// and prints `body` (which may use `$count`).
private func execScript(_ directory: TemporaryDirectory, body: String) throws -> String {
    let path = try directory.write(
        "plugin.sh",
        """
        #!/bin/sh
        count=$(cat "$STATE/count" 2>/dev/null || echo 0)
        count=$((count + 1))
        echo "$count" > "$STATE/count"
        printf '%s' "$KUBERNETES_EXEC_INFO" > "$STATE/info"
        \(body)

        """)
    try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
    return path
}

private func plugin(_ command: String, state: String, apiVersion: String = "client.authentication.k8s.io/v1")
    -> ClientConfiguration
{
    let exec = ExecPluginConfig(
        apiVersion: apiVersion, command: command, arguments: ["--flag"],
        environment: [.init(name: "STATE", value: state)], provideClusterInfo: true, origin: "/kc: users[0].user.exec")
    return ClientConfiguration(
        server: "https://api.test:6443", certificateAuthorityPEM: Array(testCertificatePEM.utf8),
        credentials: .exec(exec))
}

private let quiet = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

@Suite struct CredentialProviderTests {
    @Test func execPluginTokenIsCachedUntilItExpires() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let script = try execScript(
            directory,
            body: """
                printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"token-%s","expirationTimestamp":"2027-06-01T00:00:00Z"}}' "$count"
                """)
        let clock = TestWallClock()
        let provider = CredentialProvider(
            configuration: plugin(script, state: directory.path), environment: ProcessInfo.processInfo.environment,
            now: { clock.now }, logger: quiet)

        #expect(try await provider.current().token?.value == "token-1")
        #expect(try await provider.current().token?.value == "token-1")
        clock.advance(by: 86_400 * 365)
        #expect(try await provider.current().token?.value == "token-2")
        await provider.invalidate()
        #expect(try await provider.current().token?.value == "token-3")
    }

    @Test func thePluginIsToldItIsNotInteractiveAndGivenTheCluster() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let script = try execScript(
            directory,
            body: #"echo '{"apiVersion":"client.authentication.k8s.io/v1","status":{"token":"t"}}'"#)
        let provider = CredentialProvider(
            configuration: plugin(script, state: directory.path), environment: ProcessInfo.processInfo.environment,
            logger: quiet)
        _ = try await provider.current()
        let info = try JSONDecoder().decode(
            ExecCredential.self, from: Data(contentsOf: URL(fileURLWithPath: directory.path + "/info")))
        #expect(info.apiVersion == "client.authentication.k8s.io/v1")
        #expect(info.kind == "ExecCredential")
        #expect(info.spec?.interactive == false)
        #expect(info.spec?.cluster?.server == "https://api.test:6443")
        #expect(info.spec?.cluster?.certificateAuthorityData == base64(testCertificatePEM))
    }

    @Test func aClientCertificateFromThePluginIsPassedOn() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let status = ExecCredential.CredentialStatus(clientCertificateData: testCertificatePEM, clientKeyData: testKeyPEM)
        let output = try JSONEncoder().encode(
            ExecCredential(apiVersion: "client.authentication.k8s.io/v1beta1", kind: "ExecCredential", status: status))
        try directory.write("output.json", String(decoding: output, as: UTF8.self))
        let script = try execScript(directory, body: "cat \"$STATE/output.json\"")
        let provider = CredentialProvider(
            configuration: plugin(script, state: directory.path, apiVersion: "client.authentication.k8s.io/v1beta1"),
            environment: ProcessInfo.processInfo.environment, logger: quiet)
        let credentials = try await provider.current()
        #expect(credentials.token == nil)
        #expect(credentials.certificatePEM == Array(testCertificatePEM.utf8))
        #expect(credentials.keyPEM == Array(testKeyPEM.utf8))
    }

    @Test(arguments: [
        ("echo 'role missing' >&2; exit 3", "exited with status 3: role missing"),
        (
            #"echo '{"apiVersion":"client.authentication.k8s.io/v1beta1","status":{"token":"leaky"}}'"#,
            #"answered in apiVersion "client.authentication.k8s.io/v1beta1", expected "client.authentication.k8s.io/v1""#
        ),
        (#"echo '{"apiVersion":"client.authentication.k8s.io/v1"}'"#, "printed an ExecCredential without status"),
        (
            #"echo '{"apiVersion":"client.authentication.k8s.io/v1","status":{}}'"#,
            "returned neither a token nor a client certificate"
        ),
        (
            #"echo '{"apiVersion":"client.authentication.k8s.io/v1","status":{"token":"leaky","expirationTimestamp":"soon"}}'"#,
            #"expirationTimestamp "soon" is not RFC 3339"#
        ),
        ("echo 'token: leaky'", "printed no valid ExecCredential"),
        // Endless output is cut off at the limit (without it this would fill memory for 60 s).
        ("exec yes leaky", "printed more than 1 MiB on stdout; stopped"),
        // stderr is quoted escaped, so it cannot forge log lines or drive a terminal.
        (#"printf 'bad\033[31m\nred' >&2; exit 2"#, #"exited with status 2: bad\u{1B}[31m\nred"#),
    ])
    func failingPluginsAreReportedWithoutTheirOutput(body: String, message: String) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let script = try execScript(directory, body: body)
        let provider = CredentialProvider(
            configuration: plugin(script, state: directory.path), environment: ProcessInfo.processInfo.environment,
            logger: quiet)
        do {
            _ = try await provider.current()
            Issue.record("expected the plugin to fail")
        } catch {
            let text = "\(error)"
            #expect(text.hasPrefix("/kc: users[0].user.exec (command \(script)): \(message)"))
            #expect(!text.contains("leaky"))
        }
    }

    @Test func aPluginThatHangsIsKilledAtItsTimeout() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let script = try execScript(directory, body: "exec sleep 30")
        guard case .exec(let config) = plugin(script, state: directory.path).credentials else {
            Issue.record("not an exec configuration")
            return
        }
        let started = ContinuousClock.now
        await #expect(
            throws: APIClientError.credential(
                source: "/kc: users[0].user.exec (command \(script))", message: "timed out after 1 s")
        ) {
            try await ExecPlugin.run(
                config, cluster: nil, environment: ProcessInfo.processInfo.environment, timeout: 1)
        }
        // Killed, not waited for (SIGTERM is blocked in the plugin, inherited from a dispatch thread).
        #expect(ContinuousClock.now - started < .seconds(20))
    }

    @Test func aMissingCommandSaysSoWithTheInstallHint() async throws {
        let exec = ExecPluginConfig(
            apiVersion: "client.authentication.k8s.io/v1", command: "no-such-credential-helper-xyz",
            installHint: "install it from the vendor", origin: "/kc: users[0].user.exec")
        let provider = CredentialProvider(
            configuration: ClientConfiguration(server: "https://h", credentials: .exec(exec)),
            environment: ["PATH": "/nonexistent"], logger: quiet)
        await #expect(
            throws: APIClientError.credential(
                source: "/kc: users[0].user.exec (command no-such-credential-helper-xyz)",
                message: "command not found; install it from the vendor")
        ) {
            _ = try await provider.current()
        }
    }

    @Test func tokenFileIsReReadEveryMinuteAndAfterAnUnauthorized() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let file = try directory.write("token", "one\n")
        let clock = TestWallClock()
        let provider = CredentialProvider(
            configuration: ClientConfiguration(server: "https://h", credentials: .tokenFile(file)),
            tokenFileRefresh: 60, now: { clock.now }, logger: quiet)
        #expect(try await provider.current().token?.value == "one")
        try directory.write("token", "two")
        clock.advance(by: 30)
        #expect(try await provider.current().token?.value == "one")
        clock.advance(by: 31)
        #expect(try await provider.current().token?.value == "two")
        try directory.write("token", "three")
        await provider.invalidate()
        #expect(try await provider.current().token?.value == "three")
    }

    @Test func aVanishedTokenFileKeepsThePreviousTokenButIsAnErrorAtFirst() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let file = try directory.write("token", "kept")
        let clock = TestWallClock()
        let provider = CredentialProvider(
            configuration: ClientConfiguration(server: "https://h", credentials: .tokenFile(file)),
            now: { clock.now }, logger: quiet)
        #expect(try await provider.current().token?.value == "kept")
        try directory.delete("token")
        clock.advance(by: 120)
        #expect(try await provider.current().token?.value == "kept")

        let fresh = CredentialProvider(
            configuration: ClientConfiguration(server: "https://h", credentials: .tokenFile(file)), logger: quiet)
        await #expect(throws: APIClientError.credential(source: "token file \(file)", message: "not readable")) {
            _ = try await fresh.current()
        }
    }
}
