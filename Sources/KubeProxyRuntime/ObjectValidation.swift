import KubeAPI
import KubeClient
import KubeProxyCore

/// Connects the manifest reader to Core's API validation, so a bad document is refused at the
/// file boundary with the same field paths the API server would use.
enum ObjectValidation {
    /// The validator the manifest source runs on every document before accepting a file.
    /// `spec.cidrs`: one to two prefixes, as the API server requires (at most one per family).
    static func validate(_ range: ServiceCIDR) -> [StatusCause] {
        let cidrs = range.spec?.cidrs ?? []
        var causes: [StatusCause] = []
        if cidrs.isEmpty || cidrs.count > 2 {
            causes.append(
                StatusCause(reason: "FieldValueInvalid", message: "must hold one or two CIDRs", field: "spec.cidrs"))
        }
        for (index, text) in cidrs.enumerated() where CIDR(text) == nil {
            causes.append(
                StatusCause(
                    reason: "FieldValueInvalid", message: "\"\(text)\" is not a CIDR", field: "spec.cidrs[\(index)]"))
        }
        return causes
    }

    static func validator() -> ManifestValidator {
        { object in
            switch object {
            case .service(let service): APIValidation.validate(service)
            case .endpointSlice(let slice): APIValidation.validate(slice)
            case .endpoints(let endpoints): APIValidation.validate(endpoints)
            case .serviceCIDR(let range): Self.validate(range)
            }
        }
    }
}
