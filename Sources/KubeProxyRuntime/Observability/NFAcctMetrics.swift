import KubeProxyHost
import KubeProxyIPTables
import Logging
import Synchronization

/// iptables mode's two nfacct counters, read from the kernel when `/metrics` is scraped and
/// appended to the exposition (upstream's custom collectors in `pkg/proxy/metrics`).
///
/// Why at scrape time: the kernel counts, not the proxy, so there is nothing to record between
/// scrapes, and the read never passes through a sync loop (a slow sync cannot delay a scrape,
/// nor a scrape a sync). Exists only when the builder could create both objects; an object
/// that cannot be read at a scrape (deleted by hand, say) leaves its series out of that scrape,
/// as upstream does, and is logged once until it reads again.
public final class NFAcctMetrics: Sendable {
    /// One exported counter and the object it reads.
    struct Family: Sendable {
        var name: String
        var help: String
        var object: String
    }

    /// Upstream's names and HELP texts (component-base prefixes ALPHA metrics' HELP with
    /// `[ALPHA] `), in upstream's registration order.
    static let families = [
        Family(
            name: MetricNames.iptablesCTStateInvalidDroppedPacketsTotal,
            help: "[ALPHA] packets dropped by iptables to work around conntrack problems",
            object: IPTablesModeNFAcct.ctStateInvalidDropped),
        Family(
            name: MetricNames.iptablesLocalhostNodePortsAcceptedPacketsTotal,
            help: "[ALPHA] Number of packets accepted on nodeports of loopback interface",
            object: IPTablesModeNFAcct.localhostNodePortsAccepted),
    ]

    private let client: any NFAcctClient
    private let logger: Logger
    /// Objects whose last read failed, so a failure is logged once rather than every scrape.
    private let failing = Mutex<Set<String>>([])
    /// Cleared when the rules stopped counting (`disable()`).
    private let enabled = Atomic(true)

    /// Creates the collector over `client` (the objects must exist already).
    public init(client: any NFAcctClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// Stops exporting the series: the rules no longer count into the objects (the kernel
    /// refused the `-m nfacct` match), so their values would stay still and mislead.
    public func disable() {
        enabled.store(false, ordering: .relaxed)
    }

    /// Reads both objects and appends their series in the Prometheus text format (nothing once
    /// disabled).
    public func emit(into buffer: inout [UInt8]) {
        guard enabled.load(ordering: .relaxed) else { return }
        for family in Self.families {
            let packets: UInt64
            do {
                packets = try client.counter(family.object).packets
                if failing.withLock({ $0.remove(family.object) }) != nil {
                    logger.info("nfacct counter readable again", metadata: ["counter": "\(family.object)"])
                }
            } catch {
                if failing.withLock({ $0.insert(family.object).inserted }) {
                    logger.error(
                        "failed to collect nfacct counter; its metric is left out until it can be read",
                        metadata: ["counter": "\(family.object)", "metric": "\(family.name)", "error": "\(error)"])
                }
                continue
            }
            buffer.append(contentsOf: "# HELP \(family.name) \(family.help)\n# TYPE \(family.name) counter\n".utf8)
            buffer.append(contentsOf: "\(family.name) \(packets)\n".utf8)
        }
    }

    /// The series as text, for tests and diagnostics.
    public func emitToString() -> String {
        var buffer: [UInt8] = []
        emit(into: &buffer)
        return String(decoding: buffer, as: UTF8.self)
    }
}
