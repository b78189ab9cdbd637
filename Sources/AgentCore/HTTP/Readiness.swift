import Synchronization

/// `/ready`: whether every configuration the agent was told to load (PREFETCH_LIST, manifest) has
/// been loaded once, from the service, a backup or the local directory. Once loaded, a configuration
/// counts as loaded for good: a local file deleted later does not make the agent unready again.
public final class Readiness: Sendable {
    private let store: ConfigurationStore
    private let dataPlane: DataPlaneSource?
    private let required = Mutex<[ConfigurationKey]>([])
    /// Every configuration the store has held.
    private let loadedOnce = Mutex<Set<ConfigurationKey>>([])

    public init(store: ConfigurationStore, dataPlane: DataPlaneSource?) {
        self.store = store
        self.dataPlane = dataPlane
        store.observe { [weak self] snapshot in
            self?.loadedOnce.withLock { $0.formUnion(snapshot.configurations.keys) }
        }
    }

    /// Adds configurations that must be loaded before the agent is ready.
    public func require(_ keys: [ConfigurationKey]) {
        required.withLock { list in
            for key in keys where !list.contains(key) { list.append(key) }
        }
    }

    /// Replaces the required set (a new manifest). A configuration that leaves it is forgotten: should
    /// it come back, it must be loaded again before it counts.
    public func setRequired(_ keys: [ConfigurationKey]) {
        let dropped = required.withLock { list in
            defer { list = keys }
            return list.filter { !keys.contains($0) }
        }
        loadedOnce.withLock { loaded in
            for key in dropped { loaded.remove(key) }
        }
    }

    /// The status code and JSON body of `/ready`.
    public func report(now: Double = WallClock.now()) -> (ready: Bool, body: String) {
        let snapshot = store.snapshot()
        let statuses = dataPlane?.reportedStatuses ?? [:]
        let requiredKeys = required.withLock { $0 }
        var keys = requiredKeys
        for key in snapshot.configurations.keys.sorted(by: { $0.description < $1.description }) where !keys.contains(key) {
            keys.append(key)
        }
        let ready = loadedOnce.withLock { loaded in
            requiredKeys.allSatisfy { snapshot[$0] != nil || loaded.contains($0) }
        }
        var entries: [String] = []
        for key in keys {
            var fields = ["\"configuration\":\(JSONText.quoted(key.description))",
                          "\"required\":\(requiredKeys.contains(key))"]
            if let payload = snapshot[key] {
                fields.append("\"state\":\"loaded\"")
                fields.append("\"version\":\(JSONText.quoted(payload.version))")
                fields.append("\"ageSeconds\":\(Int(max(0, now - payload.receivedAt)))")
                fields.append("\"source\":\"\(payload.source.rawValue)\"")
            } else {
                switch statuses[key] {
                case .failing(let error)?: fields.append("\"state\":\"failing\",\"error\":\(JSONText.quoted(error.description))")
                case .notFound?: fields.append("\"state\":\"not_found\"")
                case .accessDenied?: fields.append("\"state\":\"access_denied\"")
                default: fields.append("\"state\":\"pending\"")
                }
            }
            entries.append("{" + fields.joined(separator: ",") + "}")
        }
        return (ready, "{\"ready\":\(ready),\"configurations\":[\(entries.joined(separator: ","))]}\n")
    }
}

enum JSONText {
    /// A JSON string literal for `text`.
    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
