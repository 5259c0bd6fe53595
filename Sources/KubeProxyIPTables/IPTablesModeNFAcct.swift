/// The nfacct objects iptables mode's rules count into (upstream's names, spec §2.6, §2.7).
///
/// Rules match `-m nfacct --nfacct-name NAME` only when `IPTablesModeParameters.nfacctAvailable`
/// says both objects exist: a rule naming a missing object fails the whole restore.
public enum IPTablesModeNFAcct {
    /// Counts the `KUBE-FORWARD` drops of conntrack-INVALID packets.
    public static let ctStateInvalidDropped = "ct_state_invalid_dropped_pkts"
    /// Counts NodePort connections to 127.0.0.0/8 (IPv4 localhost NodePorts).
    public static let localhostNodePortsAccepted = "localhost_nps_accepted_pkts"
    /// Both, in the order they are created.
    public static let all = [ctStateInvalidDropped, localhostNodePortsAccepted]
}
