#if canImport(Glibc)
import Glibc
#endif

/// Opens listening sockets; the one place the server touches the socket API.
enum ListenSocket {
    /// A bound, listening, non-blocking socket with `SO_REUSEPORT`, so that every event loop can
    /// have its own socket on the same port and the kernel spreads connections between them.
    static func open(address: String, port: UInt16, backlog: Int32 = 1024) throws(SystemError) -> Int32 {
        var hints = addrinfo()
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_family = AF_UNSPEC
        var result: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(address, String(port), &hints, &result)
        guard status == 0, let first = result else {
            throw SystemError(call: "getaddrinfo(\(address)): \(String(cString: gai_strerror(status)))", errno: EINVAL)
        }
        defer { freeaddrinfo(result) }
        let info = first.pointee
        let fd = try SystemCall.retrying("socket(\(address))") {
            socket(info.ai_family, info.ai_socktype | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        }
        do {
            var one: Int32 = 1
            try SystemCall.retrying("setsockopt(SO_REUSEADDR)") {
                setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            }
            try SystemCall.retrying("setsockopt(SO_REUSEPORT)") {
                setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, socklen_t(MemoryLayout<Int32>.size))
            }
            if info.ai_family == AF_INET6 {
                // "::" serves IPv4 too (dual stack); "::1" and other v6 addresses only themselves.
                var v6only: Int32 = address == "::" ? 0 : 1
                try SystemCall.retrying("setsockopt(IPV6_V6ONLY)") {
                    setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &v6only, socklen_t(MemoryLayout<Int32>.size))
                }
            }
            try SystemCall.retrying("bind(\(address):\(port))") { bind(fd, info.ai_addr, info.ai_addrlen) }
            try SystemCall.retrying("listen(\(address):\(port))") { listen(fd, backlog) }
            return fd
        } catch {
            close(fd)
            throw error
        }
    }

    /// The port a socket is bound to (for port 0: the one the kernel chose).
    static func boundPort(_ fd: Int32) -> UInt16? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let ok = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard ok == 0 else { return nil }
        switch Int32(storage.ss_family) {
        case AF_INET:
            return withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin_port) }
            }
        case AF_INET6:
            return withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin6_port) }
            }
        default:
            return nil
        }
    }
}
