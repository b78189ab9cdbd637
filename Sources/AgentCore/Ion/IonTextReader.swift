/// Ion 1.0 text: a recursive-descent reader over UTF-8 bytes.
///
/// The input is validated as UTF-8 first, so string contents can be copied byte for byte. Each
/// container level costs two stack frames, bounded by `IonLimits.maxDepth`.
struct IonTextReader {
    private enum Context { case topLevel, list, sexp, structField }

    private let bytes: [UInt8]
    private let catalog: IonCatalog
    private let limits: IonLimits
    private let maxDepth: Int
    private var position = 0
    private var table = IonSymbolTable.system
    private var totalValues = 0
    /// Whether the symbol value just read was an unquoted identifier other than `$N`: only those
    /// can be version markers (`'$ion_1_0'` and `$2` are symbol values).
    private var lastSymbolWasIdentifier = false

    init(bytes: [UInt8], catalog: IonCatalog, limits: IonLimits) {
        self.bytes = bytes
        self.catalog = catalog
        self.limits = limits
        self.maxDepth = limits.effectiveMaxDepth
    }

    mutating func readAll() throws(IonError) -> [IonValue] {
        if let bad = IonUTF8.firstInvalidByte(bytes) {
            throw IonError.malformed("text is not valid UTF-8", at: bad)
        }
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { position = 3 }  // a UTF-8 byte order mark
        var values: [IonValue] = []
        while true {
            try skipTrivia()
            guard position < bytes.count else { break }
            let start = position
            lastSymbolWasIdentifier = false
            let value = try readValue(.topLevel, depth: 0)
            if value.annotations.isEmpty, lastSymbolWasIdentifier, case .symbol(.text(let text)) = value.content,
               Self.isVersionMarker(text) {
                guard text == "$ion_1_0" else {
                    throw IonError(.unsupportedVersion, "unsupported Ion version marker \(text)", at: start)
                }
                table = .system
                continue
            }
            if IonSymbolTable.isLocalSymbolTable(value) {
                try table.apply(localTable: value, catalog: catalog, limits: limits, offset: start)
                continue
            }
            guard values.count < limits.maxContainerElements else {
                throw IonError.limit("more than \(limits.maxContainerElements) top-level values", at: start)
            }
            values.append(value)
        }
        return values
    }

    /// `$ion_<major>_<minor>`.
    private static func isVersionMarker(_ text: String) -> Bool {
        let utf8 = Array(text.utf8)
        guard utf8.starts(with: Array("$ion_".utf8)) else { return false }
        let rest = utf8.dropFirst(5).split(separator: UInt8(ascii: "_"), omittingEmptySubsequences: false)
        return rest.count == 2 && rest.allSatisfy { !$0.isEmpty && $0.allSatisfy(IonChar.isDigit) }
    }

    // MARK: - Cursor

    private func peek(_ ahead: Int = 0) -> UInt8? {
        let index = position + ahead
        return index < bytes.count ? bytes[index] : nil
    }

    private func peekIs(_ ascii: Unicode.Scalar, _ ahead: Int = 0) -> Bool {
        peek(ahead) == UInt8(ascii: ascii)
    }

    private func startsTripleQuote(at index: Int) -> Bool {
        index + 2 < bytes.count && bytes[index] == 0x27 && bytes[index + 1] == 0x27 && bytes[index + 2] == 0x27
    }

    /// Skips whitespace and comments.
    private mutating func skipTrivia() throws(IonError) {
        while let byte = peek() {
            if IonChar.isWhitespace(byte) {
                position += 1
            } else if byte == UInt8(ascii: "/"), peekIs("/", 1) {
                position += 2
                while let next = peek(), next != 0x0A, next != 0x0D { position += 1 }
            } else if byte == UInt8(ascii: "/"), peekIs("*", 1) {
                let start = position
                position += 2
                while true {
                    guard let next = peek() else { throw IonError.malformed("unterminated /* comment", at: start) }
                    if next == UInt8(ascii: "*"), peekIs("/", 1) {
                        position += 2
                        break
                    }
                    position += 1
                }
            } else {
                return
            }
        }
    }

    /// After an annotation-capable symbol: consumes `::` (and the trivia before it) if present.
    private mutating func consumeAnnotationSeparator() throws(IonError) -> Bool {
        let saved = position
        try skipTrivia()
        if peekIs(":"), peekIs(":", 1) {
            position += 2
            return true
        }
        position = saved
        return false
    }

    private mutating func countValue(at offset: Int) throws(IonError) {
        totalValues += 1
        guard totalValues <= limits.maxTotalValues else {
            throw IonError.limit("more than \(limits.maxTotalValues) values", at: offset)
        }
    }

    private func resolve(_ sid: Int?, at offset: Int) throws(IonError) -> IonSymbol {
        guard let sid, let symbol = table.resolve(sid) else {
            throw IonError(.symbolOutOfRange, "symbol ID beyond the symbol table's max ID \(table.maxSID)", at: offset)
        }
        return symbol
    }

    // MARK: - Values

    private mutating func readValue(_ context: Context, depth: Int) throws(IonError) -> IonValue {
        var annotations: [IonSymbol] = []
        while true {
            try skipTrivia()
            let start = position
            guard let byte = peek() else {
                throw IonError.malformed(annotations.isEmpty ? "value expected" : "annotation without a value", at: start)
            }
            var content: IonValue.Content
            switch byte {
            case UInt8(ascii: "{"):
                if peekIs("{", 1) {
                    content = try readLob()
                } else {
                    content = .struct(try readStruct(depth: depth))
                }
            case UInt8(ascii: "["):
                content = .list(try readSequence(close: UInt8(ascii: "]"), depth: depth))
            case UInt8(ascii: "("):
                content = .sexp(try readSequence(close: UInt8(ascii: ")"), depth: depth))
            case UInt8(ascii: "\""):
                content = .string(String(decoding: try readQuoted(forClob: false), as: UTF8.self))
            case UInt8(ascii: "'"):
                if startsTripleQuote(at: position) {
                    content = .string(String(decoding: try readLongStrings(forClob: false), as: UTF8.self))
                } else {
                    let text = String(decoding: try readQuoted(forClob: false), as: UTF8.self)
                    if try consumeAnnotationSeparator() {
                        try countValue(at: start)  // annotations count toward maxTotalValues
                        annotations.append(.text(text))
                        continue
                    }
                    lastSymbolWasIdentifier = false
                    content = .symbol(.text(text))
                }
            case _ where IonChar.isIdentifierStart(byte):
                let identifier = readIdentifier()
                if let keyword = try keywordValue(identifier, at: start) {
                    content = keyword
                } else {
                    let symbol: IonSymbol
                    let isID = Self.isSymbolID(identifier)
                    if isID {
                        symbol = try resolve(Self.symbolID(identifier), at: start)
                    } else {
                        symbol = .text(String(decoding: identifier, as: UTF8.self))
                    }
                    if try consumeAnnotationSeparator() {
                        try countValue(at: start)
                        annotations.append(symbol)
                        continue
                    }
                    lastSymbolWasIdentifier = !isID
                    content = .symbol(symbol)
                }
            case _ where IonChar.isDigit(byte):
                content = try readNumeric()
            case UInt8(ascii: "-"), UInt8(ascii: "+"):
                if byte == UInt8(ascii: "-"), let next = peek(1), IonChar.isDigit(next) {
                    content = try readNumeric()
                } else if peekIs("i", 1), peekIs("n", 2), peekIs("f", 3), isStop(at: position + 4) {
                    position += 4
                    content = .float(byte == UInt8(ascii: "-") ? -.infinity : .infinity)
                } else if context == .sexp {
                    content = .symbol(.text(readOperator()))
                } else {
                    throw IonError.malformed("unexpected '\(Character(Unicode.Scalar(byte)))'", at: start)
                }
            case _ where context == .sexp && IonChar.isOperator(byte):
                content = .symbol(.text(readOperator()))
            default:
                throw IonError.malformed("unexpected \(Self.describe(byte))", at: start)
            }
            try countValue(at: start)
            return IonValue(content, annotations: annotations)
        }
    }

    private static func describe(_ byte: UInt8) -> String {
        byte >= 0x21 && byte < 0x7F ? "'\(Character(Unicode.Scalar(byte)))'" : "byte 0x\(hex(byte))"
    }

    private mutating func readIdentifier() -> ArraySlice<UInt8> {
        let start = position
        position += 1
        while let byte = peek(), IonChar.isIdentifierPart(byte) { position += 1 }
        return bytes[start..<position]
    }

    private static func isSymbolID(_ identifier: ArraySlice<UInt8>) -> Bool {
        identifier.count > 1 && identifier.first == UInt8(ascii: "$") && identifier.dropFirst().allSatisfy(IonChar.isDigit)
    }

    /// The ID of `$N`, or nil when it is too large to be any table's.
    private static func symbolID(_ identifier: ArraySlice<UInt8>) -> Int? {
        let digits = identifier.dropFirst().drop { $0 == UInt8(ascii: "0") }
        guard digits.count <= 18 else { return nil }
        var value = 0
        for digit in digits { value = value * 10 + Int(digit - UInt8(ascii: "0")) }
        return value
    }

    /// `null`, `null.type`, `true`, `false`, `nan`; nil for any other identifier.
    private mutating func keywordValue(_ identifier: ArraySlice<UInt8>, at start: Int) throws(IonError) -> IonValue.Content? {
        switch String(decoding: identifier, as: UTF8.self) {
        case "true": return .bool(true)
        case "false": return .bool(false)
        case "nan": return .float(.nan)
        case "null":
            guard peekIs(".") else { return .null(.null) }
            position += 1
            guard let next = peek(), IonChar.isIdentifierStart(next) else {
                throw IonError.malformed("null. must be followed by a type name", at: start)
            }
            let name = String(decoding: readIdentifier(), as: UTF8.self)
            guard let type = IonType(rawValue: name) else {
                throw IonError.malformed("unknown null type null.\(name)", at: start)
            }
            return .null(type)
        default:
            return nil
        }
    }

    private mutating func readOperator() -> String {
        let start = position
        while let byte = peek(), IonChar.isOperator(byte) { position += 1 }
        return String(decoding: bytes[start..<position], as: UTF8.self)
    }

    // MARK: - Containers

    private mutating func readSequence(close: UInt8, depth: Int) throws(IonError) -> [IonValue] {
        let start = position
        guard depth < maxDepth else { throw IonError.limit("nesting deeper than \(maxDepth)", at: start) }
        let isList = close == UInt8(ascii: "]")
        position += 1
        var elements: [IonValue] = []
        while true {
            try skipTrivia()
            guard let byte = peek() else {
                throw IonError.malformed(isList ? "unterminated list" : "unterminated s-expression", at: start)
            }
            if byte == close {
                position += 1
                return elements
            }
            guard elements.count < limits.maxContainerElements else {
                throw IonError.limit("container with more than \(limits.maxContainerElements) elements", at: start)
            }
            elements.append(try readValue(isList ? .list : .sexp, depth: depth + 1))
            if isList {
                try skipTrivia()
                if peekIs(",") {
                    position += 1
                } else if !peekIs("]") {
                    throw IonError.malformed(peek() == nil ? "unterminated list" : "expected ',' or ']' in list", at: position)
                }
            }
        }
    }

    private mutating func readStruct(depth: Int) throws(IonError) -> [IonField] {
        let start = position
        guard depth < maxDepth else { throw IonError.limit("nesting deeper than \(maxDepth)", at: start) }
        position += 1
        var fields: [IonField] = []
        while true {
            try skipTrivia()
            let nameStart = position
            guard let byte = peek() else { throw IonError.malformed("unterminated struct", at: start) }
            if byte == UInt8(ascii: "}") {
                position += 1
                return fields
            }
            let name: IonSymbol
            if byte == UInt8(ascii: "\"") {
                name = .text(String(decoding: try readQuoted(forClob: false), as: UTF8.self))
            } else if byte == UInt8(ascii: "'") {
                let text = startsTripleQuote(at: position) ? try readLongStrings(forClob: false) : try readQuoted(forClob: false)
                name = .text(String(decoding: text, as: UTF8.self))
            } else if IonChar.isIdentifierStart(byte) {
                let identifier = readIdentifier()
                let text = String(decoding: identifier, as: UTF8.self)
                if ["null", "true", "false", "nan"].contains(text) {
                    throw IonError.malformed("keyword \(text) cannot be a field name; quote it", at: nameStart)
                }
                name = Self.isSymbolID(identifier) ? try resolve(Self.symbolID(identifier), at: nameStart) : .text(text)
            } else {
                throw IonError.malformed("field name expected in struct", at: nameStart)
            }
            try skipTrivia()
            guard peekIs(":"), !peekIs(":", 1) else {
                throw IonError.malformed("expected ':' after field name", at: position)
            }
            position += 1
            guard fields.count < limits.maxContainerElements else {
                throw IonError.limit("struct with more than \(limits.maxContainerElements) fields", at: start)
            }
            fields.append(IonField(name: name, value: try readValue(.structField, depth: depth + 1)))
            try skipTrivia()
            if peekIs(",") {
                position += 1
            } else if !peekIs("}") {
                throw IonError.malformed(peek() == nil ? "unterminated struct" : "expected ',' or '}' in struct", at: position)
            }
        }
    }

    // MARK: - Strings, symbols, lobs

    /// A `"…"` string or `'…'` symbol (by the quote at `position`): its UTF-8 bytes, or for a clob
    /// its octets.
    private mutating func readQuoted(forClob: Bool) throws(IonError) -> [UInt8] {
        let start = position
        let quote = bytes[position]
        position += 1
        var out: [UInt8] = []
        while true {
            guard let byte = peek() else { throw IonError.malformed("unterminated quoted text", at: start) }
            if byte == quote {
                position += 1
                return out
            }
            if byte == UInt8(ascii: "\\") {
                try readEscape(into: &out, forClob: forClob)
                continue
            }
            if byte == 0x0A || byte == 0x0D {
                throw IonError.malformed("newline in a quoted string or symbol; use ''' or \\n", at: position)
            }
            try checkRawByte(byte, forClob: forClob)
            out.append(byte)
            position += 1
        }
    }

    /// One or more `'''…'''` segments separated only by whitespace and comments (or, in a clob,
    /// whitespace), concatenated.
    private mutating func readLongStrings(forClob: Bool) throws(IonError) -> [UInt8] {
        var out: [UInt8] = []
        while true {
            let start = position
            position += 3
            segment: while true {
                guard let byte = peek() else { throw IonError.malformed("unterminated ''' string", at: start) }
                switch byte {
                case 0x27 where startsTripleQuote(at: position):
                    position += 3
                    break segment
                case UInt8(ascii: "\\"):
                    try readEscape(into: &out, forClob: forClob)
                case 0x0D:  // CR LF and lone CR both read as LF
                    position += peekIs("\n", 1) ? 2 : 1
                    out.append(0x0A)
                case 0x0A:
                    position += 1
                    out.append(0x0A)
                default:
                    try checkRawByte(byte, forClob: forClob)
                    out.append(byte)
                    position += 1
                }
            }
            let saved = position
            if forClob {
                skipWhitespace()
            } else {
                try skipTrivia()
            }
            if !startsTripleQuote(at: position) {
                position = saved
                return out
            }
        }
    }

    private func checkRawByte(_ byte: UInt8, forClob: Bool) throws(IonError) {
        if byte < 0x20, byte != 0x09, byte != 0x0B, byte != 0x0C {
            throw IonError.malformed("control character 0x\(hex(byte)) must be escaped", at: position)
        }
        if forClob, byte >= 0x80 {
            throw IonError.malformed("clob text must be ASCII; escape bytes as \\xHH", at: position)
        }
    }

    private mutating func readHex(count: Int) throws(IonError) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<count {
            guard let byte = peek(), let digit = IonChar.hexValue(byte) else {
                throw IonError.malformed("escape needs \(count) hex digits", at: position)
            }
            value = value << 4 | UInt32(digit)
            position += 1
        }
        return value
    }

    private mutating func readEscape(into out: inout [UInt8], forClob: Bool) throws(IonError) {
        let start = position
        position += 1  // the backslash
        guard let byte = peek() else { throw IonError.malformed("unterminated escape", at: start) }
        position += 1
        let simple: UInt8?
        switch byte {
        case UInt8(ascii: "a"): simple = 0x07
        case UInt8(ascii: "b"): simple = 0x08
        case UInt8(ascii: "t"): simple = 0x09
        case UInt8(ascii: "n"): simple = 0x0A
        case UInt8(ascii: "f"): simple = 0x0C
        case UInt8(ascii: "r"): simple = 0x0D
        case UInt8(ascii: "v"): simple = 0x0B
        case UInt8(ascii: "0"): simple = 0x00
        case UInt8(ascii: "\""), UInt8(ascii: "'"), UInt8(ascii: "?"), UInt8(ascii: "\\"), UInt8(ascii: "/"):
            simple = byte
        case 0x0A:
            return  // escaped newline: a line continuation
        case 0x0D:
            if peekIs("\n") { position += 1 }
            return
        case UInt8(ascii: "x"):
            let value = try readHex(count: 2)
            if forClob {
                out.append(UInt8(value))
            } else {
                appendScalar(value, to: &out)
            }
            return
        case UInt8(ascii: "u"), UInt8(ascii: "U"):
            guard !forClob else { throw IonError.malformed("\\u escapes are not allowed in a clob", at: start) }
            var value = try readHex(count: byte == UInt8(ascii: "u") ? 4 : 8)
            if byte == UInt8(ascii: "u"), (0xD800...0xDBFF).contains(value) {
                // A UTF-16 surrogate pair written as two \u escapes.
                guard peekIs("\\"), peekIs("u", 1) else {
                    throw IonError.malformed("unpaired surrogate in \\u escape", at: start)
                }
                position += 2
                let low = try readHex(count: 4)
                guard (0xDC00...0xDFFF).contains(low) else {
                    throw IonError.malformed("unpaired surrogate in \\u escape", at: start)
                }
                value = 0x10000 + ((value - 0xD800) << 10) + (low - 0xDC00)
            }
            guard Unicode.Scalar(value) != nil else {
                throw IonError.malformed("escape is not a Unicode scalar value", at: start)
            }
            appendScalar(value, to: &out)
            return
        default:
            throw IonError.malformed("invalid escape \\\(Character(Unicode.Scalar(byte)))", at: start)
        }
        if let simple { out.append(simple) }
    }

    private func appendScalar(_ value: UInt32, to out: inout [UInt8]) {
        guard let scalar = Unicode.Scalar(value) else { return }
        out.append(contentsOf: Array(String(Character(scalar)).utf8))
    }

    private mutating func skipWhitespace() {
        while let byte = peek(), IonChar.isWhitespace(byte) { position += 1 }
    }

    /// `{{ … }}`: a clob (one short string or long strings) or base64 blob.
    private mutating func readLob() throws(IonError) -> IonValue.Content {
        let start = position
        position += 2
        skipWhitespace()
        let content: IonValue.Content
        if peekIs("\"") {
            content = .clob(try readQuoted(forClob: true))
        } else if startsTripleQuote(at: position) {
            content = .clob(try readLongStrings(forClob: true))
        } else {
            content = .blob(try readBase64(start: start))
        }
        skipWhitespace()
        guard peekIs("}"), peekIs("}", 1) else { throw IonError.malformed("expected }} to close the lob", at: position) }
        position += 2
        return content
    }

    private mutating func readBase64(start: Int) throws(IonError) -> [UInt8] {
        var sextets: [UInt8] = []
        var padding = 0
        while let byte = peek(), byte != UInt8(ascii: "}") {
            if IonChar.isWhitespace(byte) {
                position += 1
            } else if byte == UInt8(ascii: "=") {
                padding += 1
                guard padding <= 2 else { throw IonError.malformed("too much base64 padding", at: position) }
                position += 1
            } else if let value = IonChar.base64Value(byte), padding == 0 {
                sextets.append(value)
                position += 1
            } else {
                throw IonError.malformed("invalid base64 in blob", at: position)
            }
        }
        guard (sextets.count + padding) % 4 == 0, padding == 0 || sextets.count % 4 == 4 - padding else {
            throw IonError.malformed("base64 length is not a multiple of 4", at: start)
        }
        var out: [UInt8] = []
        out.reserveCapacity(sextets.count * 3 / 4)
        var index = 0
        while index + 1 < sextets.count {
            let a = UInt32(sextets[index])
            let b = UInt32(sextets[index + 1])
            let c = index + 2 < sextets.count ? UInt32(sextets[index + 2]) : 0
            let d = index + 3 < sextets.count ? UInt32(sextets[index + 3]) : 0
            let group = a << 18 | b << 12 | c << 6 | d
            out.append(UInt8(truncatingIfNeeded: group >> 16))
            if index + 2 < sextets.count { out.append(UInt8(truncatingIfNeeded: group >> 8)) }
            if index + 3 < sextets.count { out.append(UInt8(truncatingIfNeeded: group)) }
            index += 4
        }
        return out
    }

    // MARK: - Numbers and timestamps

    /// A number or timestamp must end at whitespace, a delimiter, a quote, a comment or the end.
    private func isStop(at index: Int) -> Bool {
        guard index < bytes.count else { return true }
        let byte = bytes[index]
        if IonChar.isWhitespace(byte) { return true }
        switch byte {
        case UInt8(ascii: ","), UInt8(ascii: "\""), UInt8(ascii: "'"), UInt8(ascii: "("), UInt8(ascii: ")"),
             UInt8(ascii: "["), UInt8(ascii: "]"), UInt8(ascii: "{"), UInt8(ascii: "}"):
            return true
        case UInt8(ascii: "/"):
            return index + 1 < bytes.count && (bytes[index + 1] == UInt8(ascii: "/") || bytes[index + 1] == UInt8(ascii: "*"))
        default:
            return false
        }
    }

    private mutating func readNumeric() throws(IonError) -> IonValue.Content {
        let start = position
        var end = position
        while end < bytes.count, IonChar.isNumericPart(bytes[end]) { end += 1 }
        guard isStop(at: end) else {
            throw IonError.malformed("number or timestamp followed by \(Self.describe(bytes[end]))", at: start)
        }
        position = end
        let run = bytes[start..<end]
        if run.count >= 5, run.prefix(4).allSatisfy(IonChar.isDigit),
           run[start + 4] == UInt8(ascii: "-") || run[start + 4] == UInt8(ascii: "T") {
            guard let timestamp = IonTextTimestamp.parse(run) else {
                throw IonError.malformed("invalid timestamp", at: start)
            }
            return .timestamp(timestamp)
        }
        return try IonTextNumber.parse(run, limits: limits, at: start)
    }
}

/// Byte classes of the Ion text grammar.
enum IonChar {
    static func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }

    static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D || byte == 0x0B || byte == 0x0C
    }

    static func isLetter(_ byte: UInt8) -> Bool { (byte | 0x20) >= 0x61 && (byte | 0x20) <= 0x7A }

    static func isIdentifierStart(_ byte: UInt8) -> Bool {
        isLetter(byte) || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "$")
    }

    static func isIdentifierPart(_ byte: UInt8) -> Bool { isIdentifierStart(byte) || isDigit(byte) }

    static func isOperator(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "%"), UInt8(ascii: "&"), UInt8(ascii: "*"),
             UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "/"), UInt8(ascii: ";"),
             UInt8(ascii: "<"), UInt8(ascii: "="), UInt8(ascii: ">"), UInt8(ascii: "?"), UInt8(ascii: "@"),
             UInt8(ascii: "^"), UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    /// Characters a number or timestamp token can contain (it is validated after).
    static func isNumericPart(_ byte: UInt8) -> Bool {
        isDigit(byte) || isLetter(byte) || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".")
            || byte == UInt8(ascii: ":") || byte == UInt8(ascii: "+") || byte == UInt8(ascii: "-")
    }

    static func hexValue(_ byte: UInt8) -> UInt8? {
        if isDigit(byte) { return byte - 0x30 }
        let lower = byte | 0x20
        if lower >= 0x61 && lower <= 0x66 { return lower - 0x61 + 10 }
        return nil
    }

    static func base64Value(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x41...0x5A: return byte - 0x41
        case 0x61...0x7A: return byte - 0x61 + 26
        case 0x30...0x39: return byte - 0x30 + 52
        case UInt8(ascii: "+"): return 62
        case UInt8(ascii: "/"): return 63
        default: return nil
        }
    }
}

/// Strict UTF-8 validation that reports where the first bad byte is.
enum IonUTF8 {
    static func firstInvalidByte(_ bytes: [UInt8]) -> Int? {
        var index = 0
        let count = bytes.count
        while index < count {
            let lead = bytes[index]
            if lead < 0x80 {
                index += 1
                continue
            }
            let length: Int
            var lowerBound: UInt8 = 0x80
            var upperBound: UInt8 = 0xBF
            switch lead {
            case 0xC2...0xDF: length = 2
            case 0xE0: length = 3; lowerBound = 0xA0
            case 0xE1...0xEC, 0xEE...0xEF: length = 3
            case 0xED: length = 3; upperBound = 0x9F  // no surrogates
            case 0xF0: length = 4; lowerBound = 0x90
            case 0xF1...0xF3: length = 4
            case 0xF4: length = 4; upperBound = 0x8F  // nothing past U+10FFFF
            default: return index
            }
            guard count - index >= length else { return index }
            let second = bytes[index + 1]
            guard second >= lowerBound, second <= upperBound else { return index }
            for offset in 2..<max(2, length) where bytes[index + offset] & 0xC0 != 0x80 {
                return index
            }
            index += length
        }
        return nil
    }
}
