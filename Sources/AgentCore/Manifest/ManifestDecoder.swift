/// Turns manifest bytes into a `Manifest`, refusing anything it does not understand.
///
/// Strictness rules (the README quotes them):
/// - At most 1 MiB and 1000 entries. The document must be one RFC 8259 JSON object (UTF-8, no
///   byte-order mark, no comments, no trailing commas); anything else at the top level is an error.
/// - Every key is `App:Env:Profile`: three non-empty parts separated by `:`, no control characters.
///   A key that appears twice (also when spelled with different escapes) is an error.
/// - Every value is a JSON object; `{}` just fetches the configuration at start-up.
/// - The known features are `credentials` and `writeTo`, spelled exactly so. Any other key in an entry
///   is an unknown feature: logged as a warning and ignored (its content is only checked to be
///   JSON), so a manifest written for a newer agent still loads. A feature key given twice is an error.
/// - Inside `credentials` and `writeTo` every field must be known, in exact case, given once, and of
///   the right type; an unknown field is an error, not a warning, because a misspelt security
///   setting (`roleARN`, `Mode`) would otherwise be silently dropped.
/// - `null` for a feature or an optional field means "not set", as in AWS's agent (Go's
///   `encoding/json`); a required field (`roleArn`, `path`) cannot be null.
/// - `credentials.roleArn` (required): `arn:<partition>:iam::<12 digits>:role/<name>`.
///   `roleExternalId`: 2–1224 characters of letters, digits and `_+=,.@:/-`. `roleSessionName`:
///   2–64 characters of letters, digits and `_+=,.@-`. `credentialsDuration`: a string of whole
///   `h`, `m`, `s` units in that order (`"2h"`, `"30m"`, `"1h30m"`, `"3600s"`) or whole seconds
///   (`"3600"` or the number `3600`); a duration outside 15 minutes … 12 hours (STS's range) is
///   clamped to it and an info line says so.
/// - `writeTo.path` (required): absolute, no `.` or `..` components, not ending in `/`, no NUL, at
///   most 4095 bytes; repeated slashes are collapsed. `writeTo.mode`: the string `"0600"` (the
///   default) or `"0640"`; any other string, and any JSON number, is an error: octal must be written
///   as a string so that `640` and `0640` cannot be confused.
/// - Two entries with the same `writeTo.path` are an error naming both.
/// - The whole document is checked before anything is returned; the first problem found, in
///   document order, is the error.
struct ManifestDecoder {
    /// One line per unknown feature key, in document order.
    private(set) var warnings: [String] = []
    /// One line per clamped credentials duration.
    private(set) var notices: [String] = []

    static let credentialsFields = ["roleArn", "roleExternalId", "roleSessionName", "credentialsDuration"]
    static let writeToFields = ["path", "mode"]
    static let features = ["credentials", "writeTo"]
    /// `PATH_MAX` less the terminating NUL.
    static let maximumPathLength = 4095

    mutating func decode(_ bytes: [UInt8]) throws(ManifestError) -> Manifest {
        guard bytes.count <= Manifest.maximumSize else {
            throw .tooLarge(size: bytes.count, limit: Manifest.maximumSize)
        }
        let root: JSONObjectView
        do {
            root = try JSONObjectView(bytes)
        } catch {
            switch error {
            case .notAnObject(let found): throw .notAnObject(found: found)
            case .invalid: throw .malformedJSON(reason: error.description)
            }
        }
        guard root.members.count <= Manifest.maximumEntries else {
            throw .tooManyEntries(count: root.members.count, limit: Manifest.maximumEntries)
        }

        var seenKeys = Set<String>()
        var writers: [String: ConfigurationKey] = [:]
        var entries: [ManifestEntry] = []
        entries.reserveCapacity(root.members.count)
        for member in root.members {
            guard let key = Self.configurationKey(member.key) else { throw .invalidKey(member.key) }
            guard seenKeys.insert(member.key).inserted else { throw .duplicateKey(member.key) }
            let entry = try decodeEntry(key, root.value(of: member))
            if let target = entry.writeTo {
                if let first = writers[target.path] {
                    throw .duplicateWriteToPath(path: target.path, first: first, second: key)
                }
                writers[target.path] = key
            }
            entries.append(entry)
        }
        return Manifest(entries: entries)
    }

    static func configurationKey(_ text: String) -> ConfigurationKey? {
        guard !text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else { return nil }
        return ConfigurationKey(parsing: text)
    }

    // MARK: Entries and features

    private mutating func decodeEntry(_ key: ConfigurationKey, _ value: ArraySlice<UInt8>) throws(ManifestError) -> ManifestEntry {
        let kind = JSONKind(value)
        guard kind == .object else {
            throw .invalidEntry(key: key, field: nil, problem: "value must be a JSON object (found \(kind.name)); use {} to only fetch it")
        }
        let object = try JSONObjectView.nested(value)
        var seen = Set<String>()
        var credentials: RoleCredentials?
        var writeTo: WriteTarget?
        for member in object.members {
            guard seen.insert(member.key).inserted else {
                throw .invalidEntry(key: key, field: member.key, problem: "appears more than once")
            }
            let featureValue = object.value(of: member)
            switch member.key {
            case "credentials":
                guard let fields = try FeatureFields(key: key, feature: member.key, value: featureValue, known: Self.credentialsFields) else { continue }
                credentials = try decodeCredentials(fields)
            case "writeTo":
                guard let fields = try FeatureFields(key: key, feature: member.key, value: featureValue, known: Self.writeToFields) else { continue }
                writeTo = try Self.decodeWriteTo(fields)
            default:
                let lowered = member.key.lowercased()
                let hint = Self.features.first { $0.lowercased() == lowered }.map { " (did you mean '\($0)'? feature names are case-sensitive)" } ?? ""
                warnings.append("manifest entry \(ManifestText.quoted(key.description)): unknown feature \(ManifestText.quoted(member.key)) ignored\(hint)")
            }
        }
        return ManifestEntry(key: key, credentials: credentials, writeTo: writeTo)
    }

    private mutating func decodeCredentials(_ fields: FeatureFields) throws(ManifestError) -> RoleCredentials {
        guard let roleArn = try fields.string("roleArn") else {
            throw fields.error("roleArn", "is required: the ARN of the role to assume, such as arn:aws:iam::123456789012:role/Reader")
        }
        guard SettingValueParsers.isRoleARN(roleArn) else {
            throw fields.error("roleArn", "must be an IAM role ARN such as arn:aws:iam::123456789012:role/Reader (found \(ManifestText.quoted(roleArn)))")
        }
        let externalId = try fields.string("roleExternalId")
        if let externalId, !SettingValueParsers.isExternalID(externalId) {
            // Not echoed: it is not a secret, but it is the role owner's guard against confused deputies.
            let count = externalId.unicodeScalars.count
            throw fields.error("roleExternalId", "must be 2 to 1224 characters of letters, digits and _+=,.@:/- (found \(count) character\(count == 1 ? "" : "s"))")
        }
        let sessionName = try fields.string("roleSessionName")
        if let sessionName, !SettingValueParsers.isRoleSessionName(sessionName) {
            throw fields.error("roleSessionName", "must be 2 to 64 characters of letters, digits and _+=,.@- (found \(ManifestText.quoted(sessionName)))")
        }
        var duration: Duration?
        if let raw = fields.values["credentialsDuration"], JSONKind(raw) != .null {
            duration = try credentialsDuration(raw, fields: fields)
        }
        return RoleCredentials(roleArn: roleArn, roleExternalId: externalId, roleSessionName: sessionName, credentialsDuration: duration)
    }

    /// Parses `credentialsDuration` and clamps it to STS's range, noting any clamping.
    private mutating func credentialsDuration(_ raw: ArraySlice<UInt8>, fields: FeatureFields) throws(ManifestError) -> Duration {
        let expected = "must be a duration such as \"2h\", \"30m\", \"1h30m\" or \"3600s\", or whole seconds such as 3600"
        let text: String
        switch JSONKind(raw) {
        case .string:
            text = try fields.string("credentialsDuration") ?? ""
        case .number:
            // Whole seconds only: no sign, fraction or exponent.
            guard raw.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
                throw fields.error("credentialsDuration", "\(expected) (found the number \(ManifestText.sanitized(String(decoding: raw, as: UTF8.self), limit: 32)))")
            }
            text = String(decoding: raw, as: UTF8.self)
        case let kind:
            throw fields.error("credentialsDuration", "must be a string or a number of seconds (found \(kind.name))")
        }
        let requested: Duration?
        switch SettingValueParsers.duration(text, bareUnitMilliseconds: 1000, units: SettingValueParsers.pollIntervalUnits) {
        case .malformed:
            throw fields.error("credentialsDuration", "\(expected) (found \(ManifestText.quoted(text, limit: 32)))")
        case .overflow:
            requested = nil  // Well-formed and beyond any arithmetic: certainly above the maximum.
        case .milliseconds(let milliseconds):
            requested = .milliseconds(milliseconds)
        }
        let shown = ManifestText.quoted(text, limit: 32)
        let entry = ManifestText.quoted(fields.key.description)
        if let requested, requested < RoleCredentials.minimumDuration {
            notices.append("manifest entry \(entry): credentials.credentialsDuration \(shown) is below STS's 15-minute minimum; clamped to 15m")
            return RoleCredentials.minimumDuration
        }
        if let requested, requested <= RoleCredentials.maximumDuration {
            return requested
        }
        notices.append("manifest entry \(entry): credentials.credentialsDuration \(shown) is above STS's 12-hour maximum; clamped to 12h")
        return RoleCredentials.maximumDuration
    }

    private static func decodeWriteTo(_ fields: FeatureFields) throws(ManifestError) -> WriteTarget {
        guard let path = try fields.string("path") else {
            throw fields.error("path", "is required: the absolute path of the file to write, such as /var/run/app/config.json")
        }
        let components: [String]
        do {
            let absolute = try AbsolutePath(path)
            _ = try absolute.splitFile()
            components = absolute.components
        } catch {
            let reason = switch error {
            case .invalidPath(let reason): reason
            case .directory, .io: "the path is not usable"  // Not thrown by parsing; kept total.
            }
            throw fields.error("path", "\(ManifestText.quoted(path, limit: 256)) is refused: \(reason)")
        }
        guard path.utf8.count <= maximumPathLength else {
            throw fields.error("path", "is \(path.utf8.count) bytes long; at most \(maximumPathLength) are allowed")
        }

        var mode = FileMode.ownerOnly
        if let raw = fields.values["mode"] {
            switch JSONKind(raw) {
            case .null:
                break
            case .string:
                switch try fields.string("mode") {
                case "0600": mode = .ownerOnly
                case "0640": mode = .groupReadable
                case let other:
                    throw fields.error("mode", "\(ManifestText.quoted(other ?? "", limit: 16)) is not allowed; use \"0600\" (the default, owner only) or \"0640\" (the file's group may read it)")
                }
            case .number:
                throw fields.error("mode", "must be a string, \"0600\" or \"0640\" (found a number; octal is written as a string so that 640 and 0640 cannot be confused)")
            case let kind:
                throw fields.error("mode", "must be a string, \"0600\" or \"0640\" (found \(kind.name))")
            }
        }
        return WriteTarget(path: "/" + components.joined(separator: "/"), mode: mode)
    }
}

/// The fields of one feature object (`credentials` or `writeTo`), checked against the known names.
private struct FeatureFields {
    let key: ConfigurationKey
    let feature: String
    /// Raw values by field name; every name is known and appears once.
    let values: [String: ArraySlice<UInt8>]

    /// Nil when the feature is `null` (not set).
    init?(key: ConfigurationKey, feature: String, value: ArraySlice<UInt8>, known: [String]) throws(ManifestError) {
        let kind = JSONKind(value)
        if kind == .null { return nil }
        guard kind == .object else {
            throw .invalidEntry(key: key, field: feature, problem: "must be a JSON object (found \(kind.name))")
        }
        let object = try JSONObjectView.nested(value)
        var values: [String: ArraySlice<UInt8>] = [:]
        for member in object.members {
            guard known.contains(member.key) else {
                throw .invalidEntry(
                    key: key, field: "\(feature).\(member.key)",
                    problem: "is not a known field; \(feature) takes \(known.joined(separator: ", ")) (names are case-sensitive)")
            }
            guard values.updateValue(object.value(of: member), forKey: member.key) == nil else {
                throw .invalidEntry(key: key, field: "\(feature).\(member.key)", problem: "appears more than once")
            }
        }
        self.key = key
        self.feature = feature
        self.values = values
    }

    func error(_ field: String, _ problem: String) -> ManifestError {
        .invalidEntry(key: key, field: "\(feature).\(field)", problem: problem)
    }

    /// The field's string value; nil when absent or `null`; an error for any other type.
    func string(_ field: String) throws(ManifestError) -> String? {
        guard let raw = values[field] else { return nil }
        let kind = JSONKind(raw)
        switch kind {
        case .null: return nil
        case .string: break
        default: throw error(field, "must be a string (found \(kind.name))")
        }
        guard let text = JSONObjectView.decodeString(raw) else { throw error(field, "must be a string") }
        return text
    }
}

/// The type of a JSON value, told by its first byte (the document is already validated).
enum JSONKind: Equatable {
    case object, array, string, number, boolean, null

    init(_ value: ArraySlice<UInt8>) {
        switch value.first {
        case UInt8(ascii: "{"): self = .object
        case UInt8(ascii: "["): self = .array
        case UInt8(ascii: "\""): self = .string
        case UInt8(ascii: "t"), UInt8(ascii: "f"): self = .boolean
        case UInt8(ascii: "n"): self = .null
        default: self = .number
        }
    }

    var name: String {
        switch self {
        case .object: "an object"
        case .array: "an array"
        case .string: "a string"
        case .number: "a number"
        case .boolean: "a boolean"
        case .null: "null"
        }
    }
}

/// An object's bytes and its members, from `JSONObjectScanner`.
struct JSONObjectView {
    let bytes: [UInt8]
    let members: [JSONMember]

    init(_ bytes: [UInt8]) throws(JSONScanError) {
        self.bytes = bytes
        self.members = try JSONObjectScanner.members(of: bytes)
    }

    /// An object value inside an already validated document.
    static func nested(_ value: ArraySlice<UInt8>) throws(ManifestError) -> JSONObjectView {
        do {
            return try JSONObjectView(Array(value))
        } catch {
            // Unreachable for a slice of a validated document; reported rather than trapped.
            throw .malformedJSON(reason: error.description)
        }
    }

    func value(of member: JSONMember) -> ArraySlice<UInt8> {
        bytes[member.valueRange]
    }

    /// Decodes a validated string token, quotes included. Tokens with escapes are decoded by the
    /// scanner itself, as the key of a one-member object, so that there is one escape decoder.
    static func decodeString(_ token: ArraySlice<UInt8>) -> String? {
        guard token.count >= 2 else { return nil }
        if !token.contains(UInt8(ascii: "\\")) {
            return String(decoding: token.dropFirst().dropLast(), as: UTF8.self)
        }
        var wrapped: [UInt8] = [UInt8(ascii: "{")]
        wrapped.append(contentsOf: token)
        wrapped.append(contentsOf: ":0}".utf8)
        return (try? JSONObjectScanner.members(of: wrapped))?.first?.key
    }
}
