import Foundation
import Synchronization
import Testing
@testable import AgentCore

/// A source that counts its fetches and answers from a script: each call takes the next outcome
/// (the last one repeats), optionally after a pause.
private final class ScriptedSource: CredentialsProviding {
    private let state: Mutex<(outcomes: [Result<AWSCredentials, CredentialsError>], calls: Int)>
    private let pause: Duration?

    init(_ outcomes: [Result<AWSCredentials, CredentialsError>], pause: Duration? = nil) {
        state = Mutex((outcomes, 0))
        self.pause = pause
    }

    var calls: Int { state.withLock { $0.calls } }

    func credentials() async throws(CredentialsError) -> AWSCredentials {
        let outcome = state.withLock { s -> Result<AWSCredentials, CredentialsError> in
            s.calls += 1
            return s.outcomes.count > 1 ? s.outcomes.removeFirst() : s.outcomes[0]
        }
        if let pause { try? await Task.sleep(for: pause) }
        return try outcome.get()
    }
}

private func temporary(_ id: String, expiring expiration: Date) -> AWSCredentials {
    AWSCredentials(accessKeyId: id, secretAccessKey: "secret-\(id)", sessionToken: "token-\(id)", expiration: expiration)
}

@Suite struct CredentialsCacheTests {
    let start = Date(timeIntervalSince1970: 1_800_000_000)

    // MARK: The policy, without I/O

    @Test func stagesChangeAtFifteenAndTenMinutesBeforeExpiry() {
        let policy = CredentialsRefreshPolicy()
        let expiring = temporary("A", expiring: start.addingTimeInterval(3600))
        func stage(minutesLeft: Double) -> CredentialsRefreshPolicy.Stage {
            policy.stage(of: expiring, at: start.addingTimeInterval(3600 - minutesLeft * 60))
        }
        #expect(stage(minutesLeft: 15.01) == .valid)
        #expect(stage(minutesLeft: 15) == .advisory)
        #expect(stage(minutesLeft: 10.01) == .advisory)
        #expect(stage(minutesLeft: 10) == .mandatory)
        #expect(stage(minutesLeft: -5) == .mandatory)
        #expect(policy.stage(of: nil, at: start) == .missing)
        #expect(policy.stage(of: AWSCredentials(accessKeyId: "A", secretAccessKey: "B"), at: start) == .valid)
    }

    @Test func policyActionsFollowTheStages() {
        let policy = CredentialsRefreshPolicy()
        let cached = temporary("A", expiring: start.addingTimeInterval(3600))
        let advisory = start.addingTimeInterval(3600 - 12 * 60)
        let mandatory = start.addingTimeInterval(3600 - 5 * 60)
        var state = CredentialsRefreshPolicy.State(cached: cached)

        #expect(policy.action(for: .init(), at: start) == .refreshAndWait)
        #expect(policy.action(for: .init(refreshing: true), at: start) == .joinRefresh)
        #expect(policy.action(for: state, at: start) == .useCached)
        #expect(policy.action(for: state, at: advisory) == .refreshOrUseCached)
        #expect(policy.action(for: state, at: mandatory) == .refreshAndWait)
        state.refreshing = true
        #expect(policy.action(for: state, at: advisory) == .useCached)
        #expect(policy.action(for: state, at: mandatory) == .joinRefresh)

        // A failed advisory refresh backs off for 30 s; the mandatory window ignores that back-off.
        let failed = policy.completed(CredentialsRefreshPolicy.State(cached: cached, refreshing: true),
                                      with: .failure(CredentialsError("x")), at: advisory)
        #expect(!failed.refreshing)
        #expect(failed.cached == cached)
        #expect(policy.action(for: failed, at: advisory.addingTimeInterval(29)) == .useCached)
        #expect(policy.action(for: failed, at: advisory.addingTimeInterval(30)) == .refreshOrUseCached)
        #expect(policy.action(for: failed, at: mandatory) == .refreshAndWait)
    }

    @Test func windowsScaleWithTheLifetimeOfShortCredentials() {
        let policy = CredentialsRefreshPolicy()
        #expect(policy.windows(lifetime: nil) == (advisory: 900, mandatory: 600))
        #expect(policy.windows(lifetime: 3600) == (advisory: 900, mandatory: 600))
        #expect(policy.windows(lifetime: 900) == (advisory: 450, mandatory: 300))

        // The STS minimum (15 min) is usable for 7.5 min, refreshed in passing until 10 min, then required.
        let minimum = temporary("S", expiring: start.addingTimeInterval(900))
        let fetched = policy.completed(.init(refreshing: true), with: .success(minimum), at: start)
        #expect(fetched.lifetime == 900)
        #expect(policy.action(for: fetched, at: start) == .useCached)
        #expect(policy.action(for: fetched, at: start.addingTimeInterval(449)) == .useCached)
        #expect(policy.action(for: fetched, at: start.addingTimeInterval(450)) == .refreshOrUseCached)
        #expect(policy.action(for: fetched, at: start.addingTimeInterval(600)) == .refreshAndWait)
    }

    @Test func credentialsCloseToExpiryOnArrivalAreAskedForAgainAtHalfTheirTimeLeft() {
        let policy = CredentialsRefreshPolicy()
        // An endpoint about to rotate hands out the same credentials, 5 min from expiry, then again.
        let rotating = temporary("B", expiring: start.addingTimeInterval(300))
        let first = policy.completed(.init(refreshing: true), with: .success(rotating), at: start)
        #expect(policy.action(for: first, at: start.addingTimeInterval(149)) == .useCached)
        #expect(policy.action(for: first, at: start.addingTimeInterval(150)) == .refreshOrUseCached)
        let again = policy.completed(.init(cached: rotating, refreshing: true), with: .success(rotating),
                                     at: start.addingTimeInterval(150))
        #expect(policy.action(for: again, at: start.addingTimeInterval(224)) == .useCached)
        #expect(policy.action(for: again, at: start.addingTimeInterval(225)) == .refreshOrUseCached)

        // Expired on arrival: every call asks again.
        let expired = temporary("D", expiring: start.addingTimeInterval(-1))
        let gone = policy.completed(.init(refreshing: true), with: .success(expired), at: start)
        #expect(policy.action(for: gone, at: start) == .refreshAndWait)
    }

    // MARK: The cache, with a scripted source and a hand-moved clock

    @Test func cachedCredentialsAreReusedUntilTheAdvisoryWindow() async throws {
        let clock = CredentialsTestClock(start)
        let first = temporary("FIRST", expiring: start.addingTimeInterval(3600))
        let second = temporary("SECOND", expiring: start.addingTimeInterval(7200))
        let source = ScriptedSource([.success(first), .success(second)])
        let cache = CachingCredentialsProvider(refreshing: source, policy: .init(), now: clock.now)

        #expect(try await cache.credentials() == first)
        clock.advance(by: 3600 - 15 * 60 - 1) // 15 min and 1 s left
        #expect(try await cache.credentials() == first)
        #expect(source.calls == 1)
        clock.advance(by: 1) // exactly 15 min left: refresh now
        #expect(try await cache.credentials() == second)
        #expect(source.calls == 2)
        #expect(try await cache.credentials() == second)
        #expect(source.calls == 2)
    }

    @Test func fifteenMinuteCredentialsAreFetchedOnceForTheirFirstMinutes() async throws {
        let clock = CredentialsTestClock(start)
        let first = temporary("FIRST", expiring: start.addingTimeInterval(900))
        let second = temporary("SECOND", expiring: start.addingTimeInterval(1800))
        let source = ScriptedSource([.success(first), .success(second)])
        let cache = CachingCredentialsProvider(refreshing: source, policy: .init(), now: clock.now)

        for _ in 0..<70 { // one call every 5 s for the first 5 min 50 s
            #expect(try await cache.credentials() == first)
            clock.advance(by: 5)
        }
        #expect(source.calls == 1)
        clock.advance(by: 450 - 350) // 7.5 min left: refreshing starts
        #expect(try await cache.credentials() == second)
        #expect(source.calls == 2)
        #expect(try await cache.credentials() == second)
        #expect(source.calls == 2)
    }

    @Test func failedAdvisoryRefreshKeepsTheCachedCredentialsAndBacksOff() async throws {
        let clock = CredentialsTestClock(start)
        let first = temporary("FIRST", expiring: start.addingTimeInterval(3600))
        let source = ScriptedSource([.success(first), .failure(CredentialsError("STS is down"))])
        let cache = CachingCredentialsProvider(refreshing: source, policy: .init(), now: clock.now)

        _ = try await cache.credentials()
        clock.advance(by: 3600 - 12 * 60) // 12 min left
        #expect(try await cache.credentials() == first)
        #expect(source.calls == 2)
        clock.advance(by: 10)
        #expect(try await cache.credentials() == first) // within the 30 s back-off: no new attempt
        #expect(source.calls == 2)
        clock.advance(by: 25)
        #expect(try await cache.credentials() == first)
        #expect(source.calls == 3)
    }

    @Test func failedRefreshInsideTenMinutesIsAnError() async throws {
        let clock = CredentialsTestClock(start)
        let first = temporary("FIRST", expiring: start.addingTimeInterval(3600))
        let source = ScriptedSource([.success(first), .failure(CredentialsError("STS is down"))])
        let cache = CachingCredentialsProvider(refreshing: source, policy: .init(), now: clock.now)

        _ = try await cache.credentials()
        clock.advance(by: 3600 - 9 * 60) // 9 min left: must have new ones
        let error = await credentialsError { () async throws(CredentialsError) in try await cache.credentials() }
        #expect(error?.message == "STS is down")
        clock.advance(by: 1)
        _ = await credentialsError { () async throws(CredentialsError) in try await cache.credentials() }
        #expect(source.calls == 3) // no back-off in the mandatory window
    }

    @Test func credentialsWithoutExpirationAreFetchedOnce() async throws {
        let clock = CredentialsTestClock(start)
        let longLived = AWSCredentials(accessKeyId: "AKID", secretAccessKey: "long-lived-secret")
        let source = ScriptedSource([.success(longLived)])
        let cache = CachingCredentialsProvider(refreshing: source, policy: .init(), now: clock.now)
        for _ in 0..<5 {
            #expect(try await cache.credentials() == longLived)
            clock.advance(by: 86_400 * 30)
        }
        #expect(source.calls == 1)
    }

    @Test func aFailedFirstFetchIsRetriedOnTheNextCall() async throws {
        let clock = CredentialsTestClock(start)
        let good = temporary("GOOD", expiring: start.addingTimeInterval(3600))
        let source = ScriptedSource([.failure(CredentialsError("not yet")), .success(good)])
        let cache = CachingCredentialsProvider(refreshing: source, policy: .init(), now: clock.now)
        let error = await credentialsError { () async throws(CredentialsError) in try await cache.credentials() }
        #expect(error?.message == "not yet")
        #expect(try await cache.credentials() == good)
    }

    @Test func concurrentCallersShareOneFetch() async throws {
        let clock = CredentialsTestClock(start)
        let first = temporary("FIRST", expiring: start.addingTimeInterval(3600))
        let second = temporary("SECOND", expiring: start.addingTimeInterval(7200))
        let source = ScriptedSource([.success(first), .success(second)], pause: .milliseconds(200))
        let cache = CachingCredentialsProvider(refreshing: source, policy: .init(), now: clock.now)

        let firstRound = try await withThrowingTaskGroup(of: AWSCredentials.self) { group in
            for _ in 0..<25 { group.addTask { try await cache.credentials() } }
            return try await group.reduce(into: [AWSCredentials]()) { $0.append($1) }
        }
        #expect(firstRound.count == 25)
        #expect(firstRound.allSatisfy { $0 == first })
        #expect(source.calls == 1)

        clock.advance(by: 3600 - 5 * 60) // mandatory: everyone waits for the one refresh
        let secondRound = try await withThrowingTaskGroup(of: AWSCredentials.self) { group in
            for _ in 0..<25 { group.addTask { try await cache.credentials() } }
            return try await group.reduce(into: [AWSCredentials]()) { $0.append($1) }
        }
        #expect(secondRound.allSatisfy { $0 == second })
        #expect(source.calls == 2)
    }

    @Test func callersDuringAnAdvisoryRefreshGetTheCachedCredentialsAtOnce() async throws {
        let clock = CredentialsTestClock(start)
        let first = temporary("FIRST", expiring: start.addingTimeInterval(3600))
        let second = temporary("SECOND", expiring: start.addingTimeInterval(7200))
        // The refresh takes 3 s; a caller that waited for it would take at least that long, so
        // the bound below leaves room for a loaded machine and still fails if callers block.
        let source = ScriptedSource([.success(first), .success(second)], pause: .seconds(3))
        let cache = CachingCredentialsProvider(refreshing: source, policy: .init(), now: clock.now)
        _ = try await cache.credentials()
        clock.advance(by: 3600 - 12 * 60)

        let refresher = Task { try await cache.credentials() }
        try await Task.sleep(for: .milliseconds(100))
        let began = ContinuousClock.now
        #expect(try await cache.credentials() == first)
        #expect(ContinuousClock.now - began < .milliseconds(2000))
        #expect(try await refresher.value == second)
        #expect(source.calls == 2)
    }

    @Test func cancellingTheCallerThatStartedAFetchDoesNotFailTheOthers() async throws {
        let clock = CredentialsTestClock(start)
        let good = temporary("GOOD", expiring: start.addingTimeInterval(3600))
        let source = ScriptedSource([.success(good)], pause: .milliseconds(300))
        let cache = CachingCredentialsProvider(refreshing: source, policy: .init(), now: clock.now)
        let starter = Task { try await cache.credentials() }
        try await Task.sleep(for: .milliseconds(50))
        let waiter = Task { try await cache.credentials() }
        starter.cancel()
        #expect(try await waiter.value == good)
        #expect(source.calls == 1)
    }
}
