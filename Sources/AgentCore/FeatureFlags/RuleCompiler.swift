/// One variant rule, compiled: evaluate it against any number of requests.
///
/// Flags compile their rules through `CompiledFlags`, which shares one table of context keys among
/// all of them; this type is the same compiler for a single rule.
public struct Rule: Sendable {
    let program: RuleProgram
    let root: Int

    /// Compiles `term`. `flagKey` seeds `split` operators that have no `seed::`.
    public init(_ term: RuleTerm, flagKey: String) throws(RuleError) {
        var compiler = RuleCompiler()
        let node = try compiler.compile(term, flagKey: flagKey)
        var builder = RuleProgramBuilder()
        root = builder.append(node)
        program = RuleProgram(builder, keys: compiler.keys)
    }

    /// The context keys the rule reads, in first-use order.
    public var contextKeys: [String] { program.keys.names }

    public func evaluate(_ context: EvaluationContext) -> Bool {
        program.withMachine(context) { $0.evaluate(root) }
    }

    /// The result and the number of rule operations evaluated to reach it (for short-circuit tests).
    func evaluateCountingNodes(_ context: EvaluationContext) -> (Bool, Int) {
        var visits = 0
        let result = withUnsafeMutablePointer(to: &visits) { counter in
            program.withMachine(context, visits: counter) { $0.evaluate(root) }
        }
        return (result, visits)
    }
}

/// Turns `RuleTerm`s into `RuleNode`s, checking operators, operand counts and operand types, and
/// interning every `$key` into a slot.
///
/// Typing of `eq gt gte lt lte` (a comparison that cannot be decided is false, never an error at
/// request time):
/// - a number operand (integer, decimal or float) makes the comparison numeric and exact; the other
///   operand, a context value or a string literal, is converted (`12`, `-1.5`, `2e3`, `.5`);
/// - otherwise a timestamp operand makes it a comparison of instants (see `RuleInstant`);
/// - otherwise a boolean operand makes it a boolean equality (`true`/`false` exactly); only `eq`
///   applies to booleans;
/// - otherwise both are strings, ordered by Unicode scalar values (their UTF-8 bytes).
/// A number against a timestamp or a boolean, or a timestamp against a boolean, does not compile.
/// A context key absent from the request makes any test that reads it false (`not` of it true).
struct RuleCompiler {
    static let maximumDepth = 100

    var keys = ContextKeyTable()
    private var flagKey = ""

    mutating func compile(_ term: RuleTerm, flagKey: String) throws(RuleError) -> RuleNode {
        self.flagKey = flagKey
        // Anything unreadable anywhere refuses the whole rule, whatever position it is in: an
        // unknown symbol could be an operator, an operand or a label, and guessing which would
        // change who gets which variant.
        if let what = Self.firstUnreadable(in: term, depth: 1) { throw .unresolved(what) }
        return try rule(term, depth: 1)
    }

    private static func firstUnreadable(in term: RuleTerm, depth: Int) -> String? {
        guard depth <= maximumDepth else { return nil }  // `rule` reports the depth
        switch term.value {
        case .unreadable(let what): return what
        case .list(let elements), .sexp(let elements):
            for element in elements {
                if let what = firstUnreadable(in: element, depth: depth + 1) { return what }
            }
            return nil
        default: return nil
        }
    }

    private mutating func rule(_ term: RuleTerm, depth: Int) throws(RuleError) -> RuleNode {
        guard depth <= Self.maximumDepth else { throw .tooDeep(limit: Self.maximumDepth) }
        switch term.value {
        case .bool(let value):
            return .constant(value)
        case .sexp(let elements):
            guard let head = elements.first else { throw .notARule(found: "an empty s-expression ()") }
            guard case .symbol(let name) = head.value else {
                throw .notARule(found: "an s-expression that starts with \(head.summary), not an operator")
            }
            let operands = Array(elements.dropFirst())
            switch name {
            case "and", "or":
                guard !operands.isEmpty else { throw .operandCount(operator: name, expected: "at least 1 operand", found: 0) }
                var nodes: [RuleNode] = []
                nodes.reserveCapacity(operands.count)
                for operand in operands { nodes.append(try rule(operand, depth: depth + 1)) }
                return name == "and" ? .and(nodes) : .or(nodes)
            case "not":
                guard operands.count == 1 else { throw .operandCount(operator: name, expected: "1 operand", found: operands.count) }
                return .not(try rule(operands[0], depth: depth + 1))
            case "eq", "gt", "gte", "lt", "lte":
                return try comparison(name, operands)
            case "begins_with", "ends_with", "contains":
                return try stringTest(name, operands)
            case "in":
                return try membership(operands)
            case "matches":
                return try matches(operands)
            case "exists":
                return try exists(operands)
            case "split":
                return try split(operands)
            default:
                throw .unknownOperator(name)
            }
        default:
            throw .notARule(found: term.summary)
        }
    }

    /// An operand as written, before the operator decides its type.
    private enum Literal {
        case string(String)
        case number(RuleNumber)
        case instant(RuleInstant)
        case boolean(Bool)
        case reference(slot: Int)
    }

    private mutating func literal(_ term: RuleTerm, of name: String) throws(RuleError) -> Literal {
        switch term.value {
        case .symbol(let text):
            if text.hasPrefix("$") && text.count > 1 { return .reference(slot: keys.intern(String(text.dropFirst()))) }
            throw .invalidOperand(operator: name, message:
                "\(name) cannot use the bare symbol '\(RuleError.clip(text))': write a string as \"\(RuleError.clip(text))\" or a context value as $name")
        case .string(let text):
            return .string(text)
        case .integer(let value):
            return .number(RuleNumber(value))
        case .decimal(let text):
            guard let number = RuleNumber(parsing: text, allowIonExponent: true) else {
                throw .invalidOperand(operator: name, message:
                    "\(name) cannot use the decimal \(RuleError.clip(text)): malformed, or more than \(RuleNumber.maximumDigits) significant digits")
            }
            return .number(number)
        case .float(let value):
            guard let number = RuleNumber(value) else {
                throw .invalidOperand(operator: name, message: "\(name) cannot use the float \(value)")
            }
            return .number(number)
        case .timestamp(let text):
            guard let instant = RuleInstant(parsing: text) else {
                throw .invalidOperand(operator: name, message: "\(name) cannot use the timestamp \(RuleError.clip(text)): not a valid date-time")
            }
            return .instant(instant)
        case .bool(let value):
            return .boolean(value)
        case .null, .list, .sexp, .unreadable:
            throw .invalidOperand(operator: name, message: "\(name) cannot take \(term.summary) as an operand")
        }
    }

    private func requireUnannotated(_ operands: [RuleTerm], of name: String) throws(RuleError) {
        if let annotated = operands.first(where: { !$0.annotations.isEmpty }) {
            throw .invalidOperand(operator: name, message: "\(name) takes no annotated operands, found \(annotated.summary)")
        }
    }

    private mutating func comparison(_ name: String, _ operands: [RuleTerm]) throws(RuleError) -> RuleNode {
        guard operands.count == 2 else { throw .operandCount(operator: name, expected: "2 operands", found: operands.count) }
        try requireUnannotated(operands, of: name)
        guard let comparison = Comparison(rawValue: name) else { throw .unknownOperator(name) }
        let lhs = try literal(operands[0], of: name)
        let rhs = try literal(operands[1], of: name)
        let kinds = [lhs, rhs]
        let hasNumber = kinds.contains { if case .number = $0 { true } else { false } }
        let hasInstant = kinds.contains { if case .instant = $0 { true } else { false } }
        let hasBoolean = kinds.contains { if case .boolean = $0 { true } else { false } }

        if hasNumber && hasInstant {
            throw .invalidOperand(operator: name, message: "\(name) cannot compare a number with a timestamp")
        }
        if hasBoolean && (hasNumber || hasInstant) {
            throw .invalidOperand(operator: name, message: "\(name) cannot compare a boolean with a \(hasNumber ? "number" : "timestamp")")
        }
        if hasNumber {
            guard let left = convert(lhs, { RuleNumber(parsing: $0) }, { if case .number(let n) = $0 { n } else { nil } }),
                  let right = convert(rhs, { RuleNumber(parsing: $0) }, { if case .number(let n) = $0 { n } else { nil } }) else {
                return .constant(false)
            }
            if case .constant(let l) = left, case .constant(let r) = right {
                return .constant(comparison.holds(RuleNumber.compare(l, r)))
            }
            return .compareNumbers(comparison, left, right)
        }
        if hasInstant {
            guard let left = convert(lhs, { RuleInstant(parsing: $0) }, { if case .instant(let i) = $0 { i } else { nil } }),
                  let right = convert(rhs, { RuleInstant(parsing: $0) }, { if case .instant(let i) = $0 { i } else { nil } }) else {
                return .constant(false)
            }
            if case .constant(let l) = left, case .constant(let r) = right {
                return .constant(comparison.holds(l < r ? -1 : (l == r ? 0 : 1)))
            }
            return .compareInstants(comparison, left, right)
        }
        if hasBoolean {
            guard comparison == .eq else {
                throw .invalidOperand(operator: name, message: "\(name) cannot order booleans; only eq compares them")
            }
            guard let left = convert(lhs, parseBoolean, { if case .boolean(let b) = $0 { b } else { nil } }),
                  let right = convert(rhs, parseBoolean, { if case .boolean(let b) = $0 { b } else { nil } }) else {
                return .constant(false)
            }
            if case .constant(let l) = left, case .constant(let r) = right { return .constant(l == r) }
            return .equalBooleans(left, right)
        }
        let left = stringOperand(lhs)
        let right = stringOperand(rhs)
        if case .constant(let l) = left, case .constant(let r) = right {
            return .constant(l.withUnsafeBufferPointer { a in r.withUnsafeBufferPointer { b in comparison.holds(compareBytes(a, b)) } })
        }
        return .compareStrings(comparison, left, right)
    }

    /// The operand in the comparison's type: a literal of that type as is, a string literal converted
    /// now (nil when it does not convert: the comparison is then always false), a reference later.
    private func convert<Value>(
        _ literal: Literal, _ parse: (String) -> Value?, _ typed: (Literal) -> Value?
    ) -> Operand<Value>? {
        switch literal {
        case .reference(let slot): return .context(slot: slot)
        case .string(let text): return parse(text).map { .constant($0) }
        default: return typed(literal).map { .constant($0) }
        }
    }

    /// Only called with strings and references.
    private func stringOperand(_ literal: Literal) -> StringOperand {
        switch literal {
        case .reference(let slot): .context(slot: slot)
        case .string(let text): .constant(Array(text.utf8))
        default: .constant([])
        }
    }

    /// A string literal or a `$reference`, for the string operators.
    private mutating func textOperand(_ term: RuleTerm, of name: String, role: String) throws(RuleError) -> StringOperand {
        switch term.value {
        case .string(let text): return .constant(Array(text.utf8))
        case .symbol(let text) where text.hasPrefix("$") && text.count > 1:
            return .context(slot: keys.intern(String(text.dropFirst())))
        default:
            throw .invalidOperand(operator: name, message: "\(name) needs \(role) that is a string or a $reference, found \(term.summary)")
        }
    }

    private mutating func stringTest(_ name: String, _ operands: [RuleTerm]) throws(RuleError) -> RuleNode {
        guard operands.count == 2 else { throw .operandCount(operator: name, expected: "2 operands", found: operands.count) }
        try requireUnannotated(operands, of: name)
        guard let test = StringTest(rawValue: name) else { throw .unknownOperator(name) }
        let subject = try textOperand(operands[0], of: name, role: "a first operand")
        let part = try textOperand(operands[1], of: name, role: "a second operand")
        if case .constant(let s) = subject, case .constant(let p) = part {
            return .constant(s.withUnsafeBufferPointer { a in p.withUnsafeBufferPointer { b in test.holds(a, b) } })
        }
        return .stringTest(test, subject, part)
    }

    private mutating func membership(_ operands: [RuleTerm]) throws(RuleError) -> RuleNode {
        guard operands.count == 2 else { throw .operandCount(operator: "in", expected: "2 operands", found: operands.count) }
        try requireUnannotated(operands, of: "in")
        let subject = try textOperand(operands[0], of: "in", role: "a first operand")
        guard case .list(let elements) = operands[1].value else {
            throw .invalidOperand(operator: "in", message: "in needs a list as its second operand, such as [\"a\" \"b\"], found \(operands[1].summary)")
        }
        var list = MembershipList()
        for element in elements {
            guard element.annotations.isEmpty else {
                throw .invalidOperand(operator: "in", message: "in takes no annotated list elements, found \(element.summary)")
            }
            switch element.value {
            case .string(let text): list.strings.append(Array(text.utf8))
            case .bool(let value): list.booleans.append(value)
            case .integer, .decimal, .float, .timestamp:
                switch try literal(element, of: "in") {
                case .number(let number): list.numbers.append(number)
                case .instant(let instant): list.instants.append(instant)
                default: break
                }
            default:
                throw .invalidOperand(operator: "in", message: "in lists hold strings, numbers, timestamps and booleans, found \(element.summary)")
            }
        }
        list.strings.sort { a, b in
            a.withUnsafeBufferPointer { x in b.withUnsafeBufferPointer { y in compareBytes(x, y) < 0 } }
        }
        if case .constant(let bytes) = subject {
            return .constant(bytes.withUnsafeBufferPointer { list.contains($0) })
        }
        return .membership(subject, list)
    }

    /// Operands that must each carry one annotation from `allowed`, at most once each.
    private func named(_ operands: [RuleTerm], of name: String, allowed: [String]) throws(RuleError) -> [String: RuleTerm] {
        let expected = allowed.map { "\($0)::" }.joined(separator: ", ")
        var result: [String: RuleTerm] = [:]
        for operand in operands {
            guard operand.annotations.count == 1, let label = operand.annotations.first else {
                throw .invalidOperand(operator: name, message: "\(name) takes annotated operands (\(expected)), found \(operand.summary)")
            }
            guard allowed.contains(label) else {
                throw .invalidOperand(operator: name, message: "\(name) does not take \(RuleError.clip(label))::; it takes \(expected)")
            }
            guard result[label] == nil else {
                throw .invalidOperand(operator: name, message: "\(name) has \(label):: twice")
            }
            result[label] = operand
        }
        return result
    }

    private mutating func matches(_ operands: [RuleTerm]) throws(RuleError) -> RuleNode {
        let named = try named(operands, of: "matches", allowed: ["in", "pattern"])
        guard let subjectTerm = named["in"], let patternTerm = named["pattern"] else {
            throw .invalidOperand(operator: "matches", message: "matches needs in:: and pattern::, as in (matches in::$key pattern::\"^a.*\")")
        }
        let subject = try textOperand(subjectTerm, of: "matches", role: "in::")
        guard case .string(let text) = patternTerm.value else {
            throw .invalidOperand(operator: "matches", message: "matches needs pattern:: to be a string, found \(patternTerm.summary)")
        }
        let pattern = try RulePattern(text)
        if case .constant(let bytes) = subject {
            return .constant(pattern.matches(String(decoding: bytes, as: UTF8.self)))
        }
        return .matches(subject, pattern)
    }

    /// `(exists key::"k")`; `(exists $k)` is accepted too.
    private mutating func exists(_ operands: [RuleTerm]) throws(RuleError) -> RuleNode {
        guard operands.count == 1 else { throw .operandCount(operator: "exists", expected: "1 operand", found: operands.count) }
        let operand = operands[0]
        switch (operand.annotations, operand.value) {
        case (["key"], .string(let key)) where !key.isEmpty:
            return .exists(slot: keys.intern(key))
        case ([], .symbol(let text)) where text.hasPrefix("$") && text.count > 1:
            return .exists(slot: keys.intern(String(text.dropFirst())))
        default:
            throw .invalidOperand(operator: "exists", message: "exists needs key:: with a non-empty string, as in (exists key::\"userId\"), found \(operand.summary)")
        }
    }

    private mutating func split(_ operands: [RuleTerm]) throws(RuleError) -> RuleNode {
        let named = try named(operands, of: "split", allowed: ["pct", "by", "seed"])
        let range = "split needs pct:: between 0 and 100"
        guard let pctTerm = named["pct"] else { throw .invalidOperand(operator: "split", message: range) }
        let percent: RuleNumber
        switch pctTerm.value {
        case .integer, .decimal, .float:
            guard case .number(let number) = try literal(RuleTerm(pctTerm.value), of: "split") else {
                throw .invalidOperand(operator: "split", message: range)
            }
            percent = number
        default:
            throw .invalidOperand(operator: "split", message: "\(range), found \(pctTerm.summary)")
        }
        guard percent >= RuleNumber(0), percent <= RuleNumber(100) else {
            throw .invalidOperand(operator: "split", message: "\(range), found \(percent)")
        }
        var slot: Int? = nil
        if let byTerm = named["by"] {
            guard case .symbol(let text) = byTerm.value, text.hasPrefix("$"), text.count > 1 else {
                throw .invalidOperand(operator: "split", message: "split needs by:: to be a context value such as $userId, found \(byTerm.summary)")
            }
            slot = keys.intern(String(text.dropFirst()))
        }
        var seed = flagKey
        if let seedTerm = named["seed"] {
            guard case .string(let text) = seedTerm.value else {
                throw .invalidOperand(operator: "split", message: "split needs seed:: to be a string, found \(seedTerm.summary)")
            }
            seed = text
        }
        return .split(SplitTest(prefix: Array(seed.utf8) + [0], slot: slot, threshold: SplitHash.threshold(percent: percent)))
    }
}
