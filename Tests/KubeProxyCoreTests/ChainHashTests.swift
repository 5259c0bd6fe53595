import KubeProxyCore
import Testing

@Suite("ChainHash")
struct ChainHashTests {
    @Test(
        "SHA-256 matches the FIPS 180-4 vectors",
        arguments: [
            ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
            ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
            (
                "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
                "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
            ),
            // 64 bytes: the padding needs a second block.
            (
                String(repeating: "a", count: 64),
                "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"
            ),
        ])
    func sha256(input: String, hex: String) {
        let digest = SHA256.hash(Array(input.utf8))
        #expect(digest.map { String($0, radix: 16).leftPadded(to: 2) }.joined() == hex)
    }

    @Test(
        "base32 matches RFC 4648 §10",
        arguments: [
            ("", ""), ("f", "MY======"), ("fo", "MZXQ===="), ("foo", "MZXW6==="), ("foob", "MZXW6YQ="),
            ("fooba", "MZXW6YTB"), ("foobar", "MZXW6YTBOI======"),
        ])
    func base32(input: String, encoded: String) {
        #expect(ChainHash.base32(Array(input.utf8)) == encoded)
    }

    /// Upstream's chain-name hashes (iptables: 16 characters; nftables: 8), as upstream's tests expect them.
    @Test(
        "chain-name hash prefixes",
        arguments: [
            ("ns1/svc1:p80tcp", 16, "XPGD46QRK7WJZT7O"),
            ("ns2/svc2:p8080tcp", 16, "2VJB64SDSIJUP5T6"),
            ("ns1/svc1:p80tcp10.180.0.1:80", 16, "SXIVWICOYRO3J4NJ"),
            ("ns1/svc1/tcp/p80", 8, "ULMVA6XW"),
            ("testing/service/tcp/http", 8, "P4ZYZVCF"),
            ("ns1/svc1/tcp/p80__10.180.0.1/80", 8, "5OJB2KTY"),
        ])
    func prefix(input: String, length: Int, expected: String) {
        #expect(ChainHash.prefix(of: input, length: length) == expected)
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        String(repeating: "0", count: max(0, width - count)) + self
    }
}
