import Foundation
import Synchronization
import Testing
@testable import AgentCore

private let appRole = "arn:aws:iam::123456789012:role/App"
private let middleRole = "arn:aws:iam::123456789012:role/Middle"

/// Where every endpoint of a chain points in these tests; unused ones point at a refusing port.
private struct ChainFixture {
    let directory: CredentialsTempDirectory
    let clock = CredentialsTestClock()
    let closed: CredentialsClosedPort

    init() throws {
        directory = try CredentialsTempDirectory()
        closed = try CredentialsClosedPort()
    }

    func chain(_ extra: [String: String], sts: String? = nil, container: String? = nil) throws -> CredentialsChain {
        let (client, metadata) = try makeCredentialsTestClients()
        var context = CredentialsSourceContext(
            environment: isolatedEnvironment(directory, extra), region: "eu-west-1", stsEndpoint: sts ?? closed.url,
            client: client, metadataClient: metadata, now: clock.now)
        context.containerRelativeURIBase = container ?? closed.url
        return CredentialsChain(context: context)
    }

    /// Environment for the instance metadata fake: IMDS on, at `server`.
    func imdsOn(_ server: CredentialsFakeServer) -> [String: String] {
        ["AWS_EC2_METADATA_DISABLED": "", "AWS_EC2_METADATA_SERVICE_ENDPOINT": server.baseURL]
    }
}

private func containerServer(id: String) throws -> CredentialsFakeServer {
    try CredentialsFakeServer(handler: CredentialsFakes.container(
        path: "/v2/credentials/task", authorization: nil,
        json: CredentialsFakes.metadataJSON(id: id, secret: uniqueSecret("container"), token: uniqueSecret("ct"))))
}

private func imdsServer(id: String) throws -> CredentialsFakeServer {
    try CredentialsFakeServer(handler: CredentialsFakes.imds(
        token: "imds-session-token", role: "InstanceRole",
        credentialsJSON: CredentialsFakes.metadataJSON(id: id, secret: uniqueSecret("imds"), token: uniqueSecret("it"))))
}

/// Fake STS answering `AssumeRole` with credentials named after the role (`ASIA<last path part>`).
private func roleNamingSTS() throws -> CredentialsFakeServer {
    try CredentialsFakeServer { request in
        if let problem = CredentialsFakes.stsProblem(request, action: "AssumeRole") {
            return .xml(FakeSTS.errorXML(code: "FakeCheckFailed", message: problem), status: 400)
        }
        let name = (request.form["RoleArn"] ?? "").split(separator: "/").last.map { $0.uppercased() } ?? "NONE"
        return .xml(FakeSTS.credentialsXML(action: "AssumeRole", accessKeyId: "ASIA\(name)", secret: "secret-of-\(name)-role",
                                           token: "token-of-\(name)-role", expiration: "2027-01-15T09:00:00Z"))
    }
}

@Suite struct CredentialsChainTests {
    // MARK: Precedence

    @Test func environmentWinsOverEveryOtherSource() async throws {
        let fixture = try ChainFixture()
        let container = try containerServer(id: "ASIACONTAINER")
        let imds = try imdsServer(id: "ASIAIMDS")
        let sts = try CredentialsFakeServer { _ in .text("", status: 500) }
        try fixture.directory.write("credentials", "[default]\naws_access_key_id = AKIDPROFILE\naws_secret_access_key = profile-secret-value\n")
        let tokenFile = try fixture.directory.write("token", "jwt-value")
        var environment = fixture.imdsOn(imds)
        environment.merge([
            "AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "env-secret-value",
            "AWS_WEB_IDENTITY_TOKEN_FILE": tokenFile, "AWS_ROLE_ARN": appRole,
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/credentials/task",
        ]) { _, new in new }
        let chain = try fixture.chain(environment, sts: sts.baseURL, container: container.baseURL)

        #expect(chain.describeSource == nil)
        #expect(try await chain.credentials().accessKeyId == "AKIDENV")
        #expect(chain.source == .environment)
        #expect(chain.describeSource == "credentials from environment variables")
        #expect(sts.requests.isEmpty && container.requests.isEmpty && imds.requests.isEmpty)
    }

    @Test func webIdentityWinsOverProfileContainerAndInstanceMetadata() async throws {
        let fixture = try ChainFixture()
        let container = try containerServer(id: "ASIACONTAINER")
        let imds = try imdsServer(id: "ASIAIMDS")
        let sts = try CredentialsFakeServer(handler: CredentialsFakes.sts(
            action: "AssumeRoleWithWebIdentity", id: "ASIAWEB", secret: uniqueSecret("w"), token: uniqueSecret("wt")))
        try fixture.directory.write("credentials", "[default]\naws_access_key_id = AKIDPROFILE\naws_secret_access_key = profile-secret-value\n")
        let tokenFile = try fixture.directory.write("token", "jwt-value")
        var environment = fixture.imdsOn(imds)
        environment.merge(["AWS_WEB_IDENTITY_TOKEN_FILE": tokenFile, "AWS_ROLE_ARN": appRole,
                           "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/credentials/task"]) { _, new in new }
        let chain = try fixture.chain(environment, sts: sts.baseURL, container: container.baseURL)

        #expect(try await chain.credentials().accessKeyId == "ASIAWEB")
        #expect(chain.source == .webIdentity)
        #expect(chain.describeSource?.contains("web identity token file \(tokenFile)") == true)
        #expect(container.requests.isEmpty && imds.requests.isEmpty)
    }

    @Test func profileWinsOverContainerAndInstanceMetadata() async throws {
        let fixture = try ChainFixture()
        let container = try containerServer(id: "ASIACONTAINER")
        let imds = try imdsServer(id: "ASIAIMDS")
        try fixture.directory.write("credentials", "[default]\naws_access_key_id = AKIDPROFILE\naws_secret_access_key = profile-secret-value\n")
        var environment = fixture.imdsOn(imds)
        environment["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"] = "/v2/credentials/task"
        let chain = try fixture.chain(environment, container: container.baseURL)

        #expect(try await chain.credentials() == AWSCredentials(accessKeyId: "AKIDPROFILE", secretAccessKey: "profile-secret-value"))
        #expect(chain.source == .profile)
        #expect(chain.describeSource == "credentials from profile default (static keys)")
        #expect(container.requests.isEmpty && imds.requests.isEmpty)
    }

    @Test func containerWinsOverInstanceMetadata() async throws {
        let fixture = try ChainFixture()
        let container = try containerServer(id: "ASIACONTAINER")
        let imds = try imdsServer(id: "ASIAIMDS")
        var environment = fixture.imdsOn(imds)
        environment["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"] = "/v2/credentials/task"
        let chain = try fixture.chain(environment, container: container.baseURL)

        #expect(try await chain.credentials().accessKeyId == "ASIACONTAINER")
        #expect(chain.source == .container)
        #expect(chain.describeSource == "credentials from the container credentials endpoint \(container.baseURL)")
        #expect(imds.requests.isEmpty)
    }

    @Test func instanceMetadataIsTheLastResort() async throws {
        let fixture = try ChainFixture()
        let imds = try imdsServer(id: "ASIAIMDS")
        try fixture.directory.write("config", "[default]\nregion = eu-west-1\n") // a profile without credentials
        let chain = try fixture.chain(fixture.imdsOn(imds))
        #expect(try await chain.credentials().accessKeyId == "ASIAIMDS")
        #expect(chain.source == .instanceMetadata)
        #expect(chain.describeSource == "credentials from EC2 instance metadata (instance profile)")
    }

    @Test func nothingFoundSaysWhatToSet() async throws {
        let fixture = try ChainFixture()
        let disabled = try fixture.chain([:])
        let off = try #require(await credentialsError { () async throws(CredentialsError) in try await disabled.credentials() })
        #expect(off.message.hasPrefix("no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"))
        #expect(off.message.contains("AWS_WEB_IDENTITY_TOKEN_FILE"))
        #expect(off.message.contains("AWS_EC2_METADATA_DISABLED"))

        let unreachable = try fixture.chain(["AWS_EC2_METADATA_DISABLED": "", "AWS_EC2_METADATA_SERVICE_ENDPOINT": fixture.closed.url])
        let error = try #require(await credentialsError { () async throws(CredentialsError) in try await unreachable.credentials() })
        #expect(error.message.hasPrefix("no AWS credentials found"))
        #expect(error.message.contains("(instance metadata: the instance metadata service"))
        #expect(unreachable.source == nil)
    }

    @Test func aConfiguredSourceThatFailsIsReportedNotSkipped() async throws {
        let fixture = try ChainFixture()
        let imds = try imdsServer(id: "ASIAIMDS")
        let sts = try CredentialsFakeServer { _ in .xml(FakeSTS.errorXML(code: "InvalidIdentityToken", message: "Incorrect token audience"), status: 400) }
        let tokenFile = try fixture.directory.write("token", "jwt-value")
        var environment = fixture.imdsOn(imds)
        environment.merge(["AWS_WEB_IDENTITY_TOKEN_FILE": tokenFile, "AWS_ROLE_ARN": appRole]) { _, new in new }
        let chain = try fixture.chain(environment, sts: sts.baseURL)
        let error = try #require(await credentialsError { () async throws(CredentialsError) in try await chain.credentials() })
        #expect(error.message.contains("InvalidIdentityToken"))
        #expect(error.message.contains("Incorrect token audience"))
        #expect(imds.requests.isEmpty)
        #expect(chain.source == nil)
    }

    // MARK: Profiles

    @Test func explicitProfileThatDoesNotExistIsAnError() async throws {
        let fixture = try ChainFixture()
        try fixture.directory.write("config", "[profile other]\nregion = eu-west-1\n")
        let chain = try fixture.chain(["AWS_PROFILE": "missing"])
        let error = await credentialsError { () async throws(CredentialsError) in try await chain.credentials() }
        #expect(error?.message.contains("AWS_PROFILE names profile missing, which is in neither") == true)
        #expect(error?.message.contains(fixture.directory.path + "/config") == true)
    }

    @Test func profileWithOnlyARegionLetsTheChainGoOn() async throws {
        let fixture = try ChainFixture()
        let container = try containerServer(id: "ASIACONTAINER")
        try fixture.directory.write("config", "[profile dev]\nregion = eu-west-1\n")
        let chain = try fixture.chain(["AWS_PROFILE": "dev", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/credentials/task"], container: container.baseURL)
        #expect(try await chain.credentials().accessKeyId == "ASIACONTAINER")
    }

    @Test func sourceProfileChainAssumesEachRoleInTurn() async throws {
        let fixture = try ChainFixture()
        let sts = try roleNamingSTS()
        let baseSecret = uniqueSecret("base")
        try fixture.directory.write("config", """
        [profile app]
        role_arn = \(appRole)
        source_profile = middle
        role_session_name = app-session
        external_id = ext-app
        duration_seconds = 900
        [profile middle]
        role_arn = \(middleRole)
        source_profile = base
        """)
        try fixture.directory.write("credentials", "[base]\naws_access_key_id = AKIABASE\naws_secret_access_key = \(baseSecret)\n")
        let chain = try fixture.chain(["AWS_PROFILE": "app"], sts: sts.baseURL)

        let credentials = try await chain.credentials()
        #expect(credentials.accessKeyId == "ASIAAPP")
        let requests = sts.requests
        try #require(requests.count == 2)
        #expect(requests[0].form["RoleArn"] == middleRole)
        #expect(requests[0].header("authorization") == FakeSTS.expectedAuthorization(
            for: requests[0], credentials: AWSCredentials(accessKeyId: "AKIABASE", secretAccessKey: baseSecret), region: "eu-west-1"))
        #expect(requests[1].form == ["Action": "AssumeRole", "Version": "2011-06-15", "RoleArn": appRole, "RoleSessionName": "app-session",
                                     "ExternalId": "ext-app", "DurationSeconds": "900"])
        #expect(requests[1].header("x-amz-security-token") == "token-of-MIDDLE-role")
        #expect(requests[1].header("authorization") == FakeSTS.expectedAuthorization(
            for: requests[1], credentials: AWSCredentials(accessKeyId: "ASIAMIDDLE", secretAccessKey: "secret-of-MIDDLE-role", sessionToken: "token-of-MIDDLE-role"),
            region: "eu-west-1"))
        #expect(chain.describeSource == "credentials from profile app (role \(appRole) from profile middle (role \(middleRole) from profile base (static keys)))")
    }

    @Test func sourceProfileCycleIsAnError() async throws {
        let fixture = try ChainFixture()
        try fixture.directory.write("config", """
        [profile a]
        role_arn = \(appRole)
        source_profile = b
        [profile b]
        role_arn = \(middleRole)
        source_profile = c
        [profile c]
        role_arn = \(middleRole)
        source_profile = b
        """)
        let chain = try fixture.chain(["AWS_PROFILE": "a"])
        let error = await credentialsError { () async throws(CredentialsError) in try await chain.credentials() }
        #expect(error?.message.contains("profiles b → c → b form a source_profile cycle") == true)
    }

    @Test func profileNamingItselfAsSourceUsesItsOwnKeys() async throws {
        let fixture = try ChainFixture()
        let sts = try roleNamingSTS()
        let secret = uniqueSecret("self")
        try fixture.directory.write("credentials", """
        [selfish]
        aws_access_key_id = AKIASELF
        aws_secret_access_key = \(secret)
        role_arn = \(appRole)
        source_profile = selfish
        """)
        let chain = try fixture.chain(["AWS_PROFILE": "selfish"], sts: sts.baseURL)
        #expect(try await chain.credentials().accessKeyId == "ASIAAPP")
        let request = try #require(sts.requests.first)
        #expect(request.header("authorization") == FakeSTS.expectedAuthorization(
            for: request, credentials: AWSCredentials(accessKeyId: "AKIASELF", secretAccessKey: secret), region: "eu-west-1"))
    }

    @Test func credentialSourceEcsContainerAndEc2InstanceMetadataAssumeTheRole() async throws {
        let fixture = try ChainFixture()
        let sts = try roleNamingSTS()
        let container = try containerServer(id: "ASIACONTAINERBASE")
        let imds = try imdsServer(id: "ASIAIMDSBASE")
        try fixture.directory.write("config", """
        [profile ecs]
        role_arn = \(appRole)
        credential_source = EcsContainer
        [profile ec2]
        role_arn = \(middleRole)
        credential_source = Ec2InstanceMetadata
        """)
        var environment = fixture.imdsOn(imds)
        environment.merge(["AWS_PROFILE": "ecs", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/credentials/task"]) { _, new in new }
        let ecs = try fixture.chain(environment, sts: sts.baseURL, container: container.baseURL)
        #expect(try await ecs.credentials().accessKeyId == "ASIAAPP")
        #expect(sts.requests.last?.header("authorization")?.contains("Credential=ASIACONTAINERBASE/") == true)

        environment["AWS_PROFILE"] = "ec2"
        let ec2 = try fixture.chain(environment, sts: sts.baseURL, container: container.baseURL)
        #expect(try await ec2.credentials().accessKeyId == "ASIAMIDDLE")
        #expect(sts.requests.last?.header("authorization")?.contains("Credential=ASIAIMDSBASE/") == true)
        #expect(ec2.describeSource == "credentials from profile ec2 (role \(middleRole) from EC2 instance metadata)")
    }

    @Test func credentialSourceEnvironmentUsesTheEnvironmentKeys() async throws {
        let fixture = try ChainFixture()
        let sts = try roleNamingSTS()
        let secret = uniqueSecret("envbase")
        let (client, metadata) = try makeCredentialsTestClients()
        let environment = ["AWS_ACCESS_KEY_ID": "AKIAENVBASE", "AWS_SECRET_ACCESS_KEY": secret]
        let config = AWSSharedConfig(profileName: "p", profileIsExplicit: true, configFile: "c", credentialsFile: "k",
                                     profiles: ["p": ["role_arn": appRole, "credential_source": "Environment"]])
        let context = CredentialsSourceContext(environment: environment, region: "eu-west-1", stsEndpoint: sts.baseURL,
                                               client: client, metadataClient: metadata, now: fixture.clock.now)
        let resolved = try #require(try ProfileCredentialsResolver(config: config, context: context).resolve())
        #expect(try await resolved.provider.credentials().accessKeyId == "ASIAAPP")
        let request = try #require(sts.requests.first)
        #expect(request.header("authorization") == FakeSTS.expectedAuthorization(
            for: request, credentials: AWSCredentials(accessKeyId: "AKIAENVBASE", secretAccessKey: secret), region: "eu-west-1"))
    }

    @Test(arguments: [
        ("role_arn = \(appRole)\n", "has role_arn but no source_profile, credential_source or web_identity_token_file"),
        ("role_arn = \(appRole)\ncredential_source = Ec2\n", "credential_source Ec2; use Environment, Ec2InstanceMetadata or EcsContainer"),
        ("role_arn = \(appRole)\nsource_profile = x\ncredential_source = Environment\n", "sets both source_profile and credential_source"),
        ("role_arn = \(appRole)\nsource_profile = nowhere\n", "names source_profile nowhere, which is in neither"),
        ("role_arn = \(appRole)\nsource_profile = empty\n", "profile empty, the source_profile of p, has no credentials"),
        ("role_arn = \(appRole)\nmfa_serial = arn:aws:iam::1:mfa/me\nsource_profile = empty\n", "needs an MFA code"),
        ("role_arn = \(appRole)\ncredential_source = Environment\nduration_seconds = 60\n", "duration_seconds 60; use a whole number of seconds from 900 to 43200"),
        ("aws_access_key_id = AKIAHALF\n", "has aws_access_key_id but no aws_secret_access_key"),
        ("role_arn = \(appRole)\ncredential_source = EcsContainer\n", "neither AWS_CONTAINER_CREDENTIALS_RELATIVE_URI nor"),
    ])
    func profileMistakesAreExplained(_ profile: String, _ expected: String) async throws {
        let fixture = try ChainFixture()
        try fixture.directory.write("config", "[profile p]\n\(profile)[profile empty]\nregion = eu-west-1\n")
        let chain = try fixture.chain(["AWS_PROFILE": "p"])
        let error = await credentialsError { () async throws(CredentialsError) in try await chain.credentials() }
        #expect(error?.message.contains(expected) == true, "\(error?.message ?? "no error")")
    }

    @Test func profileCredentialProcessRunsThroughTheChain() async throws {
        let fixture = try ChainFixture()
        try fixture.directory.write("config", """
        [profile tool]
        credential_process = printf '{"Version":1,"AccessKeyId":"AKIDTOOL","SecretAccessKey":"%s"}' "$TOOL_SECRET"
        """)
        let chain = try fixture.chain(["AWS_PROFILE": "tool", "TOOL_SECRET": "tool-secret-value"])
        #expect(try await chain.credentials() == AWSCredentials(accessKeyId: "AKIDTOOL", secretAccessKey: "tool-secret-value"))
        #expect(chain.describeSource == "credentials from profile tool (credential_process)")
    }

    @Test func profileWebIdentityTokenFileAssumesTheRole() async throws {
        let fixture = try ChainFixture()
        let sts = try CredentialsFakeServer(handler: CredentialsFakes.sts(
            action: "AssumeRoleWithWebIdentity", id: "ASIAPROFILEWEB", secret: uniqueSecret("pw"), token: uniqueSecret("pwt")))
        try fixture.directory.write("token", "profile-jwt")
        try fixture.directory.write("config", "[default]\nrole_arn = \(appRole)\nweb_identity_token_file = ~/token\nrole_session_name = pw\n")
        let chain = try fixture.chain([:], sts: sts.baseURL)
        #expect(try await chain.credentials().accessKeyId == "ASIAPROFILEWEB")
        #expect(sts.requests.first?.form["WebIdentityToken"] == "profile-jwt")
        #expect(sts.requests.first?.form["RoleSessionName"] == "pw")
    }

    // MARK: Remembering the winner

    @Test func theWinningSourceIsKept() async throws {
        let fixture = try ChainFixture()
        try fixture.directory.write("credentials", "[default]\naws_access_key_id = AKIDFIRST\naws_secret_access_key = first-secret-value\n")
        let chain = try fixture.chain([:])
        #expect(try await chain.credentials().accessKeyId == "AKIDFIRST")
        try fixture.directory.write("credentials", "[default]\naws_access_key_id = AKIDSECOND\naws_secret_access_key = second-secret-value\n")
        #expect(try await chain.credentials().accessKeyId == "AKIDFIRST")
        #expect(chain.source == .profile)
    }

    @Test func untilASourceYieldsEachCallResolvesAgain() async throws {
        let fixture = try ChainFixture()
        let chain = try fixture.chain([:])
        #expect(await credentialsError { () async throws(CredentialsError) in try await chain.credentials() } != nil)
        try fixture.directory.write("credentials", "[default]\naws_access_key_id = AKIDLATER\naws_secret_access_key = later-secret-value\n")
        #expect(try await chain.credentials().accessKeyId == "AKIDLATER")
    }

    @Test func concurrentFirstCallersShareOneResolution() async throws {
        let fixture = try ChainFixture()
        let good = CredentialsFakes.sts(action: "AssumeRoleWithWebIdentity", id: "ASIAWEB", secret: uniqueSecret("c"), token: uniqueSecret("ct"))
        let sts = try CredentialsFakeServer { request in
            var response = good(request)
            response.delay = .milliseconds(200)
            return response
        }
        let tokenFile = try fixture.directory.write("token", "jwt-value")
        let chain = try fixture.chain(["AWS_WEB_IDENTITY_TOKEN_FILE": tokenFile, "AWS_ROLE_ARN": appRole], sts: sts.baseURL)
        let ids = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<12 { group.addTask { try await chain.credentials().accessKeyId } }
            return try await group.reduce(into: [String]()) { $0.append($1) }
        }
        #expect(ids == Array(repeating: "ASIAWEB", count: 12))
        #expect(sts.requests.count == 1)
    }

    // MARK: Region

    @Test func regionDetectionOrder() async throws {
        let fixture = try ChainFixture()
        let imds = try imdsServer(id: "ASIAIMDS")
        let (_, metadata) = try makeCredentialsTestClients()
        try fixture.directory.write("config", "[default]\nregion = eu-west-3\n[profile bad]\nregion = EU_WEST\n")
        var environment = isolatedEnvironment(fixture.directory, fixture.imdsOn(imds))
        environment["AWS_REGION"] = "ap-southeast-2"

        #expect(try await RegionDetector.detect(configured: "us-west-2", environment: environment, metadataClient: metadata)
            == .init(region: "us-west-2", source: "SERVICE_REGION, AWS_REGION or AWS_DEFAULT_REGION"))
        #expect(try await RegionDetector.detect(configured: nil, environment: environment, metadataClient: metadata)
            == .init(region: "ap-southeast-2", source: "AWS_REGION"))
        environment["AWS_REGION"] = nil
        #expect(try await RegionDetector.detect(configured: nil, environment: environment, metadataClient: metadata)
            == .init(region: "eu-west-3", source: "profile default"))
        #expect(imds.requests.isEmpty)
        environment["AWS_PROFILE"] = "nothing-here"
        #expect(try await RegionDetector.detect(configured: nil, environment: environment, metadataClient: metadata)
            == .init(region: "eu-north-1", source: "instance metadata"))
        environment["AWS_EC2_METADATA_DISABLED"] = "TRUE"
        #expect(try await RegionDetector.detect(configured: nil, environment: environment, metadataClient: metadata) == nil)
        environment["AWS_PROFILE"] = "bad"
        await #expect(throws: CredentialsError.self) {
            try await RegionDetector.detect(configured: nil, environment: environment, metadataClient: metadata)
        }
    }
}
