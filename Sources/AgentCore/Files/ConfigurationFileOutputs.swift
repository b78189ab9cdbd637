import Dispatch
import Synchronization

/// Writes configurations to disk as they change: a backup of every configuration retrieved from the
/// service (`BACKUP_DIRECTORY`), and a copy of each manifest entry's configuration at its `writeTo`
/// path. Writes happen on a queue of their own, never on a request or poll path. A write that fails
/// is logged with what to fix and retried with the next version; the configuration stays in memory.
public final class ConfigurationFileOutputs: Sendable {
    private let backups: BackupStore?
    private let writer = AtomicFileWriter()
    private let queue = DispatchQueue(label: "file-outputs")
    private let state = Mutex<State>(State())

    private struct State: Sendable {
        var targets: [ConfigurationKey: WriteTarget] = [:]
        /// What was last attempted, written or not: (path, version).
        var attempted: [ConfigurationKey: (path: String, version: String)] = [:]
        var backedUp: [ConfigurationKey: String] = [:]
    }

    public init(backupDirectory: String?) {
        backups = backupDirectory.map(BackupStore.init(directory:))
    }

    /// The manifest's `writeTo` targets; a new or moved target gets the current version at once.
    public func setTargets(_ targets: [ConfigurationKey: WriteTarget], snapshot: StoreSnapshot) {
        state.withLock { state in
            state.targets = targets
            state.attempted = state.attempted.filter { targets[$0.key]?.path == $0.value.path }
        }
        storeChanged(snapshot)
    }

    /// Called after every store change.
    public func storeChanged(_ snapshot: StoreSnapshot) {
        let (writes, saves) = state.withLock { state -> ([(WriteTarget, ConfigurationPayload)], [ConfigurationPayload]) in
            var writes: [(WriteTarget, ConfigurationPayload)] = []
            for (key, target) in state.targets {
                guard let payload = snapshot[key] else { continue }
                if let last = state.attempted[key], last.path == target.path, last.version == payload.version { continue }
                state.attempted[key] = (target.path, payload.version)
                writes.append((target, payload))
            }
            var saves: [ConfigurationPayload] = []
            if backups != nil {
                for (key, payload) in snapshot.configurations where payload.source == .service && state.backedUp[key] != payload.version {
                    state.backedUp[key] = payload.version
                    saves.append(payload)
                }
            }
            return (writes, saves)
        }
        guard !writes.isEmpty || !saves.isEmpty else { return }
        queue.async { [self] in
            for (target, payload) in writes { write(payload, to: target) }
            for payload in saves { backUp(payload) }
        }
    }

    /// Marks configurations loaded from backups as already saved, so they are not written back.
    public func noteBackedUp(_ payloads: [ConfigurationPayload]) {
        state.withLock { state in
            for payload in payloads { state.backedUp[payload.key] = payload.version }
        }
    }

    /// Waits until every write queued so far is done (tests, shutdown).
    public func drain() {
        queue.sync {}
    }

    private func write(_ payload: ConfigurationPayload, to target: WriteTarget) {
        do {
            try writer.write(payload.bytes, to: target.path, mode: target.mode)
            let delay = Int(((WallClock.now() - payload.receivedAt) * 1000).rounded())
            log.info("wrote configuration '\(payload.key)' to \(target.path) (\(payload.count) bytes, version \(payload.version), \(delay)ms after it arrived)")
        } catch {
            AgentMetrics.shared.recordWriteToFailure(payload.key)
            log.error("writeTo for '\(payload.key)' refused or failed: \(error); the configuration is still served, and the write is tried again with the next version")
        }
    }

    private func backUp(_ payload: ConfigurationPayload) {
        guard let backups else { return }
        do {
            try backups.save(payload.key, content: payload.bytes, contentType: payload.contentType,
                             versionLabel: payload.versionLabel, version: payload.version)
            log.debug("backed up configuration '\(payload.key)' version \(payload.version) to \(backups.path(for: payload.key))")
        } catch {
            AgentMetrics.shared.recordBackupWriteFailure(payload.key)
            log.error("backup of '\(payload.key)' failed: \(error); tried again with the next version")
        }
    }
}
