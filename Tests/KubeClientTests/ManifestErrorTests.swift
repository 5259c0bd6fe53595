import KubeClient
import Testing

@Suite struct ManifestErrorTests {
    @Test(arguments: [
        (
            ManifestError(
                reason: .validation, file: "manifests/svc.yaml", document: 2, kind: "Service", object: "default/web",
                field: "spec.ports[0].port", message: "must be between 1 and 65535"),
            "manifests/svc.yaml: document 2 (Service default/web): spec.ports[0].port: must be between 1 and 65535"
        ),
        (
            ManifestError(reason: .syntax, file: "a.yaml", document: 3, message: "line 4, column 2: bad"),
            "a.yaml: document 3: line 4, column 2: bad"
        ),
        (
            ManifestError(
                reason: .invalidObject, file: "a.yaml", document: 1, kind: "Service", field: "metadata.name",
                message: "is required"),
            "a.yaml: document 1 (Service): metadata.name: is required"
        ),
        (
            ManifestError(reason: .missingPath, file: "/nope", message: "no such file or directory"),
            "/nope: no such file or directory"
        ),
    ])
    func describesWhatIsKnown(error: ManifestError, expected: String) {
        #expect(error.description == expected)
    }
}
