import Foundation
import Synchronization
import Testing
@testable import AgentCore
#if canImport(Glibc)
import Glibc
#endif

// MARK: - A scripted HTTP/1.1 server on 127.0.0.1, one thread per connection

/// Reads requests (keep-alive) and answers by path:
/// `/echo` the request head and body back; `/status/500`; `/slow?ms=N` after N ms (sooner if the
/// client hangs up); `/truncate` Content-Length 100 then 10 bytes and close; `/big?n=N` N bytes;
/// `/bigchunked?n=N` N bytes chunked; `/nothing` close without answering; `/redirect` a 302;
/// `CONNECT` 403. Anything not HTTP (a TLS ClientHello) gets a 400 and a close.
final class LoopbackHTTPServer: Sendable {
    struct Stats: Sendable {
        var open = 0
        var maxOpen = 0
        var accepted = 0
        var heads: [String] = []
    }

    private let statsStore = SharedState(Stats())
    private let listener: LoopbackListener

    var stats: Stats { statsStore.withLock { $0 } }
    var port: Int { listener.port }
    var baseURL: String { "http://127.0.0.1:\(port)" }

    init() throws {
        let stats = statsStore
        listener = try LoopbackListener(
            opened: {
                stats.withLock { s in
                    s.accepted += 1
                    s.open += 1
                    s.maxOpen = max(s.maxOpen, s.open)
                }
            },
            closed: { stats.withLock { $0.open -= 1 } },
            serve: { fd in
                var buffer: [UInt8] = []
                while let (head, body) = LoopbackHTTPServer.readRequest(fd, &buffer) {
                    stats.withLock { $0.heads.append(head) }
                    guard LoopbackHTTPServer.reply(fd, head: head, body: body) else { return }
                }
            })
    }

    /// Stops accepting and hangs up every open connection.
    func stop() { listener.stop() }

    /// One request, or nil at EOF; anything not HTTP (a TLS ClientHello) gets a 400 and a close.
    private static func readRequest(_ fd: Int32, _ buffer: inout [UInt8]) -> (String, [UInt8])? {
        LoopbackListener.readRequest(fd, &buffer) { bytes in
            guard let first = bytes.first, !(UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(first) else { return true }
            LoopbackListener.send(fd, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return false
        }
    }

    /// Answers; false when the connection must close.
    private static func reply(_ fd: Int32, head: String, body: [UInt8]) -> Bool {
        let requestLine = head.split(separator: "\r\n", maxSplits: 1).first.map(String.init) ?? ""
        let parts = requestLine.split(separator: " ")
        guard parts.count == 3 else { return false }
        let method = String(parts[0])
        let target = String(parts[1])
        if method == "CONNECT" {
            send(fd, "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return false
        }
        let path = target.split(separator: "?", maxSplits: 1).first.map(String.init) ?? target
        let number = target.split(separator: "=").last.flatMap { Int($0) } ?? 0
        switch path {
        case _ where path.hasSuffix("/echo"): // also absolute-form, as through a proxy
            let echoed = Array(head.utf8) + Array("\r\n\r\n".utf8) + body
            send(fd, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Multi: one\r\nx-multi:  two \r\nContent-Length: \(echoed.count)\r\n\r\n")
            if method != "HEAD" { send(fd, echoed) }
        case "/status/500":
            send(fd, "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\nboom")
        case "/slow":
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            if poll(&poller, 1, Int32(number)) > 0 { return false } // the client hung up
            send(fd, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nslow")
        case "/truncate":
            send(fd, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")
            return false
        case "/big":
            send(fd, "HTTP/1.1 200 OK\r\nContent-Length: \(number)\r\n\r\n")
            return send(fd, [UInt8](repeating: UInt8(ascii: "x"), count: number))
        case "/bigchunked":
            send(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            var left = number
            while left > 0 {
                let n = min(left, 16384)
                guard send(fd, "\(String(n, radix: 16))\r\n") else { return false }
                guard send(fd, [UInt8](repeating: UInt8(ascii: "y"), count: n) + Array("\r\n".utf8)) else { return false }
                left -= n
            }
            send(fd, "0\r\n\r\n")
        case "/nothing":
            return false
        case "/redirect":
            send(fd, "HTTP/1.1 302 Found\r\nLocation: /echo\r\nContent-Length: 0\r\n\r\n")
        default:
            send(fd, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
        }
        return true
    }

    @discardableResult
    private static func send(_ fd: Int32, _ text: String) -> Bool { LoopbackListener.send(fd, text) }

    @discardableResult
    private static func send(_ fd: Int32, _ bytes: [UInt8]) -> Bool { LoopbackListener.send(fd, bytes) }

    /// Values of every header `name` (lower-case) in a request or response head.
    static func headerValues(_ head: String, _ name: String) -> [String] {
        LoopbackListener.headerFields(head).filter { $0.name.lowercased() == name }.map(\.value)
    }
}

// MARK: - Helpers

private func outcome(_ client: CurlHTTPClient, _ request: HTTPClientRequest) async -> Result<HTTPClientResponse, HTTPClientError> {
    do { return .success(try await client.execute(request)) } catch { return .failure(error) }
}

private func failure(_ client: CurlHTTPClient, _ request: HTTPClientRequest) async -> HTTPClientError? {
    if case .failure(let error) = await outcome(client, request) { return error }
    return nil
}

/// The head and body the server received, from an `/echo` response.
private func echoed(_ response: HTTPClientResponse) -> (head: String, headers: [(name: String, value: String)], body: [UInt8]) {
    let separator = Array("\r\n\r\n".utf8)
    guard let range = response.body.firstRange(of: separator) else { return ("", [], []) }
    let head = String(decoding: response.body[..<range.lowerBound], as: UTF8.self)
    return (head, LoopbackListener.headerFields(head), Array(response.body[range.upperBound...]))
}

private func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

// MARK: - Tests

@Suite struct CurlHTTPClientTests {
    @Test func getSendsExactlyTheCallersHeadersPlusHost() async throws {
        let server = try LoopbackHTTPServer()
        let client = try CurlHTTPClient()
        let response = try await client.execute(HTTPClientRequest(url: server.baseURL + "/echo?a=1", headers: [
            HTTPHeader(name: "X-Amz-Date", value: "20260102T150405Z"),
            HTTPHeader(name: "Authorization", value: "AWS4-HMAC-SHA256 Credential=x"),
            HTTPHeader(name: "X-Empty", value: ""),
        ]))
        let sent = echoed(response)
        #expect(sent.head.hasPrefix("GET /echo?a=1 HTTP/1.1\r\n"))
        #expect(sent.headers.map(\.name) == ["Host", "X-Amz-Date", "Authorization", "X-Empty"])
        #expect(sent.headers.map(\.value) == ["127.0.0.1:\(server.port)", "20260102T150405Z", "AWS4-HMAC-SHA256 Credential=x", ""])
        #expect(sent.body.isEmpty)
    }

    @Test func postSendsBodyAndHeadersExactlyWithoutExpect() async throws {
        let server = try LoopbackHTTPServer()
        let client = try CurlHTTPClient(configuration: HTTPClientConfiguration(requestTimeout: .seconds(10)))
        // Over 1 MiB: the size at which libcurl 7.88 would otherwise add `Expect: 100-continue`.
        let body = (0..<1_500_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let response = try await client.execute(HTTPClientRequest(method: "POST", url: server.baseURL + "/echo", headers: [
            HTTPHeader(name: "Content-Type", value: "application/json"),
            HTTPHeader(name: "X-Amz-Date", value: "20260102T150405Z"),
        ], body: body))
        let sent = echoed(response)
        #expect(sent.head.hasPrefix("POST /echo HTTP/1.1\r\n"))
        #expect(sent.headers.map(\.name) == ["Host", "Content-Type", "X-Amz-Date", "Content-Length"])
        #expect(LoopbackHTTPServer.headerValues(sent.head, "content-length") == ["1500000"])
        #expect(sent.body == body)
    }

    @Test func postWithoutContentTypeSendsNoneAndEmptyPostSendsZeroLength() async throws {
        let server = try LoopbackHTTPServer()
        let client = try CurlHTTPClient()
        let response = try await client.execute(HTTPClientRequest(method: "POST", url: server.baseURL + "/echo"))
        let sent = echoed(response)
        #expect(sent.headers.map(\.name) == ["Host", "Content-Length"])
        #expect(LoopbackHTTPServer.headerValues(sent.head, "content-length") == ["0"])
    }

    @Test func acceptAndUserAgentAreSentOnlyWhenTheCallerSetsThem() async throws {
        let server = try LoopbackHTTPServer()
        let client = try CurlHTTPClient()
        let response = try await client.execute(HTTPClientRequest(url: server.baseURL + "/echo", headers: [
            HTTPHeader(name: "Accept", value: "application/ion;q=1.0,*/*;q=0.1"),
            HTTPHeader(name: "User-Agent", value: "appconfig-agent/1"),
        ]))
        let sent = echoed(response)
        #expect(sent.headers.map(\.name) == ["Host", "Accept", "User-Agent"])
        #expect(LoopbackHTTPServer.headerValues(sent.head, "accept") == ["application/ion;q=1.0,*/*;q=0.1"])
    }

    @Test func putAndDeleteUseTheirMethod() async throws {
        let server = try LoopbackHTTPServer()
        let client = try CurlHTTPClient()
        let put = echoed(try await client.execute(HTTPClientRequest(method: "PUT", url: server.baseURL + "/echo", body: Array("abc".utf8))))
        #expect(put.head.hasPrefix("PUT /echo HTTP/1.1\r\n"))
        #expect(put.body == Array("abc".utf8))
        #expect(!put.headers.contains { $0.name.lowercased() == "content-type" })
        let delete = echoed(try await client.execute(HTTPClientRequest(method: "DELETE", url: server.baseURL + "/echo")))
        #expect(delete.head.hasPrefix("DELETE /echo HTTP/1.1\r\n"))
    }

    @Test func headRequestReturnsHeadersWithoutBody() async throws {
        let server = try LoopbackHTTPServer()
        let client = try CurlHTTPClient()
        let response = try await client.execute(HTTPClientRequest(method: "HEAD", url: server.baseURL + "/echo"))
        #expect(response.status == 200)
        #expect(response.body.isEmpty)
        #expect(response.header("content-type") == "text/plain")
    }

    @Test func responseCarriesStatusHeadersInOrderAndBody() async throws {
        let server = try LoopbackHTTPServer()
        let client = try CurlHTTPClient()
        let response = try await client.execute(HTTPClientRequest(url: server.baseURL + "/echo"))
        #expect(response.status == 200)
        #expect(response.headers.map(\.name) == ["Content-Type", "X-Multi", "x-multi", "Content-Length"])
        #expect(response.header("CONTENT-TYPE") == "text/plain")
        #expect(response.headers(named: "X-MULTI") == ["one", "two"])
        #expect(response.header("missing") == nil)
        #expect(echoed(response).head.hasPrefix("GET /echo HTTP/1.1"))
    }

    @Test func serverErrorIsAResponseNotAnError() async throws {
        let server = try LoopbackHTTPServer()
        let client = try CurlHTTPClient()
        let response = try await client.execute(HTTPClientRequest(url: server.baseURL + "/status/500"))
        #expect(response.status == 500)
        #expect(response.body == Array("boom".utf8))
    }

    @Test func redirectIsReturnedNotFollowed() async throws {
        let server = try LoopbackHTTPServer()
        let client = try CurlHTTPClient()
        let response = try await client.execute(HTTPClientRequest(url: server.baseURL + "/redirect"))
        #expect(response.status == 302)
        #expect(response.header("location") == "/echo")
        #expect(server.stats.heads.count == 1)
    }

    @Test func slowResponseTimesOutWithinAboutTheTimeout() async throws {
        let server = try LoopbackHTTPServer()
        let client = try CurlHTTPClient(configuration: HTTPClientConfiguration(requestTimeout: .milliseconds(300)))
        let start = ContinuousClock.now
        let error = await failure(client, HTTPClientRequest(url: server.baseURL + "/slow?ms=20000"))
        let elapsed = seconds(ContinuousClock.now - start)
        #expect(error == .timedOut)
        // Generous upper bound: the server answers after 20 s, so anything well below proves the
        // timeout fired, even on a loaded machine.
        #expect(elapsed >= 0.28 && elapsed < 10, "took \(elapsed) s")
    }

    @Test func perRequestTimeoutOverridesTheDefault() async throws {
        let server = try LoopbackHTTPServer()
        let client = try CurlHTTPClient(configuration: HTTPClientConfiguration(requestTimeout: .seconds(30)))
        let start = ContinuousClock.now
        let error = await failure(client, HTTPClientRequest(url: server.baseURL + "/slow?ms=20000", timeout: .milliseconds(200)))
        #expect(error == .timedOut)
        #expect(seconds(ContinuousClock.now - start) < 10)
        let fine = try await client.execute(HTTPClientRequest(url: server.baseURL + "/slow?ms=50", timeout: .seconds(5)))
        #expect(fine.body == Array("slow".utf8))
    }

    @Test func bodyShorterThanContentLengthIsTruncated() async throws {
        let server = try LoopbackHTTPServer()
        let client = try CurlHTTPClient()
        let error = await failure(client, HTTPClientRequest(url: server.baseURL + "/truncate"))
        guard case .truncated = error else {
            Issue.record("expected .truncated, got \(String(describing: error))")
            return
        }
    }

    @Test func refusedConnectionIsConnectionFailed() async throws {
        // A socket bound but not listening: connecting to its port is refused, and no one else can take it.
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr = in_addr(s_addr: UInt32(0x7F00_0001).bigEndian)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        #expect(bound)
        let client = try CurlHTTPClient()
        let error = await failure(client, HTTPClientRequest(url: "http://127.0.0.1:\(UInt16(bigEndian: address.sin_port))/echo"))
        guard case .connectionFailed = error else {
            Issue.record("expected .connectionFailed, got \(String(describing: error))")
            return
        }
    }

    @Test func serverClosingWithoutAnswerIsConnectionFailed() async throws {
        let server = try LoopbackHTTPServer()
        let client = try CurlHTTPClient()
        let error = await failure(client, HTTPClientRequest(url: server.baseURL + "/nothing"))
        guard case .connectionFailed = error else {
            Issue.record("expected .connectionFailed, got \(String(describing: error))")
            return
        }
    }

    @Test func maxConnectionsBoundsConcurrentSocketsAtTheServer() async throws {
        let server = try LoopbackHTTPServer()
        let client = try CurlHTTPClient(configuration: HTTPClientConfiguration(maxConnections: 2, requestTimeout: .seconds(10)))
        let start = ContinuousClock.now
        let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<6 {
                group.addTask { try await client.execute(HTTPClientRequest(url: server.baseURL + "/slow?ms=250")).status }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(statuses == Array(repeating: 200, count: 6))
        #expect(server.stats.maxOpen == 2)
        #expect(server.stats.accepted == 2)
        // Three waves of two.
        #expect(seconds(ContinuousClock.now - start) >= 0.7)
    }

    @Test func timeWaitingForAConnectionDoesNotCountAgainstTheTimeout() async throws {
        let server = try LoopbackHTTPServer()
        let client = try CurlHTTPClient(configuration: HTTPClientConfiguration(maxConnections: 2, requestTimeout: .milliseconds(1000)))
        // Six waves of two 300 ms answers: the last ones wait ~1.5 s for a connection, longer than
        // the timeout, yet each takes 300 ms once it has one (0.7 s of room for a loaded machine).
        let results = await withTaskGroup(of: Result<HTTPClientResponse, HTTPClientError>.self) { group in
            for _ in 0..<12 {
                group.addTask { await outcome(client, HTTPClientRequest(url: server.baseURL + "/slow?ms=300")) }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.map { (try? $0.get().status) ?? -1 } == Array(repeating: 200, count: 12))
        #expect(server.stats.maxOpen == 2)
        #expect(server.stats.accepted == 2)  // connections still reused
    }

    @Test func aCallSlowerThanTheTimeoutStillTimesOutAfterWaitingForAConnection() async throws {
        let server = try LoopbackHTTPServer()
        let client = try CurlHTTPClient(configuration: HTTPClientConfiguration(maxConnections: 1, requestTimeout: .milliseconds(1000)))
        async let first = outcome(client, HTTPClientRequest(url: server.baseURL + "/slow?ms=300"))
        try await Task.sleep(for: .milliseconds(50))
        async let second = outcome(client, HTTPClientRequest(url: server.baseURL + "/slow?ms=20000"))
        let results = await [first, second]
        #expect((try? results[0].get().status) == 200)
        guard case .failure(let error) = results[1] else {
            Issue.record("expected the 20 s call to time out")
            return
        }
        #expect(error == .timedOut)
    }

    @Test func sequentialRequestsReuseOneConnection() async throws {
        let server = try LoopbackHTTPServer()
        let client = try CurlHTTPClient()
        for _ in 0..<5 {
            let response = try await client.execute(HTTPClientRequest(url: server.baseURL + "/echo"))
            #expect(response.status == 200)
        }
        #expect(server.stats.accepted == 1)
        #expect(server.stats.heads.count == 5)
    }

    @Test func fiftyConcurrentRequestsAllComplete() async throws {
        let server = try LoopbackHTTPServer()
        let client = try CurlHTTPClient(configuration: HTTPClientConfiguration(requestTimeout: .seconds(20)))
        let paths = try await withThrowingTaskGroup(of: String.self) { group in
            for i in 0..<50 {
                group.addTask {
                    let response = try await client.execute(HTTPClientRequest(url: server.baseURL + "/echo?i=\(i)"))
                    return String(echoed(response).head.split(separator: " ")[1])
                }
            }
            return try await group.reduce(into: Set<String>()) { $0.insert($1) }
        }
        #expect(paths == Set((0..<50).map { "/echo?i=\($0)" }))
        #expect(server.stats.maxOpen <= 3)
    }

    @Test func bodyOverTheLimitWithContentLengthIsTooLarge() async throws {
        let server = try LoopbackHTTPServer()
        let client = try CurlHTTPClient(configuration: HTTPClientConfiguration(maxResponseBytes: 10_000))
        #expect(await failure(client, HTTPClientRequest(url: server.baseURL + "/big?n=200000")) == .tooLarge(limit: 10_000))
        let exact = try await client.execute(HTTPClientRequest(url: server.baseURL + "/big?n=10000"))
        #expect(exact.body.count == 10_000)
    }

    @Test func chunkedBodyOverTheLimitIsTooLarge() async throws {
        let server = try LoopbackHTTPServer()
        let client = try CurlHTTPClient(configuration: HTTPClientConfiguration(maxResponseBytes: 50_000))
        #expect(await failure(client, HTTPClientRequest(url: server.baseURL + "/bigchunked?n=400000")) == .tooLarge(limit: 50_000))
        let fits = try await client.execute(HTTPClientRequest(url: server.baseURL + "/bigchunked?n=40000"))
        #expect(fits.body == [UInt8](repeating: UInt8(ascii: "y"), count: 40_000))
    }

    @Test func httpsAgainstAPlainServerFailsFastWithTLSError() async throws {
        let server = try LoopbackHTTPServer()
        let client = try CurlHTTPClient(configuration: HTTPClientConfiguration(requestTimeout: .seconds(10)))
        let start = ContinuousClock.now
        let error = await failure(client, HTTPClientRequest(url: "https://127.0.0.1:\(server.port)/echo"))
        switch error {
        case .tls, .connectionFailed: break
        default: Issue.record("expected a TLS or connection error, got \(String(describing: error))")
        }
        // The error kind is the proof (a hang would end in .timedOut); the bound only catches a
        // wait close to the 10 s timeout, with room for a loaded machine.
        #expect(seconds(ContinuousClock.now - start) < 8)
    }

    @Test func cancellingTheTaskAbandonsTheTransfer() async throws {
        let server = try LoopbackHTTPServer()
        let client = try CurlHTTPClient(configuration: HTTPClientConfiguration(requestTimeout: .seconds(30)))
        let start = ContinuousClock.now
        let task = Task { await failure(client, HTTPClientRequest(url: server.baseURL + "/slow?ms=20000")) }
        try await Task.sleep(for: .milliseconds(150))
        task.cancel()
        #expect(await task.value == .cancelled)
        // Well before the server's 20 s answer, with room for a loaded machine.
        #expect(seconds(ContinuousClock.now - start) < 10)
        // The client still works afterwards.
        #expect(try await client.execute(HTTPClientRequest(url: server.baseURL + "/echo")).status == 200)
    }

    @Test func requestInAnAlreadyCancelledTaskIsNotSent() async throws {
        let server = try LoopbackHTTPServer()
        let client = try CurlHTTPClient()
        let task = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return await failure(client, HTTPClientRequest(url: server.baseURL + "/echo"))
        }
        #expect(await task.value == .cancelled)
        #expect(server.stats.heads.isEmpty)
    }

    @Test func shutdownFailsRunningAndLaterRequests() async throws {
        let server = try LoopbackHTTPServer()
        let client = try CurlHTTPClient(configuration: HTTPClientConfiguration(requestTimeout: .seconds(30)))
        let running = Task { await failure(client, HTTPClientRequest(url: server.baseURL + "/slow?ms=10000")) }
        try await Task.sleep(for: .milliseconds(150))
        await client.shutdownAndWait()
        #expect(await running.value == .shutDown)
        #expect(await failure(client, HTTPClientRequest(url: server.baseURL + "/echo")) == .shutDown)
    }

    @Test func headerWithLineBreakIsRejectedBeforeAnythingIsSent() async throws {
        let server = try LoopbackHTTPServer()
        let client = try CurlHTTPClient()
        let error = await failure(client, HTTPClientRequest(url: server.baseURL + "/echo", headers: [
            HTTPHeader(name: "X-Bad", value: "a\r\nX-Injected: 1"),
        ]))
        guard case .invalidRequest = error else {
            Issue.record("expected .invalidRequest, got \(String(describing: error))")
            return
        }
        #expect(server.stats.accepted == 0)
    }

    @Test func onlyHTTPAndHTTPSSchemesAreAllowed() async throws {
        let client = try CurlHTTPClient()
        let error = await failure(client, HTTPClientRequest(url: "file:///etc/passwd"))
        guard case .invalidRequest = error else {
            Issue.record("expected .invalidRequest, got \(String(describing: error))")
            return
        }
    }

    @Test func proxyHeadersGoOnlyToTheProxyInConnect() async throws {
        let proxy = try LoopbackHTTPServer()
        let client = try CurlHTTPClient(configuration: HTTPClientConfiguration(
            proxyURL: proxy.baseURL,
            proxyHeaders: [HTTPHeader(name: "Proxy-Authorization", value: "Basic dXNlcjpwYXNz")]
        ))
        let error = await failure(client, HTTPClientRequest(url: "https://appconfigdata.us-east-1.amazonaws.com/configuration?configuration_token=abc", headers: [
            HTTPHeader(name: "X-Amz-Date", value: "20260102T150405Z"),
        ]))
        #expect(error == .connectionFailed("proxy answered CONNECT with 403"))
        let heads = proxy.stats.heads
        #expect(heads.count == 1)
        let head = heads.first ?? ""
        #expect(head.hasPrefix("CONNECT appconfigdata.us-east-1.amazonaws.com:443 HTTP/1.1\r\n"))
        #expect(LoopbackHTTPServer.headerValues(head, "proxy-authorization") == ["Basic dXNlcjpwYXNz"])
        #expect(LoopbackHTTPServer.headerValues(head, "x-amz-date").isEmpty)
    }

    @Test func plainHTTPThroughTheProxyKeepsTheCallersHeaders() async throws {
        let proxy = try LoopbackHTTPServer()
        let client = try CurlHTTPClient(configuration: HTTPClientConfiguration(
            proxyURL: proxy.baseURL,
            proxyHeaders: [HTTPHeader(name: "X-Proxy-Only", value: "p")]
        ))
        let response = try await client.execute(HTTPClientRequest(url: "http://169.254.170.2/echo", headers: [
            HTTPHeader(name: "Authorization", value: "token"),
        ]))
        let sent = echoed(response)
        #expect(sent.head.hasPrefix("GET http://169.254.170.2/echo HTTP/1.1\r\n"))
        #expect(LoopbackHTTPServer.headerValues(sent.head, "authorization") == ["token"])
        #expect(LoopbackHTTPServer.headerValues(sent.head, "host") == ["169.254.170.2"])
        // No tunnel for plain http: the proxy is the request's recipient and gets its headers too.
        #expect(LoopbackHTTPServer.headerValues(sent.head, "x-proxy-only") == ["p"])
    }

    @Test func invalidConfigurationIsRefused() {
        #expect(throws: HTTPClientError.invalidConfiguration("maxConnections must be at least 1, got 0")) {
            _ = try CurlHTTPClient(configuration: HTTPClientConfiguration(maxConnections: 0))
        }
        #expect(throws: HTTPClientError.self) {
            _ = try CurlHTTPClient(configuration: HTTPClientConfiguration(proxyHeaders: [HTTPHeader(name: "Bad Name", value: "v")]))
        }
    }

    @Test func durationsBecomeAtLeastOneMillisecond() {
        #expect(Duration.milliseconds(3000).curlMilliseconds == 3000)
        #expect(Duration.microseconds(1500).curlMilliseconds == 1)
        #expect(Duration.zero.curlMilliseconds == 1)
        #expect(Duration.seconds(-5).curlMilliseconds == 1)
        #expect(Duration.milliseconds(2500).curlMilliseconds == 2500)
    }
}
