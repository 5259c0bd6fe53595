/// How much the client reads into memory from the API server and from its own configuration,
/// so a hostile or broken peer costs an error and a retry, never gigabytes of RSS.
///
/// The limits, and why these numbers:
/// - **One watch event: 16 MiB.** The largest object etcd stores is about 1.5 MiB (its default
///   request limit), and a watch line is one object plus a small envelope, so 16 MiB is
///   generous. Above it ``JSONLinesFramer`` drops the line and the watcher backs off and relists.
/// - **One LIST response: 256 MiB.** Relists are unpaged (as client-go's, served from the watch
///   cache), and old servers ignore `limit` on `resourceVersion=0` lists, so a response may hold
///   every Service or every EndpointSlice. At upstream's scalability limits (10,000 Services,
///   150,000 endpoints) with `managedFields` that is roughly 50 MB; 256 MiB leaves five times
///   that. Above it the list fails and is retried with backoff.
/// - **An error body: 64 KiB.** Only its `Status` matters; the rest of a longer body is not read.
/// - **A configuration file: 16 MiB** (kubeconfig, CA bundle, client certificate and key, token
///   file). Real ones are kilobytes; a wrong path such as `/dev/zero` fails at once.
/// - **Exec plugin output: 1 MiB** on stdout (an `ExecCredential` with a certificate is a few
///   KiB); stderr keeps only its last 4 KiB.
struct APILimits: Sendable, Hashable {
    /// Largest watch event (one JSON line), in bytes.
    var watchEventBytes = 16 << 20
    /// Largest LIST (or other plain GET) response body with status `200`, in bytes.
    var listBodyBytes = 256 << 20
    /// How much of a non-`200` body is read, in bytes.
    var errorBodyBytes = 64 << 10

    /// Largest kubeconfig, PEM or token file, in bytes.
    static let configurationFileBytes = 16 << 20
    /// Largest exec plugin stdout, in bytes.
    static let execOutputBytes = 1 << 20
    /// How much of an exec plugin's stderr is kept (its tail), in bytes.
    static let execErrorTailBytes = 4 << 10

    /// The defaults above.
    init() {}
}
