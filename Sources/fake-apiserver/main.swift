// fake-apiserver: the test suite's fake Kubernetes API server as a program, for demos and
// debugging a client by hand (`kubectl --kubeconfig <printed path> get svc -A -w`).
//
// It prints `url: …` and `kubeconfig: …` lines on stdout (unbuffered, so a parent process can
// read them), then serves until SIGTERM or SIGINT, or until its parent process exits. Faults
// come from `--fault` at start and from the control endpoint `/fake/faults` while it runs.
import Dispatch
import Foundation
import KubeProxyTesting

#if canImport(Glibc)
    import Glibc
#endif

struct Options {
    var host = "127.0.0.1"
    var port = 0
    var tls = false
    var mutualTLS = false
    var token: String?
    var seedServices = 0
    var seedEndpoints = 2
    var kubeconfig: String?
    var bookmarkInterval = 60
    var historyLimit = 1000
    var faults: [FakeAPIFault] = []

    static let usage = """
        usage: fake-apiserver [--host ADDR] [--port N] [--tls] [--mtls] [--token TOKEN]
                              [--seed-services N] [--seed-endpoints N] [--kubeconfig PATH] [--bookmark-interval SECONDS]
                              [--history N] [--fault SPEC]...

        A fake Kubernetes API server (Services, EndpointSlices, Endpoints, Nodes) for demos and
        for rehearsing API-server trouble. It prints `url:` and `kubeconfig:` lines, then serves
        until SIGTERM/SIGINT. kubectl get/watch/apply/edit/patch/delete work against it.

          --host ADDR               listen address (default 127.0.0.1)
          --port N                  listen port (default 0: any free port)
          --tls                     serve HTTPS with a freshly generated CA (in the kubeconfig)
          --mtls                    --tls, and require a client certificate (in the kubeconfig)
          --token TOKEN             require `Authorization: Bearer TOKEN` (in the kubeconfig)
          --seed-services N         start with N Services and one EndpointSlice each
          --seed-endpoints N        endpoints in each seeded EndpointSlice (default 2)
          --kubeconfig PATH         where to write the kubeconfig (default: a temporary directory)
          --bookmark-interval S     seconds between watch bookmarks (default 60)
          --history N               changes kept for watch resumption; older versions are 410 (default 1000)
          --fault SPEC              inject a fault at start (repeatable); SPEC is one of:
        \(FakeAPIFault.grammar)

        While it runs, inject faults through its control endpoint with the kubeconfig it wrote:
          echo stall=30s | kubectl --kubeconfig KUBECONFIG create --raw /fake/faults -f -
          kubectl --kubeconfig KUBECONFIG get --raw /fake/faults      # what is in force
        """

    static func parse(_ arguments: [String]) -> Options {
        var options = Options()
        var iterator = arguments.dropFirst().makeIterator()
        func value(_ flag: String) -> String {
            guard let value = iterator.next() else { fail("\(flag) takes a value") }
            return value
        }
        func number(_ flag: String) -> Int {
            guard let number = Int(value(flag)), number >= 0 else { fail("\(flag) takes a non-negative number") }
            return number
        }
        while let argument = iterator.next() {
            switch argument {
            case "--host": options.host = value(argument)
            case "--port": options.port = number(argument)
            case "--tls": options.tls = true
            case "--mtls": options.tls = true; options.mutualTLS = true
            case "--token": options.token = value(argument)
            case "--seed-services": options.seedServices = number(argument)
            case "--seed-endpoints": options.seedEndpoints = number(argument)
            case "--kubeconfig": options.kubeconfig = value(argument)
            case "--bookmark-interval": options.bookmarkInterval = max(1, number(argument))
            case "--history": options.historyLimit = max(1, number(argument))
            case "--fault":
                do {
                    options.faults.append(try FakeAPIFault(parsing: value(argument)))
                } catch {
                    fail("--fault: \(error)\n\(FakeAPIFault.grammar)")
                }
            case "-h", "--help":
                say(usage)
                exit(0)
            default: fail("unknown argument \(argument)\n\(usage)")
            }
        }
        return options
    }
}

/// Writes a line to stdout unbuffered, so a parent reading a pipe sees it at once. Errors are
/// ignored: a parent that died must not turn shutdown into a crash on a broken pipe.
func say(_ line: String) {
    let bytes = Array((line + "\n").utf8)
    _ = bytes.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
}

func fail(_ message: String) -> Never {
    let bytes = Array("fake-apiserver: \(message)\n".utf8)
    _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    exit(2)
}

let options = Options.parse(CommandLine.arguments)
let workDirectory = NSTemporaryDirectory() + "fake-apiserver-" + UUID().uuidString
do {
    try FileManager.default.createDirectory(atPath: workDirectory, withIntermediateDirectories: true)
} catch {
    fail("cannot create \(workDirectory): \(error)")
}

let tls: FakeAPITLS?
if options.tls {
    do {
        let pki = try FakeAPIPKI.generate(in: workDirectory)
        tls = FakeAPITLS(pki: pki, clientCertificates: options.mutualTLS ? .required : .optional)
    } catch {
        fail("\(error)")
    }
} else {
    tls = nil
}

let configuration = FakeAPIServer.Configuration(
    historyLimit: options.historyLimit, bookmarkInterval: .seconds(options.bookmarkInterval)
)
let server: FakeAPIServer
do {
    server = try await FakeAPIServer.start(
        host: options.host, port: options.port, tls: tls, token: options.token, configuration: configuration)
    try server.seed(services: options.seedServices, endpointsPerService: options.seedEndpoints)
    for fault in options.faults { server.inject(fault) }
    let kubeconfig = try server.writeKubeconfig(
        to: options.kubeconfig ?? workDirectory + "/kubeconfig",
        options: FakeAPIKubeconfigOptions(includeClientCertificate: options.mutualTLS)
    )
    say("url: \(server.url)")
    say("kubeconfig: \(kubeconfig)")
    say("resourceVersion: \(server.resourceVersion)")
} catch {
    fail("\(error)")
}

signal(SIGTERM, SIG_IGN)
signal(SIGINT, SIG_IGN)
let (signals, signalContinuation) = AsyncStream<Int32>.makeStream()
let signalSources = [SIGTERM, SIGINT].map { number in
    let source = DispatchSource.makeSignalSource(signal: number, queue: .main)
    source.setEventHandler { signalContinuation.yield(number) }
    source.resume()
    return source
}
// A test that starts this program may die without stopping it; exit when the parent is gone.
let parent = getppid()
let parentWatch = DispatchSource.makeTimerSource(queue: .main)
parentWatch.schedule(deadline: .now() + 1, repeating: 1)
parentWatch.setEventHandler { if getppid() != parent { signalContinuation.yield(0) } }
parentWatch.resume()
for await number in signals {
    say(number == 0 ? "fake-apiserver: parent exited, shutting down" : "fake-apiserver: signal \(number), shutting down")
    break
}
parentWatch.cancel()
signalSources.forEach { $0.cancel() }
await server.shutdown()
try? FileManager.default.removeItem(atPath: workDirectory)
