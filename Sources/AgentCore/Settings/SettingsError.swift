/// A setting that does not parse: the agent stops at start-up with this one line and a non-zero exit,
/// never a silent default.
///
/// `variable` is the name actually read (a Lambda `AWS_APPCONFIG_EXTENSION_…` name when that was the
/// one set). `value` is the offending text after trimming, except where it may hold a secret: for
/// `ACCESS_TOKEN` it is always `<hidden>`, URLs have their user information replaced by `<hidden>`,
/// and `PROXY_HEADERS` shows only the offending header's name.
public struct SettingsError: Error, Equatable, CustomStringConvertible, Sendable {
    public let variable: String
    public let value: String
    public let expected: String

    /// Placeholder printed instead of a secret.
    public static let hidden = "<hidden>"

    /// Variables whose values are never stored in an error, whatever the problem.
    static let secretVariables: Set<String> = [
        "ACCESS_TOKEN", AgentSettings.lambdaVariablePrefix + "ACCESS_TOKEN",
    ]

    init(variable: String, value: String, expected: String) {
        self.variable = variable
        self.value = Self.secretVariables.contains(variable) ? Self.hidden : value
        self.expected = expected
    }

    /// One line, e.g. `invalid POLL_INTERVAL '10x': expected a duration such as 45, 30s, 5m or 1h`.
    public var description: String {
        "invalid \(variable) '\(Self.printable(value))': expected \(Self.printable(expected))"
    }

    /// Longest part of a value printed; an inline manifest can be kilobytes long.
    static let printedValueLimit = 120

    /// Escapes control characters (a value may contain newlines) and shortens long values, so that
    /// the description always stays one readable line.
    static func printable(_ text: String) -> String {
        var out = ""
        var printed = 0
        for scalar in text.unicodeScalars {
            if printed == printedValueLimit {
                out += "…"
                break
            }
            printed += 1
            switch scalar {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                switch scalar.properties.generalCategory {
                case .control, .lineSeparator, .paragraphSeparator:
                    out += "\\u{\(String(scalar.value, radix: 16))}"
                default:
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }
}
