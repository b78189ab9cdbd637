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
        var fds: Set<Int32> = []
        var stopped = false
    }

    let port: Int
    private let listenFD: Int32
    private let state: Mutex<State>

    var baseURL: String { "http://127.0.0.1:\(port)" }
    var requests: [Request] { state.withLock { $0.requests } }
    var connectionCount: Int { state.withLock { $0.connections } }

    init(handler: @escaping Handler) throws {
        state = Mutex(State(handler: handler))
        let fd = try SystemCall.retrying("socket") { socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr = in_addr(s_addr: UInt32(0x7F00_0001).bigEndian)
        address.sin_port = 0
        let length = socklen_t(MemoryLayout<sockaddr_in>.size)
        try withUnsafePointer(to: &address) { pointer in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                _ = try SystemCall.retrying("bind") { bind(fd, address, length) }
            }
        }
        try SystemCall.retrying("listen") { listen(fd, 128) }
        var bound = sockaddr_in()
        var boundLength = length
        _ = withUnsafeMutablePointer(to: &bound) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &boundLength) }
        }
        listenFD = fd
        port = Int(UInt16(bigEndian: bound.sin_port))
        Thread.detachNewThread { [self] in acceptLoop() }
    }

    deinit { stop() }

    func setHandler(_ handler: @escaping Handler) {
        state.withLock { $0.handler = handler }
    }

    func stop() {
        state.withLock { s in
            guard !s.stopped else { return }
            s.stopped = true
            shutdown(listenFD, Int32(SHUT_RDWR))
            for fd in s.fds { shutdown(fd, Int32(SHUT_RDWR)) }
        }
    }

    private func acceptLoop() {
        while true {
            let fd = accept(listenFD, nil, nil)
            if fd < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                break
            }
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            let keep = state.withLock { s -> Bool in
                if s.stopped { return false }
                s.connections += 1
                s.fds.insert(fd)
                return true
            }
            guard keep else { close(fd); break }
            Thread.detachNewThread { [self] in serve(fd) }
        }
        close(listenFD)
    }

    private func serve(_ fd: Int32) {
        var buffer: [UInt8] = []
        defer {
            _ = state.withLock { $0.fds.remove(fd) }
            close(fd)
        }
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
            guard send(fd, Array(head.utf8)), request.method == "HEAD" || send(fd, response.body) else { return }
        }
    }

    private func readRequest(_ fd: Int32, _ buffer: inout [UInt8]) -> Request? {
        let separator: [UInt8] = Array("\r\n\r\n".utf8)
        var headEnd: Int?
        while headEnd == nil {
            if let range = buffer.firstRange(of: separator) { headEnd = range.upperBound; break }
            guard receive(fd, &buffer) else { return nil }
        }
        guard let headEnd else { return nil }
        let head = String(decoding: buffer[..<(headEnd - 4)], as: UTF8.self)
        buffer.removeFirst(headEnd)
        let lines = head.components(separatedBy: "\r\n")
        let requestLine = lines.first?.split(separator: " ") ?? []
        guard requestLine.count == 3 else { return nil }
        let headers = lines.dropFirst().compactMap { line -> (name: String, value: String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        let length = headers.first { $0.name.lowercased() == "content-length" }.flatMap { Int($0.value) } ?? 0
        while buffer.count < length {
            guard receive(fd, &buffer) else { return nil }
        }
        let body = Array(buffer.prefix(length))
        buffer.removeFirst(length)
        return Request(method: String(requestLine[0]), target: String(requestLine[1]), headers: headers, body: body)
    }

    private func receive(_ fd: Int32, _ buffer: inout [UInt8]) -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { return false }
        buffer.append(contentsOf: chunk[..<n])
        return true
    }

    private func send(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { raw -> Int in
                guard let base = raw.baseAddress else { return -1 }
                return Glibc.send(fd, base + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
            }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return false }
            offset += n
        }
        return true
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
