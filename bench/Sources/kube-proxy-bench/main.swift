// kube-proxy-bench: the Swift half of bench/run.sh (the control plane table). See bench/README.md.
#if canImport(Glibc)
    import Glibc
#endif

let arguments = Array(CommandLine.arguments.dropFirst())
if arguments.contains("-h") || arguments.contains("--help") {
    print(BenchOptions.usage)
    exit(0)
}
guard let options = BenchOptions.parse(arguments) else { exit(2) }
do {
    let result = try ControlPlaneBenchmark(options: options).run()
    print(result.summary)
    print(result.resultLine)
} catch {
    StandardError.write("kube-proxy-bench: \(error)\n")
    exit(1)
}
