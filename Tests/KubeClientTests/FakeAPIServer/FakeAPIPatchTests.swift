import Foundation
import KubeAPI
import KubeProxyTesting
import Testing

/// The patch formats as pure functions: RFC 7386 merge patch, RFC 6902 JSON patch and the
/// strategic merge patch with the patch metadata of the stored kinds.
@Suite("FakeAPIServer patches")
struct FakeAPIPatchTests {
    private func json(_ text: String) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
    }

    private func strategic(_ original: String, _ patch: String, _ resource: FakeAPIResource = .services) throws -> JSONValue {
        try FakeAPIPatch.strategicMergePatch(json(original), json(patch), schema: .schema(for: resource))
    }

    // MARK: RFC 7386

    @Test func mergePatchFollowsTheRFCExamples() throws {
        // RFC 7386 appendix A, a selection: members merge, null deletes, arrays and scalars replace.
        let cases: [(String, String, String)] = [
            (#"{"a":"b"}"#, #"{"a":"c"}"#, #"{"a":"c"}"#),
            (#"{"a":"b"}"#, #"{"b":"c"}"#, #"{"a":"b","b":"c"}"#),
            (#"{"a":"b"}"#, #"{"a":null}"#, #"{}"#),
            (#"{"a":"b","b":"c"}"#, #"{"a":null}"#, #"{"b":"c"}"#),
            (#"{"a":["b"]}"#, #"{"a":"c"}"#, #"{"a":"c"}"#),
            (#"{"a":"c"}"#, #"{"a":["b"]}"#, #"{"a":["b"]}"#),
            (#"{"a":{"b":"c"}}"#, #"{"a":{"b":"d","c":null}}"#, #"{"a":{"b":"d"}}"#),
            (#"{"a":[{"b":"c"}]}"#, #"{"a":[1]}"#, #"{"a":[1]}"#),
            (#"{"e":null}"#, #"{"a":1}"#, #"{"a":1,"e":null}"#),
            (#"[1,2]"#, #"{"a":"b","c":null}"#, #"{"a":"b"}"#),
            (#"{}"#, #"{"a":{"bb":{"ccc":null}}}"#, #"{"a":{"bb":{}}}"#),
        ]
        for (target, patch, expected) in cases {
            #expect(FakeAPIPatch.mergePatch(try json(target), try json(patch)) == (try json(expected)), "\(target) + \(patch)")
        }
    }

    // MARK: RFC 6902

    @Test func jsonPatchAppliesEveryOperation() throws {
        let document = try json(#"{"spec":{"ports":[{"port":80},{"port":443}],"a/b":1,"t~":2}}"#)
        let patched = try FakeAPIPatch.jsonPatch(
            document,
            operations: json(
                #"""
                [{"op":"test","path":"/spec/ports/0/port","value":80},
                 {"op":"add","path":"/spec/ports/-","value":{"port":8080}},
                 {"op":"replace","path":"/spec/ports/1/port","value":8443},
                 {"op":"remove","path":"/spec/a~1b"},
                 {"op":"move","from":"/spec/t~0","path":"/spec/moved"},
                 {"op":"copy","from":"/spec/ports/0","path":"/spec/ports/0"}]
                """#))
        #expect(patched == (try json(#"{"spec":{"ports":[{"port":80},{"port":80},{"port":8443},{"port":8080}],"moved":2}}"#)))
    }

    @Test func jsonPatchFailsWholeOnAMissingPathOrAFailedTest() throws {
        let document = try json(#"{"spec":{"ports":[{"port":80}]}}"#)
        #expect(throws: FakeAPIPatchError.self) {
            try FakeAPIPatch.jsonPatch(document, operations: json(#"[{"op":"remove","path":"/spec/ports/1"}]"#))
        }
        #expect(throws: FakeAPIPatchError("operation 1: test failed: the value at /spec/ports/0/port differs")) {
            try FakeAPIPatch.jsonPatch(
                document,
                operations: json(#"[{"op":"add","path":"/x","value":1},{"op":"test","path":"/spec/ports/0/port","value":81}]"#))
        }
        #expect(throws: FakeAPIPatchError.self) {
            try FakeAPIPatch.jsonPatch(document, operations: json(#"[{"op":"replace","path":"/spec/missing","value":1}]"#))
        }
    }

    // MARK: Strategic merge patch

    @Test func strategicPatchMergesServicePortsByPort() throws {
        let original = #"{"spec":{"ports":[{"name":"http","port":80,"targetPort":8080},{"name":"https","port":443}]}}"#
        let patched = try strategic(original, #"{"spec":{"ports":[{"port":80,"targetPort":9090},{"port":53,"protocol":"UDP"}]}}"#)
        #expect(
            patched
                == (try json(
                    #"{"spec":{"ports":[{"name":"http","port":80,"targetPort":9090},{"name":"https","port":443},{"port":53,"protocol":"UDP"}]}}"#
                )))
    }

    @Test func strategicPatchNullDeletesAndUnmatchedNullsAreIgnored() throws {
        let original = #"{"metadata":{"labels":{"app":"web","tier":"front"}},"spec":{"selector":{"app":"web"}}}"#
        let patched = try strategic(original, #"{"metadata":{"labels":{"tier":null,"absent":null}},"spec":{"new":{"x":null,"y":1}}}"#)
        #expect(patched == (try json(#"{"metadata":{"labels":{"app":"web"}},"spec":{"selector":{"app":"web"},"new":{"y":1}}}"#)))
    }

    @Test func strategicPatchDeleteDirectiveRemovesAListElementByKey() throws {
        let original = #"{"spec":{"ports":[{"port":80},{"port":443},{"port":53}]}}"#
        let patched = try strategic(original, #"{"spec":{"ports":[{"$patch":"delete","port":443}]}}"#)
        #expect(patched == (try json(#"{"spec":{"ports":[{"port":80},{"port":53}]}}"#)))
    }

    @Test func strategicPatchReplaceDirectivesReplaceAListOrAMap() throws {
        let original = #"{"spec":{"ports":[{"port":80},{"port":443}],"selector":{"app":"web","tier":"front"}}}"#
        let list = try strategic(original, #"{"spec":{"ports":[{"$patch":"replace"},{"port":8080}]}}"#)
        #expect(list == (try json(#"{"spec":{"ports":[{"port":8080}],"selector":{"app":"web","tier":"front"}}}"#)))
        let map = try strategic(original, #"{"spec":{"selector":{"$patch":"replace","app":"api"}}}"#)
        #expect(map == (try json(#"{"spec":{"ports":[{"port":80},{"port":443}],"selector":{"app":"api"}}}"#)))
        let deleted = try strategic(original, #"{"spec":{"selector":{"$patch":"delete"}}}"#)
        #expect(deleted == (try json(#"{"spec":{"ports":[{"port":80},{"port":443}],"selector":{}}}"#)))
    }

    @Test func strategicPatchReplacesListsWithoutAStrategy() throws {
        // Service externalIPs and EndpointSlice endpoints have no merge strategy upstream.
        let service = try strategic(#"{"spec":{"externalIPs":["192.0.2.1","192.0.2.2"]}}"#, #"{"spec":{"externalIPs":["192.0.2.3"]}}"#)
        #expect(service == (try json(#"{"spec":{"externalIPs":["192.0.2.3"]}}"#)))
        let slice = try strategic(
            #"{"endpoints":[{"addresses":["192.0.2.1"]},{"addresses":["192.0.2.2"]}]}"#, #"{"endpoints":[{"addresses":["192.0.2.9"]}]}"#,
            .endpointSlices)
        #expect(slice == (try json(#"{"endpoints":[{"addresses":["192.0.2.9"]}]}"#)))
    }

    @Test func strategicPatchMergesScalarSetsAndDeletesFromThem() throws {
        let original = #"{"metadata":{"finalizers":["a","b"]},"spec":{"podCIDRs":["10.0.0.0/24"]}}"#
        let patched = try strategic(
            original,
            #"{"metadata":{"finalizers":["b","c"],"$deleteFromPrimitiveList/finalizers":["a"]},"spec":{"podCIDRs":["fd00::/64"]}}"#,
            .nodes)
        #expect(patched == (try json(#"{"metadata":{"finalizers":["b","c"]},"spec":{"podCIDRs":["10.0.0.0/24","fd00::/64"]}}"#)))
    }

    @Test func strategicPatchSetElementOrderKeepsServerOnlyElementsInPlace() throws {
        // kubectl apply sends the order of the applied list; an element only the server has
        // stays where it was relative to its neighbours.
        let original = #"{"spec":{"ports":[{"port":1},{"port":2},{"port":3}]}}"#
        let kept = try strategic(original, #"{"spec":{"$setElementOrder/ports":[{"port":1},{"port":3}],"ports":[{"port":3,"name":"c"}]}}"#)
        #expect(kept == (try json(#"{"spec":{"ports":[{"port":1},{"port":2},{"port":3,"name":"c"}]}}"#)))
        // Reordered: the patch's elements follow the given order; port 2 goes before port 3,
        // which followed it on the server (upstream's mergeSortedSlice).
        let reordered = try strategic(original, #"{"spec":{"$setElementOrder/ports":[{"port":3},{"port":1}]}}"#)
        #expect(reordered == (try json(#"{"spec":{"ports":[{"port":2},{"port":3},{"port":1}]}}"#)))
    }

    @Test func strategicPatchRetainKeysDropsOtherKeys() throws {
        let original = #"{"spec":{"sessionAffinityConfig":{"clientIP":{"timeoutSeconds":10},"other":1}}}"#
        let patched = try strategic(
            original, #"{"spec":{"sessionAffinityConfig":{"$retainKeys":["clientIP"],"clientIP":{"timeoutSeconds":20}}}}"#)
        #expect(patched == (try json(#"{"spec":{"sessionAffinityConfig":{"clientIP":{"timeoutSeconds":20}}}}"#)))
    }

    @Test func strategicPatchRejectsMalformedPatches() throws {
        let original = #"{"spec":{"ports":[{"port":80}]}}"#
        #expect(throws: FakeAPIPatchError.self) { try strategic(original, #"{"spec":{"ports":[{"name":"no-key"}]}}"#) }
        #expect(throws: FakeAPIPatchError.self) { try strategic(original, #"{"spec":{"$patch":"explode"}}"#) }
        #expect(throws: FakeAPIPatchError.self) { try strategic(original, #"[1]"#) }
        #expect(throws: FakeAPIPatchError.self) { try strategic(original, #"{"$unknownDirective":1}"#) }
    }

    // MARK: Fault specs

    @Test func faultSpecsParseAndPrintBack() throws {
        let specs = ["stall=30s", "stall=500ms", "fail=5:503", "fail=3:429:2", "gone", "reset", "end-watches", "clear"]
        for spec in specs { #expect(try FakeAPIFault(parsing: spec).description == spec) }
        #expect(try FakeAPIFault(parsing: "fail=2") == .fail(count: 2, code: 500, retryAfter: nil))
        #expect(try FakeAPIFault(parsing: "stall=2m") == .stall(.seconds(120)))
        for bad in ["stall", "stall=soon", "fail=x", "fail=1:200", "gone=1", "explode", "fail=1:500:2:3"] {
            #expect(throws: FakeAPIFaultError.self, "\(bad)") { try FakeAPIFault(parsing: bad) }
        }
    }
}
