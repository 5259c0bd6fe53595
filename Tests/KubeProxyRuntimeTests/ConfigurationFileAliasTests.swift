import KubeProxyCore
import Testing

@testable import KubeProxyRuntime

/// A `--config` file is YAML read at start: an alias bomb there must fail fast with the file
/// named, like one in a manifest, instead of expanding until the process is killed.
struct ConfigurationFileAliasTests {
    static let bomb = """
        apiVersion: kubeproxy.config.k8s.io/v1alpha1
        kind: KubeProxyConfiguration
        a: &a ["x","x","x","x","x","x","x","x","x","x"]
        b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]
        c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]
        d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]
        e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]
        f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]
        g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]
        h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g,*g]
        i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h,*h]
        """

    @Test func anAliasBombIsRefusedNamingTheFile() {
        #expect {
            _ = try ConfigurationFile.parse(Self.bomb, file: "/etc/kp/config.yaml")
        } throws: { error in
            let text = "\(error)"
            return text.hasPrefix("/etc/kp/config.yaml: refused: document 1") && text.contains("alias")
        }
    }

    @Test func aSmallAliasIsStillAccepted() throws {
        let text = ConfigurationFileTests.header + """
            clusterCIDR: &cidr 10.244.0.0/16
            clientConnection:
              kubeconfig: *cidr
            """
        let config = try ConfigurationFile.parse(text, file: "c.yaml")
        #expect(config.clusterCIDR == "10.244.0.0/16")
        #expect(config.clientConnection.kubeconfig == "10.244.0.0/16")
    }
}
