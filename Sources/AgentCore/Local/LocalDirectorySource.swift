import Dispatch
import Synchronization

/// Local development mode (SPEC §3): serves the files of one directory, re-read every poll interval
/// and at once on SIGHUP. Never calls AWS.
public final class LocalDirectorySource: Sendable {
    public let directory: String
    private let store: ConfigurationStore
    private let interval: Duration
    private let queue = DispatchQueue(label: "local-directory")
    private let state = Mutex<State>(State())
    // Made in init, then only resumed and cancelled, which DispatchSource allows from any thread.
    private nonisolated(unsafe) let timer: any DispatchSourceTimer
    private let started = Atomic<Bool>(false)

    private struct State: Sendable {
        var previous: LocalScanResult?
        var payloads: [ConfigurationKey: ConfigurationPayload] = [:]
        var directoryError: String?
    }

    public init(directory: String, store: ConfigurationStore, interval: Duration) {
        self.directory = directory
        self.store = store
        self.interval = interval
        self.timer = DispatchSource.makeTimerSource(queue: queue)
    }

    /// Reads the directory once, now, on the caller's thread; then every interval on a queue of its own.
    public func start() {
        reload()
        let nanoseconds = Int(min(interval.components.seconds, 86_400 * 365)) * 1_000_000_000
            + Int(interval.components.attoseconds / 1_000_000_000)
        timer.schedule(deadline: .now() + .nanoseconds(nanoseconds), repeating: .nanoseconds(max(nanoseconds, 1_000_000)))
        timer.setEventHandler { [weak self] in self?.reload() }
        started.store(true, ordering: .relaxed)
        timer.resume()
    }

    deinit {
        // libdispatch traps when a source is released while still suspended (never started).
        if !started.load(ordering: .relaxed) {
            timer.cancel()
            timer.resume()
        }
    }

    public func stop() {
        timer.cancel()
    }

    /// Re-reads the directory (SIGHUP) on the source's queue, so scans never overlap.
    public func reloadSoon() {
        queue.async { [weak self] in self?.reload() }
    }

    /// Scans the directory and swaps the result into the store: new and edited files are served,
    /// removed ones stop being served. A directory that cannot be read keeps what was loaded.
    public func reload() {
        state.withLock { state in
            let result: LocalScanResult
            do {
                result = try LocalDirectoryScanner.scan(directory: directory, previous: state.previous)
            } catch {
                let message = "\(error)"
                if state.directoryError != message {
                    log.error("cannot read LOCAL_DEVELOPMENT_DIRECTORY: \(message); still serving what was loaded before")
                    state.directoryError = message
                }
                return
            }
            state.directoryError = nil
            for skipped in result.newlySkipped(since: state.previous) {
                log.warn("skipping '\(skipped.fileName)' in \(directory): \(skipped.reason)")
            }
            var payloads: [ConfigurationKey: ConfigurationPayload] = [:]
            var changed = false
            for (key, file) in result.configurations {
                if let old = state.payloads[key], let before = state.previous?.configurations[key],
                   before.stamp == file.stamp, before.contentType == file.contentType {
                    payloads[key] = old
                    continue
                }
                let version = ContentVersion.of(file.bytes)
                if let old = state.payloads[key], old.version == version, old.contentType == file.contentType {
                    payloads[key] = old
                    continue
                }
                let payload = ConfigurationPayload(
                    key: key, content: file.bytes, contentType: file.contentType, version: version,
                    versionLabel: nil, source: .local, receivedAt: WallClock.now())
                guard VersionAdmission.admit(payload, replacing: state.payloads[key]) else {
                    payloads[key] = state.payloads[key]
                    continue
                }
                payloads[key] = payload
                changed = true
                log.info("loaded configuration '\(key)' from \(file.fileName) (\(file.size) bytes, version \(version))")
            }
            for key in state.payloads.keys where payloads[key] == nil {
                log.info("configuration '\(key)' removed from \(directory); no longer served")
                changed = true
            }
            state.previous = result
            state.payloads = payloads
            if changed { store.replaceAll(from: .local, with: payloads) }
        }
    }
}
