import Testing

@testable import KubeClient

@Suite struct APIClientErrorTests {
    @Test func configurationErrorsNameTheFileAndField() {
        let error = APIClientError.configuration(
            file: "/x/kubeconfig", field: "users[0].user.client-key", message: "file /x/key.pem not readable")
        #expect("\(error)" == "/x/kubeconfig: users[0].user.client-key: file /x/key.pem not readable")
        #expect("\(APIClientError.configuration(file: "/x/kc", field: nil, message: "does not exist"))" == "/x/kc: does not exist")
    }

    @Test func statusErrorsNameTheURLStatusAndReason() {
        let error = APIClientError.status(
            url: "https://h/api/v1/services?watch=true", status: 410, reason: "Expired", message: "too old resource version: 5 (120)")
        #expect("\(error)" == "GET https://h/api/v1/services?watch=true: 410 Expired: too old resource version: 5 (120)")
        #expect(error.status == 410)
        #expect(error.reason == "Expired")
        #expect("\(APIClientError.status(url: "u", status: 503, reason: nil, message: nil))" == "GET u: 503")
    }

    @Test func otherErrorsKeepTheirContext() {
        #expect("\(APIClientError.transport(url: "u", message: "connection refused"))" == "GET u: connection refused")
        #expect("\(APIClientError.protocolViolation(url: "u", message: "bad"))" == "GET u: protocol error: bad")
        #expect("\(APIClientError.credential(source: "token file /t", message: "empty"))" == "token file /t: empty")
        #expect(APIClientError.transport(url: "u", message: "x").status == nil)
    }

    @Test func bearerTokensPrintRedacted() {
        let token = BearerToken("s3cr3t-token")
        let configuration = ClientConfiguration(server: "https://h", credentials: .token(token))
        var dumped = ""
        dump(configuration, to: &dumped)
        for text in ["\(token)", String(reflecting: token), "\(configuration)", dumped, "\(configuration.credentials)"] {
            #expect(!text.contains("s3cr3t"))
        }
    }
}
