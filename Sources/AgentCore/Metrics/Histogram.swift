import Synchronization

/// Observations counted into fixed buckets: one series of a `HistogramFamily`. An observation is
/// one atomic add on its bucket plus a compare-and-swap on the sum; buckets are made cumulative,
/// and `_count` taken as their total, only when exposed, so `_count` always equals the `+Inf` bucket.
public final class Histogram: @unchecked Sendable {
    // @unchecked: `counts` points at `upperBounds.count + 1` atomics, allocated and initialised in
    // init, never reassigned, only read or atomically updated, and freed in deinit when no other
    // reference can exist. Every access therefore goes through an `Atomic`, which is Sendable.
    /// Finite, strictly increasing upper bounds; the `+Inf` bucket is implicit.
    public let upperBounds: [Double]
    private let counts: UnsafeMutablePointer<Atomic<UInt64>>
    private let bucketCount: Int
    private let sumBits = Atomic<UInt64>(Double(0).bitPattern)

    init(upperBounds: [Double]) {
        self.upperBounds = upperBounds
        bucketCount = upperBounds.count + 1
        counts = .allocate(capacity: bucketCount)
        for index in 0..<bucketCount {
            (counts + index).initialize(to: Atomic<UInt64>(0))
        }
    }

    deinit {
        counts.deinitialize(count: bucketCount)
        counts.deallocate()
    }

    /// Records one observation; NaN is ignored so that `_sum` stays a number.
    public func observe(_ value: Double) {
        guard !value.isNaN else { return }
        // A linear scan: a dozen predictable comparisons beat a binary search at this size.
        var index = 0
        for bound in upperBounds {
            if value <= bound { break }
            index += 1
        }
        counts[index].wrappingAdd(1, ordering: .relaxed)
        sumBits.addDouble(value)
    }

    /// Records a duration in seconds.
    public func observe(_ duration: Duration) {
        let parts = duration.components
        observe(Double(parts.seconds) + Double(parts.attoseconds) / 1e18)
    }

    /// A point-in-time view with cumulative bucket counts; the last one is the `+Inf` bucket.
    public var snapshot: HistogramSnapshot {
        var cumulative: [UInt64] = []
        cumulative.reserveCapacity(bucketCount)
        var running: UInt64 = 0
        for index in 0..<bucketCount {
            running &+= counts[index].load(ordering: .relaxed)
            cumulative.append(running)
        }
        return HistogramSnapshot(upperBounds: upperBounds, cumulativeCounts: cumulative,
                                 sum: sumBits.doubleValue)
    }
}

/// What a histogram held when it was read.
public struct HistogramSnapshot: Sendable, Equatable {
    /// Finite bounds; `cumulativeCounts` has one more entry, for `+Inf`.
    public var upperBounds: [Double]
    public var cumulativeCounts: [UInt64]
    public var sum: Double
    public var count: UInt64 { cumulativeCounts.last ?? 0 }
}
