import Dispatch
import Synchronization

/// A handler run every `interval` on its own serial queue, from `start` until `stop`.
final class RepeatingTimer: Sendable {
    // Made in init, resumed in start, cancelled in stop; DispatchSource is thread-safe.
    private nonisolated(unsafe) let timer: any DispatchSourceTimer
    private let interval: Duration
    private let started = Atomic<Bool>(false)

    init(label: String, interval: Duration) {
        self.interval = interval
        timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: label))
    }

    /// Runs `handler` at once, then every interval (at least every 100 ms); once.
    func start(_ handler: @escaping @Sendable () -> Void) {
        timer.setEventHandler(handler: handler)
        let (seconds, attoseconds) = interval.components
        let milliseconds = max(100, Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000))
        timer.schedule(deadline: .now(), repeating: .milliseconds(milliseconds))
        guard !started.exchange(true, ordering: .relaxed) else { return }
        timer.resume()
    }

    func stop() { timer.cancel() }

    deinit {
        // libdispatch traps when a source is released while still suspended (never started).
        if !started.load(ordering: .relaxed) {
            timer.cancel()
            timer.resume()
        }
    }
}
