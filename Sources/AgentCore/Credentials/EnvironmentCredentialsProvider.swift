/// Keys from the environment: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, optional `AWS_SESSION_TOKEN`
/// (the legacy names `AWS_ACCESS_KEY` and `AWS_SECRET_KEY` are read when the standard ones are unset).
/// Read once, when created: like the SDKs, a running process does not see later changes.
public struct EnvironmentCredentialsProvider: CredentialsProviding {
    private let result: Result<AWSCredentials, CredentialsError>

    public init(environment: [String: String]) {
        result = Self.read(environment)
    }

    /// True when an access key id or a secret key is set: the source is in use (and if only one of them
    /// is set, that is an error to report, not a reason to look elsewhere).
    public static func isConfigured(_ environment: [String: String]) -> Bool {
        accessKeyId(environment) != nil || secretAccessKey(environment) != nil
    }

    public func credentials() async throws(CredentialsError) -> AWSCredentials {
        try result.get()
    }

    private static func accessKeyId(_ environment: [String: String]) -> String? {
        CredentialsSupport.value(environment, "AWS_ACCESS_KEY_ID") ?? CredentialsSupport.value(environment, "AWS_ACCESS_KEY")
    }

    private static func secretAccessKey(_ environment: [String: String]) -> String? {
        CredentialsSupport.value(environment, "AWS_SECRET_ACCESS_KEY") ?? CredentialsSupport.value(environment, "AWS_SECRET_KEY")
    }

    private static func read(_ environment: [String: String]) -> Result<AWSCredentials, CredentialsError> {
        let secret = secretAccessKey(environment)
        let token = CredentialsSupport.value(environment, "AWS_SESSION_TOKEN")
        // Registered even when incomplete: an error path must not be the one that prints them.
        if let secret { Log.registerSecret(secret, permanent: true) }
        if let token { Log.registerSecret(token, permanent: true) }
        switch (accessKeyId(environment), secret) {
        case (let id?, let secret?):
            return .success(AWSCredentials(accessKeyId: id, secretAccessKey: secret, sessionToken: token))
        case (nil, _?):
            return .failure(CredentialsError("AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not; set both, or neither to use another credential source"))
        case (_?, nil):
            return .failure(CredentialsError("AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not; set both, or neither to use another credential source"))
        case (nil, nil):
            return .failure(CredentialsError("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set"))
        }
    }
}
