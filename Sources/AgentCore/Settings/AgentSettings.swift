#if canImport(Glibc)
import Glibc
#endif

/// Every setting of the agent, read once from the environment and validated as a whole: a value
/// that does not parse is a `SettingsError` naming the variable, never a silent default.
///
/// Names. Each agent setting `NAME` is also read as the Lambda extension's
/// `AWS_APPCONFIG_EXTENSION_NAME`, except that `POLL_INTERVAL` is
/// `AWS_APPCONFIG_EXTENSION_POLL_INTERVAL_SECONDS` and `REQUEST_TIMEOUT` is
/// `AWS_APPCONFIG_EXTENSION_POLL_TIMEOUT_MILLIS` there (same syntax as the plain names). The AWS SDK
/// variables (`AWS_REGION`, `AWS_ENDPOINT_URL`, …) have no Lambda form.
///
/// Precedence. When both the plain and the Lambda name are set, the plain name wins and the Lambda
/// one is not read at all (not even checked).
///
/// Values. Surrounding white space is trimmed. An empty (or all-blank) variable counts as unset, so
/// the default applies and the Lambda name is consulted, with one exception: an empty
/// `ACCESS_TOKEN` is an error, because a blank token would protect nothing.
public struct AgentSettings: Sendable, Equatable {
    /// Where the local HTTP server listens.
    public enum HTTPHost: Sendable, Equatable {
        /// The loopback addresses 127.0.0.1 and ::1.
        case localhost
        /// Every interface.
        case all
        /// An IPv4 or IPv6 literal (without brackets; an IPv6 zone such as `%eth0` is kept) or a host name.
        case address(String)
    }

    /// Where the manifest comes from (its content is checked by the manifest module).
    public enum ManifestSource: Sendable, Equatable {
        /// `MANIFEST=file:/path`: an absolute path.
        case file(path: String)
        /// `MANIFEST={…}`: the text of one JSON object (syntax checked here, schema later).
        case inline(json: String)
        /// `MANIFEST=App:Env:Profile`: a manifest kept in AppConfig, itself polled.
        case configuration(ConfigurationKey)
    }

    /// One extra header sent to the proxy.
    public struct HTTPHeader: Sendable, Equatable {
        public var name: String
        public var value: String

        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    /// Prefix of the Lambda extension's names for the same settings.
    public static let lambdaVariablePrefix = "AWS_APPCONFIG_EXTENSION_"

    /// Bounds enforced by `parse`.
    public static let pollIntervalMaximum: Duration = .seconds(24 * 3600)
    public static let requestTimeoutMaximum: Duration = .seconds(600)
    /// Each connection to AWS is a TLS session the agent keeps open; the service throttles well before
    /// 64 concurrent callers from one host make sense, and a typo such as `3000` should not open them.
    public static let maxConnectionsRange: ClosedRange<Int> = 1...64

    /// `HTTP_HOST`: `localhost` (default) or `all` in any case, an IPv4 or IPv6 address (IPv6 may be in
    /// `[brackets]`), or a host name.
    public var httpHost: HTTPHost = .localhost
    /// `HTTP_PORT`, default 2772. `0` asks the kernel for an ephemeral port; meant for tests, which
    /// then read the bound port from the server.
    public var httpPort: UInt16 = 2772
    /// `ACCESS_TOKEN`: when set, every request but `/ping` needs `Authorization: Bearer <token>`.
    /// Empty is an error; control characters (which no HTTP header can carry) too.
    public var accessToken: String?
    /// `POLL_INTERVAL`, default 45 s: a bare number is seconds; `s`, `m`, `h` suffixes and combinations
    /// such as `1m30s` accepted; more than zero, at most 24 h. Not clamped here: the AWS poller applies
    /// the service's 15 s floor, local development mode takes any positive value.
    public var pollInterval: Duration = .seconds(45)
    /// `REQUEST_TIMEOUT`, default 3000 ms: a bare number is milliseconds; `ms` and `s` suffixes (and
    /// `2s500ms`); more than zero, at most 10 minutes.
    public var requestTimeout: Duration = .milliseconds(3000)
    /// `MAX_CONNECTIONS`, default 3, from 1 to 64.
    public var maxConnections: Int = 3
    /// `PREFETCH_LIST`: comma-separated `App:Env:Profile`, trimmed, duplicates dropped (first kept),
    /// empty items (a trailing comma) ignored.
    public var prefetchList: [ConfigurationKey] = []
    /// `MANIFEST`: `file:/path` (also `file:///path`), an inline JSON object, or `App:Env:Profile`.
    public var manifest: ManifestSource?
    /// `WAIT_ON_MANIFEST`, default true.
    public var waitOnManifest: Bool = true
    /// `BACKUP_DIRECTORY`: an absolute path.
    public var backupDirectory: String?
    /// `PRELOAD_BACKUPS` or `PRELOAD_BACKUP` (both spellings), default true; both set with different
    /// values is an error.
    public var preloadBackups: Bool = true
    /// `LOCAL_DEVELOPMENT_DIRECTORY`: serve from files there, never call AWS. Relative paths allowed.
    public var localDevelopmentDirectory: String?
    /// The first set of `SERVICE_REGION`, `AWS_REGION`, `AWS_DEFAULT_REGION`; nil when none is (the
    /// profile and IMDS are consulted elsewhere).
    public var serviceRegion: String?
    /// `ROLE_ARN`: `arn:<partition>:iam::<account>:role/<name>`.
    public var roleArn: String?
    /// `ROLE_EXTERNAL_ID`: 2…1224 characters of letters, digits and `_+=,.@:/-` (STS's rule).
    public var roleExternalId: String?
    /// `ROLE_SESSION_NAME`: 2…64 characters of letters, digits and `_+=,.@-` (STS's rule).
    public var roleSessionName: String?
    /// `PROXY_URL`: `http`, `https`, `socks5` or `socks5h` URL with a host.
    public var proxyURL: String?
    /// `PROXY_HEADERS`: `name: value, name: value`.
    public var proxyHeaders: [HTTPHeader] = []
    /// `LOG_LEVEL`, default info.
    public var logLevel: LogLevel = .info
    /// `LOG_PATH`; nil logs to standard error.
    public var logPath: String?
    /// `AWS_ENDPOINT_URL`: http or https URL with a host.
    public var endpointURL: String?
    /// `AWS_ENDPOINT_URL_APPCONFIGDATA`: http or https URL with a host.
    public var endpointURLAppConfigData: String?
    /// `AWS_ENDPOINT_URL_STS`: http or https URL with a host.
    public var endpointURLSTS: String?
    /// `AWS_USE_FIPS_ENDPOINT`, default false.
    public var useFIPSEndpoint: Bool = false
    /// `AWS_USE_DUALSTACK_ENDPOINT`, default false.
    public var useDualStackEndpoint: Bool = false
    /// `AWS_CA_BUNDLE`: a file of PEM certificates.
    public var caBundle: String?

    // Our additions (AWS's agent has no such settings): how the local HTTP server protects itself.
    /// CLIENT_TIMEOUT: a client that sends or reads nothing for this long is disconnected. Default 30 s.
    public var clientTimeout: Duration = .seconds(30)
    /// MAX_CLIENT_CONNECTIONS: most client connections served at once. Default 1024.
    public var maxClientConnections: Int = 1024
    public static let maxClientConnectionsRange: ClosedRange<Int> = 1...65_536

    /// Every setting at its default: what an empty environment gives.
    public static let defaults = AgentSettings()

    /// Reads and validates every setting; the first that does not parse is thrown.
    public static func parse(environment: [String: String]) throws(SettingsError) -> AgentSettings {
        let env = SettingsEnvironment(variables: environment)
        var settings = AgentSettings.defaults

        if let v = env.setting("HTTP_HOST") {
            guard let host = SettingValueParsers.httpHost(v.text) else {
                throw v.error(expected: "localhost, all, an IPv4 or IPv6 address, or a host name")
            }
            settings.httpHost = host
        }
        if let v = env.setting("HTTP_PORT") {
            guard case .value(let port) = SettingValueParsers.unsignedInteger(v.text), port <= Int64(UInt16.max) else {
                throw v.error(expected: "a port number from 0 to 65535")
            }
            settings.httpPort = UInt16(port)
        }
        settings.accessToken = try parseAccessToken(env)
        if let v = env.setting("POLL_INTERVAL", lambda: lambdaVariablePrefix + "POLL_INTERVAL_SECONDS") {
            settings.pollInterval = try v.duration(
                bareUnitMilliseconds: 1000, units: SettingValueParsers.pollIntervalUnits,
                maximum: pollIntervalMaximum, maximumText: "24h",
                examples: "45 (seconds), 30s, 5m, 1h or 1m30s")
        }
        if let v = env.setting("REQUEST_TIMEOUT", lambda: lambdaVariablePrefix + "POLL_TIMEOUT_MILLIS") {
            settings.requestTimeout = try v.duration(
                bareUnitMilliseconds: 1, units: SettingValueParsers.requestTimeoutUnits,
                maximum: requestTimeoutMaximum, maximumText: "600s (10 minutes)",
                examples: "3000 (milliseconds), 500ms, 5s or 1s500ms")
        }
        if let v = env.setting("MAX_CONNECTIONS") {
            guard case .value(let count) = SettingValueParsers.unsignedInteger(v.text),
                  count >= Int64(maxConnectionsRange.lowerBound), count <= Int64(maxConnectionsRange.upperBound)
            else {
                throw v.error(expected: "a whole number from \(maxConnectionsRange.lowerBound) to \(maxConnectionsRange.upperBound)")
            }
            settings.maxConnections = Int(count)
        }
        if let v = env.setting("PREFETCH_LIST") {
            settings.prefetchList = try parsePrefetchList(v)
        }
        if let v = env.setting("MANIFEST") {
            settings.manifest = try parseManifest(v)
        }
        if let v = env.setting("WAIT_ON_MANIFEST") {
            settings.waitOnManifest = try v.boolean()
        }
        if let v = env.setting("BACKUP_DIRECTORY") {
            guard v.text.hasPrefix("/") else { throw v.error(expected: "an absolute path, such as /var/lib/appconfig-agent/backups") }
            settings.backupDirectory = v.text
        }
        if let preload = try parsePreloadBackups(env) {
            settings.preloadBackups = preload
        }
        settings.localDevelopmentDirectory = env.setting("LOCAL_DEVELOPMENT_DIRECTORY")?.text
        if let v = env.first(of: ["SERVICE_REGION", lambdaVariablePrefix + "SERVICE_REGION", "AWS_REGION", "AWS_DEFAULT_REGION"]) {
            guard SettingValueParsers.isRegion(v.text) else {
                throw v.error(expected: "an AWS region such as us-east-1: lowercase letters, digits and dashes, ending in a number")
            }
            settings.serviceRegion = v.text
        }
        if let v = env.setting("ROLE_ARN") {
            guard SettingValueParsers.isRoleARN(v.text) else {
                throw v.error(expected: "an IAM role ARN such as arn:aws:iam::123456789012:role/Reader")
            }
            settings.roleArn = v.text
        }
        if let v = env.setting("ROLE_EXTERNAL_ID") {
            guard SettingValueParsers.isExternalID(v.text) else {
                throw v.error(expected: "2 to 1224 characters of letters, digits and _+=,.@:/-")
            }
            settings.roleExternalId = v.text
        }
        if let v = env.setting("ROLE_SESSION_NAME") {
            guard SettingValueParsers.isRoleSessionName(v.text) else {
                throw v.error(expected: "2 to 64 characters of letters, digits and _+=,.@-")
            }
            settings.roleSessionName = v.text
        }
        if let v = env.setting("PROXY_URL") {
            settings.proxyURL = try v.url(
                schemes: ["http", "https", "socks5", "socks5h"],
                expected: "an http, https, socks5 or socks5h URL with a host, such as http://proxy.example.com:3128")
        }
        if let v = env.setting("PROXY_HEADERS") {
            settings.proxyHeaders = try parseProxyHeaders(v)
        }
        if let v = env.setting("LOG_LEVEL") {
            guard let level = LogLevel(parsing: v.text) else {
                throw v.error(expected: "one of trace, debug, info, warn, error, fatal, none (any case)")
            }
            settings.logLevel = level
        }
        settings.logPath = env.setting("LOG_PATH")?.text

        let endpointExpected = "an http or https URL with a host, such as https://appconfigdata.us-east-1.amazonaws.com"
        if let v = env.first(of: ["AWS_ENDPOINT_URL"]) {
            settings.endpointURL = try v.url(schemes: ["http", "https"], expected: endpointExpected)
        }
        if let v = env.first(of: ["AWS_ENDPOINT_URL_APPCONFIGDATA"]) {
            settings.endpointURLAppConfigData = try v.url(schemes: ["http", "https"], expected: endpointExpected)
        }
        if let v = env.first(of: ["AWS_ENDPOINT_URL_STS"]) {
            settings.endpointURLSTS = try v.url(
                schemes: ["http", "https"], expected: "an http or https URL with a host, such as https://sts.us-east-1.amazonaws.com")
        }
        if let v = env.first(of: ["AWS_USE_FIPS_ENDPOINT"]) {
            settings.useFIPSEndpoint = try v.boolean()
        }
        if let v = env.first(of: ["AWS_USE_DUALSTACK_ENDPOINT"]) {
            settings.useDualStackEndpoint = try v.boolean()
        }
        if let v = env.first(of: ["AWS_CA_BUNDLE"]) {
            settings.caBundle = try v.readableFile(expected: "a readable file of PEM CA certificates")
        }
        if let v = env.setting("CLIENT_TIMEOUT") {
            settings.clientTimeout = try v.duration(
                bareUnitMilliseconds: 1000, units: SettingValueParsers.pollIntervalUnits,
                maximum: .seconds(3600), maximumText: "1h", examples: "30 (seconds), 10s or 2m")
        }
        if let v = env.setting("MAX_CLIENT_CONNECTIONS") {
            guard case .value(let count) = SettingValueParsers.unsignedInteger(v.text),
                  count >= Int64(maxClientConnectionsRange.lowerBound), count <= Int64(maxClientConnectionsRange.upperBound)
            else {
                throw v.error(expected: "a whole number from 1 to 65536")
            }
            settings.maxClientConnections = Int(count)
        }
        return settings
    }

    // MARK: Settings that need more than one line

    private static func parseAccessToken(_ env: SettingsEnvironment) throws(SettingsError) -> String? {
        // Unlike the others, a variable that is present but blank is an error, not "unset".
        for name in ["ACCESS_TOKEN", lambdaVariablePrefix + "ACCESS_TOKEN"] {
            guard let raw = env.variables[name] else { continue }
            let token = SettingValueParsers.trimmed(raw)
            guard !token.isEmpty else {
                throw SettingsError(variable: name, value: token, expected: "a non-empty token (unset the variable to turn authentication off)")
            }
            guard !SettingValueParsers.containsControlCharacter(token) else {
                throw SettingsError(variable: name, value: token, expected: "a token without control characters")
            }
            return token
        }
        return nil
    }

    private static func parsePrefetchList(_ v: SettingValue) throws(SettingsError) -> [ConfigurationKey] {
        var keys: [ConfigurationKey] = []
        var seen: Set<ConfigurationKey> = []
        for item in v.text.split(separator: ",", omittingEmptySubsequences: false) {
            let text = SettingValueParsers.trimmed(item)
            if text.isEmpty { continue }
            guard let key = ConfigurationKey(parsing: text) else {
                throw SettingsError(
                    variable: v.variable, value: text,
                    expected: "comma-separated App:Env:Profile items, each of three non-empty parts")
            }
            if seen.insert(key).inserted { keys.append(key) }
        }
        return keys
    }

    private static func parseManifest(_ v: SettingValue) throws(SettingsError) -> ManifestSource {
        if v.text.hasPrefix("file:") {
            var path = Substring(v.text.dropFirst("file:".count))
            if path.hasPrefix("//") { path = path.dropFirst(2) }  // file:///etc/m.json
            guard path.hasPrefix("/") else {
                throw v.error(expected: "file: followed by an absolute path, such as file:/etc/appconfig-agent/manifest.json")
            }
            return .file(path: String(path))
        }
        if v.text.hasPrefix("{") {
            guard SettingValueParsers.isJSONObject(v.text) else {
                throw v.error(expected: "a well-formed JSON object (the value starts with '{')")
            }
            return .inline(json: v.text)
        }
        if let key = ConfigurationKey(parsing: v.text) {
            return .configuration(key)
        }
        throw v.error(expected: "file:/absolute/path, an inline JSON object, or App:Env:Profile")
    }

    /// Both spellings are read; plain names take precedence over the Lambda ones as a group.
    private static func parsePreloadBackups(_ env: SettingsEnvironment) throws(SettingsError) -> Bool? {
        let names = ["PRELOAD_BACKUPS", "PRELOAD_BACKUP"]
        for group in [names, names.map { lambdaVariablePrefix + $0 }] {
            let values = group.compactMap { env.first(of: [$0]) }
            guard let first = values.first else { continue }
            let preload = try first.boolean()
            for other in values.dropFirst() {
                guard try other.boolean() == preload else {
                    throw first.error(expected: "the same value as \(other.variable) ('\(other.text)'), or only one of the two set")
                }
            }
            return preload
        }
        return nil
    }

    private static func parseProxyHeaders(_ v: SettingValue) throws(SettingsError) -> [HTTPHeader] {
        // Header values may be credentials (Proxy-Authorization), so errors show names only.
        let expected = "comma-separated 'name: value' items"
        var headers: [HTTPHeader] = []
        for (position, item) in v.text.split(separator: ",", omittingEmptySubsequences: false).enumerated() {
            let text = SettingValueParsers.trimmed(item)
            if text.isEmpty { continue }
            guard let colon = text.firstIndex(of: ":") else {
                throw SettingsError(variable: v.variable, value: SettingsError.hidden,
                                    expected: "\(expected); item \(position + 1) has no ':'")
            }
            let name = SettingValueParsers.trimmed(text[..<colon])
            let value = SettingValueParsers.trimmed(text[text.index(after: colon)...])
            guard SettingValueParsers.isHeaderName(name) else {
                throw SettingsError(variable: v.variable, value: "\(name): \(SettingsError.hidden)",
                                    expected: "\(expected); item \(position + 1) needs a header name of letters, digits and !#$%&'*+-.^_`|~")
            }
            guard !SettingValueParsers.containsControlCharacter(value) else {
                throw SettingsError(variable: v.variable, value: "\(name): \(SettingsError.hidden)",
                                    expected: "\(expected); item \(position + 1) has a control character in its value")
            }
            headers.append(HTTPHeader(name: name, value: value))
        }
        return headers
    }
}

/// The environment as the settings see it: trimmed values, blank meaning unset, Lambda names second.
struct SettingsEnvironment {
    let variables: [String: String]

    /// `name`, else its Lambda form (`AWS_APPCONFIG_EXTENSION_<name>` unless given).
    func setting(_ name: String, lambda: String? = nil) -> SettingValue? {
        first(of: [name, lambda ?? AgentSettings.lambdaVariablePrefix + name])
    }

    /// The first of `names` that is set to something other than white space.
    func first(of names: [String]) -> SettingValue? {
        for name in names {
            guard let raw = variables[name] else { continue }
            let text = SettingValueParsers.trimmed(raw)
            if !text.isEmpty { return SettingValue(variable: name, text: text) }
        }
        return nil
    }
}

/// One variable that is set: the name it was read under and its trimmed text.
struct SettingValue {
    let variable: String
    let text: String

    func error(expected: String) -> SettingsError {
        SettingsError(variable: variable, value: text, expected: expected)
    }

    func boolean() throws(SettingsError) -> Bool {
        guard let value = SettingValueParsers.boolean(text) else {
            throw error(expected: "true or false (also 1/0, yes/no, on/off, any case)")
        }
        return value
    }

    func duration(
        bareUnitMilliseconds: Int64,
        units: [(suffix: String, milliseconds: Int64)],
        maximum: Duration,
        maximumText: String,
        examples: String
    ) throws(SettingsError) -> Duration {
        switch SettingValueParsers.duration(text, bareUnitMilliseconds: bareUnitMilliseconds, units: units) {
        case .malformed:
            throw error(expected: "a duration in whole units such as \(examples)")
        case .overflow:
            throw error(expected: "a duration of at most \(maximumText)")
        case .milliseconds(let ms):
            let value = Duration.milliseconds(ms)
            guard ms > 0 else { throw error(expected: "a duration greater than zero, such as \(examples)") }
            guard value <= maximum else { throw error(expected: "a duration of at most \(maximumText)") }
            return value
        }
    }

    /// The text when it names a regular file this process can open for reading (checked once, at
    /// start-up: otherwise every TLS call would fail later with a less helpful libcurl message).
    func readableFile(expected: String) throws(SettingsError) -> String {
        let fd: Int32
        do {
            // O_NONBLOCK: a FIFO must not hang start-up.
            fd = try SystemCall.retrying("open") { open(text, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC) }
        } catch {
            throw self.error(expected: "\(expected); it cannot be opened: \(String(cString: strerror(error.errno)))")
        }
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0, status.st_mode & S_IFMT == S_IFREG else {
            throw self.error(expected: "\(expected); it is not a regular file")
        }
        return text
    }

    /// The text when it is a URL with one of `schemes` and a host. Errors hide any user information.
    func url(schemes: Set<String>, expected: String) throws(SettingsError) -> String {
        guard let parts = SettingValueParsers.url(text), schemes.contains(parts.scheme) else {
            throw SettingsError(variable: variable, value: SettingValueParsers.redactingUserInfo(text), expected: expected)
        }
        return text
    }
}
