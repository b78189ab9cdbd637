import Testing
@testable import AgentCore

private func rule(_ text: String, flag: String = "flag") throws -> Rule {
    try Rule(RuleTextParser.parse(text), flagKey: flag)
}

private func count(_ rule: Rule, key: String = "userId", ids: Range<Int>) -> Int {
    ids.reduce(0) { $0 + (rule.evaluate(EvaluationContext([key: "user-\($1)"])) ? 1 : 0) }
}

struct FeatureFlagSplitTests {
    /// Pinned values: changing the hash moves entities between variants, so it must never change.
    @Test func hashIsTheDocumentedSHA256Prefix() {
        // python3: int.from_bytes(hashlib.sha256(b"tiered_release\0user-42").digest()[:8], "big")
        #expect(SplitHash.hash(seed: "tiered_release", value: "user-42") == 0x4FA6_149F_D402_7007)
        #expect(SplitHash.hash(seed: "s", value: "") == 0x28A3_D6D5_37E5_D509)
        #expect(abs(SplitHash.percentage(seed: "tiered_release", value: "user-42") - 31.11279382901644) < 1e-9)
    }

    @Test func variantsWithOneSeedShareAHashAndStayCumulative() throws {
        // pct::20 then pct::25 on one flag: the second split reuses the first one's hash.
        let flags = try CompiledFlags([
            .variants(key: "rollout", variants: [
                FeatureFlagVariant(rule: try RuleTextParser.parse("(split pct::20 by::$userId)"), json: Array(#"{"v":"A"}"#.utf8), name: "A"),
                FeatureFlagVariant(rule: try RuleTextParser.parse("(split pct::25 by::$userId)"), json: Array(#"{"v":"B"}"#.utf8), name: "B"),
            ], defaultJSON: Array(#"{"v":"C"}"#.utf8), defaultName: "C"),
        ])
        let twentyFive = try rule("(split pct::25 by::$userId)", flag: "rollout")
        var counts: [String: Int] = [:]
        for id in 0..<20_000 {
            let context = EvaluationContext(["userId": "user-\(id)"])
            let variant = flags.evaluate(flag: "rollout", context)?.variant ?? "?"
            counts[variant, default: 0] += 1
            #expect((variant != "C") == twentyFive.evaluate(context))
        }
        #expect(abs(Double(counts["A", default: 0]) / 200 - 20) < 1.5)
        #expect(abs(Double(counts["B", default: 0]) / 200 - 5) < 1)
    }

    @Test func splitUsesTheFlagKeyAsTheDefaultSeed() throws {
        // user-42 falls at 31.11 % for seed "tiered_release".
        let split = #"(split pct::32 by::$userId)"#
        #expect(try rule(split, flag: "tiered_release").evaluate(EvaluationContext(["userId": "user-42"])))
        #expect(try !rule(#"(split pct::31 by::$userId)"#, flag: "tiered_release").evaluate(EvaluationContext(["userId": "user-42"])))
        // An explicit seed replaces the flag key: every flag with that seed agrees.
        let seeded = #"(split pct::31.2 by::$userId seed::"tiered_release")"#
        #expect(try rule(seeded, flag: "some_other_flag").evaluate(EvaluationContext(["userId": "user-42"])))
        #expect(try !rule(#"(split pct::31.1 by::$userId seed::"tiered_release")"#, flag: "x").evaluate(EvaluationContext(["userId": "user-42"])))
    }

    @Test func splitIsDeterministicAndSeedDependent() throws {
        let first = try rule("(split pct::50 by::$userId)", flag: "a")
        let again = try rule("(split pct::50 by::$userId)", flag: "a")
        let other = try rule("(split pct::50 by::$userId)", flag: "b")
        var differ = 0
        for id in 0..<1000 {
            let context = EvaluationContext(["userId": "user-\(id)"])
            #expect(first.evaluate(context) == again.evaluate(context))
            if first.evaluate(context) != other.evaluate(context) { differ += 1 }
        }
        // Independent 50 % splits disagree about half the time.
        #expect(differ > 400 && differ < 600)
    }

    @Test func splitSelectsItsPercentageAndLaterRangesContainEarlierOnes() throws {
        let ids = 0..<100_000
        let twenty = try rule(#"(split pct::20 by::$userId seed::"s")"#)
        let twentyFive = try rule(#"(split pct::25 by::$userId seed::"s")"#)
        var first = 0
        var second = 0
        var firstOutsideSecond = 0
        for id in ids {
            let context = EvaluationContext(["userId": "user-\(id)"])
            let inTwenty = twenty.evaluate(context)
            let inTwentyFive = twentyFive.evaluate(context)
            if inTwenty { first += 1 } else if inTwentyFive { second += 1 }
            if inTwenty && !inTwentyFive { firstOutsideSecond += 1 }
        }
        // Variants tried in order: 20 % for the first, 5 % for the second.
        #expect(abs(Double(first) / 1000 - 20) < 1, "first variant \(first)")
        #expect(abs(Double(second) / 1000 - 5) < 1, "second variant \(second)")
        #expect(firstOutsideSecond == 0)
    }

    @Test func fractionalAndBoundaryPercentages() throws {
        let ids = 0..<20_000
        let eighth = count(try rule("(split pct::12.5 by::$userId)"), ids: ids)
        #expect(abs(Double(eighth) / 200 - 12.5) < 1, "12.5 % selected \(eighth)")
        #expect(count(try rule("(split pct::0 by::$userId)"), ids: 0..<2000) == 0)
        #expect(count(try rule("(split pct::100 by::$userId)"), ids: 0..<2000) == 2000)
        #expect(count(try rule("(split pct::1.0e2 by::$userId)"), ids: 0..<500) == 500)
    }

    @Test func thresholdIsExact() {
        let two64 = UInt128(1) << 64
        func threshold(_ text: String) -> UInt128 {
            SplitHash.threshold(percent: RuleNumber(parsing: text) ?? RuleNumber(-1))
        }
        #expect(threshold("0") == 0)
        #expect(threshold("100") == two64)
        #expect(threshold("50") == two64 / 2)
        #expect(threshold("12.5") == two64 / 8)
        #expect(threshold("25") == two64 / 4)
        // 20 % of 2^64 is not an integer: the threshold rounds up.
        #expect(threshold("20") == (two64 * 20 + 99) / 100)
        #expect(threshold("1e-40") == 1) // a tiny positive percentage still admits h = 0
        #expect(threshold("20") < threshold("20.0000001"))
    }

    @Test func splitWithoutByUsesTheEntityId() throws {
        let split = try rule("(split pct::32)", flag: "tiered_release")
        #expect(split.evaluate(EvaluationContext(entityId: "user-42")))
        #expect(!split.evaluate(EvaluationContext(["userId": "user-42"]))) // no Entity-Id: false
        let narrow = try rule("(split pct::31)", flag: "tiered_release")
        #expect(!narrow.evaluate(EvaluationContext(entityId: "user-42")))
        // With by::, the Entity-Id is not used, and a missing key is false even at 100 %.
        let everyone = try rule("(split pct::100 by::$userId)")
        #expect(!everyone.evaluate(EvaluationContext(entityId: "user-42")))
        #expect(everyone.evaluate(EvaluationContext(["userId": ""])))
    }
}
