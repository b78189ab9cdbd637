import Foundation
import Synchronization
import Testing

/// The real binary against the fake AppConfig Data service on loopback.
@Suite struct DataPlaneEndToEndTests {
    let path = "/applications/app/environments/env/configurations/cfg"

    func start(_ fake: FakeAWS, _ extra: [String: String] = [:]) throws -> AgentProcess {
        var env = fake.agentEnvironment
        env.merge(extra) { _, new in new }
        return try AgentProcess(environment: env)
    }

    func sessions(_ fake: FakeAWS) throws -> [[String: Any]] { try fake.calls(path: "/configurationsessions") }
    func polls(_ fake: FakeAWS) throws -> [[String: Any]] { try fake.calls(path: "/configuration") }

    @Test func firstRequestLoadsLazilyWithVersionHeaders() throws {
        let fake = try FakeAWS()
        try fake.putConfiguration("app", "env", "cfg", #"{"a": 1.50}"#, label: "v1")
        let agent = try start(fake)
        let response = try httpGet(port: agent.port, path)
        #expect(response.status == 200)
        #expect(response.text == #"{"a": 1.50}"#)
        #expect(response.header("Content-Type") == "application/json")
        #expect(response.header("Version-Label") == "v1")
        #expect(response.header("Configuration-Version") == "v1")
        let calls = try fake.calls()
        #expect(!calls.isEmpty)
        #expect(calls.allSatisfy { ($0["signature_ok"] as? Bool) == true })
        #expect(calls.allSatisfy { (($0["signed_headers"] as? String) ?? "").contains("user-agent") == false })
        #expect(agent.log.contains("retrieved configuration 'app:env:cfg'"))
        #expect(!agent.log.contains(FakeAWS.secretKey))
    }

    @Test func concurrentFirstRequestsShareOneFetch() throws {
        let fake = try FakeAWS()
        try fake.putConfiguration("app", "env", "cfg", "shared", contentType: "text/plain")
        try fake.fault(["match": ["path": "/configurationsessions"], "kind": "slow", "delay_ms": 300])
        let agent = try start(fake)
        let statuses = Mutex<[Int]>([])
        DispatchQueue.concurrentPerform(iterations: 12) { _ in
            let status = (try? httpGet(port: agent.port, path).status) ?? -1
            statuses.withLock { $0.append(status) }
        }
        #expect(statuses.withLock { $0 } == Array(repeating: 200, count: 12))
        #expect(try sessions(fake).count == 1)
        #expect(try polls(fake).count == 1)
    }

    @Test func unknownConfigurationIs404AndALoopingClientDoesNotHammerAWS() throws {
        let fake = try FakeAWS()
        let agent = try start(fake)
        for _ in 0..<20 {
            #expect(try httpGet(port: agent.port, "/applications/no/environments/such/configurations/thing").status == 404)
        }
        #expect(try sessions(fake).count == 1)
    }

    @Test func accessDeniedIs502() throws {
        let fake = try FakeAWS()
        try fake.putConfiguration("app", "env", "cfg", "x")
        try fake.fault(["match": ["path": "/configurationsessions"], "kind": "access_denied"])
        let agent = try start(fake)
        #expect(try httpGet(port: agent.port, path).status == 502)
    }

    @Test func throttledWithNothingCachedIs502() throws {
        let fake = try FakeAWS()
        try fake.putConfiguration("app", "env", "cfg", "x")
        try fake.fault(["match": ["path": "/configurationsessions"], "kind": "throttle"])
        let agent = try start(fake)
        #expect(try httpGet(port: agent.port, path).status == 502)
    }

    @Test func slowFirstRetrievalGets504ThenTheConfigurationOnceItArrives() throws {
        let fake = try FakeAWS()
        try fake.putConfiguration("app", "env", "cfg", "late", contentType: "text/plain")
        try fake.fault(["match": ["path": "/configuration"], "kind": "slow", "delay_ms": 1500, "count": 1])
        let agent = try start(fake, ["REQUEST_TIMEOUT": "400ms"])
        let started = Date()
        let first = try httpGet(port: agent.port, path)
        #expect(first.status == 504)
        #expect(Date().timeIntervalSince(started) < 1.2)
        // The call itself times out after REQUEST_TIMEOUT; the poller retries and gets it.
        #expect(waitUntil(seconds: 10) { (try? httpGet(port: agent.port, path).text) == "late" })
    }

    @Test func firstRequestThatOutwaitsREQUEST_TIMEOUTGets504WhileTheSameFetchCarriesOn() throws {
        let fake = try FakeAWS()
        try fake.putConfiguration("app", "env", "cfg", "carried on", contentType: "text/plain")
        // Each call within REQUEST_TIMEOUT (1 s), the two together not.
        try fake.fault(["match": ["path": "/configurationsessions"], "kind": "slow", "delay_ms": 700, "count": 1])
        try fake.fault(["match": ["path": "/configuration"], "kind": "slow", "delay_ms": 700, "count": 1])
        let agent = try start(fake, ["REQUEST_TIMEOUT": "1000ms"])
        #expect(try httpGet(port: agent.port, path).status == 504)
        #expect(waitUntil(seconds: 10) { (try? httpGet(port: agent.port, path).text) == "carried on" })
        #expect(try sessions(fake).count == 1)
        #expect(try polls(fake).map { $0["status"] as? Int } == [200])
    }

    @Test(arguments: [("1", 15), ("90", 90), ("24h", 86_400)])
    func sessionAsksForPOLL_INTERVALClampedTo15Through86400(setting: String, sent: Int) throws {
        let fake = try FakeAWS()
        try fake.putConfiguration("app", "env", "cfg", "x", contentType: "text/plain")
        let agent = try start(fake, ["PREFETCH_LIST": "app:env:cfg", "POLL_INTERVAL": setting])
        var recorded: [Int] = []
        #expect(waitUntil(seconds: 10) {
            recorded = ((try? fake.admin("GET", "sessions")) as? [[String: Any]])?.compactMap { $0["interval"] as? Int } ?? []
            return !recorded.isEmpty
        })
        #expect(recorded == [sent])
        #expect(agent.process.isRunning)
    }

    @Test func slowSessionStartDoesNotMakeTheSecondPollEarly() throws {
        let fake = try FakeAWS()
        try fake.settings(["strict_interval": true])  // a token used before its interval is refused, as AWS does
        try fake.putConfiguration("app", "env", "cfg", "x", contentType: "text/plain")
        // Longer than the largest jitter at 15 s (1.5 s): were the interval counted from before the
        // session call, the second poll would come early and be refused.
        try fake.fault(["match": ["path": "/configurationsessions"], "kind": "slow", "delay_ms": 2000])
        let agent = try start(fake, ["PREFETCH_LIST": "app:env:cfg", "POLL_INTERVAL": "15"])
        #expect(waitUntil(seconds: 90) { ((try? polls(fake).count) ?? 0) >= 3 })
        #expect(try polls(fake).map { $0["status"] as? Int }.allSatisfy { $0 == 200 })
        #expect(try sessions(fake).count == 1)
        #expect(agent.process.isRunning)
    }

    @Test func sighupRetrievesANewVersionNowWhenTheServiceAsksForTheWholeInterval() throws {
        let fake = try FakeAWS()
        // No next_poll_interval: the fake announces the interval the agent asked for, as AWS does.
        try fake.settings(["strict_interval": true])
        try fake.putConfiguration("app", "env", "cfg", "one", contentType: "text/plain", label: "1")
        let agent = try start(fake, ["PREFETCH_LIST": "app:env:cfg", "POLL_INTERVAL": "60"])
        #expect(waitUntil(seconds: 10) { (try? httpGet(port: agent.port, path).text) == "one" })
        try fake.putConfiguration("app", "env", "cfg", "two", contentType: "text/plain", label: "2")
        agent.signal(SIGHUP)
        // Long before the next poll (60 s), with room for a loaded machine and the 5 s spacing.
        #expect(waitUntil(seconds: 25) { (try? httpGet(port: agent.port, path).text) == "two" })
        #expect(try polls(fake).map { $0["status"] as? Int }.allSatisfy { $0 == 200 })
        #expect(try sessions(fake).count == 2)
    }

    @Test func logsNameRequestIdsAndErrorTypesButNoSecrets() throws {
        let fake = try FakeAWS()
        let sessionToken = "FQoGZXIvYXdzEfakeSessionToken0123456789"
        try fake.settings(["next_poll_interval": 1, "credentials": [
            ["access_key": FakeAWS.accessKey, "secret_key": FakeAWS.secretKey, "session_token": sessionToken]]])
        try fake.putConfiguration("app", "env", "cfg", "content-not-for-logs", contentType: "text/plain")
        let agent = try start(fake, ["PREFETCH_LIST": "app:env:cfg", "LOG_LEVEL": "trace",
                                     "AWS_SESSION_TOKEN": sessionToken])
        #expect(waitUntil(seconds: 10) { (try? httpGet(port: agent.port, path).text) == "content-not-for-logs" })
        try fake.fault(["match": ["path": "/configuration"], "kind": "throttle", "count": 1])
        Thread.sleep(forTimeInterval: 1.1)
        agent.signal(SIGHUP)
        #expect(agent.waitForLog("ThrottlingException", timeout: 10))
        let log = agent.log
        #expect(log.contains("request id"))
        #expect(log.contains("GetLatestConfiguration for 'app:env:cfg' failed"))
        for secret in [FakeAWS.secretKey, sessionToken, "Signature=", "content-not-for-logs"] {
            #expect(!log.contains(secret), "the log contains \(secret)")
        }
        let tokens = try fake.calls().compactMap { ($0["query_params"] as? [String: Any])?["configuration_token"] as? String }
        #expect(!tokens.isEmpty)
        #expect(tokens.allSatisfy { !log.contains($0) })
    }

    @Test(arguments: ["no token", "bad interval", "session body"])
    func unusableAnswerIsLoggedWithItsTypeAndNothingIsServed(answer: String) throws {
        let fake = try FakeAWS()
        // A configuration shaped like an error body: its `code` must not be taken for an error type.
        try fake.putConfiguration("app", "env", "cfg", #"{"code":"Secret-in-configuration","__type":"Also-secret"}"#)
        let (call, rewrite, detail): (String, [String: Any], String) = switch answer {
        case "no token": ("/configuration", ["headers": ["Next-Poll-Configuration-Token": NSNull()]],
                          "no Next-Poll-Configuration-Token")
        case "bad interval": ("/configuration", ["headers": ["Next-Poll-Interval-In-Seconds": "soon"]],
                              "Next-Poll-Interval-In-Seconds 'soon' is not a number")
        default: ("/configurationsessions", ["body": "<html>"], "no InitialConfigurationToken")
        }
        var spec = rewrite
        spec["kind"] = "rewrite"
        spec["match"] = ["path": call]
        try fake.fault(spec)
        let agent = try start(fake)
        #expect(try httpGet(port: agent.port, path).status == 502)
        #expect(agent.waitForLog(" failed in "))
        let line = agent.log.split(separator: "\n").first { $0.contains(" failed in ") }.map(String.init) ?? ""
        for part in ["WARN", "'app:env:cfg'", "HTTP 20", "malformed response", detail, "request id"] {
            #expect(line.contains(part), "\(part) missing from: \(line)")
        }
        #expect(!agent.log.contains("Secret-in-configuration") && !agent.log.contains("Also-secret"), "\(line)")
    }

    @Test func prefetchListIsRetrievedAtStartUp() throws {
        let fake = try FakeAWS()
        try fake.putConfiguration("app", "env", "cfg", "one", contentType: "text/plain")
        try fake.putConfiguration("app", "env", "two", "two", contentType: "text/plain")
        let agent = try start(fake, ["PREFETCH_LIST": "app:env:cfg, app:env:two"])
        #expect(waitUntil(seconds: 5) { ((try? polls(fake).count) ?? 0) >= 2 })
        #expect(try httpGet(port: agent.port, "/applications/app/environments/env/configurations/two").text == "two")
    }

    @Test func newVersionIsServedAfterAPollAndTokensAreNeverReused() throws {
        let fake = try FakeAWS()
        try fake.settings(["next_poll_interval": 1])
        try fake.putConfiguration("app", "env", "cfg", #"{"v":1}"#, label: "1")
        let agent = try start(fake, ["PREFETCH_LIST": "app:env:cfg"])
        #expect(waitUntil(seconds: 5) { (try? httpGet(port: agent.port, path).text) == #"{"v":1}"# })
        for version in 2...4 {
            try fake.putConfiguration("app", "env", "cfg", #"{"v":\#(version)}"#, label: "\(version)")
            Thread.sleep(forTimeInterval: 1.1)
            agent.signal(SIGHUP)
            #expect(waitUntil(seconds: 5) { (try? httpGet(port: agent.port, path).header("Version-Label")) == "\(version)" })
        }
        let polls = try polls(fake)
        #expect(polls.count >= 4)
        #expect(polls.allSatisfy { ($0["status"] as? Int) == 200 })
        let tokens = polls.compactMap { ($0["query_params"] as? [String: Any])?["configuration_token"] as? String }
        #expect(Set(tokens).count == tokens.count)
    }

    @Test(arguments: ["status500", "truncate", "drop", "throttle"])
    func lastGoodConfigurationStaysInServiceWhenAPollFails(kind: String) throws {
        let fault: [String: Any] = kind == "status500" ? ["kind": "status", "status": 500] : ["kind": kind]
        let fake = try FakeAWS()
        try fake.settings(["next_poll_interval": 1])
        try fake.putConfiguration("app", "env", "cfg", "good", contentType: "text/plain", label: "1")
        let agent = try start(fake, ["PREFETCH_LIST": "app:env:cfg"])
        #expect(waitUntil(seconds: 5) { (try? httpGet(port: agent.port, path).text) == "good" })
        try fake.putConfiguration("app", "env", "cfg", "newer-but-broken-in-transit", contentType: "text/plain", label: "2")
        var spec = fault
        spec["match"] = ["path": "/configuration"]
        try fake.fault(spec)
        Thread.sleep(forTimeInterval: 1.1)
        agent.signal(SIGHUP)
        // The agent has seen the failure, and gone on to retry with a new session.
        #expect(agent.waitForLog("GetLatestConfiguration for 'app:env:cfg' failed", timeout: 10))
        #expect(waitUntil(seconds: 10) { ((try? sessions(fake).count) ?? 0) >= 2 })
        let response = try httpGet(port: agent.port, path)
        #expect(response.status == 200)
        #expect(response.text == "good")
        #expect(response.header("Version-Label") == "1")
    }

    @Test func missingRegionStopsStartUpWithOneLine() throws {
        var env = try FakeAWS().agentEnvironment
        env.removeValue(forKey: "SERVICE_REGION")
        env["AWS_CONFIG_FILE"] = "/nonexistent/config"
        env["LOG_LEVEL"] = "info"
        let agent = try AgentProcess(environment: env, waitForListening: false)
        let status = agent.waitForExit(timeout: 10)
        #expect(status != nil && status != 0)
        let lines = agent.log.split(separator: "\n")
        #expect(lines.count == 1, "\(agent.log)")
        #expect(lines.first?.contains("region") == true && lines.first?.contains("SERVICE_REGION") == true, "\(agent.log)")
    }
}
