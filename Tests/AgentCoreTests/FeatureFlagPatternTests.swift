import Testing
@testable import AgentCore

private func matches(_ pattern: String, _ input: String) throws -> Bool {
    try RulePattern(pattern).matches(input)
}

private func patternError(_ pattern: String) -> String? {
    do {
        _ = try RulePattern(pattern)
        return nil
    } catch {
        return error.description
    }
}

struct FeatureFlagPatternTests {
    @Test func patternIsASearchUnlessAnchored() throws {
        #expect(try matches("b", "abc"))
        #expect(try !matches("d", "abc"))
        #expect(try matches("^ab", "abc"))
        #expect(try !matches("^bc", "abc"))
        #expect(try matches("bc$", "abc"))
        #expect(try !matches("ab$", "abc"))
        #expect(try matches("^abc$", "abc"))
        #expect(try !matches("^abc$", "abcd"))
        #expect(try matches("", "anything"))
        #expect(try matches("^$", ""))
        #expect(try !matches("^$", "x"))
        #expect(try matches("a|^b", "xa"))
        #expect(try !matches("^a|^b", "xa"))
    }

    @Test func classesAndEscapes() throws {
        #expect(try matches("^[a-z]+$", "hello"))
        #expect(try !matches("^[a-z]+$", "Hello"))
        #expect(try matches("^[^0-9]+$", "abc"))
        #expect(try !matches("^[^0-9]+$", "ab1"))
        #expect(try matches(#"^\d{3}-\d{4}$"#, "555-1234"))
        #expect(try !matches(#"^\d{3}-\d{4}$"#, "555-12a4"))
        #expect(try matches(#"^\w+$"#, "snake_case_9"))
        #expect(try !matches(#"^\w+$"#, "kebab-case"))
        #expect(try matches(#"a\sb"#, "a\tb"))
        #expect(try matches(#"^\S+$"#, "x"))
        #expect(try !matches(#"\D"#, "123"))
        #expect(try matches(#"\W"#, "a-b"))
        #expect(try matches(#"^a\.b$"#, "a.b"))
        #expect(try !matches(#"^a\.b$"#, "axb"))
        #expect(try matches(#"^[\d.]+$"#, "1.2.3"))
        #expect(try matches("^[]a]+$", "]a]"))
        #expect(try matches("^[a-]+$", "-a-"))
        #expect(try matches("^[-a]+$", "a-"))
        #expect(try matches(#"^\x41\u00e9$"#, "A\u{E9}"))
        #expect(try matches(#"^\(\)\[\]\{\}\*\+\?\|\^\$\\\/$"#, #"()[]{}*+?|^$\/"#))
        #expect(try matches("^[\u{E0}-\u{FF}]+$", "\u{E9}\u{E8}")) // non-ASCII range
    }

    @Test func dotMatchesOneCharacterButNewline() throws {
        #expect(try matches("^.$", "\u{E9}")) // one scalar, two bytes
        #expect(try matches("^..$", "\u{1F600}x"))
        #expect(try !matches("^.$", "\n"))
        #expect(try matches("^a.c$", "abc"))
    }

    @Test func groupsAlternationAndQuantifiers() throws {
        #expect(try matches("^(ab)+$", "ababab"))
        #expect(try !matches("^(ab)+$", "ababa"))
        #expect(try matches("^(?:ab|cd)*$", "abcdab"))
        #expect(try matches("^(cat|dog)s?$", "dogs"))
        #expect(try !matches("^(cat|dog)s?$", "cow"))
        #expect(try matches("^a*$", ""))
        #expect(try !matches("^a+$", ""))
        #expect(try matches("^colou?r$", "color"))
        #expect(try matches("^a{3}$", "aaa"))
        #expect(try !matches("^a{3}$", "aaaa"))
        #expect(try matches("^a{2,}$", "aaaaa"))
        #expect(try !matches("^a{2,}$", "a"))
        #expect(try matches("^a{2,3}$", "aaa"))
        #expect(try !matches("^a{2,3}$", "aaaa"))
        #expect(try matches("^a{0,1}b$", "b"))
        #expect(try matches("^(a|b){2}c$", "bac"))
        #expect(try matches("^a+?b*?$", "aab")) // lazy quantifiers: same yes/no
        #expect(try matches("^a{,2}$", "a{,2}")) // not a bound: literal
        #expect(try matches("^x{$", "x{"))
        #expect(try matches("^(|a)b$", "b"))
        #expect(try matches("^()*$", ""))
        #expect(try matches("^(a*)*$", "aaa"))
        #expect(try matches("^(^a|b$)+$", "ab"))
    }

    @Test func pathologicalPatternsAnswerCorrectly() throws {
        let many = String(repeating: "a", count: 4096)
        #expect(try !matches("(a*)*b", many))
        #expect(try matches("(a*)*b", String(repeating: "a", count: 4095) + "b"))
        #expect(try !matches("^(a|a)*$", String(repeating: "a", count: 4095) + "b"))
        #expect(try !matches("^(a+)+$", String(repeating: "a", count: 4095) + "!"))
        #expect(try matches("^(a?){30}a{30}$", String(repeating: "a", count: 30)))
        #expect(try !matches("(x+x+)+y", String(repeating: "x", count: 4096)))
        #expect(try !matches("^(.*a){20}$", String(repeating: "a", count: 19) + String(repeating: "b", count: 4000)))
    }

    @Test func inputOverTheBoundNeverMatches() throws {
        let pattern = try RulePattern("a")
        #expect(pattern.matches(String(repeating: "a", count: RulePattern.maximumInputBytes)))
        #expect(!pattern.matches(String(repeating: "a", count: RulePattern.maximumInputBytes + 1)))
        // The bound is in bytes: 2049 two-byte characters are over it.
        #expect(!(try RulePattern(".")).matches(String(repeating: "\u{E9}", count: 2049)))
        #expect(try RulePattern(".").matches(String(repeating: "\u{E9}", count: 2048)))
    }

    @Test func unsupportedSyntaxIsRefused() {
        let cases: [(String, String)] = [
            (#"(a)\1"#, "matches pattern:: uses a backreference, which is not supported at offset 5"),
            (#"(?<n>a)\k<n>"#, "matches pattern:: uses a named group, which is not supported; use ( ) at offset 1"),
            ("(?=a)", "matches pattern:: uses lookahead, which is not supported at offset 1"),
            ("(?!a)", "matches pattern:: uses lookahead, which is not supported at offset 1"),
            ("(?<=a)b", "matches pattern:: uses lookbehind, which is not supported at offset 1"),
            ("(?<!a)b", "matches pattern:: uses lookbehind, which is not supported at offset 1"),
            ("(?i)a", "matches pattern:: uses a (?… group or inline flag, which is not supported at offset 1"),
            (#"\bword"#, #"matches pattern:: uses a word boundary \b, which is not supported at offset 2"#),
            (#"\p{L}"#, #"matches pattern:: uses a Unicode property \p, which is not supported at offset 2"#),
            (#"\q"#, #"matches pattern:: uses an unknown escape \q at offset 2"#),
            ("a**", "matches pattern:: has a quantifier directly after another (nested or possessive quantifiers are not supported) at offset 3"),
            ("a*+", "matches pattern:: has a quantifier directly after another (nested or possessive quantifiers are not supported) at offset 3"),
            ("*a", "matches pattern:: has '*' with nothing to repeat at offset 0"),
            ("{2}", "matches pattern:: has a repetition with nothing to repeat at offset 0"),
            ("(a", "matches pattern:: is missing a ')' at offset 2"),
            ("a)", "matches pattern:: has an unmatched ')' at offset 1"),
            ("[a", "matches pattern:: is missing a ']' at offset 2"),
            ("[z-a]", "matches pattern:: has a range out of order at offset 4"),
            (#"a\"#, "matches pattern:: ends with a lone backslash at offset 2"),
            (#"\xZZ"#, "matches pattern:: needs 2 hexadecimal digits after \\x at offset 2"),
            ("a{1001}", "matches pattern:: repeats more than 1000 times at offset 1"),
            ("a{3,2}", "matches pattern:: has a repetition {3,2} whose maximum is below its minimum at offset 1"),
            ("(a{1000}){1000}", "matches pattern:: expands to more than 10000 instructions; use smaller repetition counts"),
        ]
        for (pattern, expected) in cases {
            #expect(patternError(pattern) == expected, "pattern \(pattern)")
        }
        #expect(patternError(String(repeating: "a", count: 1025)) == "matches pattern:: is longer than 1024 bytes")
        #expect(patternError(String(repeating: "a", count: 1024)) == nil)
        #expect(patternError(String(repeating: "(", count: 101) + String(repeating: ")", count: 101)) != nil)
        #expect(patternError(String(repeating: "(", count: 100) + "a" + String(repeating: ")", count: 100)) == nil)
    }

    @Test func expandedRepetitionWithinTheCapCompiles() throws {
        let pattern = try RulePattern("^(ab){1,1000}$")
        #expect(pattern.program.count <= RulePattern.maximumInstructions)
        #expect(pattern.matches(String(repeating: "ab", count: 1000)))
        #expect(!pattern.matches(String(repeating: "ab", count: 1001)))
    }
}
