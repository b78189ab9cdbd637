/// What became of a configuration's first retrieval, for a request waiting on a lazy load.
public enum FirstLoadOutcome: Sendable, Equatable {
    case loaded
    case notFound
    case accessDenied
    case failed(DataPlaneError)
    case timedOut
    case lazyLimitReached
}

/// Drives one configuration's `PollerStateMachine`: performs its actions (calls, timers, stores)
/// and feeds their outcomes back as events. All I/O is here; all decisions are in the machine.
actor ConfigurationPoller {
    nonisolated let key: ConfigurationKey
    /// Pinned pollers (prefetch, manifest) keep retrying whatever happens; lazy ones are dropped by
    /// their owner after a first retrieval that finds nothing.
    nonisolated let pinned: Bool
    private var machine: PollerStateMachine
    private let client: AppConfigDataClient
    private let store: ConfigurationStore
    private let accept: String?
    private var timer: Task<Void, Never>?
    private var waiters: [(id: Int, deadline: ContinuousClock.Instant, continuation: CheckedContinuation<FirstLoadOutcome, Never>)] = []
    private var nextWaiterId = 0
    private var onStatus: (@Sendable (ConfigurationKey, PollerStateMachine.Status) -> Void)?

    init(key: ConfigurationKey, pollIntervalSeconds: Int, pinned: Bool, client: AppConfigDataClient,
         store: ConfigurationStore, accept: String?) {
        self.key = key
        self.pinned = pinned
        self.machine = PollerStateMachine(pollIntervalSeconds: pollIntervalSeconds)
        self.client = client
        self.store = store
        self.accept = accept
    }

    func setStatusObserver(_ observer: @escaping @Sendable (ConfigurationKey, PollerStateMachine.Status) -> Void) {
        onStatus = observer
    }

    func start() { handle(.start(now: WallClock.monotonic())) }

    func pollNow() { handle(.pollNow(now: WallClock.monotonic())) }

    /// Stops for good. Requests waiting on the first retrieval get `successor`'s outcome instead
    /// (a poller replacing this one), within what is left of their time; without one, a failure.
    func stop(handingWaitersTo successor: ConfigurationPoller? = nil) {
        handle(.stop)
        timer?.cancel()
        timer = nil
        guard let successor else {
            resolveWaiters(.failed(.network("stopped")))
            return
        }
        let pending = waiters
        waiters.removeAll()
        for waiter in pending {
            Task {
                let left = max(.zero, waiter.deadline - .now)
                waiter.continuation.resume(returning: await successor.firstLoad(timeout: left))
            }
        }
    }

    /// Waits until the first retrieval has an outcome, or `timeout` passes (→ `.timedOut`; the
    /// retrieval goes on). Answers at once when the configuration has been loaded before.
    func firstLoad(timeout: Duration) async -> FirstLoadOutcome {
        if let known = Self.outcome(of: machine.currentStatus, hasLoaded: machine.hasLoaded) { return known }
        let id = nextWaiterId
        nextWaiterId += 1
        let deadline = Task { [weak self] in
            try? await Task.sleep(for: timeout)
            await self?.expireWaiter(id)
        }
        let deadlineInstant = ContinuousClock.now + timeout
        let outcome = await withCheckedContinuation { continuation in
            waiters.append((id, deadlineInstant, continuation))
        }
        deadline.cancel()
        return outcome
    }

    private func expireWaiter(_ id: Int) {
        guard let index = waiters.firstIndex(where: { $0.id == id }) else { return }
        waiters.remove(at: index).continuation.resume(returning: .timedOut)
    }

    private func resolveWaiters(_ outcome: FirstLoadOutcome) {
        let pending = waiters
        waiters.removeAll()
        for waiter in pending { waiter.continuation.resume(returning: outcome) }
    }

    private static func outcome(of status: PollerStateMachine.Status, hasLoaded: Bool) -> FirstLoadOutcome? {
        if hasLoaded { return .loaded }
        switch status {
        case .pending: return nil
        case .loaded: return .loaded
        case .notFound: return .notFound
        case .accessDenied: return .accessDenied
        case .failing(let error): return .failed(error)
        }
    }

    // MARK: - The machine's actions

    private func handle(_ event: PollerStateMachine.Event) {
        for action in machine.handle(event) { perform(action) }
    }

    private func perform(_ action: PollerStateMachine.Action) {
        switch action {
        case .startSession(let interval):
            Task { [client, key] in
                do throws(DataPlaneError) {
                    let (token, _) = try await client.startSession(key, pollIntervalSeconds: interval)
                    // Now, not when the session was asked for: the first poll is sent now, and the
                    // service measures the interval before the second one from it.
                    self.handle(.sessionStarted(token: token, now: WallClock.monotonic()))
                } catch {
                    // A stopped poller's late answer counts for nothing (the machine ignores it too).
                    if !self.machine.isStopped { AgentMetrics.shared.recordPoll(key, outcome: PollOutcomeLabel(error)) }
                    self.handle(.sessionFailed(error, now: WallClock.monotonic()))
                }
            }
        case .getLatestConfiguration(let token):
            Task { [client, key, accept] in
                let started = WallClock.monotonic()
                do throws(DataPlaneError) {
                    let answer = try await client.getLatestConfiguration(key, token: token, accept: accept)
                    self.received(answer, started: started)
                } catch {
                    if !self.machine.isStopped { AgentMetrics.shared.recordPoll(key, outcome: PollOutcomeLabel(error)) }
                    self.handle(.configurationFailed(error, now: WallClock.monotonic()))
                }
            }
        case .scheduleTimer(let at):
            timer?.cancel()
            timer = Task { [weak self] in
                let delay = at - WallClock.monotonic()
                if delay > 0 { try? await Task.sleep(for: .milliseconds(Int((delay * 1000).rounded(.up)))) }
                guard !Task.isCancelled else { return }
                await self?.timerFired()
            }
        case .deliver(let content, let contentType, let versionLabel):
            deliver(content, contentType: contentType, versionLabel: versionLabel)
        case .report(let status):
            onStatus?(key, status)
            if let outcome = Self.outcome(of: status, hasLoaded: machine.hasLoaded) { resolveWaiters(outcome) }
        }
    }

    private func timerFired() { handle(.timerFired(now: WallClock.monotonic())) }

    private func received(_ answer: LatestConfiguration, started: Double) {
        guard !machine.isStopped else { return }  // replaced or removed meanwhile: neither logged nor counted
        let requestId = answer.requestId.map { ", request id \($0)" } ?? ""
        AgentMetrics.shared.recordPoll(key, outcome: answer.content.isEmpty && machine.hasLoaded ? .unchanged : .changed)
        if answer.content.isEmpty && machine.hasLoaded {
            log.debug("configuration '\(key)' unchanged (\(Milliseconds.text(since: started))\(requestId))")
        } else {
            log.info("retrieved configuration '\(key)' (\(answer.content.count) bytes\(answer.versionLabel.map { ", version label \($0)" } ?? "")) in \(Milliseconds.text(since: started))\(requestId)")
        }
        handle(.configurationReceived(
            nextToken: answer.nextToken, nextPollIntervalSeconds: answer.nextPollIntervalSeconds,
            content: answer.content, contentType: answer.contentType, versionLabel: answer.versionLabel,
            now: started))
    }

    /// Stores a new version, unless it is byte for byte the one already served (every new session
    /// starts with the whole configuration again).
    private func deliver(_ content: [UInt8], contentType: String?, versionLabel: String?) {
        let type = contentType ?? "application/octet-stream"
        let current = store.payload(for: key)
        if let current, current.source == .service, current.contentType == type,
           current.versionLabel == versionLabel, current.count == content.count, current.bytes.elementsEqual(content) {
            return
        }
        let version = versionLabel ?? ContentVersion.of(content)
        let payload = ConfigurationPayload(key: key, content: content, contentType: type, version: version,
                                           versionLabel: versionLabel, source: .service, receivedAt: WallClock.now())
        guard VersionAdmission.admit(payload, replacing: current) else { return }
        store.put(payload)
        log.info("serving configuration '\(key)' version \(version) (\(content.count) bytes, \(type))")
    }
}
