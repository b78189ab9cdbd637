/// Something that yields AWS credentials, refreshing them as needed. Implementations cache and
/// refresh ahead of expiry; callers ask before every signed call.
public protocol CredentialsProviding: Sendable {
    func credentials() async throws(CredentialsError) -> AWSCredentials
}

/// Why no credentials could be had: short, says what to fix, never carries a secret.
public struct CredentialsError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
