/// Every metric name, label name and histogram bucket layout the proxy exports, in one place.
///
/// Why one file: operators swap upstream kube-proxy for us without touching dashboards or
/// alerts (docs/design.md#compatibility), so the upstream names (`pkg/proxy/metrics/metrics.go`, subsystem
/// `kubeproxy`) must be spelled exactly once and reviewed together. Our own userspace data-plane
/// metrics use the `kubeproxy_userspace_` prefix so they can never collide with a future
/// upstream name.
public enum MetricNames {
    // MARK: Upstream names (pkg/proxy/metrics)

    /// Histogram {ip_family}: how long each sync took (upstream `SyncProxyRulesLatency`).
    public static let syncProxyRulesDuration = "kubeproxy_sync_proxy_rules_duration_seconds"
    /// Histogram {ip_family}: from an endpoint change (the EndpointSlice's
    /// `endpoints.kubernetes.io/last-change-trigger-time`) to the sync that programmed it.
    public static let networkProgrammingDuration = "kubeproxy_network_programming_duration_seconds"
    /// Gauge {ip_family}: Unix time of the last successful sync.
    public static let syncProxyRulesLastTimestamp = "kubeproxy_sync_proxy_rules_last_timestamp_seconds"
    /// Gauge {ip_family}: Unix time a sync was last requested; far ahead of the last sync ⇒ hung.
    public static let syncProxyRulesLastQueuedTimestamp = "kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds"
    /// Gauge: endpoint changes recorded and not yet synced.
    public static let endpointChangesPending = "kubeproxy_sync_proxy_rules_endpoint_changes_pending"
    /// Counter: endpoint changes taken by syncs.
    public static let endpointChangesTotal = "kubeproxy_sync_proxy_rules_endpoint_changes_total"
    /// Gauge: Service changes recorded and not yet synced.
    public static let serviceChangesPending = "kubeproxy_sync_proxy_rules_service_changes_pending"
    /// Counter: Service changes taken by syncs.
    public static let serviceChangesTotal = "kubeproxy_sync_proxy_rules_service_changes_total"
    /// Gauge {ip_family, traffic_policy}: services with a Local policy and no local endpoint
    /// (a gauge despite the `_total` suffix, as upstream).
    public static let noLocalEndpoints = "kubeproxy_sync_proxy_rules_no_local_endpoints_total"
    /// Counter {code}: `/healthz` answers by status code.
    public static let healthzTotal = "kubeproxy_proxy_healthz_total"
    /// Counter {code}: `/livez` answers by status code.
    public static let livezTotal = "kubeproxy_proxy_livez_total"

    // MARK: Upstream names of the kernel modes (registered only by the mode that uses them)

    /// Histogram {ip_family}: duration of full syncs (iptables mode).
    public static let syncFullProxyRulesDuration = "kubeproxy_sync_full_proxy_rules_duration_seconds"
    /// Histogram {ip_family}: duration of partial syncs (iptables mode).
    public static let syncPartialProxyRulesDuration = "kubeproxy_sync_partial_proxy_rules_duration_seconds"
    /// Gauge {ip_family, table}: rules the proxy owns per table after the last sync (iptables mode).
    public static let iptablesTotal = "kubeproxy_sync_proxy_rules_iptables_total"
    /// Gauge {ip_family, table}: rules written by the last restore per table (iptables mode).
    public static let iptablesLast = "kubeproxy_sync_proxy_rules_iptables_last"
    /// Counter {ip_family}: failed `iptables-restore` runs.
    public static let iptablesRestoreFailuresTotal = "kubeproxy_sync_proxy_rules_iptables_restore_failures_total"
    /// Counter {ip_family}: failed partial restores (each is retried as a full sync).
    public static let iptablesPartialRestoreFailuresTotal =
        "kubeproxy_sync_proxy_rules_iptables_partial_restore_failures_total"
    /// Counter {ip_family}: failed `nft -f` transactions (nftables mode).
    public static let nftablesSyncFailuresTotal = "kubeproxy_sync_proxy_rules_nftables_sync_failures_total"
    /// Counter {ip_family}: failed deletions of stale chains (nftables mode).
    public static let nftablesCleanupFailuresTotal = "kubeproxy_sync_proxy_rules_nftables_cleanup_failures_total"
    /// Counter (no labels): packets `KUBE-FORWARD` dropped as conntrack-INVALID, read from the
    /// nfacct object `ct_state_invalid_dropped_pkts` at scrape time (iptables mode).
    public static let iptablesCTStateInvalidDroppedPacketsTotal = "kubeproxy_iptables_ct_state_invalid_dropped_packets_total"
    /// Counter (no labels): packets accepted on NodePorts of 127.0.0.0/8, read from the nfacct
    /// object `localhost_nps_accepted_pkts` at scrape time (iptables mode).
    public static let iptablesLocalhostNodePortsAcceptedPacketsTotal =
        "kubeproxy_iptables_localhost_nodeports_accepted_packets_total"
    /// Histogram {ip_family}: how long a UDP conntrack cleanup took (kernel modes).
    public static let conntrackReconcilerSyncDuration = "kubeproxy_conntrack_reconciler_sync_duration_seconds"
    /// Counter {ip_family}: conntrack entries the cleanup deleted (kernel modes).
    public static let conntrackReconcilerDeletedEntriesTotal = "kubeproxy_conntrack_reconciler_deleted_entries_total"

    // MARK: Userspace data plane (ours; `DataPlaneMetrics` renders them, labelled `protocol`
    // by default or `service_port` and `protocol` with `--metrics-per-service-port`)

    /// Gauge {[service_port,] protocol}: relayed TCP connections open now.
    public static let userspaceActiveConnections = "kubeproxy_userspace_active_connections"
    /// Counter {[service_port,] protocol}: TCP connections accepted.
    public static let userspaceConnectionsTotal = "kubeproxy_userspace_connections_total"
    /// Counter {[service_port,] protocol, direction}: payload bytes relayed.
    public static let userspaceBytesTotal = "kubeproxy_userspace_bytes_total"
    /// Counter {[service_port,] protocol}: connections or UDP sessions that got no reachable endpoint.
    public static let userspaceConnectFailuresTotal = "kubeproxy_userspace_connect_failures_total"
    /// Counter {[service_port,] protocol}: endpoint dials retried on another endpoint.
    public static let userspaceConnectRetriesTotal = "kubeproxy_userspace_connect_retries_total"
    /// Counter {[service_port,] protocol}: UDP sessions created.
    public static let userspaceUDPSessionsTotal = "kubeproxy_userspace_udp_sessions_total"
    /// Gauge {[service_port,] protocol}: UDP sessions in the session tables now (not
    /// `…_udp_sessions`: a gauge beside the `…_udp_sessions_total` counter would share its
    /// family name in parsers that strip `_total`).
    public static let userspaceActiveUDPSessions = "kubeproxy_userspace_active_udp_sessions"
    /// Counter {[service_port,] protocol}: UDP datagrams not relayed (no endpoint, session table
    /// full, socket not writable, reply after the session ended).
    public static let userspaceUDPDroppedDatagramsTotal = "kubeproxy_userspace_udp_dropped_datagrams_total"

    // MARK: Labels

    /// Label: `filter`, `nat` (iptables tables).
    public static let tableLabel = "table"
    /// Label: `IPv4` or `IPv6`.
    public static let ipFamilyLabel = "ip_family"
    /// Label: `internal` or `external` (which traffic policy has no local endpoint).
    public static let trafficPolicyLabel = "traffic_policy"
    /// Label: the HTTP status code (`200`, `503`).
    public static let codeLabel = "code"
    /// Label: `namespace/name:port` (the `ServicePortName` text upstream uses in rule comments);
    /// only with `--metrics-per-service-port`.
    public static let servicePortLabel = "service_port"
    /// Label: `TCP`, `UDP` or `SCTP`.
    public static let protocolLabel = "protocol"
    /// Label: `client_to_backend` or `backend_to_client`.
    public static let directionLabel = "direction"

    // MARK: Histogram buckets (upstream's, exactly)

    /// `metrics.ExponentialBuckets(0.001, 2, 15)`: 1 ms, 2 ms, … 16.384 s.
    public static let syncProxyRulesDurationBuckets: [Duration] = (0..<15).map { .milliseconds(1 << $0) }

    /// 0.25 s, 0.5 s, then 1…59 s by 1, 60…115 s by 5, 120…300 s by 30 (upstream's merged
    /// `LinearBuckets`).
    public static let networkProgrammingDurationBuckets: [Duration] =
        [.milliseconds(250), .milliseconds(500)]
        + (1...59).map { .seconds($0) }
        + stride(from: 60, through: 115, by: 5).map { .seconds($0) }
        + stride(from: 120, through: 300, by: 30).map { .seconds($0) }

    /// Bucket layouts by histogram name, for the Prometheus factory.
    public static let durationBuckets: [String: [Duration]] = [
        syncProxyRulesDuration: syncProxyRulesDurationBuckets,
        syncFullProxyRulesDuration: syncProxyRulesDurationBuckets,
        syncPartialProxyRulesDuration: syncProxyRulesDurationBuckets,
        conntrackReconcilerSyncDuration: syncProxyRulesDurationBuckets,
        networkProgrammingDuration: networkProgrammingDurationBuckets,
    ]
}
