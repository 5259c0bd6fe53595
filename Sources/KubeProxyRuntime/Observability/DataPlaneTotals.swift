import KubeProxyCore
import KubeProxyDataPlane

/// The data plane's counters folded into one running total per protocol, plus the latest
/// per-port snapshot: what `/metrics` renders, as a value type so the folding is tested without
/// a registry or a lock.
///
/// Why totals and not the sum of the latest snapshot: a listener's statistics are cumulative
/// from the moment it opened, so when a Service is deleted (or its listener restarts) its counts
/// would leave a plain sum and the exported counter would go down, which Prometheus reads as a
/// reset and turns into a rate spike. Folding the growth since the previous report keeps every
/// total monotonic whatever comes and goes.
struct DataPlaneTotals: Sendable, Equatable {
    /// Per protocol: counters accumulated over every listener that ever reported, gauges
    /// (`activeConnections`, `udpSessions`) summed over the listeners open now.
    private(set) var byProtocol: [TransportProtocol: ListenerStatistics] = [:]
    /// The latest cumulative statistics of every open listener, as reported.
    private(set) var ports: [ServicePortName: ListenerStatistics] = [:]

    /// Creates empty totals.
    init() {}

    /// Folds a new report of every open listener. A port missing from `stats` is closed (or has
    /// counted nothing yet, which folds the same way): its counts stay in the totals and its
    /// gauges leave them. A value below the previous report's
    /// means the listener restarted and counts from zero again, so all of it is growth.
    mutating func report(_ stats: [ServicePortName: ListenerStatistics]) {
        var totals = byProtocol
        for key in totals.keys {
            totals[key]?.activeConnections = 0
            totals[key]?.udpSessions = 0
        }
        for (name, current) in stats {
            let previous = ports[name] ?? ListenerStatistics()
            totals[name.protocol, default: ListenerStatistics()].add(growthFrom: previous, to: current)
        }
        byProtocol = totals
        ports = stats
    }
}

extension ListenerStatistics {
    /// Adds `current`'s gauges and the growth of its counters since `previous`.
    fileprivate mutating func add(growthFrom previous: ListenerStatistics, to current: ListenerStatistics) {
        func growth(_ field: KeyPath<ListenerStatistics, Int>) -> Int {
            let now = current[keyPath: field]
            let before = previous[keyPath: field]
            return max(now >= before ? now - before : now, 0)
        }
        activeConnections += current.activeConnections
        udpSessions += current.udpSessions
        totalConnections += growth(\.totalConnections)
        bytesClientToBackend += growth(\.bytesClientToBackend)
        bytesBackendToClient += growth(\.bytesBackendToClient)
        connectFailures += growth(\.connectFailures)
        connectRetries += growth(\.connectRetries)
        udpSessionsTotal += growth(\.udpSessionsTotal)
        udpDroppedDatagrams += growth(\.udpDroppedDatagrams)
    }
}
