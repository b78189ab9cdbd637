import Foundation
import Synchronization
@testable import AgentCore
#if canImport(Glibc)
import Glibc
#endif

/// The socket side of the unit tests' scripted HTTP servers (`LoopbackHTTPServer`,
/// `CredentialsFakeServer`): a listener on 127.0.0.1 with an ephemeral port, one thread per
/// connection, and the byte-level helpers they share. What a server answers is its own business.
final class LoopbackListener: Sendable {
    let port: Int
    private let listenFD: Int32
    private let state = Mutex<(fds: Set<Int32>, stopped: Bool)>(([], false))

    /// `opened` runs for each accepted connection before it is served (false: not served, closed);
    /// `serve` runs on the connection's own thread, and `closed` after it, before the socket closes.
    init(opened: @escaping @Sendable () -> Void = {}, closed: @escaping @Sendable () -> Void = {},
         serve: @escaping @Sendable (Int32) -> Void) throws {
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
        Thread.detachNewThread { [self] in acceptLoop(opened: opened, closed: closed, serve: serve) }
    }

    deinit { stop() }

    /// Stops accepting and hangs up every open connection.
    func stop() {
        state.withLock { s in
            guard !s.stopped else { return }
            s.stopped = true
            shutdown(listenFD, Int32(SHUT_RDWR))
            for fd in s.fds { shutdown(fd, Int32(SHUT_RDWR)) }
        }
    }

    private func acceptLoop(opened: @escaping @Sendable () -> Void, closed: @escaping @Sendable () -> Void,
                            serve: @escaping @Sendable (Int32) -> Void) {
        while true {
            let fd = accept(listenFD, nil, nil)
            if fd < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                break
            }
            var one: Int32 = 1 // no Nagle stalls between a head and body sent apart
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            let keep = state.withLock { s -> Bool in
                if s.stopped { return false }
                s.fds.insert(fd)
                return true
            }
            guard keep else { close(fd); break }
            opened()
            Thread.detachNewThread { [self] in
                serve(fd)
                closed()
                _ = state.withLock { $0.fds.remove(fd) }
                close(fd)
            }
        }
        close(listenFD)
    }

    /// Appends what the peer sent next; false at EOF or on an error.
    static func receive(_ fd: Int32, _ buffer: inout [UInt8]) -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { return false }
        buffer.append(contentsOf: chunk[..<n])
        return true
    }

    /// Sends every byte; false when the peer is gone.
    @discardableResult
    static func send(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
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

    @discardableResult
    static func send(_ fd: Int32, _ text: String) -> Bool { send(fd, Array(text.utf8)) }

    /// One request: its head (text up to the blank line) and its `Content-Length` body; nil at EOF.
    /// `accept` sees the buffered bytes before a head is complete and may refuse them (nil).
    static func readRequest(_ fd: Int32, _ buffer: inout [UInt8],
                            accept: ([UInt8]) -> Bool = { _ in true }) -> (head: String, body: [UInt8])? {
        let separator: [UInt8] = Array("\r\n\r\n".utf8)
        var headEnd: Int?
        while headEnd == nil {
            guard accept(buffer) else { return nil }
            if let range = buffer.firstRange(of: separator) { headEnd = range.upperBound; break }
            guard receive(fd, &buffer) else { return nil }
        }
        guard let headEnd else { return nil }
        let head = String(decoding: buffer[..<(headEnd - 4)], as: UTF8.self)
        buffer.removeFirst(headEnd)
        let length = headerFields(head).first { $0.name.lowercased() == "content-length" }.flatMap { Int($0.value) } ?? 0
        while buffer.count < length {
            guard receive(fd, &buffer) else { return nil }
        }
        let body = Array(buffer.prefix(length))
        buffer.removeFirst(length)
        return (head, body)
    }

    /// The header fields of a request or response head, in order, values trimmed.
    static func headerFields(_ head: String) -> [(name: String, value: String)] {
        head.split(separator: "\r\n").dropFirst().compactMap { line in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
    }
}

/// A mutex that closures can share (a `Mutex` itself cannot be captured).
final class SharedState<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    init(_ value: Value) { mutex = Mutex(value) }
    func withLock<Result>(_ body: (inout Value) -> Result) -> Result { mutex.withLock { body(&$0) } }
}
