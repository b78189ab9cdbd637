#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Why a call to the AppConfig Data API (`StartConfigurationSession`, `GetLatestConfiguration`) failed,
/// sorted by what the poller does about it (see `PollerStateMachine`).
///
/// No case carries a response body, a token or a credential: values are safe to log.
public enum DataPlaneError: Error, Sendable, Hashable, CustomStringConvertible {
    /// 400 `BadRequestException`. `problem` is `Details.InvalidParameters.*.Problem` when the service
    /// gave one: `Corrupted`, `Expired` or `PollIntervalNotSatisfied`.
    case badRequest(problem: String?)
    /// 404 `ResourceNotFoundException`: unknown application, environment or profile.
    case resourceNotFound
    /// 429 `ThrottlingException` (or any throttling type name).
    case throttled
    /// 401/403, `AccessDeniedException`, `UnrecognizedClientException`, `InvalidSignatureException`,
    /// `ExpiredTokenException`: the service refused these credentials.
    case accessDenied
    /// 5xx, `InternalServerException`.
    case server(status: Int)
    /// The call did not complete: connection refused or reset, DNS, TLS, timeout.
    case network(String)
    /// An answer that cannot be used: truncated or unreadable body, missing `Next-Poll-Configuration-Token`,
    /// unexpected status.
    case malformedResponse(String)
    /// No credentials could be obtained, so no call was made.
    case credentials(String)

    /// The `Problem` values the service documents for `BadRequestException`.
    public enum Problem {
        public static let corrupted = "Corrupted"
        public static let expired = "Expired"
        public static let pollIntervalNotSatisfied = "PollIntervalNotSatisfied"
    }

    /// The service could not be reached or did not answer usefully: what backups are for.
    public var meansUnreachable: Bool {
        switch self {
        case .throttled, .server, .network, .malformedResponse, .credentials: true
        case .badRequest, .resourceNotFound, .accessDenied: false
        }
    }

    public var description: String {
        switch self {
        case .badRequest(let problem): problem.map { "bad request (\($0))" } ?? "bad request"
        case .resourceNotFound: "resource not found"
        case .throttled: "throttled"
        case .accessDenied: "access denied"
        case .server(let status): "server error \(status)"
        case .network(let detail): "network error: \(detail)"
        case .malformedResponse(let detail): "malformed response: \(detail)"
        case .credentials(let detail): "no credentials: \(detail)"
        }
    }

    /// Sorts an error answer from the service.
    ///
    /// The error type comes from `x-amzn-ErrorType` (cut at `:`), else from the JSON body's `__type` or
    /// `code` (cut after a `namespace#` prefix); a known type name decides, whatever the status. Without
    /// one, the status decides. For `BadRequestException` the body's `Details.InvalidParameters.*.Problem`
    /// is read (the first parameter in name order that has one).
    public static func classify(status: Int, errorTypeHeader: String?, body: [UInt8]) -> DataPlaneError {
        let parsed = ErrorBody.parse(body)
        let typeName = errorTypeName(errorTypeHeader, parsed)

        if let typeName, let known = fromTypeName(typeName, status: status, problem: parsed?.problem) {
            return known
        }
        switch status {
        case 400: return .badRequest(problem: parsed?.problem)
        case 401, 403: return .accessDenied
        case 404: return .resourceNotFound
        case 429: return .throttled
        case 500...599: return .server(status: status)
        default: return .malformedResponse("unexpected HTTP status \(status)")
        }
    }

    /// The error type an answer names (`ThrottlingException`), as `classify` reads it, for log lines:
    /// nil when there is none, or when it is not a plain name (at most 100 letters, digits, `.`, `_`, `-`).
    public static func errorTypeName(errorTypeHeader: String?, body: [UInt8]) -> String? {
        guard let name = errorTypeName(errorTypeHeader, ErrorBody.parse(body)), name.utf8.count <= 100,
              name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) }) else { return nil }
        return name
    }

    private static func errorTypeName(_ header: String?, _ parsed: ErrorBody?) -> String? {
        header.flatMap(normalizedTypeName) ?? parsed?.typeName.flatMap(normalizedTypeName)
    }

    /// `com.amazonaws.appconfigdata#ThrottlingException` and `ThrottlingException:http://internal…`
    /// both give `ThrottlingException`.
    static func normalizedTypeName(_ raw: String) -> String? {
        var name = Substring(raw)
        if let colon = name.firstIndex(of: ":") { name = name[..<colon] }
        if let hash = name.lastIndex(of: "#") { name = name[name.index(after: hash)...] }
        while name.first?.isWhitespace == true { name = name.dropFirst() }
        while name.last?.isWhitespace == true { name = name.dropLast() }
        return name.isEmpty ? nil : String(name)
    }

    private static func fromTypeName(_ name: String, status: Int, problem: String?) -> DataPlaneError? {
        switch name {
        case "BadRequestException", "ValidationException":
            return .badRequest(problem: problem)
        case "ResourceNotFoundException":
            return .resourceNotFound
        case "ThrottlingException", "Throttling", "ThrottledException", "TooManyRequestsException",
             "RequestLimitExceeded", "RequestThrottled", "RequestThrottledException", "SlowDown":
            return .throttled
        case "AccessDeniedException", "AccessDenied", "UnrecognizedClientException", "InvalidSignatureException",
             "SignatureDoesNotMatch", "IncompleteSignatureException", "IncompleteSignature",
             "MissingAuthenticationTokenException", "MissingAuthenticationToken", "InvalidClientTokenId",
             "ExpiredTokenException", "ExpiredToken", "RequestExpired", "AuthFailure":
            return .accessDenied
        case "InternalServerException", "InternalFailure", "InternalServerError", "ServiceUnavailableException",
             "ServiceUnavailable":
            return .server(status: (500...599).contains(status) ? status : 500)
        default:
            return nil
        }
    }
}

/// The few fields of an AWS JSON error body the poller needs; every field optional and read leniently,
/// so a body of another shape (HTML from a proxy, truncated JSON) just yields nothing.
private struct ErrorBody: Decodable {
    var typeName: String?
    var problem: String?

    static func parse(_ body: [UInt8]) -> ErrorBody? {
        guard body.contains(where: { $0 == UInt8(ascii: "{") }) else { return nil }
        return try? JSONDecoder().decode(ErrorBody.self, from: Data(body))
    }

    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ string: String) { stringValue = string }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Key.self)
        typeName = Self.string(container, "__type") ?? Self.string(container, "code") ?? Self.string(container, "Code")
        problem = Self.problem(in: container)
    }

    private static func string(_ container: KeyedDecodingContainer<Key>, _ key: String) -> String? {
        try? container.decodeIfPresent(String.self, forKey: Key(key))
    }

    /// `{"Details": {"InvalidParameters": {"ConfigurationToken": {"Problem": "Expired"}}}}`
    private static func problem(in container: KeyedDecodingContainer<Key>) -> String? {
        guard let details = try? container.nestedContainer(keyedBy: Key.self, forKey: Key("Details")),
              let parameters = try? details.nestedContainer(keyedBy: Key.self, forKey: Key("InvalidParameters"))
        else { return nil }
        for name in parameters.allKeys.map(\.stringValue).sorted() {
            if let parameter = try? parameters.nestedContainer(keyedBy: Key.self, forKey: Key(name)),
               let problem = string(parameter, "Problem") {
                return problem
            }
        }
        return nil
    }
}
