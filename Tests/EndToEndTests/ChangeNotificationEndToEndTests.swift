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

    @Test func manyWaitersAreAllAnsweredByOneChange() throws {
        let (agent, directory) = try start()
        let etag = try #require(try httpGet(port: agent.port, path).header("ETag"))
        let connections = try (0..<200).map { _ in try RawConnection(port: agent.port) }
        for connection in connections {
            connection.send("GET \(path)?wait=30s HTTP/1.1\r\nHost: x\r\nIf-None-Match: \(etag)\r\n\r\n")
        }
        Thread.sleep(forTimeInterval: 0.3)
        try Data(#"{"v":3}"#.utf8).write(to: directory.appendingPathComponent("app:env:cfg.json"))
        for connection in connections {
            let response = try connection.readResponse()
            #expect(response.status == 200)
            #expect(response.text == #"{"v":3}"#)
        }
    }
}
