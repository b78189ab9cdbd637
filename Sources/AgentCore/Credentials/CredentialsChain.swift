#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Synchronization

/// The standard credential chain: environment → web identity → shared profile → container → EC2 instance metadata.
///
/// The first source that is *configured* is the one used (as in the Go SDK AWS's agent is built on):
/// keys in the environment, a web identity token file, a profile with credentials, a container URI.
/// If that source fails, its error is reported rather than silently moving on to another identity.
/// Instance metadata is the fallback when nothing is configured, so its failure reads as "no
/// credentials found". Once a source has yielded credentials the chain keeps it (and the source
/// keeps refreshing); until then every call resolves afresh, so fixing a file or a role takes effect
/// without a restart. Concurrent first callers share one resolution.
public final class CredentialsChain: CredentialsProviding {
    /// Which kind of source won.
    public enum Source: String, Sendable, Equatable {
        case environment, webIdentity, profile, container, instanceMetadata
    }

    struct Winner: Sendable {
        var source: Source
        var resolved: ResolvedCredentialsSource
    }

    private typealias Resolution = Task<Result<(Winner, AWSCredentials), CredentialsError>, Never>

    private struct State {
        var winner: Winner?
        var resolution: Resolution?
    }

    let context: CredentialsSourceContext
    private let state = Mutex(State())

    /// - Parameters:
    ///   - environment: the process environment (tests pass their own; nothing else is read).
    ///   - region: signing region for STS (role assumption in profiles); also web identity's STS call.
    ///   - stsEndpoint: `STSEndpoint.url(region:useFIPS:useDualStack:override:)`.
    ///   - client: for STS; honours the proxy settings.
    ///   - metadataClient: for the container and instance metadata endpoints; must not use a proxy
    ///     (see `makeMetadataClient`).
    public convenience init(
        environment: [String: String],
        region: String,
        stsEndpoint: String,
        client: CurlHTTPClient,
        metadataClient: CurlHTTPClient,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.init(context: CredentialsSourceContext(
            environment: environment, region: region, stsEndpoint: stsEndpoint,
            client: client, metadataClient: metadataClient, now: now
        ))
    }

    init(context: CredentialsSourceContext) {
        self.context = context
    }

    /// A client for the container and instance metadata endpoints: never through a proxy, short timeouts.
    public static func makeMetadataClient(caBundle: String? = nil) throws(HTTPClientError) -> CurlHTTPClient {
        try CurlHTTPClient(configuration: HTTPClientConfiguration(
            maxConnections: 2, requestTimeout: .seconds(2), connectTimeout: .seconds(1),
            caBundle: caBundle, proxyURL: nil, useEnvironmentProxy: false, maxResponseBytes: 1 << 20
        ))
    }

    /// The kind of source in use, once one has yielded credentials.
    public var source: Source? { state.withLock { $0.winner?.source } }

    /// "credentials from environment variables", "credentials from profile dev (static keys)", …; nil
    /// before any source has yielded. Names where they come from, never a value.
    public var describeSource: String? {
        state.withLock { $0.winner.map { "credentials from \($0.resolved.description)" } }
    }

    public func credentials() async throws(CredentialsError) -> AWSCredentials {
        let (winner, resolution) = state.withLock { s -> (Winner?, Resolution?) in
            if let winner = s.winner { return (winner, nil) }
            if s.resolution == nil { s.resolution = startResolution() }
            return (nil, s.resolution)
        }
        if let winner { return try await winner.resolved.provider.credentials() }
        guard let resolution else { throw CredentialsError("internal error: credential resolution did not start") }
        return try await resolution.value.get().1
    }

    private func startResolution() -> Resolution {
        Task { [self] in
            let result: Result<(Winner, AWSCredentials), CredentialsError>
            do throws(CredentialsError) {
                let candidate = try resolveSource()
                do throws(CredentialsError) {
                    let credentials = try await candidate.resolved.provider.credentials()
                    result = .success((candidate, credentials))
                } catch let error where candidate.source == .instanceMetadata {
                    // The last resort failed: nothing anywhere yielded credentials.
                    throw CredentialsError(Self.nothingFound + " (instance metadata: \(error.message))")
                }
            } catch {
                result = .failure(error)
            }
            state.withLock { s in
                if case .success(let (winner, _)) = result { s.winner = winner }
                s.resolution = nil
            }
            if case .success(let (winner, _)) = result {
                log.info("using AWS credentials from \(winner.resolved.description)")
            }
            return result
        }
    }

    /// The first configured source; nothing is fetched yet, only variables and files are read.
    func resolveSource() throws(CredentialsError) -> Winner {
        let environment = context.environment
        if EnvironmentCredentialsProvider.isConfigured(environment) {
            return Winner(source: .environment, resolved: ResolvedCredentialsSource(
                provider: EnvironmentCredentialsProvider(environment: environment), description: "environment variables"))
        }
        if let provider = try WebIdentityCredentialsProvider.fromEnvironment(
            environment, stsEndpoint: context.stsEndpoint, region: context.region, client: context.client, now: context.now
        ) {
            return Winner(source: .webIdentity, resolved: ResolvedCredentialsSource(
                provider: provider, description: "web identity token file \(provider.tokenFile) (role \(provider.roleArn))"))
        }
        let config = try AWSSharedConfig.load(environment: environment)
        if let resolved = try ProfileCredentialsResolver(config: config, context: context).resolve() {
            return Winner(source: .profile, resolved: resolved)
        }
        if let provider = try ContainerCredentialsProvider.fromEnvironment(
            environment, client: context.metadataClient, relativeURIBase: context.containerRelativeURIBase, now: context.now
        ) {
            return Winner(source: .container, resolved: ResolvedCredentialsSource(
                provider: provider, description: "the container credentials endpoint \(provider.endpoint)"))
        }
        guard !InstanceMetadataClient.isDisabled(environment) else {
            throw CredentialsError(Self.nothingFound + " (instance metadata is off: AWS_EC2_METADATA_DISABLED=true)")
        }
        let metadata = try InstanceMetadataCredentialsProvider(environment: environment, client: context.metadataClient, now: context.now)
        return Winner(source: .instanceMetadata, resolved: ResolvedCredentialsSource(
            provider: metadata, description: "EC2 instance metadata (instance profile)"))
    }

    static let nothingFound = "no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
        + "configure a profile (AWS_PROFILE, ~/.aws/config, ~/.aws/credentials), a web identity token "
        + "(AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN), or run where container or instance credentials exist"
}
