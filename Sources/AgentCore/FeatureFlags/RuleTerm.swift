/// One value of a variant rule, or of a feature-flag document, before compilation: the single input
/// of `RuleCompiler` and `FeatureFlagDocument`.
///
/// It is the small subset of the Ion data model that rules use. The Ion reader's values are converted
/// into it by an adapter; `RuleTextParser` reads the same shapes from Ion text for tests and local
/// development files. Every term may carry annotations (`pct::25` is the integer 25 annotated `pct`).
public struct RuleTerm: Sendable, Equatable {
    public enum Value: Sendable, Equatable {
        /// An Ion symbol: an operator (`eq`), a context reference (`$userId`), or a bare word.
        case symbol(String)
        case string(String)
        /// A 64-bit integer (AWS documents rule integers as 64-bit).
        case integer(Int64)
        /// An Ion decimal in its text form: `12.5`, `-0.0`, `1d-3`, `25.` (exact, never rounded).
        case decimal(String)
        /// A 64-bit IEEE-754 float: `3.14e0`, `1.234e-5`.
        case float(Double)
        /// A timestamp in its text form (Ion or W3C date-time): `2024-01-01T00:00:00Z`, `2024-01`,
        /// `2012-03-04T05:06:07-08:00`. Parsed and checked by the compiler.
        case timestamp(String)
        case bool(Bool)
        /// Ion `null` of any type; rules refuse it, it is kept so that the refusal can name it.
        case null
        /// An Ion list `[a, b]`.
        case list([RuleTerm])
        /// An Ion s-expression `(op a b)`.
        case sexp([RuleTerm])
        /// Something the document holds that cannot be read as a rule value: a symbol or an
        /// annotation whose text is in a shared table we do not have (`symbol $12 (ops#12)`), a
        /// struct, a blob. Any rule containing one does not compile (`RuleError.unresolved`).
        case unreadable(String)
    }

    public var annotations: [String]
    public var value: Value

    public init(_ value: Value, annotations: [String] = []) {
        self.value = value
        self.annotations = annotations
    }

    public static func symbol(_ text: String, annotations: [String] = []) -> RuleTerm {
        RuleTerm(.symbol(text), annotations: annotations)
    }
    public static func string(_ text: String, annotations: [String] = []) -> RuleTerm {
        RuleTerm(.string(text), annotations: annotations)
    }
    public static func integer(_ number: Int64, annotations: [String] = []) -> RuleTerm {
        RuleTerm(.integer(number), annotations: annotations)
    }
    public static func decimal(_ text: String, annotations: [String] = []) -> RuleTerm {
        RuleTerm(.decimal(text), annotations: annotations)
    }
    public static func float(_ number: Double, annotations: [String] = []) -> RuleTerm {
        RuleTerm(.float(number), annotations: annotations)
    }
    public static func timestamp(_ text: String, annotations: [String] = []) -> RuleTerm {
        RuleTerm(.timestamp(text), annotations: annotations)
    }
    public static func bool(_ flag: Bool, annotations: [String] = []) -> RuleTerm {
        RuleTerm(.bool(flag), annotations: annotations)
    }
    public static func list(_ elements: [RuleTerm], annotations: [String] = []) -> RuleTerm {
        RuleTerm(.list(elements), annotations: annotations)
    }
    public static func sexp(_ elements: [RuleTerm], annotations: [String] = []) -> RuleTerm {
        RuleTerm(.sexp(elements), annotations: annotations)
    }

    /// A short description for error messages: `symbol foo`, `string "x"`, `s-expression (eq …)`.
    var summary: String {
        let prefix = annotations.isEmpty ? "" : annotations.map { "\($0)::" }.joined()
        return prefix + valueSummary
    }

    private var valueSummary: String {
        switch value {
        case .symbol(let text): "symbol \(RuleError.clip(text))"
        case .string(let text): "string \"\(RuleError.clip(text))\""
        case .integer(let number): "integer \(number)"
        case .decimal(let text): "decimal \(RuleError.clip(text))"
        case .float(let number): "float \(number)"
        case .timestamp(let text): "timestamp \(RuleError.clip(text))"
        case .bool(let flag): "boolean \(flag)"
        case .null: "null"
        case .unreadable(let what): what
        case .list: "list"
        case .sexp(let elements):
            if case .symbol(let head)? = elements.first?.value { "s-expression (\(RuleError.clip(head)) …)" } else { "s-expression" }
        }
    }
}
