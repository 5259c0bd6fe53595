#if canImport(Glibc)
    import Glibc
    import KubeProxyCore
    import Logging
    import NIOCore
    import NIOPosix
    import Testing

    @testable import KubeProxyDataPlane

    /// The epoll relay's two ways of writing: short writes and closes batched through `io_uring`
    /// (`RelaySendBatch`, the default where the kernel allows it) and one system call each (the
    /// fallback). Both must deliver every byte in order, and the end after the last byte.
    @Suite("Relay send batching", .timeLimit(.minutes(1)))
    struct RelaySendBatchTests {
        typealias T = UserspaceProxyTests

        static func proxy(batchSends: Bool) -> UserspaceProxy {
            UserspaceProxy(
                group: MultiThreadedEventLoopGroup.singleton, bindAddress: IPAddress("127.0.0.1")!, portRange: nil,
                dialTimeouts: UserspaceProxy.defaultDialTimeouts, dialer: TCPBackendDialer(), tcpRelay: .epoll,
                batchRelaySends: batchSends, logger: Logger(label: "test.dataplane"))
        }

        /// Every relay thread batches, unless the kernel refuses `io_uring` to this process
        /// (`kernel.io_uring_disabled`, a seccomp profile); any other failure is a bug.
        @Test func everyRelayThreadBatchesUnlessTheKernelRefusesIoUring() async throws {
            let threads = Array(MultiThreadedEventLoopGroup.singleton.makeIterator()).count
            let batched = Self.proxy(batchSends: true)
            let direct = Self.proxy(batchSends: false)
            // Each thread sets up its ring when it starts running.
            #expect(
                try await eventually {
                    let state = batched.relayBatching()
                    return state.threads + state.failed == threads
                })
            let state = batched.relayBatching()
            if state.errno != 0 {
                print("io_uring refused here (\(RelaySystem.describe(state.errno))): the relay sends directly")
                #expect([EPERM, ENOSYS, EACCES].contains(state.errno), "\(RelaySystem.describe(state.errno))")
                #expect(state.threads == 0)
            } else {
                #expect(state.threads == threads)
            }
            try await Task.sleep(for: .milliseconds(50))
            #expect(direct.relayBatching().threads == 0)
            #expect(direct.relayBatching().failed == 0)
            await batched.shutdown()
            await direct.shutdown()
        }

        /// Eight clients at once, each exchanging messages from 1 byte to several reads' worth
        /// (around the relay's 64 KiB read size, where a full read is sent directly and the
        /// short one after it is queued) with an echoing backend: every echo must come back
        /// whole and in order.
        @Test(arguments: [true, false])
        func echoesArriveWholeAndInOrder(batchSends: Bool) async throws {
            let backend = try await TestBackend.greeter("a")
            let proxy = Self.proxy(batchSends: batchSends)
            let svc = T.service("batch-echo")
            _ = await proxy.apply(T.desired(ProxiedPort(name: svc, endpoints: [backend.endpoint])))
            let port = try await T.listeningPort(proxy, svc)
            let sizes = [1, 100, 1024, 65_535, 65_536, 65_537, 250_000, 3]
            try await withThrowingTaskGroup(of: Void.self) { group in
                for client in 0..<8 {
                    group.addTask {
                        let fd = try TestClient.blockingSocket(port: port, receiveTimeout: 10)
                        defer { close(fd) }
                        let greeting = Self.exchange(fd, [])
                        #expect(greeting == Array("a\n".utf8), "the greeting, before any echo")
                        for (round, size) in sizes.enumerated() {
                            let message = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ client &* 7 &+ round) }
                            let echoed = Self.exchange(fd, message)
                            #expect(echoed.count == size, "client \(client), message of \(size) bytes")
                            #expect(echoed == message, "client \(client), message of \(size) bytes")
                        }
                    }
                }
                try await group.waitForAll()
            }
            #expect(try await eventually { await proxy.openChannelCount() == 0 })
            await proxy.shutdown()
            await backend.close()
        }

        /// A backend that writes and closes at once: the close follows the last write in the same
        /// pass of the relay, and must reach the client only after every byte.
        @Test(arguments: [true, false])
        func theEndArrivesAfterTheLastByte(batchSends: Bool) async throws {
            let total = 300_000 + 17
            let progress = FloodProgress(eventLoop: MultiThreadedEventLoopGroup.singleton.next())
            let flood = try await TestBackend.flood(total: total, progress: progress)
            let proxy = Self.proxy(batchSends: batchSends)
            let svc = T.service("batch-flood")
            _ = await proxy.apply(T.desired(ProxiedPort(name: svc, endpoints: [flood.endpoint])))
            let port = try await T.listeningPort(proxy, svc)
            for _ in 0..<5 {
                let connection = try await TestClient.connect(port: port)
                try await connection.executeThenClose { inbound, _ in
                    let (received, intact) = try await FloodPattern.readToEnd(inbound)
                    #expect(received == total)
                    #expect(intact)
                }
            }
            await proxy.shutdown()
            await flood.close()
        }

        /// The pattern of a connection per request: the backend's answer and its close arrive
        /// together. The answer is sent in the batch and the connection closed once it is out,
        /// so every client must read the whole answer, then the end.
        @Test(arguments: [true, false])
        func anAnswerFollowedByTheBackendsCloseArrivesWhole(batchSends: Bool) async throws {
            let answer = String(repeating: "answer-", count: 300) + "end\n"
            let backend = try await TestBackend.sayAndClose(answer)
            let proxy = Self.proxy(batchSends: batchSends)
            let svc = T.service("batch-answer")
            _ = await proxy.apply(T.desired(ProxiedPort(name: svc, endpoints: [backend.endpoint])))
            let port = try await T.listeningPort(proxy, svc)
            try await withThrowingTaskGroup(of: String.self) { group in
                for _ in 0..<40 {
                    group.addTask { try await TestClient.readToEnd(port: port) }
                }
                for try await received in group {
                    #expect(received == answer)
                }
            }
            #expect(try await eventually { await proxy.openChannelCount() == 0 })
            await proxy.shutdown()
            await backend.close()
        }

        /// Sends `message` and reads its echo, both at once (the echo of a large message comes
        /// back while it is still being sent); returns what came back, short on EOF, error or a
        /// 10 s silence. An empty `message` reads the backend's two-byte greeting instead.
        static func exchange(_ fd: Int32, _ message: [UInt8]) -> [UInt8] {
            var received: [UInt8] = []
            received.reserveCapacity(message.count)
            var buffer = [UInt8](repeating: 0, count: 64 << 10)
            var sent = 0
            // With nothing to send, one greeting line is expected.
            let expected = message.isEmpty ? 2 : message.count
            while received.count < expected {
                let events = Int16(POLLIN) | (sent < message.count ? Int16(POLLOUT) : 0)
                var descriptor = pollfd(fd: fd, events: events, revents: 0)
                let ready = poll(&descriptor, 1, 10_000)
                if ready < 0 && errno == EINTR { continue }
                guard ready > 0 else { return received }
                if descriptor.revents & Int16(POLLIN) != 0 {
                    let count = recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
                    if count > 0 {
                        received += buffer[0..<count]
                    } else if count == 0 || (errno != EAGAIN && errno != EINTR) {
                        return received
                    }
                } else if descriptor.revents & Int16(POLLHUP | POLLERR) != 0 {
                    return received
                }
                if sent < message.count, descriptor.revents & Int16(POLLOUT) != 0 {
                    let count = message.withUnsafeBytes {
                        send(fd, $0.baseAddress! + sent, message.count - sent, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT))
                    }
                    if count > 0 {
                        sent += count
                    } else if count < 0 && errno != EAGAIN && errno != EINTR {
                        return received
                    }
                }
            }
            return received
        }
    }
#endif
