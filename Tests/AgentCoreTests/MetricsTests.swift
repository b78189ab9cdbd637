import Dispatch
import Foundation
import Testing
@testable import AgentCore

struct MetricsTests {
    // MARK: Exposition format

    @Test func counterFamilyExposesHelpTypeAndSortedSamples() throws {
        let registry = MetricsRegistry()
        let requests = try registry.counterFamily("http_requests_total", help: "Requests.", labelNames: ["route", "status"])
        requests.labels(["ping", "200"]).increment()
        requests.labels(["configuration", "304"]).increment(by: 2)
        requests.labels(["configuration", "200"]).increment(by: 5)
        #expect(registry.exposition() == """
            # HELP http_requests_total Requests.
            # TYPE http_requests_total counter
            http_requests_total{route="configuration",status="200"} 5
            http_requests_total{route="configuration",status="304"} 2
            http_requests_total{route="ping",status="200"} 1

            """)
    }

    @Test func familiesAreOrderedByNameAndEmptyOnesOmitted() throws {
        let registry = MetricsRegistry()
        let zeta = try registry.gauge("zeta", help: "Z.")
        _ = try registry.counterFamily("middle_total", help: "No series yet.", labelNames: ["a"])
        let alpha = try registry.counter("alpha_total", help: "A.")
        zeta.set(-2.5)
        alpha.increment()
        #expect(registry.exposition() == """
            # HELP alpha_total A.
            # TYPE alpha_total counter
            alpha_total 1
            # HELP zeta Z.
            # TYPE zeta gauge
            zeta -2.5

            """)
    }

    @Test func labelValuesAndHelpAreEscaped() throws {
        let registry = MetricsRegistry()
        let family = try registry.gaugeFamily("escaped", help: "Back\\slash and\nnewline \"quoted\".", labelNames: ["path"])
        family.set(labels: ["C:\\dir \"x\"\nnext"], value: 1)
        #expect(registry.exposition() == #"""
            # HELP escaped Back\\slash and\nnewline "quoted".
            # TYPE escaped gauge
            escaped{path="C:\\dir \"x\"\nnext"} 1

            """#)
    }

    @Test func numbersAreFormattedAsPrometheusParsesThem() {
        #expect(PrometheusText.format(.nan) == "NaN")
        #expect(PrometheusText.format(.infinity) == "+Inf")
        #expect(PrometheusText.format(-.infinity) == "-Inf")
        #expect(PrometheusText.format(1) == "1")
        #expect(PrometheusText.format(-0.0) == "0")
        #expect(PrometheusText.format(0.25) == "0.25")
        #expect(PrometheusText.format(0.00005) == "5e-05")
        #expect(PrometheusText.format(1718000000.125) == "1718000000.125")
        #expect(PrometheusText.format(1e20) == "1e+20")
    }

    @Test func gaugeAcceptsSpecialValues() throws {
        let registry = MetricsRegistry()
        let gauge = try registry.gaugeFamily("special", help: "S.", labelNames: ["k"])
        gauge.set(labels: ["nan"], value: .nan)
        gauge.set(labels: ["inf"], value: .infinity)
        gauge.set(labels: ["neg"], value: -.infinity)
        #expect(registry.exposition().hasSuffix("""
            special{k="inf"} +Inf
            special{k="nan"} NaN
            special{k="neg"} -Inf

            """))
    }

    // MARK: Counters and gauges

    @Test func counterIgnoresNegativeIncrementsAndKeepsFractions() throws {
        let registry = MetricsRegistry()
        let counter = try registry.counter("c_total", help: "C.")
        counter.increment(by: 3)
        counter.increment(by: -1)
        counter.increment(by: -0.5)
        counter.increment(by: Double.nan)
        #expect(counter.value == 3)
        #expect(registry.exposition().hasSuffix("c_total 3\n"))
        counter.increment(by: 0.25)
        #expect(registry.exposition().hasSuffix("c_total 3.25\n"))
    }

    @Test func gaugeSetsIncrementsAndDecrements() throws {
        let gauge = try MetricsRegistry().gauge("g", help: "G.")
        gauge.increment()
        gauge.increment(by: 2.5)
        gauge.decrement()
        #expect(gauge.value == 2.5)
        gauge.set(7)
        #expect(gauge.value == 7)
        gauge.setToCurrentTime()
        #expect(gauge.value > 1_600_000_000)
    }

    // MARK: Histograms

    @Test func histogramBucketsAreCumulativeWithBoundsInclusive() throws {
        let registry = MetricsRegistry()
        let family = try registry.histogramFamily("latency_seconds", help: "L.", labelNames: ["route"], buckets: [0.1, 0.5, 1])
        let histogram = family.labels(["ping"])
        for value in [0.05, 0.1, 0.3, 0.5, 0.75, 2, 3] { histogram.observe(value) }
        histogram.observe(.nan)
        let snapshot = histogram.snapshot
        #expect(snapshot.cumulativeCounts == [2, 4, 5, 7])
        #expect(snapshot.count == 7)
        #expect(snapshot.sum == 6.7)
        #expect(registry.exposition() == """
            # HELP latency_seconds L.
            # TYPE latency_seconds histogram
            latency_seconds_bucket{route="ping",le="0.1"} 2
            latency_seconds_bucket{route="ping",le="0.5"} 4
            latency_seconds_bucket{route="ping",le="1"} 5
            latency_seconds_bucket{route="ping",le="+Inf"} 7
            latency_seconds_sum{route="ping"} 6.7
            latency_seconds_count{route="ping"} 7

            """)
    }

    @Test func histogramObservesDurationsInSeconds() throws {
        let histogram = try MetricsRegistry().histogram("d_seconds", help: "D.", buckets: [0.001, 0.01])
        histogram.observe(Duration.microseconds(500))
        histogram.observe(Duration.milliseconds(5))
        #expect(histogram.snapshot.cumulativeCounts == [1, 2, 2])
        #expect(abs(histogram.snapshot.sum - 0.0055) < 1e-12)
    }

    @Test func histogramWithoutLabelsAndTrailingInfinityBound() throws {
        let registry = MetricsRegistry()
        let histogram = try registry.histogram("h", help: "H.", buckets: [1, .infinity])
        histogram.observe(1)
        #expect(registry.exposition().contains("""
            h_bucket{le="1"} 1
            h_bucket{le="+Inf"} 1
            h_sum 1
            h_count 1

            """))
    }

    // MARK: Concurrency

    @Test func concurrentUpdatesFromEightThreadsSumExactly() throws {
        let registry = MetricsRegistry()
        let counters = try registry.counterFamily("hits_total", help: "H.", labelNames: ["k"])
        let fractions = try registry.counter("fractions_total", help: "F.")
        let gauge = try registry.gauge("level", help: "L.")
        let histogram = try registry.histogram("obs", help: "O.", buckets: [1, 2])
        let threads = 8, perThread = 100_000
        DispatchQueue.concurrentPerform(iterations: threads) { thread in
            // Each thread looks its series up itself, racing the creation of the shared one.
            let shared = counters.labels(["shared"])
            let own = counters.labels(["t\(thread)"])
            for i in 0..<perThread {
                shared.increment()
                own.increment()
                fractions.increment(by: 0.5)
                gauge.increment()
                histogram.observe(Double(i % 3))
            }
        }
        #expect(counters.labels(["shared"]).value == Double(threads * perThread))
        for thread in 0..<threads {
            #expect(counters.labels(["t\(thread)"]).value == Double(perThread))
        }
        #expect(fractions.value == Double(threads * perThread) / 2)
        #expect(gauge.value == Double(threads * perThread))
        let snapshot = histogram.snapshot
        #expect(snapshot.count == UInt64(threads * perThread))
        // i % 3 is 0, 1, 2 for 33_334, 33_333, 33_333 of each thread's 100_000 values.
        let expectedCounts: [UInt64] = [533_336, 800_000, 800_000]
        #expect(snapshot.cumulativeCounts == expectedCounts)
        let expectedSum: Double = 8 * 99_999
        #expect(snapshot.sum == expectedSum)
    }

    @Test func httpMetricsFromManyThreadsLandInOneSeriesPerRouteAndStatus() throws {
        let metrics = try AgentMetrics(registry: MetricsRegistry())
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            for i in 0..<10_000 {
                metrics.http.record(route: .configuration, status: 200, seconds: 0.0002)
                metrics.http.record(route: .flag, status: 404, duration: .microseconds(30))
                if i % 10 == 0 { metrics.http.record(route: .configuration, status: 304, seconds: 0.0002) }
            }
        }
        #expect(metrics.http.requests.labels(["configuration", "200"]).value == 80_000)
        #expect(metrics.http.requests.labels(["configuration", "304"]).value == 8_000)
        #expect(metrics.http.requests.labels(["flag", "404"]).value == 80_000)
        #expect(metrics.http.requestCounter(route: .flag, status: 404) === metrics.http.requests.labels(["flag", "404"]))
        let configuration = metrics.http.duration.labels(["configuration"]).snapshot
        #expect(configuration.cumulativeCounts.first == 0)
        #expect(configuration.cumulativeCounts[2] == 88_000) // 0.0002 ≤ 0.00025
        #expect(metrics.http.duration.labels(["flag"]).snapshot.cumulativeCounts.first == 80_000)
        let text = metrics.registry.exposition()
        #expect(text.components(separatedBy: "appconfig_agent_http_requests_total{").count - 1 == 3)
    }

    @Test func httpStatusOutsideTheCachedRangeStillCounts() throws {
        let metrics = try AgentMetrics(registry: MetricsRegistry())
        metrics.http.record(route: .other, status: 999, seconds: 0.01)
        metrics.http.record(route: .other, status: 999, seconds: 0.01)
        #expect(metrics.http.requests.labels(["other", "999"]).value == 2)
    }

    // MARK: Replacing series

    @Test func configurationVersionChangeRemovesTheOldSeries() throws {
        let metrics = try AgentMetrics(registry: MetricsRegistry())
        let a = try #require(ConfigurationKey(parsing: "A:E:P"))
        let b = try #require(ConfigurationKey(parsing: "B:E:P"))
        metrics.setConfigurationVersion(a, version: "v6", source: "appconfig")
        metrics.setConfigurationVersion(b, version: "1", source: "local")
        metrics.setConfigurationVersion(a, version: "v7", source: "appconfig")
        let lines = metrics.registry.exposition().split(separator: "\n").filter { $0.hasPrefix("appconfig_agent_configuration_version{") }
        #expect(lines == [
            #"appconfig_agent_configuration_version{configuration="A:E:P",version="v7",source="appconfig"} 1"#,
            #"appconfig_agent_configuration_version{configuration="B:E:P",version="1",source="local"} 1"#,
        ])
    }

    @Test func replaceAllAndRemoveDropSeries() throws {
        let registry = MetricsRegistry()
        let family = try registry.gaugeFamily("info", help: "I.", labelNames: ["k"])
        family.set(labels: ["old"], value: 1)
        family.set(labels: ["kept"], value: 1)
        family.replaceAll([["kept"]: 2, ["new"]: 3])
        #expect(registry.exposition().hasSuffix("info{k=\"kept\"} 2\ninfo{k=\"new\"} 3\n"))
        family.remove(labels: ["kept"])
        family.removeAll { $0 == ["new"] }
        #expect(registry.exposition() == "")
    }

    @Test func forgetConfigurationDropsOnlyThatConfiguration() throws {
        let metrics = try AgentMetrics(registry: MetricsRegistry())
        let a = try #require(ConfigurationKey(parsing: "A:E:P"))
        let b = try #require(ConfigurationKey(parsing: "B:E:P"))
        for key in [a, b] {
            metrics.recordPoll(key, outcome: .changed)
            metrics.setConfigurationVersion(key, version: "1", source: "appconfig")
            metrics.recordBackupWriteFailure(key)
            metrics.recordWriteToFailure(key)
        }
        metrics.forgetConfiguration(a)
        let text = metrics.registry.exposition()
        #expect(!text.contains("A:E:P"))
        #expect(text.components(separatedBy: "configuration=\"B:E:P\"").count - 1 == 5)
    }

    // MARK: Registration

    @Test(arguments: ["", "1abc", "a-b", "a b", "é", "a.b"])
    func invalidMetricNamesAreRejected(name: String) {
        #expect(throws: MetricsError.invalidMetricName(name)) {
            try MetricsRegistry().counterFamily(name, help: "x")
        }
    }

    @Test(arguments: ["__reserved", "1a", "a:b", "", "a-b"])
    func invalidLabelNamesAreRejected(label: String) {
        #expect(throws: MetricsError.invalidLabelName(metric: "m", label: label)) {
            try MetricsRegistry().gaugeFamily("m", help: "x", labelNames: [label])
        }
    }

    @Test func validNamesWithColonsAndUnderscoresAreAccepted() throws {
        let registry = MetricsRegistry()
        _ = try registry.counterFamily("_ns:sub_system:name_total", help: "x", labelNames: ["_a", "b_2"])
        _ = try registry.gaugeFamily(":g9", help: "x")
    }

    @Test func badLabelSetsAndBucketsAreRejected() {
        let registry = MetricsRegistry()
        #expect(throws: MetricsError.duplicateLabelName(metric: "m", label: "a")) {
            try registry.counterFamily("m", help: "x", labelNames: ["a", "a"])
        }
        #expect(throws: MetricsError.reservedLabelName(metric: "h", label: "le")) {
            try registry.histogramFamily("h", help: "x", labelNames: ["le"], buckets: [1])
        }
        #expect(throws: MetricsError.self) { try registry.histogramFamily("h", help: "x", buckets: [1, 1]) }
        #expect(throws: MetricsError.self) { try registry.histogramFamily("h", help: "x", buckets: [2, 1]) }
        #expect(throws: MetricsError.self) { try registry.histogramFamily("h", help: "x", buckets: [.nan]) }
    }

    @Test func sameNameWithAnotherShapeOrCollidingSamplesIsRejected() throws {
        let registry = MetricsRegistry()
        let first = try registry.counterFamily("dup_total", help: "x", labelNames: ["a"])
        #expect(try registry.counterFamily("dup_total", help: "x", labelNames: ["a"]) === first)
        #expect(throws: MetricsError.alreadyRegistered("dup_total")) {
            try registry.counterFamily("dup_total", help: "x", labelNames: ["b"])
        }
        #expect(throws: MetricsError.alreadyRegistered("dup_total")) {
            try registry.gaugeFamily("dup_total", help: "x", labelNames: ["a"])
        }
        _ = try registry.histogramFamily("lat", help: "x", buckets: [1])
        #expect(throws: MetricsError.nameCollision(metric: "lat_count", sample: "lat_count")) {
            try registry.counterFamily("lat_count", help: "x")
        }
        _ = try registry.gaugeFamily("size_sum", help: "x")
        #expect(throws: MetricsError.nameCollision(metric: "size", sample: "size_sum")) {
            try registry.histogramFamily("size", help: "x", buckets: [1])
        }
    }

    // MARK: Agent metrics

    @Test func agentMetricsRegisterTwiceOnOneRegistryAsTheSameFamilies() throws {
        let registry = MetricsRegistry()
        let first = try AgentMetrics(registry: registry, version: "1.2.3")
        let second = try AgentMetrics(registry: registry, version: "1.2.3")
        #expect(first.polls === second.polls)
        #expect(first.http.duration === second.http.duration)
        #expect(first.longPollWaiters === second.longPollWaiters)
        #expect(registry.exposition() == """
            # HELP appconfig_agent_build_info The agent's version (always 1; the version is a label).
            # TYPE appconfig_agent_build_info gauge
            appconfig_agent_build_info{version="1.2.3"} 1
            # HELP appconfig_agent_client_connections Open HTTP client connections.
            # TYPE appconfig_agent_client_connections gauge
            appconfig_agent_client_connections 0
            # HELP appconfig_agent_long_poll_waiters Requests currently waiting for a configuration to change.
            # TYPE appconfig_agent_long_poll_waiters gauge
            appconfig_agent_long_poll_waiters 0

            """)
    }

    @Test func pollOutcomesMapFromErrorsAndOnlySuccessStampsTheTime() throws {
        #expect(PollOutcomeLabel(DataPlaneError.server(status: 503)) == .serverError)
        #expect(PollOutcomeLabel(DataPlaneError.throttled) == .throttled)
        #expect(PollOutcomeLabel(DataPlaneError.resourceNotFound) == .notFound)
        #expect(PollOutcomeLabel(DataPlaneError.malformedResponse("x")) == .malformed)
        #expect(PollOutcomeLabel.networkError.rawValue == "network_error")
        let metrics = try AgentMetrics(registry: MetricsRegistry())
        let key = try #require(ConfigurationKey(parsing: "A:E:P"))
        metrics.recordPoll(key, outcome: .throttled)
        #expect(!metrics.registry.exposition().contains("last_successful_poll"))
        metrics.recordPoll(key, outcome: .unchanged)
        metrics.recordPoll(key, outcome: .unchanged)
        #expect(metrics.lastSuccessfulPoll.labels(["A:E:P"]).value > 1_600_000_000)
        #expect(metrics.polls.labels(["A:E:P", "unchanged"]).value == 2)
        #expect(metrics.polls.labels(["A:E:P", "throttled"]).value == 1)
    }

    // MARK: Checked by the Python Prometheus parser

    /// Every family with series, including awkward label values, as `/metrics` would show them.
    static func populatedRegistry() throws -> MetricsRegistry {
        let metrics = try AgentMetrics(registry: MetricsRegistry())
        let key = try #require(ConfigurationKey(parsing: "App:Env:Profile"))
        let odd = try #require(ConfigurationKey(parsing: #"A\pp:"Env":P"#))
        for route in HTTPRouteLabel.allCases {
            metrics.http.record(route: route, status: 200, seconds: 0.0003)
        }
        metrics.http.record(route: .configuration, status: 304, seconds: 2)
        metrics.http.record(route: .flag, status: 404, seconds: 0.00001)
        for outcome in PollOutcomeLabel.allCases { metrics.recordPoll(key, outcome: outcome) }
        metrics.recordPoll(odd, outcome: .changed)
        metrics.setConfigurationVersion(key, version: "v7\nsecond line", source: "appconfig")
        metrics.setConfigurationVersion(odd, version: "1", source: "local")
        metrics.recordBackupWriteFailure(key)
        metrics.recordWriteToFailure(key)
        metrics.recordCredentialRefresh(source: "imds", outcome: .success)
        metrics.recordCredentialRefresh(source: "sts", outcome: .failure)
        metrics.longPollWaiters.increment(by: 3)
        metrics.clientConnections.set(12)
        let special = try metrics.registry.gaugeFamily("test_special_values", help: "NaN and infinities.", labelNames: ["k"])
        special.set(labels: ["nan"], value: .nan)
        special.set(labels: ["inf"], value: .infinity)
        special.set(labels: ["tiny"], value: 1e-9)
        return metrics.registry
    }

    /// With `METRICS_EXPOSITION_OUT` set, writes the populated registry there for `check_exposition.py`.
    @Test func populatedExpositionIsWrittenForTheChecker() throws {
        let text = try Self.populatedRegistry().exposition()
        #expect(text.hasPrefix("# HELP appconfig_agent_backup_write_failures_total "))
        #expect(text.contains(#"configuration="A\\pp:\"Env"#))
        #expect(text.contains(#"version="v7\nsecond line""#))
        if let path = ProcessInfo.processInfo.environment["METRICS_EXPOSITION_OUT"], !path.isEmpty {
            try text.write(toFile: path, atomically: true, encoding: .utf8)
        }
    }

    static let checker = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Metrics/check_exposition.py")

    static func pythonHasPrometheusClient() -> Bool {
        (try? run(["python3", "-c", "import prometheus_client"], input: "").status) == 0
    }

    static func run(_ arguments: [String], input: String) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        let stdin = Pipe(), stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stdout
        try process.run()
        // Write and read on separate threads: either pipe may fill while the other waits.
        let writer = DispatchQueue(label: "metrics-checker-stdin")
        writer.async {
            stdin.fileHandleForWriting.write(Data(input.utf8))
            try? stdin.fileHandleForWriting.close()
        }
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }

    @Test(.enabled(if: pythonHasPrometheusClient(), "needs python3 with prometheus-client"))
    func pythonPrometheusParserAcceptsTheExposition() throws {
        let result = try Self.run(["python3", Self.checker.path], input: try Self.populatedRegistry().exposition())
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("appconfig_agent_http_request_duration_seconds histogram"))
    }

    @Test(.enabled(if: pythonHasPrometheusClient(), "needs python3 with prometheus-client"))
    func pythonCheckerRejectsBrokenExposition() throws {
        let broken = "# TYPE broken counter\nbroken{label=\"unterminated} 1\n"
        #expect(try Self.run(["python3", Self.checker.path], input: broken).status == 1)
    }
}
