import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// systemd's service notification protocol (sd_notify(3)), spoken directly: one `AF_UNIX` datagram
/// of `KEY=value` lines per message to the socket named by `NOTIFY_SOCKET`. No libsystemd, so the
/// binary runs the same on hosts and in containers without systemd.
///
/// Sending never fails loudly: when systemd is gone or the socket refuses a message, the agent keeps
/// serving. The first failure is logged at debug level, later ones are not (the watchdog would
/// otherwise log every few seconds).
public final class SystemdNotifier: Sendable {
    /// `NOTIFY_SOCKET` as given: a file system path, or `@name` for the abstract namespace.
    public let socketAddress: String
    /// `WATCHDOG_USEC`: how long systemd waits for a `watchdog()` before it kills and restarts the
    /// service; `nil` when the watchdog is off or meant for another process (`WATCHDOG_PID`).
    public let watchdogInterval: Duration?

    /// The socket's address and its length: for the abstract namespace the length, not a
    /// terminating NUL, ends the name.
    private let address: sockaddr_un
    private let addressLength: socklen_t
    private let failureLogged = Atomic<Bool>(false)
    /// Set by `stopping`: READY and STATUS are no longer sent (systemd would read a READY=1 that
    /// comes after STOPPING=1 as a service starting again). A lock, not an atomic, so that a
    /// message checked before the flag was set is also sent before STOPPING=1.
    private let stopped = Mutex<Bool>(false)

    private init(socketAddress: String, address: sockaddr_un, addressLength: socklen_t, watchdogInterval: Duration?) {
        self.socketAddress = socketAddress
        self.address = address
        self.addressLength = addressLength
        self.watchdogInterval = watchdogInterval
    }

    /// The notifier systemd asked for, or `nil` when `NOTIFY_SOCKET` is unset or empty (not started
    /// by systemd with `Type=notify`), or names an address this implementation cannot reach.
    public static func fromEnvironment(_ environment: [String: String]) -> SystemdNotifier? {
        fromEnvironment(environment, processID: getpid())
    }

    static func fromEnvironment(_ environment: [String: String], processID: pid_t) -> SystemdNotifier? {
        guard let socket = environment["NOTIFY_SOCKET"], !socket.isEmpty else { return nil }
        guard let (address, length) = socketAddress(socket) else {
            log.debug("NOTIFY_SOCKET '\(socket)' is not a path or @abstract name of at most 107 bytes; systemd notifications are off")
            return nil
        }
        return SystemdNotifier(
            socketAddress: socket,
            address: address,
            addressLength: length,
            watchdogInterval: watchdogInterval(environment, processID: processID)
        )
    }

    /// How often to call `watchdog()`: half the interval, as sd_watchdog_enabled(3) recommends, so
    /// that one late ping does not get the service killed.
    public var watchdogPingInterval: Duration? {
        watchdogInterval.map { $0 / 2 }
    }

    /// `READY=1`: start-up is finished (listening, and the manifest processed when waited on).
    public func ready(status: String) {
        sendUnlessStopped("READY=1\nSTATUS=\(Self.singleLine(status))")
    }

    /// `STOPPING=1`: shutdown has begun; no READY or STATUS follows.
    public func stopping(status: String = "stopping") {
        stopped.withLock { stopped in
            stopped = true
            send("STOPPING=1\nSTATUS=\(Self.singleLine(status))")
        }
    }

    /// `STATUS=…`: the one-line status `systemctl status` shows.
    public func status(_ text: String) {
        sendUnlessStopped("STATUS=\(Self.singleLine(text))")
    }

    private func sendUnlessStopped(_ message: String) {
        stopped.withLock { stopped in
            if !stopped { send(message) }
        }
    }

    /// `WATCHDOG=1`: the service is alive and making progress.
    public func watchdog() {
        send("WATCHDOG=1")
    }

    /// Sends one datagram; `false` when it could not be sent (already logged, at most once).
    @discardableResult
    func send(_ message: String) -> Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else {
            reportFailure("socket(AF_UNIX, SOCK_DGRAM)", errno: errno)
            return false
        }
        defer { close(fd) }
        let payload = Array(message.utf8)
        var destination = address
        let sent: Int = withUnsafePointer(to: &destination) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                payload.withUnsafeBytes { body in
                    while true {
                        let n = sendto(fd, body.baseAddress, body.count, Int32(MSG_NOSIGNAL), socketAddress, addressLength)
                        if n < 0 && errno == EINTR { continue }
                        return n
                    }
                }
            }
        }
        guard sent == payload.count else {
            reportFailure("sendto(\(socketAddress))", errno: sent < 0 ? errno : EMSGSIZE)
            return false
        }
        return true
    }

    /// Whether a failure has been logged; for tests.
    var hasReportedFailure: Bool { failureLogged.load(ordering: .relaxed) }

    private func reportFailure(_ call: String, errno code: Int32) {
        guard !failureLogged.exchange(true, ordering: .relaxed) else { return }
        log.debug("systemd notification failed: \(SystemError(call: call, errno: code)); later failures are not logged")
    }

    /// A newline would start a new `KEY=value` assignment: status text stays on one line.
    static func singleLine(_ text: String) -> String {
        String(text.map { $0.isNewline ? " " : $0 })
    }

    /// `sockaddr_un` for a path (`/run/systemd/notify`, terminated by NUL) or an abstract name
    /// (`@name`: a leading NUL instead of `@`, length exactly the name's).
    static func socketAddress(_ text: String) -> (sockaddr_un, socklen_t)? {
        let pathOffset = MemoryLayout<sockaddr_un>.offset(of: \sockaddr_un.sun_path) ?? 2
        let capacity = MemoryLayout<sockaddr_un>.size - pathOffset
        var name = Array(text.utf8)
        let length: Int
        if name.first == UInt8(ascii: "@") {
            name[0] = 0
            guard name.count > 1, name.count <= capacity else { return nil }
            length = pathOffset + name.count
        } else if name.first == UInt8(ascii: "/") {
            guard name.count < capacity, !name.contains(0) else { return nil }
            length = pathOffset + name.count + 1
        } else {
            return nil
        }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address) { raw in
            for (index, byte) in name.enumerated() { raw[pathOffset + index] = byte }
        }
        return (address, socklen_t(length))
    }

    /// `WATCHDOG_USEC` when positive, and `WATCHDOG_PID` unset or this process (systemd sets the
    /// pid so that a child that inherits the environment does not ping on its parent's behalf).
    static func watchdogInterval(_ environment: [String: String], processID: pid_t) -> Duration? {
        guard let text = environment["WATCHDOG_USEC"], let microseconds = UInt64(text), microseconds > 0,
              microseconds <= UInt64(Int64.max) else { return nil }
        if let pidText = environment["WATCHDOG_PID"], !pidText.isEmpty {
            guard let pid = pid_t(pidText), pid == processID else { return nil }
        }
        return .microseconds(Int64(microseconds))
    }
}
