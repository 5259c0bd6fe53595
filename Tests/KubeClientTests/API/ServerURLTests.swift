import Foundation
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

    @Test func theConfigurationKeepsItsServerWithoutUserInfoAndStillRedactsOne() {
        var configuration = ClientConfiguration(server: "http://user:s3cr3t@127.0.0.1:8080", origin: "test")
        #expect(configuration.server == "http://127.0.0.1:8080")
        #expect("\(configuration)" == "http://127.0.0.1:8080 (test, auth: basic auth from the server URL)")
        // Defence in depth: a server assigned with user info is still printed redacted.
        configuration.server = "http://user:s3cr3t@127.0.0.1:8080"
        #expect(configuration.redactedServer == "http://REDACTED@127.0.0.1:8080")
        #expect("\(configuration)".hasPrefix("http://REDACTED@127.0.0.1:8080 (test"))
    }

    @Test(arguments: [
        ("http://user:s3cr3t@127.0.0.1:8080", "http://127.0.0.1:8080", "user:s3cr3t"),
        ("https://us%40er:pa%3Ass%2Fw@api.example:6443/prefix", "https://api.example:6443/prefix", "us@er:pa:ss/w"),
        ("http://u:p@ss@host", "http://host", "u:p@ss"),
        ("http://only-user@host", "http://host", "only-user:"),
        ("user:bad%zz@host:6443", "host:6443", "user:bad%zz"),
    ])
    func userInfoIsSplitOffAndPercentDecoded(url: String, server: String, credential: String) throws {
        let (clean, userInfo) = ServerUserInfo.split(url)
        #expect(clean == server)
        let info = try #require(userInfo)
        #expect(info.authorizationValue == "Basic " + Data(credential.utf8).base64EncodedString())
        #expect(info.redactedURL == ServerURL.redactingUserInfo(url))
        var dumped = ""
        dump(info, to: &dumped)
        #expect("\(info)" == "<redacted>" && String(reflecting: info) == "<redacted>")
        #expect(!dumped.contains("s3cr3t"))
    }

    @Test func aURLWithoutUserInfoIsNotSplit() {
        let (server, userInfo) = ServerUserInfo.split("https://10.0.0.1:6443/api")
        #expect(server == "https://10.0.0.1:6443/api")
        #expect(userInfo == nil)
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
