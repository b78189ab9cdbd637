/// Answers `?flag=` requests and evaluates feature-flag profiles, from what each version prepared
/// once (`ConfigurationPayload.flags`).
enum FlagResponder {
    /// `flags` nil: the whole configuration, its bytes as stored or, for variant feature flags,
    /// every flag evaluated for this request; otherwise the named flags.
    static func respond(payload: ConfigurationPayload, flags: [String]?, request: some RouteRequest) -> RouteResponse {
        switch payload.flags {
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
        case .json, .none:
            // The common request, a whole configuration, binds nothing here.
            guard let flags else { return RouteResponse(status: 200, body: .payload(payload), payload: payload) }
            guard case .json(let index) = payload.flags else {
                return .error(FlagSelectionError.notAnObject.httpStatus, FlagSelectionError.notAnObject.description)
            }
            return answer(payload) { () throws(FlagSelectionError) in try index.get().select(flags) }
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
