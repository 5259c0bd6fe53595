// swift-tools-version: 6.0
// Coverage-guided fuzz targets (libFuzzer), one executable per parser. A separate package so the
// main package's `swift build`/`swift test` never sees an executable without `main`: these link
// only with `--sanitize=fuzzer`, which supplies it. Build and run them with `scripts/fuzz.sh`;
// see docs/fuzzing.md.
import PackageDescription

/// A library product of the root package.
func root(_ name: String) -> Target.Dependency { .product(name: name, package: "swift-kube-proxy") }

let package = Package(
    name: "swift-kube-proxy-fuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "swift-kube-proxy", path: "..")
    ],
    targets: [
        .executableTarget(name: "fuzz-manifest", dependencies: [root("KubeClient"), root("KubeProxyRuntime")]),
        .executableTarget(name: "fuzz-api-json", dependencies: [root("KubeAPI"), root("KubeClient")]),
        .executableTarget(name: "fuzz-json-tape", dependencies: [root("KubeAPI"), root("KubeClient")]),
        .executableTarget(name: "fuzz-typed-decode", dependencies: [root("KubeAPI"), root("KubeClient")]),
        .executableTarget(name: "fuzz-watch-framer", dependencies: [root("KubeAPI"), root("KubeClient")]),
        .executableTarget(name: "fuzz-iptables-save", dependencies: [root("KubeProxyIPTables")]),
        .executableTarget(name: "fuzz-kubeconfig", dependencies: [root("KubeAPI"), root("KubeClient")]),
        .executableTarget(name: "fuzz-config-file", dependencies: [root("KubeProxyCore"), root("KubeProxyRuntime")]),
        .executableTarget(name: "fuzz-label-selector", dependencies: [root("KubeAPI")]),
    ]
)
