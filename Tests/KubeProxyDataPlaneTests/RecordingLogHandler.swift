import Logging
import Synchronization

/// A swift-log handler that keeps every message, so tests assert what was logged and how often.
struct RecordingLogHandler: LogHandler {
    /// One logged message.
    struct Entry: Sendable {
        let level: Logger.Level
        let message: String
    }

    final class Store: Sendable {
        private let entries = Mutex<[Entry]>([])
        func append(_ entry: Entry) { entries.withLock { $0.append(entry) } }
        var all: [Entry] { entries.withLock { $0 } }
        func messages(at level: Logger.Level) -> [String] {
            all.filter { $0.level == level }.map(\.message)
        }
    }

    let store: Store
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        store.append(Entry(level: event.level, message: "\(event.message)"))
    }

    /// A logger that records into a fresh store.
    static func logger() -> (Logger, Store) {
        let store = Store()
        return (Logger(label: "test.recording") { _ in RecordingLogHandler(store: store) }, store)
    }
}
