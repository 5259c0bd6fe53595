import KubeAPI
import KubeClient
import Testing

@testable import KubeProxyRuntime

struct ObjectValidationTests {
    func range(_ cidrs: [String]) -> ManifestObject {
        .serviceCIDR(ServiceCIDR(metadata: ObjectMeta(name: "r"), spec: ServiceCIDRSpec(cidrs: cidrs)))
    }

    @Test func serviceCIDRsNeedOneOrTwoValidPrefixes() {
        let validate = ObjectValidation.validator()
        #expect(validate(range(["10.96.0.0/12", "fd00:10:96::/112"])).isEmpty)
        #expect(validate(range([])).map(\.field) == ["spec.cidrs"])
        #expect(validate(range(["10.96.0.0/12", "10.97.0.0/16", "fd00::/64"])).map(\.field) == ["spec.cidrs"])
        let bad = validate(range(["10.96.0.0/33"]))
        #expect(bad.map(\.field) == ["spec.cidrs[0]"])
        #expect(bad.first?.message?.contains("10.96.0.0/33") == true)
    }
}
