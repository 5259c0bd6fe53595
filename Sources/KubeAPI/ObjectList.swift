/// A LIST response (`ServiceList`, `EndpointSliceList`, …, or a generic `List`): the items plus
/// the `resourceVersion` a watch resumes from.
public struct ObjectList<Item: Codable & Sendable & Hashable>: Codable, Sendable, Hashable {
    /// API version of the list.
    public var apiVersion: String?
    /// `ServiceList`, `List`, …
    public var kind: String?
    /// Resource version and pagination token.
    public var metadata: ListMeta?
    /// The objects. A missing or `null` `items` decodes as empty, as the API server means it.
    public var items: [Item]

    /// Creates a list.
    public init(apiVersion: String? = nil, kind: String? = nil, metadata: ListMeta? = nil, items: [Item] = []) {
        self.apiVersion = apiVersion
        self.kind = kind
        self.metadata = metadata
        self.items = items
    }

    private enum CodingKeys: String, CodingKey {
        case apiVersion, kind, metadata, items
    }

    /// Decodes a list; `items` may be absent or `null` (Go encodes an empty slice as `null`).
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        apiVersion = try container.decodeIfPresent(String.self, forKey: .apiVersion)
        kind = try container.decodeIfPresent(String.self, forKey: .kind)
        metadata = try container.decodeIfPresent(ListMeta.self, forKey: .metadata)
        items = try container.decodeIfPresent([Item].self, forKey: .items) ?? []
    }
}
