import Synchronization

/// Every configuration retrieved from AWS: one poller each, created at start-up for the prefetch
/// list (pinned: retried for ever) or on the first request for it (lazy).
public final class DataPlaneSource: Sendable {
    private let client: AppConfigDataClient
    private let store: ConfigurationStore
    private let pollIntervalSeconds: Int
    private let requestTimeout: Duration
    private let accept: String?
    private let pollers = Mutex<[ConfigurationKey: ConfigurationPoller]>([:])
    private let negative = Mutex<[ConfigurationKey: (outcome: FirstLoadOutcome, until: Double)]>([:])
    /// The last status each poller reported, readable without awaiting the poller.
    private let statuses = Mutex<[ConfigurationKey: PollerStateMachine.Status]>([:])

    /// How long an unknown or forbidden configuration is answered from memory before AWS is asked again.
    static let negativeCacheSeconds = 30.0
    /// Most remembered negative answers; beyond it the oldest are forgotten.
    static let negativeCacheLimit = 10_000
    /// Most configurations retrieved on demand; a client asking for more names gets 503.
    static let lazyPollerLimit = 2_000

    /// `accept` is the Accept header of GetLatestConfiguration: by default, Ion for variant feature
    /// flags and anything else otherwise (SPEC §8).
    public init(client: AppConfigDataClient, store: ConfigurationStore, pollInterval: Duration,
                requestTimeout: Duration, accept: String? = IonFlagDocument.acceptHeader) {
        self.client = client
        self.store = store
        self.pollIntervalSeconds = Int(pollInterval.components.seconds)
        self.requestTimeout = requestTimeout
        self.accept = accept
    }

    /// Where a configuration's backup is, for the fallback when the service cannot be reached
    /// (`PRELOAD_BACKUPS=false`); nil without one.
    private let fallback = Mutex<(@Sendable (ConfigurationKey) -> ConfigurationPayload?)?>(nil)

    public func setFallback(_ loader: @escaping @Sendable (ConfigurationKey) -> ConfigurationPayload?) {
        fallback.withLock { $0 = loader }
    }

    /// Starts pinned pollers for these configurations (PREFETCH_LIST, manifest).
    public func prefetch(_ keys: [ConfigurationKey]) {
        for key in keys { _ = poller(for: key, pinned: true) }
    }

    /// Starts retrieving one configuration, pinned (manifest, prefetch) or not (a backup loaded at
    /// start-up), with its own client when it assumes its own role. Already retrieved: no change.
    public func track(_ key: ConfigurationKey, pinned: Bool, client: AppConfigDataClient? = nil) {
        _ = poller(for: key, pinned: pinned, client: client)
    }

    /// Stops retrieving a configuration (removed from the manifest, or its role changed).
    public func untrack(_ key: ConfigurationKey) {
        guard let poller = pollers.withLock({ $0.removeValue(forKey: key) }) else { return }
        statuses.withLock { _ = $0.removeValue(forKey: key) }
        Task { await poller.stop() }
    }

    /// Waits for the first outcome of a tracked configuration (WAIT_ON_MANIFEST), without a time limit.
    public func firstOutcome(_ key: ConfigurationKey) async -> FirstLoadOutcome {
        guard let poller = pollers.withLock({ $0[key] }) else { return .failed(.network("not retrieved")) }
        return await poller.firstLoad(timeout: .seconds(86_400 * 365))
    }

    /// A remembered answer for a configuration that was just found missing or forbidden.
    public func negativeAnswer(for key: ConfigurationKey) -> FirstLoadOutcome? {
        let now = WallClock.monotonic()
        return negative.withLock { cache in
            guard let entry = cache[key] else { return nil }
            if entry.until > now { return entry.outcome }
            cache.removeValue(forKey: key)
            return nil
        }
    }

    /// Starts retrieving `key` if nothing does yet, and calls `completion` with the first outcome,
    /// or `.timedOut` after `REQUEST_TIMEOUT` (the retrieval goes on). Concurrent first requests for
    /// one configuration share a single poller and so a single fetch.
    public func load(_ key: ConfigurationKey, completion: @escaping @Sendable (FirstLoadOutcome) -> Void) {
        if let known = negativeAnswer(for: key) {
            completion(known)
            return
        }
        guard let poller = poller(for: key, pinned: false) else {
            completion(.lazyLimitReached)
            return
        }
        let timeout = requestTimeout
        Task {
            completion(await poller.firstLoad(timeout: timeout))
        }
    }

    /// SIGHUP: poll every configuration now (never sooner than the service allows).
    public func pollAll() {
        for poller in pollers.withLock({ Array($0.values) }) {
            Task { await poller.pollNow() }
        }
    }

    public func stop() {
        for poller in pollers.withLock({ Array($0.values) }) {
            Task { await poller.stop() }
        }
    }

    /// The last reported status of every configuration retrieved from AWS.
    public var reportedStatuses: [ConfigurationKey: PollerStateMachine.Status] { statuses.withLock { $0 } }

    private func poller(for key: ConfigurationKey, pinned: Bool, client own: AppConfigDataClient? = nil) -> ConfigurationPoller? {
        let (poller, created): (ConfigurationPoller?, Bool) = pollers.withLock { pollers in
            if let existing = pollers[key] { return (existing, false) }
            if !pinned, pollers.count >= Self.lazyPollerLimit { return (nil, false) }
            let made = ConfigurationPoller(key: key, pollIntervalSeconds: pollIntervalSeconds, pinned: pinned,
                                           client: own ?? client, store: store, accept: accept)
            pollers[key] = made
            return (made, true)
        }
        if let poller, created {
            Task {
                await poller.setStatusObserver { [weak self] key, status in self?.statusChanged(key, status, pinned: pinned) }
                await poller.start()
            }
        }
        return poller
    }

    /// A lazy configuration whose first retrieval finds nothing is dropped and remembered for a
    /// while, so that a client asking in a loop cannot make the agent hammer AWS.
    private func statusChanged(_ key: ConfigurationKey, _ status: PollerStateMachine.Status, pinned: Bool) {
        statuses.withLock { $0[key] = status }
        if case .failing(let error) = status, error.meansUnreachable, store.payload(for: key) == nil,
           let backup = fallback.withLock({ $0 })?(key) {
            log.warn("AWS AppConfig cannot be reached for '\(key)' (\(error)); serving its backup, version \(backup.version)")
            store.put(backup)
        }
        guard !pinned else { return }
        let outcome: FirstLoadOutcome
        switch status {
        case .notFound: outcome = .notFound
        case .accessDenied: outcome = .accessDenied
        default: return
        }
        guard store.payload(for: key) == nil else { return }
        let removed = pollers.withLock { $0.removeValue(forKey: key) }
        statuses.withLock { _ = $0.removeValue(forKey: key) }
        negative.withLock { cache in
            if cache.count >= Self.negativeCacheLimit, let oldest = cache.min(by: { $0.value.until < $1.value.until }) {
                cache.removeValue(forKey: oldest.key)
            }
            cache[key] = (outcome, WallClock.monotonic() + Self.negativeCacheSeconds)
        }
        if let removed { Task { await removed.stop() } }
    }
}
