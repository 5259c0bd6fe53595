/// A kubeconfig `users[].user.exec` credential plugin: a command that prints an
/// `ExecCredential` with a token or a client certificate (cloud IAM, OIDC helpers).
public struct ExecPluginConfig: Sendable, Hashable {
    /// One `env` entry passed to the plugin on top of our own environment.
    public struct EnvironmentVariable: Sendable, Hashable {
        /// Variable name.
        public var name: String
        /// Variable value.
        public var value: String

        /// Creates an entry.
        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    /// `client.authentication.k8s.io/v1` or `…/v1beta1`; the plugin must answer in the same.
    public var apiVersion: String
    /// The command: absolute, resolved against the kubeconfig's directory when it contains a
    /// `/`, or a bare name looked up in `PATH`.
    public var command: String
    /// Arguments.
    public var arguments: [String]
    /// Extra environment.
    public var environment: [EnvironmentVariable]
    /// Whether to pass the cluster (server, CA) in `KUBERNETES_EXEC_INFO`.
    public var provideClusterInfo: Bool
    /// What to print when the command is missing.
    public var installHint: String?
    /// Where it was configured, e.g. `/etc/kubeconfig: users[0].user.exec`, for error messages.
    public var origin: String

    /// Creates a plugin configuration.
    public init(
        apiVersion: String, command: String, arguments: [String] = [], environment: [EnvironmentVariable] = [],
        provideClusterInfo: Bool = false, installHint: String? = nil, origin: String
    ) {
        self.apiVersion = apiVersion
        self.command = command
        self.arguments = arguments
        self.environment = environment
        self.provideClusterInfo = provideClusterInfo
        self.installHint = installHint
        self.origin = origin
    }

    /// The `apiVersion`s we speak.
    static let supportedVersions: Set<String> = [
        "client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1",
    ]
}
