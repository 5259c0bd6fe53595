/// What the data plane achieved for one desired service port; the caller shows it and uses the
/// port to write the rules that steer service traffic to the listener.
public enum ListenerStatus: Hashable, Sendable {
    /// A listener accepts connections on this (actual, kernel-reported) port of the bind address.
    case listening(port: Int)
    /// No listener: binding failed or the port range is exhausted. Retried on every `apply`.
    case failed(reason: String)
    /// Not opened: the data plane's listener capacity (descriptors or ports) is used up.
    /// Opened by a later `apply` once capacity frees up.
    case unserved(reason: String)
    /// The protocol has no userspace data plane (SCTP); not retried.
    case unsupported(reason: String)

    /// The listening port, `nil` unless `.listening`.
    public var port: Int? {
        if case .listening(let port) = self { return port }
        return nil
    }
}
