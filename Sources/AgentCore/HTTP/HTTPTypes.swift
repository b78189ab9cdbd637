/// The request methods the router tells apart; anything else is `.other`.
public enum HTTPMethod: Sendable, Equatable {
    case get, head, post, put, delete, options, patch, other
}

/// What the router needs of a request, whatever carries it (libevent, or a test).
public protocol RouteRequest {
    var method: HTTPMethod { get }
    /// The request target as sent: path and query, still percent-encoded.
    var target: String { get }
    /// The first value of a header, by case-insensitive name.
    func header(_ name: String) -> String?
    /// Every value of a header, in order (for headers that may repeat, like `Context`).
    func headers(named name: String) -> [String]
}

/// A body to send: nothing, bytes, or a cached configuration's bytes without a copy.
public enum ResponseBody: Sendable {
    case empty
    case bytes([UInt8])
    case payload(ConfigurationPayload)

    public var count: Int {
        switch self {
        case .empty: 0
        case .bytes(let bytes): bytes.count
        case .payload(let payload): payload.count
        }
    }
}

/// The router's answer: status, the headers this API defines, and a body.
public struct RouteResponse: Sendable {
    public var status: Int
    public var contentType: String?
    public var headers: [(name: String, value: String)]
    public var body: ResponseBody
    /// The configuration served, when the answer is one (200 or 304); its prebuilt header values are
    /// used, its Content-Type only when `contentType` is nil.
    public var payload: ConfigurationPayload?

    public init(status: Int, contentType: String? = nil, headers: [(name: String, value: String)] = [],
                body: ResponseBody = .empty, payload: ConfigurationPayload? = nil) {
        self.status = status
        self.contentType = contentType
        self.headers = headers
        self.body = body
        self.payload = payload
    }

    /// A short plain-text error: names what failed, never carries a credential or a stack trace.
    public static func error(_ status: Int, _ message: String, headers: [(name: String, value: String)] = []) -> RouteResponse {
        RouteResponse(status: status, contentType: "text/plain; charset=utf-8", headers: headers,
                      body: .bytes(Array((message + "\n").utf8)))
    }

    public func header(_ name: String) -> String? {
        if name.lowercased() == "content-type" { return contentType ?? payload?.contentType }
        if let payload, name.lowercased() == "configuration-version" { return payload.version }
        if let payload, name.lowercased() == "version-label" { return payload.versionLabel }
        if let payload, name.lowercased() == "etag" { return payload.etag }
        return headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    public var bodyBytes: [UInt8] {
        switch body {
        case .empty: []
        case .bytes(let bytes): bytes
        case .payload(let payload): payload.contentArray
        }
    }
}

public enum HTTPStatus {
    public static func reason(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 304: "Not Modified"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 413: "Payload Too Large"
        case 414: "URI Too Long"
        case 431: "Request Header Fields Too Large"
        case 500: "Internal Server Error"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        case 504: "Gateway Timeout"
        default: "Status"
        }
    }
}
