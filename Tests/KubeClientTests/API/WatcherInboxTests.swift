import Testing

@testable import KubeClient

/// The buffer between the watchers and `APISource`'s consumer: what arrived while the consumer
/// was busy is taken as one batch, in order, and nothing is lost at the end.
@Suite struct WatcherInboxTests {
    @Test func messagesPostedWhileTheConsumerIsBusyAreTakenTogetherInOrder() async {
        let inbox = WatcherInbox()
        inbox.post(.listed(.services))
        inbox.post(.events([.synced]))
        inbox.post(.listFailed(.node("n")))
        var wakeups = inbox.wakeups.makeAsyncIterator()
        #expect(await wakeups.next() != nil)
        #expect(inbox.take().map(Self.describe) == ["listed services", "1 events", "failed nodes"])
        #expect(inbox.take().isEmpty)

        // A post after the take wakes the consumer again; finishing keeps what was posted.
        inbox.post(.listed(.endpointSlices))
        inbox.finish()
        #expect(await wakeups.next() != nil)
        #expect(inbox.take().map(Self.describe) == ["listed endpointslices"])
        #expect(await wakeups.next() == nil)
    }

    private static func describe(_ message: WatcherMessage) -> String {
        switch message {
        case .events(let events): "\(events.count) events"
        case .listed(let resource): "listed \(resource.name)"
        case .listFailed(let resource): "failed \(resource.name)"
        }
    }
}
