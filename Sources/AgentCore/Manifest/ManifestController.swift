import Synchronization

/// Puts the manifest into effect (SPEC §6): which configurations are retrieved and with which
/// role, where copies are written, and which must be loaded before the agent is ready. A new
/// manifest (SIGHUP on a file, a new version of one kept in AppConfig) is decoded and validated
/// whole before it replaces the old one; a bad one is logged and the old one stays in force.
public final class ManifestController: Sendable {
    public let source: AgentSettings.ManifestSource
    private let store: ConfigurationStore
    private let dataPlane: DataPlaneSource?
    private let clients: RoleClients?
    private let outputs: ConfigurationFileOutputs
    private let readiness: Readiness
    private let prefetch: [ConfigurationKey]
    /// Held while a manifest is decoded and put into effect, so two never interleave.
    private let state = Mutex<State>(State())

    private struct State: Sendable {
        var manifest = Manifest(entries: [])
        /// The entity tag (version and content fingerprint) of the manifest configuration last decoded (MANIFEST=App:Env:Profile).
        var decodedETag: String?
        /// The newest store generation looked at: an older snapshot arriving late is ignored.
        var generation: UInt64 = 0
    }

    init(source: AgentSettings.ManifestSource, store: ConfigurationStore, dataPlane: DataPlaneSource?,
         clients: RoleClients?, outputs: ConfigurationFileOutputs, readiness: Readiness, prefetch: [ConfigurationKey]) {
        self.source = source
        self.store = store
        self.dataPlane = dataPlane
        self.clients = clients
        self.outputs = outputs
        self.readiness = readiness
        self.prefetch = prefetch
    }

    public var manifest: Manifest { state.withLock { $0.manifest } }

    /// The configuration holding the manifest, when it is kept in AppConfig.
    var manifestKey: ConfigurationKey? {
        if case .configuration(let key) = source { return key }
        return nil
    }

    /// Applies the manifest read at start-up, or starts retrieving the one kept in AppConfig.
    func start(initial: Manifest?) throws(AgentStartError) {
        if let manifestKey {
            readiness.require([manifestKey])
            dataPlane?.track(manifestKey)
            storeChanged(store.snapshot())
        } else if let initial {
            try apply(initial)
        }
    }

    /// SIGHUP: a file manifest is read again; a bad one is logged and the old one kept.
    func reload() {
        guard case .file = source else { return }
        do {
            guard let manifest = try ManifestSourceLoader.load(source) else { return }
            try apply(manifest)
            log.info("MANIFEST reloaded: \(manifest.entries.count) configuration(s)")
        } catch {
            log.error("MANIFEST not reloaded, the previous one stays in force: \(error)")
        }
    }

    /// A new version of a manifest kept in AppConfig: decode, validate, apply; or keep the old one.
    func storeChanged(_ snapshot: StoreSnapshot) {
        guard let manifestKey, let payload = snapshot[manifestKey] else { return }
        let dropped = state.withLock { state -> [ConfigurationKey] in
            guard snapshot.generation >= state.generation else { return [] }
            state.generation = snapshot.generation
            guard state.decodedETag != payload.etag else { return [] }
            state.decodedETag = payload.etag
            do {
                // `decode` logs its own warnings (unknown features).
                let (manifest, _) = try Manifest.decode(payload.contentArray)
                let dropped = try install(manifest, in: &state)
                log.info("manifest '\(manifestKey)' version \(payload.version) applied: \(manifest.entries.count) configuration(s)")
                return dropped
            } catch {
                log.error("manifest '\(manifestKey)' version \(payload.version) rejected, the previous one stays in force: \(error)")
                return []
            }
        }
        forget(dropped)
    }

    /// Puts `new` into effect (see `install`).
    func apply(_ new: Manifest) throws(AgentStartError) {
        let dropped = try state.withLock { state throws(AgentStartError) in try install(new, in: &state) }
        forget(dropped)
    }

    /// Starts new entries, stops removed ones, moves changed writeTo paths, re-creates changed roles.
    /// Returns the removed configurations that stop being served: every one but the manifest's own
    /// and those in PREFETCH_LIST, which go on being retrieved with the agent's own credentials.
    private func install(_ new: Manifest, in state: inout State) throws(AgentStartError) -> [ConfigurationKey] {
        let diff = ManifestDiff(old: state.manifest, new: new)
        // Build every role's client first: a bad role leaves the old manifest in force.
        var newClients: [ConfigurationKey: AppConfigDataClient] = [:]
        for entry in diff.added + diff.changed.map(\.new) {
            if let role = entry.credentials, let clients {
                newClients[entry.key] = try clients.client(for: role)
            }
        }
        state.manifest = new
        var dropped: [ConfigurationKey] = []
        for key in diff.removed {
            if key == manifestKey || prefetch.contains(key) {
                dataPlane?.track(key)
                log.info("manifest: '\(key)' removed; still retrieved (\(key == manifestKey ? "it holds the manifest" : "PREFETCH_LIST")), no longer written")
            } else {
                dropped.append(key)
                log.info("manifest: '\(key)' removed; no longer retrieved, written or served until requested again")
            }
        }
        // A changed role gets a new retrieval; `track` keeps one whose client is unchanged.
        for entry in diff.added + diff.changed.map(\.new) {
            dataPlane?.track(entry.key, client: newClients[entry.key])
        }
        var targets: [ConfigurationKey: WriteTarget] = [:]
        for entry in new.entries {
            if let target = entry.writeTo { targets[entry.key] = target }
        }
        outputs.setTargets(targets, snapshot: store.snapshot())
        var required = prefetch
        if let manifestKey { required.append(manifestKey) }
        for key in new.keys where !required.contains(key) { required.append(key) }
        readiness.setRequired(required)
        return dropped
    }

    /// Stops retrieving and serving configurations a new manifest removed (in local mode the
    /// directory decides what is served). Outside the lock: the store's observers, this controller
    /// among them, run on the thread that changes the store.
    private func forget(_ keys: [ConfigurationKey]) {
        for key in keys { dataPlane?.untrack(key, forget: true) }
    }

    /// WAIT_ON_MANIFEST: returns once the manifest (kept in AppConfig: once retrieved) and each of
    /// its configurations has had a first outcome: loaded, from the service or a backup, or failed.
    func waitUntilProcessed() async {
        guard let dataPlane else { return }
        if let manifestKey {
            _ = await dataPlane.firstOutcome(manifestKey)
            // The store observer applies it; apply now too in case the observer has not run yet.
            storeChanged(store.snapshot())
        }
        for key in manifest.keys where store.payload(for: key) == nil {
            _ = await dataPlane.firstOutcome(key)
        }
    }
}

/// One AppConfig Data client per role a manifest entry assumes, on top of the base credentials,
/// each with its own cached, refreshed STS credentials.
final class RoleClients: Sendable {
    private let connection: AWSConnection
    private let clients = Mutex<[String: AppConfigDataClient]>([:])

    init(connection: AWSConnection) { self.connection = connection }

    func client(for role: RoleCredentials) throws(AgentStartError) -> AppConfigDataClient {
        let id = [role.roleArn, role.roleExternalId ?? "", role.roleSessionName ?? "",
                  role.credentialsDuration.map { "\($0.components.seconds)" } ?? ""].joined(separator: "\u{0}")
        if let existing = clients.withLock({ $0[id] }) { return existing }
        let made: AppConfigDataClient
        do {
            let credentials = try AssumeRoleCredentialsProvider(
                base: connection.credentials, roleArn: role.roleArn, externalId: role.roleExternalId,
                sessionName: role.roleSessionName,
                durationSeconds: role.credentialsDuration.map { Int($0.components.seconds) },
                stsEndpoint: connection.endpoints.sts, region: connection.region, client: connection.client)
            made = try AppConfigDataClient(endpoint: connection.endpoints.appConfigData, region: connection.region,
                                           credentials: credentials, http: connection.client)
        } catch {
            throw AgentStartError(message: "manifest role \(role.roleArn): \(error)")
        }
        return clients.withLock { clients in
            if let raced = clients[id] { return raced }
            clients[id] = made
            return made
        }
    }
}
