/// Why a variant rule did not compile. The flag that holds it then always serves its default variant,
/// and the caller logs the flag key with `description`.
public enum RuleError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The s-expression's head is not an operator we know: `unknown operator 'foo'`.
    case unknownOperator(String)
    /// Wrong number of operands: `eq needs 2 operands, found 3`.
    case operandCount(operator: String, expected: String, found: Int)
    /// A rule position holds something that is not a rule (an s-expression or `true`/`false`).
    case notARule(found: String)
    /// An operand of the wrong kind or out of range; `message` is complete, e.g.
    /// `split needs pct:: between 0 and 100, found 120`.
    case invalidOperand(operator: String, message: String)
    /// The `matches` pattern is outside the supported syntax or over a bound.
    case invalidPattern(String)
    /// Rules nested deeper than `RuleCompiler.maximumDepth` s-expressions.
    case tooDeep(limit: Int)
    /// The rule holds something that cannot be read (`RuleTerm.Value.unreadable`), typically a
    /// symbol from one of AWS's unpublished shared symbol tables.
    case unresolved(String)

    public var description: String {
        switch self {
        case .unknownOperator(let name): "unknown operator '\(Self.clip(name))'"
        case .operandCount(let name, let expected, let found): "\(name) needs \(expected), found \(found)"
        case .notARule(let found): "expected a rule (an s-expression such as (eq $key \"value\")), found \(found)"
        case .invalidOperand(_, let message): message
        case .invalidPattern(let message): "matches pattern:: \(message)"
        case .tooDeep(let limit): "rule nested deeper than \(limit) s-expressions"
        case .unresolved(let what): "the rule holds \(what), which the agent cannot resolve"
        }
    }

    /// Keeps user text in messages short: at most 64 characters, then `…`.
    static func clip(_ text: String) -> String {
        text.count <= 64 ? text : String(text.prefix(64)) + "…"
    }
}
