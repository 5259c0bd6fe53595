import Foundation
import KubeAPI
import KubeProxyTesting
import Testing

/// Every fixture in the shared directory decodes as its type, so a newly added fixture cannot
/// go untested.
@Suite struct FixturesTests {
    static let decoders: [String: @Sendable (Data) throws -> Void] = [
        "core.v1.Service.json": { _ = try JSONDecoder().decode(Service.self, from: $0) },
        "core.v1.Endpoints.json": { _ = try JSONDecoder().decode(Endpoints.self, from: $0) },
        "core.v1.Status.json": { _ = try JSONDecoder().decode(Status.self, from: $0) },
        "core.v1.WatchEvent.json": { _ = try JSONDecoder().decode(WatchEvent<JSONValue>.self, from: $0) },
        "discovery.k8s.io.v1.EndpointSlice.json": { _ = try JSONDecoder().decode(EndpointSlice.self, from: $0) },
    ]

    @Test func theFixtureDirectoryIsFound() throws {
        #expect(try Set(Fixtures.allNames()).isSuperset(of: Self.decoders.keys))
    }

    @Test(arguments: try Fixtures.allNames())
    func everyFixtureDecodes(name: String) throws {
        let decode = try #require(Self.decoders[name], "no decoder registered for fixture \(name)")
        try decode(Fixtures.data(name))
    }

    @Test func aMissingFixtureNamesItsPath() {
        #expect {
            try Fixtures.data("no-such.json")
        } throws: { error in
            (error as? Fixtures.LoadError)?.path.hasSuffix("k8s-api/no-such.json") == true
        }
    }
}
