import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A value that goes up and down: one series of a `GaugeFamily`. The `Double` lives in an atomic
/// as its bit pattern; `set` is one store, `increment`/`decrement` a short compare-and-swap loop.
public final class Gauge: Sendable {
    private let bits = Atomic<UInt64>(Double(0).bitPattern)

    init() {}

    public func set(_ value: Double) {
        bits.store(value.bitPattern, ordering: .relaxed)
    }

    public func increment(by amount: Double = 1) {
        bits.addDouble(amount)
    }

    public func decrement(by amount: Double = 1) {
        bits.addDouble(-amount)
    }

    /// Sets the gauge to the current Unix time in seconds, as `*_timestamp_seconds` gauges want.
    public func setToCurrentTime() {
        set(Self.now())
    }

    public var value: Double { bits.doubleValue }

    static func now() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1_000_000_000
    }
}
