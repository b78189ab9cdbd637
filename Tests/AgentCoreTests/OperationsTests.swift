import Synchronization
import Testing
@testable import AgentCore

/// ETag, route labels, the watchdog's decision, version metrics and the health check's target.
@Suite struct OperationsTests {
    let path = "/applications/A/environments/E/configurations/P"

    @Test func reusedVersionLabelWithNewContentGetsANewETag() {
        let first = payload("A:E:P", #"{"a":1}"#, version: "7", label: "7")
        let reused = payload("A:E:P", #"{"a":2}"#, version: "7", label: "7")
        #expect(first.etag != reused.etag)
        #expect(first.etag == payload("A:E:P", #"{"a":1}"#, version: "7", label: "7").etag)
        #expect(first.etag == "\"7-\(ContentVersion.of(Array(#"{"a":1}"#.utf8)))\"")
        // Without a label the version is the fingerprint already: not repeated.
        let unlabelled = ContentVersion.of(Array("x".utf8))
        #expect(payload("A:E:P", "x", version: unlabelled).etag == "\"\(unlabelled)\"")

        // A client holding the first content is answered with the new one, not 304.
        let store = ConfigurationStore()
        store.put(reused)
        let response = Router(store: store, accessToken: nil).route(TestRequest(.get, path, headers: [("If-None-Match", first.etag)]))
        #expect(response.status == 200)
        #expect(response.header("Configuration-Version") == "7")
        #expect(response.header("ETag") == reused.etag)
        guard case .response(let answer) = Router(store: store, accessToken: nil)
            .handle(TestRequest(.get, path + "?wait=30s", headers: [("If-None-Match", first.etag)])) else {
            Issue.record("a client with stale content must not wait")
            return
        }
        #expect(answer.status == 200)
    }

    @Test(arguments: [
        ("/ping", HTTPRouteLabel.ping), ("/ping?x=1", .ping), ("/pingpong", .other),
        ("/ready", .ready), ("/ready?details", .ready), ("/readyz", .other),
        ("/metrics", .metrics), ("/metricsx", .other),
        ("/applications/a/environments/e/configurations/c", .configuration),
        ("/applications/a/environments/e/configurations/c?flag=x", .flag),
        ("/applications/a/environments/e/configurations/c?wait=1s&flag=x", .flag),
        ("/applications/a/environments/e/configurations/c?noflag=x", .configuration),
        ("/applications/a/environments/e/configurations/flag=c", .configuration),
    ])
    func routeLabels(target: String, label: HTTPRouteLabel) {
        #expect(target.withCString { EventLoop.routeLabel($0) } == label)
    }

    static let a = ConfigurationKey(parsing: "A:E:P")!
    static let b = ConfigurationKey(parsing: "B:E:P")!

    @Test func pollProgressAllowsBackOffAndFlagsOnlyPollingThatStoppedAltogether() {
        let allowance = PollProgress.allowance(pollInterval: .seconds(45), requestTimeout: .seconds(3))
        // A configuration backing off 300 s between attempts is not overdue.
        #expect(allowance > PollerStateMachine.backoffCap + 3)
        #expect(allowance < 600)
        #expect(PollProgress.allowance(pollInterval: .seconds(3600), requestTimeout: .seconds(3)) > 3600)
        let attempts = Mutex<[ConfigurationKey: Double]>([Self.a: 1000, Self.b: 1000])
        let tracked = Mutex<[ConfigurationKey]>([Self.a, Self.b])
        let progress = PollProgress(allowance: allowance, tracked: { tracked.withLock { $0 } },
                                    lastAttempts: { attempts.withLock { $0 } })
        #expect(progress.overdue(now: 1000 + allowance - 1).isEmpty)
        // One configuration late while another makes progress (a long queue for connections): fine.
        attempts.withLock { $0[Self.b] = 1000 + allowance - 1 }
        #expect(progress.overdue(now: 1000 + allowance + 1).isEmpty)
        // Neither made progress: the polling stopped.
        #expect(progress.overdue(now: 1000 + 2 * allowance) == [Self.a, Self.b])
        // The one left polled (the other removed from the manifest) decides alone.
        tracked.withLock { $0 = [Self.a] }
        #expect(progress.overdue(now: 1000 + allowance + 1) == [Self.a])
        tracked.withLock { $0 = [Self.b] }
        #expect(progress.overdue(now: 1000 + allowance + 1).isEmpty)
        // Polled but never recorded yet: nothing to judge.
        tracked.withLock { $0 = [Self.a, Self.b, ConfigurationKey(parsing: "C:E:P")!] }
        attempts.withLock { $0 = [:] }
        #expect(progress.overdue(now: 1_000_000).isEmpty)
    }

    @Test func watchdogPingsOnlyWhileThePoolRunsAndNoConfigurationIsOverdue() async throws {
        let notifier = try #require(SystemdNotifier.fromEnvironment(["NOTIFY_SOCKET": "/nonexistent/notify"]))
        let now = Mutex(1000.0)
        let attempts = Mutex<[ConfigurationKey: Double]>([Self.a: 1000])
        let progress = PollProgress(allowance: 400, tracked: { [Self.a] }, lastAttempts: { attempts.withLock { $0 } })
        let watchdog = Watchdog(notifier: notifier, interval: .seconds(30), progress: progress, clock: { now.withLock { $0 } })
        #expect(watchdog.stall() == nil)
        // The heartbeat was consumed and no task has run since: the pool looks stalled.
        #expect(watchdog.stall()?.contains("polling tasks have not run") == true)
        watchdog.scheduleHeartbeat()
        try await waitForHeartbeat(watchdog)
        now.withLock { $0 = 1399 }
        #expect(watchdog.stall() == nil)
        now.withLock { $0 = 1401 }
        watchdog.scheduleHeartbeat()
        try await waitForHeartbeat(watchdog)
        #expect(watchdog.stall()?.contains("A:E:P") == true)
        // Attempts coming again (a back-off retry): progress.
        attempts.withLock { $0[Self.a] = 1400 }
        watchdog.scheduleHeartbeat()
        try await waitForHeartbeat(watchdog)
        #expect(watchdog.stall() == nil)
    }

    /// Lets the heartbeat task run on the pool (it is tiny; a generous bound for a loaded machine).
    private func waitForHeartbeat(_ watchdog: Watchdog) async throws {
        for _ in 0..<500 {
            try await Task.sleep(for: .milliseconds(10))
            if watchdog.hasHeartbeat { return }
        }
        Issue.record("the heartbeat task did not run within 5 s")
    }

    @Test func versionSeriesFollowsASourceChangeWithTheSameVersion() throws {
        let registry = MetricsRegistry()
        let metrics = try AgentMetrics(registry: registry)
        let versions = VersionMetrics(metrics: metrics)
        let store = ConfigurationStore()
        let key = Self.a
        store.put(ConfigurationPayload(key: key, content: Array("x".utf8), contentType: "text/plain", version: "3",
                                       versionLabel: "3", source: .backup, receivedAt: 0))
        versions.update(store.snapshot())
        #expect(registry.exposition().contains(#"appconfig_agent_configuration_version{configuration="A:E:P",version="3",source="backup"} 1"#))
        store.put(ConfigurationPayload(key: key, content: Array("x".utf8), contentType: "text/plain", version: "3",
                                       versionLabel: "3", source: .service, receivedAt: 0))
        versions.update(store.snapshot())
        let text = registry.exposition()
        #expect(text.contains(#"appconfig_agent_configuration_version{configuration="A:E:P",version="3",source="service"} 1"#))
        #expect(!text.contains(#"source="backup""#))
    }

    @Test func healthCheckAsksWhereTheAgentListens() {
        #expect(HealthCheck.target([:]) == (["127.0.0.1", "::1"], 2772))
        #expect(HealthCheck.target(["HTTP_HOST": "ALL", "HTTP_PORT": "8080"]) == (["127.0.0.1", "::1"], 8080))
        #expect(HealthCheck.target(["HTTP_HOST": "127.0.0.2"]).addresses == ["127.0.0.2"])
        #expect(HealthCheck.target(["HTTP_HOST": "[::1]"]).addresses == ["::1"])
        #expect(HealthCheck.target(["HTTP_HOST": "agent.internal"]).addresses == ["agent.internal"])
        #expect(HealthCheck.target(["AWS_APPCONFIG_EXTENSION_HTTP_PORT": "2800"]).port == 2800)
    }
}
