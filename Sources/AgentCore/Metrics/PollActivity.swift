import Synchronization

/// When each configuration's last poll outcome was recorded, on the monotonic clock: every
/// attempt, answered or failed, so a configuration backing off still shows progress as long as its
/// attempts keep coming. The watchdog's view of the pollers (`PollProgress`).
public final class PollActivity: Sendable {
    private let last = Mutex<[ConfigurationKey: Double]>([:])

    public init() {}

    public func record(_ configuration: ConfigurationKey, at time: Double = WallClock.monotonic()) {
        last.withLock { $0[configuration] = time }
    }

    public func forget(_ configuration: ConfigurationKey) {
        last.withLock { _ = $0.removeValue(forKey: configuration) }
    }

    /// The time of every configuration's last recorded attempt.
    public var lastAttempts: [ConfigurationKey: Double] { last.withLock { $0 } }
}
