import Testing
@testable import AgentCore

/// Feature flags as the service delivers them: binary Ion with imports of AWS's `ops` and `anns`
/// shared tables (vectors written by amazon-ion, `Tests/Ion/generate_vectors.py`), and Ion text.
@Suite struct IonFlagDocumentTests {
    /// The made-up texts generate_vectors.py gave the two shared tables (AWS publishes only `eq`).
    static let standInCatalog = IonCatalog([
        .init(name: "ops", version: 1, symbols: ["and", "or", "not", "eq", "gt", "gte", "lt", "lte", "begins_with",
                                                 "ends_with", "contains", "in", "matches", "exists", "split",
                                                 "op16", "op17", "op18", "op19", "op20", "op21", "op22", "op23"]),
        .init(name: "anns", version: 1, symbols: ["pct", "by", "seed", "key", "pattern", "ann6", "ann7", "ann8",
                                                  "ann9", "ann10", "ann11", "ann12"]),
    ])

    static func fixture(_ name: String) throws -> [UInt8] {
        try #require(IonFixtures.bytes("good", name))
    }

    static let contexts: [[String]] = [
        [], ["country=DE, age=30, score=2"], ["country=DE, age=30, score=1"], ["userId=a1"], ["email=ops@x.org"],
        ["userId=u-1"], ["userId=u-2"], ["userId=u-77"], ["tier=x"], ["signup=2024-02-01T00:00:00Z"], ["ratio=0.1"],
        ["email=bob@example.com"], ["tags=xbetax"],
    ]

    @Test func binaryWithTheTablesEvaluatesExactlyLikeTheText() throws {
        let binary = try IonFlagDocument.compile(try Self.fixture("flags_binary_catalog.10n"), catalog: Self.standInCatalog)
        let text = try IonFlagDocument.compile(try Self.fixture("flags_all_operators.ion"))
        #expect(binary.ruleProblems.isEmpty)
        #expect(binary.keys == ["checkout_v2", "plain"])
        var variantsSeen = Set<String>()
        for headers in Self.contexts {
            let context = try EvaluationContext.parse(contextHeaders: headers, entityId: nil)
            #expect(try binary.render(context) == text.render(context), "context \(headers)")
            variantsSeen.insert(binary.evaluate(flag: "checkout_v2", context)?.variant ?? "?")
        }
        // The contexts reach several variants, so the comparison covers more than the default.
        #expect(variantsSeen.count >= 3, "\(variantsSeen)")
    }

    @Test func unresolvedOperatorsServeTheDefaultVariantAndAreReported() throws {
        // With the agent's own catalog only ops#4 (eq) resolves; the rules use and, split, or, …
        let flags = try IonFlagDocument.compile(try Self.fixture("flags_binary_no_catalog.10n"))
        #expect(flags.keys == ["checkout_v2", "plain"])
        #expect(!flags.ruleProblems.isEmpty)
        for problem in flags.ruleProblems {
            #expect(problem.flag == "checkout_v2")
            guard case .unresolved(let what) = problem.error else {
                Issue.record("expected an unresolved symbol, got \(problem.error)")
                continue
            }
            #expect(what.contains("ops#") || what.contains("anns#"), "\(what)")
        }
        #expect(flags.ruleProblems.first?.description.contains("serving the default variant") == true)
        // Beta's rule would hold for this context; the flag serves its default instead.
        let context = try EvaluationContext.parse(contextHeaders: ["country=DE, age=30, score=2"], entityId: nil)
        #expect(flags.evaluate(flag: "checkout_v2", context)?.variant == nil)
        #expect(String(decoding: try flags.render(context, only: ["checkout_v2"]), as: UTF8.self)
                == #"{"_variant":"Default Variant","enabled":false}"#)
        #expect(String(decoding: try flags.render(context, only: ["plain"]), as: UTF8.self) == #"{"enabled":false}"#)
    }

    @Test func eqAloneResolvesThroughTheAgentsCatalog() throws {
        // (eq $country "DE") with eq as ops#4: the one AWS symbol whose text is public.
        let values = try IonReader.parse(
            #"$ion_symbol_table::{imports:[{name:"ops", version:1, max_id:23}, {name:"anns", version:1, max_id:12}]} "#
            + #"'f'::[ [ ($13 $country "DE"), '''{"_variant":"de","on":true}''' ], '''{"on":false}''' ]"#,
            catalog: IonFlagDocument.catalog)
        let terms = try IonFlagDocument.terms(from: values)
        let flags = try CompiledFlags(FeatureFlagDocument.definitions(from: terms))
        #expect(flags.ruleProblems.isEmpty)
        func answer(_ header: String) throws -> String {
            String(decoding: try flags.render(try EvaluationContext.parse(contextHeaders: [header], entityId: nil)), as: UTF8.self)
        }
        #expect(try answer("country=DE") == #"{"f":{"_variant":"de","on":true}}"#)
        #expect(try answer("country=FR") == #"{"f":{"on":false}}"#)
    }

    @Test func anUnresolvedLabelMakesTheRuleFailNotAGuess() throws {
        let pct = IonSymbol.unknown(sid: 10, importLocation: IonImportLocation(tableName: "anns", position: 1))
        let rule = IonValue(.sexp([
            IonValue(.symbol(.text("split"))),
            IonValue(.int(.int64(100)), annotations: [pct]),
            IonValue(.symbol(.text("$userId")), annotations: [.text("by")]),
        ]))
        let term = IonFlagDocument.term(rule)
        #expect(throws: RuleError.self) { try Rule(term, flagKey: "f") }
        do {
            _ = try Rule(term, flagKey: "f")
        } catch {
            #expect(error.description.contains("anns#1"), "\(error)")
        }
        // The same rule with the label resolved compiles and holds for everyone.
        var resolved = rule
        if case .sexp(var elements) = resolved.content {
            elements[1].annotations = [.text("pct")]
            resolved.content = .sexp(elements)
        }
        let compiled = try Rule(IonFlagDocument.term(resolved), flagKey: "f")
        #expect(compiled.evaluate(try EvaluationContext.parse(contextHeaders: ["userId=x"], entityId: nil)))
    }

    @Test func anUnresolvedFlagKeyRefusesTheVersion() {
        let key = IonSymbol.unknown(sid: 40, importLocation: IonImportLocation(tableName: "anns", position: 7))
        let values = [IonValue(.string(#"{"enabled":true}"#), annotations: [key])]
        #expect(throws: FeatureFlagsError.self) { try IonFlagDocument.terms(from: values) }
    }

    @Test func anUnresolvedVariantNameIsLeftOutAndTheRuleStillServes() throws {
        let name = IonSymbol.unknown(sid: 41, importLocation: IonImportLocation(tableName: "anns", position: 8))
        let pair = IonValue(.list([IonValue(.bool(true)), IonValue(.string(#"{"on":true}"#))]), annotations: [name])
        let values = [IonValue(.list([pair, IonValue(.string(#"{"on":false}"#))]), annotations: [.text("f")])]
        let flags = try CompiledFlags(FeatureFlagDocument.definitions(from: IonFlagDocument.terms(from: values)))
        let answer = flags.evaluate(flag: "f", EvaluationContext())
        #expect(answer?.variant == nil)
        #expect(answer.map { String(decoding: $0.json, as: UTF8.self) } == #"{"on":true}"#)
    }

    @Test func structsAndBlobsInARuleAreUnreadable() {
        for content: IonValue.Content in [.struct([]), .blob([1]), .clob([2])] {
            let rule = IonValue(.sexp([IonValue(.symbol(.text("eq"))), IonValue(.symbol(.text("$a"))), IonValue(content)]))
            #expect(throws: RuleError.self) { try Rule(IonFlagDocument.term(rule), flagKey: "f") }
        }
    }

    @Test func numbersAndTimestampsConvertExactly() throws {
        let values = try IonReader.parse("(gt $n 12345678901234567890123) (lt $d 1.50) (gte $t 2024-01-01T00:00Z) (eq $f 2.5e0)")
        let terms = values.map(IonFlagDocument.term)
        #expect(terms[0] == .sexp([.symbol("gt"), .symbol("$n"), .decimal("12345678901234567890123")]))
        #expect(terms[1] == .sexp([.symbol("lt"), .symbol("$d"), .decimal("1.50")]))
        let rule = try Rule(terms[2], flagKey: "f")
        #expect(rule.evaluate(try EvaluationContext.parse(contextHeaders: ["t=2024-06-01T00:00:00Z"], entityId: nil)))
        #expect(!rule.evaluate(try EvaluationContext.parse(contextHeaders: ["t=2023-06-01T00:00:00Z"], entityId: nil)))
        #expect(terms[3] == .sexp([.symbol("eq"), .symbol("$f"), .float(2.5)]))
    }

    @Test func textInAWSsDocumentedFormsAndInStrictIon() throws {
        // AWS writes lists without commas; strict Ion needs them. Both are read.
        let loose = try IonFlagDocument.compile(Array(#"'f'::[[(in $k ["a" "b"]), '''{"v":1}'''], '''{"v":0}''']"#.utf8))
        let strict = try IonFlagDocument.compile(Array(#"'f'::[[(in $k ["a", "b"]), '''{"v":1}'''], '''{"v":0}''']"#.utf8))
        let context = try EvaluationContext.parse(contextHeaders: ["k=b"], entityId: nil)
        #expect(try loose.render(context) == strict.render(context))
        #expect(String(decoding: try loose.render(context), as: UTF8.self) == #"{"f":{"v":1}}"#)
        #expect(throws: FeatureFlagsError.self) { try IonFlagDocument.compile(Array("'f'::[[(eq $k".utf8)) }
        #expect(throws: FeatureFlagsError.self) { try IonFlagDocument.compile([0xE0, 0x01, 0x00, 0xEA, 0xFF]) }
        #expect(throws: FeatureFlagsError.self) { try IonFlagDocument.compile([0xC3, 0x28]) }
    }

    @Test(arguments: [
        ("application/ion;type=AWS.AppConfig.FeatureFlags", true),
        ("application/ion; type=AWS.AppConfig.FeatureFlags", true),
        ("Application/Ion;Type=aws.appconfig.featureflags;charset=utf-8", true),
        ("application/ion", false),
        ("application/json", false),
        ("application/ion;type=Other", false),
        ("text/plain;type=AWS.AppConfig.FeatureFlags", false),
    ])
    func featureFlagContentTypes(type: String, expected: Bool) {
        #expect(IonFlagDocument.isFeatureFlags(contentType: type) == expected)
    }
}
