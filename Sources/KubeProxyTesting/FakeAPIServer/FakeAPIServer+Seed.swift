import KubeAPI

extension FakeAPIServer {
    /// Creates `count` Services `svc-1…svc-N` in `namespace`, each with one EndpointSlice of
    /// `endpointsPerService` ready endpoints, for demos and load tests. Cluster IPs come from
    /// 198.18.0.0/16 and endpoints from 198.19.0.0/16 (the benchmarking range, never routed).
    ///
    /// - Throws: `Status` 409 if a `svc-i` already exists.
    public func seed(services count: Int, namespace: String = "default", endpointsPerService: Int = 2) throws(Status) {
        guard count > 0 else { return }
        for index in 1...count {
            let name = "svc-\(index)"
            try create(FakeAPISamples.service(name: name, namespace: namespace, clusterIP: Self.address(prefix: "198.18", index: index)))
            let addresses = (0..<max(0, endpointsPerService)).map {
                Self.address(prefix: "198.19", index: (index - 1) * endpointsPerService + $0 + 1)
            }
            try create(FakeAPISamples.endpointSlice(service: name, namespace: namespace, name: "\(name)-1", addresses: addresses))
        }
    }

    /// The `index`-th host address in `prefix`.0.0/16, skipping .0 and .255.
    private static func address(prefix: String, index: Int) -> String {
        "\(prefix).\((index / 254) % 256).\(index % 254 + 1)"
    }
}
