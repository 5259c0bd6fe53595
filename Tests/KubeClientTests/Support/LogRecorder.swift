import Logging
import Synchronization

/// Collects log lines so tests can assert what an operator would see.
final class LogRecorder: Sendable {
    struct Line: Sendable, Hashable {
        var level: Logger.Level
        var message: String
    }

    private let lines = Mutex<[Line]>([])

    /// A logger writing into this recorder at `debug` level.
    var logger: Logger {
        Logger(label: "test") { _ in Handler(recorder: self) }
    }

    /// Everything logged so far at `level`.
    func messages(at level: Logger.Level) -> [String] {
        lines.withLock { $0.filter { $0.level == level }.map(\.message) }
    }

    fileprivate func append(_ line: Line) {
        lines.withLock { $0.append(line) }
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
            recorder.append(Line(level: event.level, message: event.message.description))
        }
    }
}
