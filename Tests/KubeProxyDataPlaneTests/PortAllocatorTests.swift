import KubeProxyCore
import KubeProxyTesting
import Testing

@testable import KubeProxyDataPlane

/// Upstream `port_allocator_test.go` plus the scan order of docs/userspace-behaviour.md#port-allocation.
@Suite("PortAllocator")
struct PortAllocatorTests {
    /// TestRangeAllocatorEmpty: an empty range cannot exist; the spellings mean "kernel picks",
    /// whose allocator always answers 0 and ignores releases.
    @Test func kernelPicksAlwaysAllocatesZero() throws {
        #expect(try PortRange.parse("0-0") == nil)
        var allocator = PortAllocator(range: nil)
        var generator = SeededGenerator(seed: 1)
        #expect(allocator.isKernelPicked)
        for _ in 0..<3 {
            #expect(allocator.allocate(using: &generator) == 0)
        }
        allocator.release(0)
        allocator.release(12345)
        #expect(allocator.allocate(using: &generator) == 0)
        #expect(!allocator.isAllocated(0))
    }

    /// TestRangeAllocatorFullyAllocated: a one-port range.
    @Test func singlePortRange() throws {
        var allocator = PortAllocator(range: try PortRange(first: 1, last: 1))
        var generator = SeededGenerator(seed: 2)
        #expect(allocator.allocate(using: &generator) == 1)
        #expect(allocator.isAllocated(1))
        #expect(allocator.allocate(using: &generator) == nil)
        allocator.release(1)
        #expect(!allocator.isAllocated(1))
        #expect(allocator.allocate(using: &generator) == 1)
        #expect(allocator.allocate(using: &generator) == nil)
    }

    /// TestRangeAllocator_RandomishAllocation: 100 ports, twice, in different orders.
    @Test func randomishAllocation() throws {
        let range = try PortRange(first: 1, last: 100)
        var allocator = PortAllocator(range: range)
        var generator = SeededGenerator(seed: 3)
        let first = (0..<100).compactMap { _ in allocator.allocate(using: &generator) }
        #expect(first.count == 100)
        #expect(Set(first) == Set(1...100))
        #expect(first.allSatisfy(allocator.isAllocated))
        #expect(allocator.allocate(using: &generator) == nil)
        #expect(allocator.availableCount == 0)

        first.forEach { allocator.release($0) }
        #expect(!first.contains(where: allocator.isAllocated))
        #expect(allocator.availableCount == 100)
        let second = (0..<100).compactMap { _ in allocator.allocate(using: &generator) }
        #expect(Set(second) == Set(1...100))
        #expect(first != second)
    }

    /// From the random offset the search goes up to the end of the range, then wraps.
    @Test func scansUpThenWraps() throws {
        var allocator = PortAllocator(range: try PortRange(first: 10, last: 14))
        #expect(allocator.allocate(startingAt: 2) == 12)
        #expect(allocator.allocate(startingAt: 2) == 13)
        #expect(allocator.allocate(startingAt: 2) == 14)
        #expect(allocator.allocate(startingAt: 2) == 10)
        #expect(allocator.allocate(startingAt: 0) == 11)
        #expect(allocator.allocate(startingAt: 4) == nil)
    }

    /// Releasing ports outside the range, or twice, changes nothing else.
    @Test func releaseIgnoresForeignPorts() throws {
        var allocator = PortAllocator(range: try PortRange(first: 10, last: 12))
        #expect(allocator.allocate(startingAt: 0) == 10)
        #expect(allocator.allocate(startingAt: 0) == 11)
        allocator.release(0)
        allocator.release(9)
        allocator.release(13)
        allocator.release(12)
        #expect(allocator.isAllocated(10) && allocator.isAllocated(11))
        #expect(allocator.availableCount == 1)
        allocator.release(11)
        allocator.release(11)
        #expect(allocator.availableCount == 2)
        #expect(allocator.allocate(startingAt: 2) == 12)
        #expect(allocator.allocate(startingAt: 2) == 11)
    }

    /// A preferred port is reserved only inside the range and only once.
    @Test func reserveTakesASpecificFreePortOfTheRange() throws {
        var allocator = PortAllocator(range: try PortRange(first: 10, last: 12))
        let attempts = [allocator.reserve(11), allocator.reserve(11), allocator.reserve(9), allocator.reserve(13)]
        #expect(attempts == [true, false, false, false])
        #expect(allocator.isAllocated(11))
        #expect(allocator.allocate(startingAt: 1) == 12)
        allocator.release(11)
        let again = allocator.reserve(11)
        #expect(again)

        var kernel = PortAllocator(range: nil)
        let kernelReserved = kernel.reserve(8080)
        #expect(!kernelReserved)
    }
}
