/// Bounds on what one `IonReader.parse` call will accept. Every bound is checked before the memory
/// it guards is allocated, so a hostile document costs at most about `maxInputBytes` plus the
/// values it really contains.
public struct IonLimits: Sendable, Equatable {
    /// Largest document accepted, in bytes.
    public var maxInputBytes: Int
    /// Most containers nested inside each other: with 64, sixty-four nested lists are read and
    /// sixty-five are rejected. Clamped to `IonLimits.hardMaxDepth` because the reader recurses
    /// once per level.
    public var maxDepth: Int
    /// Most symbol IDs one local symbol table may declare: its local symbols plus the `max_id` of
    /// every import (system symbols not counted).
    public var maxSymbols: Int
    /// Most elements (or fields) in one list, s-expression or struct.
    public var maxContainerElements: Int
    /// Most values in the whole document, counting nested ones, symbol-table values and each
    /// annotation (so `a::a::…` cannot grow memory faster than values do).
    public var maxTotalValues: Int
    /// Most decimal digits in an int or in a decimal's coefficient (binary magnitudes are
    /// checked by byte length first so the conversion to digits stays cheap).
    public var maxNumberDigits: Int

    /// The reader recurses once per nesting level; this keeps that recursion far from any
    /// thread's stack limit whatever the caller asks for.
    public static let hardMaxDepth = 256

    public init(
        maxInputBytes: Int = 16 << 20,
        maxDepth: Int = 64,
        maxSymbols: Int = 100_000,
        maxContainerElements: Int = 1_000_000,
        maxTotalValues: Int = 2_000_000,
        maxNumberDigits: Int = 4096
    ) {
        self.maxInputBytes = maxInputBytes
        self.maxDepth = maxDepth
        self.maxSymbols = maxSymbols
        self.maxContainerElements = maxContainerElements
        self.maxTotalValues = maxTotalValues
        self.maxNumberDigits = maxNumberDigits
    }

    public static let `default` = IonLimits()

    var effectiveMaxDepth: Int { max(0, min(maxDepth, Self.hardMaxDepth)) }
}
