import Foundation
import Synchronization
import Testing
@testable import AgentCore
#if canImport(Glibc)
import Glibc
#endif

/// A clock the test moves by hand.
final class CredentialsTestClock: Sendable {
    private let current: Mutex<Date>

    init(_ start: Date = Date(timeIntervalSince1970: 1_800_000_000)) {
        current = Mutex(start)
    }

    var date: Date { current.withLock { $0 } }

    func advance(by seconds: TimeInterval) {
        current.withLock { $0 = $0.addingTimeInterval(seconds) }
    }

    func set(_ date: Date) {
        current.withLock { $0 = date }
    }

    var now: @Sendable () -> Date { { [self] in date } }
}

/// A private directory under /tmp, removed when released.
final class CredentialsTempDirectory: Sendable {
    let path: String

    init() throws {
        var template = Array("/tmp/creds-test-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw SystemError(call: "mkdtemp", errno: errno) }
        path = String(cString: made)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }

    /// Writes `text` to `name` inside the directory and returns the full path.
    @discardableResult
    func write(_ name: String, _ text: String, executable: Bool = false) throws -> String {
        let file = path + "/" + name
        try Data(text.utf8).write(to: URL(fileURLWithPath: file))
        if executable { chmod(file, 0o700) }
        return file
    }
}

/// Clients for the tests: both ignore any proxy in the test machine's environment.
func makeCredentialsTestClients() throws -> (client: CurlHTTPClient, metadata: CurlHTTPClient) {
    let client = try CurlHTTPClient(configuration: HTTPClientConfiguration(requestTimeout: .seconds(5), useEnvironmentProxy: false))
    let metadata = try CredentialsChain.makeMetadataClient()
    return (client, metadata)
}

/// A secret-looking value unique to this run, so registering it for redaction cannot touch other tests' lines.
func uniqueSecret(_ tag: String) -> String {
    "\(tag)-\(UUID().uuidString)-S3cr3t"
}

/// STS answers in the shape STS sends them.
enum FakeSTS {
    static func credentialsXML(action: String, accessKeyId: String, secret: String, token: String, expiration: String) -> String {
        """
        <?xml version="1.0" encoding="UTF-8"?>
        <\(action)Response xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
          <\(action)Result>
            <AssumedRoleUser>
              <AssumedRoleId>AROA3XFRBF535PLBIFPI4:s3-access-example</AssumedRoleId>
              <Arn>arn:aws:sts::123456789012:assumed-role/Reader/session</Arn>
            </AssumedRoleUser>
            <Credentials>
              <AccessKeyId>\(accessKeyId)</AccessKeyId>
              <SecretAccessKey>\(secret)</SecretAccessKey>
              <SessionToken>\(token)</SessionToken>
              <Expiration>\(expiration)</Expiration>
            </Credentials>
          </\(action)Result>
          <ResponseMetadata><RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId></ResponseMetadata>
        </\(action)Response>
        """
    }

    static func errorXML(code: String, message: String) -> String {
        """
        <ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
          <Error><Type>Sender</Type><Code>\(code)</Code><Message>\(message)</Message></Error>
          <RequestId>4b5f4a8c-0000-0000-0000-000000000000</RequestId>
        </ErrorResponse>
        """
    }

    /// `2026-…T…Z` for `date` (fractional seconds when asked).
    static func timestamp(_ date: Date, fractional: Bool = false) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = fractional ? [.withInternetDateTime, .withFractionalSeconds] : [.withInternetDateTime]
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: date)
    }

    /// Recomputes the SigV4 signature of a recorded STS request with `credentials`, as AWS would.
    static func expectedAuthorization(for request: CredentialsFakeServer.Request, credentials: AWSCredentials, region: String) -> String? {
        guard let amzDate = request.header("x-amz-date"), amzDate.count == 16 else { return nil }
        let chars = Array(amzDate)
        let iso = "\(String(chars[0..<4]))-\(String(chars[4..<6]))-\(String(chars[6..<8]))T\(String(chars[9..<11])):\(String(chars[11..<13])):\(String(chars[13..<15]))Z"
        guard let date = ISO8601Timestamp.parse(iso), let host = request.header("host"), let contentType = request.header("content-type") else { return nil }
        var signable = SigV4Request(method: request.method, path: request.path, headers: [.init("Host", host), .init("Content-Type", contentType)], body: request.body)
        guard (try? SigV4Signer(service: "sts", region: region).sign(&signable, credentials: credentials, date: date)) != nil else { return nil }
        return signable.headerValue(named: "authorization")
    }
}

/// The environment every chain test starts from: a private HOME, no shared files, IMDS off.
func isolatedEnvironment(_ directory: CredentialsTempDirectory, _ extra: [String: String] = [:]) -> [String: String] {
    var environment = [
        "HOME": directory.path,
        "AWS_CONFIG_FILE": directory.path + "/config",
        "AWS_SHARED_CREDENTIALS_FILE": directory.path + "/credentials",
        "AWS_EC2_METADATA_DISABLED": "true",
        "PATH": "/usr/bin:/bin",
    ]
    environment.merge(extra) { _, new in new }
    return environment
}

/// The typed error of a throwing credentials call, or nil when it succeeded.
func credentialsError(_ body: () async throws(CredentialsError) -> AWSCredentials) async -> CredentialsError? {
    do throws(CredentialsError) {
        _ = try await body()
        return nil
    } catch {
        return error
    }
}
