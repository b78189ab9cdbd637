import CCrypto

/// SHA-256 and HMAC-SHA256 from libcrypto, lowercase hex, and a constant-time comparison.
///
/// The only Swift file that imports `CCrypto`: everything above it works on `[UInt8]`.
public enum Digest {
    /// Length in bytes of a SHA-256 digest and of an HMAC-SHA256 tag.
    public static let sha256Length = 32

    /// SHA-256 of `bytes` (`EVP_Digest`).
    public static func sha256(_ bytes: some Collection<UInt8>) -> [UInt8] {
        withContiguousBytes(bytes) { input in
            var output = [UInt8](repeating: 0, count: sha256Length)
            var outputLength: UInt32 = 0
            let status = output.withUnsafeMutableBufferPointer { out in
                EVP_Digest(input.baseAddress, input.count, out.baseAddress, &outputLength, EVP_sha256(), nil)
            }
            // Fails only when libcrypto cannot allocate; there is no sane way to carry on without hashes.
            precondition(status == 1 && Int(outputLength) == sha256Length, "libcrypto EVP_Digest(SHA-256) failed")
            return output
        }
    }

    /// The first 8 bytes, big-endian, of SHA-256(`first` ‖ `second`): the split hash of feature flags,
    /// which runs many times per request, so nothing here allocates (see `ccrypto_sha256_concat`).
    public static func sha256Prefix64(_ first: UnsafeBufferPointer<UInt8>, _ second: UnsafeBufferPointer<UInt8>) -> UInt64 {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: sha256Length) { output in
            let placeholder: UInt8 = 0
            let status = withUnsafePointer(to: placeholder) { empty in
                ccrypto_sha256_concat(first.baseAddress ?? empty, first.count, second.baseAddress ?? empty, second.count,
                                      output.baseAddress)
            }
            // Fails only when libcrypto cannot allocate; there is no sane way to carry on without hashes.
            precondition(status == 1, "libcrypto SHA-256 failed")
            var value: UInt64 = 0
            for index in 0..<8 { value = value << 8 | UInt64(output[index]) }
            return value
        }
    }

    /// HMAC-SHA256 of `data` under `key` (one-shot `HMAC`, not deprecated in OpenSSL 3).
    public static func hmacSHA256(key: some Collection<UInt8>, data: some Collection<UInt8>) -> [UInt8] {
        withContiguousBytes(key) { keyBuffer in
            withContiguousBytes(data) { dataBuffer in
                var output = [UInt8](repeating: 0, count: sha256Length)
                var outputLength: UInt32 = 0
                let result = output.withUnsafeMutableBufferPointer { out in
                    HMAC(EVP_sha256(), keyBuffer.baseAddress, Int32(clamping: keyBuffer.count),
                         dataBuffer.baseAddress, dataBuffer.count, out.baseAddress, &outputLength)
                }
                precondition(result != nil && Int(outputLength) == sha256Length, "libcrypto HMAC(SHA-256) failed")
                return output
            }
        }
    }

    /// Lowercase hexadecimal, two digits per byte.
    public static func hex(_ bytes: some Sequence<UInt8>) -> String {
        var digits: [UInt8] = []
        digits.reserveCapacity(bytes.underestimatedCount * 2)
        for byte in bytes {
            digits.append(hexDigits[Int(byte >> 4)])
            digits.append(hexDigits[Int(byte & 0x0F)])
        }
        return String(decoding: digits, as: UTF8.self)
    }

    /// Compares two byte strings in time that depends only on their lengths (`CRYPTO_memcmp`).
    /// Strings of different lengths are unequal; only the lengths leak.
    public static func constantTimeEquals(_ lhs: some Collection<UInt8>, _ rhs: some Collection<UInt8>) -> Bool {
        guard lhs.count == rhs.count else { return false }
        if lhs.isEmpty { return true }
        return withContiguousBytes(lhs) { left in
            withContiguousBytes(rhs) { right in
                CRYPTO_memcmp(left.baseAddress, right.baseAddress, left.count) == 0
            }
        }
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// Runs `body` over contiguous storage, copying only collections that have none (e.g. a lazy view).
    /// An empty input still gets a valid base address: some libcrypto paths reject NULL even for length 0.
    private static func withContiguousBytes<Result>(
        _ bytes: some Collection<UInt8>, _ body: (UnsafeBufferPointer<UInt8>) -> Result
    ) -> Result {
        if bytes.isEmpty {
            let placeholder: UInt8 = 0
            return withUnsafePointer(to: placeholder) { body(UnsafeBufferPointer(start: $0, count: 0)) }
        }
        if let result = bytes.withContiguousStorageIfAvailable(body) { return result }
        return Array(bytes).withUnsafeBufferPointer(body)
    }
}
