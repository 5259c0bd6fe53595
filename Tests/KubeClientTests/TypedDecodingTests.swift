import Foundation
import KubeAPI
import KubeProxyTesting
import Testing

@testable import KubeClient

/// The hand-written typed decoders against `Codable`, from both sources (the manifest tree and
/// the API tape): every fixture, hand-made edge cases, and the field lists kept in step with the
/// types' stored properties.
@Suite struct TypedDecodingTests {
    // MARK: Field lists

    /// Each typed decoder's `TypedField` cases against the type's stored properties (a property
    /// added to the type but not to its decoder fails here).
    @Test func everyStoredPropertyHasAField() {
        func check<T>(_ value: T, _ fields: [String], sourceLocation: SourceLocation = #_sourceLocation) {
            let properties = Mirror(reflecting: value).children.compactMap(\.label)
            #expect(Set(properties) == Set(fields), "\(T.self)", sourceLocation: sourceLocation)
            #expect(properties.count == fields.count, "\(T.self)", sourceLocation: sourceLocation)
        }
        check(ObjectMeta(), ObjectMeta.TypedField.allCases.map(\.rawValue))
        check(OwnerReference(), OwnerReference.TypedField.allCases.map(\.rawValue))
        check(Service(), Service.TypedField.allCases.map(\.rawValue))
        check(ServiceSpec(), ServiceSpec.TypedField.allCases.map(\.rawValue))
        check(ServicePortSpec(), ServicePortSpec.TypedField.allCases.map(\.rawValue))
        check(SessionAffinityConfig(), SessionAffinityConfig.TypedField.allCases.map(\.rawValue))
        check(ClientIPConfig(), ClientIPConfig.TypedField.allCases.map(\.rawValue))
        check(ServiceStatus(), ServiceStatus.TypedField.allCases.map(\.rawValue))
        check(LoadBalancerStatus(), LoadBalancerStatus.TypedField.allCases.map(\.rawValue))
        check(LoadBalancerIngress(), LoadBalancerIngress.TypedField.allCases.map(\.rawValue))
        check(PortStatus(), PortStatus.TypedField.allCases.map(\.rawValue))
        check(Condition(), Condition.TypedField.allCases.map(\.rawValue))
        check(EndpointSlice(), EndpointSlice.TypedField.allCases.map(\.rawValue))
        check(EndpointSliceEndpoint(), EndpointSliceEndpoint.TypedField.allCases.map(\.rawValue))
        check(EndpointConditions(), EndpointConditions.TypedField.allCases.map(\.rawValue))
        check(EndpointHints(), EndpointHints.TypedField.allCases.map(\.rawValue))
        check(ForZone(), ForZone.TypedField.allCases.map(\.rawValue))
        check(ForNode(), ForNode.TypedField.allCases.map(\.rawValue))
        check(ObjectReference(), ObjectReference.TypedField.allCases.map(\.rawValue))
        check(EndpointSlicePort(), EndpointSlicePort.TypedField.allCases.map(\.rawValue))
    }

    /// The upstream fixtures set every field, so a field the typed decoder skips or stores in the
    /// wrong property shows up as a difference from `JSONDecoder`.
    @Test func theServiceAndSliceFixturesSetEveryField() throws {
        let service = try Fixtures.decode(Service.self, from: "core.v1.Service.json")
        let slice = try Fixtures.decode(EndpointSlice.self, from: "discovery.k8s.io.v1.EndpointSlice.json")
        #expect(unsetFields(service) == [])
        #expect(unsetFields(slice) == [])
        // The helper sees what is missing.
        #expect(unsetFields(Service(spec: ServiceSpec(ports: [ServicePortSpec()]))).contains(".spec.ports[0].port"))
    }

    @Test func fieldTablesFindTheirKeysAndNothingElse() {
        let table = ServiceSpec.typedFields
        for field in ServiceSpec.TypedField.allCases {
            #expect(table.index(of: field.rawValue).map(table.field(at:)) == field)
        }
        for key in ["", "Type", "typ", "types", "clusterip", "clusterIPs ", "ports\u{0}", "pörts"] {
            #expect(table.index(of: key) == nil, "\(key)")
        }
    }

    // MARK: Fixtures

    /// Every fixture, as every type with a typed decoder: whatever the typed decoder answers is
    /// what `Codable` answers, and the Service and EndpointSlice fixtures are answered.
    @Test func everyFixtureDecodesAsCodableDecodesIt() throws {
        for name in try Fixtures.allNames() {
            let bytes = Array(try Fixtures.data(name))
            let service = try compare(Service.self, bytes, name)
            let slice = try compare(EndpointSlice.self, bytes, name)
            _ = try compare(ObjectMeta.self, bytes, name)
            if name == "core.v1.Service.json" { #expect(service == .both, "\(name)") }
            if name == "discovery.k8s.io.v1.EndpointSlice.json" { #expect(slice == .both, "\(name)") }
        }
    }

    /// Objects inside fixtures (a slice's endpoints, a Service's ports, metadata) decoded on their
    /// own, so each nested decoder is compared by itself too.
    @Test func nestedObjectsOfTheFixturesDecodeAsCodableDecodesThem() throws {
        let service = try JSONDecoder().decode(JSONValue.self, from: Fixtures.data("core.v1.Service.json"))
        let slice = try JSONDecoder().decode(JSONValue.self, from: Fixtures.data("discovery.k8s.io.v1.EndpointSlice.json"))
        func json(_ value: JSONValue?) throws -> [UInt8] { Array(try JSONEncoder().encode(try #require(value))) }
        #expect(try compare(ObjectMeta.self, json(service["metadata"]), "metadata") == .both)
        #expect(try compare(ServiceSpec.self, json(service["spec"]), "spec") == .both)
        #expect(try compare(ServiceStatus.self, json(service["status"]), "status") == .both)
        guard case .array(let endpoints)? = slice["endpoints"], case .array(let ports)? = slice["ports"] else {
            Issue.record("the slice fixture has no endpoints or ports")
            return
        }
        #expect(try compare(EndpointSliceEndpoint.self, json(endpoints.first), "endpoint") == .both)
        #expect(try compare(EndpointSlicePort.self, json(ports.first), "port") == .both)
    }

    // MARK: Edge cases

    /// Inputs the typed decoders must decode (both sources), equal to `Codable`.
    @Test(arguments: [
        #"{"metadata":{}}"#,
        #"{"metadata":{"name":null,"labels":null,"ownerReferences":null},"spec":null,"status":null,"kind":null}"#,
        #"{"metadata":{"name":"a","labels":{},"finalizers":[]},"spec":{"ports":[],"selector":{},"clusterIPs":[]}}"#,
        #"{"metadata":{"name":"a","generation":9223372036854775807,"deletionGracePeriodSeconds":-9223372036854775808}}"#,
        #"{"metadata":{"name":"a"},"spec":{"ports":[{"port":-0,"nodePort":0,"targetPort":-1}]}}"#,
        #"{"metadata":{"name":"a"},"spec":{"ports":[{"port":80,"targetPort":"http"},{"targetPort":8080}]}}"#,
        #"{"metadata":{"name":"caf\u00e9 \ud83d\ude00 ü","labels":{"k\"\\":"v\n","ü":"ß"}}}"#,
        #"{"metadata":{"na\u006de":"escaped key","\u006eamespace":"n"}}"#,
        #"{"metadata":{"name":"a","managedFields":[{"x":{"y":[1,2.5,null,true]}}],"unknown":1e300},"extra":{"a":"b"}}"#,
        #"{"metadata":{"name":"a","x":1,"x":2},"spec":{"y":[],"y":{}}}"#,
        #"{"metadata":{"name":"a"},"spec":{"sessionAffinityConfig":{"clientIP":{"timeoutSeconds":10800}},"publishNotReadyAddresses":false,"allocateLoadBalancerNodePorts":true}}"#,
        #"{"metadata":{"name":"a"},"status":{"loadBalancer":{"ingress":[{"ip":"1.2.3.4","ipMode":"Proxy","ports":[{"port":1,"error":"e"}]}]},"conditions":[{"type":"t","observedGeneration":3}]}}"#,
    ])
    func servicesTheTypedDecoderDecodes(_ json: String) throws {
        #expect(try compare(Service.self, Array(json.utf8), json) == .both)
    }

    /// EndpointSlices the typed decoders must decode, with fields told apart by distinct values
    /// (booleans in different states, so two swapped fields would not compare equal).
    @Test(arguments: [
        #"{"metadata":{"name":"s"},"endpoints":[]}"#,
        #"{"metadata":{"name":"s"},"endpoints":[{}],"ports":[{}]}"#,
        #"{"metadata":{"name":"s"},"endpoints":[{"addresses":["10.0.0.1"],"conditions":{"ready":true,"serving":false}}]}"#,
        #"{"metadata":{"name":"s"},"endpoints":[{"conditions":{"serving":true,"terminating":false}},{"conditions":{"ready":false,"terminating":true}}]}"#,
        #"{"metadata":{"name":"s"},"endpoints":[{"hostname":"h","nodeName":"n","zone":"z","deprecatedTopology":{"a":"b"}}]}"#,
        #"{"metadata":{"name":"s"},"endpoints":[{"hints":{"forZones":[{"name":"z1"},{}],"forNodes":[{"name":"n1"}]}}]}"#,
        #"{"metadata":{"name":"s"},"endpoints":[{"targetRef":{"kind":"Pod","name":"p","namespace":"ns","uid":"u","fieldPath":"f"}}]}"#,
        #"{"metadata":{"name":"s","ownerReferences":[{"controller":true,"blockOwnerDeletion":false},{"controller":false}]}}"#,
        #"{"metadata":{"name":"s"},"ports":[{"name":"http","protocol":"TCP","port":8080,"appProtocol":"h2c"},{"port":null}]}"#,
        #"{"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{"name":"s"},"addressType":"IPv6"}"#,
    ])
    func slicesTheTypedDecoderDecodes(_ json: String) throws {
        #expect(try compare(EndpointSlice.self, Array(json.utf8), json) == .both)
    }

    /// Inputs the typed decoders give up on, from both sources: type mismatches, missing or null
    /// required fields, numbers they do not read; `Codable` then decides (it fails on most).
    @Test(arguments: [
        #"{"metadata":{"name":"a"},"spec":{"ports":[{"port":"80"}]}}"#,
        #"{"metadata":{"name":5}}"#,
        #"{"metadata":{"name":"a","labels":{"a":1}}}"#,
        #"{"metadata":{"name":"a","labels":{"a":null}}}"#,
        #"{"metadata":{"name":"a","finalizers":[null]}}"#,
        #"{"metadata":{"name":"a"},"spec":{"ports":{}}}"#,
        #"{"metadata":null}"#,
        #"{"spec":{}}"#,
        #"{"metadata":[]}"#,
        #"[]"#,
        #"null"#,
        #""service""#,
        #"{"metadata":{"name":"a"},"spec":{"ports":[{"targetPort":true}]}}"#,
        #"{"metadata":{"name":"a"},"spec":{"ports":[{"targetPort":null}],"publishNotReadyAddresses":1}}"#,
        #"{"metadata":{"name":"a"},"spec":{"healthCheckNodePort":9223372036854775808}}"#,
        #"{"metadata":{"name":"a"},"spec":{"healthCheckNodePort":80.5}}"#,
    ])
    func servicesTheTypedDecoderGivesUpOn(_ json: String) throws {
        #expect(try compare(Service.self, Array(json.utf8), json) == .neither)
    }

    /// Numbers that are integers by value but written with a fraction or exponent or out of
    /// range: the tape leaves them to `JSONDecoder` (which reads `80.0` as 80); in a tree made by
    /// `JSONDecoder` they are already `.int`.
    @Test(arguments: [
        #"{"metadata":{"name":"a"},"spec":{"ports":[{"port":80.0}]}}"#,
        #"{"metadata":{"name":"a"},"spec":{"ports":[{"port":8e1}]}}"#,
        #"{"metadata":{"name":"a","generation":1E0}}"#,
        // Beyond Int.min, but the nearest Double is Int.min, so JSONDecoder's tree holds `.int`.
        #"{"metadata":{"name":"a"},"spec":{"healthCheckNodePort":-9223372036854775809}}"#,
    ])
    func numbersTheTapeLeavesToJSONDecoder(_ json: String) throws {
        #expect(try compare(Service.self, Array(json.utf8), json) == .treeOnly)
    }

    /// A repeated field or label key is refused on the tape (which value `JSONDecoder` keeps is
    /// its business); a tree cannot hold one.
    @Test(arguments: [
        #"{"metadata":{"name":"a","name":"b"}}"#,
        #"{"metadata":{"name":"a","na\u006de":"b"}}"#,
        #"{"metadata":{"name":"a","labels":{"k":"1","k":"2"}}}"#,
        #"{"metadata":{"name":"a"},"metadata":{"name":"a"}}"#,
        #"{"metadata":{"name":"a"},"spec":{"ports":[{"port":1,"port":1}]}}"#,
    ])
    func repeatedKeysAreRefusedOnTheTape(_ json: String) throws {
        let bytes = Array(json.utf8)
        let tape = try JSONTape(parsing: bytes)
        #expect(TypedDecoding.decode(Service.self, tape: 0, in: JSONTapeReader(tape: tape)) == nil)
        #expect(JSONTapeDecoder.decode(Service.self, from: bytes) == nil)
    }

    // MARK: The hooks

    /// LIST pages and watch events reach the typed decoders through `JSONTapeDecoder`; the
    /// answer equals `Codable`'s on the tape and `JSONDecoder`'s.
    @Test func listPagesAndWatchLinesUseTheTypedDecoders() throws {
        let page = Array(
            #"""
            {"kind":"EndpointSliceList","metadata":{"resourceVersion":"7"},"items":[
              {"metadata":{"name":"s","namespace":"n","labels":{"kubernetes.io/service-name":"svc"}},
               "addressType":"IPv4","ports":[{"name":"http","port":8080,"protocol":"TCP"}],
               "endpoints":[{"addresses":["10.0.0.1"],"conditions":{"ready":true}},
                            {"addresses":["10.0.0.2"],"conditions":{"ready":false},"unknownField":[{"x":1}]}]},
              {"metadata":{"name":"t"},"endpoints":[{"addresses":["10.0.0.3"]}],"ports":[{"port":null}]}]}
            """#.utf8)
        let typed = try #require(JSONTapeDecoder.decode(ObjectList<EndpointSlice>.self, from: page))
        let codable = try #require(JSONTapeDecoder.decode(ObjectList<EndpointSlice>.self, from: page, typed: false))
        #expect(typed == codable)
        #expect(typed == (try page.decodeWithFoundation(ObjectList<EndpointSlice>.self)))
        #expect(typed.items.map(\.metadata.name) == ["s", "t"])
        let line = Array(#"{"type":"MODIFIED","object":{"metadata":{"name":"a","namespace":"b"},"spec":{"ports":[{"port":80}]}}}"#.utf8)
        guard case .upsert(let service)? = JSONTapeDecoder.decode(DecodedWatchEvent<Service>.self, from: line) else {
            Issue.record("the watch line did not decode")
            return
        }
        #expect(service == (try line.decodeWithFoundation(WatchEvent<Service>.self)).object)
    }

    /// The manifest path decodes through the typed decoder and still reports `Codable`'s errors.
    @Test func manifestErrorsKeepTheirFieldPaths() {
        let yaml = """
            apiVersion: v1
            kind: Service
            metadata: {name: web}
            spec:
              ports:
              - port: 80
              - port: http
            """
        let contents = ManifestDecoder.decode(Data(yaml.utf8), file: "m/a.yaml", validator: { _ in [] })
        #expect(contents.errors.map(\.field) == ["spec.ports[1].port"])
        #expect(contents.errors.first?.message == "must be an integer")
    }

    // MARK: Helpers

    /// Which of the typed decoders answered.
    enum Answered: Equatable {
        case both, treeOnly, tapeOnly, neither
    }

    /// Decodes `bytes` as `T` with the typed decoders from the tape and from the tree made of
    /// them, checks every answer against the `Codable` path of the same source, and says which
    /// answered.
    private func compare<T: TypedDecodable & Decodable & Equatable>(
        _ type: T.Type, _ bytes: [UInt8], _ name: String, sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> Answered {
        // The tape, against JSONDecoder on the same bytes.
        let tape = try JSONTape(parsing: bytes)
        let fromTape = try? T.decodeTyped(0, from: JSONTapeReader(tape: tape))
        if let fromTape {
            let reference = try? bytes.decodeWithFoundation(type)
            #expect(reference == fromTape, "\(T.self) from the tape of \(name)", sourceLocation: sourceLocation)
        }
        // The tree, against the manifest path's Codable decoding (JSONValueDecoder, else
        // JSONDecoder on the tree's JSON).
        let value = try JSONDecoder().decode(JSONValue.self, from: Data(bytes))
        let fromTree = try? T.decodeTyped(value, from: JSONValueReader())
        if let fromTree {
            let reference =
                (try? JSONValueDecoder.decodeCodable(type, from: value))
                ?? (try? JSONDecoder().decode(type, from: JSONEncoder().encode(value)))
            #expect(reference == fromTree, "\(T.self) from the tree of \(name)", sourceLocation: sourceLocation)
            #expect((try? JSONValueDecoder.decode(type, from: value)) == fromTree, sourceLocation: sourceLocation)
        }
        // The entry points the hooks use (concrete per reader) answer the same.
        if T.self is any TypedDecodingRoot.Type {
            #expect(TypedDecoding.decode(type, tree: value) == fromTree, sourceLocation: sourceLocation)
            #expect(TypedDecoding.decode(type, tape: 0, in: JSONTapeReader(tape: tape)) == fromTape, sourceLocation: sourceLocation)
        }
        switch (fromTree != nil, fromTape != nil) {
        case (true, true): return .both
        case (true, false): return .treeOnly
        case (false, true): return .tapeOnly
        case (false, false): return .neither
        }
    }

    /// Paths of the optional properties left `nil` in `value`, through nested values and the
    /// first element of each array.
    private func unsetFields(_ value: Any, path: String = "") -> [String] {
        let mirror = Mirror(reflecting: value)
        if mirror.displayStyle == .collection {
            return mirror.children.first.map { unsetFields($0.value, path: path + "[0]") } ?? [path + "[0]"]
        }
        guard mirror.displayStyle == .struct else { return [] }
        var unset: [String] = []
        for child in mirror.children {
            let label = path + "." + (child.label ?? "?")
            let inner = Mirror(reflecting: child.value)
            if inner.displayStyle == .optional {
                guard let wrapped = inner.children.first?.value else {
                    unset.append(label)
                    continue
                }
                unset += unsetFields(wrapped, path: label)
            } else {
                unset += unsetFields(child.value, path: label)
            }
        }
        return unset
    }
}
