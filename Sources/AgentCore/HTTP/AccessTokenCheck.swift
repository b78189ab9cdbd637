/// Checks `Authorization: Bearer <token>` against `ACCESS_TOKEN` in constant time.
public struct AccessTokenCheck: Sendable {
    private let expected: [UInt8]

    public init(token: String) {
        expected = Array(token.utf8)
    }

    /// True when the header carries exactly the expected bearer token. The scheme is matched without
    /// regard to case (RFC 7235); the token byte for byte, in time that depends only on the lengths.
    public func allows(authorization header: String?) -> Bool {
        guard let header else { return false }
        let bytes = Array(header.utf8)
        let scheme = Array("bearer ".utf8)
        guard bytes.count >= scheme.count else { return false }
        for (byte, expectedByte) in zip(bytes[0..<scheme.count], scheme) where byte | 0x20 != expectedByte {
            return false
        }
        var start = scheme.count
        while start < bytes.count, bytes[start] == UInt8(ascii: " ") { start += 1 }
        return Digest.constantTimeEquals(bytes[start...], expected)
    }
}
