#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// An HTTP request as the signer sees it: exactly what will go on the wire, minus scheme and host name
/// (the `Host` header carries the host, with a non-default port).
public struct SigV4Request: Sendable, Equatable {
    /// A name–value pair: a query parameter or a header field. Order is kept.
    public struct Field: Sendable, Equatable {
        public var name: String
        public var value: String

        public init(_ name: String, _ value: String) {
            self.name = name
            self.value = value
        }
    }

    public var method: String
    /// The path exactly as sent in the request line (already percent-encoded where it needs to be).
    /// The canonical request encodes each segment once more, as SigV4 requires for every service but S3.
    public var path: String
    /// Query parameters, raw (not percent-encoded). Use `encodedQuery` to build the URL.
    public var query: [Field]
    /// Header fields in order. Every one of them is signed, so put on only what the caller controls.
    public var headers: [Field]
    public var body: [UInt8]

    public init(method: String, path: String, query: [Field] = [], headers: [Field] = [], body: [UInt8] = []) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
    }

    /// The query string for the URL, in the given order, encoded the way the signature expects
    /// (RFC 3986 unreserved characters kept, everything else `%XX`, so `+`, `/`, `=` in tokens too).
    public var encodedQuery: String {
        query.map { SigV4Signer.uriEncode($0.name) + "=" + SigV4Signer.uriEncode($0.value) }.joined(separator: "&")
    }

    /// Values of every header named `name` (case-insensitive), in order.
    public func headerValues(named name: String) -> [String] {
        let wanted = name.lowercased()
        return headers.filter { $0.name.lowercased() == wanted }.map(\.value)
    }

    /// The first value of the header named `name` (case-insensitive).
    public func headerValue(named name: String) -> String? {
        headerValues(named: name).first
    }

    mutating func removeHeaders(named name: String) {
        let unwanted = name.lowercased()
        headers.removeAll { $0.name.lowercased() == unwanted }
    }
}

/// Why a request could not be signed.
public enum SigV4Error: Error, Sendable, Equatable, CustomStringConvertible {
    case missingHostHeader

    public var description: String {
        switch self {
        case .missingHostHeader:
            "SigV4: the request has no Host header; add one (with the port when it is not the default) before signing"
        }
    }
}

/// AWS Signature Version 4 (`AWS4-HMAC-SHA256`, header form) for one service in one region.
///
/// Signs every header on the request (except `Authorization`), adds `X-Amz-Date`,
/// `X-Amz-Security-Token` when the credentials have a session token, and `Authorization`.
/// No `X-Amz-Content-SHA256` header: the payload hash only appears in the canonical request.
/// Re-signing a signed request replaces those three headers, so retries can simply sign again.
public struct SigV4Signer: Sendable {
    public let service: String
    public let region: String

    static let algorithm = "AWS4-HMAC-SHA256"

    public init(service: String, region: String) {
        self.service = service
        self.region = region
    }

    /// Adds `X-Amz-Date`, `X-Amz-Security-Token` (when there is a session token) and `Authorization` to `request`.
    public func sign(_ request: inout SigV4Request, credentials: AWSCredentials, date: Date) throws(SigV4Error) {
        guard !request.headerValues(named: "host").isEmpty else { throw .missingHostHeader }
        let stamp = AMZDate(date)
        request.removeHeaders(named: "authorization")
        request.removeHeaders(named: "x-amz-date")
        request.removeHeaders(named: "x-amz-security-token")
        request.headers.append(.init("X-Amz-Date", stamp.dateTime))
        if let token = credentials.sessionToken, !token.isEmpty {
            request.headers.append(.init("X-Amz-Security-Token", token))
        }
        let canonical = canonicalRequest(for: request)
        let signature = Digest.hex(Digest.hmacSHA256(
            key: signingKey(secretAccessKey: credentials.secretAccessKey, day: stamp.day),
            data: stringToSign(canonicalRequest: canonical.text, date: stamp).utf8
        ))
        let authorization = "\(Self.algorithm) Credential=\(credentials.accessKeyId)/\(scope(day: stamp.day)), "
            + "SignedHeaders=\(canonical.signedHeaders), Signature=\(signature)"
        request.headers.append(.init("Authorization", authorization))
    }

    /// A signed copy of `request`.
    public func signed(_ request: SigV4Request, credentials: AWSCredentials, date: Date) throws(SigV4Error) -> SigV4Request {
        var copy = request
        try sign(&copy, credentials: credentials, date: date)
        return copy
    }

    // MARK: - Steps, visible to tests

    struct CanonicalRequest: Equatable {
        var text: String
        var signedHeaders: String
    }

    /// The canonical request over the request's headers as they are (without `Authorization`).
    func canonicalRequest(for request: SigV4Request) -> CanonicalRequest {
        var valuesByName: [String: [String]] = [:]
        for field in request.headers {
            let name = field.name.lowercased()
            if name == "authorization" { continue }
            valuesByName[name, default: []].append(Self.trimAll(field.value))
        }
        let sortedHeaders = valuesByName.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
        let canonicalHeaders = sortedHeaders.map { "\($0.key):\($0.value.joined(separator: ","))\n" }.joined()
        let signedHeaders = sortedHeaders.map(\.key).joined(separator: ";")

        let text = [
            request.method,
            Self.canonicalPath(request.path),
            Self.canonicalQuery(request.query),
            canonicalHeaders,
            signedHeaders,
            Digest.hex(Digest.sha256(request.body)),
        ].joined(separator: "\n")
        return CanonicalRequest(text: text, signedHeaders: signedHeaders)
    }

    func stringToSign(canonicalRequest: String, date: Date) -> String {
        stringToSign(canonicalRequest: canonicalRequest, date: AMZDate(date))
    }

    private func stringToSign(canonicalRequest: String, date: AMZDate) -> String {
        [
            Self.algorithm,
            date.dateTime,
            scope(day: date.day),
            Digest.hex(Digest.sha256(canonicalRequest.utf8)),
        ].joined(separator: "\n")
    }

    /// kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, day), region), service), "aws4_request").
    func signingKey(secretAccessKey: String, day: String) -> [UInt8] {
        var key = Digest.hmacSHA256(key: Array("AWS4\(secretAccessKey)".utf8), data: day.utf8)
        for part in [region, service, "aws4_request"] {
            key = Digest.hmacSHA256(key: key, data: part.utf8)
        }
        return key
    }

    private func scope(day: String) -> String {
        "\(day)/\(region)/\(service)/aws4_request"
    }

    // MARK: - Canonical forms

    /// Removes dot segments and empty segments (AWS services want `//` collapsed), then encodes each
    /// segment. Follows botocore: a trailing slash survives only when some segment does.
    static func canonicalPath(_ path: String) -> String {
        if path.isEmpty { return "/" }
        var segments: [Substring] = []
        for segment in path.split(separator: "/", omittingEmptySubsequences: true) {
            switch segment {
            case ".": continue
            case "..": if !segments.isEmpty { segments.removeLast() }
            default: segments.append(segment)
            }
        }
        let leading = path.hasPrefix("/") ? "/" : ""
        let trailing = path.hasSuffix("/") && !segments.isEmpty ? "/" : ""
        return leading + segments.map { uriEncode($0) }.joined(separator: "/") + trailing
    }

    /// Parameters encoded, then sorted by encoded name and, for equal names, by encoded value (bytewise).
    static func canonicalQuery(_ query: [SigV4Request.Field]) -> String {
        query
            .map { (name: uriEncode($0.name), value: uriEncode($0.value)) }
            .sorted { lhs, rhs in
                lhs.name == rhs.name
                    ? lhs.value.utf8.lexicographicallyPrecedes(rhs.value.utf8)
                    : lhs.name.utf8.lexicographicallyPrecedes(rhs.name.utf8)
            }
            .map { "\($0.name)=\($0.value)" }
            .joined(separator: "&")
    }

    /// SigV4's URI encoding: `A-Z a-z 0-9 - _ . ~` kept, every other byte of the UTF-8 form as `%XX` (uppercase).
    static func uriEncode(_ text: some StringProtocol) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            if isUnreserved(byte) {
                out.append(byte)
            } else {
                out.append(UInt8(ascii: "%"))
                out.append(upperHexDigits[Int(byte >> 4)])
                out.append(upperHexDigits[Int(byte & 0x0F)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Trims the value and turns each inner run of whitespace into one space. Line breaks count as
    /// whitespace, so an obs-folded value (`a\r\n  b`) reads as `a b`, as botocore signs it.
    static func trimAll(_ value: String) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(value.utf8.count)
        var pendingSpace = false
        for byte in value.utf8 {
            if byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D {
                pendingSpace = !out.isEmpty
            } else {
                if pendingSpace { out.append(0x20) }
                pendingSpace = false
                out.append(byte)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
            true
        default:
            false
        }
    }

    private static let upperHexDigits = Array("0123456789ABCDEF".utf8)
}

/// A point in time as SigV4 writes it, in UTC: `day` = `yyyyMMdd`, `dateTime` = `yyyyMMdd'T'HHmmss'Z'`.
/// Computed with plain arithmetic (days to civil date), so no formatter, locale or time zone is involved.
struct AMZDate: Equatable {
    let day: String
    let dateTime: String

    init(_ date: Date) {
        // Clamp to years 0001...9999 so the fields always have their fixed widths.
        let interval = date.timeIntervalSince1970
        let clamped = interval.isFinite ? min(max(interval, -62_135_596_800), 253_402_300_799) : 0
        let seconds = Int64(clamped.rounded(.down))
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = seconds - days * 86_400
        let (year, month, dayOfMonth) = Self.civil(fromDaysSince1970: days)
        day = Self.pad(year, 4) + Self.pad(month, 2) + Self.pad(dayOfMonth, 2)
        dateTime = day + "T" + Self.pad(secondOfDay / 3600, 2) + Self.pad(secondOfDay / 60 % 60, 2)
            + Self.pad(secondOfDay % 60, 2) + "Z"
    }

    /// Howard Hinnant's `civil_from_days` (proleptic Gregorian calendar).
    private static func civil(fromDaysSince1970 days: Int64) -> (Int64, Int64, Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let dayOfMonth = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (year, month, dayOfMonth)
    }

    private static func pad(_ value: Int64, _ width: Int) -> String {
        let digits = String(value)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
}
