#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// What every credential source may need to build itself; one per chain.
struct CredentialsSourceContext: Sendable {
    var environment: [String: String]
    /// Region for STS calls (`AssumeRole` signs with it).
    var region: String
    var stsEndpoint: String
    /// For STS: honours the proxy settings.
    var client: CurlHTTPClient
    /// For container and instance metadata endpoints: never a proxy.
    var metadataClient: CurlHTTPClient
    var now: @Sendable () -> Date
    /// Tests only: where `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` is resolved.
    var containerRelativeURIBase = ContainerCredentialsProvider.relativeURIBase
    var processTimeout = CredentialProcessProvider.defaultTimeout
}

/// A source chosen from the configuration, with a line that names it for the log (never a value).
struct ResolvedCredentialsSource: Sendable {
    var provider: any CredentialsProviding
    var description: String
}

/// Turns a profile of the shared files into a credentials provider.
///
/// Inside one profile the first that applies wins, as in the Go SDK:
/// 1. `role_arn`: assume the role with credentials from `source_profile` (which may itself assume a role:
///    a chain, checked for cycles; a profile naming itself uses its own static keys), or from
///    `credential_source` (`Environment`, `Ec2InstanceMetadata`, `EcsContainer`), or with
///    `web_identity_token_file`. Honours `external_id`, `role_session_name`, `duration_seconds`.
///    `mfa_serial` is refused: the agent cannot ask anyone for a code.
/// 2. Static keys: `aws_access_key_id`, `aws_secret_access_key`, optional `aws_session_token`.
/// 3. `credential_process`.
/// A profile with none of these (only `region`, say) yields nothing and the chain goes on.
struct ProfileCredentialsResolver {
    let config: AWSSharedConfig
    let context: CredentialsSourceContext

    /// The provider for the profile in use; nil when it does not exist (and was not asked for
    /// explicitly) or holds no credentials.
    func resolve() throws(CredentialsError) -> ResolvedCredentialsSource? {
        let name = config.profileName
        guard config.properties(of: name) != nil else {
            if config.profileIsExplicit {
                throw CredentialsError("AWS_PROFILE names profile \(name), which is in neither \(config.filesDescription); add it or fix AWS_PROFILE")
            }
            return nil
        }
        return try resolve(profile: name, visited: [])
    }

    private func resolve(profile name: String, visited: [String]) throws(CredentialsError) -> ResolvedCredentialsSource? {
        guard let properties = config.properties(of: name) else {
            let referrer = visited.last ?? name
            throw CredentialsError("profile \(referrer) names source_profile \(name), which is in neither \(config.filesDescription)")
        }
        if let roleArn = nonEmpty(properties["role_arn"]) {
            return try assumeRole(roleArn, profile: name, properties: properties, visited: visited)
        }
        if let credentials = try staticKeys(properties, profile: name) {
            return ResolvedCredentialsSource(provider: StaticCredentialsProvider(credentials), description: "profile \(name) (static keys)")
        }
        if let command = nonEmpty(properties["credential_process"]) {
            let provider = CredentialProcessProvider(
                command: command, environment: context.environment, profileName: name,
                timeout: context.processTimeout, now: context.now
            )
            return ResolvedCredentialsSource(provider: provider, description: "profile \(name) (credential_process)")
        }
        return nil
    }

    private func assumeRole(
        _ roleArn: String, profile name: String, properties: [String: String], visited: [String]
    ) throws(CredentialsError) -> ResolvedCredentialsSource {
        if nonEmpty(properties["mfa_serial"]) != nil {
            throw CredentialsError("profile \(name) needs an MFA code (mfa_serial), which the agent cannot ask for; use a profile without mfa_serial")
        }
        let sessionName = nonEmpty(properties["role_session_name"])
        let sourceProfile = nonEmpty(properties["source_profile"])
        let credentialSource = nonEmpty(properties["credential_source"])
        if sourceProfile != nil && credentialSource != nil {
            throw CredentialsError("profile \(name) sets both source_profile and credential_source; keep only one")
        }

        let base: ResolvedCredentialsSource
        if let sourceProfile {
            if sourceProfile == name {
                guard let credentials = try staticKeys(properties, profile: name) else {
                    throw CredentialsError("profile \(name) names itself as source_profile but has no aws_access_key_id and aws_secret_access_key")
                }
                base = ResolvedCredentialsSource(provider: StaticCredentialsProvider(credentials), description: "its static keys")
            } else {
                let path = visited + [name]
                if path.contains(sourceProfile) {
                    let cycle = (Array(path.drop(while: { $0 != sourceProfile })) + [sourceProfile]).joined(separator: " → ")
                    throw CredentialsError("profiles \(cycle) form a source_profile cycle; end the chain at a profile with static keys, credential_process or credential_source")
                }
                guard let resolved = try resolve(profile: sourceProfile, visited: path) else {
                    throw CredentialsError("profile \(sourceProfile), the source_profile of \(name), has no credentials; give it aws_access_key_id and aws_secret_access_key, credential_process, or a role")
                }
                base = ResolvedCredentialsSource(provider: resolved.provider, description: resolved.description)
            }
        } else if let credentialSource {
            base = try self.credentialSource(credentialSource, profile: name)
        } else if let tokenFile = nonEmpty(properties["web_identity_token_file"]) {
            let provider = try WebIdentityCredentialsProvider(
                tokenFile: CredentialsSupport.expandingHome(tokenFile, environment: context.environment), roleArn: roleArn,
                sessionName: sessionName, stsEndpoint: context.stsEndpoint, region: context.region, client: context.client,
                settingName: "web_identity_token_file of profile \(name)", now: context.now
            )
            return ResolvedCredentialsSource(provider: provider, description: "profile \(name) (web identity, role \(roleArn))")
        } else {
            throw CredentialsError("profile \(name) has role_arn but no source_profile, credential_source or web_identity_token_file; add one to say which credentials assume the role")
        }

        var duration: Int?
        if let text = nonEmpty(properties["duration_seconds"]) {
            guard let seconds = Int(text), (900...43_200).contains(seconds) else {
                throw CredentialsError("profile \(name) has duration_seconds \(CredentialsSupport.excerpt(text, limit: 20)); use a whole number of seconds from 900 to 43200")
            }
            duration = seconds
        }
        let provider = try AssumeRoleCredentialsProvider(
            base: base.provider, roleArn: roleArn, externalId: nonEmpty(properties["external_id"]), sessionName: sessionName,
            durationSeconds: duration, stsEndpoint: context.stsEndpoint, region: context.region, client: context.client, now: context.now
        )
        return ResolvedCredentialsSource(provider: provider, description: "profile \(name) (role \(roleArn) from \(base.description))")
    }

    private func credentialSource(_ value: String, profile name: String) throws(CredentialsError) -> ResolvedCredentialsSource {
        switch value {
        case "Environment":
            return ResolvedCredentialsSource(provider: EnvironmentCredentialsProvider(environment: context.environment), description: "environment variables")
        case "Ec2InstanceMetadata":
            let provider = try InstanceMetadataCredentialsProvider(environment: context.environment, client: context.metadataClient, now: context.now)
            return ResolvedCredentialsSource(provider: provider, description: "EC2 instance metadata")
        case "EcsContainer":
            guard let provider = try ContainerCredentialsProvider.fromEnvironment(
                context.environment, client: context.metadataClient, relativeURIBase: context.containerRelativeURIBase, now: context.now
            ) else {
                throw CredentialsError("profile \(name) has credential_source EcsContainer, but neither AWS_CONTAINER_CREDENTIALS_RELATIVE_URI nor AWS_CONTAINER_CREDENTIALS_FULL_URI is set")
            }
            return ResolvedCredentialsSource(provider: provider, description: "the container credentials endpoint")
        default:
            throw CredentialsError("profile \(name) has credential_source \(CredentialsSupport.excerpt(value, limit: 40)); use Environment, Ec2InstanceMetadata or EcsContainer")
        }
    }

    /// The profile's static keys; nil when it has neither; an error when it has only one of them.
    private func staticKeys(_ properties: [String: String], profile name: String) throws(CredentialsError) -> AWSCredentials? {
        let id = nonEmpty(properties["aws_access_key_id"])
        let secret = nonEmpty(properties["aws_secret_access_key"])
        let token = nonEmpty(properties["aws_session_token"]) ?? nonEmpty(properties["aws_security_token"])
        if let secret { Log.registerSecret(secret) }
        if let token { Log.registerSecret(token) }
        switch (id, secret) {
        case (let id?, let secret?):
            return AWSCredentials(accessKeyId: id, secretAccessKey: secret, sessionToken: token)
        case (nil, nil):
            return nil
        case (nil, _?):
            throw CredentialsError("profile \(name) has aws_secret_access_key but no aws_access_key_id; set both")
        case (_?, nil):
            throw CredentialsError("profile \(name) has aws_access_key_id but no aws_secret_access_key; set both")
        }
    }

    private func nonEmpty(_ value: String?) -> String? {
        guard let value, !value.isEmpty else { return nil }
        return value
    }
}
