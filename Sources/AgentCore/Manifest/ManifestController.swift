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
    private let current = Mutex<Manifest>(Manifest(entries: []))
    /// The version of the manifest configuration last decoded (MANIFEST=App:Env:Profile).
    private let decodedVersion = Mutex<String?>(nil)

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

    public var manifest: Manifest { current.withLock { $0 } }

    /// The configuration holding the manifest, when it is kept in AppConfig.
    var manifestKey: ConfigurationKey? {
        if case .configuration(let key) = source { return key }
        return nil
    }

    /// Applies the manifest read at start-up, or starts retrieving the one kept in AppConfig.
    func start(initial: Manifest?) throws(AgentStartError) {
        if let manifestKey {
            readiness.require([manifestKey])
            dataPlane?.track(manifestKey, pinned: true)
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
        let isNew = decodedVersion.withLock { last in
            guard last != payload.version else { return false }
            last = payload.version
            return true
        }
        guard isNew else { return }
        do {
            let (manifest, warnings) = try Manifest.decode(payload.contentArray)
            for warning in warnings { log.warn(warning) }
            try apply(manifest)
            log.info("manifest '\(manifestKey)' version \(payload.version) applied: \(manifest.entries.count) configuration(s)")
        } catch {
            log.error("manifest '\(manifestKey)' version \(payload.version) rejected, the previous one stays in force: \(error)")
        }
    }

    /// Starts new entries, stops removed ones, moves changed writeTo paths, re-creates changed roles.
    func apply(_ new: Manifest) throws(AgentStartError) {
        let old = current.withLock { $0 }
        let diff = ManifestDiff(old: old, new: new)
        // Build every role's client first: a bad role leaves the old manifest in force.
        var newClients: [ConfigurationKey: AppConfigDataClient] = [:]
        for entry in diff.added + diff.changed.map(\.new) {
            if let role = entry.credentials, let clients {
                newClients[entry.key] = try clients.client(for: role)
            }
        }
        current.withLock { $0 = new }
        for key in diff.removed {
            dataPlane?.untrack(key)
            log.info("manifest: '\(key)' removed; no longer retrieved or written")
        }
        for (previous, entry) in diff.changed where previous.credentials != entry.credentials {
            dataPlane?.untrack(entry.key)
            dataPlane?.track(entry.key, pinned: true, client: newClients[entry.key])
        }
        for entry in diff.added {
            dataPlane?.track(entry.key, pinned: true, client: newClients[entry.key])
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
