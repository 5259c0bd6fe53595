import Testing

@testable import KubeClient

@Suite struct HTTPTransportTests {
    @Test func tlsServerNameBecomesTheRequestHostAndIsRoutedToTheServer() {
        let configuration = ClientConfiguration(server: "https://10.0.0.1:6443/prefix", tlsServerName: "kubernetes")
        let (server, override) = HTTPTransport.serverNameOverride(configuration)
        #expect(server == "https://kubernetes:6443/prefix")
        #expect(override == ["kubernetes": "10.0.0.1"])
    }

    @Test func anIPv6ServerIsRoutedWithoutBrackets() {
        let configuration = ClientConfiguration(server: "https://[fd00::1]:6443", tlsServerName: "kubernetes")
        #expect(HTTPTransport.serverNameOverride(configuration).1 == ["kubernetes": "fd00::1"])
    }

    @Test(arguments: [nil, "10.0.0.1"])
    func withoutADifferentNameNothingChanges(name: String?) {
        let configuration = ClientConfiguration(server: "https://10.0.0.1:6443", tlsServerName: name)
        let (server, override) = HTTPTransport.serverNameOverride(configuration)
        #expect(server == "https://10.0.0.1:6443")
        #expect(override.isEmpty)
    }
}
