import Testing

@testable import KubeClient

@Suite struct APIRequestTests {
    @Test func queryValuesArePercentEncodedExceptUnreservedCharacters() {
        let request = APIRequest(
            path: "/api/v1/services",
            query: [("labelSelector", "!a/b,!c"), ("continue", "x+y/z="), ("limit", "500")])
        #expect(request.pathAndQuery == "/api/v1/services?labelSelector=%21a%2Fb%2C%21c&continue=x%2By%2Fz%3D&limit=500")
    }

    @Test(arguments: ["https://h:6443", "https://h:6443/", "https://h:6443//"])
    func urlJoinsTheServerAndPathWithOneSlash(server: String) {
        #expect(APIRequest(path: "/api/v1/nodes").url(server: server) == "https://h:6443/api/v1/nodes")
    }

    @Test func aServerPathPrefixIsKept() {
        #expect(APIRequest(path: "/api").url(server: "https://rancher/k8s/clusters/c-1") == "https://rancher/k8s/clusters/c-1/api")
    }

    @Test func nodeWatchSelectsThisNodeByName() {
        let request = WatchResource.node("node-1").watchRequest(resourceVersion: "5", timeoutSeconds: 300)
        #expect(request["fieldSelector"] == "metadata.name=node-1")
        #expect(request["labelSelector"] == nil)
        #expect(request.pathAndQuery.hasPrefix("/api/v1/nodes?fieldSelector=metadata.name%3Dnode-1&watch=true"))
    }

    @Test func endpointSlicesAndEndpointsUseTheProxySelector() {
        let selector = "!service.kubernetes.io/service-proxy-name,!service.kubernetes.io/headless"
        #expect(WatchResource.endpointSlices.path == "/apis/discovery.k8s.io/v1/endpointslices")
        #expect(WatchResource.endpointSlices.labelSelector == selector)
        #expect(WatchResource.endpoints.path == "/api/v1/endpoints")
        #expect(WatchResource.endpoints.labelSelector == selector)
    }
}
