import Foundation

extension ClientConfiguration {
    /// Finds and loads the client configuration the way kube-proxy operators expect.
    ///
    /// Order: the `kubeconfig` flag; else the first file of `KUBECONFIG` (colon-separated);
    /// else the in-cluster service account when `KUBERNETES_SERVICE_HOST` and
    /// `KUBERNETES_SERVICE_PORT` are set; else `$HOME/.kube/config` if it exists. `master`
    /// (`--master`) then overrides the server; with nothing else found it is used alone, without
    /// credentials. A server URL with user info (`http://user:password@host`) is rejected: it
    /// would mean basic auth, which is not supported.
    ///
    /// - Parameters:
    ///   - kubeconfig: the `--kubeconfig` path (`nil` or empty: not given).
    ///   - master: the `--master` URL (`nil` or empty: not given).
    ///   - environment: the process environment (injected for tests).
    ///   - inCluster: where the service-account token and CA live (injected for tests).
    /// - Throws: ``APIClientError/configuration(file:field:message:)`` naming the file and field
    ///   at fault (never a token).
    public static func load(
        kubeconfig: String?, master: String?, environment: [String: String] = ProcessInfo.processInfo.environment,
        inCluster: InClusterPaths = .standard
    ) throws(APIClientError) -> ClientConfiguration {
        var configuration: ClientConfiguration
        let home = environment["HOME"].map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 } ?? ""
        let defaultFile = home + "/.kube/config"
        if let kubeconfig, !kubeconfig.isEmpty {
            configuration = try KubeConfigLoader.load(file: kubeconfig)
        } else if let file = environment["KUBECONFIG"]?.split(separator: ":").first.map(String.init), !file.isEmpty {
            configuration = try KubeConfigLoader.load(file: file)
        } else if let host = environment["KUBERNETES_SERVICE_HOST"], let port = environment["KUBERNETES_SERVICE_PORT"],
            !host.isEmpty, !port.isEmpty
        {
            configuration = try inClusterConfiguration(host: host, port: port, paths: inCluster)
        } else if !home.isEmpty, FileManager.default.fileExists(atPath: defaultFile) {
            configuration = try KubeConfigLoader.load(file: defaultFile)
        } else if let master, !master.isEmpty {
            try checkMaster(master)
            configuration = ClientConfiguration(server: master, origin: "--master")
        } else {
            throw .configuration(
                file: home.isEmpty ? "~/.kube/config" : defaultFile, field: nil,
                message:
                    "does not exist, and there is no --kubeconfig, no KUBECONFIG, no --master and no in-cluster "
                    + "service account (KUBERNETES_SERVICE_HOST is unset)")
        }
        if let master, !master.isEmpty {
            try checkMaster(master)
            configuration.server = master
            configuration.origin += ", server from --master"
        }
        if !configuration.server.contains("://") {
            let secure = configuration.certificateAuthorityPEM != nil || configuration.insecureSkipTLSVerify
            configuration.server = (secure ? "https://" : "http://") + configuration.server
        }
        return configuration
    }

    /// The message for a server URL with user info: it would be basic auth, which we do not
    /// support (like `username`/`password`), and the URL is quoted with the user info redacted.
    static func userInfoMessage(_ server: String) -> String {
        "\"\(ServerURL.redactingUserInfo(server))\" carries user info (user:password@): basic auth is not supported "
            + "(use a token, a client certificate or an exec plugin)"
    }

    /// Rejects a `--master` URL with user info (see ``userInfoMessage(_:)``).
    private static func checkMaster(_ master: String) throws(APIClientError) {
        guard ServerURL.hasUserInfo(master) else { return }
        throw .configuration(file: "--master", field: nil, message: userInfoMessage(master))
    }

    /// client-go's `rest.InClusterConfig`: `https://HOST:PORT` (IPv6-safe), the service-account
    /// CA, and the rotating service-account token file.
    static func inClusterConfiguration(host: String, port: String, paths: InClusterPaths) throws(APIClientError)
        -> ClientConfiguration
    {
        let hostPart = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
        let token: [UInt8]
        switch BoundedFile.read(paths.tokenFile) {
        case .success(let bytes): token = bytes
        case .failure(let failure):
            throw .configuration(
                file: paths.tokenFile, field: nil, message: "service-account token \(failure) (in-cluster configuration)")
        }
        guard !String(decoding: token, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw .configuration(file: paths.tokenFile, field: nil, message: "service-account token is empty")
        }
        let authority: [UInt8]
        switch BoundedFile.read(paths.certificateAuthorityFile) {
        case .success(let bytes): authority = bytes
        case .failure(let failure):
            throw .configuration(
                file: paths.certificateAuthorityFile, field: nil,
                message: "service-account CA \(failure) (in-cluster configuration)")
        }
        do {
            _ = try PEMMaterial.certificates(authority)
        } catch {
            throw .configuration(file: paths.certificateAuthorityFile, field: nil, message: "no valid PEM certificate")
        }
        return ClientConfiguration(
            server: "https://\(hostPart):\(port)", origin: "in-cluster service account",
            certificateAuthorityPEM: authority, credentials: .tokenFile(paths.tokenFile))
    }
}
