import Testing
@testable import AgentCore

private func parseError(_ headers: [String], entityId: String? = nil) -> ContextError? {
    do {
        _ = try EvaluationContext.parse(contextHeaders: headers, entityId: entityId)
        return nil
    } catch {
        return error
    }
}

private func pairs(_ context: EvaluationContext) -> [String] {
    context.entries.map { "\($0.key)=\($0.value)" }
}

struct FeatureFlagContextTests {
    @Test func commaSeparatedPairsAreTrimmed() throws {
        let context = try EvaluationContext.parse(contextHeaders: [" country = US ,tier=gold,\tbeta=true "], entityId: nil)
        #expect(pairs(context) == ["country=US", "tier=gold", "beta=true"])
        #expect(context["country"] == "US")
        #expect(context["Country"] == nil)
        #expect(context.entityId == nil)
    }

    @Test func repeatedHeadersAddUp() throws {
        let context = try EvaluationContext.parse(contextHeaders: ["country=US", "tier=gold, beta=true"], entityId: "user-1")
        #expect(pairs(context) == ["country=US", "tier=gold", "beta=true"])
        #expect(context.entityId == "user-1")
    }

    @Test func valuesAreVerbatimAfterTheFirstEquals() throws {
        let context = try EvaluationContext.parse(contextHeaders: ["token=a=b==", "pct=50%25", "empty=", "space=a b"], entityId: nil)
        #expect(context["token"] == "a=b==")
        #expect(context["pct"] == "50%25") // no percent-decoding
        #expect(context["empty"] == "")
        #expect(context["space"] == "a b")
    }

    @Test func emptyElementsAreSkipped() throws {
        let context = try EvaluationContext.parse(contextHeaders: ["a=1,,b=2,", "", " , "], entityId: nil)
        #expect(pairs(context) == ["a=1", "b=2"])
        #expect(try EvaluationContext.parse(contextHeaders: [], entityId: nil).entries.isEmpty)
    }

    @Test func malformedPairsNameTheProblem() {
        #expect(parseError(["a=1,country"]) == .missingEquals(pair: "country"))
        #expect(parseError(["a=1,country"])?.description == "malformed Context header: pair 'country' has no '=' (expected key=value)")
        #expect(parseError([" = US"]) == .emptyKey(pair: "= US"))
        #expect(parseError([" = US"])?.description == "malformed Context header: pair '= US' has an empty key")
        #expect(parseError(["a=1", "b=2, a=3"]) == .duplicateKey("a"))
        #expect(parseError(["a=1, a=1"])?.description == "malformed Context header: key 'a' is given more than once")
        #expect(parseError(["a=1"]) == nil)
        #expect(ContextError.duplicateKey("a").httpStatus == 400)
    }

    @Test func keysAreComparedByExactBytes() throws {
        // Precomposed and decomposed é are two different keys.
        let context = try EvaluationContext.parse(contextHeaders: ["caf\u{E9}=1", "cafe\u{301}=2"], entityId: nil)
        #expect(context["caf\u{E9}"] == "1")
        #expect(context["cafe\u{301}"] == "2")
    }

    @Test func totalSizeIsBounded() {
        let limit = EvaluationContext.maximumBytes
        let fits = "k=" + String(repeating: "v", count: limit - 2)
        #expect(parseError([fits]) == nil)
        #expect(parseError([fits + "v"]) == .tooLarge(bytes: limit + 1, limit: limit))
        // Counted over all headers together.
        #expect(parseError(["a=" + String(repeating: "v", count: limit / 2), "b=" + String(repeating: "v", count: limit / 2)])
                == .tooLarge(bytes: limit + 4, limit: limit))
    }

    @Test func pairCountIsBounded() {
        let hundred = (0..<EvaluationContext.maximumPairs).map { "k\($0)=v" }
        #expect(parseError([hundred.joined(separator: ",")]) == nil)
        #expect(parseError(hundred + ["one=more"]) == .tooManyPairs(limit: EvaluationContext.maximumPairs))
    }

    @Test func entityIdIsBounded() throws {
        let limit = EvaluationContext.maximumEntityIdBytes
        #expect(try EvaluationContext.parse(contextHeaders: [], entityId: String(repeating: "e", count: limit)).entityId?.utf8.count == limit)
        #expect(parseError([], entityId: String(repeating: "e", count: limit + 1)) == .entityIdTooLong(bytes: limit + 1, limit: limit))
        // The bound is in bytes: 1025 two-byte characters are over it.
        #expect(parseError([], entityId: String(repeating: "\u{E9}", count: 1025)) == .entityIdTooLong(bytes: 2050, limit: limit))
        #expect(try EvaluationContext.parse(contextHeaders: [], entityId: "").entityId == nil)
        #expect(ContextError.entityIdTooLong(bytes: 2049, limit: 2048).description == "Entity-Id too long: 2049 bytes, at most 2048")
    }

    @Test func programmaticContextKeepsTheLastDuplicate() {
        let context = EvaluationContext(["a": "1", "b": "2", "a": "3"], entityId: "")
        #expect(pairs(context) == ["a=3", "b=2"])
        #expect(context.entityId == nil)
    }
}
