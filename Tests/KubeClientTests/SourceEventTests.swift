import KubeAPI
import KubeClient
import Testing

@Suite struct SourceEventTests {
    static let web = Service(metadata: ObjectMeta(name: "web", namespace: "default"))
    static let slice = EndpointSlice(metadata: ObjectMeta(name: "web-1", namespace: "default"))

    @Test func typesChangesByKind() {
        #expect(SourceEvent.added(.service(Self.web)) == .service(.added(Self.web)))
        #expect(SourceEvent.deleted(.endpointSlice(Self.slice)) == .endpointSlice(.deleted(Self.slice)))
        #expect(
            SourceEvent.updated(old: .service(Self.web), new: .service(Self.web)) == [
                .service(.updated(old: Self.web, new: Self.web))
            ])
    }

    @Test func anUpdateAcrossKindsIsADeleteAndAnAdd() {
        #expect(
            SourceEvent.updated(old: .service(Self.web), new: .endpointSlice(Self.slice)) == [
                .service(.deleted(Self.web)), .endpointSlice(.added(Self.slice)),
            ])
    }

    @Test func objectChangeExposesOldAndNew() {
        let other = Service(metadata: ObjectMeta(name: "web", namespace: "other"))
        #expect(ObjectChange.added(Self.web).old == nil)
        #expect(ObjectChange.added(Self.web).new == Self.web)
        #expect(ObjectChange.updated(old: Self.web, new: other).old == Self.web)
        #expect(ObjectChange.updated(old: Self.web, new: other).new == other)
        #expect(ObjectChange.deleted(Self.web).old == Self.web)
        #expect(ObjectChange.deleted(Self.web).new == nil)
    }
}
