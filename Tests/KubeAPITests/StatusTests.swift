import Foundation
import KubeAPI
import KubeProxyTesting
import Testing

@Suite struct StatusTests {
    @Test func decodesEveryFieldOfTheUpstreamFixture() throws {
        let status = try Fixtures.decode(Status.self, from: "core.v1.Status.json")
        #expect(status.code == 6)
        #expect(
            status.metadata
                == ListMeta(
                    resourceVersion: "resourceVersionValue", continue: "continueValue", remainingItemCount: 4,
                    selfLink: "selfLinkValue"))
        #expect(status.details?.retryAfterSeconds == 5)
        #expect(
            status.details?.causes == [StatusCause(reason: "reasonValue", message: "messageValue", field: "fieldValue")]
        )
    }

    @Test func roundTripsEveryModelledField() throws {
        try RoundTrip.check(Status.self, Fixtures.data("core.v1.Status.json"), unmodelled: ["metadata.shardInfo"])
    }
}
