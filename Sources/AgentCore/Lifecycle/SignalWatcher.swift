#if canImport(Glibc)
import Glibc
#endif

/// The signals the agent acts on.
public enum AgentSignal: Sendable {
    case terminate(Int32)
    case reload
}

/// Turns SIGTERM, SIGINT and SIGHUP into calls on a thread of its own, never in a signal handler.
///
/// The three signals are blocked in every thread (`blockWatchedSignals` runs first thing in `main`,
/// so every thread inherits the mask) and taken with `sigwait` by one thread. A Dispatch signal
/// source is not enough on Linux: it reads a `signalfd`, which only sees signals that are blocked
/// in the thread the kernel picks, and libevent's, curl's and the main thread do not block them;
/// a SIGTERM that landed on one of those was lost, and the agent never stopped.
/// Children (credential_process) get an empty mask and default dispositions back.
public final class SignalWatcher: Sendable {
    static let watched: [(Int32, AgentSignal)] = [(SIGTERM, .terminate(SIGTERM)), (SIGINT, .terminate(SIGINT)), (SIGHUP, .reload)]

    private let thread: NativeThread

    /// Blocks the watched signals in the calling thread and so in every thread it creates later.
    public static func blockWatchedSignals() {
        var set = watchedSet()
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    private static func watchedSet() -> sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        for (number, _) in watched { sigaddset(&set, number) }
        return set
    }

    public init(handler: @escaping @Sendable (AgentSignal) -> Void) throws(SystemError) {
        Self.blockWatchedSignals()
        thread = try NativeThread(name: "signals") {
            var set = Self.watchedSet()
            while true {
                var number: Int32 = 0
                guard sigwait(&set, &number) == 0,
                      let meaning = Self.watched.first(where: { $0.0 == number })?.1 else { continue }
                handler(meaning)
            }
        }
    }
}
