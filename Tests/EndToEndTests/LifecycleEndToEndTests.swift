import Foundation
import Testing

@Suite struct LifecycleEndToEndTests {
    let path = "/applications/app/environments/env/configurations/cfg"

    @Test func editedFileIsServedAfterThePollIntervalAndRemovedFileStops() throws {
        let directory = try ServingEndToEndTests.configDirectory(["app:env:cfg.json": #"{"v":1}"#, "not-a-config.json": "{}"])
        let agent = try AgentProcess(environment: ["LOCAL_DEVELOPMENT_DIRECTORY": directory.path, "POLL_INTERVAL": "1s"])
        #expect(agent.log.contains("not-a-config.json"))
        #expect(try httpGet(port: agent.port, path).text == #"{"v":1}"#)
        let first = try httpGet(port: agent.port, path).header("Configuration-Version")
        try Data(#"{"v":2}"#.utf8).write(to: directory.appendingPathComponent("app:env:cfg.json"))
        #expect(waitUntil(seconds: 5) { (try? httpGet(port: agent.port, path).text) == #"{"v":2}"# })
        #expect(try httpGet(port: agent.port, path).header("Configuration-Version") != first)
        try FileManager.default.removeItem(at: directory.appendingPathComponent("app:env:cfg.json"))
        #expect(waitUntil(seconds: 5) { (try? httpGet(port: agent.port, path).status) == 404 })
    }

    @Test func sighupReReadsTheDirectoryAtOnce() throws {
        let directory = try ServingEndToEndTests.configDirectory([:])
        let agent = try AgentProcess(environment: ["LOCAL_DEVELOPMENT_DIRECTORY": directory.path, "POLL_INTERVAL": "1h"])
        #expect(try httpGet(port: agent.port, path).status == 404)
        try Data("new".utf8).write(to: directory.appendingPathComponent("app:env:cfg.txt"))
        agent.signal(SIGHUP)
        #expect(waitUntil(seconds: 2) { (try? httpGet(port: agent.port, path).text) == "new" })
    }

    @Test(arguments: [SIGTERM, SIGINT])
    func terminationSignalExitsZeroWithinTwoSeconds(signal: Int32) throws {
        let directory = try ServingEndToEndTests.configDirectory(["app:env:cfg.txt": "x"])
        let agent = try AgentProcess(environment: ["LOCAL_DEVELOPMENT_DIRECTORY": directory.path])
        let keepAlive = try RawConnection(port: agent.port)
        keepAlive.send("GET \(path) HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try keepAlive.readResponse().status == 200)
        let started = Date()
        agent.signal(signal)
        let status = agent.waitForExit(timeout: 2)
        #expect(status == 0)
        #expect(Date().timeIntervalSince(started) < 2)
        #expect(throws: RawHTTPError.self) { try httpGet(port: agent.port, "/ping") }
    }

    /// A process-directed signal goes to any thread that does not block it. Every thread of the
    /// agent (event loops, curl's, Dispatch's, main) must block the three it acts on, so that only
    /// its `sigwait` thread takes them; a thread that did not would swallow a SIGTERM unseen.
    @Test func everyThreadBlocksTheSignalsTheAgentWaitsFor() throws {
        let directory = try ServingEndToEndTests.configDirectory(["app:env:cfg.txt": "x"])
        let agent = try AgentProcess(environment: ["LOCAL_DEVELOPMENT_DIRECTORY": directory.path])
        #expect(try httpGet(port: agent.port, path).status == 200)
        let tasks = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(agent.process.processIdentifier)/task")
        #expect(tasks.count >= 3)
        let watched: UInt64 = (1 << (UInt64(SIGTERM) - 1)) | (1 << (UInt64(SIGINT) - 1)) | (1 << (UInt64(SIGHUP) - 1))
        var waiting = 0
        for task in tasks {
            let directory = "/proc/\(agent.process.processIdentifier)/task/\(task)"
            let status = try String(contentsOfFile: directory + "/status", encoding: .utf8)
            let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("SigBlk:") })
            let mask = try #require(UInt64(line.dropFirst("SigBlk:".count).trimmingCharacters(in: .whitespaces), radix: 16))
            if mask & watched == watched { continue }
            // sigwait unblocks what it waits for while it waits: that thread alone may show them open.
            let wchan = (try? String(contentsOfFile: directory + "/wchan", encoding: .utf8)) ?? ""
            #expect(wchan.contains("sigtimedwait"), "thread \(task) does not block SIGTERM, SIGINT and SIGHUP: \(line) (in \(wchan))")
            waiting += 1
        }
        #expect(waiting == 1)
    }

    @Test(arguments: [("POLL_INTERVAL", "soon"), ("HTTP_PORT", "99999"), ("LOG_LEVEL", "loud"), ("MAX_CONNECTIONS", "0"),
                      ("PREFETCH_LIST", "a:b"), ("AWS_APPCONFIG_EXTENSION_POLL_INTERVAL_SECONDS", "-5")])
    func badSettingStopsStartUpWithOneLineNamingIt(name: String, value: String) throws {
        let agent = try AgentProcess(environment: [name: value], waitForListening: false)
        let status = agent.waitForExit(timeout: 5)
        #expect(status != nil && status != 0)
        let lines = agent.log.split(separator: "\n")
        #expect(lines.count == 1)
        #expect(lines.first?.contains(name) == true)
        #expect(lines.first?.contains(value) == true)
    }

    @Test func logPathReceivesTheLogLines() throws {
        let directory = try ServingEndToEndTests.configDirectory(["app:env:cfg.txt": "x"])
        let logFile = directory.appendingPathComponent("agent.log")
        let agent = try AgentProcess(environment: ["LOCAL_DEVELOPMENT_DIRECTORY": directory.path, "LOG_PATH": logFile.path],
                                     waitForListening: false)
        #expect(waitUntil(seconds: 5) { ((try? String(contentsOf: logFile, encoding: .utf8)) ?? "").contains("listening on") })
        let text = try String(contentsOf: logFile, encoding: .utf8)
        #expect(text.contains("[appconfig agent] "))
        #expect(text.contains(" INFO loaded configuration 'app:env:cfg'"))
        agent.stop()
    }

    @Test func versionFlagPrintsVersion() throws {
        let agent = try AgentProcess(environment: [:], arguments: ["--version"], waitForListening: false)
        #expect(agent.waitForExit(timeout: 5) == 0)
        #expect(agent.log.contains("appconfig-agent "))
    }
}

/// Polls `condition` until it holds or the time is up.
func waitUntil(seconds: Double, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        Thread.sleep(forTimeInterval: 0.05)
    }
    return condition()
}

@Suite struct HealthCheckEndToEndTests {
    @Test func healthcheckSucceedsAgainstARunningAgentAndFailsWithout() throws {
        let directory = try ServingEndToEndTests.configDirectory([:])
        let agent = try AgentProcess(environment: ["LOCAL_DEVELOPMENT_DIRECTORY": directory.path])
        let good = try AgentProcess(environment: ["HTTP_PORT": String(agent.port)], arguments: ["healthcheck"], waitForListening: false)
        #expect(good.waitForExit(timeout: 5) == 0)
        agent.stop()
        let bad = try AgentProcess(environment: ["HTTP_PORT": String(agent.port)], arguments: ["healthcheck"], waitForListening: false)
        #expect(bad.waitForExit(timeout: 5) == 1)
    }

    @Test func healthcheckAsksTheAddressHTTPHostNames() throws {
        let directory = try ServingEndToEndTests.configDirectory([:])
        let env = ["LOCAL_DEVELOPMENT_DIRECTORY": directory.path, "HTTP_HOST": "127.0.0.2"]
        let agent = try AgentProcess(environment: env)
        var check = env
        check["HTTP_PORT"] = String(agent.port)
        let good = try AgentProcess(environment: check, arguments: ["healthcheck"], waitForListening: false)
        #expect(good.waitForExit(timeout: 5) == 0)
        check["HTTP_HOST"] = "localhost"
        let elsewhere = try AgentProcess(environment: check, arguments: ["healthcheck"], waitForListening: false)
        #expect(elsewhere.waitForExit(timeout: 5) == 1)
    }
}
