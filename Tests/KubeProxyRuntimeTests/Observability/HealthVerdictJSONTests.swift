import KubeProxyCore
import Testing

@testable import KubeProxyRuntime

struct HealthVerdictJSONTests {
    private static let t0 = WallTime(seconds: 1_714_557_600)
    private static let t1 = WallTime(seconds: 1_714_557_630, nanoseconds: 5_000_000)

    @Test func fullHealthzVerdictMatchesGoJSONMarshal() {
        let verdict = HealthVerdict(
            statusCode: 200, lastUpdated: Self.t1, currentTime: Self.t1, nodeEligible: true, healthy: true,
            status: [
                .ipv6: .init(lastUpdated: nil, healthy: true),
                .ipv4: .init(lastUpdated: Self.t0, healthy: true),
            ])
        #expect(
            verdict.json
                == #"{"lastUpdated":"2024-05-01T10:00:30.005Z","currentTime":"2024-05-01T10:00:30.005Z","nodeEligible":true,"healthy":true,"#
                + #""status":{"IPv4":{"lastUpdated":"2024-05-01T10:00:00Z","healthy":true},"IPv6":{"lastUpdated":"0001-01-01T00:00:00Z","healthy":true}}}"#
        )
    }

    @Test func emptyStatusAndUnknownNodeAreOmitted() {
        let verdict = HealthVerdict<WallTime>(
            statusCode: 503, lastUpdated: nil, currentTime: Self.t0, nodeEligible: nil, healthy: false, status: [:])
        #expect(
            verdict.json
                == #"{"lastUpdated":"0001-01-01T00:00:00Z","currentTime":"2024-05-01T10:00:00Z","healthy":false}"#)
    }

    @Test func reasonComesLastAndIsEscaped() {
        let verdict = HealthVerdict<WallTime>(
            statusCode: 503, lastUpdated: nil, currentTime: Self.t0, nodeEligible: nil, healthy: true, status: [:],
            reason: "IPv4: 2 \"ports\"\\x\n\u{1}")
        #expect(
            verdict.json
                == #"{"lastUpdated":"0001-01-01T00:00:00Z","currentTime":"2024-05-01T10:00:00Z","healthy":true,"#
                + #""reason":"IPv4: 2 \"ports\"\\x\n\u0001"}"#)
    }
}
