import KubeProxyCore
import Testing

@testable import KubeProxyRuntime

/// nftables mode's configuration: the mode is accepted, its own sync periods drive the loop,
/// and `detectLocal` is read and written with upstream's names.
struct NFTablesConfigurationTests {
    @Test func nftablesModeUsesItsOwnFields() throws {
        let text = """
            apiVersion: kubeproxy.config.k8s.io/v1alpha1
            kind: KubeProxyConfiguration
            mode: nftables
            detectLocalMode: InterfaceNamePrefix
            detectLocal:
              bridgeInterface: cbr0
              interfaceNamePrefix: veth
            nftables:
              masqueradeAll: true
              minSyncPeriod: 2s
              syncPeriod: 1m
            """
        let config = try ConfigurationFile.parse(text, file: "c.yaml")
        #expect(config.validate().isEmpty)
        #expect(config.mode == .nftables)
        #expect(config.detectLocal.bridgeInterface == "cbr0")
        #expect(config.detectLocal.interfaceNamePrefix == "veth")
        #expect(config.nftables.masqueradeAll)
        #expect(config.modeMinSyncPeriod == .seconds(2))
        #expect(config.modeSyncPeriod == .seconds(60))
        #expect(try ConfigurationFile.parse(ConfigurationFile.render(config), file: "c.yaml") == config)
    }

    @Test func everyModeIsAcceptedAndNFTablesPeriodsAreChecked() {
        var config = KubeProxyConfiguration()
        for mode in KubeProxyConfiguration.Mode.allCases {
            config.mode = mode
            #expect(config.validate().isEmpty, "\(mode)")
        }
        config.mode = .nftables
        config.nftables.minSyncPeriod = .seconds(40)
        #expect(config.validate().map(\.field) == ["nftables.minSyncPeriod"])
        config.mode = .userspace
        #expect(config.modeSyncPeriod == config.iptables.syncPeriod)
    }
}
