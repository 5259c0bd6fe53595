import Foundation
import KubeAPI
import Testing

@testable import KubeClient

@Suite struct ManifestDecoderTests {
    private func decode(
        _ text: String, file: String = "m/app.yaml", validator: @escaping ManifestValidator = { _ in [] }
    )
        -> ManifestFileContents
    {
        ManifestDecoder.decode(Data(text.utf8), file: file, validator: validator)
    }

    /// ServiceCIDRs are cluster-scoped: no namespace is defaulted, and the key has none.
    @Test func readsAServiceCIDRWithoutANamespace() throws {
        let contents = decode(
            """
            apiVersion: networking.k8s.io/v1
            kind: ServiceCIDR
            metadata: {name: kubernetes}
            spec: {cidrs: [10.96.0.0/12, "fd00:10:96::/112"]}
            """)
        #expect(contents.errors.isEmpty)
        guard case .serviceCIDR(let range) = contents.objects.first?.object else {
            Issue.record("not a ServiceCIDR: \(contents.objects)")
            return
        }
        #expect(range.spec?.cidrs == ["10.96.0.0/12", "fd00:10:96::/112"])
        #expect(range.metadata.namespace == nil)
        #expect(contents.objects.first?.object.key.description == "ServiceCIDR /kubernetes")
        let wrongVersion = decode("apiVersion: v1\nkind: ServiceCIDR\nmetadata: {name: x}\nspec: {cidrs: [10.0.0.0/8]}\n")
        #expect(wrongVersion.objects.isEmpty)
    }

    @Test func readsEveryKindFromAMultiDocumentYAMLFile() throws {
        let text = """
            ---
            \(serviceYAML(namespace: "shop"))
            ---
            \(sliceYAML())
            ---
            apiVersion: v1
            kind: Endpoints
            metadata: {name: web}
            subsets:
            - addresses: [{ip: 10.244.1.5}]
              ports: [{name: http, port: 8080}]
            ---
            """
        let contents = decode(text)
        #expect(contents.errors.isEmpty)
        #expect(contents.objects.map(\.document) == [1, 2, 3])
        #expect(
            contents.objects.map(\.object.key.description) == [
                "Service shop/web", "EndpointSlice default/web-abc", "Endpoints default/web",
            ])
        guard case .service(let service) = contents.objects.first?.object else {
            Issue.record("first object is not a Service")
            return
        }
        #expect(service.spec?.ports?.first?.port == 80)
        #expect(service.spec?.ports?.first?.targetPort == .int(8080))
        guard case .endpointSlice(let slice) = contents.objects[1].object else { return }
        #expect(slice.metadata.namespace == "default")
        #expect(slice.endpoints?.first?.conditions?.ready == true)
    }

    @Test func readsJSON() {
        let json =
            #"{"apiVersion":"v1","kind":"Service","metadata":{"name":"dns","namespace":"kube-system"},"spec":{"ports":[{"port":53,"protocol":"UDP","targetPort":"dns"}]}}"#
        let contents = decode(json, file: "m/dns.json")
        #expect(contents.errors.isEmpty)
        guard case .service(let service) = contents.objects.first?.object else {
            Issue.record("no Service decoded")
            return
        }
        #expect(service.spec?.ports?.first?.targetPort == .string("dns"))
        #expect(service.metadata.namespace == "kube-system")
    }

    @Test func unwrapsListsWhoseTypedItemsMayOmitKind() {
        let text = """
            apiVersion: v1
            kind: ServiceList
            items:
            - metadata: {name: a}
            - metadata: {name: b, namespace: x}
            ---
            apiVersion: v1
            kind: List
            items:
            - \(#"{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "c"}}"#)
            - \(#"{"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": {"name": "c-1"}, "addressType": "IPv4"}"#)
            """
        let contents = decode(text)
        #expect(contents.errors.isEmpty)
        #expect(
            contents.objects.map(\.object.key.description) == [
                "Service default/a", "Service x/b", "Service default/c", "EndpointSlice default/c-1",
            ])
        #expect(contents.objects.map(\.document) == [1, 1, 2, 2])
    }

    @Test func aWrongTypeNamesFileDocumentObjectAndField() {
        let text = "\(sliceYAML())\n---\n" + serviceYAML().replacingOccurrences(of: "port: 80", with: "port: \"80\"")
        let contents = decode(text)
        #expect(
            contents.errors == [
                ManifestError(
                    reason: .invalidObject, file: "m/app.yaml", document: 2, kind: "Service", object: "default/web",
                    field: "spec.ports[0].port", message: "must be an integer")
            ])
        #expect(
            contents.errors.first?.description
                == "m/app.yaml: document 2 (Service default/web): spec.ports[0].port: must be an integer")
    }

    @Test func fieldPathsInsideListsStartAtTheDocument() {
        let text = """
            kind: ServiceList
            items:
            - metadata: {name: a}
              spec: {ports: [{port: 80}, {port: [1]}]}
            """
        #expect(decode(text).errors.map(\.field) == ["items[0].spec.ports[1].port"])
    }

    @Test func anIntegerTooLargeIsATypeErrorAtItsField() {
        let text = "kind: Service\nmetadata: {name: a}\nspec: {ports: [{port: 99999999999999999999}]}\n"
        #expect(
            decode(text).errors.map(\.description) == [
                "m/app.yaml: document 1 (Service default/a): spec.ports[0].port: must be an integer"
            ])
    }

    @Test func aSyntaxErrorNamesTheDocumentAndLine() throws {
        let text = serviceYAML() + "\n---\nkind: Service\nmetadata: {name: [oops\n"
        let error = try #require(decode(text).errors.first)
        #expect(error.reason == .syntax)
        #expect(error.document == 2)
        #expect(error.message.hasPrefix("line "))
        #expect(!error.message.contains("\n"))
    }

    @Test func aJSONSyntaxErrorIsReported() throws {
        let error = try #require(
            decode(#"{"kind": "Service", "metadata": {"name": "a"}"#, file: "m/x.json").errors.first)
        #expect(error.reason == .syntax)
        #expect(error.document == 1)
        #expect(error.message.hasPrefix("invalid JSON: line 2, column 1: did not find expected"))
    }

    @Test func requiresKindAndName() {
        let text = "apiVersion: v1\nmetadata: {name: a}\n---\nkind: Service\nmetadata: {namespace: x}\n"
        #expect(
            decode(text).errors.map(\.description) == [
                "m/app.yaml: document 1: kind: is required",
                "m/app.yaml: document 2 (Service): metadata.name: is required",
            ])
        #expect(
            decode("kind: Service\n").errors.map(\.description) == [
                "m/app.yaml: document 1 (Service): metadata: is required"
            ])
    }

    @Test func unsupportedKindsAndVersionsAreWarningsOnly() {
        let text = """
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: web}
            ---
            apiVersion: discovery.k8s.io/v1beta1
            kind: EndpointSlice
            metadata: {name: old}
            ---
            \(serviceYAML())
            """
        let contents = decode(text)
        #expect(contents.errors.isEmpty)
        #expect(contents.objects.count == 1)
        #expect(contents.warnings.map(\.reason) == [.unsupportedKind, .unsupportedKind])
        #expect(contents.warnings.map(\.document) == [1, 2])
        #expect(
            contents.warnings.first?.description
                == "m/app.yaml: document 1 (Deployment default/web): kind is not read by kube-proxy; ignored")
    }

    @Test func validatorCausesRejectTheObjectWithItsField() {
        let contents = decode(serviceYAML(port: 70000), validator: portValidator)
        #expect(contents.objects.isEmpty)
        #expect(
            contents.errors.map(\.description) == [
                "m/app.yaml: document 1 (Service default/web): spec.ports[0].port: must be between 1 and 65535"
            ])
        #expect(contents.errors.first?.reason == .validation)
    }

    @Test func theValidatorSeesTheDefaultedNamespace() {
        let contents = decode(serviceYAML()) { object in
            object.metadata.namespace == "default" ? [] : [StatusCause(message: "namespace not defaulted")]
        }
        #expect(contents.errors.isEmpty)
    }

    @Test func theSameObjectTwiceInAFileIsAnError() {
        let contents = decode(serviceYAML() + "\n---\n" + serviceYAML(namespace: "default"))
        #expect(
            contents.errors.map(\.description) == [
                "m/app.yaml: document 2 (Service default/web): already defined in document 1 of this file"
            ])
    }

    @Test(arguments: ["", "---\n", "# only a comment\n", "---\n---\n"])
    func emptyFilesHaveNoObjectsAndNoErrors(text: String) {
        #expect(decode(text) == ManifestFileContents())
    }

    @Test func emptyDocumentsStillCount() {
        let contents = decode("---\n---\n" + serviceYAML())
        #expect(contents.objects.map(\.document) == [2])
    }

    @Test func aDocumentThatIsNotAnObjectIsRejected() {
        #expect(
            decode("- a\n- b\n").errors.map(\.description) == ["m/app.yaml: document 1: document must be an object"])
    }

    @Test func yamlScalarsFollowTheCoreSchema() throws {
        let text = """
            kind: Service
            metadata:
              name: web
              labels: {a: "true", b: "1"}
            spec:
              publishNotReadyAddresses: true
              ports: [{port: 0x50, targetPort: "8080"}]
              externalName: ~
            """
        let contents = decode(text)
        #expect(contents.errors.isEmpty)
        guard case .service(let service) = contents.objects.first?.object else {
            Issue.record("no Service decoded")
            return
        }
        #expect(service.metadata.labels == ["a": "true", "b": "1"])
        #expect(service.spec?.publishNotReadyAddresses == true)
        #expect(service.spec?.ports?.first?.port == 80)
        #expect(service.spec?.ports?.first?.targetPort == .string("8080"))
        #expect(service.spec?.externalName == nil)
    }
}
