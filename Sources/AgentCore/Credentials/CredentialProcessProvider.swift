#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A profile's `credential_process`: an external command that prints
/// `{"Version": 1, "AccessKeyId", "SecretAccessKey", "SessionToken"?, "Expiration"?}` on standard output.
///
/// The command line runs through `/bin/sh -c`, as the Go SDK (which AWS's agent is built on) and the CLI do
/// on Linux, so quoting, `~` and variables behave as they would in a shell. It gets the agent's
/// environment and `/dev/null` as input; its standard error passes through to the agent's. It must
/// finish within `timeout` (one minute, the Go SDK's default) or it is killed with its whole process
/// group. Without `Expiration` the credentials are long-lived and the command is not run again.
/// Errors never include the command line or its output: either may hold secrets.
public final class CredentialProcessProvider: CredentialsProviding {
    public static let defaultTimeout: Duration = .seconds(60)

    private let command: String
    private let environment: [String: String]
    private let describe: String
    private let timeout: Duration
    private let cache: CredentialsCache

    /// `profileName` only names the source in messages.
    public init(
        command: String,
        environment: [String: String],
        profileName: String? = nil,
        timeout: Duration = CredentialProcessProvider.defaultTimeout,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.command = command
        self.environment = environment
        self.describe = profileName.map { "the credential_process of profile \($0)" } ?? "the credential_process"
        self.timeout = timeout
        cache = CredentialsCache(label: "credentials from \(describe)", now: now)
    }

    public func credentials() async throws(CredentialsError) -> AWSCredentials {
        try await cache.credentials { () async throws(CredentialsError) -> AWSCredentials in
            try await self.fetch()
        }
    }

    func fetch() async throws(CredentialsError) -> AWSCredentials {
        switch await ShellCommandRunner.run(command, environment: environment, timeout: timeout, outputLimit: 64 << 10) {
        case .failure(.couldNotStart(let reason)):
            throw CredentialsError("\(describe) could not be started: \(reason)")
        case .failure(.timedOut):
            throw CredentialsError("\(describe) did not finish within \(timeout.components.seconds) s and was stopped; check that it runs without prompting")
        case .failure(.outputTooLarge(let limit)):
            throw CredentialsError("\(describe) printed more than \(limit) bytes; it must print only the credentials JSON")
        case .success(let output):
            if let signal = output.signal {
                throw CredentialsError("\(describe) was ended by signal \(signal)")
            }
            if let status = output.exitStatus, status != 0 {
                throw CredentialsError("\(describe) exited with status \(status); run it by hand to see why (its output is not shown: it may hold secrets)")
            }
            return try CredentialsJSON.decode(
                output.standardOutput, describe: describe, tokenField: .sessionToken, requireExpiration: false, requireVersion1: true
            )
        }
    }

    func waitForRefresh() async { await cache.waitForRefresh() }
}
