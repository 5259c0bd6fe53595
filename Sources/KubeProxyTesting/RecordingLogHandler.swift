import Logging
import Synchronization

/// A swift-log handler that keeps every message with its level and metadata, so tests assert
/// what an operator would read and how often.
public struct RecordingLogHandler: LogHandler {
    /// One logged message.
    public struct Entry: Sendable {
        /// The level it was logged at.
        public let level: Logger.Level
        /// The message text.
        public let message: String
        /// The handler's and the event's metadata, merged (the event's win).
        public let metadata: Logger.Metadata
    }

    /// Where the entries of one logger go; shared by every copy of the handler.
    public final class Store: Sendable {
        private let entries = Mutex<[Entry]>([])

        /// An empty store.
        public init() {}

        /// A logger recording into this store.
        public var logger: Logger {
            Logger(label: "test.recording") { _ in RecordingLogHandler(store: self) }
        }

        /// Records `entry`.
        public func append(_ entry: Entry) { entries.withLock { $0.append(entry) } }

        /// Every entry, in logging order.
        public var all: [Entry] { entries.withLock { $0 } }

        /// The messages logged at `level`.
        public func messages(at level: Logger.Level) -> [String] {
            all.filter { $0.level == level }.map(\.message)
        }

        /// The metadata of every entry whose message is `message`.
        public func metadata(of message: String) -> [Logger.Metadata] {
            all.filter { $0.message == message }.map(\.metadata)
        }
    }

    /// The store this handler records into.
    public let store: Store
    /// The handler's own metadata.
    public var metadata: Logger.Metadata = [:]
    /// Everything is recorded by default.
    public var logLevel: Logger.Level = .trace

    /// A handler recording into `store`.
    public init(store: Store) { self.store = store }

    /// The handler's metadata for `key`.
    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// Records the event with the merged metadata.
    public func log(event: LogEvent) {
        store.append(
            Entry(
                level: event.level, message: "\(event.message)",
                metadata: metadata.merging(event.metadata ?? [:]) { $1 }))
    }

    /// A logger labelled `label` that records into a fresh store.
    public static func logger(label: String = "test.recording") -> (Logger, Store) {
        let store = Store()
        return (Logger(label: label) { _ in RecordingLogHandler(store: store) }, store)
    }
}
