import Dispatch
import Synchronization

/// Writes configurations to disk as they change: a backup of every configuration retrieved from the
/// service (`BACKUP_DIRECTORY`), and a copy of each manifest entry's configuration at its `writeTo`
/// path. Writes happen on a queue of their own, never on a request or poll path. A write that fails
/// is logged with what to fix and retried with the next version; the configuration stays in memory.
///
/// A `writeTo` that moves or goes away takes its file with it: the old file is removed (through
/// `AtomicFileWriter.remove`, so only the agent's own regular file) if the agent wrote it and no
/// entry writes that path now. A changed mode rewrites the file at once.
public final class ConfigurationFileOutputs: Sendable {
    private let backups: BackupStore?
    private let writer = AtomicFileWriter()
    private let queue = DispatchQueue(label: "file-outputs")
    private let state = Mutex<State>(State())

    private struct State: Sendable {
        var targets: [ConfigurationKey: WriteTarget] = [:]
        /// What was last attempted, written or not: the target and the version's entity tag (a label
        /// may be reused for new content; the tag tells them apart).
        var attempted: [ConfigurationKey: (target: WriteTarget, etag: String)] = [:]
        /// The path each configuration was last written to successfully (read and changed on `queue`).
        var written: [ConfigurationKey: String] = [:]
        /// The entity tag of each configuration last backed up.
        var backedUp: [ConfigurationKey: String] = [:]
        /// The newest store generation seen: an older snapshot arriving late is ignored.
        var generation: UInt64 = 0
        /// The newest snapshot seen, for targets set from an older one meanwhile.
        var latest: StoreSnapshot?
    }

    public init(backupDirectory: String?) {
        backups = backupDirectory.map(BackupStore.init(directory:))
    }

    /// The manifest's `writeTo` targets; a new, moved or re-moded target gets the current version at
    /// once, and a file left behind by a moved or removed target is removed first.
    public func setTargets(_ targets: [ConfigurationKey: WriteTarget], snapshot: StoreSnapshot) {
        state.withLock { state in
            state.targets = targets
            state.attempted = state.attempted.filter { targets[$0.key] == $0.value.target }
            queue.async { [self] in removeAbandonedFiles() }
            // The caller's snapshot may be older than one the store delivered meanwhile.
            let newest = state.latest.flatMap { $0.generation > snapshot.generation ? $0 : nil } ?? snapshot
            process(newest, &state)
        }
    }

    /// Called after every store change.
    public func storeChanged(_ snapshot: StoreSnapshot) {
        state.withLock { state in process(snapshot, &state) }
    }

    /// Queues the writes and backups `snapshot` calls for; an older snapshot than one seen is ignored.
    private func process(_ snapshot: StoreSnapshot, _ state: inout State) {
        guard snapshot.generation >= state.generation else { return }
        state.generation = snapshot.generation
        state.latest = snapshot
        var writes: [(WriteTarget, ConfigurationPayload)] = []
        for (key, target) in state.targets {
            guard let payload = snapshot[key] else { continue }
            if let last = state.attempted[key], last.target == target, last.etag == payload.etag { continue }
            state.attempted[key] = (target, payload.etag)
            writes.append((target, payload))
        }
        var saves: [ConfigurationPayload] = []
        if backups != nil {
            for (key, payload) in snapshot.configurations where payload.source == .service && state.backedUp[key] != payload.etag {
                state.backedUp[key] = payload.etag
                saves.append(payload)
            }
        }
        guard !writes.isEmpty || !saves.isEmpty else { return }
        // Queued under the lock, so the writes of two snapshots run in generation order.
        queue.async { [self, writes, saves] in
            for (target, payload) in writes { write(payload, to: target) }
            for payload in saves { backUp(payload) }
        }
    }

    /// Marks configurations loaded from backups as already saved, so they are not written back.
    public func noteBackedUp(_ payloads: [ConfigurationPayload]) {
        state.withLock { state in
            for payload in payloads { state.backedUp[payload.key] = payload.etag }
        }
    }

    /// Waits until every write queued so far is done (tests, shutdown).
    public func drain() {
        queue.sync {}
    }

    /// On `queue`: removes the files of targets that moved or went away, unless an entry writes that
    /// path now. A file that cannot be removed (another user's, a symbolic link …) is left and logged.
    private func removeAbandonedFiles() {
        let abandoned = state.withLock { state in
            let wanted = Set(state.targets.values.map(\.path))
            let gone = state.written.filter { state.targets[$0.key]?.path != $0.value }
            for key in gone.keys { state.written.removeValue(forKey: key) }
            return gone.filter { !wanted.contains($0.value) }
        }
        for (key, path) in abandoned {
            do {
                try writer.remove(path)
                log.info("removed \(path): the manifest no longer writes configuration '\(key)' there")
            } catch {
                log.warn("writeTo for '\(key)' moved or removed, but its old file was left: \(error)")
            }
        }
    }

    private func write(_ payload: ConfigurationPayload, to target: WriteTarget) {
        do {
            try writer.write(payload.bytes, to: target.path, mode: target.mode)
            state.withLock { $0.written[payload.key] = target.path }
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
