#if canImport(Glibc)
import Glibc
#endif

/// An `http`/`https` URL split the way a request needs it: scheme, host, port, and the path with any query.
/// No user information and no fragment: credentials endpoints never need them, and refusing them keeps
/// a password out of the `Host` line and out of messages.
struct EndpointURL: Sendable, Equatable {
    var scheme: String
    /// Without brackets for an IPv6 literal.
    var host: String
    var port: Int?
    /// Starts with `/`; `/` when the URL has none. Includes `?query` when there is one.
    var pathAndQuery: String

    init?(parsing text: String) {
        guard let parts = SettingValueParsers.url(text), parts.scheme == "http" || parts.scheme == "https", !parts.hasUserInfo,
              let separator = text.firstRange(of: "://")
        else { return nil }
        let afterScheme = text[separator.upperBound...]
        let authorityEnd = afterScheme.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? afterScheme.endIndex
        let rest = afterScheme[authorityEnd...]
        guard !rest.contains("#") else { return nil }
        scheme = parts.scheme
        host = parts.host
        port = parts.port
        pathAndQuery = rest.isEmpty ? "/" : (rest.hasPrefix("/") ? String(rest) : "/" + rest)
    }

    var isIPv6: Bool { host.contains(":") }

    /// `host[:port]` as the `Host` header and SigV4 want it: the port only when it is not the scheme's default.
    var hostHeader: String {
        let name = isIPv6 ? "[\(host)]" : host
        guard let port, port != (scheme == "https" ? 443 : 80) else { return name }
        return "\(name):\(port)"
    }

    /// `scheme://host[:port]` followed by `pathAndQuery`, or by `path` when one is given.
    func url(path: String? = nil) -> String {
        let name = isIPv6 ? "[\(host)]" : host
        let portPart = port.map { ":\($0)" } ?? ""
        return "\(scheme)://\(name)\(portPart)\(path ?? pathAndQuery)"
    }

    /// The path alone, without the query.
    var path: String {
        pathAndQuery.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? "/"
    }

    /// The URL for messages: scheme, host, port and path, never the query (which could carry a token).
    var redacted: String { url(path: path) }

    /// The 4 or 16 address bytes when the host is an IP literal.
    var addressBytes: [UInt8]? {
        if isIPv6 {
            var address = in6_addr()
            guard inet_pton(AF_INET6, host, &address) == 1 else { return nil }
            return withUnsafeBytes(of: &address) { Array($0) }
        }
        guard SettingValueParsers.isIPv4(host) else { return nil }
        var address = in_addr()
        guard inet_pton(AF_INET, host, &address) == 1 else { return nil }
        return withUnsafeBytes(of: &address) { Array($0) }
    }
}
