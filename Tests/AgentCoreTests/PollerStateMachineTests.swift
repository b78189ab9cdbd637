import Testing
@testable import AgentCore

// MARK: - Support

/// SplitMix64: a small seeded generator, so every jitter and back-off draw here is reproducible.
private struct SeededRandom: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE5_E4B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Returns the same word every time: pins every draw to one end of its range.
private struct FixedRandom: RandomNumberGenerator {
    let word: UInt64
    func next() -> UInt64 { word }
    /// Draws 0: no jitter, every back-off at its floor (the adversarial case for "no hot loop").
    static let lowest = FixedRandom(word: 0)
    /// Draws just under 1: jitter and back-off at the top of their ranges.
    static let highest = FixedRandom(word: .max)
    /// Draws exactly 0.5.
    static let half = FixedRandom(word: 1 << 63)
}

private typealias PollEvent = PollerStateMachine.Event
private typealias PollAction = PollerStateMachine.Action

/// Drives one machine by hand, event by event.
private struct Stepper<R: RandomNumberGenerator> {
    var machine: PollerStateMachine
    var random: R
    init(interval: Int = 15, random: R) {
        machine = PollerStateMachine(pollIntervalSeconds: interval)
        self.random = random
    }
    mutating func callAsFunction(_ event: PollEvent) -> [PollAction] { machine.handle(event, using: &random) }

    /// The time the pending timer is due.
    var due: Double { machine.nextAttemptAt ?? .nan }

    /// Fires the pending timer on time; returns its actions.
    mutating func fire() -> [PollAction] { self(.timerFired(now: due)) }

    /// start → session "s0" → first poll answered with `{}`; returns the actions of that answer.
    @discardableResult
    mutating func load(at t: Double = 0, nextToken: String = "t1", nextInterval: Int? = 15) -> [PollAction] {
        _ = self(.start(now: t))
        _ = self(.sessionStarted(token: "s0", now: t + 0.1))
        return self(.configurationReceived(nextToken: nextToken, nextPollIntervalSeconds: nextInterval,
                                           content: Array("{}".utf8), contentType: "application/json",
                                           versionLabel: "v1", now: t + 0.2))
    }
}

private extension Array where Element == PollAction {
    var timer: Double? {
        for case .scheduleTimer(let at) in self { return at }
        return nil
    }
    var tokens: [String] { compactMap { if case .getLatestConfiguration(let t) = $0 { t } else { nil } } }
    var startsSession: Bool { contains { if case .startSession = $0 { true } else { false } } }
    var delivers: Bool { contains { if case .deliver = $0 { true } else { false } } }
    var reports: [PollerStateMachine.Status] { compactMap { if case .report(let s) = $0 { s } else { nil } } }
}

/// A discrete-event simulation of the driver: one call at a time taking `callDuration`, one timer,
/// answers from the two closures. Tokens are unique: `s1, s2…` for sessions, `t1, t2…` for polls.
private struct Simulation<R: RandomNumberGenerator> {
    enum PollAnswer { case ok(content: [UInt8], nextInterval: Int?), fail(DataPlaneError) }
    enum Call { case session, poll }

    var machine: PollerStateMachine
    var random: R
    var callDuration = 0.1
    var session: (Double) -> DataPlaneError? = { _ in nil }
    var poll: (Double) -> PollAnswer = { _ in .ok(content: [], nextInterval: 15) }

    private(set) var now = 0.0
    private(set) var log: [(time: Double, action: PollAction)] = []
    private(set) var overlappingCalls = 0
    private var timerAt: Double?
    private var inFlight: (doneAt: Double, call: Call)?
    private var issued = 0
    private var started = false

    init(interval: Int, random: R) {
        machine = PollerStateMachine(pollIntervalSeconds: interval)
        self.random = random
    }

    mutating func run(until end: Double) {
        if !started {
            started = true
            apply(machine.handle(.start(now: now), using: &random))
        }
        while true {
            let callDone = inFlight?.doneAt ?? .infinity
            let timer = timerAt ?? .infinity
            let next = min(callDone, timer)
            guard next <= end else { now = end; return }
            now = max(now, next)
            if callDone <= timer, let call = inFlight?.call {
                inFlight = nil
                apply(machine.handle(answer(to: call), using: &random))
            } else {
                timerAt = nil
                apply(machine.handle(.timerFired(now: now), using: &random))
            }
        }
    }

    mutating func send(_ event: PollEvent) { apply(machine.handle(event, using: &random)) }

    private mutating func answer(to call: Call) -> PollEvent {
        issued += 1
        switch call {
        case .session:
            if let error = session(now) { return .sessionFailed(error, now: now) }
            return .sessionStarted(token: "s\(issued)", now: now)
        case .poll:
            switch poll(now) {
            case .ok(let content, let interval):
                return .configurationReceived(nextToken: "t\(issued)", nextPollIntervalSeconds: interval,
                                              content: content, contentType: "application/json",
                                              versionLabel: nil, now: now)
            case .fail(let error):
                return .configurationFailed(error, now: now)
            }
        }
    }

    private mutating func apply(_ actions: [PollAction]) {
        for action in actions {
            log.append((now, action))
            switch action {
            case .startSession:
                if inFlight != nil { overlappingCalls += 1 }
                inFlight = (now + callDuration, .session)
            case .getLatestConfiguration:
                if inFlight != nil { overlappingCalls += 1 }
                inFlight = (now + callDuration, .poll)
            case .scheduleTimer(let at):
                timerAt = at
            case .deliver, .report:
                break
            }
        }
    }

    /// Start times of the calls to AWS made in [from, to).
    func callTimes(from: Double = 0, to: Double = .infinity, polls: Bool = true, sessions: Bool = true) -> [Double] {
        log.filter { $0.time >= from && $0.time < to }.compactMap { entry in
            switch entry.action {
            case .startSession: sessions ? entry.time : nil
            case .getLatestConfiguration: polls ? entry.time : nil
            default: nil
            }
        }
    }

    var pollTokens: [String] { log.map(\.action).tokens }
}

private func gaps(_ times: [Double]) -> [Double] { zip(times.dropFirst(), times).map { $0 - $1 } }

/// Equal up to rounding of the sums the machine makes.
private func approximately(_ a: Double?, _ b: Double) -> Bool { a.map { abs($0 - b) < 1e-9 } ?? false }

// MARK: - Tests

struct PollerStateMachineTests {
    // Rule 1
    @Test(arguments: [(1, 15), (14, 15), (15, 15), (45, 45), (86_400, 86_400), (100_000, 86_400)])
    func sessionAsksForConfiguredIntervalClampedTo15Through86400(configured: Int, sent: Int) {
        var step = Stepper(interval: configured, random: FixedRandom.lowest)
        #expect(step(.start(now: 0)) == [.startSession(requiredMinimumPollIntervalSeconds: sent)])
    }

    // Rule 2
    @Test func firstPollIsMadeAsSoonAsTheSessionStarts() {
        var step = Stepper(random: FixedRandom.highest)
        _ = step(.start(now: 0))
        #expect(step(.sessionStarted(token: "AYADeJ+abc/def==", now: 0.25)) == [.getLatestConfiguration(token: "AYADeJ+abc/def==")])
    }

    @Test func firstAnswerIsDeliveredAndReportedLoaded() {
        var step = Stepper(random: FixedRandom.lowest)
        let actions = step.load(at: 0)
        #expect(Array(actions.prefix(2)) == [.deliver(content: Array("{}".utf8), contentType: "application/json",
                                                       versionLabel: "v1"), .report(.loaded)])
        #expect(actions.count == 3)
        #expect(approximately(actions.timer, 15.1))
        #expect(step.machine.hasLoaded)
        #expect(step.machine.lastSuccessAt == 0.2)
        #expect(step.machine.currentStatus == .loaded)
    }

    // Rule 3: 100 ms calls at POLL_INTERVAL=15 for an hour. Polls at 0.1 + jitter + 15k: 240 in [0, 3600]
    // (240 for each of 200 seeds tried).
    @Test func oneHourAt15SecondsMakes240Polls() {
        var sim = Simulation(interval: 15, random: SeededRandom(seed: 7))
        sim.run(until: 3600)
        let polls = sim.callTimes(sessions: false)
        #expect((238...242).contains(polls.count), "\(polls.count) polls")
        #expect(sim.callTimes(polls: false).count == 1)
        #expect(gaps(polls).allSatisfy { $0 >= 15 - 1e-9 })
        #expect(sim.overlappingCalls == 0)
    }

    @Test func cadenceDoesNotDriftWithCallDuration() {
        var sim = Simulation(interval: 15, random: FixedRandom.lowest)
        sim.callDuration = 4
        sim.run(until: 3600)
        let polls = sim.callTimes(sessions: false)
        // Session answer at 4, polls at 4 + 15k: 240 of them; a drifting period of 19 s would give 190.
        #expect(polls.count == 240)
        #expect(gaps(polls).allSatisfy { abs($0 - 15) < 1e-9 })
    }

    @Test func neverPollsSoonerThanServiceNextPollInterval() {
        var sim = Simulation(interval: 15, random: SeededRandom(seed: 3))
        sim.poll = { _ in .ok(content: [], nextInterval: 60) }
        sim.run(until: 3600)
        let polls = sim.callTimes(sessions: false)
        #expect(gaps(polls).allSatisfy { $0 >= 60 - 1e-9 })  // up to rounding of the differences
        #expect((59...61).contains(polls.count), "\(polls.count) polls")
    }

    @Test func slowCallThatOverrunsTheIntervalIsFollowedAtOnceWithoutCatchUp() {
        var step = Stepper(random: FixedRandom.lowest)
        step.load(at: 0)  // poll at 0.1, next due at 15.1
        #expect(approximately(step.due, 15.1))
        _ = step.fire()
        // The answer comes 40 s later: the next poll is at once, not three missed ones in a row.
        let actions = step(.configurationReceived(nextToken: "t2", nextPollIntervalSeconds: 15, content: nil,
                                                  contentType: nil, versionLabel: nil, now: 55.1))
        #expect(actions.timer == 55.1)
        _ = step.fire()
        let after = step(.configurationReceived(nextToken: "t3", nextPollIntervalSeconds: 15, content: nil,
                                                contentType: nil, versionLabel: nil, now: 55.2))
        #expect(approximately(after.timer, 70.1))
    }

    // Rule 4
    @Test func secondPollOfASessionCarriesTheJitterOnce() {
        var step = Stepper(random: FixedRandom.half)
        let actions = step.load(at: 0)
        // min(15 · 0.1, 5) · 0.5 = 0.75 after the 15 s interval.
        #expect(approximately(actions.timer, 15.85))
        _ = step.fire()
        let next = step(.configurationReceived(nextToken: "t2", nextPollIntervalSeconds: 15, content: nil,
                                               contentType: nil, versionLabel: nil, now: 15.95))
        #expect(approximately(next.timer, 30.85))
    }

    @Test func jitterIsCappedAtFiveSeconds() {
        var step = Stepper(interval: 600, random: FixedRandom.highest)
        let due = step.load(at: 0, nextInterval: 600).timer ?? 0
        #expect(due > 600.1 + 4.99 && due <= 600.1 + 5)
    }

    @Test func machinesStartedTogetherSpreadTheirPolls() {
        var seconds: Set<Int> = []
        for seed in 0..<20 as Range<UInt64> {
            var step = Stepper(interval: 45, random: SeededRandom(seed: seed))
            let due = step.load(at: 0, nextInterval: 45).timer ?? 0
            #expect(due >= 45.1 && due < 45.1 + 4.5)
            seconds.insert(Int((due - 45.1) * 10))
        }
        #expect(seconds.count >= 10)
    }

    // Rule 5
    @Test func eachPollUsesThePreviousAnswersTokenAndNoTokenTwice() {
        var sim = Simulation(interval: 15, random: SeededRandom(seed: 1))
        var count = 0
        sim.poll = { _ in
            count += 1
            return count == 5 ? .fail(.network("connection reset")) : .ok(content: [], nextInterval: 15)
        }
        sim.run(until: 200)
        let tokens = sim.pollTokens
        #expect(Array(tokens.prefix(6)) == ["s1", "t2", "t3", "t4", "t5", "s7"])
        #expect(Set(tokens).count == tokens.count)
    }

    // Rule 6
    @Test func emptyBodyMeansUnchangedNoDeliveryButLoaded() {
        var step = Stepper(random: FixedRandom.lowest)
        step.load(at: 0)
        _ = step.fire()
        for content in [nil, []] as [[UInt8]?] {
            var copy = step
            let actions = copy(.configurationReceived(nextToken: "t2", nextPollIntervalSeconds: 15, content: content,
                                                      contentType: "application/json", versionLabel: nil, now: 15.2))
            #expect(!actions.delivers)
            #expect(actions.reports == [.loaded])
            #expect(copy.machine.hasLoaded)
        }
    }

    @Test func emptyFirstAnswerIsDeliveredAsAnEmptyConfiguration() {
        var step = Stepper(random: FixedRandom.lowest)
        _ = step(.start(now: 0))
        _ = step(.sessionStarted(token: "s0", now: 0.1))
        let actions = step(.configurationReceived(nextToken: "t1", nextPollIntervalSeconds: 15, content: nil,
                                                  contentType: "text/plain", versionLabel: nil, now: 0.2))
        #expect(actions.contains(.deliver(content: [], contentType: "text/plain", versionLabel: nil)))
        #expect(step.machine.hasLoaded)
    }

    @Test func changedContentIsDeliveredWithItsTypeAndLabel() {
        var step = Stepper(random: FixedRandom.lowest)
        step.load(at: 0)
        _ = step.fire()
        let actions = step(.configurationReceived(nextToken: "t2", nextPollIntervalSeconds: 15, content: [1, 2],
                                                  contentType: "application/octet-stream", versionLabel: "v2",
                                                  now: 15.2))
        #expect(actions.contains(.deliver(content: [1, 2], contentType: "application/octet-stream", versionLabel: "v2")))
    }

    // Rule 7
    @Test func sessionIsRenewedBeforeTokensReach24Hours() {
        var sim = Simulation(interval: 3600, random: SeededRandom(seed: 5))
        sim.poll = { _ in .ok(content: [], nextInterval: 3600) }
        sim.run(until: 50 * 3600)
        var sessionSentAt = 0.0
        var oldest = 0.0
        for (time, action) in sim.log {
            if case .startSession = action { sessionSentAt = time }
            if case .getLatestConfiguration = action { oldest = max(oldest, time - sessionSentAt) }
        }
        #expect(oldest < 23 * 3600)
        #expect(sim.callTimes(polls: false).count == 3)  // at 0, ~23 h, ~46 h
        #expect(Set(sim.pollTokens).count == sim.pollTokens.count)
    }

    @Test(arguments: [DataPlaneError.Problem.expired, DataPlaneError.Problem.corrupted, nil])
    func badRequestStartsANewSessionAtOnce(problem: String?) {
        var step = Stepper(random: FixedRandom.lowest)
        step.load(at: 0)
        _ = step.fire()
        let actions = step(.configurationFailed(.badRequest(problem: problem), now: 15.2))
        #expect(actions == [.report(.failing(.badRequest(problem: problem))),
                            .startSession(requiredMinimumPollIntervalSeconds: 15)])
        #expect(step(.sessionStarted(token: "fresh", now: 15.3)) == [.getLatestConfiguration(token: "fresh")])
    }

    @Test func pollIntervalNotSatisfiedStartsANewSessionOnlyAfterTheInterval() {
        var step = Stepper(random: FixedRandom.lowest)
        step.load(at: 0, nextInterval: 30)
        #expect(approximately(step.due, 30.1))
        _ = step.fire()
        let actions = step(.configurationFailed(.badRequest(problem: "PollIntervalNotSatisfied"), now: 30.2))
        #expect(!actions.startsSession)
        #expect(approximately(actions.timer, 60.1))  // last call at 30.1 + effective interval max(15, 30)
        #expect(step.fire() == [.startSession(requiredMinimumPollIntervalSeconds: 15)])
    }

    @Test func secondBadRequestInARowBacksOff() {
        var step = Stepper(random: FixedRandom.highest)
        step.load(at: 0)
        let t = step.due
        _ = step.fire()
        _ = step(.configurationFailed(.badRequest(problem: "Expired"), now: t + 0.1))
        _ = step(.sessionStarted(token: "s1", now: t + 0.2))
        let actions = step(.configurationFailed(.badRequest(problem: "Expired"), now: t + 0.3))
        #expect(!actions.startsSession)
        let delay = (actions.timer ?? 0) - (t + 0.3)
        #expect(delay >= 1 && delay <= 2)  // second failure: ceiling 2 s
    }

    @Test func badRequestOnStartSessionBacksOffInsteadOfRetryingAtOnce() {
        var step = Stepper(random: FixedRandom.lowest)
        _ = step(.start(now: 0))
        let actions = step(.sessionFailed(.badRequest(problem: nil), now: 0.1))
        #expect(!actions.startsSession)
        #expect(approximately(actions.timer, 1.1))
    }

    // Rule 8. Expected retries under full jitter with a 1 s floor: E[max(1, U·c)] = (c² + 1) / 2c for
    // ceilings 1, 2, 4 … 256, 300, i.e. 1, 1.25, 2.1, 4.1, 8, 16, 32, 64, 128, 150 s; cumulative 256 s after
    // the 9th retry, 407 s after the 10th: about 10 calls in 5 minutes, where steady polling makes 20.
    // Measured over seeds 0..<10000: 9 to 15 calls, mean 9.9. These five seeds give 11, 11, 9, 10, 11.
    @Test(arguments: [1, 2, 3, 4, 5] as [UInt64])
    func fiveMinutesOfThrottlingMakeAtMost15Calls(seed: UInt64) {
        var sim = Simulation(interval: 15, random: SeededRandom(seed: seed))
        sim.run(until: 100)
        var throttled = false
        sim.session = { _ in throttled ? .throttled : nil }
        sim.poll = { _ in throttled ? .fail(.throttled) : .ok(content: [], nextInterval: 15) }
        throttled = true
        sim.run(until: 400)
        let calls = sim.callTimes(from: 100, to: 400)
        #expect((9...15).contains(calls.count), "\(calls.count) calls")
        #expect(gaps(calls).allSatisfy { $0 >= 1 })
        #expect(sim.machine.hasLoaded)
    }

    // Top of every range: retries 1, 2, 4 … 128 s apart, then 256 s, beyond the window: 9 calls.
    @Test func fiveMinutesOfThrottlingWithLongestDrawsMakes9Calls() {
        var sim = Simulation(interval: 15, random: FixedRandom.highest)
        sim.run(until: 100)
        var throttled = false
        sim.session = { _ in throttled ? .throttled : nil }
        sim.poll = { _ in throttled ? .fail(.throttled) : .ok(content: [], nextInterval: 15) }
        throttled = true
        sim.run(until: 400)
        #expect(sim.callTimes(from: 100, to: 400).count == 9)
    }

    // Every draw 0, the adversarial case for full jitter: the 1 s floor still spaces calls (273 in 5 min
    // with 100 ms calls; never more than one a second).
    @Test func backoffNeverGoesBelowOneSecond() {
        var sim = Simulation(interval: 15, random: FixedRandom.lowest)
        sim.session = { _ in .server(status: 503) }
        sim.run(until: 300)
        let calls = sim.callTimes()
        #expect(gaps(calls).allSatisfy { $0 >= 1 })
        #expect(calls.count <= 300)
    }

    @Test func backoffIsCappedAtFiveMinutes() {
        var sim = Simulation(interval: 15, random: FixedRandom.highest)
        sim.session = { _ in .network("connection refused") }
        sim.run(until: 6 * 3600)
        let longest = gaps(sim.callTimes()).max() ?? 0
        #expect(longest > 299 && longest <= 300.1 + 1e-9)
    }

    // Throttled polls but sessions that start: a session's success must not reset the back-off.
    @Test func sessionThatStartsDoesNotResetBackoff() {
        var sim = Simulation(interval: 15, random: FixedRandom.highest)
        sim.poll = { _ in .fail(.throttled) }
        sim.run(until: 300)
        #expect(sim.machine.consecutiveFailures >= 8)
        #expect(sim.callTimes().count <= 20)
    }

    @Test func backoffResetsAfterASuccess() {
        var step = Stepper(random: FixedRandom.highest)
        step.load(at: 0)
        _ = step.fire()
        _ = step(.configurationFailed(.server(status: 500), now: 16.7))
        _ = step.fire()
        let second = step(.sessionFailed(.server(status: 500), now: 17.8))
        #expect(step.machine.consecutiveFailures == 2)
        #expect((second.timer ?? 0) - 17.8 > 1.9)  // second failure: up to 2 s
        _ = step.fire()
        _ = step(.sessionStarted(token: "s1", now: 19.9))
        _ = step(.configurationReceived(nextToken: "t2", nextPollIntervalSeconds: 15, content: nil,
                                        contentType: nil, versionLabel: nil, now: 20))
        #expect(step.machine.consecutiveFailures == 0)
        _ = step.fire()
        let actions = step(.configurationFailed(.server(status: 500), now: 36.5))
        #expect(approximately(actions.timer, 37.5))  // first failure again: 1 s
    }

    // Rule 9
    @Test func failedPollKeepsTheLoadedConfigurationAndReportsFailing() {
        var step = Stepper(random: FixedRandom.lowest)
        step.load(at: 0)
        _ = step.fire()
        let actions = step(.configurationFailed(.server(status: 500), now: 15.2))
        #expect(actions.first == .report(.failing(.server(status: 500))))
        #expect(approximately(actions.timer, 16.2))
        #expect(step.machine.hasLoaded)
        #expect(step.machine.currentStatus == .failing(.server(status: 500)))
        #expect(step.machine.lastSuccessAt == 0.2)
        #expect(step.machine.consecutiveFailures == 1)
    }

    @Test func malformedAnswerIsNeverDeliveredAndBacksOff() {
        var step = Stepper(random: FixedRandom.lowest)
        step.load(at: 0)
        _ = step.fire()
        let actions = step(.configurationFailed(.malformedResponse("body truncated at 512 of 1024 bytes"), now: 15.2))
        #expect(!actions.delivers)
        #expect(approximately(actions.timer, 16.2))
    }

    @Test func answerWithoutNextTokenIsMalformedAndNotDelivered() {
        var step = Stepper(random: FixedRandom.lowest)
        step.load(at: 0)
        _ = step.fire()
        let actions = step(.configurationReceived(nextToken: "", nextPollIntervalSeconds: 15, content: [9],
                                                  contentType: nil, versionLabel: nil, now: 15.2))
        #expect(!actions.delivers)
        #expect(actions.reports.count == 1)
        if case .failing(.malformedResponse) = actions.reports.first {} else { Issue.record("\(actions)") }
    }

    // Rule 10
    @Test func notFoundIsReportedAndRetriedWithBackoffCappedAtTheInterval() {
        var sim = Simulation(interval: 15, random: FixedRandom.highest)
        sim.session = { _ in .resourceNotFound }
        sim.run(until: 600)
        #expect(sim.machine.currentStatus == .notFound)
        #expect(sim.log.map(\.action).reports.allSatisfy { $0 == .notFound })
        let delays = gaps(sim.callTimes())
        #expect((delays.max() ?? 0) <= 15.1 + 1e-9)
        #expect((delays.max() ?? 0) > 14.9)
        #expect(!sim.machine.hasLoaded)
    }

    @Test func accessDeniedIsReportedAndRetried() {
        var step = Stepper(random: FixedRandom.lowest)
        _ = step(.start(now: 0))
        let actions = step(.sessionFailed(.accessDenied, now: 0.1))
        #expect(actions.first == .report(.accessDenied))
        #expect(approximately(actions.timer, 1.1))
        #expect(step.fire() == [.startSession(requiredMinimumPollIntervalSeconds: 15)])
    }

    @Test func notFoundWhileLoadedKeepsServing() {
        var step = Stepper(random: FixedRandom.lowest)
        step.load(at: 0)
        _ = step.fire()
        let actions = step(.configurationFailed(.resourceNotFound, now: 15.2))
        #expect(actions.reports == [.notFound])
        #expect(!actions.delivers)
        #expect(step.machine.hasLoaded)
    }

    // Rule 11
    @Test func networkFailureMidChainStartsANewSessionInsteadOfReusingTheToken() {
        var step = Stepper(random: FixedRandom.lowest)
        step.load(at: 0, nextToken: "t1")
        #expect(step.fire() == [.getLatestConfiguration(token: "t1")])
        _ = step(.configurationFailed(.network("timed out after 3000 ms"), now: 18.1))
        let retry = step.fire()
        #expect(retry == [.startSession(requiredMinimumPollIntervalSeconds: 15)])
        #expect(retry.tokens.isEmpty)
    }

    // Rule 12
    @Test func stopEndsAllActivityAndLateEventsAreIgnored() {
        var step = Stepper(random: FixedRandom.lowest)
        step.load(at: 0)
        _ = step.fire()
        #expect(step(.stop) == [])
        #expect(step.machine.isStopped)
        #expect(step(.configurationReceived(nextToken: "t2", nextPollIntervalSeconds: 15, content: [1],
                                            contentType: nil, versionLabel: nil, now: 15.2)) == [])
        #expect(step(.timerFired(now: 30)) == [])
        #expect(step(.pollNow(now: 31)) == [])
        #expect(step(.start(now: 32)) == [])
        #expect(step.machine.hasLoaded)
    }

    // Rule 13
    @Test func eventsThatDoNotFitTheStateAreIgnored() {
        var step = Stepper(random: FixedRandom.lowest)
        #expect(step(.sessionStarted(token: "x", now: 0)) == [])
        #expect(step(.timerFired(now: 0)) == [])
        #expect(step(.pollNow(now: 0)) == [])
        _ = step(.start(now: 0))
        #expect(step(.start(now: 0.05)) == [])
        #expect(step(.configurationReceived(nextToken: "x", nextPollIntervalSeconds: 15, content: [1],
                                            contentType: nil, versionLabel: nil, now: 0.05)) == [])
        _ = step(.sessionStarted(token: "s0", now: 0.1))
        #expect(step(.sessionStarted(token: "s1", now: 0.15)) == [])
        #expect(step(.sessionFailed(.throttled, now: 0.15)) == [])
        #expect(step(.timerFired(now: 0.15)) == [])
        _ = step(.configurationReceived(nextToken: "t1", nextPollIntervalSeconds: 15, content: [1],
                                        contentType: nil, versionLabel: nil, now: 0.2))
        #expect(step(.configurationFailed(.throttled, now: 0.3)) == [])
        #expect(step.machine.currentStatus == .loaded)
        #expect(step.fire() == [.getLatestConfiguration(token: "t1")])
    }

    // A timer that fires early (the driver's sleep and the machine's clock disagree) is set again.
    @Test func earlyTimerWhileWaitingIsScheduledAgainAndThenPolls() {
        var step = Stepper(random: FixedRandom.lowest)
        step.load(at: 0)
        let due = step.due
        #expect(step(.timerFired(now: due - 0.01)) == [.scheduleTimer(at: due)])
        #expect(step.machine.nextAttemptAt == due)
        #expect(step(.timerFired(now: due - 0.0005)) == [.getLatestConfiguration(token: "t1")])  // within tolerance
    }

    @Test func earlyTimerDuringABackoffIsScheduledAgainAndThenRetries() {
        var step = Stepper(random: FixedRandom.highest)
        _ = step(.start(now: 0))
        _ = step(.sessionFailed(.server(status: 500), now: 0.1))
        let due = step.due
        #expect(step(.timerFired(now: due - 0.5)) == [.scheduleTimer(at: due)])
        #expect(step.fire() == [.startSession(requiredMinimumPollIntervalSeconds: 15)])
    }

    // SIGHUP
    @Test func pollNowPollsAtOnceWhenTheServiceMinimumHasPassed() {
        var step = Stepper(interval: 300, random: FixedRandom.lowest)
        step.load(at: 0, nextInterval: 15)
        #expect(step(.pollNow(now: 20)) == [.getLatestConfiguration(token: "t1")])
        // The cadence restarts from the SIGHUP poll.
        let next = step(.configurationReceived(nextToken: "t2", nextPollIntervalSeconds: 15, content: nil,
                                               contentType: nil, versionLabel: nil, now: 20.1))
        #expect(approximately(next.timer, 320))
    }

    // Against AWS, Next-Poll-Interval-In-Seconds is the interval asked for: the token cannot be used
    // before the next poll is due anyway, so SIGHUP starts a new session.
    @Test func pollNowStartsANewSessionWhenTheTokenCannotBeUsedYet() {
        var step = Stepper(interval: 300, random: FixedRandom.lowest)
        step.load(at: 0, nextInterval: 300)
        #expect(step(.pollNow(now: 10)) == [.startSession(requiredMinimumPollIntervalSeconds: 300)])
        #expect(step(.sessionStarted(token: "s1", now: 10.1)) == [.getLatestConfiguration(token: "s1")])
        let next = step(.configurationReceived(nextToken: "t2", nextPollIntervalSeconds: 300, content: Array("{}".utf8),
                                               contentType: "application/json", versionLabel: "v1", now: 10.2))
        #expect(approximately(next.timer, 310.1))  // the new session's cadence
        #expect(step.fire() == [.getLatestConfiguration(token: "t2")])  // t1 is never used
    }

    @Test func pollNowSoonAfterASessionStartedWaitsForTheSpacing() {
        var step = Stepper(interval: 300, random: FixedRandom.lowest)
        step.load(at: 0, nextInterval: 300)
        #expect(step(.pollNow(now: 2)) == [.scheduleTimer(at: PollerStateMachine.pollNowSessionSpacing)])
        #expect(step(.pollNow(now: 3)) == [])  // already moved up
        #expect(step.fire() == [.startSession(requiredMinimumPollIntervalSeconds: 300)])
    }

    @Test func pollNowWaitsForTheTokenWhenItCanBeUsedBeforeTheSpacingEnds() {
        var step = Stepper(interval: 300, random: FixedRandom.lowest)
        step.load(at: 0, nextInterval: 1)
        let actions = step(.pollNow(now: 0.5))
        #expect(approximately(actions.timer, 1.1))
        #expect(step.fire() == [.getLatestConfiguration(token: "t1")])
    }

    @Test func aStormOfPollNowStartsAtMostOneSessionPerSpacing() {
        var sim = Simulation(interval: 300, random: SeededRandom(seed: 7))
        sim.poll = { _ in .ok(content: [], nextInterval: 300) }
        for tenth in 1...600 {
            let t = Double(tenth) / 10
            sim.run(until: t)
            sim.send(.pollNow(now: t))
        }
        sim.run(until: 60)
        let sessions = sim.callTimes(polls: false)
        #expect(sessions.count >= 10)  // SIGHUP is answered…
        #expect(sessions.count <= 60 / Int(PollerStateMachine.pollNowSessionSpacing) + 1)  // …but not once each
        #expect(gaps(sessions).allSatisfy { $0 >= PollerStateMachine.pollNowSessionSpacing - 1e-9 })
        #expect(sim.overlappingCalls == 0)
        #expect(Set(sim.pollTokens).count == sim.pollTokens.count)
    }

    @Test func pollNowWhileACallIsInFlightDoesNothing() {
        var step = Stepper(random: FixedRandom.lowest)
        _ = step(.start(now: 0))
        #expect(step(.pollNow(now: 0.05)) == [])
        _ = step(.sessionStarted(token: "s0", now: 0.1))
        #expect(step(.pollNow(now: 0.15)) == [])
    }

    @Test func pollNowCutsABackoffShortUnlessThrottled() {
        var step = Stepper(interval: 60, random: FixedRandom.highest)
        _ = step(.start(now: 0))
        _ = step(.sessionFailed(.accessDenied, now: 0.1))
        for _ in 0..<3 {  // back-offs of 1, 2, 4, then 8 s
            let due = step.due
            _ = step.fire()
            _ = step(.sessionFailed(.accessDenied, now: due + 0.1))
        }
        let requested = 7.3
        #expect(approximately(step.due, 15.4))
        // Within the spacing after the last session: moved up to its end.
        #expect(approximately(step(.pollNow(now: 7.5)).timer, requested + PollerStateMachine.pollNowSessionSpacing))
        #expect(step.fire() == [.startSession(requiredMinimumPollIntervalSeconds: 60)])
        _ = step(.sessionFailed(.accessDenied, now: 12.4))
        // After the spacing: at once.
        #expect(step(.pollNow(now: 18)) == [.startSession(requiredMinimumPollIntervalSeconds: 60)])
        _ = step(.sessionFailed(.throttled, now: 18.1))
        #expect(step(.pollNow(now: 30)) == [])
        #expect(step.machine.consecutiveFailures == 6)
    }

    @Test func pollNowHonoursTheServiceMinimumAndRenewsAnOldSession() {
        var step = Stepper(interval: 86_400, random: FixedRandom.lowest)
        step.load(at: 0, nextInterval: 86_400)
        // The service minimum (24 h) is still ahead: a new session.
        #expect(step(.pollNow(now: 23.5 * 3600)) == [.startSession(requiredMinimumPollIntervalSeconds: 86_400)])
        // Service minimum 15 s, poll due at 24 h: SIGHUP at 23.5 h finds a session too old to use.
        var short = Stepper(interval: 86_400, random: FixedRandom.lowest)
        short.load(at: 0, nextInterval: 15)
        #expect(short(.pollNow(now: 23.5 * 3600)) == [.startSession(requiredMinimumPollIntervalSeconds: 86_400)])
    }

    @Test func machineIsASendableValueThatCopiesItsState() {
        var step = Stepper(random: FixedRandom.lowest)
        _ = step(.start(now: 0))
        let snapshot: any Sendable = step.machine
        var copy = step
        _ = copy(.stop)
        #expect(!step.machine.isStopped)
        #expect((snapshot as? PollerStateMachine)?.isStopped == false)
    }

    // MARK: - Error classification

    @Suite struct ErrorClassification {
        func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

        @Test func badRequestProblemIsReadFromDetails() {
            let body = #"{"Message":"Configuration token expired","Reason":"InvalidParameters","Details":{"InvalidParameters":{"ConfigurationToken":{"Problem":"Expired"}}}}"#
            #expect(DataPlaneError.classify(status: 400, errorTypeHeader: "BadRequestException:http://internal.amazon.com/coral/com.amazonaws.appconfigdata/",
                                            body: bytes(body)) == .badRequest(problem: "Expired"))
        }

        @Test func pollIntervalNotSatisfiedFromBodyTypeWithNamespace() {
            let body = #"{"__type":"com.amazonaws.appconfigdata#BadRequestException","Message":"Poll interval not satisfied","Reason":"InvalidParameters","Details":{"InvalidParameters":{"ConfigurationToken":{"Problem":"PollIntervalNotSatisfied"}}}}"#
            #expect(DataPlaneError.classify(status: 400, errorTypeHeader: nil, body: bytes(body))
                    == .badRequest(problem: "PollIntervalNotSatisfied"))
        }

        @Test func corruptedTokenWithoutTypeUsesStatus() {
            let body = #"{"Message":"x","Details":{"InvalidParameters":{"ConfigurationToken":{"Problem":"Corrupted"}}}}"#
            #expect(DataPlaneError.classify(status: 400, errorTypeHeader: nil, body: bytes(body))
                    == .badRequest(problem: "Corrupted"))
        }

        @Test func badRequestWithoutDetailsHasNoProblem() {
            let body = #"{"__type":"BadRequestException","Message":"Invalid ApplicationIdentifier"}"#
            #expect(DataPlaneError.classify(status: 400, errorTypeHeader: nil, body: bytes(body))
                    == .badRequest(problem: nil))
        }

        @Test func resourceNotFound() {
            let body = #"{"Message":"Application 'nope' not found","ResourceType":"Application","ReferenceCodes":{}}"#
            #expect(DataPlaneError.classify(status: 404, errorTypeHeader: "ResourceNotFoundException", body: bytes(body))
                    == .resourceNotFound)
        }

        @Test func throttlingByHeaderBodyCodeOrStatus() {
            #expect(DataPlaneError.classify(status: 429, errorTypeHeader: "ThrottlingException:http://internal.amazon.com/coral/com.amazon.coral.availability/",
                                            body: bytes(#"{"message":"Rate exceeded"}"#)) == .throttled)
            #expect(DataPlaneError.classify(status: 400, errorTypeHeader: nil,
                                            body: bytes(#"{"code":"com.amazon.coral.availability#ThrottlingException"}"#)) == .throttled)
            #expect(DataPlaneError.classify(status: 429, errorTypeHeader: nil, body: []) == .throttled)
        }

        @Test(arguments: ["AccessDeniedException", "UnrecognizedClientException", "InvalidSignatureException",
                          "ExpiredTokenException"])
        func credentialRefusalsAreAccessDenied(type: String) {
            let body = #"{"__type":"\#(type)","message":"The security token included in the request is invalid."}"#
            #expect(DataPlaneError.classify(status: 403, errorTypeHeader: nil, body: bytes(body)) == .accessDenied)
            #expect(DataPlaneError.classify(status: 400, errorTypeHeader: "\(type):http://internal.amazon.com/coral/",
                                            body: []) == .accessDenied)
        }

        @Test func serverErrorsKeepTheirStatus() {
            #expect(DataPlaneError.classify(status: 500, errorTypeHeader: "InternalServerException", body: [])
                    == .server(status: 500))
            #expect(DataPlaneError.classify(status: 503, errorTypeHeader: nil,
                                            body: bytes("<html><body>Service Unavailable</body></html>")) == .server(status: 503))
            #expect(DataPlaneError.classify(status: 502, errorTypeHeader: nil, body: bytes("{truncated")) == .server(status: 502))
        }

        @Test func headerWinsOverBody() {
            #expect(DataPlaneError.classify(status: 400, errorTypeHeader: "ThrottlingException",
                                            body: bytes(#"{"__type":"BadRequestException"}"#)) == .throttled)
        }

        @Test func unexpectedStatusWithoutTypeIsMalformed() {
            #expect(DataPlaneError.classify(status: 302, errorTypeHeader: nil, body: []) == .malformedResponse("unexpected HTTP status 302"))
        }

        @Test func unknownTypeFallsBackToStatus() {
            #expect(DataPlaneError.classify(status: 404, errorTypeHeader: "SomethingNewException", body: []) == .resourceNotFound)
        }

        @Test func typeNameIsTrimmedAndCut() {
            #expect(DataPlaneError.normalizedTypeName(" com.amazonaws.appconfigdata#BadRequestException ") == "BadRequestException")
            #expect(DataPlaneError.normalizedTypeName("ThrottlingException:http://x/") == "ThrottlingException")
            #expect(DataPlaneError.normalizedTypeName(":") == nil)
        }

        @Test func descriptionsNameTheErrorWithoutBodies() {
            #expect(DataPlaneError.badRequest(problem: "Expired").description == "bad request (Expired)")
            #expect(DataPlaneError.server(status: 503).description == "server error 503")
        }
    }
}
