/// The configurations the agent fetches at start-up and the features enabled for each (SPEC §6).
///
/// Built only by `decode`, which checks the whole document before returning anything: a manifest
/// either decodes entirely or not at all, so a bad reload can be refused while the old one keeps
/// running (the Caddy rule in STYLE.md).
public struct Manifest: Sendable, Equatable {
    /// Entries in document order, one per configuration, no key twice.
    public let entries: [ManifestEntry]

    public init(entries: [ManifestEntry]) {
        self.entries = entries
    }

    /// Largest manifest accepted, in bytes, from any source.
    public static let maximumSize = 1 << 20
    /// Most entries accepted: each one is a poller, and possibly a file and an assumed role.
    public static let maximumEntries = 1000

    public var keys: [ConfigurationKey] { entries.map(\.key) }

    /// The entry for `key`, if the manifest has one.
    public subscript(key: ConfigurationKey) -> ManifestEntry? {
        entries.first { $0.key == key }
    }

    /// Decodes and validates a whole manifest (rules in `ManifestDecoder`).
    ///
    /// Returns the warnings for unknown feature keys, which were ignored. Both they and the notices
    /// about clamped credential durations are logged here already; callers need not log them again.
    public static func decode(_ bytes: [UInt8]) throws(ManifestError) -> (Manifest, warnings: [String]) {
        var decoder = ManifestDecoder()
        let manifest = try decoder.decode(bytes)
        for notice in decoder.notices { log.info(notice) }
        for warning in decoder.warnings { log.warn(warning) }
        return (manifest, decoder.warnings)
    }
}

/// One configuration named in the manifest and the features enabled for it (`{}`: none, just fetch it).
public struct ManifestEntry: Sendable, Equatable {
    public let key: ConfigurationKey
    /// Retrieve this configuration with an assumed role instead of the agent's own credentials.
    public let credentials: RoleCredentials?
    /// Also write this configuration to a file.
    public let writeTo: WriteTarget?

    public init(key: ConfigurationKey, credentials: RoleCredentials? = nil, writeTo: WriteTarget? = nil) {
        self.key = key
        self.credentials = credentials
        self.writeTo = writeTo
    }
}

/// The `credentials` feature: a role assumed (through STS) for this configuration's retrieval.
public struct RoleCredentials: Sendable, Equatable {
    /// `arn:<partition>:iam::<12-digit account>:role/<path and name>`.
    public let roleArn: String
    /// STS `ExternalId`: 2…1224 characters of letters, digits and `_+=,.@:/-`.
    public let roleExternalId: String?
    /// STS `RoleSessionName`: 2…64 characters of letters, digits and `_+=,.@-`.
    public let roleSessionName: String?
    /// Requested lifetime of the assumed role's credentials, already clamped to
    /// `minimumDuration…maximumDuration`; nil leaves it to the credentials provider.
    public let credentialsDuration: Duration?

    public init(roleArn: String, roleExternalId: String? = nil, roleSessionName: String? = nil, credentialsDuration: Duration? = nil) {
        self.roleArn = roleArn
        self.roleExternalId = roleExternalId
        self.roleSessionName = roleSessionName
        self.credentialsDuration = credentialsDuration
    }

    /// STS's shortest `DurationSeconds`.
    public static let minimumDuration = Duration.seconds(15 * 60)
    /// STS's longest `DurationSeconds` (a role's own maximum may be lower; STS then refuses the call).
    public static let maximumDuration = Duration.seconds(12 * 60 * 60)
}

/// The `writeTo` feature: where the configuration is written, and with which permission bits.
public struct WriteTarget: Sendable, Equatable {
    /// Absolute, without `.` or `..` components, naming a file; repeated `/` are collapsed
    /// (`/run//app/x` is stored as `/run/app/x`), so that two spellings of one file compare equal.
    public let path: String
    /// `0600` unless the manifest asked for `"0640"`.
    public let mode: FileMode

    public init(path: String, mode: FileMode = .ownerOnly) {
        self.path = path
        self.mode = mode
    }
}
