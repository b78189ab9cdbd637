import Synchronization

/// Every configuration retrieved from AWS: one poller each, created at start-up for the prefetch
/// list and the manifest (pinned: retried for ever) or on the first request for it (lazy).
public final class DataPlaneSource: Sendable {
    private let client: AppConfigDataClient
    private let store: ConfigurationStore
    private let pollIntervalSeconds: Int
    private let requestTimeout: Duration
    private let accept: String?
    /// A configuration's poller and the client it signs with (the agent's own, or a manifest role's).
    private struct Tracked: Sendable {
        let poller: ConfigurationPoller
        let client: AppConfigDataClient
    }
    private let pollers = Mutex<[ConfigurationKey: Tracked]>([:])
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

    /// Starts pinned pollers for these configurations (PREFETCH_LIST). One retrieved already is
    /// pinned from now on, and keeps its client (a manifest role).
    public func prefetch(_ keys: [ConfigurationKey]) {
        for key in keys { _ = poller(for: key, pinned: true) }
    }

    /// Starts retrieving a configuration on demand unless something retrieves it already (a backup
    /// loaded at start-up).
    public func follow(_ key: ConfigurationKey) {
        _ = poller(for: key, pinned: false)
    }

    /// Retrieves one configuration, pinned, with `client` (a manifest role) or, when nil, the agent's
    /// own credentials. A configuration retrieved already with another client, or on demand, gets a
    /// new poller in place of the old one; what it has stored is served meanwhile.
    public func track(_ key: ConfigurationKey, client: AppConfigDataClient? = nil) {
        _ = poller(for: key, pinned: true, client: client ?? self.client)
    }

    /// Stops retrieving a configuration; with `forget`, it also stops being served once its poller
    /// has stopped (unless something tracks it again meanwhile).
    public func untrack(_ key: ConfigurationKey, forget: Bool = false) {
        let poller = pollers.withLock { $0.removeValue(forKey: key)?.poller }
        statuses.withLock { _ = $0.removeValue(forKey: key) }
        guard poller != nil || forget else { return }
        Task { [self] in
            await poller?.stop()
            // After `stop`, an answer still in flight is dropped by the poller: nothing puts it back.
            if forget && pollers.withLock({ $0[key] == nil }) { store.remove(key) }
        }
    }

    /// Waits for the first outcome of a tracked configuration (WAIT_ON_MANIFEST), without a time limit.
    public func firstOutcome(_ key: ConfigurationKey) async -> FirstLoadOutcome {
        guard let poller = pollers.withLock({ $0[key]?.poller }) else { return .failed(.network("not retrieved")) }
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
        for poller in pollers.withLock({ $0.values.map(\.poller) }) {
            Task { await poller.pollNow() }
        }
    }

    public func stop() {
        for poller in pollers.withLock({ $0.values.map(\.poller) }) {
            Task { await poller.stop() }
        }
    }

    /// The last reported status of every configuration retrieved from AWS.
    public var reportedStatuses: [ConfigurationKey: PollerStateMachine.Status] { statuses.withLock { $0 } }

    /// The poller of `key`, made if there is none. An existing one is kept unless `wanted` names
    /// another client or `pinned` asks to pin an on-demand one: then a new poller replaces it.
    /// Nil when an on-demand retrieval would exceed `lazyPollerLimit`.
    private func poller(for key: ConfigurationKey, pinned: Bool, client wanted: AppConfigDataClient? = nil) -> ConfigurationPoller? {
        let (poller, replaced): (ConfigurationPoller?, Tracked?) = pollers.withLock { pollers in
            let existing = pollers[key]
            if let existing, wanted.map({ $0 === existing.client }) ?? true, existing.poller.pinned || !pinned {
                return (existing.poller, nil)
            }
            if existing == nil, !pinned,
               pollers.values.count(where: { !$0.poller.pinned }) >= Self.lazyPollerLimit { return (nil, nil) }
            let client = wanted ?? existing?.client ?? self.client
            let made = ConfigurationPoller(key: key, pollIntervalSeconds: pollIntervalSeconds, pinned: pinned,
                                           client: client, store: store, accept: accept)
            pollers[key] = Tracked(poller: made, client: client)
            Task {
                await made.setStatusObserver { [weak self, weak made] key, status in
                    guard let self, let made else { return }
                    self.statusChanged(key, status, from: made)
                }
                await made.start()
            }
            return (made, existing)
        }
        if let replaced {
            let how = wanted == nil || replaced.client === wanted ? "pinned" : wanted === client ? "with the agent's own credentials" : "with its manifest role"
            log.info("configuration '\(key)' is retrieved anew, \(how); what it has stored is served meanwhile")
            Task { [poller] in await replaced.poller.stop(handingWaitersTo: poller) }
        }
        return poller
    }

    /// A lazy configuration whose first retrieval finds nothing is dropped and remembered for a
    /// while, so that a client asking in a loop cannot make the agent hammer AWS. Reports of a
    /// poller that has been replaced or stopped are ignored.
    private func statusChanged(_ key: ConfigurationKey, _ status: PollerStateMachine.Status, from poller: ConfigurationPoller) {
        let current = pollers.withLock { $0[key]?.poller === poller }
        guard current else { return }
        statuses.withLock { $0[key] = status }
        if case .failing(let error) = status, error.meansUnreachable, store.payload(for: key) == nil,
           let backup = fallback.withLock({ $0 })?(key) {
            log.warn("AWS AppConfig cannot be reached for '\(key)' (\(error)); serving its backup, version \(backup.version)")
            store.put(backup)
        }
        guard !poller.pinned else { return }
        let outcome: FirstLoadOutcome
        switch status {
        case .notFound: outcome = .notFound
        case .accessDenied: outcome = .accessDenied
        default: return
        }
        guard store.payload(for: key) == nil else { return }
        let removed = pollers.withLock { pollers -> Bool in
            guard pollers[key]?.poller === poller else { return false }
            pollers.removeValue(forKey: key)
            return true
        }
        guard removed else { return }
        statuses.withLock { _ = $0.removeValue(forKey: key) }
        negative.withLock { cache in
            if cache.count >= Self.negativeCacheLimit, let oldest = cache.min(by: { $0.value.until < $1.value.until }) {
                cache.removeValue(forKey: oldest.key)
            }
            cache[key] = (outcome, WallClock.monotonic() + Self.negativeCacheSeconds)
        }
        Task { await poller.stop() }
    }
}
