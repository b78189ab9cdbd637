/// The opaque `Configuration-Version` the agent assigns when the service gave no version label
/// (and in local mode): 16 hex digits of the 64-bit FNV-1a hash of the content. Not a security
/// function, only a name for "these bytes", stable across restarts; it keeps local mode free of
/// libcrypto, whose initialisation alone costs about 3 MiB of resident memory.
public enum ContentVersion {
    public static func of(_ bytes: some Sequence<UInt8>) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01b3
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}
