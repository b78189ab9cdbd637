// Evaluation cost of variant feature flags: `make bench-flags` (or
// `swift run -c release flag-bench [iterations]`). A benchmark, not a test: it prints figures.
#if canImport(Glibc)
import Glibc
#endif
import AgentCore

enum FeatureFlagBenchmark {
    struct Result {
        let nanosecondsPerFlag: Double
        let nanosecondsPerRender: Double
        let selectedVariants: Int
    }

    /// 20 flags × 5 variants with typical rules (eq, in, matches, split, and of eq and split) and a
    /// 3-key context that none of the first four variants selects, so most rules run.
    static func flags() throws -> CompiledFlags {
        let definitions: [FeatureFlagDefinition] = try (0..<20).map { index in
            let rules = [
                #"(eq $country "C\#(index)")"#,
                #"(in $tier ["gold" "platinum" "t\#(index)"])"#,
                #"(matches in::$tier pattern::"^(plat|diamond)[0-9]*$")"#,
                #"(split pct::10 by::$userId seed::"s\#(index)")"#,
                #"(and (eq $country "FR") (split pct::50 by::$userId))"#,
            ]
            let variants = try rules.enumerated().map { position, text in
                FeatureFlagVariant(rule: try RuleTextParser.parse(text),
                                   json: Array(#"{"enabled":true,"variant":\#(position),"limit":\#(index * 10)}"#.utf8),
                                   name: "V\(position)")
            }
            return .variants(key: "flag_\(index)", variants: variants,
                             defaultJSON: Array(#"{"enabled":false}"#.utf8), defaultName: "Default")
        }
        return try CompiledFlags(definitions)
    }

    static func run(iterations: Int) throws -> Result {
        let flags = try flags()
        let context = try EvaluationContext.parse(contextHeaders: ["country=FR, tier=silver", "userId=user-12345"], entityId: nil)
        var selected = 0
        for _ in 0..<min(iterations, 1000) { selected &+= flags.evaluate(context).count } // warm up
        let evaluation = threadCPUNanoseconds {
            for _ in 0..<iterations {
                for flag in flags.evaluate(context) where flag.variant != "Default" { selected &+= 1 }
            }
        }
        var bytes = 0
        let rendering = threadCPUNanoseconds {
            for _ in 0..<iterations { bytes &+= (try? flags.render(context))?.count ?? 0 }
        }
        return Result(nanosecondsPerFlag: evaluation / Double(iterations * flags.count),
                      nanosecondsPerRender: rendering / Double(iterations),
                      selectedVariants: selected + bytes % 1)
    }

    /// CPU time of this thread, not wall-clock time: on a shared machine the figure then leaves out
    /// the time spent waiting for a core.
    static func threadCPUNanoseconds(_ body: () -> Void) -> Double {
        var start = timespec()
        var end = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &start)
        body()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &end)
        return Double(end.tv_sec - start.tv_sec) * 1e9 + Double(end.tv_nsec - start.tv_nsec)
    }
}

let iterations = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 20_000 : 20_000
do {
    let result = try FeatureFlagBenchmark.run(iterations: iterations)
    print("feature flags (20 flags × 5 variants, 3-key context, \(iterations) iterations, thread CPU time):")
    print("  \(Int(result.nanosecondsPerFlag)) ns per flag evaluation")
    print("  \(Int(result.nanosecondsPerRender)) ns per whole-profile render (20 flags, JSON out)")
    guard result.selectedVariants > 0 else { fatalError("no variant was ever selected: the benchmark measures nothing") }
} catch {
    print("flag-bench: \(error)")
    exit(1)
}
