#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Finds the region when `SERVICE_REGION` does not give it. Order (section 2 of the spec): the configured
/// value (`AgentSettings.serviceRegion`: `SERVICE_REGION`, `AWS_REGION`, `AWS_DEFAULT_REGION`), the
/// `AWS_REGION`/`AWS_DEFAULT_REGION` variables again for callers without settings, the profile's `region`,
/// then IMDS (`/latest/meta-data/placement/region`) unless `AWS_EC2_METADATA_DISABLED=true`.
public enum RegionDetector {
    public struct Detected: Sendable, Equatable {
        public var region: String
        /// Where it came from, for the start-up log line: `AWS_REGION`, `profile dev`, `instance metadata`, ….
        public var source: String

        public init(region: String, source: String) {
            self.region = region
            self.source = source
        }
    }

    /// The profile's `region` (the profile `AWS_PROFILE` names, else `default`), checked for shape.
    public static func profileRegion(environment: [String: String]) throws(CredentialsError) -> String? {
        let config = try AWSSharedConfig.load(environment: environment)
        guard let region = config.region else { return nil }
        guard SettingValueParsers.isRegion(region) else {
            throw CredentialsError("profile \(config.profileName) has region \(CredentialsSupport.excerpt(region, limit: 40)), which is not a region name such as us-east-1; fix it in \(config.configFile)")
        }
        return region
    }

    /// The region and where it came from; nil when no source has one (the agent must then stop with an error).
    /// An unreadable shared file or a malformed profile region is an error; IMDS being unreachable is not.
    public static func detect(
        configured: String?,
        environment: [String: String],
        metadataClient: CurlHTTPClient?,
        now: @escaping @Sendable () -> Date = { Date() }
    ) async throws(CredentialsError) -> Detected? {
        if let configured, !configured.isEmpty { return Detected(region: configured, source: "SERVICE_REGION, AWS_REGION or AWS_DEFAULT_REGION") }
        for variable in ["AWS_REGION", "AWS_DEFAULT_REGION"] {
            if let region = CredentialsSupport.value(environment, variable) {
                guard SettingValueParsers.isRegion(region) else {
                    throw CredentialsError("\(variable) is not a region name such as us-east-1")
                }
                return Detected(region: region, source: variable)
            }
        }
        if let region = try profileRegion(environment: environment) {
            let profile = CredentialsSupport.value(environment, "AWS_PROFILE") ?? CredentialsSupport.value(environment, "AWS_DEFAULT_PROFILE") ?? "default"
            return Detected(region: region, source: "profile \(profile)")
        }
        guard let metadataClient, !InstanceMetadataClient.isDisabled(environment) else { return nil }
        do throws(CredentialsError) {
            let metadata = try InstanceMetadataClient(environment: environment, client: metadataClient, now: now)
            return Detected(region: try await metadata.region(), source: "instance metadata")
        } catch {
            log.debug("no region from instance metadata: \(error.message)")
            return nil
        }
    }
}
