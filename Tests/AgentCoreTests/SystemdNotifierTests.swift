import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif
@testable import AgentCore

/// A real `AF_UNIX` datagram socket standing in for systemd's notification socket.
private final class NotifySocketReceiver {
    let fd: Int32
    /// What `NOTIFY_SOCKET` would hold: a path, or `@name` for the abstract namespace.
    let notifyAddress: String
    private let directory: String?

    /// Binds a socket file in a fresh temporary directory.
    init(path: ()) throws {
        var template = Array("/tmp/appconfig-notify-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { buffer in
            buffer.baseAddress.flatMap { mkdtemp($0) }.map { String(cString: $0) }
        }
        let directory = try #require(made)
        self.directory = directory
        notifyAddress = directory + "/notify"
        fd = try Self.boundSocket(notifyAddress)
    }

    /// Binds a name in the abstract namespace (no file at all).
    init(abstract: ()) throws {
        directory = nil
        notifyAddress = "@appconfig-agent-test-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        fd = try Self.boundSocket(notifyAddress)
    }

    private static func boundSocket(_ notifyAddress: String) throws -> Int32 {
        let (address, length) = try #require(SystemdNotifier.socketAddress(notifyAddress))
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        try #require(fd >= 0)
        var bindAddress = address
        let bound = withUnsafePointer(to: &bindAddress) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        try #require(bound == 0, "bind(\(notifyAddress)) failed: errno \(errno)")
        // A missing message fails the test after 5 s instead of hanging it.
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        return fd
    }

    /// The next datagram's exact bytes as text, or nil after the timeout.
    func receive() -> String? {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard n >= 0 else { return nil }
        return String(decoding: buffer[0..<n], as: UTF8.self)
    }

    deinit {
        close(fd)
        if let directory {
            unlink(notifyAddress)
            rmdir(directory)
        }
    }
}

@Suite struct SystemdNotifierTests {
    @Test func readySendsReadyAndStatusToASocketPath() throws {
        let receiver = try NotifySocketReceiver(path: ())
        let notifier = try #require(SystemdNotifier.fromEnvironment(["NOTIFY_SOCKET": receiver.notifyAddress]))
        notifier.ready(status: "listening on 127.0.0.1:2772, [::1]:2772")
        #expect(receiver.receive() == "READY=1\nSTATUS=listening on 127.0.0.1:2772, [::1]:2772")
    }

    @Test func everyMessageArrivesAsOneDatagramWithExactBytes() throws {
        let receiver = try NotifySocketReceiver(path: ())
        let notifier = try #require(SystemdNotifier.fromEnvironment(["NOTIFY_SOCKET": receiver.notifyAddress]))
        notifier.status("polling 3 configurations")
        #expect(receiver.receive() == "STATUS=polling 3 configurations")
        notifier.watchdog()
        #expect(receiver.receive() == "WATCHDOG=1")
        notifier.stopping()
        #expect(receiver.receive() == "STOPPING=1\nSTATUS=stopping")
    }

    @Test func nothingButTheWatchdogFollowsStopping() throws {
        let receiver = try NotifySocketReceiver(path: ())
        let notifier = try #require(SystemdNotifier.fromEnvironment(["NOTIFY_SOCKET": receiver.notifyAddress]))
        notifier.stopping(status: "stopping (SIGTERM)")
        #expect(receiver.receive() == "STOPPING=1\nSTATUS=stopping (SIGTERM)")
        notifier.ready(status: "manifest processed")
        notifier.status("serving 1 configuration(s)")
        notifier.watchdog()
        // Datagrams arrive in order: had READY or STATUS been sent, it would come first.
        #expect(receiver.receive() == "WATCHDOG=1")
    }

    @Test func serviceStatusIsSentOnlyWhenItChanges() throws {
        let receiver = try NotifySocketReceiver(path: ())
        let notifier = try #require(SystemdNotifier.fromEnvironment(["NOTIFY_SOCKET": receiver.notifyAddress]))
        let counts = Mutex((served: 1, failing: 0))
        let status = ServiceStatus(notifier: notifier) {
            let (served, failing) = counts.withLock { $0 }
            return ServiceStatus.summary(served: served, failing: failing, endpoints: ["127.0.0.1:2772"])
        }
        status.refresh()
        #expect(receiver.receive() == "STATUS=serving 1 configuration(s); listening on 127.0.0.1:2772")
        status.refresh()
        counts.withLock { $0.failing = 2 }
        status.refresh()
        #expect(receiver.receive() == "STATUS=serving 1 configuration(s), 2 failing; listening on 127.0.0.1:2772")
        status.refresh()
        notifier.watchdog()
        #expect(receiver.receive() == "WATCHDOG=1")
    }

    @Test func abstractNamespaceSocketReceivesMessages() throws {
        let receiver = try NotifySocketReceiver(abstract: ())
        let notifier = try #require(SystemdNotifier.fromEnvironment(["NOTIFY_SOCKET": receiver.notifyAddress]))
        notifier.ready(status: "ready")
        #expect(receiver.receive() == "READY=1\nSTATUS=ready")
        notifier.watchdog()
        #expect(receiver.receive() == "WATCHDOG=1")
    }

    @Test func statusWithNewlinesStaysOneAssignment() throws {
        let receiver = try NotifySocketReceiver(path: ())
        let notifier = try #require(SystemdNotifier.fromEnvironment(["NOTIFY_SOCKET": receiver.notifyAddress]))
        notifier.status("line one\nREADY=1\r\nline two")
        #expect(receiver.receive() == "STATUS=line one READY=1 line two")
    }

    @Test func noNotifySocketMeansNoNotifier() {
        #expect(SystemdNotifier.fromEnvironment([:]) == nil)
        #expect(SystemdNotifier.fromEnvironment(["NOTIFY_SOCKET": ""]) == nil)
        #expect(SystemdNotifier.fromEnvironment(["WATCHDOG_USEC": "30000000"]) == nil)
    }

    @Test func unreachableSocketAddressesAreRefused() {
        #expect(SystemdNotifier.fromEnvironment(["NOTIFY_SOCKET": "relative/notify"]) == nil)
        #expect(SystemdNotifier.fromEnvironment(["NOTIFY_SOCKET": "vsock:2:1234"]) == nil)
        #expect(SystemdNotifier.fromEnvironment(["NOTIFY_SOCKET": "@"]) == nil)
        #expect(SystemdNotifier.fromEnvironment(["NOTIFY_SOCKET": "/" + String(repeating: "a", count: 107)]) == nil)
        #expect(SystemdNotifier.fromEnvironment(["NOTIFY_SOCKET": "/" + String(repeating: "a", count: 106)]) != nil)
    }

    @Test func sendingToAMissingSocketFailsQuietlyAndReportsOnce() throws {
        let notifier = try #require(SystemdNotifier.fromEnvironment(["NOTIFY_SOCKET": "/nonexistent/appconfig-agent/notify"]))
        #expect(!notifier.hasReportedFailure)
        #expect(notifier.send("WATCHDOG=1") == false)
        #expect(notifier.hasReportedFailure)
        #expect(notifier.send("WATCHDOG=1") == false)
    }

    @Test func watchdogIntervalComesFromWatchdogUsec() throws {
        let notifier = try #require(SystemdNotifier.fromEnvironment(
            ["NOTIFY_SOCKET": "/run/systemd/notify", "WATCHDOG_USEC": "60000000"], processID: 4242))
        #expect(notifier.watchdogInterval == .seconds(60))
        #expect(notifier.watchdogPingInterval == .seconds(30))
    }

    @Test func watchdogIntervalNeedsWatchdogPidToBeThisProcess() {
        let base = ["NOTIFY_SOCKET": "/run/systemd/notify", "WATCHDOG_USEC": "1500000"]
        func interval(_ extra: [String: String]) -> Duration? {
            SystemdNotifier.fromEnvironment(base.merging(extra) { $1 }, processID: 4242)?.watchdogInterval
        }
        #expect(interval([:]) == .milliseconds(1500))
        #expect(interval(["WATCHDOG_PID": "4242"]) == .milliseconds(1500))
        #expect(interval(["WATCHDOG_PID": "4243"]) == nil)
        #expect(interval(["WATCHDOG_PID": "not-a-pid"]) == nil)
    }

    @Test func watchdogIsOffWithoutAPositiveWatchdogUsec() {
        func interval(_ usec: String?) -> Duration? {
            var environment = ["NOTIFY_SOCKET": "/run/systemd/notify"]
            environment["WATCHDOG_USEC"] = usec
            return SystemdNotifier.fromEnvironment(environment, processID: 1)?.watchdogInterval
        }
        #expect(interval(nil) == nil)
        #expect(interval("0") == nil)
        #expect(interval("-5") == nil)
        #expect(interval("60s") == nil)
        #expect(interval("18446744073709551615") == nil)
    }

    @Test func realProcessIDIsUsedByDefault() throws {
        let notifier = try #require(SystemdNotifier.fromEnvironment(
            ["NOTIFY_SOCKET": "/run/systemd/notify", "WATCHDOG_USEC": "2000000", "WATCHDOG_PID": "\(getpid())"]))
        #expect(notifier.watchdogInterval == .seconds(2))
    }
}
