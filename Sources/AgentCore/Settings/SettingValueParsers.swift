#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Pure parsers for the text of one setting. Each answers `nil` (or a failure case) and leaves the
/// wording of the error to `AgentSettings.parse`, which knows the variable's name.
enum SettingValueParsers {
    // MARK: Text

    /// Drops surrounding white space (Unicode's definition, so a stray CR from a DOS env file goes too).
    static func trimmed(_ text: some StringProtocol) -> String {
        let scalars = String(text).unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
              let last = scalars.lastIndex(where: { !$0.properties.isWhitespace })
        else { return "" }
        return String(Substring(scalars[first...last]))
    }

    static func containsControlCharacter(_ text: some StringProtocol) -> Bool {
        text.unicodeScalars.contains { $0.properties.generalCategory == .control }
    }

    // MARK: Booleans and numbers

    /// `true/false`, `1/0`, `yes/no`, `on/off`, in any case.
    static func boolean(_ text: String) -> Bool? {
        switch text.lowercased() {
        case "true", "1", "yes", "on": true
        case "false", "0", "no", "off": false
        default: nil
        }
    }

    enum NumberResult: Equatable {
        case value(Int64)
        /// Not a plain run of ASCII digits: a sign, a decimal point, junk, or nothing at all.
        case malformed
        /// Digits, but more than an `Int64` holds.
        case overflow
    }

    /// A non-negative decimal integer: ASCII digits only, so `+1`, `-1`, `1e3`, `0x10` and `1_000` are refused.
    static func unsignedInteger(_ text: some StringProtocol) -> NumberResult {
        guard !text.isEmpty else { return .malformed }
        var total: Int64 = 0
        for byte in text.utf8 {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return .malformed }
            let (shifted, overflow1) = total.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = shifted.addingReportingOverflow(Int64(byte - UInt8(ascii: "0")))
            if overflow1 || overflow2 { return .overflow }
            total = sum
        }
        return .value(total)
    }

    // MARK: Durations

    enum DurationResult: Equatable {
        case milliseconds(Int64)
        case malformed
        /// Well-formed, but too large for the arithmetic.
        case overflow
    }

    /// Seconds-based units of `POLL_INTERVAL`, largest first.
    static let pollIntervalUnits: [(suffix: String, milliseconds: Int64)] = [("h", 3_600_000), ("m", 60_000), ("s", 1000)]
    /// Units of `REQUEST_TIMEOUT`, largest first.
    static let requestTimeoutUnits: [(suffix: String, milliseconds: Int64)] = [("s", 1000), ("ms", 1)]

    /// A duration in whole units: a bare integer (counted in `bareUnitMilliseconds`), or one or more
    /// `<integer><unit>` parts with the units in decreasing order, each at most once (`1h30m`, `2s500ms`).
    /// Suffixes are matched in any case. No signs, no fractions, no spaces inside.
    static func duration(
        _ text: String,
        bareUnitMilliseconds: Int64,
        units: [(suffix: String, milliseconds: Int64)]
    ) -> DurationResult {
        let bytes = Array(text.lowercased().utf8)
        guard !bytes.isEmpty else { return .malformed }
        func isDigit(_ b: UInt8) -> Bool { b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") }
        func isLetter(_ b: UInt8) -> Bool { b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z") }

        func scaled(_ digits: ArraySlice<UInt8>, by factor: Int64) -> DurationResult {
            switch unsignedInteger(String(decoding: digits, as: UTF8.self)) {
            case .malformed: return .malformed
            case .overflow: return .overflow
            case .value(let n):
                let (product, overflow) = n.multipliedReportingOverflow(by: factor)
                return overflow ? .overflow : .milliseconds(product)
            }
        }

        if bytes.allSatisfy(isDigit) {
            return scaled(bytes[...], by: bareUnitMilliseconds)
        }

        var total: Int64 = 0
        var index = 0
        var firstAllowedUnit = 0
        while index < bytes.count {
            let digitsStart = index
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
            guard index > digitsStart else { return .malformed }
            let digits = bytes[digitsStart..<index]
            let suffixStart = index
            while index < bytes.count, isLetter(bytes[index]) { index += 1 }
            let suffix = String(decoding: bytes[suffixStart..<index], as: UTF8.self)
            guard firstAllowedUnit < units.count,
                  let unitIndex = units[firstAllowedUnit...].firstIndex(where: { $0.suffix == suffix })
            else { return .malformed }
            firstAllowedUnit = unitIndex + 1
            switch scaled(digits, by: units[unitIndex].milliseconds) {
            case .malformed: return .malformed
            case .overflow: return .overflow
            case .milliseconds(let part):
                let (sum, overflow) = total.addingReportingOverflow(part)
                if overflow { return .overflow }
                total = sum
            }
        }
        return .milliseconds(total)
    }

    // MARK: Addresses and host names

    /// Dotted-quad IPv4: four decimal parts 0…255, no leading zeros (which some resolvers read as octal).
    static func isIPv4(_ text: some StringProtocol) -> Bool {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return false }
        return parts.allSatisfy { part in
            guard (1...3).contains(part.utf8.count), part.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
                  let value = Int(part), value <= 255
            else { return false }
            return part.utf8.count == 1 || part.utf8.first != UInt8(ascii: "0")
        }
    }

    /// An IPv6 literal without brackets (RFC 4291 text forms: `::`, embedded IPv4 at the end), with an
    /// optional zone (`fe80::1%eth0`) when `allowingZone`.
    static func isIPv6(_ text: some StringProtocol, allowingZone: Bool) -> Bool {
        var address = Substring(text)
        if let percent = address.firstIndex(of: "%") {
            let zone = address[address.index(after: percent)...]
            guard allowingZone, !zone.isEmpty,
                  zone.unicodeScalars.allSatisfy({ $0.isASCII && ($0.properties.isAlphabetic || $0.properties.numericType != nil || "._-".unicodeScalars.contains($0)) })
            else { return false }
            address = address[..<percent]
        }

        /// The number of 16-bit groups in a run of `:`-separated groups, nil when malformed.
        func groupCount(_ run: Substring, mayEndWithIPv4: Bool) -> Int? {
            if run.isEmpty { return 0 }
            let groups = run.split(separator: ":", omittingEmptySubsequences: false)
            var count = 0
            for (position, group) in groups.enumerated() {
                if group.contains(".") {
                    guard mayEndWithIPv4, position == groups.count - 1, isIPv4(group) else { return nil }
                    count += 2
                } else {
                    guard (1...4).contains(group.utf8.count), group.unicodeScalars.allSatisfy({ $0.isASCII && $0.properties.isASCIIHexDigit })
                    else { return nil }
                    count += 1
                }
            }
            return count
        }

        let elisions = address.ranges(of: "::")
        switch elisions.count {
        case 0:
            return groupCount(address, mayEndWithIPv4: true) == 8
        case 1:
            let elision = elisions[0]
            guard let head = groupCount(address[..<elision.lowerBound], mayEndWithIPv4: false),
                  let tail = groupCount(address[elision.upperBound...], mayEndWithIPv4: true)
            else { return false }
            return head + tail <= 7
        default:
            return false
        }
    }

    /// A DNS host name: dot-separated labels of 1…63 letters, digits, `-` (not first or last) and `_`
    /// (Docker service names use it), 253 characters at most, an optional final dot, and a last label
    /// that is not all digits (so a mistyped address such as `10.0.0.256` is not taken for a name).
    static func isHostName(_ text: some StringProtocol) -> Bool {
        var name = Substring(text)
        if name.hasSuffix(".") { name = name.dropLast() }
        guard !name.isEmpty, name.utf8.count <= 253 else { return false }
        let labels = name.split(separator: ".", omittingEmptySubsequences: false)
        for label in labels {
            guard (1...63).contains(label.utf8.count),
                  label.utf8.allSatisfy({ isASCIIAlphanumeric($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") }),
                  label.utf8.first != UInt8(ascii: "-"), label.utf8.last != UInt8(ascii: "-")
            else { return false }
        }
        guard let last = labels.last else { return false }
        return !last.utf8.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
    }

    static func isASCIIAlphanumeric(_ b: UInt8) -> Bool {
        (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z"))
            || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9"))
    }

    /// `HTTP_HOST`: `localhost` / `all` in any case, an IPv4 or IPv6 literal (brackets allowed around
    /// IPv6 and dropped), or a host name.
    static func httpHost(_ text: String) -> AgentSettings.HTTPHost? {
        switch text.lowercased() {
        case "localhost": return .localhost
        case "all": return .all
        default: break
        }
        if text.hasPrefix("[") || text.hasSuffix("]") {
            guard text.hasPrefix("["), text.hasSuffix("]"), text.count >= 2 else { return nil }
            let inner = text.dropFirst().dropLast()
            return isIPv6(inner, allowingZone: true) ? .address(String(inner)) : nil
        }
        if isIPv4(text) || isIPv6(text, allowingZone: true) || isHostName(text) {
            return .address(text)
        }
        return nil
    }

    // MARK: URLs

    struct URLParts: Equatable {
        var scheme: String
        var hasUserInfo: Bool
        var host: String
        var port: Int?
    }

    /// `scheme://[userinfo@]host[:port][/path][?query]` with a host that is an IPv4 address, a bracketed
    /// IPv6 address or a host name, and a port 1…65535 when given. No white space or control characters.
    static func url(_ text: String) -> URLParts? {
        guard !text.unicodeScalars.contains(where: { $0.properties.isWhitespace || $0.properties.generalCategory == .control }),
              let separator = text.firstRange(of: "://")
        else { return nil }
        let scheme = text[..<separator.lowerBound]
        guard let firstScalar = scheme.unicodeScalars.first, firstScalar.isASCII, firstScalar.properties.isAlphabetic,
              scheme.utf8.allSatisfy({ isASCIIAlphanumeric($0) || $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".") })
        else { return nil }
        let afterScheme = text[separator.upperBound...]
        let authorityEnd = afterScheme.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? afterScheme.endIndex
        var hostAndPort = afterScheme[..<authorityEnd]
        var hasUserInfo = false
        if let at = hostAndPort.lastIndex(of: "@") {
            hasUserInfo = true
            hostAndPort = hostAndPort[hostAndPort.index(after: at)...]
        }

        let host: Substring
        let portText: Substring?
        if hostAndPort.hasPrefix("[") {
            guard let close = hostAndPort.firstIndex(of: "]") else { return nil }
            host = hostAndPort[hostAndPort.index(after: hostAndPort.startIndex)..<close]
            guard isIPv6(host, allowingZone: false) else { return nil }
            let rest = hostAndPort[hostAndPort.index(after: close)...]
            if rest.isEmpty {
                portText = nil
            } else {
                guard rest.hasPrefix(":") else { return nil }
                portText = rest.dropFirst()
            }
        } else if let colon = hostAndPort.firstIndex(of: ":") {
            host = hostAndPort[..<colon]
            portText = hostAndPort[hostAndPort.index(after: colon)...]
        } else {
            host = hostAndPort
            portText = nil
        }
        if !hostAndPort.hasPrefix("[") {
            guard isIPv4(host) || isHostName(host) else { return nil }
        }

        var port: Int?
        if let portText {
            guard portText.utf8.count <= 5, case .value(let value) = unsignedInteger(portText), (1...65535).contains(value)
            else { return nil }
            port = Int(value)
        }
        return URLParts(scheme: scheme.lowercased(), hasUserInfo: hasUserInfo, host: String(host), port: port)
    }

    /// The URL with any user information (`user:password@`) replaced by `<hidden>@`, for error messages.
    static func redactingUserInfo(_ text: String) -> String {
        guard let separator = text.firstRange(of: "://") else { return text }
        let afterScheme = text[separator.upperBound...]
        let authorityEnd = afterScheme.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? afterScheme.endIndex
        guard let at = afterScheme[..<authorityEnd].lastIndex(of: "@") else { return text }
        return String(text[..<separator.upperBound]) + SettingsError.hidden + String(text[at...])
    }

    // MARK: AWS identifiers

    /// A region's shape: lowercase letters, digits and dashes in at least three parts, the first
    /// starting with a letter and the last all digits (`us-east-1`, `us-gov-west-1`, `eu-isoe-west-1`).
    /// Catches `us-east`, `US-EAST-1` and `useast1`, which would otherwise fail later as a DNS or
    /// signature error.
    static func isRegion(_ text: String) -> Bool {
        guard text.utf8.count <= 64 else { return false }
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count >= 3, let first = parts.first, let last = parts.last,
              let initial = first.utf8.first, initial >= UInt8(ascii: "a"), initial <= UInt8(ascii: "z"),
              last.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") })
        else { return false }
        return parts.allSatisfy { part in
            !part.isEmpty && part.utf8.allSatisfy { ($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z")) || ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9")) }
        }
    }

    /// `arn:<partition>:iam::<12-digit account>:role/<path and name>`, at most 2048 characters (STS's limit).
    static func isRoleARN(_ text: String) -> Bool {
        guard (20...2048).contains(text.utf8.count) else { return false }
        let parts = text.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false)
        guard parts.count == 6, parts[0] == "arn",
              !parts[1].isEmpty, parts[1].utf8.allSatisfy({ ($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z")) || $0 == UInt8(ascii: "-") }),
              parts[2] == "iam", parts[3].isEmpty,
              parts[4].utf8.count == 12, parts[4].utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
              parts[5].hasPrefix("role/"), parts[5].utf8.count > 5, !parts[5].hasSuffix("/")
        else { return false }
        return parts[5].utf8.allSatisfy { isASCIIAlphanumeric($0) || "_+=,.@-/".utf8.contains($0) }
    }

    /// STS `RoleSessionName`: 2…64 characters of `[\w+=,.@-]`.
    static func isRoleSessionName(_ text: String) -> Bool {
        (2...64).contains(text.utf8.count) && text.utf8.allSatisfy { isASCIIAlphanumeric($0) || "_+=,.@-".utf8.contains($0) }
    }

    /// STS `ExternalId`: 2…1224 characters of `[\w+=,.@:/-]`.
    static func isExternalID(_ text: String) -> Bool {
        (2...1224).contains(text.utf8.count) && text.utf8.allSatisfy { isASCIIAlphanumeric($0) || "_+=,.@:/-".utf8.contains($0) }
    }

    /// An HTTP field name (RFC 9110 `token`).
    static func isHeaderName(_ text: some StringProtocol) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy { isASCIIAlphanumeric($0) || "!#$%&'*+-.^_`|~".utf8.contains($0) }
    }

    // MARK: JSON

    /// Whether `text` is syntactically one JSON object. Only syntax: the manifest module checks the schema.
    static func isJSONObject(_ text: String) -> Bool {
        (try? JSONDecoder().decode([String: AnyJSONValue].self, from: Data(text.utf8))) != nil
    }
}

/// Decodes and discards any JSON value, which makes the decoder check the syntax of all of it.
private struct AnyJSONValue: Decodable {
    private struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    init(from decoder: any Decoder) throws {
        if let object = try? decoder.container(keyedBy: AnyKey.self) {
            for key in object.allKeys { _ = try object.decode(AnyJSONValue.self, forKey: key) }
        } else if var array = try? decoder.unkeyedContainer() {
            while !array.isAtEnd { _ = try array.decode(AnyJSONValue.self) }
        } else {
            _ = try decoder.singleValueContainer()
        }
    }
}
