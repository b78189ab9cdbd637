/// Names one configuration: application, environment and configuration profile, each a name or an ID.
///
/// Written `App:Env:Profile` in settings, manifests and local file names; the HTTP route carries the
/// three parts as separate, percent-decoded path segments.
public struct ConfigurationKey: Hashable, Sendable, CustomStringConvertible {
    public let application: String
    public let environment: String
    public let profile: String

    public init(application: String, environment: String, profile: String) {
        self.application = application
        self.environment = environment
        self.profile = profile
    }

    /// Parses `App:Env:Profile`: exactly three non-empty parts separated by `:`.
    public init?(parsing text: some StringProtocol) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 3, parts.allSatisfy({ !$0.isEmpty }) else { return nil }
        self.init(application: String(parts[0]), environment: String(parts[1]), profile: String(parts[2]))
    }

    public var description: String { "\(application):\(environment):\(profile)" }
}
