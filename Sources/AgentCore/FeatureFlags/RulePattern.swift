/// The regular expression of a `(matches in::$k pattern::"re")` rule, compiled once into a Thompson
/// NFA and run as a breadth-first simulation (a Pike VM without captures).
///
/// Why not backtracking: a rule comes from whoever edits the configuration and the value from
/// whoever sends the request, and neither may make an evaluation slow. The simulation visits each
/// instruction at most once per input character, so `(a*)*b` against 4 KiB of `a` is as quick as `b`:
/// time is at most (input characters + 1) × program size, both bounded below.
///
/// Semantics: a search, like Go's `regexp.MatchString` or Java's `find` — the pattern may match
/// anywhere in the value; anchor with `^…$` to match the whole value. Matching is by Unicode scalar,
/// case-sensitive.
///
/// Supported syntax: literal characters; `.` (any character but `\n`); classes `[a-z_]`, `[^…]` (a `]`
/// first in a class and a `-` first or last are literal); `\d \w \s` and `\D \W \S` (ASCII classes:
/// `[0-9]`, `[A-Za-z0-9_]`, `[ \t\n\r\f\v]`), also inside classes; escapes `\n \t \r \f \v \0`,
/// `\xHH`, `\uHHHH`, and a backslash before any punctuation (`\. \\ \* \[ \/` …); anchors `^` (start
/// of the value) and `$` (end of the value); groups `( )` and `(?: )`, which only group; alternation
/// `|`; quantifiers `* + ?` and `{m}`, `{m,}`, `{m,n}` (m, n ≤ 1000), each optionally followed by a
/// lazy `?`, which a yes/no match cannot tell apart. A `{` that does not start a valid bound is a
/// literal, as in most engines.
///
/// Refused when the rule compiles (the flag then serves its default): backreferences (`\1`, `\k<…>`),
/// lookaround (`(?=`, `(?!`, `(?<=`, `(?<!`), other `(?…` groups and inline flags, word boundaries
/// `\b \B`, Unicode properties `\p{…}`, any other letter escape, a quantifier with nothing to repeat or
/// directly after another (`a**`, possessive `a*+`), unbalanced parentheses or brackets.
///
/// Bounds: a pattern of at most `maximumPatternBytes` UTF-8 bytes, nesting at most `maximumNesting`
/// groups, and a program of at most `maximumInstructions` once bounded repetitions are expanded
/// (`(a{1000}){1000}` is refused). A value longer than `maximumInputBytes` UTF-8 bytes does not match.
public struct RulePattern: Sendable {
    public static let maximumPatternBytes = 1024
    public static let maximumInputBytes = 4096
    public static let maximumInstructions = 10_000
    public static let maximumRepetition = 1000
    public static let maximumNesting = 100

    enum Instruction: Sendable, Equatable {
        case scalar(UInt32)
        case any
        case set(Int32)
        case split(Int32, Int32)
        case jump(Int32)
        case assertStart
        case assertEnd
        case match
    }

    let program: [Instruction]
    let sets: [ScalarSet]
    /// Every path starts with `^`: once no thread is alive the search can stop.
    let anchoredAtStart: Bool

    public let pattern: String

    public init(_ pattern: String) throws(RuleError) {
        guard pattern.utf8.count <= Self.maximumPatternBytes else {
            throw .invalidPattern("is longer than \(Self.maximumPatternBytes) bytes")
        }
        var parser = PatternParser(scalars: Array(pattern.unicodeScalars))
        let tree = try parser.parse()
        var emitter = ProgramEmitter()
        try emitter.emit(tree)
        emitter.program.append(.match)
        guard emitter.program.count <= Self.maximumInstructions else {
            throw .invalidPattern("expands to more than \(Self.maximumInstructions) instructions; use smaller repetition counts")
        }
        self.program = emitter.program
        self.sets = parser.sets
        self.anchoredAtStart = tree.isAnchoredAtStart
        self.pattern = pattern
    }

    /// Whether the pattern matches somewhere in `input`; false when `input` is longer than
    /// `maximumInputBytes`.
    public func matches(_ input: String) -> Bool {
        withUTF8Bytes(input) { matches(utf8: $0) }
    }

    /// `matches` over valid UTF-8 bytes (a byte that does not start a well-formed sequence reads as
    /// U+FFFD).
    func matches(utf8 input: UnsafeBufferPointer<UInt8>) -> Bool {
        guard input.count <= Self.maximumInputBytes else { return false }
        let size = program.count
        return withUnsafeTemporaryAllocation(of: Int32.self, capacity: 4 * size) { storage -> Bool in
            guard let base = storage.baseAddress else { return false }
            // marks[pc] == generation: pc is already in the list being built for that generation.
            let marks = UnsafeMutableBufferPointer(start: base, count: size)
            var current = UnsafeMutableBufferPointer(start: base + size, count: size)
            var next = UnsafeMutableBufferPointer(start: base + 2 * size, count: size)
            let stack = UnsafeMutableBufferPointer(start: base + 3 * size, count: size)
            marks.initialize(repeating: -1)
            var currentCount = 0
            var nextCount = 0
            var generation: Int32 = 0

            var position = 0
            if addThread(0, generation: generation, atStart: true, atEnd: input.isEmpty,
                         marks: marks, list: current, count: &currentCount, stack: stack) {
                return true
            }
            while position < input.count {
                let value = Self.decodeScalar(input, at: &position)
                let atEnd = position == input.count
                generation += 1
                nextCount = 0
                for index in 0..<currentCount {
                    let pc = Int(current[index])
                    let advances: Bool
                    switch program[pc] {
                    case .scalar(let expected): advances = expected == value
                    case .any: advances = value != 0x0A
                    case .set(let set): advances = sets[Int(set)].contains(value)
                    default: advances = false
                    }
                    if advances, addThread(pc + 1, generation: generation, atStart: false, atEnd: atEnd,
                                           marks: marks, list: next, count: &nextCount, stack: stack) {
                        return true
                    }
                }
                if !anchoredAtStart, addThread(0, generation: generation, atStart: false, atEnd: atEnd,
                                               marks: marks, list: next, count: &nextCount, stack: stack) {
                    return true
                }
                swap(&current, &next)
                currentCount = nextCount
                if currentCount == 0 && anchoredAtStart { return false }
            }
            return false
        }
    }

    /// The scalar starting at `position`, advancing past it.
    @inline(__always) static func decodeScalar(_ bytes: UnsafeBufferPointer<UInt8>, at position: inout Int) -> UInt32 {
        let lead = bytes[position]
        if lead < 0x80 {
            position += 1
            return UInt32(lead)
        }
        let length = lead >= 0xF0 ? 4 : (lead >= 0xE0 ? 3 : (lead >= 0xC0 ? 2 : 0))
        guard length > 0, position + length <= bytes.count else {
            position += 1
            return 0xFFFD
        }
        var value = UInt32(lead) & (0x7F >> UInt32(length))
        for offset in 1..<length {
            let next = bytes[position + offset]
            guard next & 0xC0 == 0x80 else {
                position += 1
                return 0xFFFD
            }
            value = value << 6 | UInt32(next & 0x3F)
        }
        position += length
        return value
    }

    /// Follows the empty transitions from `start`, adding each character-consuming instruction to
    /// `list` once per generation; true when `match` is reachable.
    private func addThread(
        _ start: Int, generation: Int32, atStart: Bool, atEnd: Bool,
        marks: UnsafeMutableBufferPointer<Int32>, list: UnsafeMutableBufferPointer<Int32>, count: inout Int,
        stack: UnsafeMutableBufferPointer<Int32>
    ) -> Bool {
        guard marks[start] != generation else { return false }
        marks[start] = generation
        var depth = 0
        stack[0] = Int32(start)
        depth = 1
        @inline(__always) func push(_ pc: Int) {
            if marks[pc] != generation {
                marks[pc] = generation
                stack[depth] = Int32(pc)
                depth += 1
            }
        }
        while depth > 0 {
            depth -= 1
            let pc = Int(stack[depth])
            switch program[pc] {
            case .match:
                return true
            case .jump(let target):
                push(Int(target))
            case .split(let first, let second):
                push(Int(second))
                push(Int(first))
            case .assertStart:
                if atStart { push(pc + 1) }
            case .assertEnd:
                if atEnd { push(pc + 1) }
            case .scalar, .any, .set:
                list[count] = Int32(pc)
                count += 1
            }
        }
        return false
    }
}

/// A set of Unicode scalar values as sorted, disjoint, non-adjacent closed ranges.
struct ScalarSet: Sendable, Equatable {
    var ranges: [ClosedRange<UInt32>]

    static let maximumScalar: UInt32 = 0x10FFFF

    init(_ ranges: [ClosedRange<UInt32>]) {
        let sorted = ranges.sorted { $0.lowerBound < $1.lowerBound }
        var merged: [ClosedRange<UInt32>] = []
        for range in sorted {
            if let last = merged.last, range.lowerBound <= last.upperBound &+ 1 {
                merged[merged.count - 1] = last.lowerBound...max(last.upperBound, range.upperBound)
            } else {
                merged.append(range)
            }
        }
        self.ranges = merged
    }

    var inverted: ScalarSet {
        var result: [ClosedRange<UInt32>] = []
        var low: UInt32 = 0
        for range in ranges {
            if range.lowerBound > low { result.append(low...(range.lowerBound - 1)) }
            low = range.upperBound &+ 1
        }
        if low <= Self.maximumScalar { result.append(low...Self.maximumScalar) }
        return ScalarSet(result)
    }

    func contains(_ value: UInt32) -> Bool {
        var low = 0
        var high = ranges.count
        while low < high {
            let middle = (low + high) / 2
            let range = ranges[middle]
            if value < range.lowerBound {
                high = middle
            } else if value > range.upperBound {
                low = middle + 1
            } else {
                return true
            }
        }
        return false
    }

    static let digits = ScalarSet([0x30...0x39])
    static let word = ScalarSet([0x30...0x39, 0x41...0x5A, 0x5F...0x5F, 0x61...0x7A])
    static let space = ScalarSet([0x09...0x0D, 0x20...0x20])
}

/// The parsed pattern. Groups leave no node of their own: they only group.
indirect enum PatternNode {
    case empty
    case scalar(UInt32)
    case any
    case set(Int32)
    case start
    case end
    case concatenation([PatternNode])
    case alternation([PatternNode])
    case repetition(PatternNode, minimum: Int, maximum: Int?)

    var isAnchoredAtStart: Bool {
        switch self {
        case .start: true
        case .concatenation(let items): items.first?.isAnchoredAtStart ?? false
        case .alternation(let branches): !branches.isEmpty && branches.allSatisfy(\.isAnchoredAtStart)
        default: false
        }
    }
}

/// Recursive descent over the pattern's scalars; recursion is bounded by `maximumNesting`.
private struct PatternParser {
    let scalars: [Unicode.Scalar]
    var index = 0
    var sets: [ScalarSet] = []

    init(scalars: [Unicode.Scalar]) { self.scalars = scalars }

    func fail(_ message: String) -> RuleError { .invalidPattern("\(message) at offset \(index)") }

    var peek: Unicode.Scalar? { index < scalars.count ? scalars[index] : nil }

    mutating func parse() throws(RuleError) -> PatternNode {
        let tree = try parseAlternation(depth: 0)
        if index < scalars.count { throw fail("has an unmatched ')'") }
        return tree
    }

    mutating func parseAlternation(depth: Int) throws(RuleError) -> PatternNode {
        var branches = [try parseConcatenation(depth: depth)]
        while peek == "|" {
            index += 1
            branches.append(try parseConcatenation(depth: depth))
        }
        return branches.count == 1 ? branches[0] : .alternation(branches)
    }

    mutating func parseConcatenation(depth: Int) throws(RuleError) -> PatternNode {
        var items: [PatternNode] = []
        while let scalar = peek, scalar != "|", scalar != ")" {
            var atom = try parseAtom(depth: depth)
            var quantified = false
            while let (minimum, maximum) = try parseQuantifier() {
                if quantified { throw fail("has a quantifier directly after another (nested or possessive quantifiers are not supported)") }
                quantified = true
                if peek == "?" { index += 1 } // lazy: the same yes/no answer
                atom = .repetition(atom, minimum: minimum, maximum: maximum)
            }
            items.append(atom)
        }
        switch items.count {
        case 0: return .empty
        case 1: return items[0]
        default: return .concatenation(items)
        }
    }

    /// A quantifier at `index`, consumed; nil (nothing consumed) when there is none.
    mutating func parseQuantifier() throws(RuleError) -> (Int, Int?)? {
        switch peek {
        case "*": index += 1; return (0, nil)
        case "+": index += 1; return (1, nil)
        case "?": index += 1; return (0, 1)
        case "{":
            guard let (minimum, maximum, length) = bound(at: index) else { return nil }
            guard minimum <= RulePattern.maximumRepetition, (maximum ?? 0) <= RulePattern.maximumRepetition else {
                throw fail("repeats more than \(RulePattern.maximumRepetition) times")
            }
            if let maximum, maximum < minimum { throw fail("has a repetition {\(minimum),\(maximum)} whose maximum is below its minimum") }
            index += length
            return (minimum, maximum)
        default:
            return nil
        }
    }

    /// `{m}`, `{m,}` or `{m,n}` starting at `start`: the bounds and the length in scalars.
    func bound(at start: Int) -> (Int, Int?, Int)? {
        var position = start + 1
        func number() -> Int? {
            var value = 0
            var digits = 0
            while position < scalars.count, scalars[position].isASCII,
                  let digit = decimalDigit(UInt8(truncatingIfNeeded: scalars[position].value)) {
                value = min(value * 10 + digit, 1_000_000)
                digits += 1
                position += 1
            }
            return digits > 0 ? value : nil
        }
        guard let minimum = number() else { return nil }
        var maximum: Int? = minimum
        if position < scalars.count, scalars[position] == "," {
            position += 1
            maximum = number()
        }
        guard position < scalars.count, scalars[position] == "}" else { return nil }
        return (minimum, maximum, position + 1 - start)
    }

    mutating func parseAtom(depth: Int) throws(RuleError) -> PatternNode {
        guard let scalar = peek else { return .empty }
        switch scalar {
        case "(":
            index += 1
            if peek == "?" {
                let next = index + 1 < scalars.count ? scalars[index + 1] : nil
                switch next {
                case ":": index += 2
                case "=", "!": throw fail("uses lookahead, which is not supported")
                case "<":
                    let third = index + 2 < scalars.count ? scalars[index + 2] : nil
                    if third == "=" || third == "!" { throw fail("uses lookbehind, which is not supported") }
                    throw fail("uses a named group, which is not supported; use ( )")
                default: throw fail("uses a (?… group or inline flag, which is not supported")
                }
            }
            guard depth < RulePattern.maximumNesting else { throw fail("nests groups deeper than \(RulePattern.maximumNesting)") }
            let inner = try parseAlternation(depth: depth + 1)
            guard peek == ")" else { throw fail("is missing a ')'") }
            index += 1
            return inner
        case "[":
            index += 1
            return .set(register(try parseClass()))
        case ".":
            index += 1
            return .any
        case "^":
            index += 1
            return .start
        case "$":
            index += 1
            return .end
        case "\\":
            index += 1
            switch try parseEscape(inClass: false) {
            case .scalar(let value): return .scalar(value)
            case .set(let set): return .set(register(set))
            }
        case "*", "+", "?":
            throw fail("has '\(scalar)' with nothing to repeat")
        case "{":
            if bound(at: index) != nil { throw fail("has a repetition with nothing to repeat") }
            index += 1
            return .scalar(scalar.value)
        default:
            index += 1
            return .scalar(scalar.value)
        }
    }

    mutating func register(_ set: ScalarSet) -> Int32 {
        sets.append(set)
        return Int32(sets.count - 1)
    }

    enum Escaped {
        case scalar(UInt32)
        case set(ScalarSet)
    }

    /// The escape after a backslash (already consumed).
    mutating func parseEscape(inClass: Bool) throws(RuleError) -> Escaped {
        guard let scalar = peek else { throw fail("ends with a lone backslash") }
        index += 1
        switch scalar {
        case "d": return .set(.digits)
        case "D": return .set(ScalarSet.digits.inverted)
        case "w": return .set(.word)
        case "W": return .set(ScalarSet.word.inverted)
        case "s": return .set(.space)
        case "S": return .set(ScalarSet.space.inverted)
        case "n": return .scalar(0x0A)
        case "t": return .scalar(0x09)
        case "r": return .scalar(0x0D)
        case "f": return .scalar(0x0C)
        case "v": return .scalar(0x0B)
        case "0": return .scalar(0)
        case "x": return .scalar(try hexScalar(digits: 2))
        case "u": return .scalar(try hexScalar(digits: 4))
        case "1"..."9", "k": throw fail("uses a backreference, which is not supported")
        case "b" where !inClass, "B": throw fail("uses a word boundary \\\(scalar), which is not supported")
        case "b": return .scalar(0x08)
        case "p", "P": throw fail("uses a Unicode property \\\(scalar), which is not supported")
        default:
            if scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) {
                throw fail("uses an unknown escape \\\(scalar)")
            }
            return .scalar(scalar.value)
        }
    }

    mutating func hexScalar(digits: Int) throws(RuleError) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<digits {
            guard let scalar = peek, let digit = hexValue(scalar) else {
                throw fail("needs \(digits) hexadecimal digits after \\\(digits == 2 ? "x" : "u")")
            }
            value = value * 16 + digit
            index += 1
        }
        guard Unicode.Scalar(value) != nil else { throw fail("escapes a surrogate, which is not a character") }
        return value
    }

    func hexValue(_ scalar: Unicode.Scalar) -> UInt32? {
        switch scalar {
        case "0"..."9": scalar.value - 0x30
        case "a"..."f": scalar.value - 0x61 + 10
        case "A"..."F": scalar.value - 0x41 + 10
        default: nil
        }
    }

    /// A class after its `[` (consumed), through its `]`.
    mutating func parseClass() throws(RuleError) -> ScalarSet {
        var negated = false
        if peek == "^" {
            negated = true
            index += 1
        }
        var ranges: [ClosedRange<UInt32>] = []
        var first = true
        while true {
            guard let scalar = peek else { throw fail("is missing a ']'") }
            if scalar == "]" && !first { index += 1; break }
            first = false
            let low: UInt32
            index += 1
            if scalar == "\\" {
                switch try parseEscape(inClass: true) {
                case .set(let set):
                    ranges.append(contentsOf: set.ranges)
                    continue
                case .scalar(let value):
                    low = value
                }
            } else {
                low = scalar.value
            }
            // A range `low-high`, unless the `-` is last in the class.
            if peek == "-", index + 1 < scalars.count, scalars[index + 1] != "]" {
                index += 1
                guard let highScalar = peek else { throw fail("is missing a ']'") }
                index += 1
                let high: UInt32
                if highScalar == "\\" {
                    switch try parseEscape(inClass: true) {
                    case .set: throw fail("has a range ending in a class escape")
                    case .scalar(let value): high = value
                    }
                } else {
                    high = highScalar.value
                }
                guard low <= high else { throw fail("has a range out of order") }
                ranges.append(low...high)
            } else {
                ranges.append(low...low)
            }
        }
        let set = ScalarSet(ranges)
        return negated ? set.inverted : set
    }
}

/// Emits Thompson-construction code, refusing as soon as the program outgrows its bound.
private struct ProgramEmitter {
    var program: [RulePattern.Instruction] = []

    mutating func append(_ instruction: RulePattern.Instruction) throws(RuleError) {
        guard program.count < RulePattern.maximumInstructions else {
            throw .invalidPattern("expands to more than \(RulePattern.maximumInstructions) instructions; use smaller repetition counts")
        }
        program.append(instruction)
    }

    var here: Int32 { Int32(program.count) }

    mutating func emit(_ node: PatternNode) throws(RuleError) {
        switch node {
        case .empty:
            break
        case .scalar(let value):
            try append(.scalar(value))
        case .any:
            try append(.any)
        case .set(let index):
            try append(.set(index))
        case .start:
            try append(.assertStart)
        case .end:
            try append(.assertEnd)
        case .concatenation(let items):
            for item in items { try emit(item) }
        case .alternation(let branches):
            // split L1, next; L1: branch; jump end; next: split L2, … ; last branch; end:
            var jumps: [Int] = []
            for (position, branch) in branches.enumerated() {
                if position < branches.count - 1 {
                    let split = program.count
                    try append(.split(here + 1, 0))
                    try emit(branch)
                    jumps.append(program.count)
                    try append(.jump(0))
                    program[split] = .split(Int32(split + 1), here)
                } else {
                    try emit(branch)
                }
            }
            for jump in jumps { program[jump] = .jump(here) }
        case .repetition(let inner, let minimum, let maximum):
            if let maximum {
                for _ in 0..<minimum { try emit(inner) }
                // Nested optionals: (x(x(x)?)?)?, each skipping to the end.
                var splits: [Int] = []
                for _ in minimum..<maximum {
                    splits.append(program.count)
                    try append(.split(here + 1, 0))
                    try emit(inner)
                }
                for split in splits { program[split] = .split(Int32(split + 1), here) }
            } else if minimum == 0 {
                // L: split body, out; body; jump L; out:
                let loop = program.count
                try append(.split(here + 1, 0))
                try emit(inner)
                try append(.jump(Int32(loop)))
                program[loop] = .split(Int32(loop + 1), here)
            } else {
                for _ in 0..<(minimum - 1) { try emit(inner) }
                // L: body; split L, out
                let loop = here
                try emit(inner)
                try append(.split(loop, here + 1))
            }
        }
    }
}
