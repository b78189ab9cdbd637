/// Answers `?flag=` requests and evaluates feature-flag profiles, from what each version prepared
/// once (`ConfigurationPayload.flags`).
enum FlagResponder {
    /// `flags` nil: the whole configuration (only reached for variant feature flags, which are
    /// evaluated per request); otherwise the named flags.
    static func respond(payload: ConfigurationPayload, flags: [String]?, request: some RouteRequest) -> RouteResponse {
        switch payload.flags {
        case .json(.success(let index)):
            guard let flags else { return RouteResponse(status: 200, body: .payload(payload), payload: payload) }
            return answer(payload) { () throws(FlagSelectionError) in try index.select(flags) }
        case .json(.failure(let error)):
            guard flags != nil else { return RouteResponse(status: 200, body: .payload(payload), payload: payload) }
            return .error(error.httpStatus, error.description)
        case .variants(let compiled):
            let context: EvaluationContext
            do {
                context = try EvaluationContext.parse(contextHeaders: request.headers(named: "Context"),
                                                      entityId: request.header("Entity-Id"))
            } catch {
                return .error(error.httpStatus, error.description)
            }
            return answer(payload) { () throws(FlagSelectionError) in try compiled.render(context, only: flags) }
        case .unreadable(let error):
            return .error(502, "feature flags '\(payload.key)' version \(payload.version) cannot be served: \(error)")
        case .none:
            guard flags != nil else { return RouteResponse(status: 200, body: .payload(payload), payload: payload) }
            return .error(FlagSelectionError.notAnObject.httpStatus, FlagSelectionError.notAnObject.description)
        }
    }

    private static func answer(_ payload: ConfigurationPayload, _ body: () throws(FlagSelectionError) -> [UInt8]) -> RouteResponse {
        do {
            return RouteResponse(status: 200, contentType: "application/json", body: .bytes(try body()), payload: payload)
        } catch {
            return .error(error.httpStatus, error.description)
        }
    }
}
