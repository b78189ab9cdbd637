/// Whether a newly received or read version may replace the one in service, and the report of its
/// feature-flag problems: one log line each, counted in
/// `appconfig_agent_feature_flag_errors_total{configuration,kind}`.
///
/// A feature-flag document that cannot be read at all never replaces a readable version (a bad
/// answer keeps the last good configuration in service). With nothing readable to keep, it is
/// stored, and its requests get 502 naming the problem until a readable version arrives. A rule
/// that does not compile only takes its own flag to the default variant; the version is served.
enum VersionAdmission {
    static func admit(_ payload: ConfigurationPayload, replacing current: ConfigurationPayload?) -> Bool {
        if let error = payload.flags.documentError {
            AgentMetrics.shared.recordFeatureFlagError(payload.key, kind: .document)
            if let current, current.flags.documentError == nil {
                log.error("refusing version \(payload.version) of '\(payload.key)': \(error); still serving version \(current.version)")
                return false
            }
            log.error("version \(payload.version) of '\(payload.key)' cannot be served: \(error); its requests get 502 until a readable version arrives")
            return true
        }
        for problem in payload.flags.ruleProblems {
            AgentMetrics.shared.recordFeatureFlagError(payload.key, kind: .rule)
            log.warn("configuration '\(payload.key)' version \(payload.version): \(problem)")
        }
        return true
    }
}
