import KubeProxyCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// One thing `PortClaims.updateClaims` did or failed to do, returned for the caller to log and
/// to decide whether the owner's rules may be installed.
public struct PortClaimResult: Hashable, Sendable, CustomStringConvertible {
    /// What happened to the claim.
    public enum Outcome: Hashable, Sendable {
        /// The port is now held.
        case claimed
        /// The port is no longer desired and was let go.
        case released
        /// The port could not be held; retried on the next update. `errno` when the system
        /// reported one (`EADDRINUSE`: another program has it), `detail` the error text.
        case failed(errno: Int32?, detail: String)
        /// Another service port wants the same address, port and protocol and keeps it.
        case conflict(holder: ServicePortName)
    }

    /// The claim concerned.
    public var claim: PortClaim
    /// What happened.
    public var outcome: Outcome

    /// Creates a result.
    public init(claim: PortClaim, outcome: Outcome) {
        self.claim = claim
        self.outcome = outcome
    }

    /// Whether the claim is not held (failed or lost a conflict): its owner's rules for that
    /// port should not be relied on.
    public var isFailure: Bool {
        switch outcome {
        case .claimed, .released: return false
        case .failed, .conflict: return true
        }
    }

    /// A complete log line, e.g.
    /// `NodePort 30080/TCP for default/web:http is in use by another program (…)`.
    public var description: String {
        switch outcome {
        case .claimed:
            return "claimed \(claim)"
        case .released:
            return "released \(claim.socketDescription) of \(claim.owner)"
        case .failed(let errno, let detail) where errno == EADDRINUSE:
            return "\(claim) is in use by another program (\(detail))"
        case .failed(_, let detail):
            return "cannot claim \(claim): \(detail)"
        case .conflict(let holder):
            return "\(claim) conflicts with \(holder), which holds it"
        }
    }
}
