import KubeAPI
import Testing

@testable import KubeClient

@Suite struct APIResponseStatusTests {
    @Test func aStatusBodyIsDecodedAndItsCodeDefaultsToTheHTTPStatus() {
        let response = APIResponse(
            status: 504, body: Array(#"{"kind":"Status","reason":"Timeout","message":"Too large resource version: 9, current: 5"}"#.utf8))
        let status = response.decodedStatus
        #expect(status.code == 504)
        #expect(status.reason == "Timeout")
        #expect(status.isResourceVersionTooLarge)
        #expect(!status.isExpired)
    }

    @Test func aBodyThatIsNotAStatusBecomesTheMessageAsAnEscapedExcerpt() {
        let response = APIResponse(status: 502, body: Array("<html>\nBad Gateway\n</html>".utf8))
        #expect(response.decodedStatus == Status(message: #"<html>\nBad Gateway\n</html>"#, code: 502))
        let huge = APIResponse(status: 502, body: [UInt8](repeating: UInt8(ascii: "z"), count: 1 << 20))
        #expect(huge.decodedStatus.message == String(repeating: "z", count: 200) + "…(1048576 bytes in all)")
    }

    @Test(arguments: [
        (Status(code: 410), true), (Status(reason: "Gone", code: 500), true), (Status(reason: "Expired"), true),
        (Status(reason: "NotFound", code: 404), false),
    ])
    func expiryIsRecognisedByCodeOrReason(status: Status, expired: Bool) {
        #expect(status.isExpired == expired)
    }

    @Test func retryAfterComesFromTheHeaderElseTheDetails() {
        let details = Status(details: StatusDetails(retryAfterSeconds: 3), code: 429)
        #expect(APIResponse(status: 429, retryAfterSeconds: 9).retryAfter(details) == .seconds(9))
        #expect(APIResponse(status: 429).retryAfter(details) == .seconds(3))
        #expect(APIResponse(status: 429).retryAfter(Status(code: 429)) == nil)
    }
}
