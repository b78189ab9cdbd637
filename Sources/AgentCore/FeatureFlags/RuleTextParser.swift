/// Why rule or document text could not be read: what, and the byte offset.
public struct RuleSyntaxError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    public let offset: Int

    public var description: String { "\(message) at byte \(offset)" }
}

/// Reads the Ion text that AWS's samples show for rules and local-development flag files into
/// `RuleTerm`s. It stands in for the Ion reader until an adapter converts that reader's values; the
/// compiler only ever sees `RuleTerm`s.
///
/// Read: s-expressions `( … )`, lists `[ … ]` (commas between elements; also accepted without
/// commas, as `(in $k ["a" "b"])` is written in AWS's documentation), strings `"…"` with Ion escapes
/// (`\n \t \r \f \v \a \b \0 \" \' \? \\ \/ \xHH \uHHHH \UHHHHHHHH`, and a backslash-newline
/// continuation), long strings `'''…'''` (adjacent ones joined), symbols (`eq`, `$userId`, quoted
/// `'simple_flag'`, and operator runs such as `<=` inside s-expressions), annotations `name::`,
/// integers (`42`, `-7`, `1_000`, `0x1F`, `0b101`), decimals (`12.5`, `1d-3`), floats (`1.5e3`, `nan`,
/// `+inf`, `-inf`), timestamps (`2024-01-01T00:00:00Z`, `2024-01`, `2024T`), `true`, `false`,
/// `null` (and typed nulls such as `null.string`), and `//` and `/* */` comments. Not read (an error):
/// structs, blobs and clobs `{ … }`. Nesting is bounded by `maximumDepth`.
public enum RuleTextParser {
    public static let maximumDepth = 100

    /// Exactly one value.
    public static func parse(_ text: String) throws(RuleSyntaxError) -> RuleTerm {
        var reader = TextReader(bytes: Array(text.utf8))
        reader.skipSpace()
        let term = try reader.value(depth: 0, inSexp: false)
        reader.skipSpace()
        guard reader.atEnd else { throw reader.fail("unexpected text after the value") }
        return term
    }

    /// Every top-level value of a document (an Ion version marker `$ion_1_0` is skipped).
    public static func parseDocument(_ text: String) throws(RuleSyntaxError) -> [RuleTerm] {
        var reader = TextReader(bytes: Array(text.utf8))
        var terms: [RuleTerm] = []
        reader.skipSpace()
        while !reader.atEnd {
            let term = try reader.value(depth: 0, inSexp: false)
            if !(term.annotations.isEmpty && term.value == .symbol("$ion_1_0")) { terms.append(term) }
            reader.skipSpace()
        }
        return terms
    }
}

private struct TextReader {
    let bytes: [UInt8]
    var index = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    var atEnd: Bool { index >= bytes.count }

    func peek(_ ahead: Int = 0) -> UInt8? {
        index + ahead < bytes.count ? bytes[index + ahead] : nil
    }

    func fail(_ message: String, at offset: Int? = nil) -> RuleSyntaxError {
        RuleSyntaxError(message: message, offset: offset ?? index)
    }

    func starts(with text: String) -> Bool {
        var position = index
        for byte in text.utf8 {
            guard position < bytes.count, bytes[position] == byte else { return false }
            position += 1
        }
        return true
    }

    mutating func skipSpace() {
        while let byte = peek() {
            switch byte {
            case 0x20, 0x09, 0x0A, 0x0D, 0x0B, 0x0C:
                index += 1
            case UInt8(ascii: "/") where peek(1) == UInt8(ascii: "/"):
                while let next = peek(), next != 0x0A { _ = next; index += 1 }
            case UInt8(ascii: "/") where peek(1) == UInt8(ascii: "*"):
                index += 2
                while !atEnd && !starts(with: "*/") { index += 1 }
                index = min(index + 2, bytes.count)
            default:
                return
            }
        }
    }

    static func isIdentifierStart(_ byte: UInt8) -> Bool {
        (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x41 && byte <= 0x5A) || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "$")
    }

    static func isIdentifierPart(_ byte: UInt8) -> Bool {
        isIdentifierStart(byte) || (byte >= 0x30 && byte <= 0x39)
    }

    static func isOperatorCharacter(_ byte: UInt8) -> Bool {
        "!#%&*+-./;<=>?@^`|~".utf8.contains(byte)
    }

    /// Annotations, then one value.
    mutating func value(depth: Int, inSexp: Bool) throws(RuleSyntaxError) -> RuleTerm {
        guard depth < RuleTextParser.maximumDepth else { throw fail("nested deeper than \(RuleTextParser.maximumDepth) levels") }
        var annotations: [String] = []
        while true {
            let start = index
            guard let symbol = try annotationCandidate() else { break }
            skipSpace()
            if starts(with: "::") {
                index += 2
                skipSpace()
                annotations.append(symbol)
            } else {
                index = start
                break
            }
        }
        var term = try bareValue(depth: depth, inSexp: inSexp)
        term.annotations = annotations
        return term
    }

    /// An identifier or quoted symbol at `index` (consumed), or nil (nothing consumed).
    mutating func annotationCandidate() throws(RuleSyntaxError) -> String? {
        guard let byte = peek() else { return nil }
        if byte == UInt8(ascii: "'") && !starts(with: "'''") {
            index += 1
            return try quoted(terminator: UInt8(ascii: "'"), long: false)
        }
        if Self.isIdentifierStart(byte) {
            let start = index
            while let next = peek(), Self.isIdentifierPart(next) { index += 1 }
            return String(decoding: bytes[start..<index], as: UTF8.self)
        }
        return nil
    }

    mutating func bareValue(depth: Int, inSexp: Bool) throws(RuleSyntaxError) -> RuleTerm {
        guard let byte = peek() else { throw fail("unexpected end of text: expected a value") }
        switch byte {
        case UInt8(ascii: "("):
            index += 1
            var elements: [RuleTerm] = []
            while true {
                skipSpace()
                guard let next = peek() else { throw fail("unterminated s-expression: expected ')'") }
                if next == UInt8(ascii: ")") { index += 1; break }
                elements.append(try value(depth: depth + 1, inSexp: true))
            }
            return .sexp(elements)
        case UInt8(ascii: "["):
            index += 1
            var elements: [RuleTerm] = []
            while true {
                skipSpace()
                guard let next = peek() else { throw fail("unterminated list: expected ']'") }
                if next == UInt8(ascii: "]") { index += 1; break }
                elements.append(try value(depth: depth + 1, inSexp: false))
                skipSpace()
                if peek() == UInt8(ascii: ",") { index += 1 }
            }
            return .list(elements)
        case UInt8(ascii: "{"):
            throw fail("structs, blobs and clobs are not supported in rules")
        case UInt8(ascii: "\""):
            index += 1
            return .string(try quoted(terminator: UInt8(ascii: "\""), long: false))
        case UInt8(ascii: "'"):
            if starts(with: "'''") {
                var text = ""
                repeat {
                    index += 3
                    text += try quoted(terminator: UInt8(ascii: "'"), long: true)
                    let end = index
                    skipSpace()
                    if !starts(with: "'''") { index = end; break }
                } while true
                return .string(text)
            }
            index += 1
            return .symbol(try quoted(terminator: UInt8(ascii: "'"), long: false))
        case UInt8(ascii: "0")...UInt8(ascii: "9"):
            return try numeric()
        case UInt8(ascii: "-"), UInt8(ascii: "+"):
            if let next = peek(1), next >= UInt8(ascii: "0") && next <= UInt8(ascii: "9") { return try numeric() }
            if starts(with: "+inf") || starts(with: "-inf"), !(peek(4).map(Self.isIdentifierPart) ?? false) {
                let negative = byte == UInt8(ascii: "-")
                index += 4
                return .float(negative ? -.infinity : .infinity)
            }
            return try operatorSymbol(inSexp: inSexp)
        default:
            if Self.isIdentifierStart(byte) {
                let start = index
                while let next = peek(), Self.isIdentifierPart(next) { index += 1 }
                let word = String(decoding: bytes[start..<index], as: UTF8.self)
                switch word {
                case "true": return .bool(true)
                case "false": return .bool(false)
                case "nan": return .float(.nan)
                case "null":
                    if peek() == UInt8(ascii: "."), let after = peek(1), Self.isIdentifierStart(after) {
                        index += 1
                        while let next = peek(), Self.isIdentifierPart(next) { index += 1 }
                    }
                    return RuleTerm(.null)
                default: return .symbol(word)
                }
            }
            if Self.isOperatorCharacter(byte) { return try operatorSymbol(inSexp: inSexp) }
            throw fail("unexpected character '\(Unicode.Scalar(byte))'")
        }
    }

    mutating func operatorSymbol(inSexp: Bool) throws(RuleSyntaxError) -> RuleTerm {
        guard inSexp else { throw fail("operator symbols are only allowed inside s-expressions") }
        let start = index
        while let next = peek(), Self.isOperatorCharacter(next) {
            if starts(with: "//") || starts(with: "/*") { break }
            index += 1
        }
        guard index > start else { throw fail("expected a value") }
        return .symbol(String(decoding: bytes[start..<index], as: UTF8.self))
    }

    /// A number or timestamp token: everything up to a delimiter, then classified.
    mutating func numeric() throws(RuleSyntaxError) -> RuleTerm {
        let start = index
        index += 1
        while let next = peek(), Self.isIdentifierPart(next) || next == UInt8(ascii: ".") || next == UInt8(ascii: ":")
                || next == UInt8(ascii: "-") || next == UInt8(ascii: "+") {
            index += 1
        }
        let token = Array(bytes[start..<index])
        let text = String(decoding: token, as: UTF8.self)
        // A timestamp: four digits, then `-` or `T`.
        if token.count >= 5, token[0..<4].allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), token[4] == UInt8(ascii: "-") || token[4] == UInt8(ascii: "T") {
            guard RuleInstant(parsing: text) != nil else { throw fail("invalid timestamp '\(RuleError.clip(text))'", at: start) }
            return .timestamp(text)
        }
        var digits = token
        digits.removeAll { $0 == UInt8(ascii: "_") }
        let negative = digits.first == UInt8(ascii: "-")
        let unsigned = digits.drop { $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "+") }
        let lower = unsigned.map { $0 | 0x20 }
        if lower.starts(with: Array("0x".utf8)) || lower.starts(with: Array("0b".utf8)) {
            let radix = lower[1] == UInt8(ascii: "x") ? 16 : 2
            guard let magnitude = UInt64(String(decoding: unsigned.dropFirst(2), as: UTF8.self), radix: radix),
                  let value = negative ? (magnitude == UInt64(Int64.max) + 1 ? Int64.min : Int64(exactly: magnitude).map { -$0 })
                                       : Int64(exactly: magnitude) else {
                throw fail("invalid or out-of-range integer '\(RuleError.clip(text))' (rules use 64-bit integers)", at: start)
            }
            return .integer(value)
        }
        let cleaned = String(decoding: digits, as: UTF8.self)
        if lower.contains(UInt8(ascii: "e")) {
            guard let value = Double(cleaned) else {
                throw fail("invalid float '\(RuleError.clip(text))'", at: start)
            }
            return .float(value)
        }
        if lower.contains(UInt8(ascii: ".")) || lower.contains(UInt8(ascii: "d")) {
            guard RuleNumber(parsing: cleaned, allowIonExponent: true) != nil || isWellFormedDecimal(lower) else {
                throw fail("invalid decimal '\(RuleError.clip(text))'", at: start)
            }
            return .decimal(cleaned)
        }
        guard lower.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), !lower.isEmpty else {
            throw fail("invalid number '\(RuleError.clip(text))'", at: start)
        }
        guard let value = Int64(cleaned) else {
            throw fail("integer '\(RuleError.clip(text))' is out of the 64-bit range rules use", at: start)
        }
        return .integer(value)
    }

    /// `digits [. digits] [d [+-] digits]`: well formed even when too precise for `RuleNumber`, so
    /// that the compiler, not the reader, reports the precision.
    func isWellFormedDecimal(_ lower: [UInt8]) -> Bool {
        var position = 0
        var sawDigit = false
        while position < lower.count, lower[position] >= 0x30 && lower[position] <= 0x39 { position += 1; sawDigit = true }
        if position < lower.count, lower[position] == UInt8(ascii: ".") {
            position += 1
            while position < lower.count, lower[position] >= 0x30 && lower[position] <= 0x39 { position += 1; sawDigit = true }
        }
        guard sawDigit else { return false }
        if position < lower.count, lower[position] == UInt8(ascii: "d") {
            position += 1
            if position < lower.count, lower[position] == UInt8(ascii: "-") || lower[position] == UInt8(ascii: "+") { position += 1 }
            let exponentStart = position
            while position < lower.count, lower[position] >= 0x30 && lower[position] <= 0x39 { position += 1 }
            guard position > exponentStart else { return false }
        }
        return position == lower.count
    }

    /// The body of a quoted string or symbol after its opening quote(s), through the closing one(s).
    mutating func quoted(terminator: UInt8, long: Bool) throws(RuleSyntaxError) -> String {
        let start = index - (long ? 3 : 1) // the opening quote
        var scalars = String.UnicodeScalarView()
        var chunkStart = index
        func flush(_ end: Int) {
            scalars.append(contentsOf: String(decoding: bytes[chunkStart..<end], as: UTF8.self).unicodeScalars)
        }
        while true {
            guard let byte = peek() else { throw fail("unterminated \(long ? "long string" : "string")", at: start) }
            if long ? starts(with: "'''") : byte == terminator {
                flush(index)
                index += long ? 3 : 1
                return String(scalars)
            }
            if !long && (byte == 0x0A || byte == 0x0D) { throw fail("line break inside a string (use \\n or a long string)") }
            if byte == UInt8(ascii: "\\") {
                flush(index)
                index += 1
                if let scalar = try escape() { scalars.append(scalar) }
                chunkStart = index
                continue
            }
            index += 1
        }
    }

    /// The escape after a backslash (consumed); nil for a line continuation.
    mutating func escape() throws(RuleSyntaxError) -> Unicode.Scalar? {
        guard let byte = peek() else { throw fail("unterminated escape") }
        index += 1
        switch byte {
        case UInt8(ascii: "n"): return "\n"
        case UInt8(ascii: "t"): return "\t"
        case UInt8(ascii: "r"): return "\r"
        case UInt8(ascii: "f"): return "\u{0C}"
        case UInt8(ascii: "v"): return "\u{0B}"
        case UInt8(ascii: "a"): return "\u{07}"
        case UInt8(ascii: "b"): return "\u{08}"
        case UInt8(ascii: "0"): return "\u{00}"
        case UInt8(ascii: "\""), UInt8(ascii: "'"), UInt8(ascii: "?"), UInt8(ascii: "\\"), UInt8(ascii: "/"):
            return Unicode.Scalar(byte)
        case UInt8(ascii: "x"): return try hexEscape(2)
        case UInt8(ascii: "u"): return try hexEscape(4)
        case UInt8(ascii: "U"): return try hexEscape(8)
        case 0x0A: return nil
        case 0x0D:
            if peek() == 0x0A { index += 1 }
            return nil
        default:
            throw fail("unknown escape '\\\(Unicode.Scalar(byte))'", at: index - 2)
        }
    }

    mutating func hexEscape(_ count: Int) throws(RuleSyntaxError) -> Unicode.Scalar {
        var value: UInt32 = 0
        for _ in 0..<count {
            guard let byte = peek(), let digit = hexDigitValue(byte) else { throw fail("expected \(count) hexadecimal digits in an escape") }
            value = value << 4 | digit
            index += 1
        }
        guard let scalar = Unicode.Scalar(value) else { throw fail("escape is not a Unicode scalar (a surrogate or beyond U+10FFFF)") }
        return scalar
    }

    func hexDigitValue(_ byte: UInt8) -> UInt32? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt32(byte - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt32(byte - UInt8(ascii: "A") + 10)
        default: nil
        }
    }
}
