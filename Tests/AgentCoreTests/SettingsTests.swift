import Foundation
import Testing
@testable import AgentCore

/// Parses `environment` and returns the error, recording an issue when it was accepted.
private func rejection(
    _ environment: [String: String],
    sourceLocation: SourceLocation = #_sourceLocation
) -> SettingsError? {
    do throws(SettingsError) {
        let settings = try AgentSettings.parse(environment: environment)
        Issue.record("accepted \(environment) as \(settings)", sourceLocation: sourceLocation)
        return nil
    } catch {
        return error
    }
}

/// Expects `environment` to be refused for `variable`, with `value` reported, in a one-line
/// description naming both.
private func expectRejected(
    _ environment: [String: String],
    variable: String,
    value: String,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    guard let error = rejection(environment, sourceLocation: sourceLocation) else { return }
    #expect(error.variable == variable, sourceLocation: sourceLocation)
    #expect(error.value == value, sourceLocation: sourceLocation)
    expectOneLine(error, sourceLocation: sourceLocation)
}

/// The description is one line, in the documented shape, naming the variable and the value.
private func expectOneLine(_ error: SettingsError, sourceLocation: SourceLocation = #_sourceLocation) {
    let text = error.description
    #expect(!text.contains("\n") && !text.contains("\r"), "not one line: \(text)", sourceLocation: sourceLocation)
    #expect(text.hasPrefix("invalid \(error.variable) '"), "\(text)", sourceLocation: sourceLocation)
    #expect(text.contains("'\(SettingsError.printable(error.value))': expected "), "\(text)", sourceLocation: sourceLocation)
    #expect(!error.expected.isEmpty, sourceLocation: sourceLocation)
}

private func parsed(_ environment: [String: String]) throws -> AgentSettings {
    try AgentSettings.parse(environment: environment)
}

private func key(_ text: String) throws -> ConfigurationKey {
    try #require(ConfigurationKey(parsing: text))
}

@Suite struct SettingsTests {
    // MARK: Defaults

    @Test func emptyEnvironmentGivesDocumentedDefaults() throws {
        let settings = try parsed([:])
        #expect(settings == AgentSettings.defaults)
        #expect(settings.httpHost == .localhost)
        #expect(settings.httpPort == 2772)
        #expect(settings.accessToken == nil)
        #expect(settings.pollInterval == .seconds(45))
        #expect(settings.requestTimeout == .milliseconds(3000))
        #expect(settings.maxConnections == 3)
        #expect(settings.prefetchList.isEmpty)
        #expect(settings.manifest == nil)
        #expect(settings.waitOnManifest == true)
        #expect(settings.backupDirectory == nil)
        #expect(settings.preloadBackups == true)
        #expect(settings.localDevelopmentDirectory == nil)
        #expect(settings.serviceRegion == nil)
        #expect(settings.roleArn == nil)
        #expect(settings.roleExternalId == nil)
        #expect(settings.roleSessionName == nil)
        #expect(settings.proxyURL == nil)
        #expect(settings.proxyHeaders.isEmpty)
        #expect(settings.logLevel == .info)
        #expect(settings.logPath == nil)
        #expect(settings.endpointURL == nil)
        #expect(settings.endpointURLAppConfigData == nil)
        #expect(settings.endpointURLSTS == nil)
        #expect(settings.useFIPSEndpoint == false)
        #expect(settings.useDualStackEndpoint == false)
        #expect(settings.caBundle == nil)
    }

    static let everyVariableButAccessToken = [
        "HTTP_HOST", "HTTP_PORT", "POLL_INTERVAL", "REQUEST_TIMEOUT", "MAX_CONNECTIONS", "PREFETCH_LIST",
        "MANIFEST", "WAIT_ON_MANIFEST", "BACKUP_DIRECTORY", "PRELOAD_BACKUPS", "PRELOAD_BACKUP",
        "LOCAL_DEVELOPMENT_DIRECTORY", "SERVICE_REGION", "ROLE_ARN", "ROLE_EXTERNAL_ID", "ROLE_SESSION_NAME",
        "PROXY_URL", "PROXY_HEADERS", "LOG_LEVEL", "LOG_PATH",
        "AWS_APPCONFIG_EXTENSION_POLL_INTERVAL_SECONDS", "AWS_APPCONFIG_EXTENSION_POLL_TIMEOUT_MILLIS",
        "AWS_APPCONFIG_EXTENSION_HTTP_PORT", "AWS_REGION", "AWS_DEFAULT_REGION",
        "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_APPCONFIGDATA", "AWS_ENDPOINT_URL_STS",
        "AWS_USE_FIPS_ENDPOINT", "AWS_USE_DUALSTACK_ENDPOINT", "AWS_CA_BUNDLE",
    ]

    @Test(arguments: ["", "   ", "\t\n"])
    func blankVariablesCountAsUnset(blank: String) throws {
        var environment: [String: String] = [:]
        for name in Self.everyVariableButAccessToken { environment[name] = blank }
        #expect(try parsed(environment) == AgentSettings.defaults)
    }

    @Test func unrelatedVariablesAreIgnored() throws {
        #expect(try parsed(["PATH": "/usr/bin", "HOME": "/root", "HTTP_PORTS": "x"]) == AgentSettings.defaults)
    }

    // MARK: HTTP_HOST

    @Test(arguments: [
        ("localhost", AgentSettings.HTTPHost.localhost),
        ("LocalHost", .localhost),
        ("all", .all),
        ("ALL", .all),
        ("0.0.0.0", .address("0.0.0.0")),
        ("192.168.10.254", .address("192.168.10.254")),
        (" 127.0.0.1 ", .address("127.0.0.1")),
        ("::1", .address("::1")),
        ("[::1]", .address("::1")),
        ("::", .address("::")),
        ("[2001:db8::8a2e:370:7334]", .address("2001:db8::8a2e:370:7334")),
        ("1:2:3:4:5:6:7:8", .address("1:2:3:4:5:6:7:8")),
        ("1::", .address("1::")),
        ("::ffff:10.0.0.1", .address("::ffff:10.0.0.1")),
        ("fe80::1%eth0", .address("fe80::1%eth0")),
        ("agent.internal", .address("agent.internal")),
        ("appconfig_agent", .address("appconfig_agent")),
        ("host-1.example.com.", .address("host-1.example.com.")),
    ])
    func httpHostAcceptsKeywordsAddressesAndNames(text: String, host: AgentSettings.HTTPHost) throws {
        #expect(try parsed(["HTTP_HOST": text]).httpHost == host)
    }

    @Test(arguments: [
        "256.1.1.1", "1.2.3", "01.2.3.4", "10.0.0.256", "1.2.3.4:2772", "[1.2.3.4]", "[::1", "::1]", "[]",
        "1:::2", "1::2::3", "1:2:3:4:5:6:7:8:9", "1:2:3:4::5:6:7:8", "1:2:3:4:5:6:7", "12345::", "g::1", "::1.2.3.4:5",
        "-bad.example", "bad-.example", "bad..example", "host name", "http://host", "*",
        String(repeating: "a", count: 64) + ".example",
    ])
    func httpHostRejectsMalformedAddressesAndNames(text: String) {
        expectRejected(["HTTP_HOST": text], variable: "HTTP_HOST", value: text)
    }

    // MARK: HTTP_PORT

    @Test(arguments: [("2773", UInt16(2773)), ("0", 0), ("65535", 65535), ("1", 1), (" 8080 ", 8080), ("08080", 8080)])
    func httpPortAcceptsZeroToMax(text: String, port: UInt16) throws {
        #expect(try parsed(["HTTP_PORT": text]).httpPort == port)
    }

    @Test(arguments: ["65536", "-1", "+80", "80.0", "eighty", "0x50", "1_000", "1e3", "80 80", "99999999999999999999999"])
    func httpPortRejectsSignsJunkAndOverflow(text: String) {
        expectRejected(["HTTP_PORT": text], variable: "HTTP_PORT", value: text)
    }

    // MARK: ACCESS_TOKEN

    @Test func accessTokenIsStoredTrimmed() throws {
        #expect(try parsed(["ACCESS_TOKEN": " s3cr3t-Token/+= "]).accessToken == "s3cr3t-Token/+=")
        #expect(try parsed(["AWS_APPCONFIG_EXTENSION_ACCESS_TOKEN": "lambda-token"]).accessToken == "lambda-token")
    }

    @Test(arguments: ["ACCESS_TOKEN", "AWS_APPCONFIG_EXTENSION_ACCESS_TOKEN"], ["", "   "])
    func blankAccessTokenIsAnError(variable: String, blank: String) {
        expectRejected([variable: blank], variable: variable, value: SettingsError.hidden)
    }

    @Test(arguments: ["ACCESS_TOKEN", "AWS_APPCONFIG_EXTENSION_ACCESS_TOKEN"])
    func accessTokenNeverAppearsInTheError(variable: String) throws {
        let token = "Sup3rSecretTokenValue\u{7}tail"
        let error = try #require(rejection([variable: token]))
        #expect(error.variable == variable)
        #expect(error.value == SettingsError.hidden)
        #expect(!error.description.contains("Sup3rSecret"))
        #expect(!error.description.contains("tail"))
        #expect(error.description.contains("'<hidden>'"))
        expectOneLine(error)
    }

    @Test func blankPlainAccessTokenIsAnErrorEvenWithALambdaToken() {
        expectRejected(["ACCESS_TOKEN": "", "AWS_APPCONFIG_EXTENSION_ACCESS_TOKEN": "x-token"],
                       variable: "ACCESS_TOKEN", value: SettingsError.hidden)
    }

    // MARK: POLL_INTERVAL

    @Test(arguments: [
        ("45", Duration.seconds(45)), ("1", .seconds(1)), ("30s", .seconds(30)), ("5m", .seconds(300)),
        ("1h", .seconds(3600)), ("1m30s", .seconds(90)), ("1h30m", .seconds(5400)), ("1h2m3s", .seconds(3723)),
        ("30S", .seconds(30)), ("86400", .seconds(86400)), ("24h", .seconds(86400)), ("0005s", .seconds(5)),
    ])
    func pollIntervalAcceptsSecondsAndSuffixesWithoutClamping(text: String, duration: Duration) throws {
        #expect(try parsed(["POLL_INTERVAL": text]).pollInterval == duration)
    }

    @Test(arguments: [
        "10x", "0", "0s", "0m0s", "-5", "+5", "1.5", "1.5s", "500ms", "30s1m", "1m1m", "5 m", "s", "m5", "1d",
        "86401", "24h1s", "25h", "99999999999999999999", "9999999999999999h",
    ])
    func pollIntervalRejectsZeroNegativeJunkAndAbsurdValues(text: String) {
        expectRejected(["POLL_INTERVAL": text], variable: "POLL_INTERVAL", value: text)
    }

    @Test func pollIntervalErrorReadsAsDocumented() throws {
        let error = try #require(rejection(["POLL_INTERVAL": "10x"]))
        #expect(error.description.hasPrefix("invalid POLL_INTERVAL '10x': expected a duration"))
        #expect(error.description.contains("30s"))
        let tooLong = try #require(rejection(["POLL_INTERVAL": "48h"]))
        #expect(tooLong.description.contains("at most 24h"))
    }

    // MARK: REQUEST_TIMEOUT

    @Test(arguments: [
        ("3000", Duration.milliseconds(3000)), ("1", .milliseconds(1)), ("500ms", .milliseconds(500)),
        ("5s", .seconds(5)), ("1s500ms", .milliseconds(1500)), ("600s", .seconds(600)), ("600000", .seconds(600)),
        ("250MS", .milliseconds(250)),
    ])
    func requestTimeoutAcceptsMillisecondsAndSuffixes(text: String, duration: Duration) throws {
        #expect(try parsed(["REQUEST_TIMEOUT": text]).requestTimeout == duration)
    }

    @Test(arguments: [
        "0", "0ms", "0s0ms", "-1", "+100", "1.5s", "5m", "1h", "500ms1s", "600001", "601s", "abc", "3000 ms",
        "99999999999999999999", "9999999999999999999s",
    ])
    func requestTimeoutRejectsZeroNegativeJunkAndAbsurdValues(text: String) {
        expectRejected(["REQUEST_TIMEOUT": text], variable: "REQUEST_TIMEOUT", value: text)
    }

    // MARK: MAX_CONNECTIONS

    @Test(arguments: [("1", 1), ("3", 3), ("64", 64), ("010", 10)])
    func maxConnectionsAcceptsOneToSixtyFour(text: String, count: Int) throws {
        #expect(try parsed(["MAX_CONNECTIONS": text]).maxConnections == count)
    }

    @Test(arguments: ["0", "65", "-1", "+3", "3.0", "many", "3000", "99999999999999999999"])
    func maxConnectionsRejectsOutOfRangeAndJunk(text: String) {
        expectRejected(["MAX_CONNECTIONS": text], variable: "MAX_CONNECTIONS", value: text)
    }

    // MARK: PREFETCH_LIST

    @Test func prefetchListIsTrimmedDeduplicatedAndOrdered() throws {
        let settings = try parsed(["PREFETCH_LIST": " B:Prod:Flags , A:Beta:Main,B:Prod:Flags, ,A:Beta:Other,"])
        #expect(try settings.prefetchList == [key("B:Prod:Flags"), key("A:Beta:Main"), key("A:Beta:Other")])
        #expect(try parsed(["PREFETCH_LIST": "App:Env:Profile"]).prefetchList == [key("App:Env:Profile")])
    }

    @Test(arguments: ["bogus", "A:E", "A:E:P:X", "A::P", ":E:P"])
    func prefetchListNamesTheBadItem(item: String) {
        expectRejected(["PREFETCH_LIST": "Good:Env:Profile, \(item) ,Other:Env:Profile"], variable: "PREFETCH_LIST", value: item)
    }

    // MARK: MANIFEST

    @Test(arguments: [
        ("file:/etc/appconfig-agent/manifest.json", AgentSettings.ManifestSource.file(path: "/etc/appconfig-agent/manifest.json")),
        ("file:///etc/m.json", .file(path: "/etc/m.json")),
        (#"{"MyApp:Prod:Flags": {}}"#, .inline(json: #"{"MyApp:Prod:Flags": {}}"#)),
        (" {} ", .inline(json: "{}")),
        ("{\n  \"A:E:P\": {\"writeTo\": {\"path\": \"/x\"}}\n}", .inline(json: "{\n  \"A:E:P\": {\"writeTo\": {\"path\": \"/x\"}}\n}")),
        ("Agent:Prod:Manifest", .configuration(ConfigurationKey(application: "Agent", environment: "Prod", profile: "Manifest"))),
    ])
    func manifestAcceptsFileInlineJSONAndConfiguration(text: String, source: AgentSettings.ManifestSource) throws {
        #expect(try parsed(["MANIFEST": text]).manifest == source)
    }

    @Test(arguments: [
        "file:relative.json", "file:", "file://host/m.json", "{not json", #"{"a": 1} trailing"#, "{\"a\":", "[1, 2]",
        "just-a-name", "A:E", "/etc/manifest.json",
    ])
    func manifestRejectsAnythingElse(text: String) {
        expectRejected(["MANIFEST": text], variable: "MANIFEST", value: text)
    }

    @Test func malformedMultiLineManifestStillGivesOneLine() throws {
        let error = try #require(rejection(["MANIFEST": "{\n  \"A:E:P\": {,}\n}"]))
        #expect(error.variable == "MANIFEST")
        expectOneLine(error)
        #expect(error.description.contains(#"{\n  "A:E:P""#))
    }

    @Test func longValuesAreShortenedInTheDescription() throws {
        let long = "{" + String(repeating: "x", count: 5000)
        let error = try #require(rejection(["MANIFEST": long]))
        #expect(error.value == long)
        #expect(error.description.count < 400)
        #expect(error.description.contains("…"))
    }

    // MARK: Booleans

    static let booleanForms: [(String, Bool)] = [
        ("true", true), ("TRUE", true), ("True", true), ("1", true), ("yes", true), ("Yes", true), ("on", true), ("ON", true),
        ("false", false), ("FALSE", false), ("0", false), ("no", false), ("NO", false), ("off", false), ("Off", false),
        (" true ", true),
    ]
    static let booleanVariables = ["WAIT_ON_MANIFEST", "PRELOAD_BACKUPS", "PRELOAD_BACKUP", "AWS_USE_FIPS_ENDPOINT", "AWS_USE_DUALSTACK_ENDPOINT"]

    private static func boolean(_ settings: AgentSettings, _ variable: String) -> Bool? {
        switch variable {
        case "WAIT_ON_MANIFEST": settings.waitOnManifest
        case "PRELOAD_BACKUPS", "PRELOAD_BACKUP": settings.preloadBackups
        case "AWS_USE_FIPS_ENDPOINT": settings.useFIPSEndpoint
        case "AWS_USE_DUALSTACK_ENDPOINT": settings.useDualStackEndpoint
        default: nil
        }
    }

    @Test(arguments: booleanVariables)
    func booleansAcceptTrueFalseOneZeroYesNoOnOffInAnyCase(variable: String) throws {
        for (text, value) in Self.booleanForms {
            let settings = try parsed([variable: text])
            #expect(Self.boolean(settings, variable) == value, "\(variable)=\(text)")
        }
    }

    @Test(arguments: booleanVariables, ["maybe", "2", "t", "y", "truee", "enabled", "-1"])
    func booleansRejectAnythingElse(variable: String, text: String) {
        expectRejected([variable: text], variable: variable, value: text)
    }

    // MARK: BACKUP_DIRECTORY, LOCAL_DEVELOPMENT_DIRECTORY, LOG_PATH, AWS_CA_BUNDLE

    @Test func backupDirectoryMustBeAbsolute() throws {
        #expect(try parsed(["BACKUP_DIRECTORY": " /var/lib/appconfig-agent/backups "]).backupDirectory == "/var/lib/appconfig-agent/backups")
        expectRejected(["BACKUP_DIRECTORY": "backups"], variable: "BACKUP_DIRECTORY", value: "backups")
        expectRejected(["BACKUP_DIRECTORY": "./backups"], variable: "BACKUP_DIRECTORY", value: "./backups")
        expectRejected(["BACKUP_DIRECTORY": "~/backups"], variable: "BACKUP_DIRECTORY", value: "~/backups")
    }

    @Test func pathSettingsAreStoredTrimmed() throws {
        let directory = try CredentialsTempDirectory()
        let bundle = try directory.write("corp-ca.pem", "-----BEGIN CERTIFICATE-----\n")
        let settings = try parsed([
            "LOCAL_DEVELOPMENT_DIRECTORY": " ./configs ",
            "LOG_PATH": "/var/log/appconfig-agent.log",
            "AWS_CA_BUNDLE": " \(bundle) ",
        ])
        #expect(settings.localDevelopmentDirectory == "./configs")
        #expect(settings.logPath == "/var/log/appconfig-agent.log")
        #expect(settings.caBundle == bundle)
    }

    @Test func caBundleThatCannotBeReadStopsStartUp() throws {
        let directory = try CredentialsTempDirectory()
        for path in [directory.path + "/missing.pem", directory.path] {
            expectRejected(["AWS_CA_BUNDLE": path], variable: "AWS_CA_BUNDLE", value: path)
        }
        let missing = rejection(["AWS_CA_BUNDLE": directory.path + "/missing.pem"])
        #expect(missing?.description.contains("No such file or directory") == true)
        let notAFile = rejection(["AWS_CA_BUNDLE": directory.path])
        #expect(notAFile?.expected.contains("not a regular file") == true)
    }

    // MARK: PRELOAD_BACKUPS / PRELOAD_BACKUP

    @Test func preloadBackupsReadsBothSpellings() throws {
        #expect(try parsed(["PRELOAD_BACKUPS": "false"]).preloadBackups == false)
        #expect(try parsed(["PRELOAD_BACKUP": "false"]).preloadBackups == false)
        #expect(try parsed(["PRELOAD_BACKUPS": "no", "PRELOAD_BACKUP": "0"]).preloadBackups == false)
        #expect(try parsed(["PRELOAD_BACKUPS": "true", "PRELOAD_BACKUP": "yes"]).preloadBackups == true)
        #expect(try parsed(["AWS_APPCONFIG_EXTENSION_PRELOAD_BACKUP": "off"]).preloadBackups == false)
        #expect(try parsed(["AWS_APPCONFIG_EXTENSION_PRELOAD_BACKUPS": "off"]).preloadBackups == false)
    }

    @Test func preloadBackupsSpellingsThatDisagreeAreAnErrorNamingBoth() throws {
        let error = try #require(rejection(["PRELOAD_BACKUPS": "true", "PRELOAD_BACKUP": "false"]))
        #expect(error.variable == "PRELOAD_BACKUPS")
        #expect(error.value == "true")
        #expect(error.description.contains("PRELOAD_BACKUPS"))
        #expect(error.description.contains("PRELOAD_BACKUP ('false')"))
        expectOneLine(error)

        let lambda = try #require(rejection([
            "AWS_APPCONFIG_EXTENSION_PRELOAD_BACKUPS": "1", "AWS_APPCONFIG_EXTENSION_PRELOAD_BACKUP": "0",
        ]))
        #expect(lambda.variable == "AWS_APPCONFIG_EXTENSION_PRELOAD_BACKUPS")
        #expect(lambda.description.contains("AWS_APPCONFIG_EXTENSION_PRELOAD_BACKUP ('0')"))
    }

    @Test func preloadBackupsReportsTheMalformedSpelling() {
        expectRejected(["PRELOAD_BACKUPS": "true", "PRELOAD_BACKUP": "sometimes"], variable: "PRELOAD_BACKUP", value: "sometimes")
    }

    @Test func plainPreloadSpellingsWinOverLambdaOnes() throws {
        #expect(try parsed(["PRELOAD_BACKUP": "true", "AWS_APPCONFIG_EXTENSION_PRELOAD_BACKUPS": "false"]).preloadBackups == true)
    }

    // MARK: Region

    @Test(arguments: ["us-east-1", "us-gov-west-1", "cn-north-1", "eu-isoe-west-1", "us-isob-east-1", "ap-southeast-5", "eusc-de-east-1"])
    func regionAcceptsAWSRegionShapes(region: String) throws {
        #expect(try parsed(["AWS_REGION": region]).serviceRegion == region)
    }

    @Test func regionComesFromTheFirstSetOfServiceRegionAWSRegionAWSDefaultRegion() throws {
        let all = ["SERVICE_REGION": "eu-west-1", "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-west-2"]
        #expect(try parsed(all).serviceRegion == "eu-west-1")
        #expect(try parsed(all.merging(["SERVICE_REGION": ""]) { $1 }).serviceRegion == "us-east-1")
        #expect(try parsed(["AWS_DEFAULT_REGION": "us-west-2"]).serviceRegion == "us-west-2")
        #expect(try parsed(["AWS_APPCONFIG_EXTENSION_SERVICE_REGION": "eu-central-1", "AWS_REGION": "us-east-1"]).serviceRegion == "eu-central-1")
        #expect(try parsed(["SERVICE_REGION": "eu-west-1", "AWS_APPCONFIG_EXTENSION_SERVICE_REGION": "eu-central-1"]).serviceRegion == "eu-west-1")
    }

    @Test(arguments: ["US-EAST-1", "us-east", "useast1", "us_east_1", "us--east-1", "-us-east-1", "1us-east-1", "us-east-1a", "us east 1"])
    func regionRejectsMalformedShapes(region: String) {
        expectRejected(["AWS_DEFAULT_REGION": region], variable: "AWS_DEFAULT_REGION", value: region)
        expectRejected(["SERVICE_REGION": region, "AWS_REGION": "us-east-1"], variable: "SERVICE_REGION", value: region)
    }

    // MARK: ROLE_ARN, ROLE_EXTERNAL_ID, ROLE_SESSION_NAME

    @Test(arguments: [
        "arn:aws:iam::123456789012:role/Reader", "arn:aws-cn:iam::123456789012:role/path/to/Reader",
        "arn:aws-us-gov:iam::123456789012:role/service-role/App_Reader+1=2,3.4@5",
    ])
    func roleArnAcceptsIAMRoleARNs(arn: String) throws {
        #expect(try parsed(["ROLE_ARN": arn]).roleArn == arn)
    }

    @Test(arguments: [
        "Reader", "arn:aws:iam::12345:role/Reader", "arn:aws:s3:::bucket-name-long", "arn:aws:iam::123456789012:user/Bob",
        "arn:aws:iam::123456789012:role/", "arn:aws:iam:us-east-1:123456789012:role/Reader", "arn::iam::123456789012:role/Reader",
        "arn:aws:iam::123456789012:role/Has Space", "arn:aws:iam::12345678901a:role/Reader",
    ])
    func roleArnRejectsOtherText(arn: String) {
        expectRejected(["ROLE_ARN": arn], variable: "ROLE_ARN", value: arn)
    }

    @Test func roleExternalIdFollowsSTSRule() throws {
        #expect(try parsed(["ROLE_EXTERNAL_ID": "00b148e2"]).roleExternalId == "00b148e2")
        #expect(try parsed(["ROLE_EXTERNAL_ID": "a:b/c=d,e.f@g+h_i-j"]).roleExternalId == "a:b/c=d,e.f@g+h_i-j")
        for bad in ["x", "has space", "semi;colon", String(repeating: "a", count: 1225)] {
            expectRejected(["ROLE_EXTERNAL_ID": bad], variable: "ROLE_EXTERNAL_ID", value: bad)
        }
    }

    @Test func roleSessionNameFollowsSTSRule() throws {
        #expect(try parsed(["ROLE_SESSION_NAME": "appconfig-agent"]).roleSessionName == "appconfig-agent")
        #expect(try parsed(["ROLE_SESSION_NAME": "a@b.c=d,e+f_g"]).roleSessionName == "a@b.c=d,e+f_g")
        #expect(try parsed(["ROLE_SESSION_NAME": String(repeating: "s", count: 64)]).roleSessionName?.count == 64)
        for bad in ["a", "has space", "a/b", "a:b", String(repeating: "s", count: 65)] {
            expectRejected(["ROLE_SESSION_NAME": bad], variable: "ROLE_SESSION_NAME", value: bad)
        }
    }

    // MARK: PROXY_URL, PROXY_HEADERS

    @Test(arguments: [
        "http://proxy:3128", "https://proxy.example.com", "socks5://10.0.0.1:1080", "socks5h://[::1]:1080",
        "HTTP://proxy.corp", "http://user:pass@proxy:3128", "http://proxy:3128/",
    ])
    func proxyURLAcceptsHTTPAndSOCKSURLsWithAHost(url: String) throws {
        #expect(try parsed(["PROXY_URL": url]).proxyURL == url)
    }

    @Test(arguments: [
        "proxy:3128", "proxy.example.com", "ftp://proxy", "socks4://proxy", "http://", "http://:3128", "http://proxy:0",
        "http://proxy:99999", "http://proxy:abc", "http://proxy:", "http://pro xy", "http://[::1", "http://[zz::1]:80",
    ])
    func proxyURLRejectsOtherSchemesAndMissingHosts(url: String) {
        expectRejected(["PROXY_URL": url], variable: "PROXY_URL", value: url)
    }

    @Test func proxyURLErrorHidesTheCredentials() throws {
        let error = try #require(rejection(["PROXY_URL": "ftp://alice:Pr0xyPassw0rd@proxy:21"]))
        #expect(error.variable == "PROXY_URL")
        #expect(error.value == "ftp://<hidden>@proxy:21")
        #expect(!error.description.contains("Pr0xyPassw0rd"))
        #expect(!error.description.contains("alice"))
        expectOneLine(error)
    }

    @Test func proxyHeadersParseNameValuePairs() throws {
        let settings = try parsed(["PROXY_HEADERS": " X-Tenant: blue , Proxy-Authorization: Basic dXNlcjpwYXNz,X-Empty:, "])
        #expect(settings.proxyHeaders == [
            .init(name: "X-Tenant", value: "blue"),
            .init(name: "Proxy-Authorization", value: "Basic dXNlcjpwYXNz"),
            .init(name: "X-Empty", value: ""),
        ])
        #expect(try parsed(["PROXY_HEADERS": "X-Time: 12:30"]).proxyHeaders == [.init(name: "X-Time", value: "12:30")])
    }

    @Test(arguments: [
        ("X-Ok: 1, NoColonHere", "<hidden>"),
        (": value", ": <hidden>"),
        ("Bad Name: value", "Bad Name: <hidden>"),
        ("X-Bell: a\u{7}b", "X-Bell: <hidden>"),
    ])
    func proxyHeadersRejectMalformedItems(text: String, shown: String) {
        expectRejected(["PROXY_HEADERS": text], variable: "PROXY_HEADERS", value: shown)
    }

    @Test func proxyHeadersErrorHidesHeaderValues() throws {
        let error = try #require(rejection(["PROXY_HEADERS": "Proxy-Authorization Basic c2VjcmV0Cg"]))
        #expect(!error.description.contains("c2VjcmV0Cg"))
        #expect(error.description.contains("item 1"))
        expectOneLine(error)
    }

    // MARK: LOG_LEVEL

    @Test(arguments: [
        ("trace", LogLevel.trace), ("DEBUG", .debug), ("Info", .info), ("warn", .warn), ("error", .error),
        ("FATAL", .fatal), ("none", LogLevel.none),
    ])
    func logLevelAcceptsLevelNamesInAnyCase(text: String, level: LogLevel) throws {
        #expect(try parsed(["LOG_LEVEL": text]).logLevel == level)
    }

    @Test(arguments: ["verbose", "3", "information"])
    func logLevelRejectsUnknownNames(text: String) {
        expectRejected(["LOG_LEVEL": text], variable: "LOG_LEVEL", value: text)
    }

    // MARK: Endpoint overrides

    static let endpointVariables = ["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_APPCONFIGDATA", "AWS_ENDPOINT_URL_STS"]

    private static func endpoint(_ settings: AgentSettings, _ variable: String) -> String? {
        switch variable {
        case "AWS_ENDPOINT_URL": settings.endpointURL
        case "AWS_ENDPOINT_URL_APPCONFIGDATA": settings.endpointURLAppConfigData
        case "AWS_ENDPOINT_URL_STS": settings.endpointURLSTS
        default: nil
        }
    }

    @Test(arguments: endpointVariables, [
        "http://localhost:4566", "https://appconfigdata.us-east-1.amazonaws.com",
        "https://vpce-0123-abcd.appconfigdata.us-east-1.vpce.amazonaws.com/", "http://127.0.0.1:8080/prefix",
        "http://[::1]:9000",
    ])
    func endpointOverridesAcceptHTTPAndHTTPSURLs(variable: String, url: String) throws {
        let settings = try parsed([variable: url])
        #expect(Self.endpoint(settings, variable) == url)
    }

    @Test(arguments: endpointVariables, ["localhost:4566", "ftp://host", "https://", "socks5://host", "not a url"])
    func endpointOverridesRejectOtherText(variable: String, url: String) {
        expectRejected([variable: url], variable: variable, value: url)
    }

    // MARK: Lambda names and precedence

    @Test func lambdaNamesAreAccepted() throws {
        let settings = try parsed([
            "AWS_APPCONFIG_EXTENSION_HTTP_HOST": "all",
            "AWS_APPCONFIG_EXTENSION_HTTP_PORT": "2800",
            "AWS_APPCONFIG_EXTENSION_POLL_INTERVAL_SECONDS": "30",
            "AWS_APPCONFIG_EXTENSION_POLL_TIMEOUT_MILLIS": "500",
            "AWS_APPCONFIG_EXTENSION_MAX_CONNECTIONS": "5",
            "AWS_APPCONFIG_EXTENSION_PREFETCH_LIST": "A:E:P",
            "AWS_APPCONFIG_EXTENSION_MANIFEST": "M:E:P",
            "AWS_APPCONFIG_EXTENSION_WAIT_ON_MANIFEST": "false",
            "AWS_APPCONFIG_EXTENSION_BACKUP_DIRECTORY": "/tmp/backups",
            "AWS_APPCONFIG_EXTENSION_LOCAL_DEVELOPMENT_DIRECTORY": "/srv/dev",
            "AWS_APPCONFIG_EXTENSION_ROLE_ARN": "arn:aws:iam::123456789012:role/Reader",
            "AWS_APPCONFIG_EXTENSION_ROLE_EXTERNAL_ID": "ext-id",
            "AWS_APPCONFIG_EXTENSION_ROLE_SESSION_NAME": "lambda-session",
            "AWS_APPCONFIG_EXTENSION_PROXY_URL": "http://proxy:3128",
            "AWS_APPCONFIG_EXTENSION_PROXY_HEADERS": "X-A: 1",
            "AWS_APPCONFIG_EXTENSION_LOG_LEVEL": "debug",
            "AWS_APPCONFIG_EXTENSION_LOG_PATH": "/tmp/agent.log",
        ])
        #expect(settings.httpHost == .all)
        #expect(settings.httpPort == 2800)
        #expect(settings.pollInterval == .seconds(30))
        #expect(settings.requestTimeout == .milliseconds(500))
        #expect(settings.maxConnections == 5)
        #expect(try settings.prefetchList == [key("A:E:P")])
        #expect(try settings.manifest == .configuration(key("M:E:P")))
        #expect(settings.waitOnManifest == false)
        #expect(settings.backupDirectory == "/tmp/backups")
        #expect(settings.localDevelopmentDirectory == "/srv/dev")
        #expect(settings.roleArn == "arn:aws:iam::123456789012:role/Reader")
        #expect(settings.roleExternalId == "ext-id")
        #expect(settings.roleSessionName == "lambda-session")
        #expect(settings.proxyURL == "http://proxy:3128")
        #expect(settings.proxyHeaders == [.init(name: "X-A", value: "1")])
        #expect(settings.logLevel == .debug)
        #expect(settings.logPath == "/tmp/agent.log")
    }

    @Test func lambdaPollNamesTakeTheSameSyntaxAsThePlainNames() throws {
        #expect(try parsed(["AWS_APPCONFIG_EXTENSION_POLL_INTERVAL_SECONDS": "2m"]).pollInterval == .seconds(120))
        #expect(try parsed(["AWS_APPCONFIG_EXTENSION_POLL_TIMEOUT_MILLIS": "2s"]).requestTimeout == .seconds(2))
    }

    @Test(arguments: [
        ("AWS_APPCONFIG_EXTENSION_POLL_INTERVAL_SECONDS", "10x"),
        ("AWS_APPCONFIG_EXTENSION_POLL_TIMEOUT_MILLIS", "0"),
        ("AWS_APPCONFIG_EXTENSION_HTTP_PORT", "70000"),
        ("AWS_APPCONFIG_EXTENSION_MAX_CONNECTIONS", "0"),
        ("AWS_APPCONFIG_EXTENSION_LOG_LEVEL", "loud"),
        ("AWS_APPCONFIG_EXTENSION_BACKUP_DIRECTORY", "relative"),
    ])
    func errorsNameTheLambdaVariableThatWasRead(variable: String, text: String) {
        expectRejected([variable: text], variable: variable, value: text)
    }

    @Test func plainNameWinsOverLambdaName() throws {
        let settings = try parsed([
            "HTTP_PORT": "2801", "AWS_APPCONFIG_EXTENSION_HTTP_PORT": "2802",
            "POLL_INTERVAL": "60", "AWS_APPCONFIG_EXTENSION_POLL_INTERVAL_SECONDS": "30",
            "REQUEST_TIMEOUT": "1000", "AWS_APPCONFIG_EXTENSION_POLL_TIMEOUT_MILLIS": "2000",
        ])
        #expect(settings.httpPort == 2801)
        #expect(settings.pollInterval == .seconds(60))
        #expect(settings.requestTimeout == .milliseconds(1000))
    }

    @Test func lambdaNameIsNotReadWhenThePlainNameIsSet() throws {
        #expect(try parsed(["LOG_LEVEL": "warn", "AWS_APPCONFIG_EXTENSION_LOG_LEVEL": "nonsense"]).logLevel == .warn)
    }

    @Test func blankPlainNameFallsBackToLambdaName() throws {
        #expect(try parsed(["HTTP_PORT": " ", "AWS_APPCONFIG_EXTENSION_HTTP_PORT": "2803"]).httpPort == 2803)
    }

    @Test func sdkVariablesHaveNoLambdaForm() throws {
        let settings = try parsed([
            "AWS_APPCONFIG_EXTENSION_AWS_REGION": "us-east-1",
            "AWS_APPCONFIG_EXTENSION_AWS_ENDPOINT_URL": "http://localhost:4566",
            "AWS_APPCONFIG_EXTENSION_POLL_INTERVAL": "not read either",
        ])
        #expect(settings == AgentSettings.defaults)
    }

    // MARK: Error text

    @Test func descriptionEscapesControlCharactersAndKeepsOneLine() throws {
        let error = try #require(rejection(["HTTP_PORT": "80\n81\r\u{2028}"]))
        #expect(error.value == "80\n81")
        #expect(error.description == #"invalid HTTP_PORT '80\n81': expected a port number from 0 to 65535"#)
    }

    @Test func valuesAreTrimmedBeforeBeingReported() {
        expectRejected(["HTTP_PORT": "  80x \t"], variable: "HTTP_PORT", value: "80x")
    }
}

struct ServerProtectionSettingsTests {
    @Test func clientTimeoutAndConnectionBoundHaveDefaultsAndParse() throws {
        #expect(AgentSettings.defaults.clientTimeout == .seconds(30))
        #expect(AgentSettings.defaults.maxClientConnections == 1024)
        let parsed = try AgentSettings.parse(environment: ["CLIENT_TIMEOUT": "5s", "MAX_CLIENT_CONNECTIONS": "10"])
        #expect(parsed.clientTimeout == .seconds(5))
        #expect(parsed.maxClientConnections == 10)
    }

    @Test(arguments: [("CLIENT_TIMEOUT", "0"), ("CLIENT_TIMEOUT", "2h"), ("CLIENT_TIMEOUT", "x"),
                      ("MAX_CLIENT_CONNECTIONS", "0"), ("MAX_CLIENT_CONNECTIONS", "70000"), ("MAX_CLIENT_CONNECTIONS", "-1")])
    func badServerProtectionValuesNameTheVariable(name: String, value: String) {
        #expect(throws: SettingsError.self) { try AgentSettings.parse(environment: [name: value]) }
        do {
            _ = try AgentSettings.parse(environment: [name: value])
        } catch {
            #expect(error.variable == name)
            #expect(error.description.contains(name))
        }
    }
}
