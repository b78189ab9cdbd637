// libFuzzer entry point for feature-flag documents: Ion reading, the IonValue → RuleTerm adapter,
// the rule compiler (patterns included) and evaluation. Built by `fuzz/run.sh flags` together with
// Sources/AgentCore/{Ion,FeatureFlags,Flags} and Crypto/Digest.swift (libcrypto for split).

/// Compiles the input with the agent's catalog (only `eq` known) and with a catalog that resolves
/// every operator, so binary inputs reach the compiler too; then evaluates and renders every flag
/// for a few contexts. Any trap, sanitizer report or timeout is a bug.
@_cdecl("LLVMFuzzerTestOneInput")
public func flagFuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    for catalog in [IonFlagDocument.catalog, everyOperator] {
        guard let flags = try? IonFlagDocument.compile(bytes, catalog: catalog) else { continue }
        for context in contexts {
            _ = flags.evaluate(context)
            _ = try? flags.render(context)
            _ = try? flags.render(context, only: Array(flags.keys.prefix(3)))
        }
        for problem in flags.ruleProblems { _ = problem.description }
    }
    // The Ion reader's bound checks, as fuzz/IonFuzz does, so one CI run covers both.
    let tight = IonLimits(maxInputBytes: 1 << 16, maxDepth: 8, maxSymbols: 50, maxContainerElements: 100,
                          maxTotalValues: 1000, maxNumberDigits: 40)
    _ = try? IonReader.parse(bytes, limits: tight)
    return 0
}

private let everyOperator = IonCatalog([
    .init(name: "ops", version: 1, symbols: ["and", "or", "not", "eq", "gt", "gte", "lt", "lte", "begins_with",
                                             "ends_with", "contains", "in", "matches", "exists", "split",
                                             nil, nil, nil, nil, nil, nil, nil, nil]),
    .init(name: "anns", version: 1, symbols: ["pct", "by", "seed", "key", "pattern", "in", nil, nil, nil, nil, nil, nil]),
])

private let contexts: [EvaluationContext] = [
    EvaluationContext(),
    EvaluationContext(["country": "DE", "userId": "u-1", "age": "30", "email": "ops@example.com"], entityId: "e-1"),
    EvaluationContext(["tier": "gold", "signup": "2024-02-01T00:00:00Z", "ratio": "0.25", "a": ""], entityId: nil),
]
