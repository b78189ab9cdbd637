/// The `route` label of the HTTP metrics: a fixed, small set, so series never multiply with paths.
public enum HTTPRouteLabel: String, Sendable, CaseIterable {
    case ping, configuration, flag, ready, metrics, other

    var index: Int {
        switch self {
        case .ping: 0
        case .configuration: 1
        case .flag: 2
        case .ready: 3
        case .metrics: 4
        case .other: 5
        }
    }
}

/// `appconfig_agent_http_requests_total` and `…_http_request_duration_seconds` with their series
/// cached per route and status in lock-free slots: after the first request of a kind, recording
/// one is two atomic loads, two atomic adds and one compare-and-swap, with no allocation, no lock
/// and no reference counting.
public final class HTTPRequestMetrics: Sendable {
    public let requests: CounterFamily
    public let duration: HistogramFamily

    /// Statuses 100–599 have a slot each per route; others are looked up in the family.
    private let counters: LazyReferenceTable<Counter>
    private let durations: LazyReferenceTable<Histogram>

    init(requests: CounterFamily, duration: HistogramFamily) {
        self.requests = requests
        self.duration = duration
        let routes = HTTPRouteLabel.allCases.count // 6 × 500 words: 24 KB
        counters = LazyReferenceTable(count: routes * 500)
        durations = LazyReferenceTable(count: routes)
    }

    /// Counts one answered request and its duration.
    @inline(__always)
    public func record(route: HTTPRouteLabel, status: Int, seconds: Double) {
        if let slot = Self.slot(route: route, status: status) {
            counters.withElement(at: slot, orMake: { makeCounter(route, status) }) { $0.increment() }
        } else {
            makeCounter(route, status).increment()
        }
        durations.withElement(at: route.index, orMake: { makeHistogram(route) }) { $0.observe(seconds) }
    }

    /// Counts one answered request and its duration.
    public func record(route: HTTPRouteLabel, status: Int, duration: Duration) {
        let parts = duration.components
        record(route: route, status: status, seconds: Double(parts.seconds) + Double(parts.attoseconds) / 1e18)
    }

    /// The `{route,status}` counter; created, and exposed, on first use.
    public func requestCounter(route: HTTPRouteLabel, status: Int) -> Counter {
        guard let slot = Self.slot(route: route, status: status) else { return makeCounter(route, status) }
        return counters.element(at: slot) { makeCounter(route, status) }
    }

    /// The `{route}` duration histogram; created, and exposed, on first use.
    public func durationHistogram(route: HTTPRouteLabel) -> Histogram {
        durations.element(at: route.index) { makeHistogram(route) }
    }

    @inline(__always)
    private static func slot(route: HTTPRouteLabel, status: Int) -> Int? {
        guard status >= 100, status < 600 else { return nil }
        return route.index * 500 + (status - 100)
    }

    private func makeCounter(_ route: HTTPRouteLabel, _ status: Int) -> Counter {
        requests.labels([route.rawValue, String(status)])
    }

    private func makeHistogram(_ route: HTTPRouteLabel) -> Histogram {
        duration.labels([route.rawValue])
    }
}
