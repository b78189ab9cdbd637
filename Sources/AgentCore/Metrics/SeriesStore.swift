import Synchronization

/// The series of one family, keyed by their label values. Only creation, removal and scrapes take
/// the lock; updates go straight to the series object the caller keeps.
final class SeriesStore<Series: AnyObject & Sendable>: Sendable {
    let familyName: String
    let labelNames: [String]
    private let make: @Sendable () -> Series
    private let series = Mutex<[[String]: Series]>([:])

    init(familyName: String, labelNames: [String], make: @escaping @Sendable () -> Series) {
        self.familyName = familyName
        self.labelNames = labelNames
        self.make = make
    }

    /// The series for `values`, created on first use.
    func child(_ values: [String]) -> Series {
        guard values.count == labelNames.count else {
            // A programming error at a call site: trap in debug builds; in release count into a
            // series that is never exposed rather than take the agent down over a metric.
            assertionFailure("\(familyName) takes labels \(labelNames), got \(values.count) values: \(values)")
            return make()
        }
        return series.withLock { all in
            if let existing = all[values] { return existing }
            let created = make()
            all[values] = created
            return created
        }
    }

    func remove(_ values: [String]) {
        _ = series.withLock { $0.removeValue(forKey: values) }
    }

    func removeAll(where shouldRemove: ([String]) -> Bool) {
        series.withLock { all in
            for key in all.keys where shouldRemove(key) {
                all.removeValue(forKey: key)
            }
        }
    }

    /// Runs `body` on the series map under the lock, so that a scrape sees all of its changes or none.
    func withSeries(_ body: (inout [[String]: Series]) -> Void) {
        series.withLock { body(&$0) }
    }

    func makeDetached() -> Series { make() }

    /// Every series, ordered by label values, for a deterministic exposition.
    func sorted() -> [(labels: [String], series: Series)] {
        let all = series.withLock { Array($0) }
        return all.map { (labels: $0.key, series: $0.value) }
            .sorted { $0.labels.lexicographicallyPrecedes($1.labels) }
    }
}
