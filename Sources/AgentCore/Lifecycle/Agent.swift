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
    private let notifier: SystemdNotifier?
    private let watchdog: Watchdog?
    /// STATUS= updates, once READY=1 has been sent; nil without systemd.
    private let statusReporter = Mutex<ServiceStatus?>(nil)
    private let outputs: ConfigurationFileOutputs
    private let manifest: ManifestController?

    public init(settings: AgentSettings, environment: [String: String]) throws(AgentStartError) {
        self.settings = settings
        var connection: AWSConnection?
        if let directory = settings.localDevelopmentDirectory {
            localSource = LocalDirectorySource(directory: directory, store: store, interval: settings.pollInterval)
            dataPlane = nil
            awsClient = nil
        } else {
            let aws = try AWSConnection.make(settings: settings, environment: environment)
            connection = aws
            localSource = nil
            awsClient = aws.client
            dataPlane = DataPlaneSource(client: aws.dataClient, store: store, pollInterval: settings.pollInterval,
                                        requestTimeout: settings.requestTimeout)
        }
        outputs = ConfigurationFileOutputs(backupDirectory: connection == nil ? nil : settings.backupDirectory)
        notifier = SystemdNotifier.fromEnvironment(environment)
        let progress = Self.pollProgress(settings: settings, dataPlane: dataPlane)
        watchdog = notifier.flatMap { notifier in
            notifier.watchdogPingInterval.map { Watchdog(notifier: notifier, interval: $0, progress: progress) }
        }
        readiness = Readiness(store: store, dataPlane: dataPlane)
        readiness.require(settings.prefetchList)
        var initialManifest: Manifest?
        if let source = settings.manifest {
            do {
                initialManifest = try ManifestSourceLoader.load(source)
            } catch {
                throw AgentStartError(message: "MANIFEST: \(error)")
            }
            manifest = ManifestController(
                source: source, store: store, dataPlane: dataPlane, clients: connection.map(RoleClients.init(connection:)),
                outputs: outputs, readiness: readiness, prefetch: settings.prefetchList)
        } else {
            manifest = nil
        }
        // Before anything is retrieved: the first version of every configuration is written out,
        // backed up and (for the manifest's own) applied like every later one.
        store.observe { [outputs, manifest] snapshot in
            outputs.storeChanged(snapshot)
            manifest?.storeChanged(snapshot)
        }
        var preloaded: [ConfigurationKey] = []
        if let dataPlane, let directory = settings.backupDirectory {
            preloaded = try Self.useBackups(directory: directory, preload: settings.preloadBackups, store: store,
                                            dataPlane: dataPlane, outputs: outputs)
        }
        try manifest?.start(initial: initialManifest)
        // After the manifest: a preloaded configuration it names is retrieved with its role already,
        // and one in PREFETCH_LIST pinned already (so that `prefetch` does not replace its poller).
        for key in preloaded {
            if settings.prefetchList.contains(key) { dataPlane?.prefetch([key]) } else { dataPlane?.follow(key) }
        }
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
        let versions = VersionMetrics()
        store.observe { [server] snapshot in
            server.configurationsChanged()
            versions.update(snapshot)
        }
        // What init stored already (preloaded backups) is in the series before any change.
        versions.update(store.snapshot())
        let watcher: SignalWatcher
        do {
            watcher = try SignalWatcher { [self] signal in
                switch signal {
                case .terminate(let number): self.stop(reason: number == SIGINT ? "SIGINT" : "SIGTERM")
                case .reload: self.reload()
                }
            }
        } catch {
            log.fatal("cannot watch signals: \(error)")
            return 1
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
        let status = serviceStatus(endpoints: endpoints)
        if let manifest, settings.waitOnManifest, dataPlane != nil {
            log.info("WAIT_ON_MANIFEST: start-up completes once the manifest's configurations are processed")
            notifier?.status("listening on \(endpoints.joined(separator: ", ")); waiting for the manifest's \(manifest.manifest.entries.count) configuration(s)")
            Task { [notifier] in
                await manifest.waitUntilProcessed()
                log.info("manifest processed: \(manifest.manifest.entries.count) configuration(s)")
                notifier?.ready(status: "listening on \(endpoints.joined(separator: ", ")); manifest processed")
                status?.start()
            }
        } else {
            notifier?.ready(status: "listening on \(endpoints.joined(separator: ", "))")
            status?.start()
        }
        watchdog?.start()
        stopped.wait()
        withExtendedLifetime(watcher) {}
        return 0
    }

    /// SIGHUP: re-read the local directory (and, with AWS, poll everything) now.
    public func reload() {
        log.info("SIGHUP: reloading")
        localSource?.reloadSoon()
        manifest?.reload()
        dataPlane?.pollAll()
    }

    /// Stops accepting, finishes in-flight requests, then lets `run` return.
    public func stop(reason: String) {
        guard !stopping.exchange(true, ordering: .relaxed) else { return }
        log.info("\(reason): stopping")
        notifier?.stopping(status: "stopping (\(reason))")
        statusReporter.withLock { $0 }?.stop()
        watchdog?.stop()
        localSource?.stop()
        dataPlane?.stop()
        server.shutdown(graceMilliseconds: 300)
        outputs.drain()
        awsClient?.shutdown()
        log.info("stopped")
        stopped.signal()
    }

    /// BACKUP_DIRECTORY at start-up: with PRELOAD_BACKUPS, every sound backup is served at once
    /// (returned: the caller has their configurations retrieved); without, backups are read only
    /// when the service cannot be reached.
    private static func useBackups(directory: String, preload: Bool, store: ConfigurationStore,
                                   dataPlane: DataPlaneSource, outputs: ConfigurationFileOutputs) throws(AgentStartError) -> [ConfigurationKey] {
        let backups = BackupStore(directory: directory)
        let loaded: BackupLoadResult
        do {
            loaded = try backups.loadAll()
        } catch {
            throw AgentStartError(message: "BACKUP_DIRECTORY \(directory): \(error)")
        }
        for skipped in loaded.skipped {
            log.warn("backup \(skipped.fileName) in \(directory) skipped, never served: \(skipped.reason)")
        }
        if preload {
            let payloads = loaded.entries.values.map(\.payload)
            outputs.noteBackedUp(payloads)
            for payload in payloads { store.put(payload) }
            if !payloads.isEmpty { log.info("PRELOAD_BACKUPS: serving \(payloads.count) configuration(s) from \(directory) until the service answers") }
            return payloads.map(\.key)
        } else {
            dataPlane.setFallback { key in
                do {
                    switch try backups.load(key) {
                    case .found(let entry): return entry.payload
                    case .skipped(let skipped):
                        log.warn("backup \(skipped.fileName) in \(directory) skipped, never served: \(skipped.reason)")
                        return nil
                    case .none: return nil
                    }
                } catch {
                    log.warn("BACKUP_DIRECTORY \(directory) cannot be read, no backup served for '\(key)': \(error)")
                    return nil
                }
            }
            return []
        }
    }

    static func listenAddresses(_ host: AgentSettings.HTTPHost) -> [String] {
        switch host {
        case .localhost: ["127.0.0.1", "::1"]
        case .all: ipv6Available() ? ["::"] : ["0.0.0.0"]
        case .address(let address): [address]
        }
    }

    /// The watchdog's view of the pollers (AWS mode): the configurations polled now, and when each
    /// was last polled by what the poll metrics recorded.
    private static func pollProgress(settings: AgentSettings, dataPlane: DataPlaneSource?) -> PollProgress? {
        guard let dataPlane else { return nil }
        return PollProgress(
            allowance: PollProgress.allowance(pollInterval: settings.pollInterval, requestTimeout: settings.requestTimeout),
            tracked: { Array(dataPlane.reportedStatuses.keys) },
            lastAttempts: { AgentMetrics.shared.pollActivity.lastAttempts })
    }

    /// The STATUS= reporter, refreshed after every store change; nil without systemd.
    private func serviceStatus(endpoints: [String]) -> ServiceStatus? {
        guard let notifier else { return nil }
        let status = ServiceStatus(notifier: notifier) { [store, dataPlane] in
            let failing = dataPlane?.reportedStatuses.values.count { status in
                switch status {
                case .pending, .loaded: false
                case .notFound, .accessDenied, .failing: true
                }
            } ?? 0
            return ServiceStatus.summary(served: store.snapshot().configurations.count, failing: failing, endpoints: endpoints)
        }
        statusReporter.withLock { $0 = status }
        store.observe { [weak status] _ in
            if status?.isStarted == true { status?.refresh() }
        }
        return status
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

extension BackupEntry {
    var payload: ConfigurationPayload {
        ConfigurationPayload(key: key, content: content, contentType: contentType, version: version,
                             versionLabel: versionLabel, source: .backup, receivedAt: Double(savedAt))
    }
}
