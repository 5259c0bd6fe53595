import KubeAPI
import Testing

@testable import KubeClient

@Suite struct ServerURLTests {
    @Test(arguments: [
        ("http://user:s3cr3t@127.0.0.1:8080", "http://REDACTED@127.0.0.1:8080"),
        (
            "https://admin:p%40ss@api.example:6443/prefix/api/v1/services?watch=true",
            "https://REDACTED@api.example:6443/prefix/api/v1/services?watch=true"
        ),
        ("https://token-only@[fd00::1]:6443", "https://REDACTED@[fd00::1]:6443"),
        // Characters a URL forbids in a password but people type: still hidden.
        ("http://u:pa/ss?x#y@host:80/api", "http://REDACTED@host:80/api"),
        ("http://u:p@ss@host", "http://REDACTED@host"),
        ("user:s3cr3t@host:6443", "REDACTED@host:6443"),
    ])
    func userInfoIsReplaced(url: String, redacted: String) {
        #expect(ServerURL.redactingUserInfo(url) == redacted)
        #expect(ServerURL.hasUserInfo(url))
        #expect(!ServerURL.redactingUserInfo(url).contains("s3cr3t"))
    }

    @Test(arguments: ["https://10.0.0.1:6443", "http://127.0.0.1:8080/api/v1/services?labelSelector=a%40b", "host:6443", ""])
    func aURLWithoutUserInfoIsUnchanged(url: String) {
        #expect(ServerURL.redactingUserInfo(url) == url)
        #expect(!ServerURL.hasUserInfo(url))
    }

    @Test func theConfigurationPrintsItsServerRedacted() {
        let configuration = ClientConfiguration(server: "http://user:s3cr3t@127.0.0.1:8080", origin: "test")
        #expect(configuration.redactedServer == "http://REDACTED@127.0.0.1:8080")
        #expect("\(configuration)" == "http://REDACTED@127.0.0.1:8080 (test)")
    }

    @Test func errorsOfAMachineOnARedactedServerNameNoPassword() throws {
        // Given the raw URL, the machine still names requests without the password.
        var machine = WatchStateMachine<Service>(
            resource: .services, server: "http://user:s3cr3t@127.0.0.1:8080", random: { 0 })
        guard case .list(let request) = machine.start().action else {
            Issue.record("the machine did not start with a list")
            return
        }
        let answered = machine.listResponded(APIResponse(status: 500, body: Array("boom".utf8)), now: .zero)
        let text = "\(try #require(answered.problem))"
        #expect(text.hasPrefix("GET http://REDACTED@127.0.0.1:8080\(request.pathAndQuery): 500: boom"))
        #expect(!text.contains("s3cr3t"))
    }
}
