#if canImport(Glibc)
import Glibc
#endif

/// `appconfig-agent healthcheck`: asks the running agent's `/ping` on loopback and exits 0 when it
/// answers 200, 1 otherwise. For container health checks, which then need no shell tools.
enum HealthCheck {
    static func run(environment: [String: String]) -> Int32 {
        let port = environment["HTTP_PORT"].flatMap { UInt16($0) } ?? environment["AWS_APPCONFIG_EXTENSION_HTTP_PORT"].flatMap { UInt16($0) } ?? 2772
        for address in ["127.0.0.1", "::1"] {
            if ping(address: address, port: port) { return 0 }
        }
        return 1
    }

    private static func ping(address: String, port: UInt16) -> Bool {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(address, String(port), &hints, &result) == 0, let info = result else { return false }
        defer { freeaddrinfo(result) }
        let fd = socket(info.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        guard connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 else { return false }
        let request = Array("GET /ping HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".utf8)
        guard request.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == request.count else { return false }
        var buffer = [UInt8](repeating: 0, count: 64)
        var received = 0
        while received < 12 {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + received, $0.count - received, 0) }
            if n <= 0 { return false }
            received += n
        }
        return buffer.starts(with: Array("HTTP/1.1 200".utf8))
    }
}
