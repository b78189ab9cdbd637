enum FlagResponder { static func respond(payload: ConfigurationPayload, flags: [String]) -> RouteResponse { .error(500, "TEMP") } }
