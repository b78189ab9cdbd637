/// One header line, kept in the order it was given or received.
public struct HTTPHeader: Sendable, Hashable {
    public var name: String
    public var value: String

    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

/// An outgoing request. The client sends exactly `headers` plus the ones HTTP itself needs
/// (`Host`, and `Content-Length` when there is a body): never `Accept`, `Expect`, `User-Agent` or a
/// `Content-Type` the caller did not set, so that what SigV4 signed is what goes out.
public struct HTTPClientRequest: Sendable {
    public var method: String
    public var url: String
    public var headers: [HTTPHeader]
    public var body: [UInt8]
    /// Overrides `HTTPClientConfiguration.requestTimeout` for this request.
    public var timeout: Duration?

    public init(method: String = "GET", url: String, headers: [HTTPHeader] = [], body: [UInt8] = [], timeout: Duration? = nil) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
    }
}

/// A complete response: any status, including 4xx and 5xx, is a response and not an error.
public struct HTTPClientResponse: Sendable {
    public var status: Int
    /// In the order received; names as the server spelled them.
    public var headers: [HTTPHeader]
    public var body: [UInt8]

    public init(status: Int, headers: [HTTPHeader] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// The first header called `name`, compared case-insensitively (ASCII).
    public func header(_ name: String) -> String? {
        headers.first { HTTPClientResponse.namesMatch($0.name, name) }?.value
    }

    /// Every header called `name`, in order.
    public func headers(named name: String) -> [String] {
        headers.filter { HTTPClientResponse.namesMatch($0.name, name) }.map(\.value)
    }

    static func namesMatch(_ a: String, _ b: String) -> Bool {
        let x = a.utf8, y = b.utf8
        guard x.count == y.count else { return false }
        return zip(x, y).allSatisfy { asciiLower($0) == asciiLower($1) }
    }

    private static func asciiLower(_ c: UInt8) -> UInt8 {
        c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z") ? c | 0x20 : c
    }
}

/// Why a request produced no response. Messages are short, name the host at most, and never carry
/// a header value, a query string or a credential.
public enum HTTPClientError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The request (or its connect phase) did not finish within its timeout.
    case timedOut
    /// No connection could be made or kept: refused, reset before a response, proxy refused CONNECT.
    case connectionFailed(String)
    /// The TLS handshake or certificate verification failed.
    case tls(String)
    /// The host (or proxy) name did not resolve.
    case resolve(String)
    /// The response ended early: fewer bytes than `Content-Length`, or the connection dropped mid-body.
    case truncated(String)
    /// The response (body, or headers) exceeded `limit` bytes and was abandoned.
    case tooLarge(limit: Int)
    /// The request cannot be sent as given (a header with CR/LF, a malformed URL, a scheme other than http/https).
    case invalidRequest(String)
    /// The client cannot be built from this configuration (for example `maxConnections` below 1).
    case invalidConfiguration(String)
    /// The calling task was cancelled; the transfer was abandoned.
    case cancelled
    /// The client was shut down before the request finished.
    case shutDown
    /// Any other libcurl failure, with its `CURLcode`.
    case other(code: Int32, String)

    public var description: String {
        switch self {
        case .timedOut: "request timed out"
        case .connectionFailed(let m): "connection failed: \(m)"
        case .tls(let m): "TLS failed: \(m)"
        case .resolve(let m): "name resolution failed: \(m)"
        case .truncated(let m): "response truncated: \(m)"
        case .tooLarge(let limit): "response larger than \(limit) bytes"
        case .invalidRequest(let m): "invalid request: \(m)"
        case .invalidConfiguration(let m): "invalid HTTP client configuration: \(m)"
        case .cancelled: "request cancelled"
        case .shutDown: "HTTP client shut down"
        case .other(let code, let m): "HTTP transfer failed (curl \(code)): \(m)"
        }
    }
}

/// How the client talks to AWS. One per process is the intent: it owns the connection pool.
public struct HTTPClientConfiguration: Sendable {
    /// The most connections open, and requests running, at once, in total and per host
    /// (`MAX_CONNECTIONS`); further requests wait in a queue until one finishes. Waiting does not
    /// count against their timeout.
    public var maxConnections: Int
    /// Whole-request limit, from getting one of the `maxConnections` slots to the last body byte
    /// (`REQUEST_TIMEOUT`).
    public var requestTimeout: Duration
    /// Limit on establishing a connection (TCP, proxy and TLS), within `requestTimeout`.
    public var connectTimeout: Duration
    /// A PEM bundle of trusted CAs (`AWS_CA_BUNDLE`); nil keeps the system store.
    public var caBundle: String?
    /// Proxy for every request (`PROXY_URL`), `http://` or `https://`, credentials allowed in the URL.
    /// When nil, libcurl applies `https_proxy`/`HTTPS_PROXY`, `http_proxy` (lower case only),
    /// `all_proxy`/`ALL_PROXY` and `no_proxy`/`NO_PROXY` from the environment, per request.
    /// `no_proxy`/`NO_PROXY` is honoured even when `proxyURL` is set. (Checked with libcurl 7.88:
    /// upper-case `HTTP_PROXY` is ignored on purpose, against CGI header injection.)
    public var proxyURL: String?
    /// False: ignore the proxy environment variables when `proxyURL` is nil, for example for a
    /// client that calls the instance metadata or container credentials endpoints.
    public var useEnvironmentProxy: Bool
    /// Sent only to the proxy (`PROXY_HEADERS`): in the CONNECT request that opens the tunnel for an
    /// `https` URL, and never to AWS through it. For a plain `http` URL the proxy receives the request
    /// itself, so there these go along with the request's own headers (libcurl's behaviour).
    public var proxyHeaders: [HTTPHeader]
    /// A response body larger than this is abandoned with `.tooLarge`.
    public var maxResponseBytes: Int

    public init(
        maxConnections: Int = 3,
        requestTimeout: Duration = .milliseconds(3000),
        connectTimeout: Duration = .milliseconds(3000),
        caBundle: String? = nil,
        proxyURL: String? = nil,
        useEnvironmentProxy: Bool = true,
        proxyHeaders: [HTTPHeader] = [],
        maxResponseBytes: Int = 64 << 20
    ) {
        self.maxConnections = maxConnections
        self.requestTimeout = requestTimeout
        self.connectTimeout = connectTimeout
        self.caBundle = caBundle
        self.proxyURL = proxyURL
        self.useEnvironmentProxy = useEnvironmentProxy
        self.proxyHeaders = proxyHeaders
        self.maxResponseBytes = maxResponseBytes
    }
}

extension Duration {
    /// Whole milliseconds, at least 1: libcurl reads a timeout of 0 as "no timeout".
    var curlMilliseconds: Int {
        let (seconds, attoseconds) = components
        guard seconds >= 0 else { return 1 }
        // libcurl keeps timeouts as a long of milliseconds; a month is plenty.
        guard seconds < 30 * 24 * 3600 else { return 30 * 24 * 3600 * 1000 }
        return max(1, Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000))
    }
}
