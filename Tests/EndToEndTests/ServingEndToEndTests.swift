import Foundation
import Testing

/// The real binary in local development mode, talked to over HTTP on loopback.
@Suite struct ServingEndToEndTests {
    static func configDirectory(_ files: [String: String]) throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("agent-e2e-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        for (name, content) in files {
            try Data(content.utf8).write(to: directory.appendingPathComponent(name))
        }
        return directory
    }

    static let flags = #"{"dark_mode": {"enabled": true, "ratio": 1.50}, "beta": {"enabled": false}}"#

    func startAgent(_ files: [String: String] = ["app:env:flags.json": flags, "app:env:motd.txt": "hello\n"],
                    environment: [String: String] = [:]) throws -> (AgentProcess, URL) {
        let directory = try Self.configDirectory(files)
        var env = ["LOCAL_DEVELOPMENT_DIRECTORY": directory.path]
        env.merge(environment) { _, new in new }
        return (try AgentProcess(environment: env), directory)
    }

    @Test func servesLocalFilesWithContentTypeAndVersion() throws {
        let (agent, _) = try startAgent()
        let json = try httpGet(port: agent.port, "/applications/app/environments/env/configurations/flags")
        #expect(json.status == 200)
        #expect(json.text == Self.flags)
        #expect(json.header("Content-Type") == "application/json")
        #expect(json.header("Configuration-Version")?.isEmpty == false)
        #expect(json.header("Version-Label") == nil)
        let text = try httpGet(port: agent.port, "/applications/app/environments/env/configurations/motd")
        #expect(text.header("Content-Type") == "text/plain")
        #expect(text.text == "hello\n")
    }

    @Test func flagQueryReturnsStoredBytesOfOneOrSeveralFlags() throws {
        let (agent, _) = try startAgent()
        let path = "/applications/app/environments/env/configurations/flags"
        let one = try httpGet(port: agent.port, path + "?flag=dark_mode")
        #expect(one.status == 200)
        #expect(one.text == #"{"enabled": true, "ratio": 1.50}"#)
        let two = try httpGet(port: agent.port, path + "?flag=beta&flag=dark_mode")
        #expect(two.text == #"{"beta":{"enabled": false},"dark_mode":{"enabled": true, "ratio": 1.50}}"#)
        #expect(try httpGet(port: agent.port, path + "?flag=nope").status == 404)
        #expect(try httpGet(port: agent.port, "/applications/app/environments/env/configurations/motd?flag=x").status == 400)
    }

    @Test func headAnswersSameHeadersWithoutBody() throws {
        let (agent, _) = try startAgent()
        let path = "/applications/app/environments/env/configurations/flags"
        let get = try httpGet(port: agent.port, path)
        let head = try httpGet(port: agent.port, path, method: "HEAD")
        #expect(head.status == 200)
        #expect(head.body.isEmpty)
        #expect(head.header("Content-Length") == String(get.body.count))
        #expect(head.header("Configuration-Version") == get.header("Configuration-Version"))
        #expect(head.header("Content-Type") == get.header("Content-Type"))
    }

    @Test func methodsAndUnknownPaths() throws {
        let (agent, _) = try startAgent()
        let post = try httpGet(port: agent.port, "/applications/app/environments/env/configurations/flags", method: "POST")
        #expect(post.status == 405)
        #expect(post.header("Allow") == "GET, HEAD")
        #expect(try httpGet(port: agent.port, "/nothing").status == 404)
        #expect(try httpGet(port: agent.port, "/applications/app/environments/env/configurations/none").status == 404)
        let ping = try httpGet(port: agent.port, "/ping")
        #expect(ping.status == 200)
        #expect(ping.text.contains("appconfig-agent"))
    }

    @Test func accessTokenGuardsEverythingButPingAndNeverReachesTheLog() throws {
        let token = "e2e-secret-token-4711"
        let (agent, _) = try startAgent(environment: ["ACCESS_TOKEN": token, "LOG_LEVEL": "trace"])
        let path = "/applications/app/environments/env/configurations/flags"
        let denied = try httpGet(port: agent.port, path)
        #expect(denied.status == 401)
        #expect(denied.header("WWW-Authenticate") == "Bearer")
        #expect(try httpGet(port: agent.port, path, headers: [("Authorization", "Bearer nope")]).status == 401)
        #expect(try httpGet(port: agent.port, path, headers: [("Authorization", "Bearer \(token)")]).status == 200)
        #expect(try httpGet(port: agent.port, "/ping").status == 200)
        agent.stop()
        #expect(!agent.log.contains(token))
    }

    @Test func oversizedRequestsGet414And431AndHugeOnesAreClosed() throws {
        let (agent, _) = try startAgent()
        let longPath = "/applications/" + String(repeating: "a", count: 9000)
        #expect(try httpGet(port: agent.port, longPath).status == 414)
        let bigHeader = String(repeating: "b", count: 20000)
        #expect(try httpGet(port: agent.port, "/ping", headers: [("X-Big", bigHeader)]).status == 431)
        let hugeHeader = String(repeating: "c", count: 70000)
        let connection = try RawConnection(port: agent.port)
        connection.send("GET /ping HTTP/1.1\r\nHost: x\r\nX-Huge: \(hugeHeader)\r\n\r\n")
        let response = try? connection.readResponse()
        #expect(response.map { $0.status >= 400 } ?? true)
        #expect(connection.isClosedByPeer(within: 5))
        #expect(try httpGet(port: agent.port, "/ping").status == 200)
    }

    @Test func malformedRequestLineGets400() throws {
        let (agent, _) = try startAgent()
        let connection = try RawConnection(port: agent.port)
        connection.send("THIS IS NOT HTTP\r\n\r\n")
        let response = try? connection.readResponse()
        #expect(response?.status == 400 || connection.isClosedByPeer(within: 5))
        #expect(try httpGet(port: agent.port, "/ping").status == 200)
    }

    @Test func slowClientIsDisconnectedAndDoesNotStallOthers() throws {
        let (agent, _) = try startAgent(environment: ["CLIENT_TIMEOUT": "2s"])
        let slow = try RawConnection(port: agent.port)
        slow.send("GET /ping HTTP/1.1\r\nHost: x\r\n")  // never finishes its headers
        let started = Date()
        for _ in 0..<20 { #expect(try httpGet(port: agent.port, "/ping").status == 200) }
        #expect(Date().timeIntervalSince(started) < 2)
        #expect(slow.isClosedByPeer(within: 6))
        let idle = try RawConnection(port: agent.port)
        #expect(idle.isClosedByPeer(within: 6))
    }

    @Test func connectionsBeyondTheBoundAreRefusedWith503() throws {
        let (agent, _) = try startAgent(environment: ["MAX_CLIENT_CONNECTIONS": "3"])
        var open: [RawConnection] = []
        for _ in 0..<3 {
            let connection = try RawConnection(port: agent.port)
            connection.send("GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try connection.readResponse().status == 200)
            open.append(connection)
        }
        let extra = try httpGet(port: agent.port, "/ping")
        #expect(extra.status == 503)
        open.removeAll()
        Thread.sleep(forTimeInterval: 0.2)
        #expect(try httpGet(port: agent.port, "/ping").status == 200)
    }

    @Test func keepAliveServesManyRequestsOnOneConnection() throws {
        let (agent, _) = try startAgent()
        let connection = try RawConnection(port: agent.port)
        for _ in 0..<50 {
            connection.send("GET /applications/app/environments/env/configurations/motd HTTP/1.1\r\nHost: x\r\n\r\n")
            let response = try connection.readResponse()
            #expect(response.text == "hello\n")
        }
    }

    @Test func listensOnBothLoopbackFamiliesForLocalhost() throws {
        let (agent, _) = try startAgent()
        #expect(try httpGet(port: agent.port, "/ping", host: "::1").status == 200)
        let (v4only, _) = try startAgent(environment: ["HTTP_HOST": "127.0.0.1"])
        #expect(try httpGet(port: v4only.port, "/ping").status == 200)
        #expect(throws: RawHTTPError.self) { try httpGet(port: v4only.port, "/ping", host: "::1") }
    }
}
