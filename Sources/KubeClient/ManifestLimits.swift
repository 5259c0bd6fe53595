/// The bounds the manifest source puts on hostile or accidental input, so one bad file can
/// neither exhaust memory nor CPU nor flood the log (docs/design.md#hostile-input-is-normal-input).
///
/// Every limit refuses the whole file with a ``ManifestError/Reason/limitExceeded`` error naming
/// it; like any broken file it keeps its last good objects and never stops the other files.
public struct ManifestLimits: Sendable, Hashable {
    /// The largest file read, in bytes (`--manifest-max-bytes`). Checked with `stat` before
    /// reading and again while reading, so a larger file is never loaded into memory.
    public var maxFileBytes: Int
    /// The most YAML documents one file may hold; a file of nothing but `---` lines would
    /// otherwise turn 16 MiB into millions of empty documents.
    public var maxDocuments: Int
    /// How much YAML aliases may add when expanded, per file, counted as nodes plus scalar
    /// bytes (an alias of a 3-field mapping of short strings adds about 30). Defeats "billion
    /// laughs" documents (CVE-2019-11253), which are a few hundred bytes but expand to billions
    /// of nodes. Measured on the parser's event stream before anything is built.
    public var maxAliasExpansion: Int
    /// The deepest nesting aliases may produce, in levels; libyaml already stops literal
    /// nesting at 1,000, this keeps aliases of deep nodes from stacking past that.
    public var maxAliasDepth: Int
    /// The most errors (and, separately, warnings) reported for one file; the rest are
    /// summarised in one line, so a file of 10,000 bad documents is not 10,000 log lines.
    public var maxReportsPerFile: Int

    /// The default file size limit: 16 MiB, far above any real manifest directory file.
    public static let defaultMaxFileBytes = 16 << 20

    /// Creates limits; the defaults are the documented ones.
    public init(
        maxFileBytes: Int = ManifestLimits.defaultMaxFileBytes, maxDocuments: Int = 10_000,
        maxAliasExpansion: Int = 1_000_000, maxAliasDepth: Int = 1_000, maxReportsPerFile: Int = 20
    ) {
        self.maxFileBytes = maxFileBytes
        self.maxDocuments = maxDocuments
        self.maxAliasExpansion = maxAliasExpansion
        self.maxAliasDepth = maxAliasDepth
        self.maxReportsPerFile = maxReportsPerFile
    }
}
