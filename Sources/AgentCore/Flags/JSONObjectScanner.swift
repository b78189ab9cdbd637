/// One member of a document's top-level object, located by byte ranges so that it can be copied out
/// exactly as stored.
public struct JSONMember: Sendable, Equatable {
    /// The key with its escapes resolved (`"caf\u00e9"` in the document is `café` here).
    public let key: String
    /// The raw key token, quotes included, as it appears in the document.
    public let keyRange: Range<Int>
    /// The raw value, from its first byte to its last, without the surrounding whitespace.
    public let valueRange: Range<Int>

    public init(key: String, keyRange: Range<Int>, valueRange: Range<Int>) {
        self.key = key
        self.keyRange = keyRange
        self.valueRange = valueRange
    }
}

/// Why a document was refused by `JSONObjectScanner`.
public enum JSONScanError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Valid JSON whose top-level value is not an object; `found` names what it is (`array`, `string`, …).
    case notAnObject(found: String)
    /// Not valid RFC 8259 JSON: what is wrong and the byte offset where it was seen.
    case invalid(reason: String, offset: Int)

    public var description: String {
        switch self {
        case .notAnObject(let found): "top-level value is \(found), not an object"
        case .invalid(let reason, let offset): "\(reason) at byte \(offset)"
        }
    }
}

/// A strict RFC 8259 validator that returns the members of the top-level object as byte ranges.
///
/// Design notes:
/// - The whole document is validated (UTF-8 included: overlong forms, encoded surrogates and code
///   points above U+10FFFF are refused), then the top level must be an object. A leading byte-order
///   mark is refused, as Go's `encoding/json` (AWS's agent) refuses it.
/// - Nothing is converted: numbers are checked against the grammar and left as bytes, so a value
///   copied out by range is exactly what was stored (`1.0e+10` and `-0` stay as written).
/// - Escapes are checked everywhere; a `\u` escape that leaves a lone surrogate is refused in keys
///   and values alike.
/// - No recursion: one loop and a stack of open containers, bounded by `maximumDepth` (the top-level
///   object counts as depth 1), so no input can exhaust the thread's stack.
/// - Duplicate keys are all reported, in document order; `FlagIndex` keeps the last one for lookups.
/// - Only top-level keys are decoded into `String`s; the rest is scanned without allocating.
public enum JSONObjectScanner {
    /// Deepest nesting accepted by default, counting the top-level object as 1.
    public static let defaultMaximumDepth = 128

    /// Validates `bytes` as one JSON document whose top-level value is an object and returns that
    /// object's members in document order.
    public static func members(
        of bytes: UnsafeRawBufferPointer,
        maximumDepth: Int = defaultMaximumDepth
    ) throws(JSONScanError) -> [JSONMember] {
        var scanner = Scan(bytes: bytes, maximumDepth: maximumDepth)
        return try scanner.run()
    }

    /// Validates `bytes` as one JSON document whose top-level value is an object and returns that
    /// object's members in document order.
    public static func members(
        of bytes: [UInt8],
        maximumDepth: Int = defaultMaximumDepth
    ) throws(JSONScanError) -> [JSONMember] {
        let result: Result<[JSONMember], JSONScanError> = bytes.withUnsafeBytes { buffer in
            Result { () throws(JSONScanError) -> [JSONMember] in
                try members(of: buffer, maximumDepth: maximumDepth)
            }
        }
        return try result.get()
    }
}

private enum ASCII {
    static let quote = UInt8(ascii: "\"")
    static let backslash = UInt8(ascii: "\\")
    static let slash = UInt8(ascii: "/")
    static let colon = UInt8(ascii: ":")
    static let comma = UInt8(ascii: ",")
    static let openBrace = UInt8(ascii: "{")
    static let closeBrace = UInt8(ascii: "}")
    static let openBracket = UInt8(ascii: "[")
    static let closeBracket = UInt8(ascii: "]")
    static let minus = UInt8(ascii: "-")
    static let plus = UInt8(ascii: "+")
    static let dot = UInt8(ascii: ".")
    static let zero = UInt8(ascii: "0")
    static let nine = UInt8(ascii: "9")
    static let space = UInt8(ascii: " ")
    static let tab = UInt8(ascii: "\t")
    static let newline = UInt8(ascii: "\n")
    static let carriageReturn = UInt8(ascii: "\r")

    @inline(__always) static func isDigit(_ b: UInt8) -> Bool { b >= zero && b <= nine }
}

/// The scanning state over one document. Offsets index `bytes`; every read is guarded by `count`.
private struct Scan {
    let bytes: UnsafeRawBufferPointer
    let count: Int
    let maximumDepth: Int
    var offset = 0

    init(bytes: UnsafeRawBufferPointer, maximumDepth: Int) {
        self.bytes = bytes
        self.count = bytes.count
        self.maximumDepth = max(1, maximumDepth)
    }

    func fail(_ reason: String, at position: Int? = nil) -> JSONScanError {
        .invalid(reason: reason, offset: position ?? offset)
    }

    @inline(__always) mutating func skipWhitespace() {
        while offset < count {
            let b = bytes[offset]
            guard b == ASCII.space || b == ASCII.newline || b == ASCII.carriageReturn || b == ASCII.tab else { return }
            offset += 1
        }
    }

    /// One pass over the document: a value is read, then the open containers are closed or continued
    /// until the next value starts; the stack holds `true` for an object and `false` for an array.
    mutating func run() throws(JSONScanError) -> [JSONMember] {
        var stack: [Bool] = []
        stack.reserveCapacity(16)
        var members: [JSONMember] = []
        var pendingKey = ""
        var pendingKeyRange = 0..<0
        var valueStart = 0

        skipWhitespace()
        guard offset < count else { throw fail("empty document: expected a JSON object") }
        let rootByte = bytes[offset]
        let rootIsObject = rootByte == ASCII.openBrace

        valueLoop: while true {
            // A value starts here; whitespace before it has been skipped.
            guard offset < count else { throw fail("unexpected end of document: expected a value") }
            if rootIsObject && stack.count == 1 { valueStart = offset }
            let b = bytes[offset]
            switch b {
            case ASCII.openBrace:
                guard stack.count < maximumDepth else { throw fail("nesting deeper than \(maximumDepth) levels") }
                stack.append(true)
                offset += 1
                skipWhitespace()
                if offset < count && bytes[offset] == ASCII.closeBrace {
                    offset += 1
                    stack.removeLast()
                } else {
                    if stack.count == 1 {
                        (pendingKey, pendingKeyRange) = try readTopLevelKey()
                    } else {
                        try readKey()
                    }
                    continue valueLoop
                }
            case ASCII.openBracket:
                guard stack.count < maximumDepth else { throw fail("nesting deeper than \(maximumDepth) levels") }
                stack.append(false)
                offset += 1
                skipWhitespace()
                if offset < count && bytes[offset] == ASCII.closeBracket {
                    offset += 1
                    stack.removeLast()
                } else {
                    continue valueLoop
                }
            case ASCII.quote:
                _ = try scanString()
            case ASCII.minus, ASCII.zero...ASCII.nine:
                try scanNumber()
            case UInt8(ascii: "t"):
                try expectLiteral("true")
            case UInt8(ascii: "f"):
                try expectLiteral("false")
            case UInt8(ascii: "n"):
                try expectLiteral("null")
            case ASCII.closeBrace, ASCII.closeBracket:
                throw fail("expected a value, found \(Self.describe(b))\(followsComma() ? " (trailing comma?)" : "")")
            default:
                throw fail("expected a value, found \(Self.describe(b))")
            }

            // A value has just ended; its parent is `stack.last`. Close containers until another value starts.
            while let top = stack.last {
                if rootIsObject && stack.count == 1 {
                    members.append(JSONMember(key: pendingKey, keyRange: pendingKeyRange, valueRange: valueStart..<offset))
                }
                skipWhitespace()
                guard offset < count else {
                    throw fail(top ? "unterminated object: expected ',' or '}'" : "unterminated array: expected ',' or ']'")
                }
                let separator = bytes[offset]
                if separator == ASCII.comma {
                    offset += 1
                    skipWhitespace()
                    if top {
                        if stack.count == 1 {
                            (pendingKey, pendingKeyRange) = try readTopLevelKey()
                        } else {
                            try readKey()
                        }
                    }
                    continue valueLoop
                }
                if separator == (top ? ASCII.closeBrace : ASCII.closeBracket) {
                    offset += 1
                    stack.removeLast()
                    continue
                }
                throw fail(top ? "expected ',' or '}' after an object member, found \(Self.describe(separator))"
                               : "expected ',' or ']' after an array element, found \(Self.describe(separator))")
            }
            break valueLoop
        }

        skipWhitespace()
        guard offset == count else { throw fail("unexpected \(Self.describe(bytes[offset])) after the top-level value") }
        guard rootIsObject else { throw .notAnObject(found: Self.kind(of: rootByte)) }
        return members
    }

    /// Reads `"key" :` inside a nested object, leaving `offset` at the value.
    mutating func readKey() throws(JSONScanError) {
        guard offset < count else { throw fail("unexpected end of document: expected a member name") }
        guard bytes[offset] == ASCII.quote else {
            if bytes[offset] == ASCII.closeBrace { throw fail("expected a member name, found '}' (trailing comma?)") }
            throw fail("expected a member name in double quotes, found \(Self.describe(bytes[offset]))")
        }
        _ = try scanString()
        try readColon()
    }

    /// Reads `"key" :` in the top-level object and decodes the key.
    mutating func readTopLevelKey() throws(JSONScanError) -> (String, Range<Int>) {
        let start = offset
        guard offset < count else { throw fail("unexpected end of document: expected a member name") }
        guard bytes[offset] == ASCII.quote else {
            if bytes[offset] == ASCII.closeBrace { throw fail("expected a member name, found '}' (trailing comma?)") }
            throw fail("expected a member name in double quotes, found \(Self.describe(bytes[offset]))")
        }
        let hasEscapes = try scanString()
        let range = start..<offset
        let key = hasEscapes
            ? decodeEscapedString(range)
            : String(decoding: UnsafeRawBufferPointer(rebasing: bytes[(start + 1)..<(offset - 1)]), as: UTF8.self)
        try readColon()
        return (key, range)
    }

    mutating func readColon() throws(JSONScanError) {
        skipWhitespace()
        guard offset < count, bytes[offset] == ASCII.colon else {
            throw fail(offset < count ? "expected ':' after a member name, found \(Self.describe(bytes[offset]))"
                                      : "unexpected end of document: expected ':'")
        }
        offset += 1
        skipWhitespace()
    }

    /// Validates a string starting at the opening quote and leaves `offset` after the closing one.
    /// Returns whether the string contains escapes.
    mutating func scanString() throws(JSONScanError) -> Bool {
        let start = offset
        offset += 1
        var hasEscapes = false
        while offset < count {
            let b = bytes[offset]
            if b == ASCII.quote {
                offset += 1
                return hasEscapes
            }
            if b == ASCII.backslash {
                hasEscapes = true
                try scanEscape()
            } else if b < 0x20 {
                throw fail("unescaped control character (\(Self.describe(b))) in a string")
            } else if b < 0x80 {
                offset += 1
            } else {
                try scanUTF8Sequence()
            }
        }
        throw fail("unterminated string", at: start)
    }

    /// Validates one escape starting at the backslash.
    mutating func scanEscape() throws(JSONScanError) {
        let start = offset
        offset += 1
        guard offset < count else { throw fail("unterminated escape", at: start) }
        switch bytes[offset] {
        case ASCII.quote, ASCII.backslash, ASCII.slash,
             UInt8(ascii: "b"), UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
            offset += 1
        case UInt8(ascii: "u"):
            offset += 1
            let unit = try readHex4(escapeStart: start)
            if unit >= 0xDC00 && unit <= 0xDFFF {
                throw fail("lone low surrogate \\u\(Self.hex(unit)) in a string", at: start)
            }
            if unit >= 0xD800 && unit <= 0xDBFF {
                guard offset + 1 < count, bytes[offset] == ASCII.backslash, bytes[offset + 1] == UInt8(ascii: "u") else {
                    throw fail("lone high surrogate \\u\(Self.hex(unit)) in a string", at: start)
                }
                let lowStart = offset
                offset += 2
                let low = try readHex4(escapeStart: lowStart)
                guard low >= 0xDC00 && low <= 0xDFFF else {
                    throw fail("high surrogate \\u\(Self.hex(unit)) not followed by a low surrogate", at: start)
                }
            }
        default:
            throw fail("invalid escape '\\\(Self.printable(bytes[offset]))' in a string", at: start)
        }
    }

    /// Reads four hex digits at `offset`.
    mutating func readHex4(escapeStart: Int) throws(JSONScanError) -> UInt32 {
        guard offset + 4 <= count else { throw fail("incomplete \\u escape", at: escapeStart) }
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let digit = Self.hexValue(bytes[offset]) else {
                throw fail("invalid \\u escape: expected four hex digits", at: escapeStart)
            }
            value = value << 4 | digit
            offset += 1
        }
        return value
    }

    /// Validates one multi-byte UTF-8 sequence (RFC 3629: no overlong forms, no surrogates, at most U+10FFFF).
    mutating func scanUTF8Sequence() throws(JSONScanError) {
        let lead = bytes[offset]
        let length: Int
        var secondLow: UInt8 = 0x80
        var secondHigh: UInt8 = 0xBF
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; secondLow = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: length = 3; secondHigh = 0x9F
        case 0xF0: length = 4; secondLow = 0x90
        case 0xF1...0xF3: length = 4
        case 0xF4: length = 4; secondHigh = 0x8F
        default: throw fail("invalid UTF-8: \(Self.describe(lead))")
        }
        guard offset + length <= count else { throw fail("truncated UTF-8 sequence") }
        let second = bytes[offset + 1]
        guard second >= secondLow && second <= secondHigh else { throw fail("invalid UTF-8 sequence") }
        var index = offset + 2
        while index < offset + length {
            guard bytes[index] & 0xC0 == 0x80 else { throw fail("invalid UTF-8 sequence") }
            index += 1
        }
        offset += length
    }

    /// Validates a number against the RFC 8259 grammar without converting it.
    mutating func scanNumber() throws(JSONScanError) {
        let start = offset
        if bytes[offset] == ASCII.minus { offset += 1 }
        guard offset < count, ASCII.isDigit(bytes[offset]) else { throw fail("invalid number: expected a digit", at: start) }
        if bytes[offset] == ASCII.zero {
            offset += 1
            if offset < count && ASCII.isDigit(bytes[offset]) { throw fail("invalid number: leading zero", at: start) }
        } else {
            while offset < count && ASCII.isDigit(bytes[offset]) { offset += 1 }
        }
        if offset < count && bytes[offset] == ASCII.dot {
            offset += 1
            guard offset < count, ASCII.isDigit(bytes[offset]) else {
                throw fail("invalid number: expected a digit after '.'", at: start)
            }
            while offset < count && ASCII.isDigit(bytes[offset]) { offset += 1 }
        }
        if offset < count && (bytes[offset] == UInt8(ascii: "e") || bytes[offset] == UInt8(ascii: "E")) {
            offset += 1
            if offset < count && (bytes[offset] == ASCII.plus || bytes[offset] == ASCII.minus) { offset += 1 }
            guard offset < count, ASCII.isDigit(bytes[offset]) else {
                throw fail("invalid number: expected a digit in the exponent", at: start)
            }
            while offset < count && ASCII.isDigit(bytes[offset]) { offset += 1 }
        }
    }

    mutating func expectLiteral(_ literal: StaticString) throws(JSONScanError) {
        let length = literal.utf8CodeUnitCount
        let start = offset
        guard offset + length <= count else { throw fail("invalid literal: expected \(literal)", at: start) }
        let expected = UnsafeRawBufferPointer(start: literal.utf8Start, count: length)
        for index in 0..<length where bytes[offset + index] != expected[index] {
            throw fail("invalid literal: expected \(literal)", at: start)
        }
        offset += length
    }

    /// Decodes an already validated string token (quotes included) that contains escapes.
    func decodeEscapedString(_ range: Range<Int>) -> String {
        var output: [UInt8] = []
        output.reserveCapacity(range.count)
        var index = range.lowerBound + 1
        let end = range.upperBound - 1
        while index < end {
            let b = bytes[index]
            guard b == ASCII.backslash else {
                output.append(b)
                index += 1
                continue
            }
            let kind = bytes[index + 1]
            index += 2
            switch kind {
            case UInt8(ascii: "b"): output.append(0x08)
            case UInt8(ascii: "f"): output.append(0x0C)
            case UInt8(ascii: "n"): output.append(0x0A)
            case UInt8(ascii: "r"): output.append(0x0D)
            case UInt8(ascii: "t"): output.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = hex4(at: index)
                index += 4
                if scalar >= 0xD800 && scalar <= 0xDBFF {
                    // Validation guarantees a low surrogate escape follows.
                    let low = hex4(at: index + 2)
                    index += 6
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                }
                Self.appendUTF8(scalar, to: &output)
            default: output.append(kind) // '"', '\\' and '/' stand for themselves.
            }
        }
        return String(decoding: output, as: UTF8.self)
    }

    func hex4(at index: Int) -> UInt32 {
        var value: UInt32 = 0
        for position in index..<(index + 4) { value = value << 4 | (Self.hexValue(bytes[position]) ?? 0) }
        return value
    }

    static func appendUTF8(_ scalar: UInt32, to output: inout [UInt8]) {
        switch scalar {
        case 0..<0x80:
            output.append(UInt8(scalar))
        case 0x80..<0x800:
            output.append(UInt8(0xC0 | scalar >> 6))
            output.append(UInt8(0x80 | scalar & 0x3F))
        case 0x800..<0x10000:
            output.append(UInt8(0xE0 | scalar >> 12))
            output.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            output.append(UInt8(0x80 | scalar & 0x3F))
        default:
            output.append(UInt8(0xF0 | scalar >> 18))
            output.append(UInt8(0x80 | scalar >> 12 & 0x3F))
            output.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            output.append(UInt8(0x80 | scalar & 0x3F))
        }
    }

    static func hexValue(_ b: UInt8) -> UInt32? {
        switch b {
        case ASCII.zero...ASCII.nine: UInt32(b - ASCII.zero)
        case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt32(b - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt32(b - UInt8(ascii: "A") + 10)
        default: nil
        }
    }

    static func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }

    static func printable(_ b: UInt8) -> String {
        b >= 0x20 && b < 0x7F ? String(Character(Unicode.Scalar(b))) : "0x" + String(b, radix: 16, uppercase: true)
    }

    static func describe(_ b: UInt8) -> String {
        if b >= 0x21 && b < 0x7F { return "'\(Character(Unicode.Scalar(b)))'" }
        return (b < 0x10 ? "byte 0x0" : "byte 0x") + String(b, radix: 16, uppercase: true)
    }

    /// Whether the last byte before `offset`, whitespace aside, is a comma; only for error messages.
    func followsComma() -> Bool {
        var index = offset - 1
        while index >= 0 {
            let b = bytes[index]
            if b == ASCII.space || b == ASCII.newline || b == ASCII.carriageReturn || b == ASCII.tab {
                index -= 1
                continue
            }
            return b == ASCII.comma
        }
        return false
    }

    static func kind(of rootByte: UInt8) -> String {
        switch rootByte {
        case ASCII.openBracket: "an array"
        case ASCII.quote: "a string"
        case UInt8(ascii: "t"), UInt8(ascii: "f"): "a boolean"
        case UInt8(ascii: "n"): "null"
        default: "a number"
        }
    }
}
