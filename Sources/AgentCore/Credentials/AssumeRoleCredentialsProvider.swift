#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A role assumed on top of other credentials with STS `AssumeRole` (query protocol, SigV4 signing name
/// `sts`, signing only `content-type`, `host`, `x-amz-date` and `x-amz-security-token`). Used for
/// `ROLE_ARN`, a manifest entry's role, and a profile's `role_arn`. Cached and refreshed ahead of expiry;
/// the base credentials are asked for again at each refresh (they cache themselves).
public final class AssumeRoleCredentialsProvider: CredentialsProviding {
    public let roleArn: String
    public let externalId: String?
    public let sessionName: String
    public let durationSeconds: Int?
    private let base: any CredentialsProviding
    private let sts: STSQueryClient
    private let cache: CredentialsCache

    /// - Parameters:
    ///   - sessionName: nil gives `appconfig-agent-<unix time>`.
    ///   - durationSeconds: nil lets STS apply its default (one hour); STS accepts 900 up to the role's maximum.
    ///   - stsEndpoint: a URL such as `STSEndpoint.url(region:)`; `region` is the signing region.
    public init(
        base: any CredentialsProviding,
        roleArn: String,
        externalId: String? = nil,
        sessionName: String? = nil,
        durationSeconds: Int? = nil,
        stsEndpoint: String,
        region: String,
        client: CurlHTTPClient,
        now: @escaping @Sendable () -> Date = { Date() }
    ) throws(CredentialsError) {
        self.base = base
        self.roleArn = roleArn
        self.externalId = externalId
        self.sessionName = sessionName ?? WebIdentityCredentialsProvider.defaultSessionName(now())
        self.durationSeconds = durationSeconds
        sts = try STSQueryClient(endpoint: stsEndpoint, region: region, client: client, now: now)
        cache = CredentialsCache(label: "credentials for role \(roleArn)", now: now)
    }

    public func credentials() async throws(CredentialsError) -> AWSCredentials {
        try await cache.credentials { () async throws(CredentialsError) -> AWSCredentials in
            try await self.fetch()
        }
    }

    func fetch() async throws(CredentialsError) -> AWSCredentials {
        let baseCredentials: AWSCredentials
        do throws(CredentialsError) {
            baseCredentials = try await base.credentials()
        } catch {
            throw CredentialsError("cannot assume role \(roleArn): the credentials to assume it with are unavailable: \(error.message)")
        }
        var parameters = [("RoleArn", roleArn), ("RoleSessionName", sessionName)]
        if let externalId { parameters.append(("ExternalId", externalId)) }
        if let durationSeconds { parameters.append(("DurationSeconds", String(durationSeconds))) }
        let region = sts.region
        return try await sts.credentials(
            action: "AssumeRole",
            parameters: parameters,
            signingWith: baseCredentials,
            describe: "STS AssumeRole for \(roleArn)",
            hint: { code in Self.hint(code, region: region) }
        )
    }

    static func hint(_ code: String, region: String) -> String? {
        switch code {
        case "AccessDenied":
            "allow sts:AssumeRole for the calling identity in the role's trust policy and in the caller's own policy, and check the external ID"
        case "InvalidClientTokenId", "SignatureDoesNotMatch", "ExpiredToken", "UnrecognizedClientException":
            "the credentials used to assume the role are not valid (wrong, deleted or expired keys)"
        case "RegionDisabledException":
            "activate STS for \(region) in the IAM account settings, or use another region"
        case "ValidationError":
            "check the role ARN, session name, external ID and duration"
        default:
            nil
        }
    }

    func waitForRefresh() async { await cache.waitForRefresh() }
}
