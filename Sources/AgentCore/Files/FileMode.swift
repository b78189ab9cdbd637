/// Permission bits for a file the agent writes: `0o600` (the default) or `0o640`, nothing else.
///
/// `0o640` is the one widening allowed: it lets a reader in the file's group (the agent's group, or
/// the directory's group when the directory is set-group-ID) read a `writeTo` file.
public struct FileMode: RawRepresentable, Hashable, Sendable, ExpressibleByIntegerLiteral, CustomStringConvertible {
    public let rawValue: UInt32

    public init(rawValue: UInt32) {
        self.rawValue = rawValue
    }

    public init(integerLiteral value: UInt32) {
        self.rawValue = value
    }

    /// `0600`: read and write for the owner only.
    public static let ownerOnly: FileMode = 0o600
    /// `0640`: also readable by the file's group.
    public static let groupReadable: FileMode = 0o640

    /// Whether the writer accepts this mode.
    public var isAllowedForWriting: Bool { self == .ownerOnly || self == .groupReadable }

    /// Octal, four digits: `0600`.
    public var description: String { Self.octal(rawValue) }

    static func octal(_ bits: UInt32) -> String {
        let digits = String(bits & 0o7777, radix: 8)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }
}
