#if canImport(Glibc)
import Glibc
#endif

/// `appconfig-agent healthcheck`: asks the running agent's `/ping` where it listens (HTTP_HOST and
/// HTTP_PORT, read as the agent reads them; `localhost` and `all` are asked on loopback) and exits 0
/// when it answers 200, 1 otherwise. For container health checks, which then need no shell tools.
enum HealthCheck {
    static func run(environment: [String: String]) -> Int32 {
        let (addresses, port) = target(environment)
        for address in addresses where ping(address: address, port: port) { return 0 }
        return 1
    }

    /// Where to ask: the addresses the agent binds, with a wildcard turned into loopback. A setting
    /// that does not parse falls back to its default (the agent would not have started with it).
    static func target(_ environment: [String: String]) -> (addresses: [String], port: UInt16) {
        let env = SettingsEnvironment(variables: environment)
        let host = env.setting("HTTP_HOST").flatMap { SettingValueParsers.httpHost($0.text) } ?? .localhost
        let port = env.setting("HTTP_PORT").flatMap { UInt16($0.text) } ?? AgentSettings.defaults.httpPort
        let addresses: [String] = switch host {
        case .localhost, .all: Agent.listenAddresses(.localhost)
        case .address(let address): [address]
        }
        return (addresses, port)
    }

    /// True when `address` (a literal or a host name: every address it resolves to is tried) answers
    /// `/ping` with 200.
    private static func ping(address: String, port: UInt16) -> Bool {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICSERV
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(address, String(port), &hints, &result) == 0 else { return false }
        defer { freeaddrinfo(result) }
        var next = result
        while let info = next {
            if ping(info.pointee) { return true }
            next = info.pointee.ai_next
        }
        return false
    }

    private static func ping(_ info: addrinfo) -> Bool {
        let fd = socket(info.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        guard connect(fd, info.ai_addr, info.ai_addrlen) == 0 else { return false }
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
