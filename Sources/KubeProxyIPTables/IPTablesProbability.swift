/// The `--probability` argument of the n-th last endpoint rule: `1/n` printed exactly as Go's
/// `fmt.Sprintf("%0.10f", 1.0/float64(n))` (spec §2.4).
///
/// Why not `String(format:)`: this module stays free of Foundation, and Go rounds the exact
/// binary value of the double half-to-even, which this reproduces digit for digit (upstream
/// `TestComputeProbability`). Results are cached for small `n`, as upstream caches them.
public enum IPTablesProbability {
    private static let cached: [String] = (0...1024).map { $0 == 0 ? "" : format(1.0 / Double($0)) }

    /// `1/n` with ten decimals; `n` must be at least 1.
    public static func of(_ n: Int) -> String {
        n < cached.count && n > 0 ? cached[n] : format(1.0 / Double(max(n, 1)))
    }

    /// `value` (0 ≤ value ≤ 1) with exactly ten decimals, rounded half-to-even from the
    /// double's exact binary value.
    static func format(_ value: Double) -> String {
        let scale: UInt128 = 10_000_000_000
        var scaled: UInt128 = 0
        if value > 0 {
            // value = significand · 2^exponent exactly, with an integer significand.
            let significand = UInt128(value.significandBitPattern | (value.isNormal ? 1 << 52 : 0))
            let exponent = Int(value.isNormal ? value.exponent : -1022) - 52
            let numerator = significand * scale
            if exponent >= 0 {
                scaled = numerator << UInt128(exponent)
            } else if -exponent < 127 {
                let shift = UInt128(-exponent)
                let quotient = numerator >> shift
                let remainder = numerator & ((1 << shift) - 1)
                let half = UInt128(1) << (shift - 1)
                let roundUp = remainder > half || (remainder == half && quotient & 1 == 1)
                scaled = quotient + (roundUp ? 1 : 0)
            }
        }
        let integer = scaled / scale
        let fraction = String(scaled % scale)
        return "\(integer)." + String(repeating: "0", count: 10 - fraction.count) + fraction
    }
}
