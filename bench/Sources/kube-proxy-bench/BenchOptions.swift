#if canImport(Glibc)
    import Glibc
#endif

/// The command line of `kube-proxy-bench`, parsed by hand: the target has no ArgumentParser
/// dependency, and the harness script is the only caller.
///
/// `kube-proxy-bench control-plane --services N [--endpoints E] [--changes K]`
struct BenchOptions: Sendable, Hashable {
    /// How many Services (one TCP port each) to generate.
    var services = 10_000
    /// Endpoints per Service, all in one EndpointSlice.
    var endpointsPerService = 10
    /// How many single EndpointSlice changes to time after the model is built.
    var changes = 21

    static let usage = """
        usage: kube-proxy-bench control-plane --services N [--endpoints E] [--changes K]

        Builds the proxy model for N generated Services with E endpoints each through the Core
        change trackers and ProxyState, then times K single EndpointSlice changes. Prints one
        human line and one `RESULT key=value ...` line for bench/run.sh. Run each size in a fresh
        process: the peak RSS it reports is the process's VmHWM.
        """

    /// Parses `arguments` (without the program name); returns nil and prints why on error.
    static func parse(_ arguments: [String]) -> BenchOptions? {
        guard arguments.first == "control-plane" else {
            printError(arguments.first.map { "unknown command \($0)" } ?? "missing command")
            return nil
        }
        var options = BenchOptions()
        var rest = arguments.dropFirst().makeIterator()
        while let flag = rest.next() {
            guard let text = rest.next(), let value = Int(text), value > 0 else {
                printError("\(flag) takes a positive number")
                return nil
            }
            switch flag {
            case "--services": options.services = value
            case "--endpoints": options.endpointsPerService = value
            case "--changes": options.changes = value
            default:
                printError("unknown flag \(flag)")
                return nil
            }
        }
        guard options.services * options.endpointsPerService < 1 << 22 else {
            printError("at most \(1 << 22) endpoints in total (the generated addresses are 10.128.0.0/10)")
            return nil
        }
        return options
    }

    static func printError(_ message: String) {
        StandardError.write("kube-proxy-bench: \(message)\n\n\(usage)\n")
    }
}
