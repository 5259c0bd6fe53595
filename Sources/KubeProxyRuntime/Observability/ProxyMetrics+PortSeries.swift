import KubeProxyCore
import KubeProxyDataPlane
import Metrics

extension ProxyMetrics {
    /// The series of one service port and the last statistics reported for it.
    ///
    /// Which series exist depends on the protocol, so a TCP port shows no UDP sessions and a UDP
    /// port no connection counts: TCP (and SCTP) get active/total connections, UDP gets sessions,
    /// both get bytes, connect failures and retries.
    struct PortSeries: Sendable {
        private var last = ListenerStatistics()
        private let active: Gauge?
        private let connections: Counter?
        private let udpSessions: Counter?
        private let bytesClientToBackend: Counter
        private let bytesBackendToClient: Counter
        private let connectFailures: Counter
        private let connectRetries: Counter

        /// Creates the port's series (registered at once, so they show up at zero).
        init(name: ServicePortName, factory: any MetricsFactory) {
            let labels = [
                (MetricNames.servicePortLabel, name.description), (MetricNames.protocolLabel, name.protocol.rawValue),
            ]
            func counter(_ label: String, _ extra: [(String, String)] = []) -> Counter {
                Counter(label: label, dimensions: labels + extra, factory: factory)
            }
            let isUDP = name.protocol == .udp
            active =
                isUDP ? nil : Gauge(label: MetricNames.userspaceActiveConnections, dimensions: labels, factory: factory)
            connections = isUDP ? nil : counter(MetricNames.userspaceConnectionsTotal)
            udpSessions = isUDP ? counter(MetricNames.userspaceUDPSessionsTotal) : nil
            bytesClientToBackend = counter(
                MetricNames.userspaceBytesTotal, [(MetricNames.directionLabel, "client_to_backend")])
            bytesBackendToClient = counter(
                MetricNames.userspaceBytesTotal, [(MetricNames.directionLabel, "backend_to_client")])
            connectFailures = counter(MetricNames.userspaceConnectFailuresTotal)
            connectRetries = counter(MetricNames.userspaceConnectRetriesTotal)
        }

        /// Applies a new cumulative snapshot.
        mutating func report(_ current: ListenerStatistics) {
            active?.record(current.activeConnections)
            Self.advance(connections, from: last.totalConnections, to: current.totalConnections)
            Self.advance(udpSessions, from: last.udpSessionsTotal, to: current.udpSessionsTotal)
            Self.advance(bytesClientToBackend, from: last.bytesClientToBackend, to: current.bytesClientToBackend)
            Self.advance(bytesBackendToClient, from: last.bytesBackendToClient, to: current.bytesBackendToClient)
            Self.advance(connectFailures, from: last.connectFailures, to: current.connectFailures)
            Self.advance(connectRetries, from: last.connectRetries, to: current.connectRetries)
            last = current
        }

        /// Removes every series of the port from the backend.
        func destroy() {
            active?.destroy()
            for counter in [
                connections, udpSessions, bytesClientToBackend, bytesBackendToClient, connectFailures, connectRetries,
            ] {
                counter?.destroy()
            }
        }

        /// Increments by the growth since the last report; a smaller value is a restart from zero.
        private static func advance(_ counter: Counter?, from previous: Int, to current: Int) {
            let delta = current >= previous ? current - previous : current
            // Always touch the counter so a new series shows up at 0 on the first report.
            counter?.increment(by: max(delta, 0))
        }
    }
}
