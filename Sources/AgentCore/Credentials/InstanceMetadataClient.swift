#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Synchronization

/// The EC2 instance metadata service, IMDSv2: a session token from `PUT /latest/api/token`
/// (`x-aws-ec2-metadata-token-ttl-seconds: 21600`), sent as `x-aws-ec2-metadata-token` on every `GET`.
///
/// Short timeouts (1 s a request, one retry) because off EC2 nothing answers. The endpoint is
/// `http://169.254.169.254`, `http://[fd00:ec2::254]` with `AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE=IPv6`, or
/// `AWS_EC2_METADATA_SERVICE_ENDPOINT`. As the SDKs do, a token request answered 403, 404 or 405 (no
/// token API) falls back to plain IMDSv1 requests, unless `AWS_EC2_METADATA_V1_DISABLED=true`.
public final class InstanceMetadataClient: Sendable {
    public static let defaultEndpoint = "http://169.254.169.254"
    public static let defaultIPv6Endpoint = "http://[fd00:ec2::254]"
    static let tokenTTLSeconds = 21_600

    private enum TokenState {
        case none
        case token(String, validUntil: Date)
        case v1
    }

    let endpoint: EndpointURL
    private let client: CurlHTTPClient
    private let allowV1Fallback: Bool
    private let timeout: Duration
    private let now: @Sendable () -> Date
    private let tokenState = Mutex<TokenState>(.none)

    /// True when `AWS_EC2_METADATA_DISABLED` is `true`: never call IMDS.
    public static func isDisabled(_ environment: [String: String]) -> Bool {
        CredentialsSupport.flag(environment, "AWS_EC2_METADATA_DISABLED")
    }

    /// `client` must not use a proxy (`useEnvironmentProxy: false`, no `proxyURL`).
    public convenience init(environment: [String: String], client: CurlHTTPClient, now: @escaping @Sendable () -> Date = { Date() }) throws(CredentialsError) {
        let text: String
        if let endpoint = CredentialsSupport.value(environment, "AWS_EC2_METADATA_SERVICE_ENDPOINT") {
            text = endpoint
        } else if CredentialsSupport.value(environment, "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE")?.lowercased() == "ipv6" {
            text = Self.defaultIPv6Endpoint
        } else {
            text = Self.defaultEndpoint
        }
        try self.init(endpoint: text, allowV1Fallback: !CredentialsSupport.flag(environment, "AWS_EC2_METADATA_V1_DISABLED"),
                      client: client, now: now)
    }

    init(endpoint: String, allowV1Fallback: Bool = true, client: CurlHTTPClient, timeout: Duration = .seconds(1),
         now: @escaping @Sendable () -> Date) throws(CredentialsError) {
        guard let parsed = EndpointURL(parsing: endpoint), !parsed.pathAndQuery.contains("?") else {
            throw CredentialsError("AWS_EC2_METADATA_SERVICE_ENDPOINT is not an http or https URL with a host, such as http://169.254.169.254")
        }
        try MetadataEndpoint.requireNoProxy(client, for: "the instance metadata service")
        self.endpoint = parsed
        self.client = client
        self.allowV1Fallback = allowV1Fallback
        self.timeout = timeout
        self.now = now
    }

    var describe: String { "the instance metadata service (\(endpoint.redacted))" }

    private func url(_ path: String) -> String {
        var base = endpoint.path
        while base.hasSuffix("/") { base.removeLast() }
        return endpoint.url(path: base + path)
    }

    /// The session token, nil when IMDSv1 is in use.
    private func token() async throws(CredentialsError) -> String? {
        let time = now()
        switch tokenState.withLock({ $0 }) {
        case .token(let token, let validUntil) where time < validUntil: return token
        case .v1: return nil
        default: break
        }
        let request = HTTPClientRequest(
            method: "PUT", url: url("/latest/api/token"),
            headers: [HTTPHeader(name: "x-aws-ec2-metadata-token-ttl-seconds", value: String(Self.tokenTTLSeconds))],
            timeout: timeout
        )
        let response = try await MetadataEndpoint.execute(client, request, attempts: 2, describe: describe)
        switch response.status {
        case 200:
            let token = SettingValueParsers.trimmed(String(decoding: response.body, as: UTF8.self))
            guard !token.isEmpty, !token.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) else {
                throw CredentialsError("\(describe) returned an unusable session token")
            }
            Log.registerSecret(token)
            // Renewed a minute early so a request never carries a token about to lapse.
            let validUntil = time.addingTimeInterval(TimeInterval(Self.tokenTTLSeconds - 60))
            tokenState.withLock { $0 = .token(token, validUntil: validUntil) }
            return token
        case 403, 404, 405:
            guard allowV1Fallback else {
                throw CredentialsError("\(describe) refused a session token with HTTP \(response.status), and AWS_EC2_METADATA_V1_DISABLED forbids IMDSv1")
            }
            log.debug("\(describe) has no session token API (HTTP \(response.status)); using IMDSv1")
            tokenState.withLock { $0 = .v1 }
            return nil
        default:
            throw CredentialsError("\(describe) refused a session token with HTTP \(response.status)")
        }
    }

    /// `GET path` with the session token; a 401 (token expired or revoked) gets a new token and one more try.
    func get(_ path: String) async throws(CredentialsError) -> HTTPClientResponse {
        var renewed = false
        while true {
            let token = try await token()
            let headers = token.map { [HTTPHeader(name: "x-aws-ec2-metadata-token", value: $0)] } ?? []
            let request = HTTPClientRequest(method: "GET", url: url(path), headers: headers, timeout: timeout)
            let response = try await MetadataEndpoint.execute(client, request, attempts: 2, describe: describe)
            if response.status == 401, token != nil, !renewed {
                renewed = true
                tokenState.withLock { $0 = .none }
                continue
            }
            return response
        }
    }

    /// The instance's region, from `/latest/meta-data/placement/region`.
    public func region() async throws(CredentialsError) -> String {
        let response = try await get("/latest/meta-data/placement/region")
        guard response.status == 200 else {
            throw CredentialsError("\(describe) answered HTTP \(response.status) for the region")
        }
        let region = SettingValueParsers.trimmed(String(decoding: response.body, as: UTF8.self))
        guard SettingValueParsers.isRegion(region) else {
            throw CredentialsError("\(describe) returned something that is not a region name")
        }
        return region
    }
}

/// Credentials of the role attached to the EC2 instance (its instance profile), from IMDSv2:
/// `/latest/meta-data/iam/security-credentials/` names the role, `…/<role>` holds its credentials.
/// The role name is asked for again at every refresh, so a replaced instance profile is picked up.
public final class InstanceMetadataCredentialsProvider: CredentialsProviding {
    static let credentialsPath = "/latest/meta-data/iam/security-credentials/"

    let metadata: InstanceMetadataClient
    private let cache: CredentialsCache
    private let lastRole = Mutex<String?>(nil)

    /// `client` must not use a proxy (`useEnvironmentProxy: false`, no `proxyURL`).
    public convenience init(environment: [String: String], client: CurlHTTPClient, now: @escaping @Sendable () -> Date = { Date() }) throws(CredentialsError) {
        self.init(metadata: try InstanceMetadataClient(environment: environment, client: client, now: now), now: now)
    }

    init(metadata: InstanceMetadataClient, now: @escaping @Sendable () -> Date) {
        self.metadata = metadata
        cache = CredentialsCache(label: "instance profile credentials", now: now)
    }

    /// The role the last fetch used, for the log line naming the source.
    var roleName: String? { lastRole.withLock { $0 } }

    public func credentials() async throws(CredentialsError) -> AWSCredentials {
        try await cache.credentials { () async throws(CredentialsError) -> AWSCredentials in
            try await self.fetch()
        }
    }

    func fetch() async throws(CredentialsError) -> AWSCredentials {
        let listing = try await metadata.get(Self.credentialsPath)
        switch listing.status {
        case 200: break
        case 404:
            throw CredentialsError("this EC2 instance has no IAM role attached (no instance profile); attach one, or configure credentials another way")
        default:
            throw CredentialsError("\(metadata.describe) answered HTTP \(listing.status) when asked for the instance's role")
        }
        let role = String(decoding: listing.body, as: UTF8.self)
            .split(whereSeparator: \.isNewline)
            .map { SettingValueParsers.trimmed($0) }
            .first { !$0.isEmpty }
        guard let role, role.utf8.allSatisfy({ SettingValueParsers.isASCIIAlphanumeric($0) || "+=,.@_-".utf8.contains($0) }) else {
            throw CredentialsError("\(metadata.describe) did not name a valid role for the instance")
        }
        lastRole.withLock { $0 = role }
        let response = try await metadata.get(Self.credentialsPath + role)
        guard response.status == 200 else {
            throw CredentialsError("\(metadata.describe) answered HTTP \(response.status) for the credentials of role \(role)")
        }
        return try CredentialsJSON.decode(
            response.body, describe: "\(metadata.describe) for role \(role)", tokenField: .token, requireExpiration: false
        )
    }

    func waitForRefresh() async { await cache.waitForRefresh() }
}
