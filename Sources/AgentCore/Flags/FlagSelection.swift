/// Why a `?flag=` request cannot be answered; `httpStatus` is the status the HTTP layer sends, and
/// `description` is the short plain-text body.
public enum FlagSelectionError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The configuration is valid JSON but not an object of flags (400).
    case notAnObject
    /// The configuration is not valid JSON (400).
    case invalidJSON(reason: String)
    /// The configuration has no flag of this name (404).
    case unknownFlag(String)
    /// A `flag` parameter without a name, `?flag=` (400).
    case noFlagNamed

    public var httpStatus: Int {
        switch self {
        case .unknownFlag: 404
        case .notAnObject, .invalidJSON, .noFlagNamed: 400
        }
    }

    public var description: String {
        switch self {
        case .notAnObject: "flag requested, but the configuration is not a JSON object of flags"
        case .invalidJSON(let reason): "flag requested, but the configuration is not valid JSON: \(reason)"
        case .unknownFlag(let name): "flag not found: \(name)"
        case .noFlagNamed: "the flag parameter needs a flag name: ?flag=name"
        }
    }

    init(_ error: JSONScanError) {
        switch error {
        case .notAnObject: self = .notAnObject
        case .invalid: self = .invalidJSON(reason: error.description)
        }
    }
}

/// The flags of one stored configuration version, indexed once so that each `?flag=` request is a
/// dictionary lookup and one append of bytes copied verbatim from the stored document.
///
/// Choices (for the README):
/// - Only the top level must be a JSON object. A member's value may be any JSON value and is served
///   as stored (`{"limit": 5}` answers `?flag=limit` with `5`); whether a profile is a feature-flag
///   profile at all is for the HTTP layer to decide from its type or content type.
/// - Duplicate keys in the document: the last occurrence wins, as in most JSON parsers.
/// - Flag names match keys by their exact UTF-8 bytes after escapes are resolved, with no Unicode
///   normalisation (JSON and Go compare keys that way; Swift's `String ==` would not).
/// - One `flag` parameter answers the flag's raw value; two or more answer an object of those flags in
///   request order, a flag named twice appearing once, each key written as its raw token.
public struct FlagIndex: Sendable {
    /// The whole stored document; values are served as slices of it.
    public let bytes: [UInt8]
    /// Every top-level member in document order, duplicates included.
    public let members: [JSONMember]
    private let byName: [ExactName: Int]

    /// Validates `bytes` (the whole document, strictly) and indexes its top-level members.
    public init(bytes: [UInt8], maximumDepth: Int = JSONObjectScanner.defaultMaximumDepth) throws(FlagSelectionError) {
        let members: [JSONMember]
        do {
            members = try JSONObjectScanner.members(of: bytes, maximumDepth: maximumDepth)
        } catch {
            throw FlagSelectionError(error)
        }
        var byName: [ExactName: Int] = [:]
        byName.reserveCapacity(members.count)
        for (position, member) in members.enumerated() {
            byName[ExactName(member.key)] = position // A later duplicate replaces an earlier one.
        }
        self.bytes = bytes
        self.members = members
        self.byName = byName
    }

    /// Number of distinct flags.
    public var count: Int { byName.count }

    /// The member a lookup of `name` finds (the last one when the key is duplicated).
    public func member(named name: String) -> JSONMember? {
        byName[ExactName(name)].map { members[$0] }
    }

    /// The raw bytes of flag `name`'s value, without copying.
    public func rawValue(of name: String) -> ArraySlice<UInt8>? {
        member(named: name).map { bytes[$0.valueRange] }
    }

    /// The response body for the `flag` parameters of a request, in request order.
    public func select(_ names: [String]) throws(FlagSelectionError) -> [UInt8] {
        var output: [UInt8] = []
        try select(names, appendingTo: &output)
        return output
    }

    /// Appends the response body for `names` to `output`, reserving the exact size first. On error
    /// `output` is left as it was.
    public func select(_ names: [String], appendingTo output: inout [UInt8]) throws(FlagSelectionError) {
        guard !names.isEmpty, !names.contains(where: \.isEmpty) else { throw .noFlagNamed }
        if names.count == 1 {
            guard let member = member(named: names[0]) else { throw .unknownFlag(names[0]) }
            output.append(contentsOf: bytes[member.valueRange])
            return
        }
        // Resolve every name first, so that an unknown flag leaves `output` untouched.
        var chosen: [Int] = []
        chosen.reserveCapacity(names.count)
        var seen: Set<Int> = []
        for name in names {
            guard let position = byName[ExactName(name)] else { throw .unknownFlag(name) }
            let isNew = names.count <= 8 ? !chosen.contains(position) : seen.insert(position).inserted
            if isNew { chosen.append(position) }
        }
        var size = 1 + chosen.count // '{', the ','s and '}'
        for position in chosen {
            size += members[position].keyRange.count + 1 + members[position].valueRange.count
        }
        output.reserveCapacity(output.count + size)
        output.append(UInt8(ascii: "{"))
        for (index, position) in chosen.enumerated() {
            if index > 0 { output.append(UInt8(ascii: ",")) }
            output.append(contentsOf: bytes[members[position].keyRange])
            output.append(UInt8(ascii: ":"))
            output.append(contentsOf: bytes[members[position].valueRange])
        }
        output.append(UInt8(ascii: "}"))
    }
}

/// One-shot flag selection, for callers that have no `FlagIndex` at hand.
public enum FlagSelection {
    /// The response body for `?flag=` parameters `names` (request order) over the configuration `bytes`.
    public static func select(flags names: [String], from bytes: [UInt8]) throws(FlagSelectionError) -> [UInt8] {
        try FlagIndex(bytes: bytes).select(names)
    }
}

/// A `String` compared and hashed by its UTF-8 bytes, not by Unicode canonical equivalence.
private struct ExactName: Hashable, Sendable {
    let text: String

    init(_ text: String) { self.text = text }

    static func == (lhs: ExactName, rhs: ExactName) -> Bool {
        lhs.text.utf8.count == rhs.text.utf8.count && lhs.text.utf8.elementsEqual(rhs.text.utf8)
    }

    func hash(into hasher: inout Hasher) {
        var text = text
        text.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
    }
}
