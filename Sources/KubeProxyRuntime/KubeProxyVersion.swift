/// The version `kube-proxy --version` prints.
public enum KubeProxyVersion {
    /// Semantic version of this build.
    public static let string = "swift-kube-proxy 0.1.0"
}
