import Foundation
import KubeAPI
import KubeProxyTesting
import Testing

/// RBAC in the fake API server: the policy read from `deploy/`, rule matching, and 403s worded
/// as kube-apiserver words them.
@Suite("FakeAPIServer RBAC")
struct FakeAPIRBACTests {
    static let proxyToken = "sa-token-0123456789"

    static func deployPolicy() throws -> FakeAPIRBAC {
        try FakeAPIRBAC.load(files: FakeAPIDeployManifests.baseRBACFiles)
    }

    static func proxyUser() throws -> FakeAPIUser {
        try #require(FakeAPIDeployManifests.serviceAccounts(in: try deployPolicy()).first)
    }

    static func list(_ group: String, _ resource: String, name: String? = nil) -> FakeAPIAccess {
        FakeAPIAccess(verb: "list", target: .resource(group: group, resource: resource, namespace: nil, name: name))
    }

    @Test func readsTheDeployedRoleAndBindingForTheProxyServiceAccount() throws {
        let policy = try Self.deployPolicy()
        #expect(policy.roles.map(\.name) == ["swift-kube-proxy"])
        #expect(policy.bindings.map(\.roleName) == ["swift-kube-proxy"])
        #expect(try Self.proxyUser().name == "system:serviceaccount:kube-system:swift-kube-proxy")
    }

    @Test func allowsOnlyWhatARuleNames() throws {
        let policy = try Self.deployPolicy()
        let user = try Self.proxyUser()
        #expect(policy.allows(user, Self.list("", "services")))
        #expect(
            policy.allows(
                user, FakeAPIAccess(verb: "watch", target: .resource(group: "", resource: "services", namespace: "default", name: nil))))
        #expect(policy.allows(user, Self.list("discovery.k8s.io", "endpointslices")))
        #expect(policy.allows(user, Self.list("", "nodes", name: "node-1")))
        // Wrong verb, wrong group, an unlisted resource, another user.
        #expect(
            !policy.allows(
                user, FakeAPIAccess(verb: "get", target: .resource(group: "", resource: "services", namespace: "default", name: "web"))))
        #expect(!policy.allows(user, Self.list("", "endpointslices")))
        #expect(!policy.allows(user, Self.list("", "endpoints")))
        #expect(!policy.allows(user, Self.list("", "secrets")))
        #expect(!policy.allows(FakeAPIUser.serviceAccount(namespace: "default", name: "swift-kube-proxy"), Self.list("", "services")))
        // Discovery paths come from the default role, only with it.
        let discovery = FakeAPIAccess(verb: "get", target: .path("/apis/discovery.k8s.io/v1"))
        #expect(!policy.allows(user, discovery))
        #expect(FakeAPIRBAC.defaultDiscovery.merging(policy).allows(user, discovery))
        #expect(!FakeAPIRBAC.defaultDiscovery.allows(user, FakeAPIAccess(verb: "get", target: .path("/fake/faults"))))
        // Removing a rule removes exactly its grant.
        let withoutServices = policy.removingRule(0, ofRole: "swift-kube-proxy")
        #expect(!withoutServices.allows(user, Self.list("", "services")))
        #expect(withoutServices.allows(user, Self.list("discovery.k8s.io", "endpointslices")))
    }

    @Test func resourceNamesAndWildcardsMatchAsInKubernetes() {
        let user = FakeAPIUser(name: "alice", groups: ["team"])
        let policy = FakeAPIRBAC(
            roles: [
                .init(
                    name: "one-node",
                    rules: [.init(apiGroups: [""], resources: ["nodes"], verbs: ["get", "list"], resourceNames: ["node-1"])]),
                .init(name: "all", rules: [.init(apiGroups: ["*"], resources: ["*"], verbs: ["watch"])]),
            ],
            bindings: [
                .init(name: "a", roleName: "one-node", subjects: [.init(kind: "User", name: "alice")]),
                .init(name: "b", roleName: "all", subjects: [.init(kind: "Group", name: "team")]),
            ])
        #expect(policy.allows(user, Self.list("", "nodes", name: "node-1")))
        #expect(!policy.allows(user, Self.list("", "nodes", name: "node-2")))
        #expect(!policy.allows(user, Self.list("", "nodes")))  // a list of every node is not one name
        #expect(
            policy.allows(
                user, FakeAPIAccess(verb: "watch", target: .resource(group: "apps", resource: "daemonsets", namespace: nil, name: nil))))
    }

    @Test func malformedRulesNameTheFileDocumentAndField() {
        let yaml = """
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: ignored}
            ---
            apiVersion: rbac.authorization.k8s.io/v1
            kind: ClusterRole
            metadata: {name: broken}
            rules:
              - apiGroups: [""]
                resources: [services]
                verb: [list]
            """
        #expect {
            try FakeAPIRBAC.parse(yaml: yaml, file: "role.yaml")
        } throws: { error in
            "\(error)" == "role.yaml: document 2 (broken): rules[0].verb: unknown field"
        }
    }

    /// The server with the deployed policy: the service account lists and watches what the role
    /// grants, gets 403 with kube-apiserver's wording for anything else, and the administrator
    /// token is not restricted.
    @Test func serverEnforcesThePolicyForTheServiceAccountToken() async throws {
        let user = try Self.proxyUser()
        let authorization = FakeAPIAuthorization(policy: try Self.deployPolicy(), tokens: [Self.proxyToken: user])
        let server = try await FakeAPIServer.start(token: "admin-token", authorization: authorization)
        do {
            try await Self.exercise(server)
        } catch {
            await server.shutdown()
            throw error
        }
        await server.shutdown()
    }

    static func exercise(_ server: FakeAPIServer) async throws {
        let fetch = { (target: String, token: String?) in
            try await RawHTTPConnection.fetch(port: server.port, target, token: token)
        }
        #expect(try await fetch("/api/v1/services?labelSelector=%21service.kubernetes.io%2Fheadless", Self.proxyToken).status == 200)
        #expect(try await fetch("/apis/discovery.k8s.io/v1/endpointslices", Self.proxyToken).status == 200)
        #expect(try await fetch("/api/v1/nodes?fieldSelector=metadata.name%3Dnode-1", Self.proxyToken).status == 200)
        #expect(try await fetch("/apis/discovery.k8s.io/v1", Self.proxyToken).status == 200)
        #expect(server.forbiddenRequests.isEmpty)

        let endpoints = try await fetch("/api/v1/endpoints", Self.proxyToken)
        #expect(endpoints.status == 403)
        let status = try endpoints.decode(Status.self)
        #expect(status.reason == "Forbidden")
        #expect(
            status.message
                == "endpoints is forbidden: User \"system:serviceaccount:kube-system:swift-kube-proxy\" cannot list resource "
                + "\"endpoints\" in API group \"\" at the cluster scope")
        let get = try await fetch("/api/v1/namespaces/default/services/web", Self.proxyToken).decode(Status.self)
        #expect(
            get.message
                == "services \"web\" is forbidden: User \"system:serviceaccount:kube-system:swift-kube-proxy\" cannot get resource "
                + "\"services\" in API group \"\" in the namespace \"default\"")
        #expect(get.details?.name == "web" && get.details?.kind == "services")
        let faults = try await fetch("/fake/faults", Self.proxyToken).decode(Status.self)
        #expect(faults.message == "forbidden: User \"system:serviceaccount:kube-system:swift-kube-proxy\" cannot get path \"/fake/faults\"")
        #expect(server.forbiddenRequests.count == 3)

        #expect(try await fetch("/api/v1/endpoints", "admin-token").status == 200)
        #expect(try await fetch("/api/v1/services", "wrong-token").status == 401)
        #expect(try await fetch("/api/v1/services", nil).status == 401)
    }
}
