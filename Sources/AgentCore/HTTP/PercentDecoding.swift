/// Percent-decoding of URL parts.
public enum PercentDecoding {
    /// Decodes `%XX` escapes; `plusAsSpace` for query strings (form encoding), not for paths.
    /// Returns nil on a malformed escape or when the result is not UTF-8.
    public static func decode(_ text: Substring, plusAsSpace: Bool = false) -> String? {
        let utf8 = text.utf8
        if !utf8.contains(UInt8(ascii: "%")) && !(plusAsSpace && utf8.contains(UInt8(ascii: "+"))) {
            return String(text)
        }
        var out: [UInt8] = []
        out.reserveCapacity(utf8.count)
        var index = utf8.startIndex
        while index < utf8.endIndex {
            let byte = utf8[index]
            if byte == UInt8(ascii: "%") {
                let first = utf8.index(after: index)
                guard first < utf8.endIndex else { return nil }
                let second = utf8.index(after: first)
                guard second < utf8.endIndex, let high = hexValue(utf8[first]), let low = hexValue(utf8[second]) else {
                    return nil
                }
                out.append(high << 4 | low)
                index = utf8.index(after: second)
            } else {
                out.append(plusAsSpace && byte == UInt8(ascii: "+") ? UInt8(ascii: " ") : byte)
                index = utf8.index(after: index)
            }
        }
        return String(validating: out, as: UTF8.self)
    }

    /// The same, for a path segment's raw bytes (no `+` handling).
    public static func decode(_ bytes: UnsafeBufferPointer<UInt8>) -> String? {
        guard bytes.contains(UInt8(ascii: "%")) else { return String(decoding: bytes, as: UTF8.self) }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "%") {
                guard index + 2 < bytes.count, let high = hexValue(bytes[index + 1]), let low = hexValue(bytes[index + 2]) else {
                    return nil
                }
                out.append(high << 4 | low)
                index += 3
            } else {
                out.append(bytes[index])
                index += 1
            }
        }
        return String(validating: out, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// The values of every `name=` pair in a query string, decoded; nil when a pair is malformed.
    /// Works on the raw bytes: this runs on every `?flag=` request.
    public static func queryValues(_ query: Substring, named name: String) -> [String]? {
        var query = query
        let wanted = Array(name.utf8)
        return query.withUTF8 { bytes -> [String]? in
            var values: [String] = []
            var start = 0
            while start <= bytes.count {
                var end = start
                while end < bytes.count, bytes[end] != UInt8(ascii: "&") { end += 1 }
                if end > start {
                    let pair = UnsafeBufferPointer(rebasing: bytes[start..<end])
                    let equals = pair.firstIndex(of: UInt8(ascii: "=")) ?? pair.count
                    guard let key = decodeForm(UnsafeBufferPointer(rebasing: pair[0..<equals])) else { return nil }
                    if key.utf8.elementsEqual(wanted) {
                        let raw = equals < pair.count ? UnsafeBufferPointer(rebasing: pair[(equals + 1)...]) : UnsafeBufferPointer(rebasing: pair[0..<0])
                        guard let value = decodeForm(raw) else { return nil }
                        values.append(value)
                    }
                }
                start = end + 1
            }
            return values
        }
    }

    /// Form decoding of query parts: `+` is a space, then percent-escapes.
    private static func decodeForm(_ bytes: UnsafeBufferPointer<UInt8>) -> String? {
        guard bytes.contains(UInt8(ascii: "+")) else { return decode(bytes) }
        let spaced = bytes.map { $0 == UInt8(ascii: "+") ? UInt8(ascii: " ") : $0 }
        return spaced.withUnsafeBufferPointer { decode($0) }
    }
}
