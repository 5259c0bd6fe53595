import KubeAPI

/// Validation of the API objects kube-proxy reads, in the spirit of the API server's own checks.
///
/// Why: objects from a real API server were validated there, but objects from manifest files
/// were not, and an informer can still deliver something odd. Every check returns
/// `[StatusCause]` with a precise field path (`spec.ports[1].port`,
/// `endpoints[2].addresses[0]`), so the manifest reader rejects a bad document with a message
/// that names the field, and the trackers refuse (and report) a bad object without it affecting
/// any other object. An empty result means the object is safe to convert.
///
/// The checks cover what matters to a proxy (names, IPs, ports, protocols, enum-like fields);
/// they do not re-implement every API-server rule (e.g. node-port ranges or immutability).
public enum APIValidation {
    /// The protocols a Service or endpoint port may use.
    public static let supportedProtocols = TransportProtocol.allCases.map(\.rawValue)

    static let portRangeMessage = "must be between 1 and 65535, inclusive"
    static let portOrZeroMessage = "must be between 0 and 65535, inclusive"

    // MARK: - Shared rules

    /// `metadata.name` (required) and `metadata.namespace` (optional) of any object.
    static func validateMetadata(_ metadata: ObjectMeta, nameIsLabel: Bool) -> [StatusCause] {
        var causes: [StatusCause] = []
        let path = FieldPath("metadata")
        if let name = metadata.name, !name.isEmpty {
            if nameIsLabel, !isDNS1035Label(name) {
                causes.append(.invalid(path.child("name"), value: name, dns1035Message))
            } else if !nameIsLabel, !isDNS1123Subdomain(name) {
                causes.append(.invalid(path.child("name"), value: name, dns1123SubdomainMessage))
            }
        } else {
            causes.append(.required(path.child("name"), "name is required"))
        }
        if let namespace = metadata.namespace, !namespace.isEmpty, !isDNS1123Label(namespace) {
            causes.append(.invalid(path.child("namespace"), value: namespace, dns1123LabelMessage))
        }
        return causes
    }

    /// A port number that must be set and in 1...65535.
    static func validatePort(_ port: Int?, at path: FieldPath) -> [StatusCause] {
        guard let port else { return [.required(path)] }
        return (1...65535).contains(port) ? [] : [.invalid(path, value: port, portRangeMessage)]
    }

    /// A protocol that may be absent (meaning TCP) or one of TCP, UDP, SCTP.
    static func validateProtocol(_ value: String?, at path: FieldPath) -> [StatusCause] {
        guard let value, TransportProtocol(rawValue: value) == nil else { return [] }
        return [.notSupported(path, value: value, supported: supportedProtocols)]
    }

    /// An optional enum-like string restricted to `allowed`.
    static func validateEnum(_ value: String?, allowed: [String], at path: FieldPath) -> [StatusCause] {
        guard let value, !allowed.contains(value) else { return [] }
        return [.notSupported(path, value: value, supported: allowed)]
    }

    /// A port name of a Service or legacy Endpoints subset: required when there are several
    /// ports, a DNS-1123 label, unique (`seen` collects the names so far).
    static func validatePortName(
        _ name: String?, portCount: Int, at path: FieldPath, seen: inout Set<String>
    ) -> [StatusCause] {
        let name = name ?? ""
        if name.isEmpty { return portCount > 1 ? [.required(path)] : [] }
        if !isDNS1123Label(name) { return [.invalid(path, value: name, dns1123LabelMessage)] }
        if !seen.insert(name).inserted { return [.duplicate(path, value: name)] }
        return []
    }

    /// An IP address, optionally of one family.
    /// The path is built only on failure: this runs for every endpoint address of every slice.
    static func validateIP(_ text: String, family: IPFamily? = nil, at path: @autoclosure () -> FieldPath) -> [StatusCause] {
        guard let ip = IPAddress(text) else {
            return [.invalid(path(), value: text, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)")]
        }
        if let family, ip.family != family {
            return [.invalid(path(), value: text, "must be a valid \(family) address")]
        }
        return []
    }

    // MARK: - Name syntax

    static let dns1123LabelMessage =
        "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character"
    static let dns1035Message =
        "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character"
    static let dns1123SubdomainMessage =
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"

    private static func isLowerAlphanumeric(_ c: Character) -> Bool {
        c.isASCII && (c.isLowercase || c.isNumber)
    }

    /// `[a-z0-9]` as a UTF-8 byte.
    private static func isLowerAlphanumeric(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    /// RFC 1123 label: 1–63 of `[a-z0-9-]`, alphanumeric at both ends. (Byte counts equal
    /// character counts for every string that passes, and any other fails either way.)
    static func isDNS1123Label(_ s: some StringProtocol) -> Bool {
        s.utf8.count <= 63 && hasLabelSyntax(s)
    }

    /// `[a-z0-9-]+`, alphanumeric at both ends, any length. Checked on UTF-8 bytes: every byte
    /// of a non-ASCII character is outside the set, so this accepts exactly the strings the
    /// character check did, without Unicode property lookups (validation runs on every
    /// object; at 10k Services that was a few per cent of start-up).
    private static func hasLabelSyntax(_ s: some StringProtocol) -> Bool {
        var first: UInt8?
        var last: UInt8 = 0
        for byte in s.utf8 {
            guard isLowerAlphanumeric(byte) || byte == UInt8(ascii: "-") else { return false }
            if first == nil { first = byte }
            last = byte
        }
        guard let first else { return false }
        return isLowerAlphanumeric(first) && isLowerAlphanumeric(last)
    }

    /// RFC 1035 label: an RFC 1123 label starting with a letter (Service names).
    static func isDNS1035Label(_ s: some StringProtocol) -> Bool {
        guard let first = s.first, first.isASCII, first.isLetter else { return false }
        return isDNS1123Label(s)
    }

    /// RFC 1123 subdomain: dot-separated labels, at most 253 characters (most object names).
    static func isDNS1123Subdomain(_ s: some StringProtocol) -> Bool {
        guard (1...253).contains(s.utf8.count) else { return false }
        return s.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { hasLabelSyntax($0) }
    }

    /// IANA service name (named target ports): 1–15 of `[a-z0-9-]` with at least one letter,
    /// no leading, trailing or doubled `-`.
    static func isIANAServiceName(_ s: String) -> Bool {
        guard (1...15).contains(s.count), s.first != "-", s.last != "-", !s.contains("--") else { return false }
        return s.allSatisfy { isLowerAlphanumeric($0) || $0 == "-" } && s.contains { $0.isLetter }
    }
}
