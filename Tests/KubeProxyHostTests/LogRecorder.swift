import Logging
import Synchronization

/// Collects log lines with their metadata, so tests can assert what an operator (or the
/// benchmark, which sums `lines=`) would read.
final class LogRecorder: Sendable {
    /// One logged line.
    struct Line: Sendable, Hashable {
        /// The level it was logged at.
        var level: Logger.Level
        /// The message.
        var message: String
        /// The logger's and the call's metadata, rendered.
        var metadata: [String: String]
    }

    private let recorded = Mutex<[Line]>([])

    /// A logger writing into this recorder at `debug` level.
    var logger: Logger {
        Logger(label: "test") { _ in Handler(recorder: self) }
    }

    /// Everything logged so far with this message, in order.
    func lines(_ message: String) -> [Line] {
        recorded.withLock { $0.filter { $0.message == message } }
    }

    fileprivate func append(_ line: Line) {
        recorded.withLock { $0.append(line) }
    }

    private struct Handler: LogHandler {
        let recorder: LogRecorder
        var metadata: Logger.Metadata = [:]
        var metadataProvider: Logger.MetadataProvider?
        var logLevel: Logger.Level = .debug

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let merged = metadata.merging(event.metadata ?? [:]) { $1 }
            recorder.append(
                Line(
                    level: event.level, message: event.message.description,
                    metadata: merged.mapValues { $0.description }))
        }
    }
}
