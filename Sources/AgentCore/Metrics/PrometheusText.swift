import Synchronization

/// Prometheus text exposition format 0.0.4: name rules, escaping and number formatting.
/// https://prometheus.io/docs/instrumenting/exposition_formats/
enum PrometheusText {
    /// What `/metrics` answers with in its `Content-Type` header.
    static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    /// `[a-zA-Z_:][a-zA-Z0-9_:]*`
    static func isValidMetricName(_ name: String) -> Bool {
        isValid(name, allowColon: true)
    }

    /// `[a-zA-Z_][a-zA-Z0-9_]*`, and not `__…`, which Prometheus keeps for itself.
    static func isValidLabelName(_ name: String) -> Bool {
        isValid(name, allowColon: false) && !name.hasPrefix("__")
    }

    private static func isValid(_ name: String, allowColon: Bool) -> Bool {
        guard !name.isEmpty else { return false }
        for (offset, byte) in name.utf8.enumerated() {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "_"):
                continue
            case UInt8(ascii: ":") where allowColon:
                continue
            case UInt8(ascii: "0")...UInt8(ascii: "9") where offset > 0:
                continue
            default:
                return false
            }
        }
        return true
    }

    /// A sample value or `le` bound as Prometheus (Go's `ParseFloat`) and Python's `float` read it:
    /// `NaN`, `+Inf`, `-Inf`, integers without a fraction, otherwise Swift's shortest round-trip form
    /// (`0.25`, `5e-05`), which never depends on a locale.
    static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value == .infinity { return "+Inf" }
        if value == -.infinity { return "-Inf" }
        if value == value.rounded(.towardZero), value.magnitude < 1e15 {
            return String(Int64(value))
        }
        return value.description
    }

    /// Label values escape `\`, `"` and newline.
    static func appendEscapedLabelValue(_ value: String, to out: inout String) {
        guard value.utf8.contains(where: { $0 == UInt8(ascii: "\\") || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\n") }) else {
            out += value
            return
        }
        for character in value.unicodeScalars {
            switch character {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(character)
            }
        }
    }

    /// `# HELP` text escapes `\` and newline (quotes stay as they are).
    static func escapeHelp(_ help: String) -> String {
        var out = ""
        out.reserveCapacity(help.utf8.count)
        for character in help.unicodeScalars {
            switch character {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(character)
            }
        }
        return out
    }

    /// `{a="x",b="y"}`, with an optional last pair (a histogram's `le`); nothing when there are no labels.
    static func appendLabels(names: [String], values: [String], extra: (name: String, value: String)? = nil,
                             to out: inout String) {
        guard !names.isEmpty || extra != nil else { return }
        out += "{"
        var first = true
        for (name, value) in zip(names, values) {
            if !first { out += "," }
            first = false
            out += name
            out += "=\""
            appendEscapedLabelValue(value, to: &out)
            out += "\""
        }
        if let extra {
            if !first { out += "," }
            out += extra.name
            out += "=\""
            appendEscapedLabelValue(extra.value, to: &out)
            out += "\""
        }
        out += "}"
    }

    static func appendHeader(name: String, help: String, type: String, to out: inout String) {
        out += "# HELP \(name) \(escapeHelp(help))\n"
        out += "# TYPE \(name) \(type)\n"
    }
}

extension Atomic where Value == UInt64 {
    /// Adds to a `Double` kept as its bit pattern; a compare-and-swap loop, retried only when another
    /// thread changed the value in between.
    func addDouble(_ delta: Double) {
        var current = load(ordering: .relaxed)
        while true {
            let next = (Double(bitPattern: current) + delta).bitPattern
            let (exchanged, original) = weakCompareExchange(
                expected: current, desired: next, successOrdering: .relaxed, failureOrdering: .relaxed)
            if exchanged { return }
            current = original
        }
    }

    var doubleValue: Double { Double(bitPattern: load(ordering: .relaxed)) }
}
