#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// One set of AWS credentials, as a credential source yields it.
///
/// `description`, `debugDescription` and the reflection mirror (`dump`, `print`, string interpolation) never
/// contain the secret access key or the session token, so a stray log line cannot leak them.
/// The access key id is shown: AWS documents it as an identifier, not a secret, and it tells an operator
/// which identity is in use.
public struct AWSCredentials: Sendable, Equatable {
    public var accessKeyId: String
    public var secretAccessKey: String
    /// Present for temporary credentials; sent (and signed) as `X-Amz-Security-Token`.
    public var sessionToken: String?
    /// When temporary credentials stop working; `nil` for long-lived keys.
    public var expiration: Date?

    public init(accessKeyId: String, secretAccessKey: String, sessionToken: String? = nil, expiration: Date? = nil) {
        self.accessKeyId = accessKeyId
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
        self.expiration = expiration
    }
}

extension AWSCredentials: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    private static let redacted = "<redacted>"

    public var description: String {
        let token = sessionToken == nil ? "nil" : Self.redacted
        let expires = expiration.map { String(describing: $0) } ?? "nil"
        return "AWSCredentials(accessKeyId: \(accessKeyId), secretAccessKey: \(Self.redacted), "
            + "sessionToken: \(token), expiration: \(expires))"
    }

    public var debugDescription: String { description }

    public var customMirror: Mirror {
        Mirror(
            self,
            children: [
                "accessKeyId": accessKeyId,
                "secretAccessKey": Self.redacted,
                "sessionToken": sessionToken == nil ? "nil" : Self.redacted,
                "expiration": expiration.map { String(describing: $0) } ?? "nil",
            ],
            displayStyle: .struct
        )
    }
}
