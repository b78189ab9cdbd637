import Testing
@testable import AgentCore

private func scan(_ text: String, maximumDepth: Int = JSONObjectScanner.defaultMaximumDepth) throws(JSONScanError) -> [JSONMember] {
    try JSONObjectScanner.members(of: Array(text.utf8), maximumDepth: maximumDepth)
}

private func text(_ bytes: [UInt8], _ range: Range<Int>) -> String {
    String(decoding: bytes[range], as: UTF8.self)
}

/// The error a document raises, or nil when it is accepted.
private func scanError(_ bytes: [UInt8], maximumDepth: Int = JSONObjectScanner.defaultMaximumDepth) -> JSONScanError? {
    do {
        _ = try JSONObjectScanner.members(of: bytes, maximumDepth: maximumDepth)
        return nil
    } catch {
        return error
    }
}

private func isInvalid(_ error: JSONScanError?) -> Bool {
    if case .invalid = error { return true }
    return false
}

struct JSONObjectScannerTests {
    @Test func membersComeInDocumentOrderWithRawKeyAndValueRanges() throws {
        let document = #"{"b":1,"a":"x","c":null}"#
        let bytes = Array(document.utf8)
        let members = try scan(document)
        #expect(members.map(\.key) == ["b", "a", "c"])
        #expect(members.map { text(bytes, $0.keyRange) } == [#""b""#, #""a""#, #""c""#])
        #expect(members.map { text(bytes, $0.valueRange) } == ["1", #""x""#, "null"])
    }

    @Test func valueRangeKeepsInnerWhitespaceAndExcludesOuterWhitespace() throws {
        let document = "\r\n\t { \"flag\" \n:\t {\"enabled\" : true,\n  \"attr\":[ 1 , 2 ]}  \n} \n"
        let bytes = Array(document.utf8)
        let members = try scan(document)
        #expect(members.count == 1)
        #expect(text(bytes, members[0].keyRange) == "\"flag\"")
        #expect(text(bytes, members[0].valueRange) == "{\"enabled\" : true,\n  \"attr\":[ 1 , 2 ]}")
    }

    @Test func numbersAreValidatedButKeptVerbatim() throws {
        let document = #"{"a":1.0e+10,"b":-0,"c":0.50E-003,"d":123456789012345678901234567890,"e":-0.0}"#
        let bytes = Array(document.utf8)
        let values = try scan(document).map { text(bytes, $0.valueRange) }
        #expect(values == ["1.0e+10", "-0", "0.50E-003", "123456789012345678901234567890", "-0.0"])
    }

    @Test func escapesInKeysAreDecoded() throws {
        let members = try scan(#"{"q\"b\\s\/f\bg\fn\nr\rt\t":1,"caf\u00e9":2,"\u00E9t\u00e9":3}"#)
        #expect(members.map(\.key) == ["q\"b\\s/f\u{8}g\u{c}n\nr\rt\t", "café", "été"])
    }

    @Test func surrogatePairInKeyIsResolvedAndKeyRangeStaysRaw() throws {
        let document = #"{"smile\ud83d\ude00":true}"#
        let bytes = Array(document.utf8)
        let members = try scan(document)
        #expect(members.first?.key == "smile😀")
        #expect(members.first.map { text(bytes, $0.keyRange) } == #""smile\ud83d\ude00""#)
    }

    @Test func rawUnicodeInKeysAndValuesIsAccepted() throws {
        let document = #"{"日本":"ü€𝄞","ключ":{"ß":"😀"}}"#
        let bytes = Array(document.utf8)
        let members = try scan(document)
        #expect(members.map(\.key) == ["日本", "ключ"])
        #expect(members.map { text(bytes, $0.valueRange) } == [#""ü€𝄞""#, #"{"ß":"😀"}"#])
    }

    @Test func onlyTopLevelMembersAreReturnedFromNestedDocuments() throws {
        let document = #"{"outer":{"inner":{"deep":[1,{"x":[]},"s"]},"other":{}},"next":[]}"#
        let bytes = Array(document.utf8)
        let members = try scan(document)
        #expect(members.map(\.key) == ["outer", "next"])
        #expect(text(bytes, members[0].valueRange) == #"{"inner":{"deep":[1,{"x":[]},"s"]},"other":{}}"#)
        #expect(text(bytes, members[1].valueRange) == "[]")
    }

    @Test func duplicateKeysAreAllReportedInDocumentOrder() throws {
        let document = #"{"a":1,"b":2,"a":3}"#
        let bytes = Array(document.utf8)
        let members = try scan(document)
        #expect(members.map(\.key) == ["a", "b", "a"])
        #expect(text(bytes, members[2].valueRange) == "3")
    }

    @Test func emptyObjectHasNoMembers() throws {
        #expect(try scan(" { } ").isEmpty)
        #expect(try scan("{}").isEmpty)
    }

    @Test func stringEscapesInValuesAreAccepted() throws {
        let document = #"{"a":"\"\\\/\b\f\n\r\t\u0000\uFFFF\uD834\uDD1E"}"#
        let bytes = Array(document.utf8)
        let members = try scan(document)
        #expect(members.map { text(bytes, $0.valueRange) } == [#""\"\\\/\b\f\n\r\t\u0000\uFFFF\uD834\uDD1E""#])
    }

    @Test func bufferPointerEntryPointMatchesArrayEntryPoint() throws {
        let bytes = Array(#"{"k":[true,false]}"#.utf8)
        let viaPointer = try bytes.withUnsafeBytes { try JSONObjectScanner.members(of: $0) }
        #expect(viaPointer == (try JSONObjectScanner.members(of: bytes)))
        #expect(viaPointer.first?.valueRange == 5..<17)
    }

    static let invalidDocuments: [(String, [UInt8])] = [
        ("trailing comma in object", Array(#"{"a":1,}"#.utf8)),
        ("trailing comma in nested array", Array(#"{"a":[1,2,]}"#.utf8)),
        ("leading zero", Array(#"{"a":01}"#.utf8)),
        ("negative leading zero", Array(#"{"a":-012}"#.utf8)),
        ("plus sign", Array(#"{"a":+1}"#.utf8)),
        ("bare fraction", Array(#"{"a":.5}"#.utf8)),
        ("dot without digits", Array(#"{"a":1.}"#.utf8)),
        ("exponent without digits", Array(#"{"a":1e+}"#.utf8)),
        ("minus alone", Array(#"{"a":-}"#.utf8)),
        ("NaN", Array(#"{"a":NaN}"#.utf8)),
        ("Infinity", Array(#"{"a":Infinity}"#.utf8)),
        ("hex number", Array(#"{"a":0x10}"#.utf8)),
        ("bad escape", Array(#"{"a":"\x41"}"#.utf8)),
        ("bad escape in key", Array(#"{"\a":1}"#.utf8)),
        ("short unicode escape", Array(#"{"a":"\u12"}"#.utf8)),
        ("non-hex unicode escape", Array(#"{"a":"\u12G4"}"#.utf8)),
        ("lone high surrogate", Array(#"{"a":"\ud83d"}"#.utf8)),
        ("lone high surrogate in key", Array(#"{"\ud83dx":1}"#.utf8)),
        ("lone low surrogate", Array(#"{"\ude00":1}"#.utf8)),
        ("high surrogate then non-surrogate", Array(#"{"a":"\ud83d\u0041"}"#.utf8)),
        ("unterminated string", Array(#"{"a":"abc}"#.utf8)),
        ("unterminated key", Array(#"{"a"#.utf8)),
        ("raw newline in string", Array("{\"a\":\"line\nbreak\"}".utf8)),
        ("raw tab in key", Array("{\"a\tb\":1}".utf8)),
        ("NUL byte in string", [0x7B, 0x22, 0x61, 0x00, 0x22, 0x3A, 0x31, 0x7D]),
        ("unterminated object", Array(#"{"a":1"#.utf8)),
        ("unterminated nested array", Array(#"{"a":[1"#.utf8)),
        ("missing colon", Array(#"{"a" 1}"#.utf8)),
        ("missing value", Array(#"{"a":}"#.utf8)),
        ("missing comma", Array(#"{"a":1 "b":2}"#.utf8)),
        ("single-quoted key", Array("{'a':1}".utf8)),
        ("unquoted key", Array("{a:1}".utf8)),
        ("truncated literal", Array(#"{"a":tru}"#.utf8)),
        ("capitalised literal", Array(#"{"a":True}"#.utf8)),
        ("comment", Array("{\"a\":1 // note\n}".utf8)),
        ("trailing garbage", Array(#"{"a":1}x"#.utf8)),
        ("second top-level value", Array(#"{"a":1} {"b":2}"#.utf8)),
        ("trailing comma after object", Array(#"{"a":1},"#.utf8)),
        ("empty document", []),
        ("whitespace only", Array(" \n\t".utf8)),
        ("byte-order mark", [0xEF, 0xBB, 0xBF] + Array(#"{"a":1}"#.utf8)),
        ("invalid UTF-8 byte", Array(#"{"a":""#.utf8) + [0xFF] + Array(#""}"#.utf8)),
        ("overlong UTF-8", Array(#"{"a":""#.utf8) + [0xC0, 0xAF] + Array(#""}"#.utf8)),
        ("overlong three-byte UTF-8", Array(#"{"a":""#.utf8) + [0xE0, 0x80, 0xAF] + Array(#""}"#.utf8)),
        ("UTF-8 encoded surrogate", Array(#"{"a":""#.utf8) + [0xED, 0xA0, 0x80] + Array(#""}"#.utf8)),
        ("UTF-8 above U+10FFFF", Array(#"{"a":""#.utf8) + [0xF4, 0x90, 0x80, 0x80] + Array(#""}"#.utf8)),
        ("truncated UTF-8 in key", Array(#"{""#.utf8) + [0xE2, 0x82] + Array(#"":1}"#.utf8)),
        ("stray continuation byte", Array(#"{"a":""#.utf8) + [0x80] + Array(#""}"#.utf8)),
        ("non-ASCII byte outside strings", Array(#"{"a":1"#.utf8) + [0xC2, 0xA0] + Array("}".utf8)),
        ("invalid top-level array", Array("[1,]".utf8)),
    ]

    @Test(arguments: invalidDocuments)
    func invalidDocumentIsRefused(_ name: String, _ bytes: [UInt8]) {
        let error = scanError(bytes)
        #expect(isInvalid(error), "\(name): \(String(describing: error))")
    }

    @Test func errorNamesTheProblemAndItsOffset() {
        let error = scanError(Array(#"{"a":007}"#.utf8))
        #expect(error == .invalid(reason: "invalid number: leading zero", offset: 5))
        #expect(error?.description == "invalid number: leading zero at byte 5")
    }

    @Test(arguments: [("[1,2]", "an array"), (#""text""#, "a string"), ("12.5", "a number"), ("true", "a boolean"), ("null", "null")])
    func validNonObjectDocumentIsNotAnObject(_ document: String, _ kind: String) {
        #expect(scanError(Array(document.utf8)) == .notAnObject(found: kind))
    }

    @Test func nestingUpToTheBoundIsAccepted() throws {
        // The top-level object is depth 1, so 127 more levels reach the bound exactly.
        let document = "{\"a\":" + String(repeating: "[", count: 127) + String(repeating: "]", count: 127) + "}"
        #expect(try scan(document).count == 1)
    }

    @Test func nestingBeyondTheBoundIsRefused() {
        let document = "{\"a\":" + String(repeating: "[", count: 128) + String(repeating: "]", count: 128) + "}"
        #expect(scanError(Array(document.utf8)) == .invalid(reason: "nesting deeper than 128 levels", offset: 132))
    }

    @Test func smallerBoundIsHonoured() {
        #expect(scanError(Array(#"{"a":{"b":{}}}"#.utf8), maximumDepth: 2) != nil)
        #expect(scanError(Array(#"{"a":{"b":1}}"#.utf8), maximumDepth: 2) == nil)
    }

    @Test func hugeNestingFailsWithoutExhaustingTheStack() {
        let bytes = [UInt8](repeating: UInt8(ascii: "["), count: 1_000_000)
        #expect(isInvalid(scanError(bytes, maximumDepth: .max)))
        #expect(isInvalid(scanError(Array("{\"a\":".utf8) + bytes)))
    }
}
