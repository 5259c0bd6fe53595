import Testing

@testable import KubeProxyCore

/// The name checks work on UTF-8 bytes; they must accept exactly what a check of characters
/// accepts: ASCII `[a-z0-9-]`, alphanumeric ends, the length limits, and nothing non-ASCII.
@Suite struct NameSyntaxTests {
    @Test(arguments: [
        ("web", true), ("a", true), ("0abc-9", true), (String(repeating: "a", count: 63), true),
        (String(repeating: "a", count: 64), false), ("", false), ("-web", false), ("web-", false), ("Web", false),
        ("wéb", false), ("we\u{301}b", false), ("ｗeb", false), ("web\u{0}", false), ("a_b", false), ("a.b", false),
    ])
    func dns1123Label(name: String, valid: Bool) {
        #expect(APIValidation.isDNS1123Label(name) == valid)
    }

    @Test(arguments: [
        ("kube-system", true), ("a.b-c.d", true), (String(repeating: "a.", count: 126) + "a", true),
        (String(repeating: "a.", count: 126) + "ab", false), ("a..b", false), (".a", false), ("é.a", false),
        ("a.-b", false), ("", false),
    ])
    func dns1123Subdomain(name: String, valid: Bool) {
        #expect(APIValidation.isDNS1123Subdomain(name) == valid)
    }
}
