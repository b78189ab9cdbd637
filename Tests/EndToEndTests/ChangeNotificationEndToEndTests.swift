import Foundation
import Synchronization
import Testing

/// ETag, If-None-Match and long polls (`?wait=`) against the real binary in local mode.
@Suite struct ChangeNotificationEndToEndTests {
    let path = "/applications/app/environments/env/configurations/cfg"

    func start(pollInterval: String = "1s", extra: [String: String] = [:]) throws -> (AgentProcess, URL) {
        let directory = try ServingEndToEndTests.configDirectory(["app:env:cfg.json": #"{"v":1}"#])
        var env = ["LOCAL_DEVELOPMENT_DIRECTORY": directory.path, "POLL_INTERVAL": pollInterval]
        env.merge(extra) { _, new in new }
        return (try AgentProcess(environment: env), directory)
    }

    @Test func etagAndIfNoneMatchGive304() throws {
        let (agent, _) = try start()
        let first = try httpGet(port: agent.port, path)
        let etag = try #require(first.header("ETag"))
        #expect(etag == "\"\(first.header("Configuration-Version") ?? "")\"")
        let again = try httpGet(port: agent.port, path, headers: [("If-None-Match", etag)])
        #expect(again.status == 304)
        #expect(again.body.isEmpty)
        #expect(again.header("ETag") == etag)
        #expect(try httpGet(port: agent.port, path, headers: [("If-None-Match", "\"other\"")]).status == 200)
        #expect(try httpGet(port: agent.port, path, headers: [("If-None-Match", "W/\"x\", \(etag)")]).status == 304)
        #expect(try httpGet(port: agent.port, path, headers: [("If-None-Match", "*")]).status == 304)
    }

    @Test func longPollAnswersWhenANewVersionArrives() throws {
        let (agent, directory) = try start()
        let etag = try #require(try httpGet(port: agent.port, path).header("ETag"))
        let started = Date()
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.5) {
            try? Data(#"{"v":2}"#.utf8).write(to: directory.appendingPathComponent("app:env:cfg.json"))
        }
        let response = try httpGet(port: agent.port, path + "?wait=10s", headers: [("If-None-Match", etag)])
        #expect(response.status == 200)
        #expect(response.text == #"{"v":2}"#)
        #expect(response.header("ETag") != etag)
        #expect(Date().timeIntervalSince(started) < 3)
    }

    @Test func longPollEndsWith304WhenTheWaitIsOverEvenBeyondClientTimeout() throws {
        let (agent, _) = try start(extra: ["CLIENT_TIMEOUT": "1s"])
        let etag = try #require(try httpGet(port: agent.port, path).header("ETag"))
        let started = Date()
        let response = try httpGet(port: agent.port, path + "?wait=2", headers: [("If-None-Match", etag)])
        let elapsed = Date().timeIntervalSince(started)
        #expect(response.status == 304)
        #expect(elapsed >= 1.9 && elapsed < 4)
    }

    @Test func waitWithoutIfNoneMatchAnswersAtOnceAndBadWaitIs400() throws {
        let (agent, _) = try start()
        let started = Date()
        #expect(try httpGet(port: agent.port, path + "?wait=10s").status == 200)
        #expect(Date().timeIntervalSince(started) < 1)
        let etag = try #require(try httpGet(port: agent.port, path).header("ETag"))
        #expect(try httpGet(port: agent.port, path + "?wait=soon", headers: [("If-None-Match", etag)]).status == 400)
    }

    @Test func thousandWaitersAreAllAnsweredByOneChangeWithoutMoreThreads() throws {
        raiseOpenFileLimit(to: 4096)
        let (agent, directory) = try start()
        let etag = try #require(try httpGet(port: agent.port, path).header("ETag"))
        let threadsBefore = try #require(threadCount(agent.process.processIdentifier))
        let connections = try (0..<1000).map { _ in try RawConnection(port: agent.port) }
        for connection in connections {
            connection.send("GET \(path)?wait=30s HTTP/1.1\r\nHost: x\r\nIf-None-Match: \(etag)\r\n\r\n")
        }
        #expect(waitUntil(seconds: 10) { metric(agent, "appconfig_agent_long_poll_waiters") == 1000 })
        let threadsDuring = try #require(threadCount(agent.process.processIdentifier))
        // Waiting costs no thread: a few more at most (the concurrency pool may grow), never one per waiter.
        #expect(threadsDuring <= threadsBefore + 4)
        try Data(#"{"v":3}"#.utf8).write(to: directory.appendingPathComponent("app:env:cfg.json"))
        for connection in connections {
            let response = try connection.readResponse()
            #expect(response.status == 200)
            #expect(response.text == #"{"v":3}"#)
        }
    }

    /// Each change lands while clients that have just been answered poll again: a client whose
    /// request read the old version but registered after the change must still be woken (it would
    /// otherwise sleep through its whole wait and get a 304).
    @Test func rapidChangesNeverLeaveARepollingClientWaitingOutItsWait() throws {
        let (agent, directory) = try start(pollInterval: "1h")
        let file = directory.appendingPathComponent("app:env:cfg.json")
        let clients = 8
        let changes = 60
        let firstETag = try #require(try httpGet(port: agent.port, path).header("ETag"))
        let seen = Mutex([Int](repeating: 1, count: clients))
        let problems = Mutex<[String]>([])
        let group = DispatchGroup()
        for client in 0..<clients {
            DispatchQueue.global().async(group: group) {
                var etag = firstETag
                while true {
                    let started = Date()
                    guard let response = try? httpGet(port: agent.port, path + "?wait=20s", headers: [("If-None-Match", etag)]) else {
                        problems.withLock { $0.append("client \(client): request failed") }
                        return
                    }
                    let elapsed = Date().timeIntervalSince(started)
                    if response.status != 200 || elapsed > 10 {
                        problems.withLock { $0.append("client \(client): \(response.status) after \(elapsed) s") }
                        return
                    }
                    etag = response.header("ETag") ?? ""
                    let version = Int(response.text.filter(\.isNumber)) ?? 0
                    seen.withLock { $0[client] = version }
                    if version == changes + 1 { return }
                }
            }
        }
        for version in 2...(changes + 1) {
            try Data(#"{"v":\#(version)}"#.utf8).write(to: file)
            agent.signal(SIGHUP)
            // The next change as soon as every client holds this one, i.e. is polling again now.
            let everyone = waitUntil(seconds: 15) { seen.withLock { $0.allSatisfy { $0 >= version } } || !problems.withLock { $0.isEmpty } }
            if !everyone { problems.withLock { $0.append("version \(version) did not reach every client") } }
            if !problems.withLock({ $0.isEmpty }) { break }
        }
        #expect(group.wait(timeout: .now() + 30) == .success)
        #expect(problems.withLock { $0 } == [])
    }
}

/// Threads of a process (`Threads:` in /proc/PID/status).
func threadCount(_ pid: Int32) -> Int? {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
          let match = status.firstMatch(of: /Threads:\s+(\d+)/) else { return nil }
    return Int(match.1)
}

/// One sample's value from the agent's /metrics, by its full name with labels.
func metric(_ agent: AgentProcess, _ series: String) -> Double? {
    guard let text = try? httpGet(port: agent.port, "/metrics").text else { return nil }
    for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
        return Double(line.dropFirst(series.count + 1))
    }
    return nil
}

/// Raises this test process's soft open-file limit (many client sockets in one test).
func raiseOpenFileLimit(to wanted: UInt) {
    var limit = rlimit()
    guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < wanted else { return }
    limit.rlim_cur = min(wanted, limit.rlim_max)
    setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
}
