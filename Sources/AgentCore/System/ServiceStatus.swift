import Synchronization

/// `STATUS=` for `systemctl status`: a one-line summary of what the agent serves, sent to systemd
/// when it changes. Refreshed after every store change and every few seconds (a configuration that
/// starts or stops failing changes no stored version); building the summary only counts.
final class ServiceStatus: Sendable {
    static let refreshInterval: Duration = .seconds(5)

    private let notifier: SystemdNotifier
    private let summary: @Sendable () -> String
    private let sent = Mutex<String?>(nil)
    private let started = Atomic<Bool>(false)
    private let timer = RepeatingTimer(label: "systemd-status", interval: ServiceStatus.refreshInterval)

    init(notifier: SystemdNotifier, summary: @escaping @Sendable () -> String) {
        self.notifier = notifier
        self.summary = summary
    }

    /// Starts the periodic refresh (after READY=1: until then start-up has its own status).
    func start() {
        started.store(true, ordering: .relaxed)
        timer.start { [weak self] in self?.refresh() }
    }

    var isStarted: Bool { started.load(ordering: .relaxed) }

    func stop() { timer.stop() }

    /// Sends the summary if it differs from the last one sent; under the lock, so that two
    /// refreshes cannot send their summaries in the wrong order.
    func refresh() {
        sent.withLock { sent in
            let text = summary()
            guard sent != text else { return }
            sent = text
            notifier.status(text)
        }
    }

    /// "serving 3 configuration(s), 1 failing; listening on 127.0.0.1:2772": `failing` counts
    /// configurations whose last poll failed, served from cache or not.
    static func summary(served: Int, failing: Int, endpoints: [String]) -> String {
        "serving \(served) configuration(s)" + (failing > 0 ? ", \(failing) failing" : "")
            + "; listening on \(endpoints.joined(separator: ", "))"
    }
}
