import Foundation
import Testing
@testable import AgentCore

/// `Log` is process-wide: these tests swap its sink, so they run one at a time and put the default back.
@Suite(.serialized) struct CredentialsLoggingTests {
    /// Logs `line` into a fresh memory sink and returns what reached it. Another suite may swap the sink
    /// at the same moment (LoggerTests does), so a missing line is retried a few times.
    private func logged(_ line: String, marker: String) -> [String] {
        defer { Log.bootstrap(level: .info, sink: FileDescriptorLogSink(fd: 2)) }
        for _ in 0..<5 {
            let sink = MemoryLogSink()
            Log.bootstrap(level: .trace, sink: sink)
            log.warn(line)
            let lines = sink.lines.filter { $0.contains(marker) }
            if !lines.isEmpty { return lines }
        }
        return []
    }

    private func isRegistered(_ secret: String) -> Bool {
        Log.state.withLock { $0.secrets.contains(secret) }
    }

    @Test func secretsFromSTSAndTheTokenFileAreRedactedFromLogLines() async throws {
        let directory = try CredentialsTempDirectory()
        let jwt = uniqueSecret("log-jwt")
        let tokenFile = try directory.write("token", jwt)
        let secret = uniqueSecret("log-secret"), sessionToken = uniqueSecret("log-session")
        let server = try CredentialsFakeServer(handler: CredentialsFakes.sts(
            action: "AssumeRoleWithWebIdentity", id: "ASIALOGGED", secret: secret, token: sessionToken))
        let (client, _) = try makeCredentialsTestClients()
        let provider = try WebIdentityCredentialsProvider(
            tokenFile: tokenFile, roleArn: "arn:aws:iam::123456789012:role/Log", stsEndpoint: server.baseURL,
            region: "eu-west-1", client: client, now: CredentialsTestClock().now)
        #expect(!isRegistered(secret))
        _ = try await provider.credentials()

        for value in [secret, sessionToken, jwt] { #expect(isRegistered(value)) }
        let lines = logged("marker-sts key=\(secret) token=\(sessionToken) jwt=\(jwt) id=ASIALOGGED", marker: "marker-sts")
        try #require(lines.count == 1)
        #expect(!lines[0].contains(secret))
        #expect(!lines[0].contains(sessionToken))
        #expect(!lines[0].contains(jwt))
        #expect(lines[0].contains("key=[redacted] token=[redacted] jwt=[redacted] id=ASIALOGGED"))
    }

    @Test func secretsFromEnvironmentProfileContainerAndIMDSAreRegistered() async throws {
        let clock = CredentialsTestClock()
        let envSecret = uniqueSecret("log-env"), envToken = uniqueSecret("log-env-token")
        _ = try await EnvironmentCredentialsProvider(environment: [
            "AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": envSecret, "AWS_SESSION_TOKEN": envToken,
        ]).credentials()

        let directory = try CredentialsTempDirectory()
        let profileSecret = uniqueSecret("log-profile")
        try directory.write("credentials", "[default]\naws_access_key_id = AKIDP\naws_secret_access_key = \(profileSecret)\n")
        let (client, metadata) = try makeCredentialsTestClients()
        let chain = CredentialsChain(context: CredentialsSourceContext(
            environment: isolatedEnvironment(directory), region: "eu-west-1", stsEndpoint: "http://127.0.0.1:1",
            client: client, metadataClient: metadata, now: clock.now))
        _ = try await chain.credentials()

        let authorization = uniqueSecret("log-auth"), containerSecret = uniqueSecret("log-container")
        let container = try CredentialsFakeServer(handler: CredentialsFakes.container(
            path: "/creds", authorization: authorization,
            json: CredentialsFakes.metadataJSON(id: "ASIAC", secret: containerSecret, token: uniqueSecret("log-ct"))))
        _ = try await #require(try ContainerCredentialsProvider.fromEnvironment(
            ["AWS_CONTAINER_CREDENTIALS_FULL_URI": container.baseURL + "/creds", "AWS_CONTAINER_AUTHORIZATION_TOKEN": authorization],
            client: metadata, now: clock.now)).credentials()

        let imdsToken = uniqueSecret("log-imds"), imdsSecret = uniqueSecret("log-imds-secret")
        let imds = try CredentialsFakeServer(handler: CredentialsFakes.imds(
            token: imdsToken, role: "R", credentialsJSON: CredentialsFakes.metadataJSON(id: "ASIAI", secret: imdsSecret, token: uniqueSecret("log-it"))))
        _ = try await InstanceMetadataCredentialsProvider(
            environment: ["AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.baseURL], client: metadata, now: clock.now).credentials()

        for value in [envSecret, envToken, profileSecret, authorization, containerSecret, imdsToken, imdsSecret] {
            #expect(isRegistered(value), "\(value.prefix(12)) not registered")
        }
        let lines = logged("marker-all \(envSecret) \(profileSecret) \(containerSecret) \(imdsSecret) \(authorization)", marker: "marker-all")
        try #require(lines.count == 1)
        #expect(lines[0].hasSuffix("marker-all [redacted] [redacted] [redacted] [redacted] [redacted]"))
    }

    @Test func theChainLogsItsSourceWithoutValues() async throws {
        let directory = try CredentialsTempDirectory()
        let secret = uniqueSecret("log-chain")
        let (client, metadata) = try makeCredentialsTestClients()
        let chain = CredentialsChain(context: CredentialsSourceContext(
            environment: isolatedEnvironment(directory, ["AWS_ACCESS_KEY_ID": "AKIDCHAIN", "AWS_SECRET_ACCESS_KEY": secret]),
            region: "eu-west-1", stsEndpoint: "http://127.0.0.1:1", client: client, metadataClient: metadata, now: CredentialsTestClock().now))
        defer { Log.bootstrap(level: .info, sink: FileDescriptorLogSink(fd: 2)) }
        let sink = MemoryLogSink()
        Log.bootstrap(level: .trace, sink: sink)
        _ = try await chain.credentials() // the line is written before the first success returns
        let found = sink.lines.filter { $0.contains("using AWS credentials from environment variables") }
        #expect(found.count == 1)
        #expect(found.allSatisfy { !$0.contains(secret) && !$0.contains("AKIDCHAIN") })
    }
}
