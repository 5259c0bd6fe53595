import KubeAPI
import KubeClient
import KubeProxyCore

/// Connects the manifest reader to Core's API validation, so a bad document is refused at the
/// file boundary with the same field paths the API server would use.
enum ObjectValidation {
    /// The validator the manifest source runs on every document before accepting a file.
    static func validator() -> ManifestValidator {
        { object in
            switch object {
            case .service(let service): APIValidation.validate(service)
            case .endpointSlice(let slice): APIValidation.validate(slice)
            case .endpoints(let endpoints): APIValidation.validate(endpoints)
            }
        }
    }
}
