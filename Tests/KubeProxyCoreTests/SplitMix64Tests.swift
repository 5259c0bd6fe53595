import KubeProxyCore
import Testing

@Suite struct SplitMix64Tests {
    @Test func aSeedFixesTheSequence() {
        var a = SplitMix64(seed: 42)
        var b = SplitMix64(seed: 42)
        var c = SplitMix64(seed: 43)
        let first = (0..<8).map { _ in a.next() }
        #expect(first == (0..<8).map { _ in b.next() })
        #expect(first != (0..<8).map { _ in c.next() })
        // SplitMix64's published first output for seed 0 (Vigna's reference implementation).
        var zero = SplitMix64(seed: 0)
        #expect(zero.next() == 0xE220_A839_7B1D_CDAF)
    }

    @Test func freshGeneratorsDiffer() {
        var seen: Set<UInt64> = []
        for _ in 0..<1000 {
            var generator = SplitMix64.fresh()
            seen.insert(generator.next())
        }
        #expect(seen.count == 1000)
    }

    @Test func shufflesWithFreshGeneratorsSpreadTheFirstChoice() {
        // A balancer starts its rotation at its shuffled list's first endpoint: over many ports
        // every endpoint must come first sometimes, or one backend would take every first connection.
        var firsts: [Int: Int] = [:]
        for _ in 0..<2000 {
            var generator = SplitMix64.fresh()
            var list = Array(0..<10)
            list.shuffle(using: &generator)
            firsts[list[0], default: 0] += 1
        }
        #expect(firsts.count == 10)
        #expect(firsts.values.allSatisfy { $0 > 100 })
    }
}
