/// A file name in `LOCAL_DEVELOPMENT_DIRECTORY` read as `App:Env:Profile[.ext]`.
///
/// Rules (for the README):
/// - Names starting with `.` (dotfiles, editor swap files, Kubernetes ConfigMap internals such as
///   `..data`) and names ending in `~` (editor backups) are ignored without a warning.
/// - The name splits on `:` into exactly three non-empty parts: application, environment, and the
///   profile with its optional extension. Control characters are refused (they would reach logs and
///   the `Content-Type` header).
/// - `%` form: when the third part has a `.` before its first `%`, the extension starts at the last
///   such `.`, so it may itself contain dots: `Profile.application%ion%type=AWS.AppConfig.FeatureFlags`.
///   The first `%` reads as `/` and each later one as `;`, giving
///   `application/ion;type=AWS.AppConfig.FeatureFlags`. Type and subtype must be non-empty HTTP
///   tokens and the rest printable ASCII, or the file is refused with the reason.
/// - Otherwise the extension is what follows the last `.`: `json` → `application/json`, `yaml` and
///   `yml` → `application/x-yaml`, `txt` → `text/plain`, in any case.
/// - Any other extension, or none, is part of the profile name and the type is
///   `application/octet-stream`: `App:Env:my.profile` is profile `my.profile`, and a leftover such
///   as `App:Env:Profile.json.bak` becomes its own profile instead of shadowing `Profile.json`.
public struct LocalFileName: Sendable, Equatable {
    public let key: ConfigurationKey
    public let contentType: String

    public init(key: ConfigurationKey, contentType: String) {
        self.key = key
        self.contentType = contentType
    }

    /// What a directory entry's name means.
    public enum Parsed: Sendable, Equatable {
        /// A configuration file.
        case configuration(LocalFileName)
        /// Dotfile or editor backup: skipped without a warning.
        case ignored
        /// Skipped with a warning saying why.
        case rejected(reason: String)
    }

    public static let expectedForm = "App:Env:Profile[.ext]"

    public static func parse(_ fileName: String) -> Parsed {
        guard !fileName.isEmpty else { return .rejected(reason: "empty file name") }
        if fileName.hasPrefix(".") || fileName.hasSuffix("~") { return .ignored }
        if fileName.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            return .rejected(reason: "the name contains control characters")
        }
        let parts = fileName.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 3 else {
            return .rejected(reason: "the name is not \(expectedForm): expected three names separated by ':', found \(parts.count)")
        }
        guard !parts[0].isEmpty else { return .rejected(reason: "the name is not \(expectedForm): the application name is empty") }
        guard !parts[1].isEmpty else { return .rejected(reason: "the name is not \(expectedForm): the environment name is empty") }
        let last = parts[2]

        let profile: Substring
        let contentType: String
        if let percent = last.firstIndex(of: "%"), let dot = last[..<percent].lastIndex(of: ".") {
            profile = last[..<dot]
            switch mediaType(fromExtension: last[last.index(after: dot)...]) {
            case .success(let type): contentType = type
            case .failure(let reason): return .rejected(reason: reason.text)
            }
        } else if let dot = last.lastIndex(of: "."), let type = knownTypes[last[last.index(after: dot)...].lowercased()] {
            profile = last[..<dot]
            contentType = type
        } else {
            profile = last
            contentType = "application/octet-stream"
        }
        guard !profile.isEmpty else { return .rejected(reason: "the name is not \(expectedForm): the profile name is empty") }
        let key = ConfigurationKey(application: String(parts[0]), environment: String(parts[1]), profile: String(profile))
        return .configuration(LocalFileName(key: key, contentType: contentType))
    }

    static let knownTypes: [String: String] = [
        "json": "application/json",
        "yaml": "application/x-yaml",
        "yml": "application/x-yaml",
        "txt": "text/plain",
    ]

    struct Refusal: Error { let text: String }

    /// `type%subtype[%parameter…]` → `type/subtype[;parameter…]`.
    static func mediaType(fromExtension text: Substring) -> Result<String, Refusal> {
        let pieces = text.split(separator: "%", omittingEmptySubsequences: false)
        let form = "the extension .\(text) is not .<type>%<subtype>"
        guard pieces.count >= 2, isToken(pieces[0]) else { return .failure(Refusal(text: "\(form): bad or empty type")) }
        guard isToken(pieces[1]) else { return .failure(Refusal(text: "\(form): bad or empty subtype")) }
        for parameter in pieces.dropFirst(2) {
            guard !parameter.isEmpty, parameter.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
                return .failure(Refusal(text: "\(form)[%<parameter>]: bad or empty parameter"))
            }
        }
        return .success(pieces[0] + "/" + pieces.dropFirst().joined(separator: ";"))
    }

    /// An HTTP token (RFC 9110 `tchar`s), non-empty.
    static func isToken(_ text: Substring) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                true
            default:
                "!#$&'*+-.^_`|~".utf8.contains(byte)
            }
        }
    }
}
