/// What a registry needs from each of its families to check names and write the exposition.
protocol ExposedFamily: AnyObject, Sendable {
    var name: String { get }
    /// The family name and every sample name it writes (`_bucket`, `_sum`, `_count` for histograms),
    /// which no other family may write.
    var reservedNames: [String] { get }
    func appendExposition(to out: inout String)
}

/// A counter metric with a fixed set of label names; `labels([...])` gives the series for one set
/// of values. Look a series up once and keep it where the update is hot.
public final class CounterFamily: ExposedFamily {
    public let name: String
    public let help: String
    public var labelNames: [String] { store.labelNames }
    let store: SeriesStore<Counter>

    init(name: String, help: String, labelNames: [String]) {
        self.name = name
        self.help = help
        store = SeriesStore(familyName: name, labelNames: labelNames) { Counter() }
    }

    /// The series for these label values (in `labelNames` order), created at zero on first use.
    public func labels(_ values: [String]) -> Counter { store.child(values) }

    /// Drops one series from the exposition; a handle kept elsewhere still works but is no longer exposed.
    public func remove(labels values: [String]) { store.remove(values) }

    public func removeAll(where shouldRemove: ([String]) -> Bool) { store.removeAll(where: shouldRemove) }

    var reservedNames: [String] { [name] }

    func appendExposition(to out: inout String) {
        let series = store.sorted()
        guard !series.isEmpty else { return }
        PrometheusText.appendHeader(name: name, help: help, type: "counter", to: &out)
        for (labels, counter) in series {
            out += name
            PrometheusText.appendLabels(names: store.labelNames, values: labels, to: &out)
            out += " "
            out += counter.formattedValue
            out += "\n"
        }
    }
}

/// A gauge metric with a fixed set of label names. Besides per-series handles it can replace
/// series, for "info" gauges whose labels carry the value (`…_version{version="v7"} 1`).
public final class GaugeFamily: ExposedFamily {
    public let name: String
    public let help: String
    public var labelNames: [String] { store.labelNames }
    let store: SeriesStore<Gauge>

    init(name: String, help: String, labelNames: [String]) {
        self.name = name
        self.help = help
        store = SeriesStore(familyName: name, labelNames: labelNames) { Gauge() }
    }

    /// The series for these label values (in `labelNames` order), created at zero on first use.
    public func labels(_ values: [String]) -> Gauge { store.child(values) }

    /// Sets one series, creating it when missing.
    public func set(labels values: [String], value: Double) { store.child(values).set(value) }

    /// Sets one series and, in the same step, removes every other series for which
    /// `shouldReplace` is true: a scrape sees either the old series or the new one, never both.
    /// For example, a configuration's version: replace the series with the same `configuration`.
    public func set(labels values: [String], value: Double, replacingWhere shouldReplace: ([String]) -> Bool) {
        guard values.count == store.labelNames.count else {
            store.child(values).set(value) // reports the mismatch
            return
        }
        store.withSeries { all in
            for key in all.keys where key != values && shouldReplace(key) {
                all.removeValue(forKey: key)
            }
            let gauge = all[values] ?? store.makeDetached()
            gauge.set(value)
            all[values] = gauge
        }
    }

    /// Replaces every series of the family with these ones, in one step.
    public func replaceAll(_ series: [[String]: Double]) {
        store.withSeries { all in
            var next: [[String]: Gauge] = [:]
            for (values, value) in series {
                guard values.count == store.labelNames.count else {
                    assertionFailure("\(name) takes labels \(store.labelNames), got \(values)")
                    continue
                }
                let gauge = all[values] ?? store.makeDetached()
                gauge.set(value)
                next[values] = gauge
            }
            all = next
        }
    }

    /// Drops one series from the exposition; a handle kept elsewhere still works but is no longer exposed.
    public func remove(labels values: [String]) { store.remove(values) }

    public func removeAll(where shouldRemove: ([String]) -> Bool) { store.removeAll(where: shouldRemove) }

    var reservedNames: [String] { [name] }

    func appendExposition(to out: inout String) {
        let series = store.sorted()
        guard !series.isEmpty else { return }
        PrometheusText.appendHeader(name: name, help: help, type: "gauge", to: &out)
        for (labels, gauge) in series {
            out += name
            PrometheusText.appendLabels(names: store.labelNames, values: labels, to: &out)
            out += " "
            out += PrometheusText.format(gauge.value)
            out += "\n"
        }
    }
}

/// A histogram metric with fixed buckets and a fixed set of label names.
public final class HistogramFamily: ExposedFamily {
    public let name: String
    public let help: String
    /// Finite, strictly increasing; `+Inf` is always added.
    public let upperBounds: [Double]
    public var labelNames: [String] { store.labelNames }
    let store: SeriesStore<Histogram>
    private let boundLabels: [String]

    init(name: String, help: String, labelNames: [String], upperBounds: [Double]) {
        self.name = name
        self.help = help
        self.upperBounds = upperBounds
        boundLabels = upperBounds.map(PrometheusText.format) + ["+Inf"]
        store = SeriesStore(familyName: name, labelNames: labelNames) { Histogram(upperBounds: upperBounds) }
    }

    /// The series for these label values (in `labelNames` order), created empty on first use.
    public func labels(_ values: [String]) -> Histogram { store.child(values) }

    /// Drops one series from the exposition; a handle kept elsewhere still works but is no longer exposed.
    public func remove(labels values: [String]) { store.remove(values) }

    public func removeAll(where shouldRemove: ([String]) -> Bool) { store.removeAll(where: shouldRemove) }

    var reservedNames: [String] { [name, name + "_bucket", name + "_sum", name + "_count"] }

    func appendExposition(to out: inout String) {
        let series = store.sorted()
        guard !series.isEmpty else { return }
        PrometheusText.appendHeader(name: name, help: help, type: "histogram", to: &out)
        let labelNames = store.labelNames
        for (labels, histogram) in series {
            let snapshot = histogram.snapshot
            for (bound, count) in zip(boundLabels, snapshot.cumulativeCounts) {
                out += name
                out += "_bucket"
                PrometheusText.appendLabels(names: labelNames, values: labels, extra: ("le", bound), to: &out)
                out += " \(count)\n"
            }
            out += name
            out += "_sum"
            PrometheusText.appendLabels(names: labelNames, values: labels, to: &out)
            out += " "
            out += PrometheusText.format(snapshot.sum)
            out += "\n"
            out += name
            out += "_count"
            PrometheusText.appendLabels(names: labelNames, values: labels, to: &out)
            out += " \(snapshot.count)\n"
        }
    }
}
