import KubeProxyCore

/// One service port together with the proxy port its userspace listener got: the renderer's
/// unit of input.
///
/// The proxy port (`PP`) is chosen by the data plane when it opens the listener; rules are a
/// function of both, so they travel together.
public struct PortalServicePort: Hashable, Sendable {
    /// The service port (ClusterIP, port, NodePort, external and LB IPs, protocol).
    public var servicePort: ServicePort
    /// The port the proxy listens on for it, 1...65535.
    public var proxyPort: Int

    /// Pairs a service port with its proxy port.
    public init(servicePort: ServicePort, proxyPort: Int) {
        self.servicePort = servicePort
        self.proxyPort = proxyPort
    }

    /// The comment on every rule of this service port (`ns/name:port`).
    public var comment: String { servicePort.name.description }
}
