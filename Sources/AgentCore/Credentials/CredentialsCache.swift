#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Synchronization

/// When cached temporary credentials are used, refreshed in passing, or must be replaced first.
///
/// With `E` the expiration and `now` the injected clock:
/// - no expiration: long-lived, used for ever;
/// - `now < E − 15 min`: used as they are;
/// - `E − 15 min ≤ now < E − 10 min` (advisory): the first caller refreshes and waits for it; callers
///   arriving meanwhile get the cached ones at once. A failed refresh is logged and the cached ones are
///   returned; the next attempt waits `advisoryRetryDelay` (30 s) so a broken STS is not hammered;
/// - `now ≥ E − 10 min` (mandatory, expired included): every caller waits for one shared refresh, and
///   if it fails they get its error, never credentials that close to (or past) expiry. No back-off
///   here: each later call tries again (concurrent ones still share one attempt).
///
/// One exception: if a source hands out credentials that are themselves already inside the mandatory
/// window (an instance or container endpoint close to rotating), they are the best there is: used, and
/// not fetched again for `shortLivedHold` (60 s) or until they expire, whichever comes first.
struct CredentialsRefreshPolicy: Sendable, Equatable {
    var advisoryWindow: TimeInterval = 15 * 60
    var mandatoryWindow: TimeInterval = 10 * 60
    var advisoryRetryDelay: TimeInterval = 30
    var shortLivedHold: TimeInterval = 60

    enum Stage: Equatable {
        case missing, valid, advisory, mandatory
    }

    func stage(of credentials: AWSCredentials?, at now: Date) -> Stage {
        guard let credentials else { return .missing }
        guard let expiration = credentials.expiration else { return .valid }
        let left = expiration.timeIntervalSince(now)
        if left > advisoryWindow { return .valid }
        if left > mandatoryWindow { return .advisory }
        return .mandatory
    }

    struct State {
        var cached: AWSCredentials?
        var refreshing = false
        /// After a failed advisory refresh: no new attempt before this.
        var advisoryRetryNotBefore: Date?
        /// After fetching credentials already inside the mandatory window: use them until this.
        var holdUntil: Date?
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
        switch stage(of: state.cached, at: now) {
        case .missing:
            return state.refreshing ? .joinRefresh : .refreshAndWait
        case .valid:
            return .useCached
        case .advisory:
            if state.refreshing { return .useCached }
            if let notBefore = state.advisoryRetryNotBefore, now < notBefore { return .useCached }
            return .refreshOrUseCached
        case .mandatory:
            if let hold = state.holdUntil, now < hold, let expiration = state.cached?.expiration, now < expiration {
                return .useCached
            }
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
            if stage(of: credentials, at: now) == .mandatory, let expiration = credentials.expiration {
                next.holdUntil = min(now.addingTimeInterval(shortLivedHold), expiration)
            } else {
                next.holdUntil = nil
            }
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
