import Synchronization

/// Keeps `appconfig_agent_configuration_version` in step with the store: one series per
/// configuration, replaced when its version or its source changes (a backup replaced by the same
/// version from the service), removed when it stops being served.
final class VersionMetrics: Sendable {
    private struct Served: Equatable {
        let version: String
        let source: ConfigurationSource
    }

    private let served = Mutex<[ConfigurationKey: Served]>([:])
    private let metrics: AgentMetrics

    init(metrics: AgentMetrics = .shared) {
        self.metrics = metrics
    }

    func update(_ snapshot: StoreSnapshot) {
        served.withLock { served in
            for (key, payload) in snapshot.configurations {
                let now = Served(version: payload.version, source: payload.source)
                guard served[key] != now else { continue }
                metrics.setConfigurationVersion(key, version: payload.version, source: payload.source.rawValue)
                served[key] = now
            }
            for key in served.keys where snapshot[key] == nil {
                metrics.forgetConfiguration(key)
                served.removeValue(forKey: key)
            }
        }
    }
}
