import Foundation
import KubeAPI

/// Reads a kubeconfig file (client-go `clientcmd/api/v1`) into a ``ClientConfiguration``:
/// current context → cluster (server, CA, TLS options) and user (token, token file, client
/// certificate, exec plugin).
///
/// Rules, as client-go: relative paths (CA, certificate, key, token file, an exec command with a
/// `/`) resolve against the kubeconfig's directory; `*-data` fields win over their path
/// variants; `token` wins over `tokenFile`, which wins over `exec`; a CA together with
/// `insecure-skip-tls-verify` is an error. Every file named is read (and every PEM parsed) now,
/// so a broken kubeconfig fails at start with `FILE: FIELD: message`.
///
/// Not supported (an error naming the field rather than silently unauthenticated requests):
/// `auth-provider`, basic auth (`username`/`password`, or user info in `server`), `proxy-url`.
enum KubeConfigLoader {
    /// Loads and resolves `file`.
    static func load(file: String) throws(APIClientError) -> ClientConfiguration {
        guard FileManager.default.fileExists(atPath: file) else {
            throw .configuration(file: file, field: nil, message: "does not exist")
        }
        let data: Data
        switch BoundedFile.read(file) {
        case .success(let bytes): data = Data(bytes)
        case .failure(let failure): throw .configuration(file: file, field: nil, message: "\(failure)")
        }
        let root: JSONValue
        switch ManifestParser.documents(in: data, file: file) {
        case .failure(let error):
            throw .configuration(file: file, field: nil, message: "invalid YAML: \(error.message)")
        case .success(let documents):
            guard let first = documents.first, case .object = first else {
                throw .configuration(file: file, field: nil, message: "is not a kubeconfig (expected a mapping)")
            }
            root = first
        }
        let directory = (file as NSString).deletingLastPathComponent
        return try resolve(ConfigNode(file: file, root: root), directory: directory)
    }

    /// Resolves the current context of a parsed kubeconfig.
    static func resolve(_ root: ConfigNode, directory: String) throws(APIClientError) -> ClientConfiguration {
        let currentContext = root["current-context"]
        guard let contextName = try currentContext.string() else { throw currentContext.error("is not set") }
        guard let context = try entry(named: contextName, in: root["contexts"]) else {
            throw currentContext.error("context \"\(contextName)\" not found in contexts")
        }
        let clusterField = context["context"]["cluster"]
        let clusterName = try clusterField.requiredString()
        guard let cluster = try entry(named: clusterName, in: root["clusters"]) else {
            throw clusterField.error("cluster \"\(clusterName)\" not found in clusters")
        }
        var configuration = try clusterSettings(cluster["cluster"], directory: directory)
        configuration.origin = "kubeconfig \(root.file) (context \(contextName))"
        let userField = context["context"]["user"]
        if let userName = try userField.string() {
            guard let user = try entry(named: userName, in: root["users"]) else {
                throw userField.error("user \"\(userName)\" not found in users")
            }
            try applyUser(user["user"], directory: directory, to: &configuration)
        }
        return configuration
    }

    private static func entry(named name: String, in list: ConfigNode) throws(APIClientError) -> ConfigNode? {
        for element in try list.list() where try element["name"].string() == name {
            return element
        }
        return nil
    }

    private static func clusterSettings(_ cluster: ConfigNode, directory: String) throws(APIClientError)
        -> ClientConfiguration
    {
        let server = try cluster["server"].requiredString()
        if ServerURL.hasUserInfo(server) {
            throw cluster["server"].error(ClientConfiguration.userInfoMessage(server))
        }
        var configuration = ClientConfiguration(server: server)
        if let data = try cluster["certificate-authority-data"].base64() {
            try PEMMaterial.checkCertificates(data, field: cluster["certificate-authority-data"])
            configuration.certificateAuthorityPEM = data
        } else if let (path, bytes) = try cluster["certificate-authority"].fileContents(relativeTo: directory) {
            try PEMMaterial.checkCertificates(bytes, field: cluster["certificate-authority"], path: path)
            configuration.certificateAuthorityPEM = bytes
        }
        configuration.insecureSkipTLSVerify = try cluster["insecure-skip-tls-verify"].bool()
        if configuration.insecureSkipTLSVerify, configuration.certificateAuthorityPEM != nil {
            throw cluster["insecure-skip-tls-verify"].error("cannot be combined with a certificate authority")
        }
        configuration.tlsServerName = try cluster["tls-server-name"].string()
        if try cluster["proxy-url"].string() != nil {
            throw cluster["proxy-url"].error("is not supported")
        }
        return configuration
    }

    private static func applyUser(
        _ user: ConfigNode, directory: String, to configuration: inout ClientConfiguration
    ) throws(APIClientError) {
        for unsupported in ["auth-provider", "username", "password"] where !user[unsupported].isAbsent {
            throw user[unsupported].error("is not supported (use a token, a client certificate or an exec plugin)")
        }
        try applyClientCertificate(user, directory: directory, to: &configuration)
        if let token = try user["token"].string() {
            configuration.credentials = .token(BearerToken(token))
        } else if let (path, bytes) = try user["tokenFile"].fileContents(relativeTo: directory) {
            guard !String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines).isEmpty
            else { throw user["tokenFile"].error("file \(path) is empty") }
            configuration.credentials = .tokenFile(path)
        } else if !user["exec"].isAbsent {
            configuration.credentials = .exec(try execPlugin(user["exec"], directory: directory))
        }
    }

    private static func applyClientCertificate(
        _ user: ConfigNode, directory: String, to configuration: inout ClientConfiguration
    ) throws(APIClientError) {
        let certificate = try pem(user, "client-certificate", directory: directory)
        let key = try pem(user, "client-key", directory: directory)
        switch (certificate, key) {
        case (nil, nil):
            return
        case (let certificate?, let key?):
            try PEMMaterial.checkCertificates(certificate.bytes, field: certificate.field, path: certificate.path)
            try PEMMaterial.checkPrivateKey(key.bytes, field: key.field, path: key.path)
            configuration.clientCertificatePEM = certificate.bytes
            configuration.clientKeyPEM = key.bytes
        case (nil, let key?):
            throw user["client-certificate"].error("is required with \(key.field.path)")
        case (let certificate?, nil):
            throw user["client-key"].error("is required with \(certificate.field.path)")
        }
    }

    /// `NAME-data` (base64) or the file named by `NAME`, with the field it came from.
    private static func pem(_ user: ConfigNode, _ name: String, directory: String) throws(APIClientError)
        -> (bytes: [UInt8], field: ConfigNode, path: String?)?
    {
        if let data = try user["\(name)-data"].base64() { return (data, user["\(name)-data"], nil) }
        if let (path, bytes) = try user[name].fileContents(relativeTo: directory) { return (bytes, user[name], path) }
        return nil
    }

    private static func execPlugin(_ exec: ConfigNode, directory: String) throws(APIClientError) -> ExecPluginConfig {
        let apiVersion = try exec["apiVersion"].requiredString()
        guard ExecPluginConfig.supportedVersions.contains(apiVersion) else {
            let supported = ExecPluginConfig.supportedVersions.sorted().joined(separator: ", ")
            throw exec["apiVersion"].error("\"\(apiVersion)\" is not supported (use one of \(supported))")
        }
        var command = try exec["command"].requiredString()
        if command.contains("/") { command = ConfigNode.resolve(command, relativeTo: directory) }
        var environment: [ExecPluginConfig.EnvironmentVariable] = []
        for variable in try exec["env"].list() {
            let value = try variable["value"].string() ?? ""
            environment.append(.init(name: try variable["name"].requiredString(), value: value))
        }
        if try exec["interactiveMode"].string() == "Always" {
            throw exec["interactiveMode"].error("\"Always\" needs a terminal; a proxy has none")
        }
        return ExecPluginConfig(
            apiVersion: apiVersion, command: command, arguments: try exec["args"].stringList(),
            environment: environment, provideClusterInfo: try exec["provideClusterInfo"].bool(),
            installHint: try exec["installHint"].string(), origin: "\(exec.file): \(exec.path)")
    }
}
