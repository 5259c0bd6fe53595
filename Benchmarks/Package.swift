// swift-tools-version: 6.1
// Allocation counts of the data plane's relay path (ordo-one/benchmark with its malloc
// interposer). A separate package so the main package's build and tests never compile the
// benchmark tooling; `bash bench/run.sh` (BENCH_ONLY=alloc) runs it and keeps the numbers in the
// results file. See bench/README.md.
import PackageDescription

let package = Package(
    name: "swift-kube-proxy-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "swift-kube-proxy", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", exact: "1.38.1", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
    ],
    targets: [
        .executableTarget(
            name: "RelayAllocations",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "KubeProxyDataPlane", package: "swift-kube-proxy"),
                .product(name: "KubeProxyCore", package: "swift-kube-proxy"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/RelayAllocations",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        )
    ]
)
