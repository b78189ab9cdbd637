/// The context keys that the rules of one configuration read, each given a slot number once when the
/// rules compile. Per request, each `Context` key is looked up here once; rules then read slots.
struct ContextKeyTable: Sendable {
    /// Slot order.
    private(set) var names: [String] = []
    /// The names' UTF-8 bytes, back to back, and each name's span of them (slot order).
    private var bytes: [UInt8] = []
    private var spans: [ByteSpan] = []
    /// (FNV-1a hash, slot), sorted, for tables too large to scan.
    private var hashed: [HashedSlot] = []

    private struct HashedSlot: Sendable {
        let hash: UInt64
        let slot: Int
    }

    /// Up to this many names, a lookup compares lengths and bytes instead of hashing.
    static let scanLimit = 16

    var count: Int { names.count }

    mutating func intern(_ name: String) -> Int {
        if let slot = slot(of: name) { return slot }
        let slot = names.count
        names.append(name)
        spans.append(ByteSpan(start: bytes.count, count: name.utf8.count))
        bytes.append(contentsOf: name.utf8)
        let hash = withUTF8Bytes(name) { Self.hash($0) }
        let position = hashed.firstIndex { $0.hash > hash } ?? hashed.count
        hashed.insert(HashedSlot(hash: hash, slot: slot), at: position)
        return slot
    }

    func slot(of name: String) -> Int? {
        withUTF8Bytes(name) { slot(of: $0) }
    }

    /// The slot of the key whose UTF-8 bytes are `key`, compared exactly.
    func slot(of key: UnsafeBufferPointer<UInt8>) -> Int? {
        bytes.withUnsafeBufferPointer { pool in
            spans.withUnsafeBufferPointer { spans in
                func matches(_ slot: Int) -> Bool {
                    let span = spans[slot]
                    return span.count == key.count && compareBytes(pool.slice(span), key) == 0
                }
                if spans.count <= Self.scanLimit {
                    for slot in 0..<spans.count where matches(slot) { return slot }
                    return nil
                }
                let hash = Self.hash(key)
                return hashed.withUnsafeBufferPointer { table -> Int? in
                    var low = 0
                    var high = table.count
                    while low < high {
                        let middle = (low + high) / 2
                        if table[middle].hash < hash { low = middle + 1 } else { high = middle }
                    }
                    while low < table.count && table[low].hash == hash {
                        if matches(table[low].slot) { return table[low].slot }
                        low += 1
                    }
                    return nil
                }
            }
        }
    }

    /// FNV-1a, 64 bits: only for this in-memory index, never stored.
    static func hash(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in bytes {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
        }
        return hash
    }
}

/// A range of a byte pool, as plain integers so that tables of them hold no references.
struct ByteSpan: Sendable, Equatable {
    var start: Int
    var count: Int

    /// No value: a context key absent from the request.
    static let absent = ByteSpan(start: -1, count: 0)

    var isAbsent: Bool { start < 0 }
}

extension UnsafeBufferPointer where Element == UInt8 {
    /// The bytes of `span`; `span` must lie within the buffer.
    @inline(__always) func slice(_ span: ByteSpan) -> UnsafeBufferPointer<UInt8> {
        UnsafeBufferPointer(start: baseAddress.map { $0 + span.start }, count: span.count)
    }
}
