import Foundation
import KubeAPI
import NIOCore

/// The control endpoint `/fake/faults`, through which an operator injects faults into a
/// running server with the kubeconfig it wrote:
///
/// ```sh
/// echo stall=30s | kubectl --kubeconfig K create --raw /fake/faults -f -
/// kubectl --kubeconfig K get --raw /fake/faults
/// ```
///
/// It authenticates like the API, is never stalled and never fails by injection, so a fault
/// can always be changed or cleared.
extension FakeAPIServer {
    /// `GET` reports the faults in force; `POST` applies the fault specs in the body (one per
    /// line, `#` comments allowed) and in `fault` query parameters, all or none.
    func control(_ request: FakeAPIRequest, path: String) throws(Status) -> FakeAPIDispatch {
        guard path == "/fake/faults" else { throw FakeAPIStatus.pathNotFound() }
        switch request.method {
        case "GET":
            return .complete(.json(Self.sortedJSON(faultReport())))
        case "POST":
            var specs = String(decoding: request.body, as: UTF8.self).split(whereSeparator: \.isNewline).map(String.init)
            if let query = request.query["fault"] { specs.append(query) }
            var faults: [FakeAPIFault] = []
            for spec in specs {
                let text = spec.trimmingCharacters(in: .whitespaces)
                if text.isEmpty || text.hasPrefix("#") { continue }
                do {
                    faults.append(try FakeAPIFault(parsing: text))
                } catch {
                    throw FakeAPIStatus.badRequest("\(error); faults:\n\(FakeAPIFault.grammar)")
                }
            }
            guard !faults.isEmpty else { throw FakeAPIStatus.badRequest("no fault given; faults:\n\(FakeAPIFault.grammar)") }
            for fault in faults where fault != .reset { inject(fault) }
            var report = faultReport()
            if case .object(var members) = report {
                members["applied"] = .array(faults.map { .string($0.description) })
                report = .object(members)
            }
            let response = FakeAPIResponse.json(Self.sortedJSON(report))
            // A reset drops this connection too; answer first.
            guard faults.contains(.reset) else { return .complete(response) }
            return .completeThen(response) { [self] in inject(.reset) }
        default:
            throw FakeAPIStatus.methodNotAllowed(request.method)
        }
    }

    /// JSON with sorted keys, so reports read the same every time.
    private static func sortedJSON(_ value: JSONValue) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? Array(encoder.encode(value))) ?? Array("{}".utf8)
    }

    /// What is in force: the rest of a stall, pending failures, open watches and versions.
    func faultReport() -> JSONValue {
        state.withLock { state in
            let stall = state.stalledUntil.map { max(0, ($0 - NIODeadline.now()).nanoseconds / 1_000_000) } ?? 0
            var failures: [String: JSONValue] = ["remaining": .int(state.failures.remaining), "code": .int(state.failures.code)]
            if let retryAfter = state.failures.retryAfter { failures["retryAfterSeconds"] = .int(retryAfter) }
            return .object([
                "stallRemainingMilliseconds": .int(Int(stall)),
                "failures": .object(failures),
                "openWatches": .int(state.watches.count),
                "resourceVersion": .string(String(state.store.resourceVersion)),
                "oldestResourceVersion": .string(String(state.store.compactedResourceVersion)),
            ])
        }
    }
}
