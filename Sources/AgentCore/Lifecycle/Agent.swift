import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The running agent: settings in, services started in order, stopped in reverse on a signal.
public final class Agent: Sendable {
    public let settings: AgentSettings
    public let store = ConfigurationStore()
    private let server: HTTPServer
    private let localSource: LocalDirectorySource?
    private let dataPlane: DataPlaneSource?
    private let awsClient: CurlHTTPClient?
    public let readiness: Readiness
    private let stopped = DispatchSemaphore(value: 0)
    private let stopping = Atomic<Bool>(false)

    public init(settings: AgentSettings, environment: [String: String]) throws(AgentStartError) {
        self.settings = settings
        if let directory = settings.localDevelopmentDirectory {
            localSource = LocalDirectorySource(directory: directory, store: store, interval: settings.pollInterval)
            dataPlane = nil
            awsClient = nil
        } else {
            localSource = nil
            let aws = try AWSConnection.make(settings: settings, environment: environment)
            awsClient = aws.client
            dataPlane = DataPlaneSource(client: aws.dataClient, store: store, pollInterval: settings.pollInterval,
                                        requestTimeout: settings.requestTimeout)
        }
        readiness = Readiness(store: store, dataPlane: dataPlane)
        readiness.require(settings.prefetchList)
        var configuration = HTTPServerConfiguration(addresses: Self.listenAddresses(settings.httpHost), port: settings.httpPort)
        configuration.threads = max(1, min(4, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))))
        configuration.clientTimeoutSeconds = max(1, Int(settings.clientTimeout.components.seconds))
        configuration.maxClientConnections = settings.maxClientConnections
        do {
            server = try HTTPServer(configuration: configuration, router: Router(store: store, accessToken: settings.accessToken,
                                                                          loader: dataPlane, readiness: readiness))
        } catch {
            throw AgentStartError(message: "cannot listen on HTTP_HOST \(settings.httpHost.displayName) HTTP_PORT \(settings.httpPort): \(error)")
        }
    }

    /// Starts everything and blocks until SIGTERM or SIGINT has been handled; returns the exit status.
    public func run() -> Int32 {
        store.observe { [server] snapshot in server.configurationsChanged(snapshot) }
        let watcher = SignalWatcher { [self] signal in
            switch signal {
            case .terminate(let number): self.stop(reason: number == SIGINT ? "SIGINT" : "SIGTERM")
            case .reload: self.reload()
            }
        }
        if let localSource {
            log.info("local development mode: serving files from \(localSource.directory), re-read every \(settings.pollInterval.shortDescription); AWS is never called")
            localSource.start()
        }
        if let dataPlane, !settings.prefetchList.isEmpty {
            log.info("prefetching \(settings.prefetchList.count) configuration(s): \(settings.prefetchList.map(\.description).joined(separator: ", "))")
            dataPlane.prefetch(settings.prefetchList)
        }
        do {
            try server.start()
        } catch {
            log.fatal("cannot start the HTTP server: \(error)")
            return 1
        }
        let endpoints = server.boundAddresses.map { $0.contains(":") ? "[\($0)]:\(server.port)" : "\($0):\(server.port)" }
        log.info("appconfig-agent \(AgentVersion.current) listening on \(endpoints.joined(separator: ", "))")
        stopped.wait()
        withExtendedLifetime(watcher) {}
        return 0
    }

    /// SIGHUP: re-read the local directory (and, with AWS, poll everything) now.
    public func reload() {
        log.info("SIGHUP: reloading")
        localSource?.reloadSoon()
        dataPlane?.pollAll()
    }

    /// Stops accepting, finishes in-flight requests, then lets `run` return.
    public func stop(reason: String) {
        guard !stopping.exchange(true, ordering: .relaxed) else { return }
        log.info("\(reason): stopping")
        localSource?.stop()
        dataPlane?.stop()
        server.shutdown(graceMilliseconds: 300)
        awsClient?.shutdown()
        log.info("stopped")
        stopped.signal()
    }

    static func listenAddresses(_ host: AgentSettings.HTTPHost) -> [String] {
        switch host {
        case .localhost: ["127.0.0.1", "::1"]
        case .all: ipv6Available() ? ["::"] : ["0.0.0.0"]
        case .address(let address): [address]
        }
    }

    private static func ipv6Available() -> Bool {
        let fd = socket(AF_INET6, Int32(SOCK_STREAM.rawValue), 0)
        if fd < 0 { return false }
        close(fd)
        return true
    }
}

public struct AgentStartError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public var description: String { message }
}

extension AgentSettings.HTTPHost {
    var displayName: String {
        switch self {
        case .localhost: "localhost"
        case .all: "all"
        case .address(let address): address
        }
    }
}

extension Duration {
    /// `45s`, `1.5s`, `250ms`: for log lines.
    var shortDescription: String {
        let (seconds, attoseconds) = components
        if attoseconds == 0 { return "\(seconds)s" }
        let milliseconds = seconds * 1000 + attoseconds / 1_000_000_000_000_000
        return "\(milliseconds)ms"
    }
}
