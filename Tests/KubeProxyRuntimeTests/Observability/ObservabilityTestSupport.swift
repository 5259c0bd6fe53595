import KubeProxyRuntime
import Logging
import Synchronization

/// A wall-time source that moves only when a test says so.
final class TestTime: Sendable {
    private let current: Mutex<WallTime>

    init(_ start: WallTime = WallTime(seconds: 1_714_557_600)) {  // 2024-05-01T10:00:00Z
        current = Mutex(start)
    }

    var now: WallTime { current.withLock { $0 } }

    func advance(by duration: Duration) {
        current.withLock { $0 = $0.advanced(by: duration) }
    }
}

/// A logger that discards everything, so server tests do not flood the output.
let silentLogger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
