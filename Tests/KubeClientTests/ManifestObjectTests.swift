import KubeAPI
import KubeClient
import Testing

@Suite struct ManifestObjectTests {
    @Test func keyDefaultsTheNamespace() {
        let object = ManifestObject.endpoints(Endpoints(metadata: ObjectMeta(name: "web")))
        #expect(object.key == .init(kind: .endpoints, namespace: "default", name: "web"))
        #expect(object.key.description == "Endpoints default/web")
    }

    @Test(arguments: [
        ("Service", ManifestObject.Kind.service), ("EndpointSlice", .endpointSlice), ("Endpoints", .endpoints),
    ])
    func kindsRoundTripTheirAPINames(name: String, kind: ManifestObject.Kind) {
        #expect(ManifestObject.Kind(apiKind: name) == kind)
        #expect(kind.description == name)
    }

    @Test func otherKindsAreNotRead() {
        #expect(ManifestObject.Kind(apiKind: "ConfigMap") == nil)
        #expect(ManifestObject.Kind(apiKind: "service") == nil)
    }

    @Test func keysSortByKindThenNamespaceThenName() {
        let keys: [ManifestObject.Key] = [
            .init(kind: .endpoints, namespace: "a", name: "a"), .init(kind: .service, namespace: "b", name: "a"),
            .init(kind: .service, namespace: "a", name: "b"),
        ]
        #expect(keys.sorted().map(\.description) == ["Service a/b", "Service b/a", "Endpoints a/a"])
    }
}
