import Testing
@testable import AgentCore

private func text(_ bytes: some Sequence<UInt8>) -> String { String(decoding: Array(bytes), as: UTF8.self) }
private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }
private func rule(_ text: String) throws -> RuleTerm { try RuleTextParser.parse(text) }

private func renderError(_ flags: CompiledFlags, _ names: [String]) -> FlagSelectionError? {
    do {
        _ = try flags.render(EvaluationContext(), only: names)
        return nil
    } catch {
        return error
    }
}

private func definitionError(_ definitions: [FeatureFlagDefinition]) -> FeatureFlagsError? {
    do {
        _ = try CompiledFlags(definitions)
        return nil
    } catch {
        return error
    }
}

struct FeatureFlagCompiledFlagsTests {
    /// SPEC §8's local-development sample.
    static let sample = #"""
        'simple_flag'::'''{"enabled":true}'''
        'tiered_release'::[
          [ (or (eq $group "Tier1") (split pct::25 by::$userId)), '''{"_variant":"Tier1","enabled":true}''' ],
          '''{"_variant":"Default Variant","enabled":false}'''
        ]
        """#

    @Test func specSampleEvaluatesPerContext() throws {
        let flags = try IonFlagDocument.compile(Array((Self.sample).utf8))
        #expect(flags.keys == ["simple_flag", "tiered_release"])
        #expect(flags.ruleProblems.isEmpty)
        let tier1 = flags.evaluate(EvaluationContext(["group": "Tier1"]))
        #expect(tier1.map(\.key) == ["simple_flag", "tiered_release"])
        #expect(text(tier1[0].json) == #"{"enabled":true}"#)
        #expect(text(tier1[1].json) == #"{"_variant":"Tier1","enabled":true}"#)
        let other = flags.evaluate(EvaluationContext(["group": "Tier2"]))
        #expect(text(other[1].json) == #"{"_variant":"Default Variant","enabled":false}"#)
        #expect(text(try flags.render(EvaluationContext(["group": "Tier1"])))
                == #"{"simple_flag":{"enabled":true},"tiered_release":{"_variant":"Tier1","enabled":true}}"#)
        #expect(text(try flags.render(EvaluationContext()))
                == #"{"simple_flag":{"enabled":true},"tiered_release":{"_variant":"Default Variant","enabled":false}}"#)
    }

    @Test func specSampleSplitSelectsAboutAQuarter() throws {
        let flags = try IonFlagDocument.compile(Array((Self.sample).utf8))
        var selected = 0
        for id in 0..<10_000 {
            let json = flags.evaluate(flag: "tiered_release", EvaluationContext(["userId": "u\(id)"]))?.json ?? []
            if text(json).contains("Tier1") { selected += 1 }
        }
        #expect(abs(Double(selected) / 100 - 25) < 1.5, "selected \(selected)")
    }

    @Test func variantNameIsInsertedAfterTheBraceWithoutReformatting() throws {
        let flags = try CompiledFlags([
            .variants(key: "f", variants: [
                FeatureFlagVariant(rule: try rule(#"(eq $k "a")"#), json: bytes(#"  { "enabled": true,  "n" : 1 }"#), name: "A"),
                FeatureFlagVariant(rule: try rule(#"(eq $k "b")"#), json: bytes("{}"), name: "B"),
                FeatureFlagVariant(rule: try rule(#"(eq $k "c")"#), json: bytes("{ \n}"), name: "C"),
                FeatureFlagVariant(rule: try rule(#"(eq $k "d")"#), json: bytes(#"{"enabled":true,"_variant":"Mine"}"#), name: "D"),
                FeatureFlagVariant(rule: try rule(#"(eq $k "e")"#), json: bytes(#"{"x":{"_variant":"nested"}}"#), name: "E"),
                FeatureFlagVariant(rule: try rule(#"(eq $k "f")"#), json: bytes(#"{"enabled":true}"#), name: "q\"uote\\ \u{1}é"),
                FeatureFlagVariant(rule: try rule(#"(eq $k "g")"#), json: bytes(#"{"enabled":true}"#), name: nil),
            ], defaultJSON: bytes(#"{"enabled":false}"#), defaultName: "Default"),
        ])
        func answer(_ k: String) -> String {
            text(flags.evaluate(EvaluationContext(["k": k]))[0].json)
        }
        #expect(answer("a") == #"{"_variant":"A", "enabled": true,  "n" : 1 }"#)
        #expect(answer("b") == #"{"_variant":"B"}"#)
        #expect(answer("c") == "{\"_variant\":\"C\" \n}")
        #expect(answer("d") == #"{"enabled":true,"_variant":"Mine"}"#) // already named: kept
        #expect(answer("e") == #"{"_variant":"E","x":{"_variant":"nested"}}"#) // only the top level counts
        #expect(answer("f") == #"{"_variant":"q\"uote\\ \u0001é","enabled":true}"#)
        #expect(answer("g") == #"{"enabled":true}"#)
        #expect(answer("z") == #"{"_variant":"Default","enabled":false}"#)
        #expect(flags.evaluate(EvaluationContext(["k": "a"]))[0].variant == "A")
        #expect(flags.evaluate(EvaluationContext(["k": "z"]))[0].variant == "Default")
    }

    @Test func binaryFormNamesComeFromAnnotations() throws {
        let document = #"""
            'beta'::[
              'Early'::[ (eq $tier "gold"), '''{"enabled":true}''' ],
              'Off'::'''{"enabled":false}'''
            ]
            """#
        let flags = try IonFlagDocument.compile(Array((document).utf8))
        #expect(text(try flags.render(EvaluationContext(["tier": "gold"]), only: ["beta"])) == #"{"_variant":"Early","enabled":true}"#)
        #expect(text(try flags.render(EvaluationContext(), only: ["beta"])) == #"{"_variant":"Off","enabled":false}"#)
    }

    @Test func renderFormsAreByteExact() throws {
        let flags = try CompiledFlags([
            .basic(key: "b", json: bytes(#"{"enabled":true, "attr": "v"}"#)),
            .basic(key: "a", json: bytes(#"{"enabled":false}"#)),
            .basic(key: "q\"k", json: bytes(#"{"enabled":true}"#)),
        ])
        let context = EvaluationContext()
        #expect(text(try flags.render(context)) == #"{"b":{"enabled":true, "attr": "v"},"a":{"enabled":false},"q\"k":{"enabled":true}}"#)
        #expect(text(try flags.render(context, only: ["a"])) == #"{"enabled":false}"#)
        #expect(text(try flags.render(context, only: ["a", "b"])) == #"{"a":{"enabled":false},"b":{"enabled":true, "attr": "v"}}"#)
        #expect(text(try flags.render(context, only: ["a", "b", "a"])) == #"{"a":{"enabled":false},"b":{"enabled":true, "attr": "v"}}"#)
        #expect(text(try flags.render(context, only: ["a", "a"])) == #"{"a":{"enabled":false}}"#)
        #expect(text(try flags.render(context, only: ["q\"k"])) == #"{"enabled":true}"#)
        #expect(renderError(flags, ["a", "nope"]) == .unknownFlag("nope"))
        #expect(renderError(flags, ["nope"])?.httpStatus == 404)
        #expect(renderError(flags, [""]) == .noFlagNamed)
        #expect(renderError(flags, []) == .noFlagNamed)
        #expect(text(try CompiledFlags([]).render(context)) == "{}")
    }

    @Test func ruleThatDoesNotCompileMakesItsFlagServeTheDefault() throws {
        let flags = try CompiledFlags([
            .variants(key: "broken", variants: [
                FeatureFlagVariant(rule: try rule(#"(eq $k "a")"#), json: bytes(#"{"v":1}"#), name: "One"),
                FeatureFlagVariant(rule: try rule("(foo $k)"), json: bytes(#"{"v":2}"#), name: "Two"),
                FeatureFlagVariant(rule: try rule("true"), json: bytes(#"{"v":3}"#), name: "Three"),
            ], defaultJSON: bytes(#"{"v":0}"#)),
            .variants(key: "fine", variants: [
                FeatureFlagVariant(rule: try rule(#"(eq $k "a")"#), json: bytes(#"{"v":1}"#)),
            ], defaultJSON: bytes(#"{"v":0}"#)),
        ])
        #expect(flags.ruleProblems == [FlagRuleProblem(flag: "broken", variantIndex: 1, variantName: "Two", error: .unknownOperator("foo"))])
        #expect(flags.ruleProblems.first?.description
                == "feature flag 'broken' variant 'Two': rule does not compile (unknown operator 'foo'); serving the default variant")
        // Neither the rule before nor the one after the broken one is used.
        let answers = flags.evaluate(EvaluationContext(["k": "a"]))
        #expect(text(answers[0].json) == #"{"v":0}"#)
        #expect(text(answers[1].json) == #"{"v":1}"#)
    }

    @Test func invalidConfigurationsAreRefusedWhole() throws {
        #expect(definitionError([.basic(key: "a", json: bytes("{}")), .basic(key: "a", json: bytes("{}"))]) == .duplicateFlag("a"))
        #expect(definitionError([.basic(key: "a", json: bytes(#"{"enabled":tru}"#))])?.description.hasPrefix("feature flag 'a' value: not a JSON object: ") == true)
        #expect(definitionError([.basic(key: "a", json: bytes("[true]"))]) == .invalidJSON(flag: "a", variant: "value", reason: "top-level value is an array, not an object"))
        #expect(definitionError([.variants(key: "v", variants: [
            FeatureFlagVariant(rule: try rule("true"), json: bytes("{"), name: "X"),
        ], defaultJSON: bytes("{}"))]).map { if case .invalidJSON(_, let variant, _) = $0 { variant } else { "" } } == "variant 'X'")
        #expect(definitionError([.variants(key: "v", variants: [], defaultJSON: bytes("1"))])
                == .invalidJSON(flag: "v", variant: "default variant", reason: "top-level value is a number, not an object"))
    }

    @Test func malformedDocumentsAreRefused() {
        func documentError(_ text: String) -> FeatureFlagsError? {
            do {
                _ = try IonFlagDocument.compile(Array((text).utf8))
                return nil
            } catch {
                return error
            }
        }
        #expect(documentError(#"'''{"enabled":true}'''"#) == .malformedDocument("top-level value 1 (string \"{\"enabled\":true}\") has no flag-key annotation"))
        #expect(documentError("'f'::[ [ (eq $a 1), '''{}''' ] ]") == .malformedDocument("flag 'f' must end its variant list with the default variant's JSON string"))
        #expect(documentError("'f'::[ (eq $a 1), '''{}''' ]") == .malformedDocument("flag 'f' variant 1 is not a [rule, JSON string] pair"))
        #expect(documentError("'f'::42") == .malformedDocument("flag 'f' is f::integer 42, not a JSON string or a variant list"))
        #expect(documentError("'f'::\"unterminated") == .malformedDocument("unterminated string at byte 5"))
        #expect(documentError("$ion_1_0 'f'::'''{}'''") == nil)
    }

    @Test func manyContextKeysAreFoundThroughTheHashIndex() throws {
        // More keys than ContextKeyTable scans linearly.
        let count = ContextKeyTable.scanLimit * 3
        let flags = try CompiledFlags((0..<count).map { index in
            .variants(key: "f\(index)", variants: [
                FeatureFlagVariant(rule: .sexp([.symbol("exists"), .string("key\(index)", annotations: ["key"])]), json: bytes("{}")),
            ], defaultJSON: bytes(#"{"off":true}"#))
        })
        let answers = flags.evaluate(EvaluationContext(["key7": "", "key40": "x", "key": "y", "key400": "z"]))
        #expect(answers.filter { text($0.json) == "{}" }.map(\.key) == ["f7", "f40"])
    }

    @Test func matchesReadsNonASCIIContextValues() throws {
        let flags = try IonFlagDocument.compile(Array((#"'f'::[ [ (matches in::$city pattern::"^Montr.al$"), '''{"fr":true}''' ], '''{}''' ]"#).utf8))
        #expect(text(try flags.render(EvaluationContext(["city": "Montr\u{E9}al"]), only: ["f"])) == #"{"fr":true}"#)
        #expect(text(try flags.render(EvaluationContext(["city": "Montr\u{E9}\u{E9}al"]), only: ["f"])) == "{}")
    }

    @Test func flagsShareContextKeySlots() throws {
        // Each flag reads different keys; slots are interned across all of them.
        let flags = try CompiledFlags((0..<10).map { index in
            .variants(key: "f\(index)", variants: [
                FeatureFlagVariant(rule: .sexp([.symbol("eq"), .symbol("$k\(index % 3)"), .string("v\(index)")]), json: bytes(#"{"on":true}"#)),
            ], defaultJSON: bytes(#"{"on":false}"#))
        })
        let answers = flags.evaluate(EvaluationContext(["k0": "v3", "k1": "v7", "k2": "v5"]))
        #expect(answers.filter { text($0.json) == #"{"on":true}"# }.map(\.key) == ["f3", "f5", "f7"])
        #expect(flags.evaluate(flag: "f9", EvaluationContext(["k0": "v9"]))?.json.isEmpty == false)
        #expect(flags.evaluate(flag: "nope", EvaluationContext()) == nil)
    }
}
