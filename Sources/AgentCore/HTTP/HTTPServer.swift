import CLibEvent
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// How the local HTTP server listens and protects itself.
public struct HTTPServerConfiguration: Sendable {
    /// Addresses to bind, e.g. `["127.0.0.1", "::1"]`; the first must succeed, later ones may be
    /// unavailable (a host without IPv6) and are then skipped with a warning.
    public var addresses: [String]
    public var port: UInt16
    /// Event-loop threads, each with its own sockets on the port.
    public var threads: Int = 2
    /// A client that sends nothing (idle keep-alive) or reads nothing for this long is disconnected.
    public var clientTimeoutSeconds: Int = 30
    /// Most client connections served at once; beyond it a new connection's request gets 503 and is closed.
    public var maxClientConnections: Int = 1024
    /// Longest request target (path and query) → 414.
    public var maxTargetBytes: Int = 8 * 1024
    /// Most bytes of request headers → 431.
    public var maxHeaderBytes: Int = 16 * 1024
    /// The hard cap of the request line and headers together, enforced by libevent itself, which
    /// answers 413 and closes; our own finer limits above answer first in every smaller case.
    public var hardHeaderCap: Int = 64 * 1024

    public init(addresses: [String], port: UInt16) {
        self.addresses = addresses
        self.port = port
    }
}

/// The HTTP server on libevent's evhttp: N event loops, each on its own thread with its own
/// `SO_REUSEPORT` sockets. Requests are answered on the loop thread from the router.
public final class HTTPServer: Sendable {
    private let loops: [EventLoop]
    public let port: UInt16
    public let boundAddresses: [String]

    public init(configuration: HTTPServerConfiguration, router: Router) throws(SystemError) {
        HTTPServer.enableThreadSupport()
        HTTPServer.checkFileLimit(maxClientConnections: configuration.maxClientConnections)
        let connections = ConnectionBudget(limit: configuration.maxClientConnections)
        var loops: [EventLoop] = []
        var port = configuration.port
        var bound: [String] = []
        for index in 0..<max(1, configuration.threads) {
            let loop = try EventLoop(configuration: configuration, router: router, connections: connections)
            loops.append(loop)
            for (position, address) in configuration.addresses.enumerated() {
                do {
                    let fd = try ListenSocket.open(address: address, port: port)
                    if port == 0, let chosen = ListenSocket.boundPort(fd) { port = chosen }
                    try loop.accept(fd: fd)
                    if index == 0 { bound.append(address) }
                } catch {
                    // Only the first address is required; e.g. ::1 is missing where IPv6 is off.
                    if position == 0 || (index > 0 && bound.contains(address)) {
                        for loop in loops { loop.free() }
                        throw error
                    }
                    if index == 0 { log.warn("not listening on \(address): \(error)") }
                }
            }
        }
        self.loops = loops
        self.port = port
        self.boundAddresses = bound
    }

    /// Starts every loop's thread.
    public func start() throws(SystemError) {
        for loop in loops { try loop.start() }
    }

    /// Wakes the long polls of every loop that has any, after the store changed. The loops compare
    /// with the store's latest snapshot (announcements may arrive in any order).
    public func configurationsChanged() {
        for loop in loops where loop.changeWaiterCount.load(ordering: .relaxed) > 0 {
            loop.runOnLoop { $0.configurationsChanged() }
        }
    }

    /// Stops accepting new connections; requests already in progress are finished.
    public func stopAccepting() {
        for loop in loops { loop.runOnLoop { $0.closeListeners() } }
    }

    /// Stops accepting, lets in-flight responses drain for `grace`, then ends every loop and waits for them.
    public func shutdown(graceMilliseconds: Int = 300) {
        stopAccepting()
        for loop in loops { loop.exit(afterMilliseconds: graceMilliseconds) }
        for loop in loops { loop.join() }
        for loop in loops { loop.free() }
    }

    private static let threadSupport: Bool = {
        // libevent's own calloc calls glibc's calloc, which bypasses the per-thread cache of freed
        // blocks (tcache) that malloc uses; evhttp callocs a request, its buffers and every header
        // entry. Handing libevent malloc makes it malloc and clear instead: the same memory, from
        // the cache. Must come before libevent allocates anything.
        event_set_mem_functions(malloc, realloc, free)
        return evthread_use_pthreads() == 0
    }()

    /// Raises the open-file limit as far as allowed (once) and warns when it is still too low for
    /// `maxClientConnections`: clients beyond it wait (`EventLoop.acceptFailed`), not get a 503.
    private static func checkFileLimit(maxClientConnections: Int) {
        guard let limit = fileLimit else { return }
        let needed = UInt64(maxClientConnections) + FileDescriptorLimit.reserve
        if limit < needed {
            log.warn("open-file limit \(limit) is below MAX_CLIENT_CONNECTIONS \(maxClientConnections) + \(FileDescriptorLimit.reserve); raise it (LimitNOFILE=, ulimit -n) or lower MAX_CLIENT_CONNECTIONS")
        }
    }

    private static let fileLimit: UInt64? = FileDescriptorLimit.raiseToHardLimit()

    private static func enableThreadSupport() {
        if !threadSupport { log.error("libevent thread support could not be enabled") }
    }
}

/// The count of client connections across loops, bounded.
final class ConnectionBudget: Sendable {
    let limit: Int
    private let open = Atomic<Int>(0)

    init(limit: Int) { self.limit = limit }

    func tryAcquire() -> Bool {
        let now = open.wrappingAdd(1, ordering: .relaxed).newValue
        if now > limit {
            open.wrappingSubtract(1, ordering: .relaxed)
            return false
        }
        AgentMetrics.shared.clientConnections.increment()
        return true
    }

    func release() {
        open.wrappingSubtract(1, ordering: .relaxed)
        AgentMetrics.shared.clientConnections.decrement()
    }
    var current: Int { open.load(ordering: .relaxed) }
}
