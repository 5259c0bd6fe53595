import KubeAPI
import Testing

@Suite struct StatusCauseTests {
    @Test(arguments: [
        (
            StatusCause(message: "must be between 1 and 65535", field: "spec.ports[0].port"),
            "spec.ports[0].port: must be between 1 and 65535"
        ),
        (StatusCause(message: "is required", field: nil), "is required"),
        (StatusCause(reason: "FieldValueInvalid", field: "spec.type"), "spec.type: FieldValueInvalid"),
    ])
    func describesFieldThenMessage(cause: StatusCause, expected: String) {
        #expect(cause.description == expected)
    }
}
