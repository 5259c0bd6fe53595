import Testing

@testable import KubeProxyRuntime

struct WallTimeTests {
    @Test(arguments: [
        (WallTime(seconds: 0), "1970-01-01T00:00:00Z"),
        (WallTime(seconds: 1_714_557_600), "2024-05-01T10:00:00Z"),
        (WallTime(seconds: 1_714_557_600, nanoseconds: 500_000_000), "2024-05-01T10:00:00.5Z"),
        (WallTime(seconds: 1_714_557_600, nanoseconds: 123_456_789), "2024-05-01T10:00:00.123456789Z"),
        (WallTime(seconds: 1_714_557_600, nanoseconds: 1_000), "2024-05-01T10:00:00.000001Z"),
        (WallTime(seconds: 1_709_164_799), "2024-02-28T23:59:59Z"),
        (WallTime(seconds: 1_709_164_800), "2024-02-29T00:00:00Z"),
        (WallTime(seconds: 951_782_400), "2000-02-29T00:00:00Z"),
        (WallTime(sinceEpoch: .milliseconds(-500)), "1969-12-31T23:59:59.5Z"),
        (WallTime.goZeroTime, "0001-01-01T00:00:00Z"),
    ])
    func formatsLikeGoRFC3339Nano(time: WallTime, text: String) {
        #expect(time.rfc3339 == text)
        #expect(WallTime(rfc3339: text) == time, "parsing the output gives the instant back")
    }

    @Test(arguments: [
        ("2024-05-01T12:00:00+02:00", WallTime(seconds: 1_714_557_600)),
        ("2024-05-01T05:30:00-04:30", WallTime(seconds: 1_714_557_600)),
        ("2024-05-01T10:00:00.25Z", WallTime(seconds: 1_714_557_600, nanoseconds: 250_000_000)),
        ("2024-05-01T10:00:00.1234567891Z", WallTime(seconds: 1_714_557_600, nanoseconds: 123_456_789)),
        ("2024-05-01t10:00:00z", WallTime(seconds: 1_714_557_600)),
    ])
    func parsesZonesAndFractions(text: String, time: WallTime) {
        #expect(WallTime(rfc3339: text) == time)
    }

    @Test(arguments: [
        "", "2024-05-01", "2024-05-01T10:00:00", "2024-05-01 10:00:00Z", "2024-13-01T10:00:00Z",
        "2023-02-29T10:00:00Z", "2024-05-01T24:00:00Z", "2024-05-01T10:00:00+0200", "2024-05-01T10:00:00Zjunk",
        "24-05-01T10:00:00Z",
    ])
    func rejectsMalformedText(text: String) {
        #expect(WallTime(rfc3339: text) == nil)
    }

    @Test func secondsSinceEpochKeepsTheFraction() {
        #expect(WallTime(seconds: 10, nanoseconds: 250_000_000).secondsSinceEpoch == 10.25)
    }

    @Test func nowIsAfter2024() {
        #expect(WallTime.now > WallTime(seconds: 1_704_067_200))
    }
}
