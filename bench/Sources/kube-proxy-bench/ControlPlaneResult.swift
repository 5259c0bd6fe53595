/// The figures of one control plane run, printed for people and for `bench/run.sh`.
///
/// The `RESULT` line is `key=value` pairs separated by spaces, so the script can take medians
/// over fresh processes without a JSON parser. Times are milliseconds, memory MiB.
struct ControlPlaneResult: Sendable {
    var services: Int
    var endpointsPerService: Int
    /// Recording every Service event in the Service tracker.
    var recordServicesMilliseconds = 0.0
    /// Recording every EndpointSlice event (validation and the slice cache included).
    var recordSlicesMilliseconds = 0.0
    /// `ProxyState.apply` plus taking the snapshot.
    var applyMilliseconds = 0.0
    /// Computing the userspace plan from the snapshot.
    var planMilliseconds = 0.0
    /// Median over the single changes: record + apply + snapshot.
    var changeApplyMilliseconds = 0.0
    /// Median over the single changes: record + apply + snapshot + userspace plan.
    var changeTotalMilliseconds = 0.0
    /// Resident memory once the API objects were generated, before our code ran.
    var residentBeforeMiB: Double?
    /// `VmHWM` at the end of the run.
    var peakResidentMiB: Double?

    /// Recording every event.
    var recordMilliseconds: Double { recordServicesMilliseconds + recordSlicesMilliseconds }
    /// Building the whole model from nothing.
    var buildMilliseconds: Double { recordMilliseconds + applyMilliseconds + planMilliseconds }

    var resultLine: String {
        let pairs: [(String, String)] = [
            ("services", "\(services)"), ("endpoints_per_service", "\(endpointsPerService)"),
            ("record_services_ms", format(recordServicesMilliseconds)),
            ("record_slices_ms", format(recordSlicesMilliseconds)), ("apply_ms", format(applyMilliseconds)),
            ("plan_ms", format(planMilliseconds)), ("build_ms", format(buildMilliseconds)),
            ("change_apply_ms", format(changeApplyMilliseconds)), ("change_total_ms", format(changeTotalMilliseconds)),
            ("rss_before_mib", residentBeforeMiB.map(format) ?? "-"), ("peak_rss_mib", peakResidentMiB.map(format) ?? "-"),
        ]
        return "RESULT " + pairs.map { "\($0.0)=\($0.1)" }.joined(separator: " ")
    }

    var summary: String {
        "\(services) services × \(endpointsPerService) endpoints: model built in \(format(buildMilliseconds)) ms "
            + "(record Services \(format(recordServicesMilliseconds)), slices \(format(recordSlicesMilliseconds)), apply \(format(applyMilliseconds)), plan \(format(planMilliseconds))); "
            + "one slice change \(format(changeTotalMilliseconds)) ms (apply \(format(changeApplyMilliseconds))); "
            + "peak RSS \(peakResidentMiB.map(format) ?? "?") MiB"
    }

    private func format(_ value: Double) -> String {
        let scaled = (value * 1000).rounded() / 1000
        return "\(scaled)"
    }
}
