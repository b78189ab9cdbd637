import Testing
@testable import AgentCore

/// Compiles rule text as a flag named `flag` would.
private func compiled(_ text: String, flag: String = "flag") throws -> Rule {
    try Rule(RuleTextParser.parse(text), flagKey: flag)
}

/// Whether rule `text` holds for `context`.
private func holds(_ text: String, _ context: KeyValuePairs<String, String> = [:], entityId: String? = nil) throws -> Bool {
    try compiled(text).evaluate(EvaluationContext(context, entityId: entityId))
}

/// The compile error of `term`, or nil when it compiles.
private func compileError(_ term: RuleTerm) -> RuleError? {
    do {
        _ = try Rule(term, flagKey: "flag")
        return nil
    } catch {
        return error
    }
}

private func compileError(_ text: String) throws -> RuleError? {
    compileError(try RuleTextParser.parse(text))
}

struct FeatureFlagRuleTests {
    // MARK: eq gt gte lt lte on strings

    @Test func eqOnStringsComparesExactBytes() throws {
        #expect(try holds(#"(eq $group "Tier1")"#, ["group": "Tier1"]))
        #expect(try !holds(#"(eq $group "Tier1")"#, ["group": "tier1"]))
        #expect(try !holds(#"(eq $group "Tier1")"#, ["other": "Tier1"]))
        // Precomposed é (U+00E9) is not decomposed e + U+0301, though Swift's == says they are equal.
        #expect(try holds("(eq $name \"caf\u{E9}\")", ["name": "caf\u{E9}"]))
        #expect(try !holds("(eq $name \"caf\u{E9}\")", ["name": "cafe\u{301}"]))
        // Two context values compare as strings.
        #expect(try holds("(eq $a $b)", ["a": "x", "b": "x"]))
        #expect(try !holds("(eq $a $b)", ["a": "x", "b": "y"]))
    }

    @Test func stringsOrderByUnicodeScalars() throws {
        #expect(try holds(#"(lt $s "b")"#, ["s": "a"]))
        #expect(try holds(#"(lt $s "b")"#, ["s": "B"])) // upper case sorts before lower case
        #expect(try holds("(gt $s \"z\")", ["s": "\u{E9}"])) // é is after z
        #expect(try holds(#"(gte $s "abc")"#, ["s": "abc"]))
        #expect(try holds(#"(gte $s "abc")"#, ["s": "abd"]))
        #expect(try !holds(#"(gte $s "abc")"#, ["s": "ab"]))
        #expect(try holds(#"(lte $s "abc")"#, ["s": "ab"]))
        #expect(try !holds(#"(lte $s "abc")"#, ["s": "abcd"]))
        // "10" < "9" as strings: a string literal keeps the comparison textual.
        #expect(try holds(#"(lt $s "9")"#, ["s": "10"]))
    }

    // MARK: numbers

    @Test func numberOperandMakesComparisonNumeric() throws {
        #expect(try holds("(gt $age 17)", ["age": "18"]))
        #expect(try !holds("(gt $age 17)", ["age": "17"]))
        #expect(try holds("(gte $age 17)", ["age": "17"]))
        #expect(try holds("(gt $age 17)", ["age": "17.5"]))
        #expect(try holds("(gt $age 17)", ["age": "1.8e1"]))
        #expect(try holds("(gt $age 17)", ["age": "+18"]))
        #expect(try holds("(lt $age 17)", ["age": "-20"]))
        #expect(try holds("(lt $age 17)", ["age": ".5"]))
        // "10" > 9 numerically (the string comparison above says the opposite).
        #expect(try holds("(gt $n 9)", ["n": "10"]))
        #expect(try holds("(eq $n 5)", ["n": "5.000"]))
        #expect(try holds("(eq $n 0)", ["n": "-0"]))
        #expect(try holds("(lte 17 $age)", ["age": "17"])) // operands in either order
    }

    @Test func failedNumericConversionIsFalse() throws {
        for value in ["eighteen", "", "18 ", "0x12", "1,000", "inf", "NaN", "1e", "--1", "1.2.3"] {
            #expect(try !holds("(gt $age 17)", ["age": value]), "value \(value)")
            #expect(try !holds("(lte $age 17)", ["age": value]), "value \(value)")
            #expect(try !holds("(eq $age 17)", ["age": value]), "value \(value)")
        }
        // `not` of a false comparison holds: absence and garbage are not "at most 17".
        #expect(try holds("(not (gt $age 17))", ["age": "eighteen"]))
        // A string literal that is not a number makes the comparison false, not an error.
        #expect(try !holds(#"(eq "abc" 5)"#))
        #expect(try holds(#"(eq "5.0" 5)"#))
    }

    @Test func numbersCompareExactly() throws {
        // 2^53 + 1 is not a Double; an exact comparison still orders it.
        #expect(try holds("(gt $id 9007199254740992)", ["id": "9007199254740993"]))
        #expect(try holds("(eq $id 9223372036854775807)", ["id": "9223372036854775807"]))
        #expect(try holds("(eq $price 0.1)", ["price": "0.10"]))
        #expect(try holds("(lt $price 0.3)", ["price": "0.29999999999999999"]))
        #expect(try holds("(eq $x 1.50)", ["x": "1.5"]))
        #expect(try holds("(lt $x 1.234e-5)", ["x": "0.00001"]))
        #expect(try holds("(eq $x 3.14e0)", ["x": "3.14"])) // a float is its shortest decimal
        #expect(try holds("(eq $x 1d3)", ["x": "1000"]))
        // More than 19 significant digits does not convert.
        #expect(try !holds("(gt $x 1)", ["x": "12345678901234567890123"]))
        #expect(try holds("(gt $x 1)", ["x": "10000000000000000000000"]))
    }

    @Test func ruleNumberOrdersSignsAndMagnitudes() throws {
        let values = ["-1000", "-1.5", "-1", "-0.001", "0", "0.001", "0.5", "1", "1.0001", "9.99", "10", "1e3", "12345678901234567890"]
        let numbers = values.compactMap { RuleNumber(parsing: $0) }
        #expect(numbers.count == values.count)
        for (index, number) in numbers.enumerated() where index > 0 {
            #expect(numbers[index - 1] < number, "\(values[index - 1]) < \(values[index])")
        }
        #expect(RuleNumber(parsing: "1e3") == RuleNumber(parsing: "1000.000"))
        #expect(RuleNumber(parsing: "1d3") == nil)
        #expect(RuleNumber(parsing: "1d3", allowIonExponent: true) == RuleNumber(1000))
        #expect(["120", "-0.005", "12.5", "0.1", "1e30", "1e-40"].map { RuleNumber(parsing: $0)?.description }
                == ["120", "-0.005", "12.5", "0.1", "1e30", "1e-40"])
    }

    // MARK: timestamps

    @Test func timestampOperandComparesInstants() throws {
        let rule = "(gt $d 2024-01-01T00:00:00Z)"
        #expect(try holds(rule, ["d": "2024-06-01"]))
        #expect(try !holds(rule, ["d": "2023-12-31T23:59:59Z"]))
        #expect(try !holds(rule, ["d": "2024-01-01T01:00:00+02:00"])) // 2023-12-31T23:00Z
        #expect(try holds(rule, ["d": "2024-01-01T00:00:00.001Z"]))
        #expect(try holds("(eq $d 2024-01-01T00:00:00Z)", ["d": "2024-01-01T02:00:00+02:00"]))
        #expect(try holds("(eq $d 2024-01-01T00:00:00Z)", ["d": "2024-01"]))
        #expect(try holds("(eq $d 2024-01-01T00:00:00Z)", ["d": "2024"]))
        #expect(try holds("(eq $d 2024-01-01T00:00:00Z)", ["d": "2023-12-31t19:00-05:00"]))
        #expect(try holds("(lt $d 2024-01-01T00:00:00.5Z)", ["d": "2024-01-01T00:00:00.25Z"]))
        #expect(try holds("(eq $d 2012-03-04T05:06:07-08:00)", ["d": "2012-03-04T13:06:07Z"]))
        #expect(try holds("(gte $d 2024-01)", ["d": "2024-01-01"]))
    }

    @Test func failedTimestampConversionIsFalse() throws {
        for value in ["yesterday", "2024-13-01", "2023-02-29", "2024-01-01T10:00", "2024-01-01T25:00Z", "1704067200", ""] {
            #expect(try !holds("(gt $d 2000-01-01T00:00:00Z)", ["d": value]), "value \(value)")
            #expect(try !holds("(lt $d 2100-01-01T00:00:00Z)", ["d": value]), "value \(value)")
        }
        #expect(try holds("(eq $d 2024-02-29)", ["d": "2024-02-29T00:00:00Z"])) // a leap day
    }

    @Test func instantParsingHandlesOffsetsAndCalendar() {
        #expect(RuleInstant(parsing: "1970-01-01T00:00:00Z") == RuleInstant(seconds: 0))
        #expect(RuleInstant(parsing: "1970-01-01T00:00:00+01:00") == RuleInstant(seconds: -3600))
        #expect(RuleInstant(parsing: "2000-03-01") == RuleInstant(seconds: 951_868_800))
        #expect(RuleInstant(parsing: "1969-12-31T23:59:59.999999999Z") == RuleInstant(seconds: -1, nanoseconds: 999_999_999))
        #expect(RuleInstant(parsing: "2024-01-01T00:00:00.1234567891Z") == RuleInstant(seconds: 1_704_067_200, nanoseconds: 123_456_789))
        #expect(RuleInstant(parsing: "2024-01-01T00:00:00-00:00") == RuleInstant(seconds: 1_704_067_200))
        #expect(RuleInstant(parsing: "2024T") == RuleInstant(seconds: 1_704_067_200))
        #expect(RuleInstant(parsing: "1900-02-29") == nil)
        #expect(RuleInstant(parsing: "2024-01-01T00:00:00.Z") == nil)
        #expect(RuleInstant(parsing: "0000-01-01") == nil)
    }

    // MARK: booleans and type mismatches

    @Test func booleansCompareOnlyForEquality() throws {
        #expect(try holds("(eq $beta true)", ["beta": "true"]))
        #expect(try !holds("(eq $beta true)", ["beta": "false"]))
        #expect(try holds("(eq $beta false)", ["beta": "false"]))
        #expect(try !holds("(eq $beta true)", ["beta": "True"]))
        #expect(try !holds("(eq $beta true)", ["beta": "1"]))
        #expect(try holds(#"(eq "true" true)"#))
        #expect(try compileError("(gt $beta true)")?.description == "gt cannot order booleans; only eq compares them")
    }

    @Test func incompatibleLiteralTypesDoNotCompile() throws {
        #expect(try compileError("(eq 5 2024-01-01T00:00:00Z)")?.description == "eq cannot compare a number with a timestamp")
        #expect(try compileError("(eq true 5)")?.description == "eq cannot compare a boolean with a number")
        #expect(try compileError("(lt $d 2024-01-01T00:00:00Z true)")?.description == "lt needs 2 operands, found 3")
        #expect(compileError(.sexp([.symbol("eq"), .symbol("$d"), .timestamp("2024-02-30")]))?.description
                == "eq cannot use the timestamp 2024-02-30: not a valid date-time")
        #expect(compileError(.sexp([.symbol("eq"), .symbol("$d"), .float(.nan)]))?.description == "eq cannot use the float nan")
        #expect(compileError(.sexp([.symbol("eq"), .symbol("$d"), .decimal("1.2.3")])) != nil)
    }

    // MARK: and or not

    @Test func andOrNotCombine() throws {
        let both = #"(and (eq $a "1") (eq $b "2"))"#
        let either = #"(or (eq $a "1") (eq $b "2"))"#
        #expect(try holds(both, ["a": "1", "b": "2"]))
        #expect(try !holds(both, ["a": "1", "b": "3"]))
        #expect(try holds(either, ["a": "0", "b": "2"]))
        #expect(try !holds(either, ["a": "0", "b": "0"]))
        #expect(try holds(#"(not (eq $a "1"))"#, ["a": "2"]))
        #expect(try holds(#"(not (eq $a "1"))"#)) // absent
        #expect(try holds(#"(and (eq $a "1"))"#, ["a": "1"])) // one operand is enough
        #expect(try holds(#"(and (eq $a "1") (eq $b "2") (eq $c "3"))"#, ["a": "1", "b": "2", "c": "3"]))
        #expect(try holds("true"))
        #expect(try !holds("(or false false)"))
    }

    @Test func andOrShortCircuit() throws {
        let context = EvaluationContext(["a": "1", "b": "2", "c": "3"])
        // The `or` node, then its first operand only.
        let either = try compiled(#"(or (eq $a "1") (eq $b "2") (eq $c "3"))"#).evaluateCountingNodes(context)
        #expect(either.0 && either.1 == 2)
        let allFalse = try compiled(#"(or (eq $a "x") (eq $b "x") (eq $c "x"))"#).evaluateCountingNodes(context)
        #expect(!allFalse.0 && allFalse.1 == 4)
        let both = try compiled(#"(and (eq $a "x") (eq $b "2") (eq $c "3"))"#).evaluateCountingNodes(context)
        #expect(!both.0 && both.1 == 2)
        let allTrue = try compiled(#"(and (eq $a "1") (eq $b "2") (eq $c "3"))"#).evaluateCountingNodes(context)
        #expect(allTrue.0 && allTrue.1 == 4)
    }

    // MARK: begins_with ends_with contains

    @Test func stringOperatorsTestPrefixesSuffixesAndSubstrings() throws {
        #expect(try holds(#"(begins_with $email "admin")"#, ["email": "admin@example.com"]))
        #expect(try !holds(#"(begins_with $email "admin")"#, ["email": "root@example.com"]))
        #expect(try !holds(#"(begins_with $email "admin")"#, ["email": "adm"]))
        #expect(try holds(#"(ends_with $email "@example.com")"#, ["email": "admin@example.com"]))
        #expect(try !holds(#"(ends_with $email "@example.com")"#, ["email": "admin@example.org"]))
        #expect(try holds(#"(contains $email "@exa")"#, ["email": "admin@example.com"]))
        #expect(try !holds(#"(contains $email "@exo")"#, ["email": "admin@example.com"]))
        #expect(try holds(#"(contains $email "")"#, ["email": "x"]))
        #expect(try holds(#"(contains $email "com")"#, ["email": "com"]))
        #expect(try !holds(#"(contains $email "x")"#)) // absent
        #expect(try holds("(contains $city \"\u{E9}\")", ["city": "Montr\u{E9}al"]))
        #expect(try !holds("(contains $city \"e\")", ["city": "Montr\u{E9}al"]))
        #expect(try holds(#"(begins_with "prefix-x" "prefix")"#)) // literals fold
        #expect(try holds(#"(contains $a $b)"#, ["a": "haystack", "b": "st"]))
        #expect(try compileError(#"(begins_with $zip 9)"#)?.description
                == "begins_with needs a second operand that is a string or a $reference, found integer 9")
    }

    // MARK: in

    @Test func inTestsMembershipOfAList() throws {
        let rule = #"(in $country ["US" "CA" "MX"])"#
        #expect(try holds(rule, ["country": "US"]))
        #expect(try holds(rule, ["country": "MX"]))
        #expect(try !holds(rule, ["country": "us"]))
        #expect(try !holds(rule, ["country": "FR"]))
        #expect(try !holds(rule))
        #expect(try holds(#"(in $n [1, 2.5, "x"])"#, ["n": "2.50"]))
        #expect(try holds(#"(in $n [1, 2.5, "x"])"#, ["n": "x"]))
        #expect(try !holds(#"(in $n [1, 2.5, "x"])"#, ["n": "3"]))
        #expect(try holds(#"(in $b [true])"#, ["b": "true"]))
        #expect(try holds(#"(in $d [2024-01-01T00:00:00Z])"#, ["d": "2024-01-01"]))
        #expect(try !holds(#"(in $k [])"#, ["k": ""]))
        #expect(try holds(#"(in "CA" ["US" "CA"])"#))
        // Many strings: binary search over byte order.
        let many = (0..<200).map { "\"id-\($0)\"" }.joined(separator: " ")
        #expect(try holds("(in $k [\(many)])", ["k": "id-137"]))
        #expect(try !holds("(in $k [\(many)])", ["k": "id-200"]))
        #expect(try compileError(#"(in $k "x")"#)?.description == "in needs a list as its second operand, such as [\"a\" \"b\"], found string \"x\"")
        #expect(try compileError(#"(in $k [(eq $a 1)])"#) != nil)
    }

    // MARK: exists

    @Test func existsTestsThePresenceOfAKey() throws {
        #expect(try holds(#"(exists key::"tier")"#, ["tier": ""]))
        #expect(try holds(#"(exists key::"tier")"#, ["tier": "gold"]))
        #expect(try !holds(#"(exists key::"tier")"#, ["Tier": "gold"]))
        #expect(try holds("(exists $tier)", ["tier": "gold"]))
        #expect(try compileError(#"(exists key::"")"#) != nil)
        #expect(try compileError(#"(exists "tier")"#) != nil)
        #expect(try compileError(#"(exists key::"a" key::"b")"#)?.description == "exists needs 1 operand, found 2")
    }

    // MARK: matches

    @Test func matchesSearchesTheContextValue() throws {
        #expect(try holds(#"(matches in::$email pattern::"^[a-z]+@example\\.com$")"#, ["email": "ann@example.com"]))
        #expect(try !holds(#"(matches in::$email pattern::"^[a-z]+@example\\.com$")"#, ["email": "ann@examplexcom"]))
        #expect(try holds(#"(matches pattern::"\\d{3}" in::$id)"#, ["id": "ab123"])) // either order
        #expect(try !holds(#"(matches in::$id pattern::"\\d{3}")"#))
        #expect(try compileError(#"(matches in::$id)"#)?.description
                == "matches needs in:: and pattern::, as in (matches in::$key pattern::\"^a.*\")")
        #expect(try compileError(#"(matches in::$id pattern::"(a)\\1")"#)?.description
                == "matches pattern:: uses a backreference, which is not supported at offset 5")
        #expect(try compileError(#"(matches in::$id with::"x")"#)?.description == "matches does not take with::; it takes in::, pattern::")
    }

    // MARK: compile errors

    @Test func malformedRulesDoNotCompile() throws {
        let cases: [(String, String)] = [
            ("(foo $a)", "unknown operator 'foo'"),
            (#"(eq $a "b" "c")"#, "eq needs 2 operands, found 3"),
            ("(eq $a)", "eq needs 2 operands, found 1"),
            ("(not (eq $a 1) (eq $b 2))", "not needs 1 operand, found 2"),
            ("(and)", "and needs at least 1 operand, found 0"),
            ("(split pct::120 by::$u)", "split needs pct:: between 0 and 100, found 120"),
            ("(split pct::-1 by::$u)", "split needs pct:: between 0 and 100, found -1"),
            ("(split by::$u)", "split needs pct:: between 0 and 100"),
            (#"(split pct::"10" by::$u)"#, "split needs pct:: between 0 and 100, found pct::string \"10\""),
            ("(split pct::10 by::userId)", "split needs by:: to be a context value such as $userId, found by::symbol userId"),
            ("(split pct::10 pct::20)", "split has pct:: twice"),
            ("(split 10)", "split takes annotated operands (pct::, by::, seed::), found integer 10"),
            ("(eq $group Tier1)", "eq cannot use the bare symbol 'Tier1': write a string as \"Tier1\" or a context value as $name"),
            ("(eq $a (eq $b 1))", "eq cannot take s-expression (eq …) as an operand"),
            ("(eq x::$a 1)", "eq takes no annotated operands, found x::symbol $a"),
            (#""Tier1""#, "expected a rule (an s-expression such as (eq $key \"value\")), found string \"Tier1\""),
            ("()", "expected a rule (an s-expression such as (eq $key \"value\")), found an empty s-expression ()"),
            ("(and (eq $a 1) $b)", "expected a rule (an s-expression such as (eq $key \"value\")), found symbol $b"),
            ("(\"eq\" $a 1)", "expected a rule (an s-expression such as (eq $key \"value\")), found an s-expression that starts with string \"eq\", not an operator"),
        ]
        for (text, expected) in cases {
            #expect(try compileError(text)?.description == expected, "rule \(text)")
        }
    }

    @Test func deeplyNestedRulesAreRefused() {
        var term = RuleTerm.sexp([.symbol("eq"), .symbol("$a"), .string("x")])
        for _ in 0..<RuleCompiler.maximumDepth { term = .sexp([.symbol("not"), term]) }
        #expect(compileError(term) == .tooDeep(limit: RuleCompiler.maximumDepth))
        var shallower = RuleTerm.sexp([.symbol("eq"), .symbol("$a"), .string("x")])
        for _ in 0..<(RuleCompiler.maximumDepth - 1) { shallower = .sexp([.symbol("not"), shallower]) }
        #expect(compileError(shallower) == nil)
    }

    @Test func ruleListsTheContextKeysItReads() throws {
        let rule = try compiled(#"(or (eq $group "Tier1") (split pct::25 by::$userId) (eq $group "Tier2"))"#)
        #expect(rule.contextKeys == ["group", "userId"])
    }
}
