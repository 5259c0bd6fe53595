import KubeProxyCore
import NIOHTTP1

/// The answer of a per-service health check (upstream `hcHandler` in
/// `pkg/proxy/healthcheck/service_health.go`): 200 iff the node has a local ready endpoint and
/// the proxy is healthy, else 503, with the endpoint count as load-balancer weight.
enum ServiceHealthResponse {
    /// The response for `service` with `localEndpoints` ready local endpoints.
    static func make(service: NamespacedName, localEndpoints: Int, proxyHealthy: Bool) -> HTTPRouteResponse {
        HTTPRouteResponse(
            status: localEndpoints > 0 && proxyHealthy ? .ok : .serviceUnavailable,
            headers: [
                ("Content-Type", "application/json"),
                ("X-Content-Type-Options", "nosniff"),
                ("X-Load-Balancing-Endpoint-Weight", String(localEndpoints)),
            ],
            body: Array(body(service: service, localEndpoints: localEndpoints, proxyHealthy: proxyHealthy).utf8))
    }

    /// Upstream's tab-indented body, byte for byte (no trailing newline).
    static func body(service: NamespacedName, localEndpoints: Int, proxyHealthy: Bool) -> String {
        [
            "{",
            "\t\"service\": {",
            "\t\t\"namespace\": \(JSONText.quoted(service.namespace)),",
            "\t\t\"name\": \(JSONText.quoted(service.name))",
            "\t},",
            "\t\"localEndpoints\": \(localEndpoints),",
            "\t\"serviceProxyHealthy\": \(proxyHealthy)",
            "}",
        ].joined(separator: "\n")
    }

}
