import Foundation
import Testing

/// systemd notify protocol, /ready, /metrics against the real binary.
@Suite struct OperationsEndToEndTests {
    /// A datagram socket standing in for systemd's NOTIFY_SOCKET.
    final class NotifySocket {
        let fd: Int32
        let path: String

        init() throws {
            path = FileManager.default.temporaryDirectory.appendingPathComponent("notify-\(UUID().uuidString.prefix(8))").path
            fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &address.sun_path) { raw in
                for (i, byte) in path.utf8.enumerated() { raw[i] = byte }
            }
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            guard bound == 0 else { throw RawHTTPError.connect }
            var timeout = timeval(tv_sec: 0, tv_usec: 200_000)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        }

        deinit {
            close(fd)
            unlink(path)
        }

        /// Every message received within `seconds`, until one contains `until`.
        func messages(until text: String, seconds: Double) -> [String] {
            var all: [String] = []
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline {
                var buffer = [UInt8](repeating: 0, count: 4096)
                let n = recv(fd, &buffer, buffer.count, 0)
                if n > 0 {
                    let message = String(decoding: buffer[0..<n], as: UTF8.self)
                    all.append(message)
                    if message.contains(text) { break }
                }
            }
            return all
        }
    }

    @Test func notifiesReadyStatusWatchdogAndStopping() throws {
        let notify = try NotifySocket()
        let directory = try ServingEndToEndTests.configDirectory(["app:env:cfg.txt": "x"])
        let agent = try AgentProcess(environment: ["LOCAL_DEVELOPMENT_DIRECTORY": directory.path,
                                                   "NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "400000"])
        let startup = notify.messages(until: "STATUS=serving", seconds: 5)
        #expect(startup.contains { $0.hasPrefix("READY=1\nSTATUS=listening on 127.0.0.1:\(agent.port)") })
        #expect(startup.last?.hasPrefix("STATUS=serving 1 configuration(s); listening on 127.0.0.1:\(agent.port)") == true)
        #expect(notify.messages(until: "WATCHDOG=1", seconds: 2).contains("WATCHDOG=1"))
        // One more configuration: the count changes, and so does the status.
        try Data("y".utf8).write(to: directory.appendingPathComponent("app:env:other.txt"))
        agent.signal(SIGHUP)
        #expect(notify.messages(until: "STATUS=serving 2", seconds: 5).contains { $0.hasPrefix("STATUS=serving 2 configuration(s)") })
        agent.signal(SIGTERM)
        #expect(notify.messages(until: "STOPPING=1", seconds: 3).contains("STOPPING=1\nSTATUS=stopping (SIGTERM)"))
        #expect(agent.waitForExit(timeout: 3) == 0)
    }

    /// More clients than descriptors (the agent under a 64-descriptor limit): those connected are
    /// still answered, the loop does not spin on the failing accept, and the others are served once
    /// descriptors are free again.
    @Test func runningOutOfDescriptorsNeitherSpinsNorStopsServing() throws {
        raiseOpenFileLimit(to: 4096)
        let directory = try ServingEndToEndTests.configDirectory(["app:env:cfg.txt": "x"])
        let agent = try AgentProcess(environment: ["LOCAL_DEVELOPMENT_DIRECTORY": directory.path, "LOG_LEVEL": "info"])
        let pid = agent.process.processIdentifier
        let limiter = Process()
        limiter.executableURL = URL(fileURLWithPath: "/usr/bin/prlimit")
        limiter.arguments = ["--pid", String(pid), "--nofile=64:64"]
        try limiter.run()
        limiter.waitUntilExit()
        try #require(limiter.terminationStatus == 0)
        let request = "GET /applications/app/environments/env/configurations/cfg HTTP/1.1\r\nHost: x\r\n\r\n"
        var clients = try (0..<100).map { _ in try RawConnection(port: agent.port) }
        for client in clients { client.send(request) }
        // Every client is either answered or waiting in the backlog: split them.
        var answered: [RawConnection] = []
        var waiting: [RawConnection] = []
        for client in clients {
            client.setReceiveTimeout(milliseconds: answered.isEmpty ? 5000 : 200)
            if let response = try? client.readResponse(), response.status == 200 { answered.append(client) } else { waiting.append(client) }
        }
        clients.removeAll()
        #expect(answered.count >= 20)
        #expect(!waiting.isEmpty)
        // CPU time over two seconds while clients wait for descriptors: a spinning loop uses all of it.
        let cpuBefore = try #require(cpuSeconds(pid))
        Thread.sleep(forTimeInterval: 2)
        let cpuAfter = try #require(cpuSeconds(pid))
        #expect(cpuAfter - cpuBefore < 1.0)
        // Connected clients are still served.
        for client in answered.prefix(5) {
            client.setReceiveTimeout(milliseconds: 5000)
            client.send(request)
            #expect((try? client.readResponse())?.status == 200)
        }
        // Descriptors freed: the waiting clients are accepted and answered (each closing after its
        // answer, as the first ones did: there are more of them than descriptors).
        answered.removeAll()
        while !waiting.isEmpty {
            let client = waiting.removeFirst()
            client.setReceiveTimeout(milliseconds: 10_000)
            #expect((try? client.readResponse())?.status == 200)
        }
        #expect(agent.log.contains("cannot accept client connections"), "\(agent.log.suffix(3000))")
    }

    @Test func readyIs503UntilPrefetchedConfigurationsAreLoaded() throws {
        let fake = try FakeAWS()
        try fake.putConfiguration("app", "env", "cfg", "x", contentType: "text/plain")
        try fake.fault(["match": ["path": "/configurationsessions"], "kind": "slow", "delay_ms": 1500, "count": 1])
        var env = fake.agentEnvironment
        env["PREFETCH_LIST"] = "app:env:cfg"
        env["REQUEST_TIMEOUT"] = "5s"
        let agent = try AgentProcess(environment: env)
        let early = try httpGet(port: agent.port, "/ready")
        #expect(early.status == 503)
        #expect(early.text.contains(#""configuration":"app:env:cfg","required":true,"state":"pending""#))
        #expect(waitUntil(seconds: 10) { (try? httpGet(port: agent.port, "/ready").status) == 200 })
        #expect(try httpGet(port: agent.port, "/ready").text.contains(#""source":"service""#))
    }

    @Test func metricsParseWithPrometheusClientAndCountRequests() throws {
        let directory = try ServingEndToEndTests.configDirectory(["app:env:cfg.json": #"{"f":{"enabled":true}}"#])
        let agent = try AgentProcess(environment: ["LOCAL_DEVELOPMENT_DIRECTORY": directory.path])
        for _ in 0..<3 { _ = try httpGet(port: agent.port, "/applications/app/environments/env/configurations/cfg") }
        _ = try httpGet(port: agent.port, "/applications/app/environments/env/configurations/cfg?flag=f")
        _ = try httpGet(port: agent.port, "/applications/app/environments/env/configurations/none")
        let metrics = try httpGet(port: agent.port, "/metrics")
        #expect(metrics.status == 200)
        #expect(metrics.header("Content-Type")?.hasPrefix("text/plain; version=0.0.4") == true)
        #expect(metrics.text.contains(#"appconfig_agent_http_requests_total{route="configuration",status="200"} 3"#))
        #expect(metrics.text.contains(#"appconfig_agent_http_requests_total{route="flag",status="200"} 1"#))
        #expect(metrics.text.contains(#"appconfig_agent_http_requests_total{route="configuration",status="404"} 1"#))
        #expect(metrics.text.contains(#"appconfig_agent_configuration_version{configuration="app:env:cfg""#))
        #expect(try Self.parseExposition(metrics.body).count > 10)
    }

    typealias Sample = (name: String, labels: [String: String], value: Double)

    /// Every sample of an exposition, read by prometheus_client's parser through
    /// Tests/Metrics/check_exposition.py, which also fails (and so does this) on a malformed one.
    static func parseExposition(_ body: [UInt8]) throws -> [Sample] {
        let checker = Process()
        checker.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        checker.arguments = ["python3", URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Metrics/check_exposition.py").path, "--json"]
        let input = Pipe(), output = Pipe()
        checker.standardInput = input
        checker.standardOutput = output
        try checker.run()
        input.fileHandleForWriting.write(Data(body))
        try input.fileHandleForWriting.close()
        let json = output.fileHandleForReading.readDataToEndOfFile()
        checker.waitUntilExit()
        try #require(checker.terminationStatus == 0)
        let list = try #require(try JSONSerialization.jsonObject(with: json) as? [[String: Any]])
        return list.map { ($0["name"] as? String ?? "", $0["labels"] as? [String: String] ?? [:], ($0["value"] as? NSNumber)?.doubleValue ?? .nan) }
    }

    /// AWS mode: the real paths count what operators alert on. A throttled session then a retrieval
    /// (polls by outcome, last success, version and source), an assumed role (credential refreshes),
    /// a refused writeTo (parent writable by its group) and a refused backup (a directory where the
    /// backup file goes). Values read through prometheus_client's parser.
    @Test func metricsCountPollsCredentialsAndRefusedWritesInAWSMode() throws {
        let fake = try FakeAWS()
        try fake.putConfiguration("app", "env", "cfg", "v1", contentType: "text/plain", label: "1")
        try fake.fault(["match": ["path": "/configurationsessions"], "kind": "throttle", "count": 1])
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("metrics-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: work) }
        let shared = work.appendingPathComponent("shared").path
        let backups = work.appendingPathComponent("backups").path
        try FileManager.default.createDirectory(atPath: shared, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o770])
        try FileManager.default.createDirectory(atPath: backups + "/app:env:cfg.backup", withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        try #require(chmod(work.path, 0o700) == 0 && chmod(backups, 0o700) == 0 && chmod(shared, 0o770) == 0)
        var env = fake.agentEnvironment
        env["ROLE_ARN"] = "arn:aws:iam::123456789012:role/metrics-reader"
        env["BACKUP_DIRECTORY"] = backups
        env["MANIFEST"] = #"{"app:env:cfg": {"writeTo": {"path": "\#(shared)/out.txt"}}}"#
        let started = Date().timeIntervalSince1970
        let agent = try AgentProcess(environment: env)
        let path = "/applications/app/environments/env/configurations/cfg"
        #expect(waitUntil(seconds: 20) { (try? httpGet(port: agent.port, path).status) == 200 })

        func samples() throws -> [Sample] { try Self.parseExposition(try httpGet(port: agent.port, "/metrics").body) }
        func value(_ name: String, _ labels: [String: String]) throws -> Double? {
            try samples().first { sample in sample.name == name && labels.allSatisfy { sample.labels[$0.key] == $0.value } }?.value
        }
        let key = ["configuration": "app:env:cfg"]
        #expect(waitUntil(seconds: 10) {
            ((try? value("appconfig_agent_write_to_failures_total", key)) ?? nil ?? 0) >= 1
                && ((try? value("appconfig_agent_backup_write_failures_total", key)) ?? nil ?? 0) >= 1
        }, "\(agent.log.suffix(3000))")
        #expect(try value("appconfig_agent_polls_total", key.merging(["outcome": "throttled"]) { $1 }) == 1)
        #expect(try value("appconfig_agent_polls_total", key.merging(["outcome": "changed"]) { $1 }) == 1)
        let lastSuccess = try #require(try value("appconfig_agent_last_successful_poll_timestamp_seconds", key))
        #expect(lastSuccess >= started - 1 && lastSuccess <= Date().timeIntervalSince1970 + 1)
        #expect(try value("appconfig_agent_configuration_version", key.merging(["version": "1", "source": "service"]) { $1 }) == 1)
        let refreshes = try samples().filter { $0.name == "appconfig_agent_credential_refreshes_total" && $0.labels["outcome"] == "success" }
        #expect(refreshes.contains { ($0.labels["source"] ?? "").contains("metrics-reader") && $0.value >= 1 }, "\(refreshes)")
        #expect(agent.log.contains("writeTo for 'app:env:cfg' refused or failed"))
    }

    @Test func metricsNeedTheAccessToken() throws {
        let directory = try ServingEndToEndTests.configDirectory([:])
        let agent = try AgentProcess(environment: ["LOCAL_DEVELOPMENT_DIRECTORY": directory.path, "ACCESS_TOKEN": "tok-abcdef"])
        #expect(try httpGet(port: agent.port, "/metrics").status == 401)
        #expect(try httpGet(port: agent.port, "/metrics", headers: [("Authorization", "Bearer tok-abcdef")]).status == 200)
        #expect(try httpGet(port: agent.port, "/ready").status == 200)
    }
}

extension RawConnection {
    func setReceiveTimeout(milliseconds: Int) {
        var timeout = timeval(tv_sec: milliseconds / 1000, tv_usec: (milliseconds % 1000) * 1000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }
}

/// User and system CPU time a process has used, in seconds (/proc/PID/stat).
func cpuSeconds(_ pid: Int32) -> Double? {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let end = stat.lastIndex(of: ")") else { return nil }
    // Fields after "(comm)": state is field 3; utime and stime are fields 14 and 15.
    let fields = stat[stat.index(after: end)...].split(separator: " ")
    guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
    return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
}

@Suite struct WaitOnManifestEndToEndTests {
    /// A manifest of one configuration whose first session the fake answers 1.5 s late, and a
    /// notify socket to listen on.
    static func slowManifest() throws -> (OperationsEndToEndTests.NotifySocket, FakeAWS, [String: String]) {
        let notify = try OperationsEndToEndTests.NotifySocket()
        let fake = try FakeAWS()
        try fake.putConfiguration("app", "env", "cfg", "x", contentType: "text/plain")
        try fake.fault(["match": ["path": "/configurationsessions"], "kind": "slow", "delay_ms": 1500, "count": 1])
        var env = fake.agentEnvironment
        env["NOTIFY_SOCKET"] = notify.path
        env["MANIFEST"] = #"{"app:env:cfg": {}}"#
        env["REQUEST_TIMEOUT"] = "5s"
        return (notify, fake, env)
    }

    @Test func readyIsNotifiedOnlyAfterTheManifestsConfigurationsAreProcessed() throws {
        let (notify, fake, env) = try Self.slowManifest()
        defer { withExtendedLifetime(fake) {} }  // the fake serves until the test ends
        let started = Date()
        let agent = try AgentProcess(environment: env)
        // Listening already (/ping answers, /ready says not yet), but not READY for systemd.
        #expect(try httpGet(port: agent.port, "/ping").status == 200)
        #expect(try httpGet(port: agent.port, "/ready").status == 503)
        let messages = notify.messages(until: "READY=1", seconds: 10)
        #expect(messages.contains { $0.hasPrefix("READY=1") && $0.contains("manifest processed") })
        #expect(Date().timeIntervalSince(started) >= 1.4)
        #expect(try httpGet(port: agent.port, "/ready").status == 200)
    }

    @Test func statusTellsOfTheManifestWaitAndStoppingDuringItSendsNoReady() throws {
        let (notify, fake, env) = try Self.slowManifest()
        defer { withExtendedLifetime(fake) {} }  // the fake serves until the test ends
        let agent = try AgentProcess(environment: env)
        let waiting = notify.messages(until: "waiting for the manifest", seconds: 5)
        #expect(waiting.contains { $0.hasPrefix("STATUS=") && $0.contains("waiting for the manifest's 1 configuration(s)") })
        agent.signal(SIGTERM)
        let rest = notify.messages(until: "never", seconds: 3)
        let stopping = try #require(rest.firstIndex { $0.hasPrefix("STOPPING=1") })
        #expect(!rest[stopping...].contains { $0.contains("READY=1") })
        #expect(agent.waitForExit(timeout: 3) == 0)
    }

    @Test func withoutWaitOnManifestReadyIsNotifiedAtOnce() throws {
        let notify = try OperationsEndToEndTests.NotifySocket()
        let fake = try FakeAWS()
        try fake.putConfiguration("app", "env", "cfg", "x", contentType: "text/plain")
        try fake.fault(["match": ["path": "/configurationsessions"], "kind": "slow", "delay_ms": 3000, "count": 1])
        var env = fake.agentEnvironment
        env["NOTIFY_SOCKET"] = notify.path
        env["MANIFEST"] = #"{"app:env:cfg": {}}"#
        env["WAIT_ON_MANIFEST"] = "false"
        let started = Date()
        _ = try AgentProcess(environment: env)
        let messages = notify.messages(until: "READY=1", seconds: 5)
        #expect(messages.contains { $0.hasPrefix("READY=1") })
        #expect(Date().timeIntervalSince(started) < 2.5)
    }
}
