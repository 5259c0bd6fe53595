// swift-tools-version: 6.0
// The target layout follows docs/design.md#targets: a pure core, I/O at the edges, one thin executable.
import PackageDescription

let package = Package(
    name: "swift-kube-proxy",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "kube-proxy", targets: ["kube-proxy"]),
        .executable(name: "example-backend", targets: ["example-backend"]),
        .executable(name: "kube-proxy-bench", targets: ["kube-proxy-bench"]),
        // Libraries so the fuzz package in Fuzz/ (built with -sanitize=fuzzer) can link the parsers.
        .library(name: "KubeAPI", targets: ["KubeAPI"]),
        .library(name: "KubeProxyCore", targets: ["KubeProxyCore"]),
        .library(name: "KubeProxyIPTables", targets: ["KubeProxyIPTables"]),
        .library(name: "KubeProxyNFTables", targets: ["KubeProxyNFTables"]),
        .library(name: "KubeClient", targets: ["KubeClient"]),
        .library(name: "KubeProxyRuntime", targets: ["KubeProxyRuntime"]),
        // For the allocation benchmark package in Benchmarks/ (bench/run.sh, BENCH_ONLY=alloc).
        .library(name: "KubeProxyDataPlane", targets: ["KubeProxyDataPlane"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        .target(name: "KubeAPI", exclude: ["README.md"]),
        .target(name: "KubeProxyCore", dependencies: ["KubeAPI"], exclude: ["README.md"]),
        .target(name: "KubeProxyIPTables", dependencies: ["KubeProxyCore"], exclude: ["README.md"]),
        .target(name: "KubeProxyNFTables", dependencies: ["KubeProxyCore"], exclude: ["README.md"]),
        .target(
            name: "KubeProxyHost",
            dependencies: ["KubeProxyCore", "KubeProxyIPTables", "CKubeProxyLinux", .product(name: "Logging", package: "swift-log")],
            exclude: ["README.md"]),
        .target(
            name: "KubeClient",
            dependencies: [
                "KubeAPI",
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            exclude: ["README.md"]
        ),
        // C declarations of epoll, eventfd and accept4 for the relay (Swift's Glibc lacks them).
        .target(name: "CKubeProxyLinux"),
        .target(
            name: "KubeProxyDataPlane",
            dependencies: [
                "KubeProxyCore", "CKubeProxyLinux",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            exclude: ["README.md"]
        ),
        .target(
            name: "KubeProxyRuntime",
            dependencies: [
                "KubeAPI", "KubeProxyCore", "KubeClient", "KubeProxyDataPlane", "KubeProxyIPTables", "KubeProxyNFTables",
                "KubeProxyHost",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            exclude: ["README.md", "Observability/README.md"]
        ),
        .executableTarget(
            name: "kube-proxy",
            dependencies: [
                "KubeProxyRuntime", "KubeProxyCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "example-backend",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "fake-apiserver",
            dependencies: ["KubeProxyTesting"]
        ),
        .executableTarget(
            name: "kp-probe",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "kube-proxy-bench",
            dependencies: [
                "KubeAPI", "KubeProxyCore", "KubeProxyDataPlane",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "bench/Sources/kube-proxy-bench"
        ),
        .target(
            name: "KubeProxyTesting",
            dependencies: [
                "KubeAPI", "KubeProxyCore", "KubeClient", "KubeProxyDataPlane", "KubeProxyRuntime",
                "KubeProxyIPTables", "KubeProxyNFTables", "KubeProxyHost",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                // The fake API server reads RBAC objects from deploy/'s YAML.
                .product(name: "Yams", package: "Yams"),
            ],
            exclude: ["README.md"]
        ),
        .testTarget(name: "KubeAPITests", dependencies: ["KubeAPI", "KubeProxyTesting"]),
        .testTarget(name: "KubeProxyCoreTests", dependencies: ["KubeProxyCore", "KubeProxyTesting"]),
        .testTarget(
            name: "KubeClientTests",
            dependencies: ["KubeClient", "KubeProxyTesting", .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(name: "KubeProxyIPTablesTests", dependencies: ["KubeProxyIPTables", "KubeProxyTesting"]),
        .testTarget(name: "KubeProxyNFTablesTests", dependencies: ["KubeProxyNFTables", "KubeProxyTesting"]),
        .testTarget(name: "KubeProxyHostTests", dependencies: ["KubeProxyHost", "KubeProxyTesting"]),
        .testTarget(
            name: "KubeProxyDataPlaneTests",
            dependencies: [
                "KubeProxyDataPlane", "KubeProxyTesting",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "KubeProxyRuntimeTests",
            dependencies: [
                "KubeProxyRuntime", "KubeProxyTesting",
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ]
        ),
        .testTarget(
            name: "EndToEndTests", dependencies: ["KubeProxyTesting", "KubeProxyCore", "KubeProxyIPTables"]
        ),
    ]
)
