/// The local HTTP API (SPEC §1) as a pure function of a request and the store: no sockets, so every
/// route can be tested in memory. The libevent adapter only moves bytes.
public struct Router: Sendable {
    public let store: ConfigurationStore
    public let accessToken: AccessTokenCheck?

    public init(store: ConfigurationStore, accessToken: String?) {
        self.store = store
        self.accessToken = accessToken.map(AccessTokenCheck.init(token:))
    }

    static let allowHeader = [(name: "Allow", value: "GET, HEAD")]
    static let pingBody: [UInt8] = Array("appconfig-agent \(AgentVersion.current)\n".utf8)

    public func route(_ request: some RouteRequest) -> RouteResponse {
        let target = request.target
        let pathEnd = target.utf8.firstIndex(of: UInt8(ascii: "?")) ?? target.endIndex
        let path = target[..<pathEnd]
        let query = pathEnd < target.endIndex ? target[target.index(after: pathEnd)...] : ""

        if path == "/ping" {
            guard request.method == .get || request.method == .head else { return Self.methodNotAllowed }
            return RouteResponse(status: 200, contentType: "text/plain; charset=utf-8", body: .bytes(Self.pingBody))
        }
        if let accessToken, !accessToken.allows(authorization: request.header("Authorization")) {
            return .error(401, "unauthorized: send Authorization: Bearer <ACCESS_TOKEN>",
                          headers: [(name: "WWW-Authenticate", value: "Bearer")])
        }
        guard let route = ConfigurationRoute(path: path) else {
            return .error(404, "not found")
        }
        guard request.method == .get || request.method == .head else { return Self.methodNotAllowed }
        let key: ConfigurationKey
        switch route {
        case .malformed(let reason): return .error(400, reason)
        case .configuration(let parsed): key = parsed
        }
        guard let payload = store.payload(for: key) else {
            return .error(404, "configuration not found: application '\(key.application)', environment '\(key.environment)', profile '\(key.profile)'")
        }
        guard !query.isEmpty, query.utf8.contains(UInt8(ascii: "=")) else {
            return RouteResponse(status: 200, body: .payload(payload), payload: payload)
        }
        guard let flags = PercentDecoding.queryValues(query, named: "flag") else {
            return .error(400, "malformed query string")
        }
        if flags.isEmpty {
            return RouteResponse(status: 200, body: .payload(payload), payload: payload)
        }
        return FlagResponder.respond(payload: payload, flags: flags)
    }

    static let methodNotAllowed = RouteResponse.error(405, "method not allowed", headers: allowHeader)
}

/// The configuration route, `/applications/{A}/environments/{E}/configurations/{P}`.
enum ConfigurationRoute: Equatable {
    case configuration(ConfigurationKey)
    case malformed(String)

    /// nil when the path is not this route at all (→ 404).
    init?(path: Substring) {
        let segments = path.split(separator: "/", omittingEmptySubsequences: false)
        // "", "applications", A, "environments", E, "configurations", P
        guard segments.count == 7, segments[0].isEmpty, segments[1] == "applications",
              segments[3] == "environments", segments[5] == "configurations",
              !segments[2].isEmpty, !segments[4].isEmpty, !segments[6].isEmpty else { return nil }
        guard let application = PercentDecoding.decode(segments[2]),
              let environment = PercentDecoding.decode(segments[4]),
              let profile = PercentDecoding.decode(segments[6]) else {
            self = .malformed("malformed percent-encoding in the path")
            return
        }
        guard !application.isEmpty, !environment.isEmpty, !profile.isEmpty else { return nil }
        self = .configuration(ConfigurationKey(application: application, environment: environment, profile: profile))
    }
}
