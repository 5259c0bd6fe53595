import KubeClient

/// Records the events a source emits and hands them to the test in order, waiting for them up
/// to a deadline (the behaviour under test is "within 1 s").
actor EventRecorder {
    private var events: [SourceEvent] = []
    private var cursor = 0
    /// The size of every batch handed to `record(batch:)`, in order.
    private(set) var batchSizes: [Int] = []

    func record(_ event: SourceEvent) {
        events.append(event)
    }

    /// Records a batch's events in order and the batch's size.
    func record(batch: [SourceEvent]) {
        events += batch
        batchSizes.append(batch.count)
    }

    /// The next `count` events, waiting up to `deadline` for them; fewer if they do not come.
    func next(_ count: Int, within deadline: Duration = .seconds(10)) async -> [SourceEvent] {
        let clock = ContinuousClock()
        let end = clock.now.advanced(by: deadline)
        while events.count - cursor < count, clock.now < end {
            try? await Task.sleep(for: .milliseconds(10))
        }
        let taken = Array(events[cursor..<min(events.count, cursor + count)])
        cursor += taken.count
        return taken
    }

    /// Events not yet taken.
    func unread() -> [SourceEvent] {
        Array(events[cursor...])
    }
}
