import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// The signals the agent acts on.
public enum AgentSignal: Sendable {
    case terminate(Int32)
    case reload
}

/// Turns SIGTERM, SIGINT and SIGHUP into calls on a queue of its own, never in a signal handler.
public final class SignalWatcher: Sendable {
    private let queue = DispatchQueue(label: "signals")
    // Set once in init and only kept alive after that; DispatchSource itself is thread-safe.
    private nonisolated(unsafe) let sources: [any DispatchSourceSignal]

    public init(handler: @escaping @Sendable (AgentSignal) -> Void) {
        let watched: [(Int32, AgentSignal)] = [(SIGTERM, .terminate(SIGTERM)), (SIGINT, .terminate(SIGINT)), (SIGHUP, .reload)]
        var made: [any DispatchSourceSignal] = []
        for (number, meaning) in watched {
            // The default action must be off for Dispatch to see the signal instead of the process dying.
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler { handler(meaning) }
            source.resume()
            made.append(source)
        }
        sources = made
    }
}
