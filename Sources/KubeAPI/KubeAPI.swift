// # KubeAPI
//
// The Kubernetes API objects kube-proxy reads — `Service`, `EndpointSlice`, legacy `Endpoints`,
// `Node`, plus the list, watch-event and `Status` envelopes — as plain `Codable`, `Sendable`,
// `Hashable` value types, and a label-selector parser.
//
// ## Place in the design
//
// This is the bottom of the dependency graph: `KubeClient` decodes API-server responses and
// manifest files into these types, `KubeProxyCore` translates them into its own model
// (`ServicePort`, `Endpoint`, …). Nothing here has behaviour beyond decoding, so both sides can
// depend on it without depending on each other.
//
// ## Invariants
//
// - **Lossless for what we model, tolerant of the rest.** Unknown fields are ignored on decode
//   (new API versions keep working); every modelled field re-encodes with the same JSON key and
//   value, so decode → encode → decode is the identity.
// - **No interpretation.** Enum-like API fields (`type`, `protocol`, `sessionAffinity`, …) are
//   `String?` and timestamps are `String?`, so an unknown enum value or an unusual timestamp
//   format decodes and round-trips byte-exactly; Core decides what an unknown value means.
// - **Optional means optional.** Every field the API marks optional is `Optional` here; absent
//   fields stay absent when re-encoded (`nil` is omitted, never written as `null`).
// - Foundation only: no logging, no I/O, no globals.
