import Testing
@testable import AgentCore

private func syntaxError(_ text: String) -> RuleSyntaxError? {
    do {
        _ = try RuleTextParser.parse(text)
        return nil
    } catch {
        return error
    }
}

struct FeatureFlagParserTests {
    @Test func specRuleParsesIntoSExpressions() throws {
        let term = try RuleTextParser.parse(#"(or (eq $group "Tier1") (split pct::25 by::$userId))"#)
        #expect(term == .sexp([
            .symbol("or"),
            .sexp([.symbol("eq"), .symbol("$group"), .string("Tier1")]),
            .sexp([.symbol("split"), .integer(25, annotations: ["pct"]), .symbol("$userId", annotations: ["by"])]),
        ]))
    }

    @Test func annotatedOperandsOfMatchesExistsAndSplit() throws {
        #expect(try RuleTextParser.parse(#"(matches in::$k pattern::"re")"#)
                == .sexp([.symbol("matches"), .symbol("$k", annotations: ["in"]), .string("re", annotations: ["pattern"])]))
        #expect(try RuleTextParser.parse(#"(exists key :: "k")"#) == .sexp([.symbol("exists"), .string("k", annotations: ["key"])]))
        #expect(try RuleTextParser.parse(#"(split pct::12.5 seed::"s" 'by'::$u)"#)
                == .sexp([.symbol("split"), .decimal("12.5", annotations: ["pct"]), .string("s", annotations: ["seed"]),
                          .symbol("$u", annotations: ["by"])]))
        #expect(try RuleTextParser.parse("a::b::1") == .integer(1, annotations: ["a", "b"]))
    }

    @Test func listsWithOrWithoutCommas() throws {
        let expected = RuleTerm.sexp([.symbol("in"), .symbol("$k"), .list([.string("a"), .string("b")])])
        #expect(try RuleTextParser.parse(#"(in $k ["a" "b"])"#) == expected)
        #expect(try RuleTextParser.parse(#"(in $k ["a", "b"])"#) == expected)
        #expect(try RuleTextParser.parse(#"(in $k ["a", "b",])"#) == expected)
        #expect(try RuleTextParser.parse("[]") == .list([]))
    }

    @Test func numbersTimestampsAndKeywords() throws {
        let cases: [(String, RuleTerm)] = [
            ("42", .integer(42)),
            ("-7", .integer(-7)),
            ("1_000", .integer(1000)),
            ("0x1F", .integer(31)),
            ("-0x10", .integer(-16)),
            ("0b101", .integer(5)),
            ("9223372036854775807", .integer(.max)),
            ("-9223372036854775808", .integer(.min)),
            ("12.5", .decimal("12.5")),
            ("1d-3", .decimal("1d-3")),
            ("25.", .decimal("25.")),
            ("1.5e3", .float(1500)),
            ("1.234e-5", .float(1.234e-5)),
            ("+inf", .float(.infinity)),
            ("2024-01-01T00:00:00Z", .timestamp("2024-01-01T00:00:00Z")),
            ("2012-03-04T05:06:07-08:00", .timestamp("2012-03-04T05:06:07-08:00")),
            ("2024-01", .timestamp("2024-01")),
            ("2024T", .timestamp("2024T")),
            ("true", .bool(true)),
            ("false", .bool(false)),
            ("null", RuleTerm(.null)),
            ("null.string", RuleTerm(.null)),
            ("'quoted symbol'", .symbol("quoted symbol")),
            ("$userId", .symbol("$userId")),
        ]
        for (text, expected) in cases {
            #expect(try RuleTextParser.parse(text) == expected, "text \(text)")
        }
        if case .float(let value) = try RuleTextParser.parse("nan").value { #expect(value.isNaN) } else { Issue.record("nan is not a float") }
        #expect(try RuleTextParser.parse("(<= $a 1)") == .sexp([.symbol("<="), .symbol("$a"), .integer(1)]))
    }

    @Test func stringEscapesAndLongStrings() throws {
        #expect(try RuleTextParser.parse(#""a\"b\\c\n\t\u00e9\x41\U0001F600\/""#) == .string("a\"b\\c\n\t\u{E9}A\u{1F600}/"))
        #expect(try RuleTextParser.parse("\"caf\u{E9} \u{1F600}\"") == .string("caf\u{E9} \u{1F600}"))
        #expect(try RuleTextParser.parse("'''{\"a\":'''\n  /* joined */ '''1}'''") == .string(#"{"a":1}"#))
        #expect(try RuleTextParser.parse("'''line\nbreak'''") == .string("line\nbreak"))
        #expect(try RuleTextParser.parse("\"con\\\ntinued\"") == .string("continued"))
        #expect(try RuleTextParser.parse("( eq // comment\n $a /* x */ 1 )") == .sexp([.symbol("eq"), .symbol("$a"), .integer(1)]))
    }

    @Test func malformedTextIsRefusedWithAnOffset() {
        #expect(syntaxError(#"(eq $a "x"#) == RuleSyntaxError(message: "unterminated string", offset: 7))
        #expect(syntaxError("(eq $a 1") == RuleSyntaxError(message: "unterminated s-expression: expected ')'", offset: 8))
        #expect(syntaxError(#"{a: 1}"#) == RuleSyntaxError(message: "structs, blobs and clobs are not supported in rules", offset: 0))
        #expect(syntaxError("(eq $d 2024-13-01)") == RuleSyntaxError(message: "invalid timestamp '2024-13-01'", offset: 7))
        #expect(syntaxError("9223372036854775808")?.message == "integer '9223372036854775808' is out of the 64-bit range rules use")
        #expect(syntaxError("0x1G")?.message == "invalid or out-of-range integer '0x1G' (rules use 64-bit integers)")
        #expect(syntaxError(#""a\qb""#) == RuleSyntaxError(message: "unknown escape '\\q'", offset: 2))
        #expect(syntaxError(#""\ud800""#)?.message == "escape is not a Unicode scalar (a surrogate or beyond U+10FFFF)")
        #expect(syntaxError("\"a\nb\"")?.message == "line break inside a string (use \\n or a long string)")
        #expect(syntaxError("(eq $a 1) extra")?.message == "unexpected text after the value")
        #expect(syntaxError("1.2.3")?.message == "invalid decimal '1.2.3'")
        #expect(syntaxError(String(repeating: "(", count: 101) + String(repeating: ")", count: 101))?.message
                == "nested deeper than 100 levels")
        #expect(syntaxError("<=")?.message == "operator symbols are only allowed inside s-expressions")
    }

    @Test func documentsHoldSeveralTopLevelValues() throws {
        let values = try RuleTextParser.parseDocument("$ion_1_0 'a'::'''{}''' 'b'::\"{}\"\n")
        #expect(values == [.string("{}", annotations: ["a"]), .string("{}", annotations: ["b"])])
        #expect(try RuleTextParser.parseDocument("  // nothing\n").isEmpty)
    }
}
