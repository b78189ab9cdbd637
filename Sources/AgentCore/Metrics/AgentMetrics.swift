/// Every metric the agent exposes, registered in one place so call sites are one-liners:
///
///     AgentMetrics.shared.http.record(route: .configuration, status: 200, seconds: elapsed)
///     AgentMetrics.shared.recordPoll(key, outcome: .changed)
///     AgentMetrics.shared.setConfigurationVersion(key, version: "v7", source: "appconfig")
public struct AgentMetrics: Sendable {
    /// The agent's metrics in `MetricsRegistry.shared`.
    public static let shared: AgentMetrics = {
        do {
            return try AgentMetrics(registry: .shared)
        } catch {
            // The names below are constants, checked by the tests on a fresh registry; registering
            // them again is idempotent. Only code registering one of them differently first gets here.
            fatalError("agent metrics could not be registered: \(error)")
        }
    }()

    /// Upper bounds of the request-duration histogram: 50 µs to 1 s.
    public static let requestDurationBuckets: [Double] = [
        0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1,
    ]

    public let registry: MetricsRegistry
    /// `appconfig_agent_http_requests_total{route,status}` and
    /// `appconfig_agent_http_request_duration_seconds{route}`, with a lock-free cache for the hot path.
    public let http: HTTPRequestMetrics
    /// `appconfig_agent_polls_total{configuration,outcome}`
    public let polls: CounterFamily
    /// `appconfig_agent_last_successful_poll_timestamp_seconds{configuration}`
    public let lastSuccessfulPoll: GaugeFamily
    /// `appconfig_agent_configuration_version{configuration,version,source}`, always 1.
    public let configurationVersion: GaugeFamily
    /// `appconfig_agent_backup_write_failures_total{configuration}`
    public let backupWriteFailures: CounterFamily
    /// `appconfig_agent_write_to_failures_total{configuration}`
    public let writeToFailures: CounterFamily
    /// `appconfig_agent_credential_refreshes_total{source,outcome}`
    public let credentialRefreshes: CounterFamily
    /// `appconfig_agent_feature_flag_errors_total{configuration,kind}`
    public let featureFlagErrors: CounterFamily
    /// `appconfig_agent_long_poll_waiters`
    public let longPollWaiters: Gauge
    /// `appconfig_agent_client_connections`
    public let clientConnections: Gauge
    /// `appconfig_agent_build_info{version}`, always 1.
    public let buildInfo: GaugeFamily
    /// When each configuration was last polled, whatever the outcome (not exposed; for the watchdog).
    public let pollActivity = PollActivity()

    /// Registers the agent's families in `registry`; doing so twice returns the same families.
    public init(registry: MetricsRegistry, version: String = AgentVersion.current) throws(MetricsError) {
        self.registry = registry
        http = HTTPRequestMetrics(
            requests: try registry.counterFamily(
                "appconfig_agent_http_requests_total",
                help: "HTTP requests answered, by route and status code.",
                labelNames: ["route", "status"]),
            duration: try registry.histogramFamily(
                "appconfig_agent_http_request_duration_seconds",
                help: "Time from reading a request to queueing its response, by route.",
                labelNames: ["route"], buckets: Self.requestDurationBuckets))
        polls = try registry.counterFamily(
            "appconfig_agent_polls_total",
            help: "Polls of AppConfig Data, by configuration and outcome.",
            labelNames: ["configuration", "outcome"])
        lastSuccessfulPoll = try registry.gaugeFamily(
            "appconfig_agent_last_successful_poll_timestamp_seconds",
            help: "Unix time of the last poll that AppConfig Data answered, by configuration.",
            labelNames: ["configuration"])
        configurationVersion = try registry.gaugeFamily(
            "appconfig_agent_configuration_version",
            help: "The version served for each configuration (always 1; the version is a label).",
            labelNames: ["configuration", "version", "source"])
        backupWriteFailures = try registry.counterFamily(
            "appconfig_agent_backup_write_failures_total",
            help: "Failed writes of a configuration to the backup directory.",
            labelNames: ["configuration"])
        writeToFailures = try registry.counterFamily(
            "appconfig_agent_write_to_failures_total",
            help: "Failed writes of a configuration to its manifest writeTo path.",
            labelNames: ["configuration"])
        credentialRefreshes = try registry.counterFamily(
            "appconfig_agent_credential_refreshes_total",
            help: "AWS credential refreshes, by provider and outcome.",
            labelNames: ["source", "outcome"])
        featureFlagErrors = try registry.counterFamily(
            "appconfig_agent_feature_flag_errors_total",
            help: "Feature-flag problems in received versions: rules that do not compile or resolve (kind rule; the flag serves its default variant) and documents that cannot be read (kind document).",
            labelNames: ["configuration", "kind"])
        longPollWaiters = try registry.gauge(
            "appconfig_agent_long_poll_waiters",
            help: "Requests currently waiting for a configuration to change.")
        clientConnections = try registry.gauge(
            "appconfig_agent_client_connections",
            help: "Open HTTP client connections.")
        buildInfo = try registry.gaugeFamily(
            "appconfig_agent_build_info",
            help: "The agent's version (always 1; the version is a label).",
            labelNames: ["version"])
        buildInfo.replaceAll([[version]: 1])
    }

    /// Counts one poll and, when AppConfig Data answered, stamps the last successful poll.
    public func recordPoll(_ configuration: ConfigurationKey, outcome: PollOutcomeLabel) {
        let name = configuration.description
        pollActivity.record(configuration)
        polls.labels([name, outcome.rawValue]).increment()
        if outcome.isSuccess {
            lastSuccessfulPoll.labels([name]).setToCurrentTime()
        }
    }

    /// Shows `version` as the one served for `configuration`, removing the series of its previous version.
    public func setConfigurationVersion(_ configuration: ConfigurationKey, version: String, source: String) {
        let name = configuration.description
        configurationVersion.set(labels: [name, version, source], value: 1) { $0.first == name }
    }

    public enum FeatureFlagErrorKind: String, Sendable { case rule, document }

    public func recordFeatureFlagError(_ configuration: ConfigurationKey, kind: FeatureFlagErrorKind) {
        featureFlagErrors.labels([configuration.description, kind.rawValue]).increment()
    }

    public func recordBackupWriteFailure(_ configuration: ConfigurationKey) {
        backupWriteFailures.labels([configuration.description]).increment()
    }

    public func recordWriteToFailure(_ configuration: ConfigurationKey) {
        writeToFailures.labels([configuration.description]).increment()
    }

    /// `source` names the provider (`environment`, `profile`, `container`, `imds`, `sts`, …).
    public func recordCredentialRefresh(source: String, outcome: CredentialRefreshOutcome) {
        credentialRefreshes.labels([source, outcome.rawValue]).increment()
    }

    /// Drops every series of a configuration the agent no longer serves.
    public func forgetConfiguration(_ configuration: ConfigurationKey) {
        let name = configuration.description
        let isThisConfiguration: ([String]) -> Bool = { $0.first == name }
        polls.removeAll(where: isThisConfiguration)
        lastSuccessfulPoll.removeAll(where: isThisConfiguration)
        configurationVersion.removeAll(where: isThisConfiguration)
        backupWriteFailures.removeAll(where: isThisConfiguration)
        featureFlagErrors.removeAll(where: isThisConfiguration)
        writeToFailures.removeAll(where: isThisConfiguration)
        pollActivity.forget(configuration)
    }
}

/// The `outcome` label of `appconfig_agent_polls_total`.
public enum PollOutcomeLabel: String, Sendable, CaseIterable {
    case changed, unchanged, throttled
    case serverError = "server_error"
    case networkError = "network_error"
    case badRequest = "bad_request"
    case notFound = "not_found"
    case accessDenied = "access_denied"
    case malformed, credentials

    /// The label for a poll that failed with `error`.
    public init(_ error: DataPlaneError) {
        switch error {
        case .badRequest: self = .badRequest
        case .resourceNotFound: self = .notFound
        case .throttled: self = .throttled
        case .accessDenied: self = .accessDenied
        case .server: self = .serverError
        case .network: self = .networkError
        case .malformedResponse: self = .malformed
        case .credentials: self = .credentials
        }
    }

    /// AppConfig Data answered with a configuration (new or the same).
    public var isSuccess: Bool { self == .changed || self == .unchanged }
}

/// The `outcome` label of `appconfig_agent_credential_refreshes_total`.
public enum CredentialRefreshOutcome: String, Sendable, CaseIterable {
    case success, failure
}
