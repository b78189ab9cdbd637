/// The shared AWS config and credentials files, parsed and merged per profile.
///
/// Files: `AWS_CONFIG_FILE` (default `~/.aws/config`) and `AWS_SHARED_CREDENTIALS_FILE` (default
/// `~/.aws/credentials`); a missing file is simply empty, an unreadable one is an error. The profile is
/// `AWS_PROFILE` (else the legacy `AWS_DEFAULT_PROFILE`, else `default`). When a profile appears in both
/// files their properties are merged and the credentials file wins for a property set in both.
public struct AWSSharedConfig: Sendable, Equatable {
    /// The profile in use.
    public let profileName: String
    /// Whether `AWS_PROFILE`/`AWS_DEFAULT_PROFILE` chose it (then it must exist).
    public let profileIsExplicit: Bool
    public let configFile: String
    public let credentialsFile: String
    let profiles: [String: [String: String]]

    public static func load(environment: [String: String]) throws(CredentialsError) -> AWSSharedConfig {
        let explicit = CredentialsSupport.value(environment, "AWS_PROFILE") ?? CredentialsSupport.value(environment, "AWS_DEFAULT_PROFILE")
        let configFile = CredentialsSupport.expandingHome(
            CredentialsSupport.value(environment, "AWS_CONFIG_FILE") ?? "~/.aws/config", environment: environment)
        let credentialsFile = CredentialsSupport.expandingHome(
            CredentialsSupport.value(environment, "AWS_SHARED_CREDENTIALS_FILE") ?? "~/.aws/credentials", environment: environment)
        let config = try read(configFile, kind: .config, variable: "AWS_CONFIG_FILE")
        let credentials = try read(credentialsFile, kind: .credentials, variable: "AWS_SHARED_CREDENTIALS_FILE")
        return AWSSharedConfig(
            profileName: explicit ?? "default", profileIsExplicit: explicit != nil,
            configFile: configFile, credentialsFile: credentialsFile,
            profiles: merge(config: config, credentials: credentials)
        )
    }

    init(profileName: String, profileIsExplicit: Bool, configFile: String, credentialsFile: String, profiles: [String: [String: String]]) {
        self.profileName = profileName
        self.profileIsExplicit = profileIsExplicit
        self.configFile = configFile
        self.credentialsFile = credentialsFile
        self.profiles = profiles
    }

    /// The merged properties of `profile` (names lower-cased), nil when neither file has it.
    public func properties(of profile: String) -> [String: String]? {
        profiles[profile]
    }

    /// The `region` of the profile in use, if it sets one.
    public var region: String? {
        profiles[profileName]?["region"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// "~/.aws/config or ~/.aws/credentials", for messages.
    var filesDescription: String { "\(configFile) or \(credentialsFile)" }

    private static func read(_ path: String, kind: SharedConfigParser.Kind, variable: String) throws(CredentialsError) -> [String: [String: String]] {
        switch CredentialsSupport.readFile(path, limit: 4 << 20) {
        case .failure(.missing):
            return [:]
        case .failure(.failed(let message)):
            throw CredentialsError("\(message); fix its permissions, or set \(variable) to a readable file")
        case .success(let bytes):
            return SharedConfigParser.parse(String(decoding: bytes, as: UTF8.self), kind: kind, path: path)
        }
    }

    static func merge(config: [String: [String: String]], credentials: [String: [String: String]]) -> [String: [String: String]] {
        var merged = config
        for (profile, properties) in credentials {
            merged[profile, default: [:]].merge(properties) { _, fromCredentials in fromCredentials }
        }
        return merged
    }
}

/// The INI dialect of the shared files, as the AWS SDKs read it:
/// - `[default]` and `[profile name]` in the config file (other sections there, such as `[sso-session x]`
///   or a bare `[name]`, are not profiles and are skipped); `[name]` in the credentials file. In the
///   config file, `[profile default]` wins over `[default]` when both exist.
/// - `name = value`; names are case-insensitive (kept lower-case), values trimmed.
/// - Comments: a line starting with `#` or `;`; after a value, `#` or `;` preceded by white space.
///   After a section header, anything starting with `#` or `;`.
/// - An indented line after a property continues its value (joined with a newline), which is how
///   nested settings (`s3 =` then `  max_concurrent_requests = 10`) are kept out of the way.
/// - A section or property repeated: merged, the later value wins. Lines that fit none of these are
///   skipped with a warning naming the file and line (never the line's text, which may hold a secret).
enum SharedConfigParser {
    enum Kind {
        case config, credentials
    }

    private struct SectionKey: Hashable {
        var name: String
        /// `[profile default]` rather than `[default]` (config file only).
        var prefixed: Bool
    }

    static func parse(_ text: String, kind: Kind, path: String) -> [String: [String: String]] {
        var sections: [SectionKey: [String: String]] = [:]
        var current: SectionKey?
        var inSkippedSection = false
        var lastKey: String?

        // `isNewline` splits at "\r\n" too, which Swift holds as a single Character.
        for (index, line) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let trimmed = SettingValueParsers.trimmed(line)
            if trimmed.isEmpty || trimmed.hasPrefix("#") || trimmed.hasPrefix(";") { continue }

            if let first = line.first, first == " " || first == "\t", lastKey != nil {
                if let section = current, let key = lastKey {
                    let previous = sections[section]?[key] ?? ""
                    sections[section, default: [:]][key] = previous + "\n" + trimmed
                }
                continue
            }

            if trimmed.hasPrefix("[") {
                lastKey = nil
                guard let header = sectionHeader(trimmed) else {
                    log.warn("\(path) line \(index + 1): skipped, not a valid [section] header")
                    current = nil
                    inSkippedSection = true
                    continue
                }
                switch kind {
                case .credentials:
                    current = SectionKey(name: header, prefixed: false)
                    inSkippedSection = false
                case .config:
                    if header == "default" {
                        current = SectionKey(name: "default", prefixed: false)
                        inSkippedSection = false
                    } else if let name = profileName(header) {
                        current = SectionKey(name: name, prefixed: true)
                        inSkippedSection = false
                    } else {
                        current = nil // [sso-session …], [services …], or a profile missing its "profile " prefix
                        inSkippedSection = true
                    }
                }
                if let current, sections[current] == nil { sections[current] = [:] }
                continue
            }

            guard let equals = trimmed.firstIndex(of: "=") else {
                log.warn("\(path) line \(index + 1): skipped, expected name = value")
                lastKey = nil
                continue
            }
            let key = SettingValueParsers.trimmed(trimmed[..<equals]).lowercased()
            guard !key.isEmpty else {
                log.warn("\(path) line \(index + 1): skipped, a value without a name")
                lastKey = nil
                continue
            }
            guard let section = current else {
                if !inSkippedSection { log.warn("\(path) line \(index + 1): skipped, a property before any [section]") }
                lastKey = nil
                continue
            }
            sections[section, default: [:]][key] = value(trimmed[trimmed.index(after: equals)...])
            lastKey = key
        }

        var profiles: [String: [String: String]] = [:]
        for (key, properties) in sections where !(key.name == "default" && !key.prefixed && sections[SectionKey(name: "default", prefixed: true)] != nil) {
            profiles[key.name, default: [:]].merge(properties) { _, new in new }
        }
        return profiles
    }

    /// The trimmed text between `[` and `]`, when nothing but a comment follows the `]`.
    private static func sectionHeader(_ line: String) -> String? {
        guard let close = line.firstIndex(of: "]") else { return nil }
        let rest = SettingValueParsers.trimmed(line[line.index(after: close)...])
        guard rest.isEmpty || rest.hasPrefix("#") || rest.hasPrefix(";") else { return nil }
        let name = SettingValueParsers.trimmed(line[line.index(after: line.startIndex)..<close])
        return name.isEmpty ? nil : name
    }

    /// `profile name` → `name` (any white space after the word `profile`).
    private static func profileName(_ header: String) -> String? {
        guard header.hasPrefix("profile"), let next = header.dropFirst(7).first, next == " " || next == "\t" else { return nil }
        let name = SettingValueParsers.trimmed(header.dropFirst(7))
        return name.isEmpty ? nil : name
    }

    /// The value with an inline comment (` #…` or ` ;…`) removed, trimmed.
    private static func value(_ text: Substring) -> String {
        var previousWasSpace = false // `name=#x` keeps `#x`; `name = #x` is a comment
        var end = text.endIndex
        for index in text.indices {
            let character = text[index]
            if (character == "#" || character == ";") && previousWasSpace {
                end = index
                break
            }
            previousWasSpace = character == " " || character == "\t"
        }
        return SettingValueParsers.trimmed(text[..<end])
    }
}
