import Foundation
import Testing
@testable import AgentCore

/// Decodes through the internal decoder, which keeps warnings and notices out of the process-wide log.
private func decoded(_ json: String) throws(ManifestError) -> (manifest: Manifest, warnings: [String], notices: [String]) {
    var decoder = ManifestDecoder()
    let manifest = try decoder.decode(Array(json.utf8))
    return (manifest, decoder.warnings, decoder.notices)
}

/// The error `json` raises, or nil when it decodes.
private func decodeError(_ json: String) -> ManifestError? {
    decodeError(Array(json.utf8))
}

private func decodeError(_ bytes: [UInt8]) -> ManifestError? {
    var decoder = ManifestDecoder()
    do {
        _ = try decoder.decode(bytes)
        return nil
    } catch {
        return error
    }
}

private let key = ConfigurationKey(application: "A", environment: "E", profile: "P")
private let arn = "arn:aws:iam::123456789012:role/Reader"

/// One manifest entry `A:E:P` with `features` as its value.
private func entry(_ features: String) -> String { #"{"A:E:P": \#(features)}"# }

/// A manifest whose `A:E:P` entry has `credentials` with the given members (roleArn added unless present).
private func credentials(_ members: String) -> String {
    let withArn = members.contains("roleArn") ? members : #""roleArn": "\#(arn)""# + (members.isEmpty ? "" : ", " + members)
    return entry(#"{"credentials": {\#(withArn)}}"#)
}

private func writeTo(_ members: String) -> String { entry(#"{"writeTo": {\#(members)}}"#) }

/// A failing document, the field the error must name (nil: none) and a fragment of its line.
struct ManifestErrorCase: Sendable, CustomTestStringConvertible {
    let json: String
    let field: String?
    let fragment: String
    var testDescription: String { json }

    init(_ json: String, field: String?, _ fragment: String) {
        self.json = json
        self.field = field
        self.fragment = fragment
    }
}

@Suite struct ManifestDecodeTests {
    // MARK: Accepted documents

    @Test func entriesKeepDocumentOrderAndEmptyObjectOnlyPrefetches() throws {
        let result = try decoded(#"{"Z:E:P": {}, "A:E:P": {}, "M:E:P": {}}"#)
        #expect(result.manifest.keys.map(\.description) == ["Z:E:P", "A:E:P", "M:E:P"])
        #expect(result.manifest.entries.allSatisfy { $0.credentials == nil && $0.writeTo == nil })
        #expect(result.warnings.isEmpty)
    }

    @Test func emptyManifestHasNoEntries() throws {
        #expect(try decoded(" {} ").manifest.entries.isEmpty)
    }

    @Test func everyCredentialsFieldIsDecoded() throws {
        let json = credentials(#""roleExternalId": "00b148e2", "roleSessionName": "agent@host", "credentialsDuration": "2h""#)
        let result = try decoded(json)
        #expect(result.manifest[key] == ManifestEntry(key: key, credentials: RoleCredentials(
            roleArn: arn, roleExternalId: "00b148e2", roleSessionName: "agent@host", credentialsDuration: .seconds(7200))))
    }

    @Test func escapedStringsAreDecoded() throws {
        let json = entry(#"{"credentials": {"roleArn": "arn:aws:iam::123456789012:role\/team\u002FReader"}, "writeTo": {"path": "\/run\/caf\u00e9.json"}}"#)
        let entry = try #require(try decoded(json).manifest[key])
        #expect(entry.credentials?.roleArn == "arn:aws:iam::123456789012:role/team/Reader")
        #expect(entry.writeTo?.path == "/run/café.json")
    }

    @Test func writeToDefaultsToOwnerOnlyAndAcceptsGroupReadable() throws {
        #expect(try decoded(writeTo(#""path": "/run/a.json""#)).manifest[key]?.writeTo == WriteTarget(path: "/run/a.json", mode: .ownerOnly))
        #expect(try decoded(writeTo(#""path": "/run/a.json", "mode": "0600""#)).manifest[key]?.writeTo?.mode == .ownerOnly)
        #expect(try decoded(writeTo(#""path": "/run/a.json", "mode": "0640""#)).manifest[key]?.writeTo?.mode == .groupReadable)
    }

    @Test func writeToPathRepeatedSlashesAreCollapsed() throws {
        #expect(try decoded(writeTo(#""path": "//run///app//a.json""#)).manifest[key]?.writeTo?.path == "/run/app/a.json")
    }

    @Test func nullMeansNotSetForFeaturesAndOptionalFields() throws {
        let json = entry(#"{"writeTo": null, "credentials": {"roleArn": "\#(arn)", "roleExternalId": null, "roleSessionName": null, "credentialsDuration": null}}"#)
        let entry = try #require(try decoded(json).manifest[key])
        #expect(entry.writeTo == nil)
        #expect(entry.credentials == RoleCredentials(roleArn: arn))
        #expect(try decoded(writeTo(#""path": "/run/a", "mode": null"#)).manifest[key]?.writeTo?.mode == .ownerOnly)
    }

    // MARK: Unknown features

    @Test func unknownFeatureIsIgnoredWithAWarning() throws {
        let result = try decoded(entry(#"{"fooBar": [1, {"x": {"y": null}}], "writeTo": {"path": "/run/a"}}"#))
        #expect(result.warnings == ["manifest entry 'A:E:P': unknown feature 'fooBar' ignored"])
        #expect(result.manifest[key] == ManifestEntry(key: key, writeTo: WriteTarget(path: "/run/a")))
    }

    @Test func featureInWrongCaseIsUnknownWithAHint() throws {
        let result = try decoded(entry(#"{"WriteTo": {"path": "/run/a"}}"#))
        #expect(result.manifest[key]?.writeTo == nil)
        #expect(result.warnings == ["manifest entry 'A:E:P': unknown feature 'WriteTo' ignored (did you mean 'writeTo'? feature names are case-sensitive)"])
    }

    @Test func publicDecodeReturnsWarnings() throws {
        let (manifest, warnings) = try Manifest.decode(Array(entry(#"{"telemetry": true}"#).utf8))
        #expect(manifest.keys == [key])
        #expect(warnings == ["manifest entry 'A:E:P': unknown feature 'telemetry' ignored"])
    }

    // MARK: Credentials duration

    @Test(arguments: [
        (#""2h""#, 7200), (#""30m""#, 1800), (#""3600s""#, 3600), (#""1h30m""#, 5400),
        (#""1h0m30s""#, 3630), (#""3600""#, 3600), ("3600", 3600), (#""15m""#, 900), (#""12h""#, 43200),
    ])
    func credentialsDurationIsParsed(text: String, seconds: Int64) throws {
        let result = try decoded(credentials(#""credentialsDuration": \#(text)"#))
        #expect(result.manifest[key]?.credentials?.credentialsDuration == .seconds(seconds))
        #expect(result.notices.isEmpty)
    }

    @Test func shortDurationIsClampedTo15MinutesWithANotice() throws {
        let result = try decoded(credentials(#""credentialsDuration": "10m""#))
        #expect(result.manifest[key]?.credentials?.credentialsDuration == .seconds(900))
        #expect(result.notices == ["manifest entry 'A:E:P': credentials.credentialsDuration '10m' is below STS's 15-minute minimum; clamped to 15m"])
    }

    @Test func longDurationIsClampedTo12HoursWithANotice() throws {
        let result = try decoded(credentials(#""credentialsDuration": "24h""#))
        #expect(result.manifest[key]?.credentials?.credentialsDuration == .seconds(43200))
        #expect(result.notices == ["manifest entry 'A:E:P': credentials.credentialsDuration '24h' is above STS's 12-hour maximum; clamped to 12h"])
    }

    @Test(arguments: [(#""0""#, 900), ("60", 900), (#""99999999999999999999h""#, 43200), ("99999999999999999999", 43200)])
    func outOfRangeDurationsAreClampedNotRefused(text: String, seconds: Int64) throws {
        let result = try decoded(credentials(#""credentialsDuration": \#(text)"#))
        #expect(result.manifest[key]?.credentials?.credentialsDuration == .seconds(seconds))
        #expect(result.notices.count == 1)
    }

    // MARK: Refused documents

    static let documentErrors: [ManifestErrorCase] = [
        .init(#"{"A:E:P": {},}"#, field: nil, "manifest is not valid JSON: "),
        .init(#"{"A:E:P": {}"#, field: nil, "manifest is not valid JSON: "),
        .init(#"{'A:E:P': {}}"#, field: nil, "manifest is not valid JSON: "),
        .init("", field: nil, "manifest is not valid JSON: "),
        .init(#"[{"A:E:P": {}}]"#, field: nil, "its top-level value is an array"),
        .init(#""A:E:P""#, field: nil, "its top-level value is a string"),
        .init("42", field: nil, "its top-level value is a number"),
        .init("null", field: nil, "its top-level value is null"),
        .init(#"{"A:E": {}}"#, field: nil, "manifest key 'A:E' is not App:Env:Profile"),
        .init(#"{"A:E:P:X": {}}"#, field: nil, "manifest key 'A:E:P:X' is not App:Env:Profile"),
        .init(#"{"A::P": {}}"#, field: nil, "manifest key 'A::P' is not App:Env:Profile"),
        .init(#"{"": {}}"#, field: nil, "manifest key '' is not App:Env:Profile"),
        .init(#"{"A:E:P\n": {}}"#, field: nil, #"manifest key 'A:E:P\u{a}' is not App:Env:Profile"#),
        .init(#"{"A:E:P": {}, "A:E:P": {}}"#, field: nil, "manifest key 'A:E:P' appears more than once"),
        .init(#"{"A:E:P": {}, "A:E:\u0050": {}}"#, field: nil, "manifest key 'A:E:P' appears more than once"),
    ]

    @Test(arguments: documentErrors)
    func documentIsRefused(_ example: ManifestErrorCase) throws {
        let error = try #require(decodeError(example.json))
        #expect(error.key == nil)
        #expect(error.field == example.field)
        #expect(error.description.hasPrefix("manifest "), "\(error)")
        #expect(error.description.contains(example.fragment), "\(error)")
    }

    static let entryErrors: [ManifestErrorCase] = [
        // The entry's value.
        .init(entry("[]"), field: nil, "value must be a JSON object (found an array); use {} to only fetch it"),
        .init(entry(#""writeTo""#), field: nil, "value must be a JSON object (found a string)"),
        .init(entry("null"), field: nil, "value must be a JSON object (found null)"),
        .init(entry("true"), field: nil, "value must be a JSON object (found a boolean)"),
        // Feature values.
        .init(entry(#"{"credentials": "arn:aws:iam::123456789012:role/R"}"#), field: "credentials", "credentials must be a JSON object (found a string)"),
        .init(entry(#"{"writeTo": "/run/a"}"#), field: "writeTo", "writeTo must be a JSON object (found a string)"),
        .init(entry(#"{"writeTo": ["/run/a"]}"#), field: "writeTo", "writeTo must be a JSON object (found an array)"),
        // Wrong types, one per field.
        .init(credentials(#""roleArn": 123456789012"#), field: "credentials.roleArn", "credentials.roleArn must be a string (found a number)"),
        .init(credentials(#""roleExternalId": 42"#), field: "credentials.roleExternalId", "credentials.roleExternalId must be a string (found a number)"),
        .init(credentials(#""roleSessionName": true"#), field: "credentials.roleSessionName", "credentials.roleSessionName must be a string (found a boolean)"),
        .init(credentials(#""credentialsDuration": ["2h"]"#), field: "credentials.credentialsDuration", "credentials.credentialsDuration must be a string or a number of seconds (found an array)"),
        .init(credentials(#""credentialsDuration": false"#), field: "credentials.credentialsDuration", "(found a boolean)"),
        .init(writeTo(#""path": 7"#), field: "writeTo.path", "writeTo.path must be a string (found a number)"),
        .init(writeTo(#""path": {"dir": "/run"}"#), field: "writeTo.path", "writeTo.path must be a string (found an object)"),
        .init(writeTo(#""path": "/run/a", "mode": ["0600"]"#), field: "writeTo.mode", "writeTo.mode must be a string, \"0600\" or \"0640\" (found an array)"),
        // Required fields.
        .init(entry(#"{"credentials": {}}"#), field: "credentials.roleArn", "credentials.roleArn is required"),
        .init(entry(#"{"credentials": {"roleArn": null}}"#), field: "credentials.roleArn", "credentials.roleArn is required"),
        .init(entry(#"{"writeTo": {"mode": "0600"}}"#), field: "writeTo.path", "writeTo.path is required"),
        // Role ARN.
        .init(credentials(#""roleArn": "arn:aws:iam::12345:role/R""#), field: "credentials.roleArn", "credentials.roleArn must be an IAM role ARN"),
        .init(credentials(#""roleArn": "arn:aws:iam::123456789012:user/bob""#), field: "credentials.roleArn", "must be an IAM role ARN such as arn:aws:iam::123456789012:role/Reader (found 'arn:aws:iam::123456789012:user/bob')"),
        .init(credentials(#""roleArn": "arn:aws:s3:::123456789012:role/R""#), field: "credentials.roleArn", "must be an IAM role ARN"),
        .init(credentials(#""roleArn": "Reader""#), field: "credentials.roleArn", "must be an IAM role ARN"),
        .init(credentials(#""roleArn": "arn:aws:iam::123456789012:role/""#), field: "credentials.roleArn", "must be an IAM role ARN"),
        // External ID and session name.
        .init(credentials(#""roleExternalId": "x""#), field: "credentials.roleExternalId", "credentials.roleExternalId must be 2 to 1224 characters of letters, digits and _+=,.@:/- (found 1 character)"),
        .init(credentials(#""roleExternalId": "has space""#), field: "credentials.roleExternalId", "(found 9 characters)"),
        .init(credentials(#""roleExternalId": "\#(String(repeating: "e", count: 1225))""#), field: "credentials.roleExternalId", "(found 1225 characters)"),
        .init(credentials(#""roleSessionName": "a""#), field: "credentials.roleSessionName", "credentials.roleSessionName must be 2 to 64 characters of letters, digits and _+=,.@- (found 'a')"),
        .init(credentials(#""roleSessionName": "agent session""#), field: "credentials.roleSessionName", "must be 2 to 64 characters"),
        .init(credentials(#""roleSessionName": "team/agent""#), field: "credentials.roleSessionName", "must be 2 to 64 characters"),
        .init(credentials(#""roleSessionName": "\#(String(repeating: "s", count: 65))""#), field: "credentials.roleSessionName", "must be 2 to 64 characters"),
        // Duration text.
        .init(credentials(#""credentialsDuration": "2 hours""#), field: "credentials.credentialsDuration", "credentials.credentialsDuration must be a duration such as \"2h\", \"30m\", \"1h30m\" or \"3600s\", or whole seconds such as 3600 (found '2 hours')"),
        .init(credentials(#""credentialsDuration": "1.5h""#), field: "credentials.credentialsDuration", "(found '1.5h')"),
        .init(credentials(#""credentialsDuration": "-1h""#), field: "credentials.credentialsDuration", "(found '-1h')"),
        .init(credentials(#""credentialsDuration": "30m1h""#), field: "credentials.credentialsDuration", "(found '30m1h')"),
        .init(credentials(#""credentialsDuration": "1d""#), field: "credentials.credentialsDuration", "(found '1d')"),
        .init(credentials(#""credentialsDuration": """#), field: "credentials.credentialsDuration", "(found '')"),
        .init(credentials(#""credentialsDuration": 1.5"#), field: "credentials.credentialsDuration", "(found the number 1.5)"),
        .init(credentials(#""credentialsDuration": -900"#), field: "credentials.credentialsDuration", "(found the number -900)"),
        // Mode.
        .init(writeTo(#""path": "/run/a", "mode": "0644""#), field: "writeTo.mode", "writeTo.mode '0644' is not allowed; use \"0600\" (the default, owner only) or \"0640\" (the file's group may read it)"),
        .init(writeTo(#""path": "/run/a", "mode": "600""#), field: "writeTo.mode", "writeTo.mode '600' is not allowed"),
        .init(writeTo(#""path": "/run/a", "mode": "0o640""#), field: "writeTo.mode", "writeTo.mode '0o640' is not allowed"),
        .init(writeTo(#""path": "/run/a", "mode": "0600 ""#), field: "writeTo.mode", "writeTo.mode '0600 ' is not allowed"),
        .init(writeTo(#""path": "/run/a", "mode": 600"#), field: "writeTo.mode", "writeTo.mode must be a string, \"0600\" or \"0640\" (found a number;"),
        .init(writeTo(#""path": "/run/a", "mode": 416"#), field: "writeTo.mode", "writeTo.mode must be a string"),
        // Path.
        .init(writeTo(#""path": "run/a.json""#), field: "writeTo.path", "writeTo.path 'run/a.json' is refused: the path must be absolute"),
        .init(writeTo(#""path": """#), field: "writeTo.path", "writeTo.path '' is refused: the path must be absolute"),
        .init(writeTo(#""path": "/run/../etc/passwd""#), field: "writeTo.path", "writeTo.path '/run/../etc/passwd' is refused: the path must not contain '.' or '..' components"),
        .init(writeTo(#""path": "/run/./a""#), field: "writeTo.path", "must not contain '.' or '..' components"),
        .init(writeTo(#""path": "/run/app/""#), field: "writeTo.path", "the path ends with '/'; it must name a file"),
        .init(writeTo(#""path": "/""#), field: "writeTo.path", "the path names the root directory, not a file"),
        .init(writeTo(#""path": "/run/a\u0000b""#), field: "writeTo.path", #"writeTo.path '/run/a\u{0}b' is refused: the path contains a NUL byte"#),
        .init(writeTo(#""path": "/\#(String(repeating: "p", count: 4095))""#), field: "writeTo.path", "writeTo.path is 4096 bytes long; at most 4095 are allowed"),
        // Unknown and repeated fields.
        .init(credentials(#""roleARN": "\#(arn)""#), field: "credentials.roleARN", "credentials.roleARN is not a known field; credentials takes roleArn, roleExternalId, roleSessionName, credentialsDuration (names are case-sensitive)"),
        .init(credentials(#""durationSeconds": 3600"#), field: "credentials.durationSeconds", "credentials.durationSeconds is not a known field"),
        .init(writeTo(#""path": "/run/a", "Mode": "0640""#), field: "writeTo.Mode", "writeTo.Mode is not a known field; writeTo takes path, mode"),
        .init(writeTo(#""path": "/run/a", "owner": "app""#), field: "writeTo.owner", "writeTo.owner is not a known field"),
        .init(credentials(#""roleArn": "\#(arn)", "roleArn": "\#(arn)""#), field: "credentials.roleArn", "credentials.roleArn appears more than once"),
        .init(writeTo(#""path": "/run/a", "mode": "0600", "mode": "0640""#), field: "writeTo.mode", "writeTo.mode appears more than once"),
        .init(entry(#"{"writeTo": {"path": "/run/a"}, "writeTo": {"path": "/run/b"}}"#), field: "writeTo", "writeTo appears more than once"),
        .init(entry(#"{"fooBar": 1, "fooBar": 2}"#), field: "fooBar", "fooBar appears more than once"),
    ]

    @Test(arguments: entryErrors)
    func entryIsRefusedNamingKeyAndField(_ example: ManifestErrorCase) throws {
        let error = try #require(decodeError(example.json))
        #expect(error.key == key)
        #expect(error.field == example.field)
        #expect(error.description.hasPrefix("manifest entry 'A:E:P': "), "\(error)")
        #expect(error.description.contains(example.fragment), "\(error)")
    }

    @Test func wrongTypeMessageIsOneLineNamingKeyAndField() {
        #expect(decodeError(writeTo(#""path": 7"#))?.description == "manifest entry 'A:E:P': writeTo.path must be a string (found a number)")
    }

    @Test func everyErrorIsOneLine() {
        for example in Self.documentErrors + Self.entryErrors {
            let line = decodeError(example.json)?.description ?? "accepted\n"
            #expect(!line.contains("\n") && !line.contains("\r"), "\(example.json)")
        }
    }

    @Test func externalIdIsNeverEchoed() {
        let secretish = "not allowed ! external id"
        let error = decodeError(credentials(#""roleExternalId": "\#(secretish)""#))
        #expect(error?.field == "credentials.roleExternalId")
        #expect(error?.description.contains("not allowed !") == false)
    }

    @Test func longValuesAreShortenedInMessages() throws {
        let long = "arn:aws:iam::123456789012:user/" + String(repeating: "x", count: 500)
        let error = try #require(decodeError(credentials(#""roleArn": "\#(long)""#)))
        #expect(error.description.contains("…"))
        #expect(error.description.count < 300)
    }

    @Test func sameWriteToPathInTwoEntriesIsRefusedNamingBoth() throws {
        let json = #"{"A:E:P": {"writeTo": {"path": "/run/x.json"}}, "B:E:P": {}, "C:E:P": {"writeTo": {"path": "/run//x.json", "mode": "0640"}}}"#
        let error = try #require(decodeError(json))
        #expect(error == .duplicateWriteToPath(path: "/run/x.json", first: key, second: ConfigurationKey(application: "C", environment: "E", profile: "P")))
        #expect(error.description == "manifest entries 'A:E:P' and 'C:E:P' both have writeTo.path /run/x.json; give each entry its own file")
        #expect(error.field == "writeTo.path")
    }

    @Test func differentWriteToPathsAreAccepted() throws {
        let json = #"{"A:E:P": {"writeTo": {"path": "/run/x.json"}}, "B:E:P": {"writeTo": {"path": "/run/y.json"}}}"#
        #expect(try decoded(json).manifest.entries.compactMap(\.writeTo?.path) == ["/run/x.json", "/run/y.json"])
    }

    @Test func firstProblemInDocumentOrderIsReported() {
        let json = #"{"A:E:P": {"writeTo": {"path": "relative"}}, "bad key": {}}"#
        #expect(decodeError(json)?.field == "writeTo.path")
    }

    // MARK: Bounds

    @Test func documentOverOneMebibyteIsRefused() {
        var bytes = Array(#"{"A:E:P": {}}"#.utf8)
        bytes.append(contentsOf: repeatElement(UInt8(ascii: " "), count: Manifest.maximumSize + 1 - bytes.count))
        #expect(decodeError(bytes) == .tooLarge(size: Manifest.maximumSize + 1, limit: Manifest.maximumSize))
        bytes.removeLast()
        #expect(decodeError(bytes) == nil)
    }

    @Test func moreThanAThousandEntriesAreRefused() throws {
        func manifest(_ count: Int) -> String {
            "{" + (0..<count).map { #""A:E:P\#($0)": {}"# }.joined(separator: ",") + "}"
        }
        #expect(decodeError(manifest(1001)) == .tooManyEntries(count: 1001, limit: 1000))
        #expect(try decoded(manifest(1000)).manifest.entries.count == 1000)
    }

    // MARK: The example file

    @Test func exampleManifestCoversEveryFeatureAndDecodesWithoutWarnings() throws {
        // #filePath is …/Tests/AgentCoreTests/ManifestDecodeTests.swift; the example sits at the top.
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let bytes = try Array(Data(contentsOf: root.appendingPathComponent("manifest.example.json")))
        let result = try decoded(String(decoding: bytes, as: UTF8.self))
        #expect(result.warnings.isEmpty)
        #expect(result.notices.isEmpty)
        let entries = result.manifest.entries
        #expect(entries.contains { $0.credentials == nil && $0.writeTo == nil })
        #expect(entries.contains { $0.writeTo == nil && $0.credentials.map { c in
            c.roleExternalId != nil && c.roleSessionName != nil && c.credentialsDuration != nil } == true })
        #expect(entries.contains { $0.credentials == nil && $0.writeTo?.mode == .groupReadable })
        #expect(entries.contains { $0.credentials != nil && $0.writeTo != nil })
    }
}
