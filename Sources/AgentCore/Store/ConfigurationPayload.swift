/// Where a cached configuration came from; reported by `/ready` and in logs.
public enum ConfigurationSource: String, Sendable {
    case service, backup, local
}

/// One immutable version of one configuration, ready to serve.
///
/// The bytes live in a buffer allocated once and never mutated, so the HTTP layer can hand libevent
/// a reference to them (no copy per response) while holding a retain on this object. Header values
/// are prepared as C strings once per version, not per request.
public final class ConfigurationPayload: Sendable {
    public let key: ConfigurationKey
    /// The value of `Configuration-Version`: the service's version label when there is one, else an
    /// opaque version the agent assigns.
    public let version: String
    public let versionLabel: String?
    public let contentType: String
    public let source: ConfigurationSource
    /// Seconds since the Unix epoch when this version was received or read.
    public let receivedAt: Double

    // Written once in init, then only read: safe to share across threads.
    private nonisolated(unsafe) let allocation: UnsafeMutableRawPointer
    public let count: Int
    /// NUL-terminated header values, built once.
    let contentTypeC: [CChar]
    let versionC: [CChar]
    /// `ETag`: the version and a fingerprint of the content, quoted (`ETag.of`).
    public let etag: String
    let etagC: [CChar]
    let versionLabelC: [CChar]?
    /// How `?flag=` and feature-flag evaluation see this version, prepared once.
    public let flags: FlagModel

    public init(key: ConfigurationKey, content: some Collection<UInt8>, contentType: String, version: String,
                versionLabel: String?, source: ConfigurationSource, receivedAt: Double) {
        self.key = key
        self.version = version
        self.versionLabel = versionLabel
        self.contentType = contentType
        self.source = source
        self.receivedAt = receivedAt
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(content.count, 1), alignment: 1)
        let written = buffer.initializeMemory(as: UInt8.self, from: content).initialized.count
        self.allocation = buffer.baseAddress!  // at least one byte was allocated
        self.count = written
        self.contentTypeC = HeaderValue.cString(contentType)
        self.versionC = HeaderValue.cString(version)
        self.etag = ConfigurationPayload.etag(version: version, content: UnsafeRawBufferPointer(rebasing: buffer[0..<written]))
        self.etagC = HeaderValue.cString(etag)
        self.versionLabelC = versionLabel.map(HeaderValue.cString)
        self.flags = FlagModel(content: content, contentType: contentType)
    }

    deinit {
        allocation.deallocate()
    }

    /// The entity tag of a version: version labels need not be unique (a label reused for new
    /// content), so the tag is the version and the content's fingerprint (`ContentVersion`):
    /// `"<version>-<16 hex digits>"`, or just `"<16 hex digits>"` when the version is that
    /// fingerprint already (no label; local mode). Stable across restarts and backups.
    static func etag(version: String, content: some Sequence<UInt8>) -> String {
        let fingerprint = ContentVersion.of(content)
        let name = version.filter { $0 != "\"" }
        return "\"" + (name == fingerprint ? fingerprint : name + "-" + fingerprint) + "\""
    }

    /// The configuration bytes; valid while this object is alive, never mutated.
    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: allocation, count: count) }

    public var contentArray: [UInt8] { Array(bytes) }

    /// `application/json`, or a `+json` type, with or without parameters.
    static func isJSON(_ contentType: String) -> Bool {
        let type = (contentType.split(separator: ";", maxSplits: 1).first ?? "")
            .filter { $0 != " " && $0 != "\t" }.lowercased()
        return type == "application/json" || type.hasSuffix("+json")
    }
}

/// A version's flags, prepared when the version arrives so that requests do no parsing.
public enum FlagModel: Sendable {
    /// A JSON configuration: its top-level members indexed for `?flag=` (or why it cannot be).
    case json(Result<FlagIndex, FlagSelectionError>)
    /// Multi-variant feature flags (Ion), compiled; every request is evaluated against them.
    case variants(CompiledFlags)
    /// A feature-flag document that cannot be served: the version is refused where a previous
    /// one exists, and answered with 502 naming `error` where none does.
    case unreadable(FeatureFlagsError)
    /// Any other content: `?flag=` is a bad request.
    case none

    init(content: some Collection<UInt8>, contentType: String) {
        if ConfigurationPayload.isJSON(contentType) {
            self = .json(Result { () throws(FlagSelectionError) in try FlagIndex(bytes: Array(content)) })
        } else if IonFlagDocument.isFeatureFlags(contentType: contentType) {
            do {
                self = .variants(try IonFlagDocument.compile(Array(content)))
            } catch {
                self = .unreadable(error)
            }
        } else {
            self = .none
        }
    }

    /// Why this version of feature flags cannot be served, when it cannot.
    public var documentError: FeatureFlagsError? {
        if case .unreadable(let error) = self { return error }
        return nil
    }

    /// Rules that did not compile in this version (their flags serve the default variant).
    public var ruleProblems: [FlagRuleProblem] {
        if case .variants(let compiled) = self { return compiled.ruleProblems }
        return []
    }
}

enum HeaderValue {
    /// A header value as a C string, with CR, LF and NUL replaced so that no value can split a header.
    static func cString(_ value: String) -> [CChar] {
        var out = value.utf8.map { byte -> CChar in
            byte == 0x0D || byte == 0x0A || byte == 0 ? CChar(UInt8(ascii: " ")) : CChar(bitPattern: byte)
        }
        out.append(0)
        return out
    }
}
