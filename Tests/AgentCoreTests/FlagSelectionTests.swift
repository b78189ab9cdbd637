import Testing
@testable import AgentCore

private func body(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

private func selectionError(_ document: String, _ names: [String]) -> FlagSelectionError? {
    do {
        _ = try FlagSelection.select(flags: names, from: Array(document.utf8))
        return nil
    } catch {
        return error
    }
}

struct FlagSelectionTests {
    static let flags = """
        {
          "beta" : {"enabled":true,  "attr" : "v",
                    "limit": 1.0e+10},
          "off": {"enabled": false},
          "ratio": -0
        }
        """

    @Test func singleFlagIsItsRawValueByteForByte() throws {
        let index = try FlagIndex(bytes: Array(Self.flags.utf8))
        #expect(body(try index.select(["beta"])) == "{\"enabled\":true,  \"attr\" : \"v\",\n            \"limit\": 1.0e+10}")
        #expect(body(try index.select(["off"])) == #"{"enabled": false}"#)
    }

    @Test func memberThatIsNotAnObjectIsServedAsStored() throws {
        let index = try FlagIndex(bytes: Array(Self.flags.utf8))
        #expect(body(try index.select(["ratio"])) == "-0")
    }

    @Test func severalFlagsFormAnObjectInRequestOrder() throws {
        let index = try FlagIndex(bytes: Array(Self.flags.utf8))
        #expect(body(try index.select(["ratio", "off"])) == #"{"ratio":-0,"off":{"enabled": false}}"#)
        #expect(body(try index.select(["off", "ratio"])) == #"{"off":{"enabled": false},"ratio":-0}"#)
    }

    @Test func flagNamedTwiceAppearsOnce() throws {
        let index = try FlagIndex(bytes: Array(Self.flags.utf8))
        #expect(body(try index.select(["off", "ratio", "off"])) == #"{"off":{"enabled": false},"ratio":-0}"#)
        #expect(body(try index.select(["off", "off"])) == #"{"off":{"enabled": false}}"#)
    }

    @Test func manyRequestedFlagsAreCollapsedToo() throws {
        let index = try FlagIndex(bytes: Array(#"{"a":1,"b":2,"c":3}"#.utf8))
        let names = ["c", "a", "c", "b", "a", "a", "c", "b", "a", "b", "c"]
        #expect(body(try index.select(names)) == #"{"c":3,"a":1,"b":2}"#)
    }

    @Test func mapKeysAreTheDocumentsRawKeyTokens() throws {
        let index = try FlagIndex(bytes: Array(#"{"caf\u00e9":{"enabled":true},"x\/y":2}"#.utf8))
        #expect(body(try index.select(["café", "x/y"])) == #"{"caf\u00e9":{"enabled":true},"x\/y":2}"#)
        #expect(body(try index.select(["café"])) == #"{"enabled":true}"#)
    }

    @Test func duplicateKeyInDocumentResolvesToItsLastOccurrence() throws {
        let index = try FlagIndex(bytes: Array(#"{"a":1,"b":2,"\u0061":3}"#.utf8))
        #expect(index.count == 2)
        #expect(index.members.count == 3)
        #expect(body(try index.select(["a"])) == "3")
        #expect(body(try index.select(["b", "a"])) == #"{"b":2,"\u0061":3}"#)
    }

    @Test func namesMatchByExactBytesWithoutUnicodeNormalisation() throws {
        // "é" precomposed (U+00E9) and decomposed (e + U+0301) are distinct JSON keys.
        let index = try FlagIndex(bytes: Array("{\"\u{E9}\":1,\"e\u{301}\":2}".utf8))
        #expect(index.count == 2)
        #expect(body(try index.select(["\u{E9}"])) == "1")
        #expect(body(try index.select(["e\u{301}"])) == "2")
    }

    @Test func unknownFlagIsNamedAndMapsTo404() throws {
        let index = try FlagIndex(bytes: Array(Self.flags.utf8))
        #expect(throws: FlagSelectionError.unknownFlag("gamma")) { try index.select(["gamma"]) }
        #expect(FlagSelectionError.unknownFlag("gamma").httpStatus == 404)
        #expect(FlagSelectionError.unknownFlag("gamma").description == "flag not found: gamma")
    }

    @Test func unknownFlagAmongSeveralLeavesOutputUntouched() throws {
        let index = try FlagIndex(bytes: Array(Self.flags.utf8))
        var output = Array("prefix".utf8)
        #expect(throws: FlagSelectionError.unknownFlag("nope")) { try index.select(["off", "nope", "ratio"], appendingTo: &output) }
        #expect(body(output) == "prefix")
    }

    @Test func appendingKeepsWhatTheBufferHeld() throws {
        let index = try FlagIndex(bytes: Array(Self.flags.utf8))
        var output = Array("HTTP/1.1 200 OK\r\n\r\n".utf8)
        try index.select(["ratio", "off"], appendingTo: &output)
        #expect(body(output) == "HTTP/1.1 200 OK\r\n\r\n{\"ratio\":-0,\"off\":{\"enabled\": false}}")
    }

    @Test func emptyFlagNameIsABadRequest() throws {
        let index = try FlagIndex(bytes: Array(Self.flags.utf8))
        #expect(throws: FlagSelectionError.noFlagNamed) { try index.select([""]) }
        #expect(throws: FlagSelectionError.noFlagNamed) { try index.select(["off", ""]) }
        #expect(throws: FlagSelectionError.noFlagNamed) { try index.select(["nope", ""]) }
        #expect(throws: FlagSelectionError.noFlagNamed) { try index.select([]) }
        #expect(FlagSelectionError.noFlagNamed.httpStatus == 400)
    }

    @Test func invalidJSONIsABadRequest() {
        let error = selectionError(#"{"a":{"enabled":true},}"#, ["a"])
        guard case .invalidJSON(let reason) = error else {
            Issue.record("expected invalidJSON, got \(String(describing: error))")
            return
        }
        #expect(reason.contains("trailing comma"))
        #expect(error?.httpStatus == 400)
    }

    @Test func documentThatIsNotAnObjectIsABadRequest() {
        #expect(selectionError(#"[{"a":1}]"#, ["a"]) == .notAnObject)
        #expect(selectionError(#""a""#, ["a"]) == .notAnObject)
        #expect(FlagSelectionError.notAnObject.httpStatus == 400)
    }

    @Test func rawValueIsASliceOfTheStoredBytes() throws {
        let index = try FlagIndex(bytes: Array(#"{"n":1.50}"#.utf8))
        let value = try #require(index.rawValue(of: "n"))
        #expect(Array(value) == Array("1.50".utf8))
        #expect(value.startIndex == 5)
        #expect(index.rawValue(of: "m") == nil)
        #expect(index.member(named: "n")?.keyRange == 1..<4)
    }

    @Test func oneShotSelectionMatchesTheIndex() throws {
        let bytes = Array(Self.flags.utf8)
        #expect(try FlagSelection.select(flags: ["off", "beta"], from: bytes) == FlagIndex(bytes: bytes).select(["off", "beta"]))
        #expect(body(try FlagSelection.select(flags: ["off"], from: bytes)) == #"{"enabled": false}"#)
    }
}
