import KubeProxyCore

extension HealthVerdict where Instant == WallTime {
    /// The body upstream's healthz/livez handlers write: Go's `json.Marshal` of `ProxyHealth`,
    /// i.e. compact JSON with fields in declaration order, `nodeEligible` and `status` omitted
    /// when absent/empty, then our own `reason` (only when set), map keys sorted, times as RFC 3339 (Go's zero time for "never").
    ///
    /// Example: `{"lastUpdated":"2024-05-01T10:00:00Z","currentTime":"2024-05-01T10:00:00Z",
    /// "nodeEligible":true,"healthy":true,"status":{"IPv4":{"lastUpdated":"…","healthy":true}}}`
    public var json: String {
        var fields = [
            "\"lastUpdated\":\"\((lastUpdated ?? .goZeroTime).rfc3339)\"",
            "\"currentTime\":\"\(currentTime.rfc3339)\"",
        ]
        if let nodeEligible { fields.append("\"nodeEligible\":\(nodeEligible)") }
        fields.append("\"healthy\":\(healthy)")
        if !status.isEmpty {
            let families = status.sorted { $0.key.rawValue < $1.key.rawValue }.map { family, state in
                "\"\(family.rawValue)\":{\"lastUpdated\":\"\((state.lastUpdated ?? .goZeroTime).rfc3339)\","
                    + "\"healthy\":\(state.healthy)}"
            }
            fields.append("\"status\":{\(families.joined(separator: ","))}")
        }
        if let reason { fields.append("\"reason\":\(JSONText.quoted(reason))") }
        return "{\(fields.joined(separator: ","))}"
    }
}
