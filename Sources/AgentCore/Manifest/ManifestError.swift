/// Why a manifest was refused. `description` is one line naming the key and field and what to do.
///
/// Values from the document are echoed only where they help to find the mistake (a key, a mode, a
/// duration), always shortened and with control characters escaped; `roleExternalId` is never echoed.
public enum ManifestError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The document is larger than `limit` bytes.
    case tooLarge(size: Int, limit: Int)
    /// Not RFC 8259 JSON; `reason` says what and where (a byte offset).
    case malformedJSON(reason: String)
    /// Valid JSON whose top-level value is not an object; `found` names what it is.
    case notAnObject(found: String)
    /// More entries than `limit`.
    case tooManyEntries(count: Int, limit: Int)
    /// A top-level key that is not `App:Env:Profile`.
    case invalidKey(String)
    /// A top-level key that appears more than once.
    case duplicateKey(String)
    /// Something wrong in one entry. `field` is the dotted path inside the entry (`writeTo.path`,
    /// `credentials`), nil when the entry's value itself is wrong.
    case invalidEntry(key: ConfigurationKey, field: String?, problem: String)
    /// Two entries name the same `writeTo.path`: one would overwrite the other.
    case duplicateWriteToPath(path: String, first: ConfigurationKey, second: ConfigurationKey)
    /// A `MANIFEST=file:` source that could not be read.
    case unreadable(path: String, problem: String)

    /// The configuration the error is about, when there is one.
    public var key: ConfigurationKey? {
        switch self {
        case .invalidEntry(let key, _, _): key
        case .duplicateWriteToPath(_, _, let second): second
        default: nil
        }
    }

    /// The field inside the entry the error is about, when there is one.
    public var field: String? {
        switch self {
        case .invalidEntry(_, let field, _): field
        case .duplicateWriteToPath: "writeTo.path"
        default: nil
        }
    }

    public var description: String {
        switch self {
        case .tooLarge(let size, let limit):
            "manifest is \(size) bytes, more than the \(limit)-byte limit"
        case .malformedJSON(let reason):
            "manifest is not valid JSON: \(reason)"
        case .notAnObject(let found):
            "manifest must be a JSON object whose keys are App:Env:Profile; its top-level value is \(found)"
        case .tooManyEntries(let count, let limit):
            "manifest has \(count) entries, more than the limit of \(limit)"
        case .invalidKey(let key):
            "manifest key \(ManifestText.quoted(key)) is not App:Env:Profile (three non-empty parts separated by ':', no control characters)"
        case .duplicateKey(let key):
            "manifest key \(ManifestText.quoted(key)) appears more than once; keep one entry per configuration"
        case .invalidEntry(let key, let field, let problem):
            "manifest entry \(ManifestText.quoted(key.description)): "
                + (field.map { ManifestText.sanitized($0) + " " } ?? "") + problem
        case .duplicateWriteToPath(let path, let first, let second):
            "manifest entries \(ManifestText.quoted(first.description)) and \(ManifestText.quoted(second.description)) "
                + "both have writeTo.path \(ManifestText.sanitized(path, limit: 256)); give each entry its own file"
        case .unreadable(let path, let problem):
            "cannot read manifest file \(ManifestText.sanitized(path, limit: 256)): \(problem)"
        }
    }
}

/// Shortening and escaping of document text before it goes into an error or a log line.
enum ManifestText {
    /// At most `limit` characters, control characters written as `\u{…}`, `…` marking a cut.
    static func sanitized(_ text: String, limit: Int = 80) -> String {
        var output = ""
        var count = 0
        for scalar in text.unicodeScalars {
            if count == limit { return output + "…" }
            if scalar.properties.generalCategory == .control || scalar.properties.generalCategory == .format {
                output += "\\u{\(String(scalar.value, radix: 16))}"
            } else {
                output.unicodeScalars.append(scalar)
            }
            count += 1
        }
        return output
    }

    /// `sanitized` in single quotes: `'A:E:P'`.
    static func quoted(_ text: String, limit: Int = 80) -> String {
        "'" + sanitized(text, limit: limit) + "'"
    }
}
