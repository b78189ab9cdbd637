/// The local HTTP API (SPEC §1) as a pure function of a request and the store: no sockets, so every
/// route can be tested in memory. The libevent adapter only moves bytes.
public struct Router: Sendable {
    public let store: ConfigurationStore
    public let accessToken: AccessTokenCheck?
    /// Retrieves configurations on their first request (AWS mode); nil in local mode.
    public let loader: DataPlaneSource?
    public let readiness: Readiness?

    public init(store: ConfigurationStore, accessToken: String?, loader: DataPlaneSource? = nil, readiness: Readiness? = nil) {
        self.store = store
        self.accessToken = accessToken.map(AccessTokenCheck.init(token:))
        self.loader = loader
        self.readiness = readiness
    }

    /// What to do with a request: answer now, or wait for a configuration's first retrieval.
    public enum Result: Sendable {
        case response(RouteResponse)
        case awaitFirstLoad(ConfigurationKey)
        /// Long poll: the client has the version tagged `etag`; answer when another is cached, or
        /// 304 after `wait`.
        case awaitChange(ConfigurationKey, etag: String, wait: Duration)
    }

    /// The longest `?wait=` honoured; longer asks are cut to it.
    public static let maximumWait: Duration = .seconds(300)

    /// Answers a request at once; for a configuration not cached yet, says to wait for its first load.
    public func handle(_ request: some RouteRequest) -> Result {
        switch resolve(request, waitAllowed: true) {
        case .answer(let response): return .response(response)
        case .unchanged(let payload, let wait): return .awaitChange(payload.key, etag: payload.etag, wait: wait)
        case .missing(let key):
            guard let loader else { return .response(Self.notFound(key)) }
            if let known = loader.negativeAnswer(for: key) { return .response(Self.response(for: known, key: key)) }
            return .awaitFirstLoad(key)
        }
    }

    /// Answers a request that waited for its configuration's first retrieval.
    public func handle(_ request: some RouteRequest, after outcome: FirstLoadOutcome) -> RouteResponse {
        switch resolve(request, waitAllowed: false) {
        case .answer(let response): response
        case .unchanged(let payload, _): RouteResponse(status: 304, payload: payload)
        case .missing(let key): Self.response(for: outcome, key: key)
        }
    }

    /// Answers at once, whatever the request asks to wait for: a missing configuration is 404, an
    /// unchanged one 304. For tests, local mode, and long polls whose wait has ended.
    public func route(_ request: some RouteRequest) -> RouteResponse {
        switch resolve(request, waitAllowed: false) {
        case .answer(let response): response
        case .unchanged(let payload, _): RouteResponse(status: 304, payload: payload)
        case .missing(let key): Self.notFound(key)
        }
    }

    static func notFound(_ key: ConfigurationKey) -> RouteResponse {
        .error(404, "configuration not found: application '\(key.application)', environment '\(key.environment)', profile '\(key.profile)'")
    }

    static func response(for outcome: FirstLoadOutcome, key: ConfigurationKey) -> RouteResponse {
        switch outcome {
        case .loaded, .notFound: notFound(key)
        case .accessDenied: .error(502, "AWS AppConfig refused access to '\(key)'")
        case .failed(.throttled): .error(502, "AWS AppConfig is throttling requests for '\(key)' and nothing is cached yet")
        case .failed(let error): .error(502, "could not retrieve '\(key)' from AWS AppConfig: \(error)")
        case .timedOut: .error(504, "'\(key)' was not retrieved within REQUEST_TIMEOUT; retrieval continues, try again")
        case .lazyLimitReached: .error(503, "'\(key)' not retrieved: the agent already retrieves its limit of \(DataPlaneSource.lazyPollerLimit) configurations requested on demand; list the configurations you need in PREFETCH_LIST or MANIFEST")
        }
    }

    private enum Resolution {
        case answer(RouteResponse)
        case missing(ConfigurationKey)
        case unchanged(ConfigurationPayload, wait: Duration)
    }

    static let allowHeader = [(name: "Allow", value: "GET, HEAD")]
    static let pingBody: [UInt8] = Array("appconfig-agent \(AgentVersion.current)\n".utf8)

    private func resolve(_ request: some RouteRequest, waitAllowed: Bool) -> Resolution {
        let target = request.target
        let pathEnd = target.utf8.firstIndex(of: UInt8(ascii: "?")) ?? target.utf8.endIndex
        let path = target[..<pathEnd]
        let query = pathEnd < target.endIndex ? target[target.index(after: pathEnd)...] : ""

        if path == "/ping" {
            guard request.method == .get || request.method == .head else { return .answer(Self.methodNotAllowed) }
            return .answer(RouteResponse(status: 200, contentType: "text/plain; charset=utf-8", body: .bytes(Self.pingBody)))
        }
        let authorized = accessToken?.allows(authorization: request.header("Authorization")) ?? true
        if path == "/ready" {
            guard request.method == .get || request.method == .head else { return .answer(Self.methodNotAllowed) }
            return .answer(ready(detailed: authorized))
        }
        if !authorized {
            return .answer(.error(401, "unauthorized: send Authorization: Bearer <ACCESS_TOKEN>",
                          headers: [(name: "WWW-Authenticate", value: "Bearer")]))
        }
        if path == "/metrics" {
            guard request.method == .get || request.method == .head else { return .answer(Self.methodNotAllowed) }
            return .answer(RouteResponse(status: 200, contentType: MetricsRegistry.contentType,
                                         body: .bytes(Array(MetricsRegistry.shared.exposition().utf8))))
        }
        guard let route = ConfigurationRoute(path: path) else {
            return .answer(.error(404, "not found"))
        }
        guard request.method == .get || request.method == .head else { return .answer(Self.methodNotAllowed) }
        let key: ConfigurationKey
        switch route {
        case .malformed(let reason): return .answer(.error(400, reason))
        case .configuration(let parsed): key = parsed
        }
        guard let payload = store.payload(for: key) else { return .missing(key) }
        let hasQuery = !query.isEmpty && query.utf8.contains(UInt8(ascii: "="))
        if let tags = request.header("If-None-Match"), ETagMatch.matches(tags, payload.etag) {
            if waitAllowed, hasQuery, let waitText = PercentDecoding.queryValues(query, named: "wait")?.last {
                guard let wait = WaitParameter.parse(waitText) else {
                    return .answer(.error(400, "wait must be a duration such as 30s, 30 or 500ms, at most 300s"))
                }
                if wait > .zero { return .unchanged(payload, wait: min(wait, Self.maximumWait)) }
            }
            return .answer(RouteResponse(status: 304, payload: payload))
        }
        guard hasQuery else { return .answer(FlagResponder.respond(payload: payload, flags: nil, request: request)) }
        guard let flags = PercentDecoding.queryValues(query, named: "flag") else {
            return .answer(.error(400, "malformed query string"))
        }
        return .answer(FlagResponder.respond(payload: payload, flags: flags.isEmpty ? nil : flags, request: request))
    }

    /// `/ready` is open like `/ping` (for probes); its per-configuration details need the token.
    private func ready(detailed: Bool) -> RouteResponse {
        let (ready, body) = readiness?.report() ?? (true, "{\"ready\":true,\"configurations\":[]}\n")
        let text = detailed ? body : "{\"ready\":\(ready)}\n"
        return RouteResponse(status: ready ? 200 : 503, contentType: "application/json", body: .bytes(Array(text.utf8)))
    }

    static let methodNotAllowed = RouteResponse.error(405, "method not allowed", headers: allowHeader)
}

/// The configuration route, `/applications/{A}/environments/{E}/configurations/{P}`.
enum ConfigurationRoute: Equatable {
    case configuration(ConfigurationKey)
    case malformed(String)

    /// nil when the path is not this route at all (→ 404).
    init?(path: Substring) {
        // Work on the raw UTF-8 bytes: per request, Character-level String operations (splitting,
        // index arithmetic) cost more than everything else the router does.
        var path = path
        guard let parsed = path.withUTF8({ Self.parse($0) }) else { return nil }
        self = parsed
    }

    private static let applications = Array("applications".utf8)
    private static let environments = Array("environments".utf8)
    private static let configurations = Array("configurations".utf8)

    private static func parse(_ bytes: UnsafeBufferPointer<UInt8>) -> ConfigurationRoute? {
        // "/applications/A/environments/E/configurations/P": exactly six slashes, the first at 0.
        var cuts = (0, 0, 0, 0, 0, 0)
        var count = 0
        for (offset, byte) in bytes.enumerated() where byte == UInt8(ascii: "/") {
            switch count {
            case 0: cuts.0 = offset
            case 1: cuts.1 = offset
            case 2: cuts.2 = offset
            case 3: cuts.3 = offset
            case 4: cuts.4 = offset
            case 5: cuts.5 = offset
            default: return nil
            }
            count += 1
        }
        guard count == 6, cuts.0 == 0 else { return nil }
        let bounds = [cuts.0, cuts.1, cuts.2, cuts.3, cuts.4, cuts.5, bytes.count]
        func segment(_ n: Int) -> UnsafeBufferPointer<UInt8> {
            UnsafeBufferPointer(rebasing: bytes[(bounds[n] + 1)..<bounds[n + 1]])
        }
        guard segment(0).elementsEqual(applications), segment(2).elementsEqual(environments),
              segment(4).elementsEqual(configurations) else { return nil }
        guard let application = PercentDecoding.decode(segment(1)),
              let environment = PercentDecoding.decode(segment(3)),
              let profile = PercentDecoding.decode(segment(5)) else {
            return .malformed("malformed percent-encoding in the path")
        }
        guard !application.isEmpty, !environment.isEmpty, !profile.isEmpty else { return nil }
        return .configuration(ConfigurationKey(application: application, environment: environment, profile: profile))
    }
}

/// `If-None-Match` against one entity tag (RFC 9110 §13.1.2: weak comparison, `*`, lists).
enum ETagMatch {
    static func matches(_ header: String, _ etag: String) -> Bool {
        for candidate in header.split(separator: ",") {
            var tag = candidate.drop { $0 == " " || $0 == "\t" }
            while tag.last == " " || tag.last == "\t" { tag.removeLast() }
            if tag == "*" { return true }
            if tag.hasPrefix("W/") { tag = tag.dropFirst(2) }
            if tag == etag { return true }
        }
        return false
    }
}

/// `?wait=`: a bare number is seconds; `ms`, `s`, `m` units.
enum WaitParameter {
    static func parse(_ text: String) -> Duration? {
        let digits = text.prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty, digits.count <= 9, let value = Int(digits) else { return nil }
        switch text.dropFirst(digits.count) {
        case "", "s": return .seconds(value)
        case "ms": return .milliseconds(value)
        case "m": return .seconds(value * 60)
        default: return nil
        }
    }
}
