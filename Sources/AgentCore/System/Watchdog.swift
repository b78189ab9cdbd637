import Synchronization

/// Whether the pollers are making progress, seen from outside them: the time of each polled
/// configuration's last recorded poll outcome (`PollActivity`; failures count, so a configuration
/// backing off shows progress as long as its attempts keep coming).
///
/// The polling has stalled when no tracked configuration has recorded anything for longer than the
/// longest legitimate gap between two attempts. One configuration late is not enough: calls beyond
/// MAX_CONNECTIONS wait their turn in the HTTP client, so with many configurations and AWS out of
/// reach the last in the queue can be late while the polling as a whole works. Restarting the agent
/// for that would help nothing. What this catches is the polling machinery itself stopping.
struct PollProgress: Sendable {
    /// The longest gap allowed between two recorded attempts of one configuration, in seconds.
    let allowance: Double
    /// The configurations being polled now.
    let tracked: @Sendable () -> [ConfigurationKey]
    /// When each configuration's last attempt was recorded (monotonic seconds).
    let lastAttempts: @Sendable () -> [ConfigurationKey: Double]

    /// The allowance for POLL_INTERVAL and REQUEST_TIMEOUT: the poll interval (at least the
    /// service's 15 s minimum, plus its jitter), or the longest back-off (300 s), whichever is
    /// longer, plus one request's time and a minute of slack for a loaded machine.
    static func allowance(pollInterval: Duration, requestTimeout: Duration) -> Double {
        let interval = max(Double(pollInterval.components.seconds), Double(PollerStateMachine.minimumPollIntervalSeconds))
            + PollerStateMachine.maximumJitter
        return max(interval, PollerStateMachine.backoffCap) + Double(requestTimeout.components.seconds) + 60
    }

    /// When no tracked configuration with a recorded attempt has had one within the allowance at
    /// `now`: those configurations, sorted. Empty while any of them makes progress.
    func overdue(now: Double) -> [ConfigurationKey] {
        let attempts = lastAttempts()
        let judged = tracked().compactMap { key in attempts[key].map { (key, now - $0 > allowance) } }
        guard !judged.isEmpty, judged.allSatisfy(\.1) else { return [] }
        return judged.map(\.0).sorted { $0.description < $1.description }
    }
}

/// systemd's watchdog: `WATCHDOG=1` every half `WatchdogSec`, but only while the agent makes
/// progress: the Swift concurrency pool that runs every poller still runs tasks (a heartbeat task
/// scheduled at each tick has run by the next), and the polled configurations keep recording
/// attempts (`PollProgress`). A stalled pool or polling that stopped altogether stops the pings,
/// and systemd restarts the agent.
final class Watchdog: Sendable {
    private let notifier: SystemdNotifier
    private let interval: Duration
    private let progress: PollProgress?
    private let clock: @Sendable () -> Double
    private let beat = Atomic<Bool>(true)
    private let timer: RepeatingTimer

    init(notifier: SystemdNotifier, interval: Duration, progress: PollProgress?,
         clock: @escaping @Sendable () -> Double = WallClock.monotonic) {
        self.notifier = notifier
        self.interval = interval
        self.progress = progress
        self.clock = clock
        timer = RepeatingTimer(label: "watchdog", interval: interval)
    }

    func start() { timer.start { [weak self] in self?.tick() } }

    func stop() { timer.stop() }

    /// Why the agent is not making progress now, or nil when the watchdog may be notified.
    /// Consumes the heartbeat: call once per tick.
    func stall() -> String? {
        guard beat.exchange(false, ordering: .relaxed) else {
            return "the polling tasks have not run for \(interval.shortDescription)"
        }
        guard let progress else { return nil }
        let overdue = progress.overdue(now: clock())
        guard !overdue.isEmpty else { return nil }
        return "no poll recorded for \(Int(progress.allowance))s for \(overdue.map(\.description).joined(separator: ", "))"
    }

    /// Whether the heartbeat task has run since the last `stall()`.
    var hasHeartbeat: Bool { beat.load(ordering: .relaxed) }

    /// Schedules the next heartbeat on the concurrency pool.
    func scheduleHeartbeat() {
        Task { [self] in beat.store(true, ordering: .relaxed) }
    }

    private func tick() {
        if let reason = stall() {
            log.warn("watchdog: \(reason); not notifying systemd")
        } else {
            notifier.watchdog()
        }
        scheduleHeartbeat()
    }
}
