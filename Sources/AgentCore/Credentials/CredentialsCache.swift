#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Synchronization

/// When cached temporary credentials are used, refreshed in passing, or must be replaced first.
///
/// The windows scale with the credentials' lifetime `L` (time left when they were fetched), so short
/// credentials are not inside them on arrival: refreshing starts `A = min(15 min, L/2)` before expiry
/// and new ones are required `M = min(10 min, L/3)` before. An hour's credentials get 15 and 10
/// minutes; the 15-minute STS minimum gets 7.5 and 5 (fetched again after 7.5 minutes, not on every
/// call). With `E` the expiration and `now` the injected clock:
/// - no expiration: long-lived, used for ever;
/// - `now < E − A`: used as they are;
/// - `E − A ≤ now < E − M` (advisory): the first caller refreshes and waits for it; callers
///   arriving meanwhile get the cached ones at once. A failed refresh is logged and the cached ones are
///   returned; the next attempt waits `advisoryRetryDelay` (30 s) so a broken STS is not hammered;
/// - `now ≥ E − M` (mandatory, expired included): every caller waits for one shared refresh, and
///   if it fails they get its error, never credentials that close to (or past) expiry. No back-off
///   here: each later call tries again (concurrent ones still share one attempt).
///
/// A source that hands out credentials already close to expiry (an instance or container endpoint
/// about to rotate) is therefore asked again when half their remaining time has passed, not on every
/// call; fetched again unchanged, they are asked for at a quarter, an eighth, and so on.
struct CredentialsRefreshPolicy: Sendable, Equatable {
    var advisoryWindow: TimeInterval = 15 * 60
    var mandatoryWindow: TimeInterval = 10 * 60
    var advisoryRetryDelay: TimeInterval = 30

    enum Stage: Equatable {
        case missing, valid, advisory, mandatory
    }

    /// The advisory and mandatory windows for credentials that had `lifetime` left when fetched
    /// (nil: not known, the full windows).
    func windows(lifetime: TimeInterval?) -> (advisory: TimeInterval, mandatory: TimeInterval) {
        guard let lifetime else { return (advisoryWindow, mandatoryWindow) }
        return (min(advisoryWindow, lifetime / 2), min(mandatoryWindow, lifetime / 3))
    }

    func stage(of credentials: AWSCredentials?, lifetime: TimeInterval? = nil, at now: Date) -> Stage {
        guard let credentials else { return .missing }
        guard let expiration = credentials.expiration else { return .valid }
        let left = expiration.timeIntervalSince(now)
        let windows = windows(lifetime: lifetime)
        if left > windows.advisory { return .valid }
        if left > windows.mandatory { return .advisory }
        return .mandatory
    }

    struct State {
        var cached: AWSCredentials?
        /// How long the cached credentials had left when fetched.
        var lifetime: TimeInterval?
        var refreshing = false
        /// After a failed advisory refresh: no new attempt before this.
        var advisoryRetryNotBefore: Date?
    }

    enum Action: Equatable {
        /// Return the cached credentials.
        case useCached
        /// Start a refresh and wait for it; its failure is the caller's error.
        case refreshAndWait
        /// A refresh is running; wait for it and take its outcome.
        case joinRefresh
        /// Start a refresh and wait for it, but fall back to the cached credentials if it fails.
        case refreshOrUseCached
    }

    func action(for state: State, at now: Date) -> Action {
        switch stage(of: state.cached, lifetime: state.lifetime, at: now) {
        case .missing:
            return state.refreshing ? .joinRefresh : .refreshAndWait
        case .valid:
            return .useCached
        case .advisory:
            if state.refreshing { return .useCached }
            if let notBefore = state.advisoryRetryNotBefore, now < notBefore { return .useCached }
            return .refreshOrUseCached
        case .mandatory:
            return state.refreshing ? .joinRefresh : .refreshAndWait
        }
    }

    /// The state after a refresh finished at `now`.
    func completed(_ state: State, with result: Result<AWSCredentials, CredentialsError>, at now: Date) -> State {
        var next = state
        next.refreshing = false
        switch result {
        case .success(let credentials):
            next.cached = credentials
            next.advisoryRetryNotBefore = nil
            next.lifetime = credentials.expiration.map { $0.timeIntervalSince(now) }
        case .failure:
            next.advisoryRetryNotBefore = now.addingTimeInterval(advisoryRetryDelay)
        }
        return next
    }
}

/// Holds one source's credentials and refreshes them by `CredentialsRefreshPolicy`; concurrent callers
/// share a single fetch. The fetch runs in its own task, so a caller that is cancelled does not cancel
/// it for the others.
final class CredentialsCache: Sendable {
    typealias Fetch = @Sendable () async throws(CredentialsError) -> AWSCredentials
    private typealias Refresh = Task<Result<AWSCredentials, CredentialsError>, Never>

    private struct Guarded {
        var state = CredentialsRefreshPolicy.State()
        var task: Refresh?
    }

    let label: String
    let policy: CredentialsRefreshPolicy
    private let now: @Sendable () -> Date
    private let guarded = Mutex(Guarded())

    /// `label` names the source in log lines ("web identity credentials").
    init(label: String, policy: CredentialsRefreshPolicy = .init(), now: @escaping @Sendable () -> Date) {
        self.label = label
        self.policy = policy
        self.now = now
    }

    /// The cached credentials, or fresh ones from `fetch` when the policy says so. `fetch` runs at most
    /// once at a time, whoever's closure it is.
    func credentials(fetch: @escaping Fetch) async throws(CredentialsError) -> AWSCredentials {
        let time = now()
        let (action, cached, task) = guarded.withLock { g -> (CredentialsRefreshPolicy.Action, AWSCredentials?, Refresh?) in
            let action = policy.action(for: g.state, at: time)
            switch action {
            case .useCached, .joinRefresh:
                break
            case .refreshAndWait, .refreshOrUseCached:
                g.state.refreshing = true
                g.task = startRefresh(fetch)
            }
            return (action, g.state.cached, g.task)
        }
        switch action {
        case .useCached:
            if let cached { return cached }
        case .refreshAndWait, .joinRefresh:
            if let task { return try await task.value.get() }
        case .refreshOrUseCached:
            guard let task, let cached else { break }
            switch await task.value {
            case .success(let fresh):
                return fresh
            case .failure(let error):
                let expiry = cached.expiration.map { " (they expire at \($0))" } ?? ""
                log.warn("refreshing \(label) failed, using the current ones\(expiry): \(error.message)")
                return cached
            }
        }
        throw CredentialsError("internal error: the \(label) cache reached an impossible state")
    }

    /// Must be called with the lock held; the task takes the lock only after its fetch.
    private func startRefresh(_ fetch: @escaping Fetch) -> Refresh {
        Task { [self] in
            let result: Result<AWSCredentials, CredentialsError>
            do throws(CredentialsError) {
                result = .success(CredentialsSupport.registered(try await fetch()))
            } catch {
                result = .failure(error)
            }
            let finished = now()
            guarded.withLock { g in
                g.state = policy.completed(g.state, with: result, at: finished)
                g.task = nil
            }
            AgentMetrics.shared.recordCredentialRefresh(source: label, outcome: (try? result.get()) == nil ? .failure : .success)
            if case .success(let credentials) = result {
                let expiry = credentials.expiration.map { "; they expire at \($0)" } ?? ""
                log.debug("obtained \(label)\(expiry)")
            }
            return result
        }
    }

    /// Waits for a refresh in progress, if any (tests).
    func waitForRefresh() async {
        if let task = guarded.withLock({ $0.task }) { _ = await task.value }
    }
}

/// Adds caching and ahead-of-expiry refresh (see `CredentialsRefreshPolicy`) to any source that fetches
/// anew on every call. The built-in sources already cache; this is for others.
public final class CachingCredentialsProvider: CredentialsProviding {
    private let source: any CredentialsProviding
    private let cache: CredentialsCache

    public init(refreshing source: any CredentialsProviding, label: String = "credentials", now: @escaping @Sendable () -> Date = { Date() }) {
        self.source = source
        cache = CredentialsCache(label: label, now: now)
    }

    init(refreshing source: any CredentialsProviding, policy: CredentialsRefreshPolicy, now: @escaping @Sendable () -> Date) {
        self.source = source
        cache = CredentialsCache(label: "credentials", policy: policy, now: now)
    }

    public func credentials() async throws(CredentialsError) -> AWSCredentials {
        let source = source
        return try await cache.credentials { () async throws(CredentialsError) -> AWSCredentials in
            try await source.credentials()
        }
    }

    func waitForRefresh() async { await cache.waitForRefresh() }
}
