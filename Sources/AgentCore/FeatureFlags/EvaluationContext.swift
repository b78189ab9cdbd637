/// Why a request's `Context` or `Entity-Id` header was refused; the HTTP layer answers 400 with
/// `description` as the body.
public enum ContextError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A pair without `=`.
    case missingEquals(pair: String)
    /// A pair whose key is empty (`=v`).
    case emptyKey(pair: String)
    /// The same key twice, in one header or across repeated headers.
    case duplicateKey(String)
    /// More than `EvaluationContext.maximumBytes` bytes of `Context` header values in all.
    case tooLarge(bytes: Int, limit: Int)
    /// More than `EvaluationContext.maximumPairs` pairs.
    case tooManyPairs(limit: Int)
    /// An `Entity-Id` longer than `EvaluationContext.maximumEntityIdBytes` bytes.
    case entityIdTooLong(bytes: Int, limit: Int)

    public var httpStatus: Int { 400 }

    public var description: String {
        switch self {
        case .missingEquals(let pair): "malformed Context header: pair '\(RuleError.clip(pair))' has no '=' (expected key=value)"
        case .emptyKey(let pair): "malformed Context header: pair '\(RuleError.clip(pair))' has an empty key"
        case .duplicateKey(let key): "malformed Context header: key '\(RuleError.clip(key))' is given more than once"
        case .tooLarge(let bytes, let limit): "Context headers too large: \(bytes) bytes, at most \(limit)"
        case .tooManyPairs(let limit): "too many Context pairs: at most \(limit)"
        case .entityIdTooLong(let bytes, let limit): "Entity-Id too long: \(bytes) bytes, at most \(limit)"
        }
    }
}

/// One `key=value` pair of a request's context.
public struct ContextEntry: Sendable, Equatable {
    public let key: String
    public let value: String

    public init(key: String, value: String) {
        self.key = key
        self.value = value
    }
}

/// What one request tells the rules: its `Context` pairs and its `Entity-Id`.
///
/// `Context` syntax (AWS documents only `key=value`, repeated headers, and comma-separated pairs in
/// one header; the rest is ours):
/// - Each header value is a comma-separated list of `key=value` pairs; the key ends at the first `=`,
///   so a value may contain `=` but not `,`. Spaces and tabs around pairs, keys and values are
///   trimmed; empty list elements (`a=1,,b=2`, a trailing comma) are skipped, as HTTP lists allow.
/// - Keys and values are taken verbatim: no percent-decoding (a `%` is an ordinary character), keys
///   are case-sensitive and compared by their exact bytes. A value may be empty (`tier=`).
/// - Refused (400): a pair without `=`, an empty key, a key given twice (in one header or across
///   repeated ones), more than `maximumPairs` pairs, more than `maximumBytes` bytes of header values.
///
/// `Entity-Id`: at most `maximumEntityIdBytes` bytes (SPEC: 2 KB), taken verbatim; empty means
/// absent. It is what `split` hashes when the rule has no `by::` operand.
public struct EvaluationContext: Sendable {
    public static let maximumBytes = 8 * 1024
    public static let maximumPairs = 100
    public static let maximumEntityIdBytes = 2048

    /// Every key and value, then the Entity-Id, back to back: rules read spans of it, so an
    /// evaluation touches no reference-counted values.
    let storage: [UInt8]
    /// Key and value of each pair, in the order given.
    let pairs: [Pair]
    /// `ByteSpan.absent` when there is no Entity-Id.
    let entity: ByteSpan

    struct Pair: Sendable {
        let key: ByteSpan
        let value: ByteSpan
    }

    /// A context from pairs already split; a later duplicate key replaces an earlier one. An empty
    /// `entityId` is none.
    public init(_ values: KeyValuePairs<String, String> = [:], entityId: String? = nil) {
        var builder = Builder()
        for (key, value) in values {
            builder.add(key: Array(key.utf8), value: Array(value.utf8), replacing: true)
        }
        self = builder.finish(entityId: entityId)
    }

    private init(storage: [UInt8], pairs: [Pair], entity: ByteSpan) {
        self.storage = storage
        self.pairs = pairs
        self.entity = entity
    }

    /// The pairs in the order they were given.
    public var entries: [ContextEntry] {
        pairs.map { ContextEntry(key: text($0.key), value: text($0.value)) }
    }

    public var entityId: String? { entity.isAbsent ? nil : text(entity) }

    /// The value of `key`, compared by exact bytes.
    public subscript(key: String) -> String? {
        let wanted = Array(key.utf8)
        return storage.withUnsafeBufferPointer { pool in
            pairs.first { pair in
                wanted.withUnsafeBufferPointer { compareBytes(pool.slice(pair.key), $0) == 0 }
            }.map { text($0.value) }
        }
    }

    private func text(_ span: ByteSpan) -> String {
        String(decoding: storage[span.start..<(span.start + span.count)], as: UTF8.self)
    }

    /// Parses a request's `Context` header values (one element per header line, in order) and its
    /// `Entity-Id` header.
    public static func parse(contextHeaders: [String], entityId: String?) throws(ContextError) -> EvaluationContext {
        if let entityId {
            let length = entityId.utf8.count
            guard length <= maximumEntityIdBytes else { throw .entityIdTooLong(bytes: length, limit: maximumEntityIdBytes) }
        }
        var total = 0
        for header in contextHeaders { total += header.utf8.count }
        guard total <= maximumBytes else { throw .tooLarge(bytes: total, limit: maximumBytes) }

        var builder = Builder()
        builder.storage.reserveCapacity(total + (entityId?.utf8.count ?? 0))
        for header in contextHeaders {
            for element in header.utf8.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false) {
                let pair = trimmed(element)
                if pair.isEmpty { continue }
                guard let equals = pair.firstIndex(of: UInt8(ascii: "=")) else {
                    throw .missingEquals(pair: String(Substring(pair)))
                }
                let key = trimmed(pair[pair.startIndex..<equals])
                guard !key.isEmpty else { throw .emptyKey(pair: String(Substring(pair))) }
                guard builder.pairs.count < maximumPairs else { throw .tooManyPairs(limit: maximumPairs) }
                let value = trimmed(pair[pair.index(after: equals)...])
                guard builder.add(key: key, value: value, replacing: false) else {
                    throw .duplicateKey(String(Substring(key)))
                }
            }
        }
        return builder.finish(entityId: entityId)
    }

    private static func trimmed(_ bytes: Substring.UTF8View) -> Substring.UTF8View {
        var start = bytes.startIndex
        var end = bytes.endIndex
        while start < end, isSpace(bytes[start]) { start = bytes.index(after: start) }
        while end > start, isSpace(bytes[bytes.index(before: end)]) { end = bytes.index(before: end) }
        return bytes[start..<end]
    }

    private static func isSpace(_ byte: UInt8) -> Bool { byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }

    private struct Builder {
        var storage: [UInt8] = []
        var pairs: [Pair] = []

        /// Adds a pair; a key already present is replaced (`replacing`) or refused (returns false).
        @discardableResult
        mutating func add(key: some Collection<UInt8>, value: some Collection<UInt8>, replacing: Bool) -> Bool {
            let keySpan = ByteSpan(start: storage.count, count: key.count)
            storage.append(contentsOf: key)
            let existing = storage.withUnsafeBufferPointer { pool in
                pairs.firstIndex { compareBytes(pool.slice($0.key), pool.slice(keySpan)) == 0 }
            }
            if existing != nil && !replacing {
                storage.removeLast(keySpan.count)
                return false
            }
            let valueSpan = ByteSpan(start: storage.count, count: value.count)
            storage.append(contentsOf: value)
            if let existing {
                pairs[existing] = Pair(key: keySpan, value: valueSpan)
            } else {
                pairs.append(Pair(key: keySpan, value: valueSpan))
            }
            return true
        }

        func finish(entityId: String?) -> EvaluationContext {
            var storage = storage
            var entity = ByteSpan.absent
            if let entityId, !entityId.isEmpty {
                entity = ByteSpan(start: storage.count, count: entityId.utf8.count)
                storage.append(contentsOf: entityId.utf8)
            }
            return EvaluationContext(storage: storage, pairs: pairs, entity: entity)
        }
    }
}

/// Equality of the exact UTF-8 bytes, not Swift's canonical equivalence (`"é"` precomposed and
/// decomposed are different keys, as in JSON and Go).
@inline(__always) func sameBytes(_ lhs: String, _ rhs: String) -> Bool {
    guard lhs.utf8.count == rhs.utf8.count else { return false }
    return withUTF8Bytes(lhs) { left in
        withUTF8Bytes(rhs) { right in compareBytes(left, right) == 0 }
    }
}

/// A `String` hashed and compared by its exact UTF-8 bytes, for dictionary keys.
struct ExactKey: Hashable, Sendable {
    let text: String

    init(_ text: String) { self.text = text }

    static func == (lhs: ExactKey, rhs: ExactKey) -> Bool { sameBytes(lhs.text, rhs.text) }

    func hash(into hasher: inout Hasher) {
        withUTF8Bytes(text) { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
    }
}
