/// A checked rule: a tree of typed tests whose context references are slot numbers, built by
/// `RuleCompiler` and then flattened into a `RuleProgram`, which is what requests evaluate.
indirect enum RuleNode: Sendable {
    case constant(Bool)
    case and([RuleNode])
    case or([RuleNode])
    case not(RuleNode)
    case compareStrings(Comparison, StringOperand, StringOperand)
    case compareNumbers(Comparison, Operand<RuleNumber>, Operand<RuleNumber>)
    case compareInstants(Comparison, Operand<RuleInstant>, Operand<RuleInstant>)
    case equalBooleans(Operand<Bool>, Operand<Bool>)
    case stringTest(StringTest, StringOperand, StringOperand)
    case membership(StringOperand, MembershipList)
    case matches(StringOperand, RulePattern)
    case exists(slot: Int)
    case split(SplitTest)
}

enum Comparison: String, Sendable {
    case eq, gt, gte, lt, lte

    /// Whether the comparison holds for an ordering of -1, 0 or 1.
    @inline(__always) func holds(_ order: Int) -> Bool {
        switch self {
        case .eq: order == 0
        case .gt: order > 0
        case .gte: order >= 0
        case .lt: order < 0
        case .lte: order <= 0
        }
    }
}

enum StringTest: String, Sendable {
    case beginsWith = "begins_with"
    case endsWith = "ends_with"
    case contains
}

/// A typed operand: a literal converted when the rule compiled, or a context value converted when
/// the rule runs.
enum Operand<Value: Sendable>: Sendable {
    case constant(Value)
    case context(slot: Int)
}

enum StringOperand: Sendable {
    case constant([UInt8])
    case context(slot: Int)
}

/// The literals of an `in` list, grouped by type; a value is a member when it equals one of them.
struct MembershipList: Sendable {
    /// Sorted by bytes, for a binary search.
    var strings: [[UInt8]] = []
    var numbers: [RuleNumber] = []
    var instants: [RuleInstant] = []
    var booleans: [Bool] = []
}

/// `(split pct::N by::$k seed::"s")`, see `SplitHash`.
struct SplitTest: Sendable {
    /// The seed (or the flag key) and the 0 separator, ready for the value to be appended.
    let prefix: [UInt8]
    /// The `by::` context value; nil means the request's `Entity-Id`.
    let slot: Int?
    /// Holds when the hash is below this (0 never holds, 2^64 always does).
    let threshold: UInt128
}

/// `true` and `false`, exactly, as in JSON and Ion.
func parseBoolean(_ text: String) -> Bool? {
    switch text {
    case "true": true
    case "false": false
    default: nil
    }
}

func parseBoolean(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool? {
    if bytes.elementsEqual("true".utf8) { return true }
    if bytes.elementsEqual("false".utf8) { return false }
    return nil
}

/// Lexicographic order of UTF-8 bytes, which is the order of Unicode scalar values.
func compareBytes(_ lhs: UnsafeBufferPointer<UInt8>, _ rhs: UnsafeBufferPointer<UInt8>) -> Int {
    let common = min(lhs.count, rhs.count)
    if common > 0, let left = lhs.baseAddress, let right = rhs.baseAddress {
        let order = memoryCompare(left, right, common)
        if order != 0 { return order }
    }
    return lhs.count == rhs.count ? 0 : (lhs.count < rhs.count ? -1 : 1)
}

@inline(__always) private func memoryCompare(_ lhs: UnsafePointer<UInt8>, _ rhs: UnsafePointer<UInt8>, _ count: Int) -> Int {
    for index in 0..<count where lhs[index] != rhs[index] {
        return lhs[index] < rhs[index] ? -1 : 1
    }
    return 0
}

extension StringTest {
    func holds(_ subject: UnsafeBufferPointer<UInt8>, _ part: UnsafeBufferPointer<UInt8>) -> Bool {
        guard part.count <= subject.count else { return false }
        if part.isEmpty { return true }
        switch self {
        case .beginsWith:
            return equalBytes(subject, from: 0, part)
        case .endsWith:
            return equalBytes(subject, from: subject.count - part.count, part)
        case .contains:
            // Byte search over valid UTF-8 finds only whole characters: a lead byte never matches a
            // continuation byte. Quadratic at worst, and both sides are bounded (header, rule).
            let first = part[0]
            for start in 0...(subject.count - part.count) where subject[start] == first {
                if equalBytes(subject, from: start, part) { return true }
            }
            return false
        }
    }
}

@inline(__always) private func equalBytes(_ subject: UnsafeBufferPointer<UInt8>, from start: Int, _ part: UnsafeBufferPointer<UInt8>) -> Bool {
    for index in 0..<part.count where subject[start + index] != part[index] { return false }
    return true
}

extension MembershipList {
    func contains(_ subject: UnsafeBufferPointer<UInt8>) -> Bool {
        if !strings.isEmpty {
            var low = 0
            var high = strings.count
            while low < high {
                let middle = (low + high) / 2
                let order = strings[middle].withUnsafeBufferPointer { compareBytes(subject, $0) }
                if order == 0 { return true }
                if order < 0 { high = middle } else { low = middle + 1 }
            }
        }
        if !numbers.isEmpty, let number = RuleNumber.parse(subject, allowIonExponent: false), numbers.contains(number) {
            return true
        }
        if !instants.isEmpty, let instant = RuleInstant.parse(subject), instants.contains(instant) {
            return true
        }
        if !booleans.isEmpty, let boolean = parseBoolean(subject), booleans.contains(boolean) {
            return true
        }
        return false
    }
}
