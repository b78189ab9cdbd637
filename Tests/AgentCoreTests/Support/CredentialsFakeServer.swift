import Foundation
import Synchronization
@testable import AgentCore
#if canImport(Glibc)
import Glibc
#endif

/// A scripted HTTP/1.1 server on 127.0.0.1 (ephemeral port) for the credential tests: fake STS, container
/// endpoint and IMDS. Every request is recorded; `handler` decides the answer. One thread per connection,
/// keep-alive honoured, every answer with `Content-Length`.
final class CredentialsFakeServer: Sendable {
    struct Request: Sendable, CustomStringConvertible {
        var method: String
        /// As sent: path and query.
        var target: String
        var headers: [(name: String, value: String)]
        var body: [UInt8]

        var path: String { target.split(separator: "?", maxSplits: 1).first.map(String.init) ?? target }
        var bodyText: String { String(decoding: body, as: UTF8.self) }

        func header(_ name: String) -> String? {
            headers.first { $0.name.lowercased() == name.lowercased() }?.value
        }

        func headers(named name: String) -> [String] {
            headers.filter { $0.name.lowercased() == name.lowercased() }.map(\.value)
        }

        /// The body as `application/x-www-form-urlencoded` fields (later duplicates win).
        var form: [String: String] {
            var fields: [String: String] = [:]
            for pair in bodyText.split(separator: "&") {
                let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let name = Self.formDecode(parts[0])
                fields[name] = parts.count > 1 ? Self.formDecode(parts[1]) : ""
            }
            return fields
        }

        static func formDecode(_ text: Substring) -> String {
            let plus = text.replacingOccurrences(of: "+", with: " ")
            return plus.removingPercentEncoding ?? plus
        }

        var description: String { "\(method) \(target)" }
    }

    struct Response: Sendable {
        var status: Int
        var headers: [(String, String)] = []
        var body: [UInt8] = []
        /// Wait this long before answering (on the connection's own thread).
        var delay: Duration?

        init(status: Int, headers: [(String, String)] = [], body: [UInt8] = [], delay: Duration? = nil) {
            self.status = status
            self.headers = headers
            self.body = body
            self.delay = delay
        }

        static func text(_ text: String, status: Int = 200, contentType: String = "text/plain") -> Response {
            Response(status: status, headers: [("Content-Type", contentType)], body: Array(text.utf8))
        }

        static func json(_ text: String, status: Int = 200) -> Response {
            .text(text, status: status, contentType: "application/json")
        }

        static func xml(_ text: String, status: Int = 200) -> Response {
            .text(text, status: status, contentType: "text/xml")
        }
    }

    typealias Handler = @Sendable (Request) -> Response

    private struct State {
        var handler: Handler
        var requests: [Request] = []
        var connections = 0
    }

    private let state: SharedState<State>
    private let listener: LoopbackListener

    var port: Int { listener.port }
    var baseURL: String { "http://127.0.0.1:\(port)" }
    var requests: [Request] { state.withLock { $0.requests } }
    var connectionCount: Int { state.withLock { $0.connections } }

    init(handler: @escaping Handler) throws {
        let state = SharedState(State(handler: handler))
        self.state = state
        listener = try LoopbackListener(opened: { state.withLock { $0.connections += 1 } }) { fd in
            CredentialsFakeServer.serve(fd, state)
        }
    }

    func setHandler(_ handler: @escaping Handler) {
        state.withLock { $0.handler = handler }
    }

    func stop() { listener.stop() }

    private static func serve(_ fd: Int32, _ state: SharedState<State>) {
        var buffer: [UInt8] = []
        while let request = readRequest(fd, &buffer) {
            let handler = state.withLock { s -> Handler in
                s.requests.append(request)
                return s.handler
            }
            let response = handler(request)
            if let delay = response.delay {
                Thread.sleep(forTimeInterval: Double(delay.components.seconds) + Double(delay.components.attoseconds) / 1e18)
            }
            var head = "HTTP/1.1 \(response.status) Fake\r\n"
            for (name, value) in response.headers { head += "\(name): \(value)\r\n" }
            head += "Content-Length: \(response.body.count)\r\n\r\n"
            guard LoopbackListener.send(fd, Array(head.utf8)),
                  request.method == "HEAD" || LoopbackListener.send(fd, response.body) else { return }
        }
    }

    private static func readRequest(_ fd: Int32, _ buffer: inout [UInt8]) -> Request? {
        guard let (head, body) = LoopbackListener.readRequest(fd, &buffer) else { return nil }
        let requestLine = head.components(separatedBy: "\r\n").first?.split(separator: " ") ?? []
        guard requestLine.count == 3 else { return nil }
        return Request(method: String(requestLine[0]), target: String(requestLine[1]),
                       headers: LoopbackListener.headerFields(head), body: body)
    }
}

/// A TCP port on 127.0.0.1 that refuses connections: bound, never listening, held until released.
final class CredentialsClosedPort: Sendable {
    let port: Int
    private let fd: Int32

    init() throws {
        fd = try SystemCall.retrying("socket") { socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr = in_addr(s_addr: UInt32(0x7F00_0001).bigEndian)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let fd = fd
        let ok = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard ok else { throw SystemError(call: "bind", errno: errno) }
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    var url: String { "http://127.0.0.1:\(port)" }

    deinit { close(fd) }
}
