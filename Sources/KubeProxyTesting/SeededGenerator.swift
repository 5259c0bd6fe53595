import KubeProxyCore

/// A deterministic `RandomNumberGenerator` (Core's SplitMix64), so shuffles, random port offsets
/// and property-style sequences are reproducible and a failing seed can be replayed.
public typealias SeededGenerator = SplitMix64
