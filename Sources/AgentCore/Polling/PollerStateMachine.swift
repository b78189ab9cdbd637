/// The polling logic for one configuration (`App:Env:Profile`) against the AppConfig Data API, as a
/// value that takes events and returns actions: no I/O, no clock, no randomness of its own.
///
/// The driver owns the I/O. It feeds each event with `now`, seconds on a monotonic clock, and carries
/// out the returned actions in order:
/// - `.startSession` / `.getLatestConfiguration`: make that call, then report exactly one outcome
///   (`.sessionStarted`/`.sessionFailed`, `.configurationReceived`/`.configurationFailed`). The machine
///   never asks for a second call while one is in flight, so outcomes need no correlation id.
/// - `.scheduleTimer(at:)`: one timer per machine; a new schedule replaces the pending one. A timer
///   that fires in a state with no timer is ignored; one that fires before the time due (the driver's
///   sleep and the events' clock can disagree, or it was replaced) schedules the timer again, so a
///   poll is never lost to an early fire.
/// - `.sessionStarted`'s `now` is when the answer arrived: the session's first `GetLatestConfiguration`
///   is sent then, and the cadence (and the service's minimum interval) is measured from it.
/// - `.deliver`: store a new version. No action ever removes the stored one: the last good
///   configuration stays in service through every failure.
/// - `.report`: the outcome of the last attempt, for the HTTP layer and `/ready`. While `hasLoaded`
///   the HTTP layer keeps serving the cached version whatever the status says.
///
/// ## Timing (all constants below)
/// - Interval sent to `StartConfigurationSession`: the configured one clamped to 15…86400 s.
/// - A session's first `GetLatestConfiguration` is made as soon as the session starts.
/// - Cadence: the next poll is due at `max(previousDue + effective, lastCallStart + serviceMinimum)`,
///   where `effective = max(interval, serviceMinimum)` and `serviceMinimum` is the last
///   `Next-Poll-Interval-In-Seconds`. `previousDue` is when the poll was *due*, not when its answer
///   came, so call duration does not stretch the period (15 s gives 240 calls an hour); a poll that
///   falls behind (slow call, suspended process) is made at once, without catching up missed ones.
/// - Jitter: once per session, the second poll gets a phase offset uniform in
///   `[0, min(effective · 0.1, 5 s))`. It only delays, and it shifts the phase, not the period, so
///   configurations started together spread out and the long-run rate is unchanged.
/// - Tokens are single use: a token in a `.getLatestConfiguration` action is spent whatever the
///   outcome. A call that failed in any way (even a network error, after which we cannot know whether
///   the service consumed the token) is followed by a new session, never by the same token.
/// - Session renewal: a poll that falls due when the session is 23 h old or more starts a new session
///   instead, so no token is ever used near its 24 h limit.
/// - `BadRequestException` on `GetLatestConfiguration`: a new session at once (`Expired`, `Corrupted`
///   or any other problem), except `PollIntervalNotSatisfied`, whose new session waits until
///   `lastCallStart + effective`. A second `BadRequest` in a row backs off (below), so there is no loop.
/// - Back-off, every other failure: delay = `max(1 s, U · min(cap, 1 s · 2^(failures − 1)))`, U uniform
///   in [0, 1) ("full jitter" with a 1 s floor, since full jitter alone can draw ~0). The cap is 300 s
///   for throttling, 5xx, network and malformed answers (the service is struggling: back off even below
///   the poll rate), and `min(300 s, interval)` for not-found, access-denied and missing credentials
///   (nothing to relieve; come back at least once an interval so a fix shows up soon). The count of
///   failures is reset only by a received configuration: a session that starts and a poll that fails
///   again keep growing it. Each retry starts a new session.
/// - `.pollNow` (SIGHUP) retrieves now. With a token that can be used (`serviceMinimum` has passed
///   since the last call) it polls with it. Otherwise (the usual case against AWS, whose
///   `Next-Poll-Interval-In-Seconds` is the interval we asked for) it starts a new session, whose first
///   `GetLatestConfiguration` is not bound by the old token's interval. Against a SIGHUP storm, no
///   session is started on SIGHUP sooner than `pollNowSessionSpacing` (5 s) after the previous one was
///   requested: the retrieval is moved up to that instant instead (or to when the token can be used,
///   if sooner). During a back-off it retries at once, under the same spacing (an operator who fixed
///   permissions wants to see it now), unless the service asked us to slow down (throttling,
///   `PollIntervalNotSatisfied`). A call in flight already answers it: nothing to do.
/// - Empty body: unchanged, no `.deliver`, `.report(.loaded)`. The one exception: the first answer ever
///   received is delivered even when empty, because a session's first answer always carries the whole
///   configuration, so an empty one means the configuration itself is empty (else it would never load).
public struct PollerStateMachine: Sendable {
    // MARK: Constants

    /// The service's bounds for `RequiredMinimumPollIntervalInSeconds`.
    public static let minimumPollIntervalSeconds = 15
    public static let maximumPollIntervalSeconds = 86_400
    /// A session this old is renewed at its next poll (tokens live at most 24 h).
    public static let sessionRenewalAge: Double = 23 * 3600
    /// The second poll of a session is delayed by U · min(interval · fraction, maximum).
    public static let jitterFraction = 0.1
    public static let maximumJitter: Double = 5
    public static let backoffBase: Double = 1
    public static let backoffCap: Double = 300
    /// No retry ever comes sooner than this after a failure.
    public static let backoffFloor: Double = 1
    /// A timer that fires this much before its due time still counts (rounding between clocks).
    static let timerTolerance = 0.001
    /// SIGHUP starts a new session no sooner than this after the previous session was requested.
    public static let pollNowSessionSpacing: Double = 5

    // MARK: Events, actions, status

    public enum Event: Sendable, Equatable {
        /// Begin (prefetch, manifest, or the first request for this configuration).
        case start(now: Double)
        case sessionStarted(token: String, now: Double)
        case sessionFailed(DataPlaneError, now: Double)
        /// A 200 from `GetLatestConfiguration`. `content` nil or empty: unchanged since the last call.
        case configurationReceived(nextToken: String, nextPollIntervalSeconds: Int?, content: [UInt8]?,
                                   contentType: String?, versionLabel: String?, now: Double)
        case configurationFailed(DataPlaneError, now: Double)
        case timerFired(now: Double)
        /// SIGHUP.
        case pollNow(now: Double)
        /// Terminal: every later event is ignored.
        case stop
    }

    public enum Action: Sendable, Equatable {
        case startSession(requiredMinimumPollIntervalSeconds: Int)
        case getLatestConfiguration(token: String)
        /// Absolute time on the events' clock; replaces any pending timer.
        case scheduleTimer(at: Double)
        case deliver(content: [UInt8], contentType: String?, versionLabel: String?)
        case report(Status)
    }

    public enum Status: Sendable, Equatable {
        /// No answer yet.
        case pending
        case loaded
        case notFound
        case accessDenied
        case failing(DataPlaneError)
    }

    // MARK: State

    private enum State: Sendable {
        case idle
        case startingSession
        /// Holding an unspent token; the next poll is due at `dueAt`.
        case waiting(token: String, dueAt: Double)
        /// A `GetLatestConfiguration` is in flight; its token is spent.
        case polling
        /// After a failure; a new session is due at `dueAt`.
        case backingOff(dueAt: Double)
        case stopped
    }

    private var state: State = .idle
    /// The interval sent to the service, clamped.
    public let pollIntervalSeconds: Int
    /// When the `StartConfigurationSession` in flight, then of the current session, was sent.
    private var sessionRequestedAt: Double = 0
    private var sessionStartedAt: Double = 0
    private var jitterPending = false
    /// When the last poll was due (the cadence's reference point).
    private var lastDueAt: Double = 0
    /// When the last `GetLatestConfiguration` was sent.
    private var lastCallStartedAt: Double?
    /// The last `Next-Poll-Interval-In-Seconds`, in seconds.
    private var serviceMinimumInterval: Double
    private var consecutiveBadRequests = 0
    private var lastError: DataPlaneError?

    public private(set) var hasLoaded = false
    public private(set) var lastSuccessAt: Double?
    public private(set) var consecutiveFailures = 0
    public private(set) var currentStatus: Status = .pending

    /// When the next call is due, if one is waiting on the timer (for the watchdog and metrics).
    public var nextAttemptAt: Double? {
        switch state {
        case .waiting(_, let dueAt), .backingOff(let dueAt): dueAt
        case .idle, .startingSession, .polling, .stopped: nil
        }
    }

    public var isStopped: Bool {
        if case .stopped = state { true } else { false }
    }

    /// - Parameter pollIntervalSeconds: `POLL_INTERVAL` in seconds, any value; clamped to 15…86400.
    public init(pollIntervalSeconds: Int) {
        let clamped = Self.clampedPollInterval(pollIntervalSeconds)
        self.pollIntervalSeconds = clamped
        self.serviceMinimumInterval = Double(clamped)
    }

    /// `RequiredMinimumPollIntervalInSeconds` for a configured interval: clamped to 15…86400.
    public static func clampedPollInterval(_ seconds: Int) -> Int {
        min(max(seconds, minimumPollIntervalSeconds), maximumPollIntervalSeconds)
    }

    private var effectiveInterval: Double { max(Double(pollIntervalSeconds), serviceMinimumInterval) }

    /// When the held token may be used: `serviceMinimum` after the last call.
    private var tokenUsableAt: Double { (lastCallStartedAt ?? -.infinity) + serviceMinimumInterval }

    // MARK: Handling events

    /// Applies one event; `random` supplies the jitter and back-off draws.
    public mutating func handle(_ event: Event, using random: inout some RandomNumberGenerator) -> [Action] {
        switch (event, state) {
        case (_, .stopped):
            return []
        case (.stop, _):
            state = .stopped
            return []

        case (.start(let now), .idle):
            return beginSession(now: now)
        case (.start, _):
            return []

        case (.sessionStarted(let token, let now), .startingSession):
            guard !token.isEmpty else {
                return fail(.malformedResponse("empty InitialConfigurationToken"), duringPoll: false, now: now,
                            random: &random)
            }
            sessionStartedAt = sessionRequestedAt
            serviceMinimumInterval = Double(pollIntervalSeconds)
            jitterPending = true
            return poll(token: token, dueAt: now, now: now)
        case (.sessionFailed(let error, let now), .startingSession):
            return fail(error, duringPoll: false, now: now, random: &random)

        case (.configurationReceived(let nextToken, let interval, let content, let contentType, let label, let now),
              .polling):
            guard !nextToken.isEmpty else {
                return fail(.malformedResponse("empty Next-Poll-Configuration-Token"), duringPoll: true, now: now,
                            random: &random)
            }
            return received(nextToken: nextToken, nextPollIntervalSeconds: interval, content: content ?? [],
                            contentType: contentType, versionLabel: label, now: now, random: &random)
        case (.configurationFailed(let error, let now), .polling):
            return fail(error, duringPoll: true, now: now, random: &random)

        case (.timerFired(let now), .waiting(let token, let dueAt)):
            guard now + Self.timerTolerance >= dueAt else { return [.scheduleTimer(at: dueAt)] }
            return pollOrRenew(token: token, dueAt: dueAt, now: now)
        case (.timerFired(let now), .backingOff(let dueAt)):
            guard now + Self.timerTolerance >= dueAt else { return [.scheduleTimer(at: dueAt)] }
            return beginSession(now: now)

        case (.pollNow(let now), .waiting(let token, let dueAt)):
            if tokenUsableAt <= now { return pollOrRenew(token: token, dueAt: now, now: now) }
            let sessionAt = max(now, sessionRequestedAt + Self.pollNowSessionSpacing)
            if sessionAt <= now { return beginSession(now: now) }
            // At the timer, `pollOrRenew` uses the token if it can by then, else starts the session.
            let at = min(sessionAt, tokenUsableAt)
            if at >= dueAt { return [] }
            state = .waiting(token: token, dueAt: at)
            return [.scheduleTimer(at: at)]
        case (.pollNow(let now), .backingOff(let dueAt)):
            if let lastError, Self.asksToSlowDown(lastError) { return [] }
            let sessionAt = max(now, sessionRequestedAt + Self.pollNowSessionSpacing)
            if sessionAt <= now { return beginSession(now: now) }
            if sessionAt >= dueAt { return [] }
            state = .backingOff(dueAt: sessionAt)
            return [.scheduleTimer(at: sessionAt)]

        // Anything else does not fit the state: a late answer, a replaced timer, a call still in flight.
        case (.sessionStarted, _), (.sessionFailed, _), (.configurationReceived, _), (.configurationFailed, _),
             (.timerFired, _), (.pollNow, _):
            return []
        }
    }

    /// Applies one event, drawing randomness from the system generator.
    public mutating func handle(_ event: Event) -> [Action] {
        var random = SystemRandomNumberGenerator()
        return handle(event, using: &random)
    }

    // MARK: Transitions

    private mutating func beginSession(now: Double) -> [Action] {
        state = .startingSession
        sessionRequestedAt = now
        return [.startSession(requiredMinimumPollIntervalSeconds: pollIntervalSeconds)]
    }

    /// Polls with `token`, or starts a new session when the session is old or the token cannot be
    /// used yet (a SIGHUP moved the timer up).
    private mutating func pollOrRenew(token: String, dueAt: Double, now: Double) -> [Action] {
        if now - sessionStartedAt >= Self.sessionRenewalAge || tokenUsableAt > now + Self.timerTolerance {
            return beginSession(now: now)
        }
        return poll(token: token, dueAt: dueAt, now: now)
    }

    private mutating func poll(token: String, dueAt: Double, now: Double) -> [Action] {
        state = .polling
        lastDueAt = dueAt
        lastCallStartedAt = now
        return [.getLatestConfiguration(token: token)]
    }

    private mutating func received(nextToken: String, nextPollIntervalSeconds: Int?, content: [UInt8],
                                   contentType: String?, versionLabel: String?, now: Double,
                                   random: inout some RandomNumberGenerator) -> [Action] {
        if let seconds = nextPollIntervalSeconds, seconds > 0 {
            // Above the API's own maximum is taken as the maximum: a corrupt header cannot stop polling.
            serviceMinimumInterval = Double(min(seconds, Self.maximumPollIntervalSeconds))
        }
        var actions: [Action] = []
        if !content.isEmpty || !hasLoaded {
            actions.append(.deliver(content: content, contentType: contentType, versionLabel: versionLabel))
        }
        hasLoaded = true
        lastSuccessAt = now
        consecutiveFailures = 0
        consecutiveBadRequests = 0
        lastError = nil
        currentStatus = .loaded
        actions.append(.report(.loaded))

        var jitter = 0.0
        if jitterPending {
            jitterPending = false
            jitter = Self.unitRandom(&random) * min(effectiveInterval * Self.jitterFraction, Self.maximumJitter)
        }
        var dueAt = lastDueAt + effectiveInterval + jitter
        if let lastCallStartedAt { dueAt = max(dueAt, lastCallStartedAt + serviceMinimumInterval) }
        dueAt = max(dueAt, now)
        state = .waiting(token: nextToken, dueAt: dueAt)
        actions.append(.scheduleTimer(at: dueAt))
        return actions
    }

    private mutating func fail(_ error: DataPlaneError, duringPoll: Bool, now: Double,
                               random: inout some RandomNumberGenerator) -> [Action] {
        consecutiveFailures += 1
        lastError = error
        let status = Self.status(for: error)
        currentStatus = status
        var actions: [Action] = [.report(status)]

        var dueAt = now + backoffDelay(for: error, random: &random)
        if duringPoll, case .badRequest(let problem) = error {
            consecutiveBadRequests += 1
            if problem == DataPlaneError.Problem.pollIntervalNotSatisfied {
                let earliest = (lastCallStartedAt ?? now) + effectiveInterval
                dueAt = consecutiveBadRequests > 1 ? max(dueAt, earliest) : max(now, earliest)
            } else if consecutiveBadRequests == 1 {
                actions += beginSession(now: now)
                return actions
            }
        }
        state = .backingOff(dueAt: dueAt)
        actions.append(.scheduleTimer(at: dueAt))
        return actions
    }

    // MARK: Policy

    private func backoffDelay(for error: DataPlaneError, random: inout some RandomNumberGenerator) -> Double {
        let cap: Double = switch error {
        case .resourceNotFound, .accessDenied, .credentials:
            min(Self.backoffCap, Double(pollIntervalSeconds))
        case .badRequest, .throttled, .server, .network, .malformedResponse:
            Self.backoffCap
        }
        let exponent = min(max(consecutiveFailures - 1, 0), 30)
        let ceiling = min(cap, Self.backoffBase * Double(1 << exponent))
        return max(Self.backoffFloor, Self.unitRandom(&random) * ceiling)
    }

    /// Errors after which the service wants fewer calls: SIGHUP does not cut their back-off short.
    private static func asksToSlowDown(_ error: DataPlaneError) -> Bool {
        switch error {
        case .throttled: true
        case .badRequest(let problem): problem == DataPlaneError.Problem.pollIntervalNotSatisfied
        default: false
        }
    }

    private static func status(for error: DataPlaneError) -> Status {
        switch error {
        case .resourceNotFound: .notFound
        case .accessDenied: .accessDenied
        default: .failing(error)
        }
    }

    /// Uniform in [0, 1) from the generator's top 53 bits; spelled out so tests can pin the draw.
    static func unitRandom(_ random: inout some RandomNumberGenerator) -> Double {
        Double(random.next() >> 11) * 0x1p-53
    }
}
