/// Why an Ion document was rejected, and where.
///
/// `offset` is the byte offset into the input where the reader noticed the problem (the start of
/// the offending token or value where that is known).
public struct IonError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable, Equatable {
        /// Not Ion 1.0: bad syntax, a bad encoding, a value that breaks a rule of the data model.
        case malformed
        /// Well-formed, but over one of the `IonLimits` bounds.
        case limitExceeded
        /// A symbol ID with no slot in the current symbol table (`$99` with nine symbols).
        case symbolOutOfRange
        /// A version marker or binary version other than Ion 1.0.
        case unsupportedVersion
        /// A local symbol table that cannot be honoured (duplicate fields, an import we must resolve).
        case invalidSymbolTable
    }

    public let kind: Kind
    public let reason: String
    public let offset: Int

    public init(_ kind: Kind, _ reason: String, at offset: Int) {
        self.kind = kind
        self.reason = reason
        self.offset = offset
    }

    public var description: String { "Ion \(kind.rawValue) at byte \(offset): \(reason)" }

    static func malformed(_ reason: String, at offset: Int) -> IonError { IonError(.malformed, reason, at: offset) }
    static func limit(_ reason: String, at offset: Int) -> IonError { IonError(.limitExceeded, reason, at: offset) }
}
