#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Web identity federation (EKS IRSA and the like): the token in a file is exchanged for role credentials
/// with STS `AssumeRoleWithWebIdentity`, an unsigned call. The file is read again on every refresh,
/// because whatever writes it (the kubelet) rotates the token.
public final class WebIdentityCredentialsProvider: CredentialsProviding {
    public let tokenFile: String
    public let roleArn: String
    public let sessionName: String
    private let sts: STSQueryClient
    private let settingName: String
    private let cache: CredentialsCache

    /// `sessionName` nil: `appconfig-agent-<unix time>`. `stsEndpoint` is a URL such as
    /// `STSEndpoint.url(region:)`; `region` only labels the call (it is not signed).
    public convenience init(
        tokenFile: String,
        roleArn: String,
        sessionName: String? = nil,
        stsEndpoint: String,
        region: String,
        client: CurlHTTPClient,
        now: @escaping @Sendable () -> Date = { Date() }
    ) throws(CredentialsError) {
        try self.init(tokenFile: tokenFile, roleArn: roleArn, sessionName: sessionName, stsEndpoint: stsEndpoint,
                      region: region, client: client, settingName: "the web identity token file", now: now)
    }

    init(
        tokenFile: String, roleArn: String, sessionName: String?, stsEndpoint: String, region: String,
        client: CurlHTTPClient, settingName: String, now: @escaping @Sendable () -> Date
    ) throws(CredentialsError) {
        self.tokenFile = tokenFile
        self.roleArn = roleArn
        self.sessionName = sessionName ?? Self.defaultSessionName(now())
        self.settingName = settingName
        sts = try STSQueryClient(endpoint: stsEndpoint, region: region, client: client, now: now)
        cache = CredentialsCache(label: "web identity credentials for \(roleArn)", now: now)
    }

    /// The source `AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN` [+ `AWS_ROLE_SESSION_NAME`] describe;
    /// nil when no token file is set. A token file without a role is an error to fix, not a skip.
    public static func fromEnvironment(
        _ environment: [String: String],
        stsEndpoint: String,
        region: String,
        client: CurlHTTPClient,
        now: @escaping @Sendable () -> Date = { Date() }
    ) throws(CredentialsError) -> WebIdentityCredentialsProvider? {
        guard let tokenFile = CredentialsSupport.value(environment, "AWS_WEB_IDENTITY_TOKEN_FILE") else { return nil }
        guard let roleArn = CredentialsSupport.value(environment, "AWS_ROLE_ARN") else {
            throw CredentialsError("AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not; set the role to assume with the token")
        }
        return try WebIdentityCredentialsProvider(
            tokenFile: CredentialsSupport.expandingHome(tokenFile, environment: environment), roleArn: roleArn,
            sessionName: CredentialsSupport.value(environment, "AWS_ROLE_SESSION_NAME"), stsEndpoint: stsEndpoint,
            region: region, client: client, settingName: "AWS_WEB_IDENTITY_TOKEN_FILE", now: now
        )
    }

    static func defaultSessionName(_ date: Date) -> String {
        "appconfig-agent-\(Int64(date.timeIntervalSince1970))"
    }

    public func credentials() async throws(CredentialsError) -> AWSCredentials {
        try await cache.credentials { () async throws(CredentialsError) -> AWSCredentials in
            try await self.fetch()
        }
    }

    /// Reads the token and calls STS, every time.
    func fetch() async throws(CredentialsError) -> AWSCredentials {
        let token = try CredentialsSupport.readToken(tokenFile, what: settingName)
        return try await sts.credentials(
            action: "AssumeRoleWithWebIdentity",
            parameters: [("RoleArn", roleArn), ("RoleSessionName", sessionName), ("WebIdentityToken", token)],
            signingWith: nil,
            describe: "STS AssumeRoleWithWebIdentity for \(roleArn)",
            hint: Self.hint
        )
    }

    static func hint(_ code: String) -> String? {
        switch code {
        case "AccessDenied":
            "check that the role's trust policy allows sts:AssumeRoleWithWebIdentity for this token's issuer, audience and subject"
        case "InvalidIdentityToken":
            "check that the token file holds a current token from an identity provider the account trusts (IAM OIDC provider)"
        case "ExpiredTokenException":
            "the token has expired; whatever writes the token file must renew it"
        default:
            nil
        }
    }

    func waitForRefresh() async { await cache.waitForRefresh() }
}
