import Synchronization

// Design: like swift-metrics, a cheap front end and one process-wide set-up, but without a handler
// protocol: the only back end the agent needs is Prometheus text, so families write it themselves.
// Registration and scrapes take locks; updates are atomics on series objects that call sites keep.

/// A set of metric families, written out as Prometheus text. `shared` is the agent's;
/// tests make their own.
public final class MetricsRegistry: Sendable {
    /// The process-wide registry that `/metrics` exposes.
    public static let shared = MetricsRegistry()

    /// The `Content-Type` of `exposition()`.
    public static let contentType = PrometheusText.contentType

    private let families = Mutex<[String: any ExposedFamily]>([:])

    public init() {}

    /// Registers a counter family, or returns the one already registered under `name` with the
    /// same help and label names.
    public func counterFamily(_ name: String, help: String, labelNames: [String] = []) throws(MetricsError) -> CounterFamily {
        try validate(name: name, labelNames: labelNames)
        return try register(name: name) {
            CounterFamily(name: name, help: help, labelNames: labelNames)
        } matches: { (existing: CounterFamily) in
            existing.help == help && existing.labelNames == labelNames
        }
    }

    /// Registers a gauge family, or returns the one already registered under `name` with the
    /// same help and label names.
    public func gaugeFamily(_ name: String, help: String, labelNames: [String] = []) throws(MetricsError) -> GaugeFamily {
        try validate(name: name, labelNames: labelNames)
        return try register(name: name) {
            GaugeFamily(name: name, help: help, labelNames: labelNames)
        } matches: { (existing: GaugeFamily) in
            existing.help == help && existing.labelNames == labelNames
        }
    }

    /// Registers a histogram family with these finite, strictly increasing bucket upper bounds
    /// (`+Inf` is added; a trailing `+Inf` given here is ignored), or returns the identical one
    /// already registered.
    public func histogramFamily(_ name: String, help: String, labelNames: [String] = [],
                                buckets: [Double]) throws(MetricsError) -> HistogramFamily {
        try validate(name: name, labelNames: labelNames)
        if labelNames.contains("le") { throw .reservedLabelName(metric: name, label: "le") }
        var bounds = buckets
        if bounds.last == .infinity { bounds.removeLast() }
        for (index, bound) in bounds.enumerated() {
            guard bound.isFinite else { throw .invalidBuckets(metric: name, reason: "bound \(bound) is not finite") }
            if index > 0, bound <= bounds[index - 1] {
                throw .invalidBuckets(metric: name, reason: "bounds must increase strictly, \(bound) follows \(bounds[index - 1])")
            }
        }
        return try register(name: name) {
            HistogramFamily(name: name, help: help, labelNames: labelNames, upperBounds: bounds)
        } matches: { (existing: HistogramFamily) in
            existing.help == help && existing.labelNames == labelNames && existing.upperBounds == bounds
        }
    }

    /// A counter without labels.
    public func counter(_ name: String, help: String) throws(MetricsError) -> Counter {
        try counterFamily(name, help: help).labels([])
    }

    /// A gauge without labels.
    public func gauge(_ name: String, help: String) throws(MetricsError) -> Gauge {
        try gaugeFamily(name, help: help).labels([])
    }

    /// A histogram without labels.
    public func histogram(_ name: String, help: String, buckets: [Double]) throws(MetricsError) -> Histogram {
        try histogramFamily(name, help: help, buckets: buckets).labels([])
    }

    /// Every family with at least one series, in Prometheus text format 0.0.4: families by name,
    /// series by label values.
    public func exposition() -> String {
        let all = families.withLock { Array($0.values) }.sorted { $0.name < $1.name }
        var out = ""
        out.reserveCapacity(all.count * 256)
        for family in all {
            family.appendExposition(to: &out)
        }
        return out
    }

    private func validate(name: String, labelNames: [String]) throws(MetricsError) {
        guard PrometheusText.isValidMetricName(name) else { throw .invalidMetricName(name) }
        var seen = Set<String>()
        for label in labelNames {
            guard PrometheusText.isValidLabelName(label) else { throw .invalidLabelName(metric: name, label: label) }
            guard seen.insert(label).inserted else { throw .duplicateLabelName(metric: name, label: label) }
        }
    }

    private func register<Family: ExposedFamily>(
        name: String, make: () -> Family, matches: (Family) -> Bool
    ) throws(MetricsError) -> Family {
        let result: Result<Family, MetricsError> = families.withLock { all in
            if let existing = all[name] {
                if let same = existing as? Family, matches(same) { return .success(same) }
                return .failure(.alreadyRegistered(name))
            }
            let family = make()
            let taken = Set(all.values.lazy.flatMap(\.reservedNames))
            if let clash = family.reservedNames.first(where: taken.contains) {
                return .failure(.nameCollision(metric: name, sample: clash))
            }
            all[name] = family
            return .success(family)
        }
        return try result.get()
    }
}

/// Why a family could not be registered. Each is a programming error in the code that registers it.
public enum MetricsError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalidMetricName(String)
    case invalidLabelName(metric: String, label: String)
    case duplicateLabelName(metric: String, label: String)
    case reservedLabelName(metric: String, label: String)
    case invalidBuckets(metric: String, reason: String)
    case alreadyRegistered(String)
    case nameCollision(metric: String, sample: String)

    public var description: String {
        switch self {
        case .invalidMetricName(let name):
            "metric name \"\(name)\" is invalid; use [a-zA-Z_:][a-zA-Z0-9_:]*"
        case .invalidLabelName(let metric, let label):
            "label name \"\(label)\" of \(metric) is invalid; use [a-zA-Z_][a-zA-Z0-9_]* not starting with __"
        case .duplicateLabelName(let metric, let label):
            "label name \"\(label)\" appears twice in \(metric); list each label once"
        case .reservedLabelName(let metric, let label):
            "label name \"\(label)\" of \(metric) is reserved for histogram buckets; rename it"
        case .invalidBuckets(let metric, let reason):
            "buckets of \(metric) are invalid: \(reason); give finite, strictly increasing bounds"
        case .alreadyRegistered(let name):
            "metric \(name) is already registered with another type, help or labels; reuse the existing family"
        case .nameCollision(let metric, let sample):
            "metric \(metric) would write samples named \(sample), which another family already writes; rename one"
        }
    }
}
