import KubeProxyCore
import KubeProxyDataPlane

extension DataPlaneMetrics {
    /// One exported metric family and where its value comes from.
    ///
    /// Which families a protocol gets follows what its listener does: TCP (and SCTP) ports count
    /// connections, UDP ports count sessions and dropped datagrams; both count bytes, connect
    /// failures and retries.
    struct Family: Sendable {
        /// The metric name (`MetricNames`).
        var name: String
        /// `counter` or `gauge`.
        var type: String
        /// The `# HELP` text.
        var help: String
        /// Whether a port of this protocol has the family.
        var applies: @Sendable (TransportProtocol) -> Bool
        /// One sample per entry: extra labels and the value read from the statistics.
        var samples: [(labels: [(String, String)], value: @Sendable (ListenerStatistics) -> Int)]
    }

    /// Every data-plane family, in exposition order.
    static let families: [Family] = {
        let any: @Sendable (TransportProtocol) -> Bool = { _ in true }
        let udp: @Sendable (TransportProtocol) -> Bool = { $0 == .udp }
        let connectionOriented: @Sendable (TransportProtocol) -> Bool = { $0 != .udp }
        return [
            Family(
                name: MetricNames.userspaceActiveConnections, type: "gauge",
                help: "Relayed TCP connections open now.", applies: connectionOriented,
                samples: [([], { $0.activeConnections })]),
            Family(
                name: MetricNames.userspaceConnectionsTotal, type: "counter",
                help: "TCP client connections accepted.", applies: connectionOriented,
                samples: [([], { $0.totalConnections })]),
            Family(
                name: MetricNames.userspaceActiveUDPSessions, type: "gauge",
                help: "UDP sessions in the session tables now.", applies: udp,
                samples: [([], { $0.udpSessions })]),
            Family(
                name: MetricNames.userspaceUDPSessionsTotal, type: "counter",
                help: "UDP sessions opened.", applies: udp,
                samples: [([], { $0.udpSessionsTotal })]),
            Family(
                name: MetricNames.userspaceUDPDroppedDatagramsTotal, type: "counter",
                help: "UDP datagrams not relayed (no endpoint, session table full, socket not writable).",
                applies: udp, samples: [([], { $0.udpDroppedDatagrams })]),
            Family(
                name: MetricNames.userspaceBytesTotal, type: "counter",
                help: "Payload bytes relayed.", applies: any,
                samples: [
                    ([(MetricNames.directionLabel, "client_to_backend")], { $0.bytesClientToBackend }),
                    ([(MetricNames.directionLabel, "backend_to_client")], { $0.bytesBackendToClient }),
                ]),
            Family(
                name: MetricNames.userspaceConnectFailuresTotal, type: "counter",
                help: "Connections or UDP sessions that got no reachable endpoint.", applies: any,
                samples: [([], { $0.connectFailures })]),
            Family(
                name: MetricNames.userspaceConnectRetriesTotal, type: "counter",
                help: "Endpoint dials retried on another endpoint.", applies: any,
                samples: [([], { $0.connectRetries })]),
        ]
    }()

    /// The protocols whose totals are exported even before any listener of theirs reported, so
    /// the default exposition has the same series from the first scrape on.
    static let alwaysExportedProtocols: [TransportProtocol] = [.tcp, .udp]

    /// One labelled set of series: the label text shared by all its samples (without the closing
    /// brace), its protocol and its values.
    private struct Row {
        var labels: [UInt8]
        var `protocol`: TransportProtocol
        var stats: ListenerStatistics

        init(_ labels: [(String, String)], _ protocol: TransportProtocol, _ stats: ListenerStatistics) {
            var text: [UInt8] = []
            appendLabels(labels, into: &text)
            // Without the closing `}`: a sample may add its own labels.
            self.labels = text.isEmpty ? Array("{".utf8) : Array(text.dropLast())
            self.protocol = `protocol`
            self.stats = stats
        }
    }

    /// Totals labelled `protocol` only.
    static func emitPerProtocol(_ totals: [TransportProtocol: ListenerStatistics], into buffer: inout [UInt8]) {
        let protocols = Set(alwaysExportedProtocols).union(totals.keys).sorted()
        let rows = protocols.map {
            Row([(MetricNames.protocolLabel, $0.rawValue)], $0, totals[$0] ?? ListenerStatistics())
        }
        emit(rows: rows, into: &buffer)
    }

    /// One set of series per open listener, labelled `service_port` and `protocol`, sorted by
    /// port so the output is deterministic.
    static func emitPerServicePort(_ ports: [ServicePortName: ListenerStatistics], into buffer: inout [UInt8]) {
        let rows = ports.sorted { $0.key < $1.key }.map { name, stats in
            Row(
                [(MetricNames.servicePortLabel, name.description), (MetricNames.protocolLabel, name.protocol.rawValue)],
                name.protocol, stats)
        }
        buffer.reserveCapacity(buffer.count + rows.count * 640)  // about 610 bytes per TCP port
        emit(rows: rows, into: &buffer)
    }

    /// Writes every family with a `HELP` and `TYPE` line and then its samples for every row it
    /// applies to (families must be contiguous in the text format). A family no row applies to
    /// is left out entirely.
    private static func emit(rows: [Row], into buffer: inout [UInt8]) {
        for family in families {
            // Each sample's own labels, written once per family: `,direction="…"}` or just `}`.
            let extraLabels = family.samples.map { sample -> [UInt8] in
                var text: [UInt8] = []
                appendLabels(sample.labels, into: &text)
                guard !text.isEmpty else { return Array("}".utf8) }
                text[0] = UInt8(ascii: ",")
                return text
            }
            var headerWritten = false
            for row in rows where family.applies(row.protocol) {
                if !headerWritten {
                    buffer.append(
                        contentsOf: "# HELP \(family.name) \(family.help)\n# TYPE \(family.name) \(family.type)\n".utf8)
                    headerWritten = true
                }
                for (sample, extra) in zip(family.samples, extraLabels) {
                    buffer.append(contentsOf: family.name.utf8)
                    buffer.append(contentsOf: row.labels)
                    buffer.append(contentsOf: extra)
                    buffer.append(UInt8(ascii: " "))
                    buffer.append(contentsOf: String(sample.value(row.stats)).utf8)
                    buffer.append(UInt8(ascii: "\n"))
                }
            }
        }
    }

    /// `{name="value",…}` with the text format's escapes (backslash, double quote, newline), so
    /// an odd name cannot break the exposition.
    static func appendLabels(_ labels: [(String, String)], into buffer: inout [UInt8]) {
        guard !labels.isEmpty else { return }
        buffer.append(UInt8(ascii: "{"))
        for (index, (name, value)) in labels.enumerated() {
            if index > 0 { buffer.append(UInt8(ascii: ",")) }
            buffer.append(contentsOf: name.utf8)
            buffer.append(contentsOf: "=\"".utf8)
            for byte in value.utf8 {
                switch byte {
                case UInt8(ascii: "\\"): buffer.append(contentsOf: "\\\\".utf8)
                case UInt8(ascii: "\""): buffer.append(contentsOf: "\\\"".utf8)
                case UInt8(ascii: "\n"): buffer.append(contentsOf: "\\n".utf8)
                default: buffer.append(byte)
                }
            }
            buffer.append(UInt8(ascii: "\""))
        }
        buffer.append(UInt8(ascii: "}"))
    }
}
