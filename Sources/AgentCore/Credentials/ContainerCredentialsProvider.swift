#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Credentials from a container credentials endpoint: ECS task roles, EKS Pod Identity, Greengrass, local emulators.
///
/// `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` (wins when both are set) is fetched from
/// `http://169.254.170.2<uri>`. `AWS_CONTAINER_CREDENTIALS_FULL_URI` is accepted for `https` to any host,
/// and for `http` only to a loopback literal (`127.0.0.0/8`, `::1`, `localhost`), `169.254.170.2`,
/// `169.254.170.23` or `fd00:ec2::23`; host names are not resolved to check them, so any other name is
/// refused before anything is sent. `Authorization` comes from `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE`
/// (read again on every refresh; it rotates) or `AWS_CONTAINER_AUTHORIZATION_TOKEN`.
/// The answer is JSON with `AccessKeyId`, `SecretAccessKey`, `Token`, `Expiration`.
public final class ContainerCredentialsProvider: CredentialsProviding {
    static let relativeURIBase = "http://169.254.170.2"
    static let requestTimeout: Duration = .seconds(2)

    public let endpoint: String
    private let url: EndpointURL
    private let tokenFile: String?
    private let token: String?
    private let client: CurlHTTPClient
    private let cache: CredentialsCache

    /// The endpoint `environment` describes, or nil when neither URI variable is set.
    /// `client` must not use a proxy (`useEnvironmentProxy: false`, no `proxyURL`).
    public static func fromEnvironment(
        _ environment: [String: String],
        client: CurlHTTPClient,
        now: @escaping @Sendable () -> Date = { Date() }
    ) throws(CredentialsError) -> ContainerCredentialsProvider? {
        try fromEnvironment(environment, client: client, relativeURIBase: relativeURIBase, now: now)
    }

    /// `relativeURIBase` replaces `http://169.254.170.2` for tests; deliberately not a variable users can set.
    static func fromEnvironment(
        _ environment: [String: String],
        client: CurlHTTPClient,
        relativeURIBase: String,
        now: @escaping @Sendable () -> Date
    ) throws(CredentialsError) -> ContainerCredentialsProvider? {
        let url: EndpointURL
        if let relative = CredentialsSupport.value(environment, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") {
            let text = relativeURIBase + (relative.hasPrefix("/") ? relative : "/" + relative)
            guard let parsed = EndpointURL(parsing: text) else {
                throw CredentialsError("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI is not a valid URL path; it should look like /v2/credentials/<id>")
            }
            url = parsed
        } else if let full = CredentialsSupport.value(environment, "AWS_CONTAINER_CREDENTIALS_FULL_URI") {
            guard let parsed = EndpointURL(parsing: full) else {
                throw CredentialsError("AWS_CONTAINER_CREDENTIALS_FULL_URI is not an http or https URL with a host (and no user information or fragment)")
            }
            guard isAllowed(parsed) else {
                throw CredentialsError("AWS_CONTAINER_CREDENTIALS_FULL_URI \(parsed.redacted) is refused: plain http is allowed only to a loopback address (127.0.0.0/8, ::1, localhost), 169.254.170.2, 169.254.170.23 or fd00:ec2::23; use https or one of those hosts")
            }
            url = parsed
        } else {
            return nil
        }
        let tokenFile = CredentialsSupport.value(environment, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")
            .map { CredentialsSupport.expandingHome($0, environment: environment) }
        let token = tokenFile == nil ? CredentialsSupport.value(environment, "AWS_CONTAINER_AUTHORIZATION_TOKEN") : nil
        if let token {
            Log.registerSecret(token)
            guard !token.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) else {
                throw CredentialsError("AWS_CONTAINER_AUTHORIZATION_TOKEN holds control characters; it must be a single-line token")
            }
        }
        return try ContainerCredentialsProvider(url: url, tokenFile: tokenFile, token: token, client: client, now: now)
    }

    init(url: EndpointURL, tokenFile: String?, token: String?, client: CurlHTTPClient, now: @escaping @Sendable () -> Date) throws(CredentialsError) {
        try MetadataEndpoint.requireNoProxy(client, for: "the container credentials endpoint")
        self.url = url
        // Scheme, host and port only: the path of an ECS relative URI is specific to the task.
        self.endpoint = url.url(path: "")
        self.tokenFile = tokenFile
        self.token = token
        self.client = client
        cache = CredentialsCache(label: "container credentials", now: now)
    }

    /// `https` anywhere; `http` only to the hosts AWS's SDKs allow.
    static func isAllowed(_ url: EndpointURL) -> Bool {
        if url.scheme == "https" { return true }
        guard url.scheme == "http" else { return false }
        if url.host.lowercased() == "localhost" { return true }
        guard let bytes = url.addressBytes else { return false }
        if bytes.count == 4 {
            return bytes[0] == 127 || bytes == [169, 254, 170, 2] || bytes == [169, 254, 170, 23]
        }
        let loopback: [UInt8] = Array(repeating: 0, count: 15) + [1]
        let eksPodIdentity: [UInt8] = [0xFD, 0x00, 0x0E, 0xC2] + Array(repeating: 0, count: 11) + [0x23]
        return bytes == loopback || bytes == eksPodIdentity
    }

    public func credentials() async throws(CredentialsError) -> AWSCredentials {
        try await cache.credentials { () async throws(CredentialsError) -> AWSCredentials in
            try await self.fetch()
        }
    }

    func fetch() async throws(CredentialsError) -> AWSCredentials {
        var headers: [HTTPHeader] = []
        if let tokenFile {
            let token = try CredentialsSupport.readToken(tokenFile, what: "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")
            headers.append(HTTPHeader(name: "Authorization", value: token))
        } else if let token {
            headers.append(HTTPHeader(name: "Authorization", value: token))
        }
        let request = HTTPClientRequest(method: "GET", url: url.url(), headers: headers, timeout: Self.requestTimeout)
        let response = try await MetadataEndpoint.execute(client, request, attempts: 2, describe: "the container credentials endpoint \(endpoint)")
        guard response.status == 200 else {
            var message = "the container credentials endpoint \(endpoint) answered HTTP \(response.status)"
            if response.status == 401 || response.status == 403 {
                message += "; check AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE / AWS_CONTAINER_AUTHORIZATION_TOKEN"
            }
            throw CredentialsError(message)
        }
        return try CredentialsJSON.decode(
            response.body, describe: "the container credentials endpoint \(endpoint)", tokenField: .token, requireExpiration: false
        )
    }

    func waitForRefresh() async { await cache.waitForRefresh() }
}

/// Helpers for the endpoints that must be reached directly (container and instance metadata).
enum MetadataEndpoint {
    static func requireNoProxy(_ client: CurlHTTPClient, for what: String) throws(CredentialsError) {
        let configuration = client.configuration
        guard configuration.proxyURL == nil, !configuration.useEnvironmentProxy else {
            throw CredentialsError("internal error: \(what) must be called without a proxy; build its client with useEnvironmentProxy: false and no proxyURL")
        }
    }

    /// Runs `request`, trying again (at most `attempts` in all) on a network failure or a 5xx.
    static func execute(
        _ client: CurlHTTPClient, _ request: HTTPClientRequest, attempts: Int, describe: String
    ) async throws(CredentialsError) -> HTTPClientResponse {
        var attempt = 1
        while true {
            do throws(HTTPClientError) {
                let response = try await client.execute(request)
                if response.status >= 500, attempt < attempts {
                    attempt += 1
                    await CredentialsSupport.pauseBeforeRetry()
                    continue
                }
                return response
            } catch {
                guard STSQueryClient.isTransient(error), attempt < attempts else {
                    throw CredentialsError("\(describe) could not be reached: \(error)")
                }
                attempt += 1
                await CredentialsSupport.pauseBeforeRetry()
            }
        }
    }
}

/// The JSON credential documents: container endpoints and IMDS (`Token`), `credential_process` (`SessionToken`).
enum CredentialsJSON {
    enum TokenField: String {
        case token = "Token"
        case sessionToken = "SessionToken"
    }

    private struct Document: Decodable {
        var Version: Int?
        var Code: String?
        var Message: String?
        var AccessKeyId: String?
        var SecretAccessKey: String?
        var Token: String?
        var SessionToken: String?
        var Expiration: String?
    }

    /// Credentials from `body`. Errors name what is wrong, never a value from the document.
    static func decode(
        _ body: [UInt8], describe: String, tokenField: TokenField, requireExpiration: Bool, requireVersion1: Bool = false
    ) throws(CredentialsError) -> AWSCredentials {
        let document: Document
        do {
            document = try JSONDecoder().decode(Document.self, from: Data(body))
        } catch {
            throw CredentialsError("\(describe) did not return a JSON object of credentials (AccessKeyId, SecretAccessKey, …) with string values")
        }
        let token = tokenField == .token ? document.Token : document.SessionToken
        if let secret = document.SecretAccessKey { Log.registerSecret(secret) }
        if let token { Log.registerSecret(token) }
        if requireVersion1 {
            guard let version = document.Version else { throw CredentialsError("\(describe) returned JSON without \"Version\": 1") }
            guard version == 1 else { throw CredentialsError("\(describe) returned Version \(version); only Version 1 is supported") }
        }
        if let code = document.Code, code != "Success" {
            throw CredentialsError("\(describe) answered Code \(CredentialsSupport.excerpt(code, limit: 64))")
        }
        guard let accessKeyId = document.AccessKeyId, !accessKeyId.isEmpty,
              let secret = document.SecretAccessKey, !secret.isEmpty
        else {
            throw CredentialsError("\(describe) returned JSON without AccessKeyId and SecretAccessKey")
        }
        var expiration: Date?
        if let text = document.Expiration {
            guard let parsed = ISO8601Timestamp.parse(text) else {
                throw CredentialsError("\(describe) returned an Expiration that is not an ISO 8601 time such as 2026-01-02T03:04:05Z")
            }
            expiration = parsed
        } else if requireExpiration {
            throw CredentialsError("\(describe) returned temporary credentials without an Expiration")
        }
        return AWSCredentials(
            accessKeyId: accessKeyId, secretAccessKey: secret,
            sessionToken: (token?.isEmpty ?? true) ? nil : token, expiration: expiration
        )
    }
}
