import Testing
@testable import AgentCore

@Suite(.serialized) struct LoggerTests {
    @Test func lineHasAgentPrefixTimestampAndLevel() {
        let sink = MemoryLogSink()
        Log.bootstrap(level: .info, sink: sink)
        log.info("hello")
        log.debug("hidden")
        #expect(sink.lines.count == 1)
        let line = sink.lines[0]
        #expect(line.hasPrefix("[appconfig agent] "))
        #expect(line.hasSuffix(" INFO hello"))
        #expect(line.wholeMatch(of: /\[appconfig agent\] \d{4}\/\d{2}\/\d{2} \d{2}:\d{2}:\d{2} INFO hello/) != nil)
    }

    @Test func registeredSecretIsRedactedFromEveryLine() {
        let sink = MemoryLogSink()
        Log.bootstrap(level: .trace, sink: sink)
        Log.registerSecret("s3cr3t-token-value")
        log.trace("header was s3cr3t-token-value")
        #expect(sink.lines.count == 1)
        #expect(!sink.lines[0].contains("s3cr3t-token-value"))
        #expect(sink.lines[0].contains("[redacted]"))
    }

    @Test func rotatingSecretsAreBoundedAndPermanentOnesStay() {
        var registry = SecretRegistry()
        registry.register("access-token", permanent: true)
        for index in 0..<(SecretRegistry.maximumRotating + 100) { registry.register("rotating-\(index)", permanent: false) }
        #expect(registry.all.count == SecretRegistry.maximumRotating + 1)
        #expect(registry.contains("access-token"))
        #expect(!registry.contains("rotating-0"))
        #expect(registry.contains("rotating-\(SecretRegistry.maximumRotating + 99)"))
        // Registering again makes a secret recent: it outlives those registered in between.
        registry.register("rotating-100", permanent: false)
        for index in 0..<(SecretRegistry.maximumRotating - 1) { registry.register("later-\(index)", permanent: false) }
        #expect(registry.contains("rotating-100"))
        #expect(!registry.contains("rotating-101"))
        registry.register("abc", permanent: true)
        #expect(!registry.contains("abc"))
    }

    @Test func levelNoneSilencesEverything() {
        let sink = MemoryLogSink()
        Log.bootstrap(level: .none, sink: sink)
        log.fatal("x")
        #expect(sink.lines.isEmpty)
    }

    @Test func levelsParseInAnyCase() {
        #expect(LogLevel(parsing: "TRACE") == .trace)
        #expect(LogLevel(parsing: "Warn") == .warn)
        #expect(LogLevel(parsing: "none") == LogLevel.none)
        #expect(LogLevel(parsing: "verbose") == nil)
    }
}
