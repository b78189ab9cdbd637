/// Answers `?flag=` requests from a stored version's flag index.
enum FlagResponder {
    static func respond(payload: ConfigurationPayload, flags: [String]) -> RouteResponse {
        let index: FlagIndex
        switch payload.flagIndex {
        case .success(let built): index = built
        case .failure(let error): return .error(error.httpStatus, error.description)
        }
        do {
            let body = try index.select(flags)
            return RouteResponse(status: 200, contentType: "application/json", body: .bytes(body), payload: payload)
        } catch {
            return .error(error.httpStatus, error.description)
        }
    }
}
