import Foundation
import KubeAPI

/// Request dispatch: authentication, injected failures, routing to discovery, the control
/// endpoint, LIST, GET, WATCH and the writes (POST/PUT/PATCH/DELETE).
extension FakeAPIServer {
    /// Decides the answer to one request: 200 health without authentication, 401 without
    /// credentials, 403 for what RBAC does not allow a service account, an injected failure if
    /// one is pending, else the route's response or watch.
    func respond(to request: FakeAPIRequest) -> FakeAPIDispatch {
        let route = FakeAPIRoute(path: request.path)
        if route == .health {
            return .complete(FakeAPIResponse(code: 200, contentType: "text/plain; charset=utf-8", body: Array("ok".utf8)))
        }
        guard let user = authenticate(request) else { return .complete(.status(FakeAPIStatus.unauthorized())) }
        if let refusal = authorize(request, route: route, user: user) { return .complete(.status(refusal)) }
        if route.isResource, let failure = takeInjectedFailure() { return .complete(failure) }
        do throws(Status) {
            switch route {
            case .health, .notFound:
                return .complete(.status(FakeAPIStatus.pathNotFound()))
            case .discovery(let path):
                guard request.method == "GET" else { throw FakeAPIStatus.methodNotAllowed(request.method) }
                guard let document = FakeAPIDiscovery.document(at: path, serverAddress: "\(host):\(port)") else {
                    throw FakeAPIStatus.pathNotFound()
                }
                return .complete(.json(FakeAPIJSON.encode(document)))
            case .control(let path):
                return try control(request, path: path)
            case .collection(let resource, let namespace):
                return try collection(request, resource: resource, namespace: namespace)
            case .object(let resource, let namespace, let name):
                return try object(request, resource: resource, namespace: namespace, name: name)
            }
        } catch {
            return .complete(.status(error))
        }
    }

    /// The user a request authenticates as: the administrator for the server's token, a verified
    /// client certificate or (with neither a token nor an authorization configured) no
    /// credentials; the service account of a token in ``authorization``; otherwise nobody.
    private func authenticate(_ request: FakeAPIRequest) -> FakeAPIUser? {
        if let token, request.authorization == "Bearer \(token)" { return .administrator }
        if request.hasVerifiedClientCertificate { return .administrator }
        if let bearer = request.authorization, bearer.hasPrefix("Bearer "),
            let user = authorization?.tokens[String(bearer.dropFirst("Bearer ".count))]
        {
            return user
        }
        return token == nil && authorization == nil ? .administrator : nil
    }

    /// The 403 Status for a request RBAC does not allow (recorded in the forbidden log), or `nil`.
    /// Administrators are never checked; the control endpoint is theirs alone.
    private func authorize(_ request: FakeAPIRequest, route: FakeAPIRoute, user: FakeAPIUser) -> Status? {
        guard let authorization, !user.isSuperuser else { return nil }
        let access = FakeAPIAccess.of(request, route: route)
        let isControl = if case .control = route { true } else { false }
        if !isControl, authorization.policy.allows(user, access) { return nil }
        let status = access.forbidden(for: user)
        let record = FakeAPIForbiddenRequest(user: user.name, access: access, message: status.message ?? "")
        state.withLock { state in
            state.forbidden.append(record)
            if state.forbidden.count > Self.requestLogLimit { state.forbidden.removeFirst(state.forbidden.count - Self.requestLogLimit) }
        }
        return status
    }

    private func takeInjectedFailure() -> FakeAPIResponse? {
        state.withLock { state -> FakeAPIResponse? in
            guard state.failures.remaining > 0 else { return nil }
            state.failures.remaining -= 1
            let retryAfter = state.failures.retryAfter
            return .status(
                FakeAPIStatus.injected(code: state.failures.code, retryAfter: retryAfter),
                headers: retryAfter.map { [("Retry-After", String($0))] } ?? []
            )
        }
    }

    private func collection(_ request: FakeAPIRequest, resource: FakeAPIResource, namespace: String?) throws(Status) -> FakeAPIDispatch {
        switch request.method {
        case "GET":
            let filter = try Self.filter(request, resource: resource, namespace: namespace)
            return request.isWatch ? try watch(request, filter: filter) : .complete(try list(request, filter: filter))
        case "POST":
            let decoded = try Self.decodeBody(request, as: resource)
            var object = decoded.object
            if resource.isNamespaced { try Self.place(&object.metadata, namespace: namespace) }
            let created = try write(dryRun: try Self.isDryRun(request)) { store throws(Status) in
                try store.create(object, uid: UUID().uuidString.lowercased(), creationTimestamp: Self.timestamp())
            }
            var response = FakeAPIResponse.json(FakeAPIJSON.encode(created), code: 201)
            response.headers = Self.warningHeaders(decoded.warnings)
            return .complete(response)
        default:
            throw FakeAPIStatus.methodNotAllowed(request.method)
        }
    }

    private func object(
        _ request: FakeAPIRequest, resource: FakeAPIResource, namespace: String?, name: String
    ) throws(Status) -> FakeAPIDispatch {
        switch request.method {
        case "GET":
            var filter = try Self.filter(request, resource: resource, namespace: namespace)
            if request.isWatch {
                filter.fields.append(.init(field: "metadata.name", equals: true, value: name))
                return try watch(request, filter: filter)
            }
            let key = FakeAPIObjectKey.make(namespace: resource.isNamespaced ? namespace : nil, name: name)
            guard let object = state.withLock({ $0.store.get(resource, key: key) }) else {
                throw FakeAPIStatus.notFound(resource, name: name)
            }
            return .complete(.json(FakeAPIJSON.encode(object)))
        case "PUT":
            let decoded = try Self.decodeBody(request, as: resource)
            var object = decoded.object
            if resource.isNamespaced { try Self.place(&object.metadata, namespace: namespace) }
            guard object.metadata.name == name else {
                throw FakeAPIStatus.badRequest(
                    "the name of the object (\(object.metadata.name ?? "")) does not match the name on the URL (\(name))")
            }
            let updated = try write(dryRun: try Self.isDryRun(request)) { store throws(Status) in try store.update(object) }
            var response = FakeAPIResponse.json(FakeAPIJSON.encode(updated))
            response.headers = Self.warningHeaders(decoded.warnings)
            return .complete(response)
        case "PATCH":
            return .complete(try patch(request, resource: resource, namespace: namespace, name: name))
        case "DELETE":
            let deleted = try write(dryRun: try Self.isDryRun(request)) { store throws(Status) in
                try store.delete(resource, namespace: namespace, name: name)
            }
            return .complete(.json(FakeAPIJSON.encode(deleted)))
        default:
            throw FakeAPIStatus.methodNotAllowed(request.method)
        }
    }

    private func list(_ request: FakeAPIRequest, filter: FakeAPIFilter) throws(Status) -> FakeAPIResponse {
        if request.query["sendInitialEvents"] != nil {
            throw FakeAPIStatus.invalid("sendInitialEvents: Forbidden: sendInitialEvents is forbidden for list")
        }
        var limit: Int?
        if let text = request.query["limit"], !text.isEmpty {
            guard let value = Int(text), value >= 0 else { throw FakeAPIStatus.badRequest("invalid limit: \(text)") }
            limit = value
        }
        let options = FakeAPIListOptions(
            filter: filter, resourceVersion: request.query["resourceVersion"],
            resourceVersionMatch: request.query["resourceVersionMatch"], limit: limit, continueToken: request.query["continue"]
        )
        let page = try state.withLock { state throws(Status) in try state.store.list(options) }
        let metadata = ListMeta(
            resourceVersion: String(page.resourceVersion), continue: page.continueToken,
            remainingItemCount: page.remainingItemCount
        )
        let resource = filter.resource
        var body = Array("{\"kind\":\"\(resource.listKind)\",\"apiVersion\":\"\(resource.apiVersion)\",\"metadata\":".utf8)
        body += FakeAPIJSON.encode(metadata)
        body += Array(",\"items\":[".utf8)
        body.reserveCapacity(body.count + page.items.reduce(2) { $0 + $1.json.count + 1 })
        for (index, item) in page.items.enumerated() {
            if index > 0 { body.append(UInt8(ascii: ",")) }
            body += item.json
        }
        body += Array("]}".utf8)
        return .json(body)
    }

    private func watch(_ request: FakeAPIRequest, filter: FakeAPIFilter) throws(Status) -> FakeAPIDispatch {
        let query = request.query
        let isTrue: (String) -> Bool = { ["1", "t", "T", "true", "TRUE", "True"].contains(query[$0] ?? "") }
        let resourceVersion = query["resourceVersion"]
        if let text = resourceVersion, !text.isEmpty, Int(text) == nil {
            throw FakeAPIStatus.badRequest("invalid resource version: \(text)")
        }
        let sendInitialEvents = isTrue("sendInitialEvents")
        let match = query["resourceVersionMatch"] ?? ""
        if sendInitialEvents {
            guard match == "NotOlderThan" else {
                throw FakeAPIStatus.invalid(
                    "resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan")
            }
            guard isTrue("allowWatchBookmarks") else {
                throw FakeAPIStatus.invalid(
                    "allowWatchBookmarks: Forbidden: sendInitialEvents requires setting allowWatchBookmarks to true")
            }
        } else if !match.isEmpty {
            throw FakeAPIStatus.invalid(
                "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided")
        }
        var timeout = configuration.defaultWatchTimeout
        if let text = query["timeoutSeconds"], !text.isEmpty {
            guard let seconds = Int(text), seconds >= 0 else { throw FakeAPIStatus.badRequest("invalid timeoutSeconds: \(text)") }
            if seconds > 0 { timeout = .seconds(seconds) }
        }
        if configuration.tooOldWatch == .httpStatus, !sendInitialEvents, let requested = resourceVersion.flatMap({ Int($0) }), requested > 0
        {
            let oldest = state.withLock { $0.store.compactedResourceVersion }
            if requested < oldest { throw FakeAPIStatus.tooOldResourceVersion(requested: requested, oldest: oldest) }
        }
        return .watch(
            FakeAPIWatchOptions(
                filter: filter, resourceVersion: resourceVersion, allowBookmarks: isTrue("allowWatchBookmarks"),
                sendInitialEvents: sendInitialEvents, timeout: timeout
            ))
    }

    /// The first events of a watch: synthetic ADDEDs for RV unset/"0" (and a streaming list,
    /// closed by the `initial-events-end` bookmark), else the history after the RV.
    static func initialEvents(for options: FakeAPIWatchOptions, store: FakeAPIStore) -> Result<[FakeAPIWatchEvent], Status> {
        let filter = options.filter
        let requested = options.resourceVersion.flatMap { Int($0) }
        if let requested, requested > store.resourceVersion {
            return .failure(FakeAPIStatus.tooLargeResourceVersion(requested: requested, current: store.resourceVersion))
        }
        guard let requested, requested != 0, !options.sendInitialEvents else {
            var events = store.objects(matching: filter).map { FakeAPIWatchEvent.object(type: .added, $0) }
            if options.sendInitialEvents {
                events.append(.bookmark(filter.resource, resourceVersion: store.resourceVersion, initialEventsEnd: true))
            }
            return .success(events)
        }
        do {
            return .success(try store.changes(to: filter.resource, after: requested).compactMap(filter.event))
        } catch {
            return .failure(error)
        }
    }

    private static func filter(_ request: FakeAPIRequest, resource: FakeAPIResource, namespace: String?) throws(Status) -> FakeAPIFilter {
        var labels = LabelSelector.everything
        if let text = request.query["labelSelector"], !text.isEmpty {
            do {
                labels = try LabelSelector(parsing: text)
            } catch {
                throw FakeAPIStatus.badRequest("unable to parse requirement: \(error)")
            }
        }
        let fields = try FakeAPIFilter.parseFields(request.query["fieldSelector"] ?? "")
        return FakeAPIFilter(resource: resource, namespace: resource.isNamespaced ? namespace : nil, labels: labels, fields: fields)
    }

    /// Decodes a JSON body as the typed object of `resource`, dropping fields it does not model.
    ///
    /// - Throws: 400 `BadRequest` when the body does not decode.
    static func decode(_ body: [UInt8], as resource: FakeAPIResource) throws(Status) -> any FakeAPIObject {
        let decoder = JSONDecoder()
        let data = Data(body)
        do {
            switch resource {
            case .services: return try decoder.decode(Service.self, from: data)
            case .endpointSlices: return try decoder.decode(EndpointSlice.self, from: data)
            case .endpoints: return try decoder.decode(Endpoints.self, from: data)
            case .nodes: return try decoder.decode(Node.self, from: data)
            }
        } catch {
            throw FakeAPIStatus.badRequest("the body of the request was in an unknown format: \(error)")
        }
    }

    private static func place(_ metadata: inout ObjectMeta, namespace: String?) throws(Status) {
        guard let namespace else { return }
        if let own = metadata.namespace, !own.isEmpty, own != namespace {
            throw FakeAPIStatus.badRequest("the namespace of the provided object does not match the namespace sent on the request")
        }
        metadata.namespace = namespace
    }

    /// RFC 3339 UTC, second precision, as Kubernetes writes `creationTimestamp`.
    static func timestamp() -> String {
        Date.now.ISO8601Format()
    }
}
