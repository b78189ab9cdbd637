import Synchronization

/// A monotonic counter: one series of a `CounterFamily`. Updates are single relaxed atomic
/// operations, safe from any thread; keep the handle instead of looking it up per event.
public final class Counter: Sendable {
    // Whole increments take one atomic add; fractional ones go to a separate `Double` (kept as its
    // bit pattern) so that the common integer path never needs a compare-and-swap loop.
    private let whole = Atomic<Int64>(0)
    private let fraction = Atomic<UInt64>(0)

    init() {}

    /// Adds one.
    @inline(__always)
    public func increment() {
        whole.wrappingAdd(1, ordering: .relaxed)
    }

    /// Adds `amount`; a negative amount is ignored, since a counter only goes up.
    public func increment(by amount: Int) {
        increment(by: Int64(amount))
    }

    /// Adds `amount`; a negative amount is ignored, since a counter only goes up.
    public func increment(by amount: Int64) {
        guard amount > 0 else { return }
        whole.wrappingAdd(amount, ordering: .relaxed)
    }

    /// Adds `amount` (for example seconds spent); negative amounts and NaN are ignored.
    public func increment(by amount: Double) {
        guard amount > 0 else { return }
        fraction.addDouble(amount)
    }

    /// The total so far.
    public var value: Double {
        Double(whole.load(ordering: .relaxed)) + fraction.doubleValue
    }

    /// Exact while only whole increments were made, so large counts print without rounding.
    var formattedValue: String {
        let fractional = fraction.doubleValue
        let integral = whole.load(ordering: .relaxed)
        if fractional == 0 { return String(integral) }
        return PrometheusText.format(Double(integral) + fractional)
    }
}
