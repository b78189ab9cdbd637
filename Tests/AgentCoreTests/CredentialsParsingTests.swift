import Foundation
import Testing
@testable import AgentCore

@Suite struct CredentialsParsingTests {
    // MARK: ISO 8601

    @Test func timestampWithoutFractionalSecondsParses() {
        #expect(ISO8601Timestamp.parse("2026-01-02T03:04:05Z") == Date(timeIntervalSince1970: 1_767_323_045))
        #expect(ISO8601Timestamp.parse("1970-01-01T00:00:00Z") == Date(timeIntervalSince1970: 0))
        #expect(ISO8601Timestamp.parse("2000-02-29T23:59:59z") == Date(timeIntervalSince1970: 951_868_799))
    }

    @Test func timestampWithFractionalSecondsParses() throws {
        let parsed = try #require(ISO8601Timestamp.parse("2011-07-15T23:28:33.359Z"))
        #expect(abs(parsed.timeIntervalSince1970 - 1_310_772_513.359) < 0.0005)
        let micro = try #require(ISO8601Timestamp.parse("2011-07-15T23:28:33.123456Z"))
        #expect(abs(micro.timeIntervalSince1970 - 1_310_772_513.123456) < 0.000001)
    }

    @Test func timestampOffsetsAreApplied() {
        let utc = Date(timeIntervalSince1970: 1_767_323_045)
        #expect(ISO8601Timestamp.parse("2026-01-02T04:04:05+01:00") == utc)
        #expect(ISO8601Timestamp.parse("2026-01-01T21:34:05-0530") == utc)
        #expect(ISO8601Timestamp.parse("2026-01-02T05:04:05+02") == utc)
        #expect(ISO8601Timestamp.parse("2026-01-02T03:04:05+00:00") == utc)
        #expect(ISO8601Timestamp.parse("2026-01-02T04:04:05.5+01:00") == utc.addingTimeInterval(0.5))
    }

    @Test func timestampAgreesWithFoundationAcrossYears() throws {
        let formatter = ISO8601DateFormatter()
        for seconds in stride(from: -2_000_000_000.0, to: 4_000_000_000.0, by: 86_400 * 97 + 3_671) {
            let date = Date(timeIntervalSince1970: seconds)
            let text = formatter.string(from: date)
            #expect(ISO8601Timestamp.parse(text) == date, "\(text)")
        }
    }

    @Test(arguments: [
        "2026-13-01T00:00:00Z", "2026-02-29T00:00:00Z", "2026-04-31T00:00:00Z", "2026-01-02T24:00:00Z",
        "2026-01-02T03:60:00Z", "2026-01-02T03:04:05", "2026-01-02T03:04Z", "2026-01-02T03:04:05Zjunk",
        "2026-01-02T03:04:05.Z", "2026-01-02T03:04:05+015", "2026-01-02T03:04:05+24:00", "26-01-02T03:04:05Z",
        "", "1767323045",
    ])
    func malformedTimestampsAreRejected(_ text: String) {
        #expect(ISO8601Timestamp.parse(text) == nil)
    }

    // MARK: XML

    @Test func xmlReaderFindsTheCredentialsOfAnSTSAnswer() throws {
        let xml = FakeSTS.credentialsXML(action: "AssumeRole", accessKeyId: "ASIAEXAMPLE", secret: "s/e+c=r", token: "tok&amp;en", expiration: "2026-01-02T03:04:05Z")
        let root = try #require(XMLElementTree.parse(Array(xml.utf8)))
        #expect(root.name == "AssumeRoleResponse")
        #expect(root.value(at: ["AssumeRoleResult", "Credentials", "AccessKeyId"]) == "ASIAEXAMPLE")
        #expect(root.value(at: ["AssumeRoleResult", "Credentials", "SecretAccessKey"]) == "s/e+c=r")
        #expect(root.value(at: ["AssumeRoleResult", "Credentials", "SessionToken"]) == "tok&en")
        #expect(root.value(at: ["AssumeRoleResult", "Credentials", "Missing"]) == nil)
    }

    @Test func xmlReaderDecodesEntitiesCDATAAndPrefixes() throws {
        let xml = "<a:Root xmlns:a='urn:x'><!-- note --><a:V attr=\"1 &lt; 2\">&lt;&#65;&#x42;&quot;&apos;&gt;<![CDATA[<raw>&amp;]]></a:V><Empty/></a:Root>"
        let root = try #require(XMLElementTree.parse(Array(xml.utf8)))
        #expect(root.name == "Root")
        #expect(root.child("V")?.text == "<AB\"'><raw>&amp;")
        #expect(root.child("Empty") != nil)
    }

    @Test func xmlReaderFindsTheErrorShape() throws {
        let root = try #require(XMLElementTree.parse(Array(FakeSTS.errorXML(code: "AccessDenied", message: "Not authorized").utf8)))
        let error = try #require(root.firstDescendant(named: "Error"))
        #expect(error.value(at: ["Code"]) == "AccessDenied")
        #expect(error.value(at: ["Message"]) == "Not authorized")
    }

    @Test(arguments: [
        "<a><b></a></b>", "<a>", "<a></b>", "<a/><b/>", "text", "<a>&unknown;</a>", "<a>&#0;</a>",
        "<!DOCTYPE a [<!ENTITY x \"y\">]><a>&x;</a>", "<a b=c></a>", "<a b=\"1\"c=\"2\"></a>", "<1a></1a>", "",
        String(repeating: "<a>", count: 40) + String(repeating: "</a>", count: 40),
    ])
    func malformedXMLIsRejected(_ text: String) {
        #expect(XMLElementTree.parse(Array(text.utf8)) == nil)
    }

    // MARK: Query protocol, endpoints

    @Test func formBodyPercentEncodesEverythingButUnreserved() {
        let body = String(decoding: STSQueryClient.formBody(action: "AssumeRole", parameters: [
            ("RoleArn", "arn:aws:iam::123456789012:role/a/b"), ("RoleSessionName", "s_1.2~x-y"), ("WebIdentityToken", "a+b/c=d e"),
        ]), as: UTF8.self)
        #expect(body == "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fa%2Fb"
            + "&RoleSessionName=s_1.2~x-y&WebIdentityToken=a%2Bb%2Fc%3Dd%20e")
    }

    @Test func stsEndpointIsRegionalWithVariants() {
        #expect(STSEndpoint.url(region: "eu-west-1") == "https://sts.eu-west-1.amazonaws.com")
        #expect(STSEndpoint.url(region: "us-east-1", useFIPS: true) == "https://sts-fips.us-east-1.amazonaws.com")
        #expect(STSEndpoint.url(region: "us-east-1", useDualStack: true) == "https://sts.us-east-1.api.aws")
        #expect(STSEndpoint.url(region: "us-east-2", useFIPS: true, useDualStack: true) == "https://sts-fips.us-east-2.api.aws")
        #expect(STSEndpoint.url(region: "cn-north-1") == "https://sts.cn-north-1.amazonaws.com.cn")
        #expect(STSEndpoint.url(region: "cn-north-1", useDualStack: true) == "https://sts.cn-north-1.api.amazonwebservices.com.cn")
        #expect(STSEndpoint.url(region: "us-gov-west-1", useFIPS: true) == "https://sts.us-gov-west-1.amazonaws.com")
        #expect(STSEndpoint.url(region: "eu-west-1", override: "http://127.0.0.1:9000") == "http://127.0.0.1:9000")
    }

    @Test func endpointHostHeaderCarriesOnlyANonDefaultPort() throws {
        #expect(try #require(EndpointURL(parsing: "https://sts.eu-west-1.amazonaws.com")).hostHeader == "sts.eu-west-1.amazonaws.com")
        #expect(try #require(EndpointURL(parsing: "https://sts.example:443/")).hostHeader == "sts.example")
        #expect(try #require(EndpointURL(parsing: "http://127.0.0.1:8080/x")).hostHeader == "127.0.0.1:8080")
        let v6 = try #require(EndpointURL(parsing: "http://[fd00:ec2::23]/v1/credentials"))
        #expect(v6.hostHeader == "[fd00:ec2::23]")
        #expect(v6.url() == "http://[fd00:ec2::23]/v1/credentials")
        #expect(EndpointURL(parsing: "http://user:pw@host/") == nil)
        #expect(EndpointURL(parsing: "ftp://host/") == nil)
        #expect(EndpointURL(parsing: "http://host/#frag") == nil)
    }

    @Test(arguments: [
        "https://anything.example.com/creds", "http://127.0.0.1:51679/creds", "http://127.200.0.9/", "http://localhost:8080/",
        "http://LOCALHOST/", "http://[::1]:80/", "http://[0:0:0:0:0:0:0:1]/", "http://169.254.170.2/v2/x", "http://169.254.170.23/v1/credentials",
        "http://[fd00:ec2::23]/v1/credentials", "http://[fd00:ec2:0:0:0:0:0:23]/",
    ])
    func containerFullURIAllowsHTTPSAndTheListedHosts(_ text: String) throws {
        #expect(ContainerCredentialsProvider.isAllowed(try #require(EndpointURL(parsing: text))))
    }

    @Test(arguments: [
        "http://169.254.170.3/", "http://169.254.169.254/", "http://10.0.0.1/", "http://0.0.0.0/", "http://example.com/",
        "http://127.0.0.1.nip.io/", "http://localhost.example.com/", "http://[::2]/", "http://[fd00:ec2::24]/",
        "http://[::ffff:127.0.0.1]/", "http://128.0.0.1/",
    ])
    func containerFullURIRefusesOtherPlainHTTPHosts(_ text: String) throws {
        #expect(!ContainerCredentialsProvider.isAllowed(try #require(EndpointURL(parsing: text))))
    }

    // MARK: Shared files

    @Test func configFileSectionsCommentsAndWhitespace() {
        let text = """
        # comment
        ; another
        region = ignored-before-any-section
        [default]
        region=us-east-1 ; inline comment
        output = json # another inline
        [profile   dev  ]   # comment after a header
          aws_access_key_id = AKIDDEV
        AWS_Secret_Access_Key   =   with spaces inside   
        odd=#notacomment
        s3 =
          max_concurrent_requests = 10
          max_queue_size = 1000
        [dev]
        aws_access_key_id = IGNORED_NO_PROFILE_PREFIX
        [sso-session corp]
        sso_region = us-east-1
        [profile dev]
        region = eu-west-1
        not a property line
        """
        let profiles = SharedConfigParser.parse(text, kind: .config, path: "config")
        #expect(profiles["default"] == ["region": "us-east-1", "output": "json"])
        #expect(profiles["dev"]?["aws_access_key_id"] == "AKIDDEV")
        #expect(profiles["dev"]?["aws_secret_access_key"] == "with spaces inside")
        #expect(profiles["dev"]?["odd"] == "#notacomment")
        #expect(profiles["dev"]?["s3"] == "\nmax_concurrent_requests = 10\nmax_queue_size = 1000")
        #expect(profiles["dev"]?["region"] == "eu-west-1")
        #expect(profiles["corp"] == nil)
        #expect(profiles["sso-session corp"] == nil)
        #expect(Set(profiles.keys) == ["default", "dev"])
    }

    @Test func profileDefaultSectionWinsOverPlainDefaultInConfig() {
        let text = "[default]\nregion = us-east-1\nsole = plain\n[profile default]\nregion = eu-central-1\n"
        let profiles = SharedConfigParser.parse(text, kind: .config, path: "config")
        #expect(profiles["default"] == ["region": "eu-central-1"])
    }

    @Test func credentialsFileSectionsAreBareNames() {
        let text = "[default]\naws_access_key_id = A\r\n[team-a]\r\naws_access_key_id = B\r\n"
        let profiles = SharedConfigParser.parse(text, kind: .credentials, path: "credentials")
        #expect(profiles["default"]?["aws_access_key_id"] == "A")
        #expect(profiles["team-a"]?["aws_access_key_id"] == "B")
    }

    @Test func credentialsFileValuesWinOverConfigFileValues() throws {
        let directory = try CredentialsTempDirectory()
        try directory.write("config", "[profile dev]\nregion = eu-west-1\naws_access_key_id = FROM_CONFIG\nrole_session_name = cfg\n")
        try directory.write("credentials", "[dev]\naws_access_key_id = FROM_CREDENTIALS\n")
        let config = try AWSSharedConfig.load(environment: isolatedEnvironment(directory, ["AWS_PROFILE": "dev"]))
        #expect(config.profileName == "dev")
        #expect(config.profileIsExplicit)
        #expect(config.properties(of: "dev") == ["region": "eu-west-1", "aws_access_key_id": "FROM_CREDENTIALS", "role_session_name": "cfg"])
        #expect(config.region == "eu-west-1")
    }

    @Test func sharedFilesDefaultToHomeDotAWS() throws {
        let directory = try CredentialsTempDirectory()
        try FileManager.default.createDirectory(atPath: directory.path + "/.aws", withIntermediateDirectories: true)
        try directory.write(".aws/config", "[default]\nregion = ap-south-1\n")
        let config = try AWSSharedConfig.load(environment: ["HOME": directory.path])
        #expect(config.configFile == directory.path + "/.aws/config")
        #expect(config.credentialsFile == directory.path + "/.aws/credentials")
        #expect(config.profileName == "default")
        #expect(!config.profileIsExplicit)
        #expect(config.region == "ap-south-1")
    }

    @Test func unreadableSharedFileIsAnErrorNamingIt() throws {
        let directory = try CredentialsTempDirectory()
        // A directory where the file should be: open succeeds on Linux but read fails with EISDIR.
        try FileManager.default.createDirectory(atPath: directory.path + "/config", withIntermediateDirectories: true)
        var environment = isolatedEnvironment(directory)
        environment["AWS_CONFIG_FILE"] = directory.path + "/config"
        let error = #expect(throws: CredentialsError.self) { try AWSSharedConfig.load(environment: environment) }
        #expect(error?.message.contains(directory.path + "/config") == true)
        #expect(error?.message.contains("AWS_CONFIG_FILE") == true)
    }
}
