/// The rules of one configuration version flattened into tables of plain values, which is what each
/// request evaluates.
///
/// Why flat: walking a tree of enums, arrays and strings retains and releases at every step, and
/// that reference counting measured as most of an evaluation's cost. Here a rule is an index into
/// `operations`, every constant is a span of `bytes` or a trivial value, and a request's context is a
/// byte buffer with a span per slot, so an evaluation allocates nothing on the heap and touches no
/// reference counts (only a `matches` test reaches one compiled pattern).
///
/// Layout: a rule's operations are in prefix order; `and`, `or` and `not` record where their subtree
/// ends, so that a short-circuit can skip the remaining operands.
///
/// A class with constant fields, so that holding or passing a program is one reference, not ten.
final class RuleProgram: Sendable {
    let operations: [RuleOperation]
    /// String constants and split prefixes.
    let bytes: [UInt8]
    /// The strings of `in` lists, each list's sorted by bytes.
    let listStrings: [ByteSpan]
    let listNumbers: [RuleNumber]
    let listInstants: [RuleInstant]
    let patterns: [RulePattern]
    let keys: ContextKeyTable
    /// Distinct (seed, `by::`) pairs of splits: one hash each per request.
    let splitMemoCount: Int

    init(_ builder: RuleProgramBuilder, keys: ContextKeyTable) {
        operations = builder.operations
        bytes = builder.bytes
        listStrings = builder.listStrings
        listNumbers = builder.listNumbers
        listInstants = builder.listInstants
        patterns = builder.patterns
        splitMemoCount = builder.splitMemoCount
        self.keys = keys
    }

    /// Runs `body` with a machine for `context`: slots resolved once, split memos cleared.
    func withMachine<Result>(
        _ context: EvaluationContext, visits: UnsafeMutablePointer<Int>? = nil, _ body: (RuleMachine) -> Result
    ) -> Result {
        operations.withUnsafeBufferPointer { operations in
        bytes.withUnsafeBufferPointer { bytes in
        listStrings.withUnsafeBufferPointer { listStrings in
        listNumbers.withUnsafeBufferPointer { listNumbers in
        listInstants.withUnsafeBufferPointer { listInstants in
        patterns.withUnsafeBufferPointer { patterns in
        context.storage.withUnsafeBufferPointer { contextBytes in
        withUnsafeTemporaryAllocation(of: ByteSpan.self, capacity: max(keys.count, 1)) { slots in
        withUnsafeTemporaryAllocation(of: UInt64.self, capacity: max(splitMemoCount, 1)) { hashes in
        withUnsafeTemporaryAllocation(of: Bool.self, capacity: max(splitMemoCount, 1)) { known in
            slots.initialize(repeating: .absent)
            known.initialize(repeating: false)
            if keys.count > 0 {
                for pair in context.pairs {
                    if let slot = keys.slot(of: contextBytes.slice(pair.key)) { slots[slot] = pair.value }
                }
            }
            let machine = RuleMachine(
                operations: operations, bytes: bytes, listStrings: listStrings, listNumbers: listNumbers,
                listInstants: listInstants, patterns: patterns, contextBytes: contextBytes,
                slots: UnsafeBufferPointer(slots), entity: context.entity, hashes: hashes, known: known, visits: visits)
            return body(machine)
        }}}}}}}}}}
    }
}

/// Collects the flattened rules of one configuration; `RuleProgram` freezes them.
struct RuleProgramBuilder {
    private(set) var operations: [RuleOperation] = []
    private(set) var bytes: [UInt8] = []
    private(set) var listStrings: [ByteSpan] = []
    private(set) var listNumbers: [RuleNumber] = []
    private(set) var listInstants: [RuleInstant] = []
    private(set) var patterns: [RulePattern] = []
    private var splitMemos: [SplitMemoKey: Int] = [:]

    private struct SplitMemoKey: Hashable {
        let prefix: [UInt8]
        let slot: Int
    }

    var splitMemoCount: Int { splitMemos.count }

    /// Appends `node` and returns the index of its first operation.
    mutating func append(_ node: RuleNode) -> Int {
        let start = operations.count
        switch node {
        case .constant(let value):
            operations.append(.constant(value))
        case .and(let operands), .or(let operands):
            let isAnd = if case .and = node { true } else { false }
            operations.append(.constant(false)) // placeholder until the end is known
            for operand in operands { _ = append(operand) }
            operations[start] = isAnd ? .and(end: operations.count) : .or(end: operations.count)
        case .not(let operand):
            operations.append(.constant(false))
            _ = append(operand)
            operations[start] = .not(end: operations.count)
        case .compareStrings(let comparison, let lhs, let rhs):
            operations.append(.compareStrings(comparison, reference(lhs), reference(rhs)))
        case .compareNumbers(let comparison, let lhs, let rhs):
            operations.append(.compareNumbers(comparison, NumberReference(lhs), NumberReference(rhs)))
        case .compareInstants(let comparison, let lhs, let rhs):
            operations.append(.compareInstants(comparison, InstantReference(lhs), InstantReference(rhs)))
        case .equalBooleans(let lhs, let rhs):
            operations.append(.equalBooleans(BooleanReference(lhs), BooleanReference(rhs)))
        case .stringTest(let test, let lhs, let rhs):
            operations.append(.stringTest(test, reference(lhs), reference(rhs)))
        case .membership(let subject, let list):
            let strings = listStrings.count
            for string in list.strings { listStrings.append(store(string)) }
            let numbers = listNumbers.count
            listNumbers.append(contentsOf: list.numbers)
            let instants = listInstants.count
            listInstants.append(contentsOf: list.instants)
            let members = Membership(
                strings: ByteSpan(start: strings, count: list.strings.count),
                numbers: ByteSpan(start: numbers, count: list.numbers.count),
                instants: ByteSpan(start: instants, count: list.instants.count),
                acceptsTrue: list.booleans.contains(true), acceptsFalse: list.booleans.contains(false))
            operations.append(.membership(reference(subject), members))
        case .matches(let subject, let pattern):
            patterns.append(pattern)
            operations.append(.matches(reference(subject), pattern: patterns.count - 1))
        case .exists(let slot):
            operations.append(.exists(slot: slot))
        case .split(let test):
            let slot = test.slot ?? -1
            let key = SplitMemoKey(prefix: test.prefix, slot: slot)
            let memo = splitMemos[key] ?? splitMemos.count
            splitMemos[key] = memo
            operations.append(.split(Split(prefix: store(test.prefix), slot: slot, memo: memo, threshold: test.threshold)))
        }
        return start
    }

    private mutating func store(_ constant: [UInt8]) -> ByteSpan {
        let span = ByteSpan(start: bytes.count, count: constant.count)
        bytes.append(contentsOf: constant)
        return span
    }

    private mutating func reference(_ operand: StringOperand) -> StringReference {
        switch operand {
        case .constant(let constant): .constant(store(constant))
        case .context(let slot): .context(slot: slot)
        }
    }
}

/// One step of a flattened rule. Every payload is a plain value.
enum RuleOperation: Sendable {
    case constant(Bool)
    /// Operands follow, up to `end` (exclusive).
    case and(end: Int)
    case or(end: Int)
    /// The operand follows, up to `end`.
    case not(end: Int)
    case compareStrings(Comparison, StringReference, StringReference)
    case compareNumbers(Comparison, NumberReference, NumberReference)
    case compareInstants(Comparison, InstantReference, InstantReference)
    case equalBooleans(BooleanReference, BooleanReference)
    case stringTest(StringTest, StringReference, StringReference)
    case membership(StringReference, Membership)
    case matches(StringReference, pattern: Int)
    case exists(slot: Int)
    case split(Split)
}

enum StringReference: Sendable {
    case constant(ByteSpan)
    case context(slot: Int)
}

enum NumberReference: Sendable {
    case constant(RuleNumber)
    case context(slot: Int)

    init(_ operand: Operand<RuleNumber>) {
        switch operand {
        case .constant(let value): self = .constant(value)
        case .context(let slot): self = .context(slot: slot)
        }
    }
}

enum InstantReference: Sendable {
    case constant(RuleInstant)
    case context(slot: Int)

    init(_ operand: Operand<RuleInstant>) {
        switch operand {
        case .constant(let value): self = .constant(value)
        case .context(let slot): self = .context(slot: slot)
        }
    }
}

enum BooleanReference: Sendable {
    case constant(Bool)
    case context(slot: Int)

    init(_ operand: Operand<Bool>) {
        switch operand {
        case .constant(let value): self = .constant(value)
        case .context(let slot): self = .context(slot: slot)
        }
    }
}

/// An `in` list: ranges of the program's list tables.
struct Membership: Sendable {
    let strings: ByteSpan
    let numbers: ByteSpan
    let instants: ByteSpan
    let acceptsTrue: Bool
    let acceptsFalse: Bool
}

struct Split: Sendable {
    let prefix: ByteSpan
    /// -1: the request's Entity-Id.
    let slot: Int
    let memo: Int
    let threshold: UInt128
}

/// Evaluates a `RuleProgram` for one request. Every field is a pointer or a plain value, valid only
/// inside `RuleProgram.withMachine`.
struct RuleMachine {
    let operations: UnsafeBufferPointer<RuleOperation>
    let bytes: UnsafeBufferPointer<UInt8>
    let listStrings: UnsafeBufferPointer<ByteSpan>
    let listNumbers: UnsafeBufferPointer<RuleNumber>
    let listInstants: UnsafeBufferPointer<RuleInstant>
    let patterns: UnsafeBufferPointer<RulePattern>
    let contextBytes: UnsafeBufferPointer<UInt8>
    let slots: UnsafeBufferPointer<ByteSpan>
    let entity: ByteSpan
    let hashes: UnsafeMutableBufferPointer<UInt64>
    let known: UnsafeMutableBufferPointer<Bool>
    /// Counts the operations evaluated, for tests that pin short-circuiting; nil otherwise.
    let visits: UnsafeMutablePointer<Int>?

    /// Index just past the subtree that starts at `index`.
    @inline(__always) func end(of index: Int) -> Int {
        switch operations[index] {
        case .and(let end), .or(let end), .not(let end): end
        default: index + 1
        }
    }

    func evaluate(_ index: Int) -> Bool {
        if let visits { visits.pointee += 1 }
        switch operations[index] {
        case .constant(let value):
            return value
        case .and(let end):
            var operand = index + 1
            while operand < end {
                if !evaluate(operand) { return false }
                operand = self.end(of: operand)
            }
            return true
        case .or(let end):
            var operand = index + 1
            while operand < end {
                if evaluate(operand) { return true }
                operand = self.end(of: operand)
            }
            return false
        case .not:
            return !evaluate(index + 1)
        case .compareStrings(let comparison, let lhs, let rhs):
            guard let left = text(lhs), let right = text(rhs) else { return false }
            return comparison.holds(compareBytes(left, right))
        case .compareNumbers(let comparison, let lhs, let rhs):
            guard let left = number(lhs), let right = number(rhs) else { return false }
            return comparison.holds(RuleNumber.compare(left, right))
        case .compareInstants(let comparison, let lhs, let rhs):
            guard let left = instant(lhs), let right = instant(rhs) else { return false }
            return comparison.holds(left < right ? -1 : (left == right ? 0 : 1))
        case .equalBooleans(let lhs, let rhs):
            guard let left = boolean(lhs), let right = boolean(rhs) else { return false }
            return left == right
        case .stringTest(let test, let lhs, let rhs):
            guard let subject = text(lhs), let part = text(rhs) else { return false }
            return test.holds(subject, part)
        case .membership(let operand, let members):
            guard let subject = text(operand) else { return false }
            return contains(members, subject)
        case .matches(let operand, let pattern):
            guard let subject = text(operand) else { return false }
            return patterns[pattern].matches(utf8: subject)
        case .exists(let slot):
            return !slots[slot].isAbsent
        case .split(let split):
            let span = split.slot < 0 ? entity : slots[split.slot]
            guard !span.isAbsent else { return false }
            let hash: UInt64
            if known[split.memo] {
                hash = hashes[split.memo]
            } else {
                hash = SplitHash.hash(prefix: bytes.slice(split.prefix), value: contextBytes.slice(span))
                hashes[split.memo] = hash
                known[split.memo] = true
            }
            return UInt128(hash) < split.threshold
        }
    }

    @inline(__always) private func value(_ slot: Int) -> UnsafeBufferPointer<UInt8>? {
        let span = slots[slot]
        return span.isAbsent ? nil : contextBytes.slice(span)
    }

    @inline(__always) private func text(_ reference: StringReference) -> UnsafeBufferPointer<UInt8>? {
        switch reference {
        case .constant(let span): bytes.slice(span)
        case .context(let slot): value(slot)
        }
    }

    @inline(__always) private func number(_ reference: NumberReference) -> RuleNumber? {
        switch reference {
        case .constant(let number): number
        case .context(let slot): value(slot).flatMap { RuleNumber.parse($0, allowIonExponent: false) }
        }
    }

    @inline(__always) private func instant(_ reference: InstantReference) -> RuleInstant? {
        switch reference {
        case .constant(let instant): instant
        case .context(let slot): value(slot).flatMap { RuleInstant.parse($0) }
        }
    }

    @inline(__always) private func boolean(_ reference: BooleanReference) -> Bool? {
        switch reference {
        case .constant(let boolean): boolean
        case .context(let slot): value(slot).flatMap { parseBoolean($0) }
        }
    }

    private func contains(_ members: Membership, _ subject: UnsafeBufferPointer<UInt8>) -> Bool {
        // Strings: binary search of the list's sorted spans.
        var low = members.strings.start
        var high = members.strings.start + members.strings.count
        while low < high {
            let middle = (low + high) / 2
            let order = compareBytes(subject, bytes.slice(listStrings[middle]))
            if order == 0 { return true }
            if order < 0 { high = middle } else { low = middle + 1 }
        }
        if members.numbers.count > 0, let number = RuleNumber.parse(subject, allowIonExponent: false) {
            for index in members.numbers.start..<(members.numbers.start + members.numbers.count) where listNumbers[index] == number {
                return true
            }
        }
        if members.instants.count > 0, let instant = RuleInstant.parse(subject) {
            for index in members.instants.start..<(members.instants.start + members.instants.count) where listInstants[index] == instant {
                return true
            }
        }
        if members.acceptsTrue || members.acceptsFalse, let boolean = parseBoolean(subject) {
            return boolean ? members.acceptsTrue : members.acceptsFalse
        }
        return false
    }
}
