/// A parsed XML element: local name (namespace prefix dropped), child elements and its own text.
///
/// Just enough XML for STS's query-protocol answers. Strict where it matters: tags must nest and match,
/// only the five predefined entities and numeric references are known, and a DOCTYPE (the door to
/// entity expansion) is refused. Attributes are checked for shape and dropped.
struct XMLElementTree: Sendable, Equatable {
    var name: String
    var children: [XMLElementTree] = []
    /// Character data directly inside this element (CDATA included), entities decoded.
    var text: String = ""

    /// The first child called `name`.
    func child(_ name: String) -> XMLElementTree? {
        children.first { $0.name == name }
    }

    /// The element reached by following `path` from here, one child name per step.
    func element(at path: [String]) -> XMLElementTree? {
        var current = self
        for step in path {
            guard let next = current.child(step) else { return nil }
            current = next
        }
        return current
    }

    /// The trimmed text of the element at `path`, nil when absent or empty.
    func value(at path: [String]) -> String? {
        guard let element = element(at: path) else { return nil }
        let text = SettingValueParsers.trimmed(element.text)
        return text.isEmpty ? nil : text
    }

    /// The first element called `name` anywhere below (depth-first), for error shapes that vary in nesting.
    func firstDescendant(named name: String) -> XMLElementTree? {
        for child in children {
            if child.name == name { return child }
            if let found = child.firstDescendant(named: name) { return found }
        }
        return nil
    }

    static let maximumDepth = 32

    /// The document's root element, or nil when `bytes` is not well-formed (in the subset described above).
    static func parse(_ bytes: [UInt8]) -> XMLElementTree? {
        var parser = XMLTreeParser(bytes: bytes)
        return parser.document()
    }
}

private struct XMLTreeParser {
    let bytes: [UInt8]
    var position = 0

    init(bytes: [UInt8]) {
        self.bytes = bytes
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { position = 3 }
    }

    mutating func document() -> XMLElementTree? {
        guard skipMisc() else { return nil }
        guard peek(UInt8(ascii: "<")) else { return nil }
        guard let root = element(depth: 1) else { return nil }
        guard skipMisc(), position == bytes.count else { return nil }
        return root
    }

    // MARK: Pieces

    /// White space, comments and processing instructions (the XML declaration among them).
    mutating func skipMisc() -> Bool {
        while true {
            skipWhitespace()
            if starts("<!--") {
                guard skipComment() else { return false }
            } else if starts("<?") {
                guard skip(past: "?>") else { return false }
            } else if starts("<!") {
                return false // DOCTYPE or anything else declarative: refused
            } else {
                return true
            }
        }
    }

    mutating func element(depth: Int) -> XMLElementTree? {
        guard depth <= XMLElementTree.maximumDepth, take(UInt8(ascii: "<")), let qualified = name() else { return nil }
        var node = XMLElementTree(name: localName(qualified))

        // Attributes: name="value" or name='value', kept to their shape and dropped.
        while true {
            let hadSpace = skipWhitespace()
            if take(UInt8(ascii: ">")) { break }
            if starts("/>") { position += 2; return node }
            guard hadSpace, name() != nil else { return nil }
            skipWhitespace()
            guard take(UInt8(ascii: "=")) else { return nil }
            skipWhitespace()
            guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") || bytes[position] == UInt8(ascii: "'") else { return nil }
            let quote = bytes[position]
            position += 1
            guard let end = bytes[position...].firstIndex(of: quote) else { return nil }
            guard !bytes[position..<end].contains(UInt8(ascii: "<")) else { return nil }
            position = end + 1
        }

        // Content.
        var text: [UInt8] = []
        while true {
            guard position < bytes.count else { return nil }
            if starts("</") {
                position += 2
                guard let closing = name(), closing == qualified else { return nil }
                skipWhitespace()
                guard take(UInt8(ascii: ">")) else { return nil }
                node.text = String(decoding: text, as: UTF8.self)
                return node
            } else if starts("<!--") {
                guard skipComment() else { return nil }
            } else if starts("<![CDATA[") {
                position += 9
                guard let end = find("]]>") else { return nil }
                text.append(contentsOf: bytes[position..<end])
                position = end + 3
            } else if starts("<?") {
                guard skip(past: "?>") else { return nil }
            } else if starts("<!") {
                return nil
            } else if peek(UInt8(ascii: "<")) {
                guard let child = element(depth: depth + 1) else { return nil }
                node.children.append(child)
            } else if take(UInt8(ascii: "&")) {
                guard let decoded = entity() else { return nil }
                text.append(contentsOf: decoded)
            } else {
                text.append(bytes[position])
                position += 1
            }
        }
    }

    /// After `&`: `lt;` `gt;` `amp;` `quot;` `apos;` `#NN;` `#xHH;` as UTF-8 bytes.
    mutating func entity() -> [UInt8]? {
        guard let semicolon = bytes[position...].prefix(12).firstIndex(of: UInt8(ascii: ";")) else { return nil }
        let reference = String(decoding: bytes[position..<semicolon], as: UTF8.self)
        position = semicolon + 1
        switch reference {
        case "lt": return [UInt8(ascii: "<")]
        case "gt": return [UInt8(ascii: ">")]
        case "amp": return [UInt8(ascii: "&")]
        case "quot": return [UInt8(ascii: "\"")]
        case "apos": return [UInt8(ascii: "'")]
        default:
            guard reference.hasPrefix("#") else { return nil }
            let digits = reference.dropFirst()
            let value: UInt32?
            if digits.hasPrefix("x") || digits.hasPrefix("X") {
                value = UInt32(digits.dropFirst(), radix: 16)
            } else {
                value = UInt32(digits, radix: 10)
            }
            guard let value, value != 0, let scalar = Unicode.Scalar(value) else { return nil }
            return Array(String(Character(scalar)).utf8)
        }
    }

    /// An XML name (ASCII subset plus any non-ASCII byte), possibly prefixed (`ns:Name`).
    mutating func name() -> String? {
        let start = position
        while position < bytes.count {
            let b = bytes[position]
            let isNameByte = SettingValueParsers.isASCIIAlphanumeric(b) || b == UInt8(ascii: "_") || b == UInt8(ascii: ":")
                || b == UInt8(ascii: "-") || b == UInt8(ascii: ".") || b >= 0x80
            guard isNameByte else { break }
            position += 1
        }
        guard position > start else { return nil }
        let first = bytes[start]
        guard !(first >= UInt8(ascii: "0") && first <= UInt8(ascii: "9")), first != UInt8(ascii: "-"), first != UInt8(ascii: ".") else { return nil }
        return String(decoding: bytes[start..<position], as: UTF8.self)
    }

    func localName(_ qualified: String) -> String {
        guard let colon = qualified.lastIndex(of: ":") else { return qualified }
        return String(qualified[qualified.index(after: colon)...])
    }

    mutating func skipComment() -> Bool {
        position += 4
        guard let end = find("-->") else { return false }
        position = end + 3
        return true
    }

    mutating func skip(past marker: String) -> Bool {
        guard let end = find(marker) else { return false }
        position = end + marker.utf8.count
        return true
    }

    /// Where `marker` next starts, at or after the current position.
    func find(_ marker: String) -> Int? {
        let pattern = Array(marker.utf8)
        guard let range = bytes[position...].firstRange(of: pattern) else { return nil }
        return range.lowerBound
    }

    @discardableResult
    mutating func skipWhitespace() -> Bool {
        let start = position
        while position < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[position]) { position += 1 }
        return position > start
    }

    func starts(_ marker: String) -> Bool {
        bytes[position...].starts(with: marker.utf8)
    }

    func peek(_ byte: UInt8) -> Bool {
        position < bytes.count && bytes[position] == byte
    }

    mutating func take(_ byte: UInt8) -> Bool {
        guard peek(byte) else { return false }
        position += 1
        return true
    }
}
