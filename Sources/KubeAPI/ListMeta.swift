/// `metav1.ListMeta`: the metadata of a LIST response (and of `Status`).
///
/// `resourceVersion` is what a watch resumes from after a list; `continue` pages large lists.
public struct ListMeta: Codable, Sendable, Hashable {
    /// Version of the collection at the time of the list; start a watch from here.
    public var resourceVersion: String?
    /// Token for the next page of a paginated list.
    public var `continue`: String?
    /// Approximate number of items not yet returned by a paginated list.
    public var remainingItemCount: Int?
    /// Deprecated self link; kept so it round-trips.
    public var selfLink: String?

    /// Creates list metadata; every field defaults to absent.
    public init(
        resourceVersion: String? = nil, continue: String? = nil, remainingItemCount: Int? = nil,
        selfLink: String? = nil
    ) {
        self.resourceVersion = resourceVersion
        self.continue = `continue`
        self.remainingItemCount = remainingItemCount
        self.selfLink = selfLink
    }
}
