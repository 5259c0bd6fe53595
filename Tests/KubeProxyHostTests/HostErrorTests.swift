import KubeProxyHost
import Testing

struct HostErrorTests {
    @Test func keepsOnlyTheTailOfStderr() {
        let stderr = String(repeating: "a", count: 5000) + "LAST LINE\n\n"
        let error = HostError(.exitStatus(1), command: ["iptables-restore"], stderr: stderr)
        #expect(error.stderrTail.count == HostError.stderrTailLimit)
        #expect(error.stderrTail.hasSuffix("LAST LINE"))
    }

    @Test func descriptionNamesCommandStatusAndStderr() {
        let error = HostError(.exitStatus(4), command: ["iptables-restore", "--noflush"], stderr: "line 2 failed\n")
        #expect(error.description == "iptables-restore --noflush: exit status 4: line 2 failed")
        #expect(
            HostError(.noDefaultRoute(.ipv6), command: ["/proc/net/ipv6_route"]).description
                == "/proc/net/ipv6_route: no default route for IPv6")
    }
}
