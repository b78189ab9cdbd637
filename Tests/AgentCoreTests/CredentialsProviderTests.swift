import Foundation
import Synchronization
import Testing
@testable import AgentCore
#if canImport(Glibc)
import Glibc
#endif

private let roleArn = "arn:aws:iam::123456789012:role/Reader"

@Suite struct CredentialsProviderTests {
    let clock = CredentialsTestClock() // 2027-01-15T08:00:00Z

    // MARK: Environment

    @Test func environmentKeysAndSessionTokenAreRead() async throws {
        let provider = EnvironmentCredentialsProvider(environment: [
            "AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": " env-secret-value\n", "AWS_SESSION_TOKEN": "env-session-token",
        ])
        let credentials = try await provider.credentials()
        #expect(credentials == AWSCredentials(accessKeyId: "AKIDENV", secretAccessKey: "env-secret-value", sessionToken: "env-session-token"))
    }

    @Test func legacyEnvironmentNamesAreReadWhenTheStandardOnesAreUnset() async throws {
        let environment = ["AWS_ACCESS_KEY": "AKIDLEGACY", "AWS_SECRET_KEY": "legacy-secret-value"]
        #expect(EnvironmentCredentialsProvider.isConfigured(environment))
        let credentials = try await EnvironmentCredentialsProvider(environment: environment).credentials()
        #expect(credentials.accessKeyId == "AKIDLEGACY")
        #expect(credentials.secretAccessKey == "legacy-secret-value")
        #expect(credentials.sessionToken == nil)
        #expect(!EnvironmentCredentialsProvider.isConfigured(["AWS_ACCESS_KEY_ID": "  ", "AWS_SESSION_TOKEN": "t"]))
    }

    @Test func halfSetEnvironmentKeysAreAnErrorWithoutTheSecret() async {
        let secret = uniqueSecret("half")
        let provider = EnvironmentCredentialsProvider(environment: ["AWS_SECRET_ACCESS_KEY": secret])
        let error = await credentialsError { () async throws(CredentialsError) in try await provider.credentials() }
        #expect(error?.message.contains("AWS_ACCESS_KEY_ID is not") == true)
        #expect(error?.message.contains(secret) == false)
    }

    // MARK: Web identity

    @Test func webIdentityExchangesTheTokenInAnUnsignedFormPost() async throws {
        let directory = try CredentialsTempDirectory()
        let jwt = uniqueSecret("jwt")
        let tokenFile = try directory.write("token", jwt + "\n")
        let secret = uniqueSecret("wi-secret"), sessionToken = uniqueSecret("wi-token")
        let server = try CredentialsFakeServer(handler: CredentialsFakes.sts(
            action: "AssumeRoleWithWebIdentity", id: "ASIAWEB", secret: secret, token: sessionToken, expiration: "2027-01-15T09:00:00.123Z"))
        let (client, _) = try makeCredentialsTestClients()
        let provider = try #require(try WebIdentityCredentialsProvider.fromEnvironment(
            ["AWS_WEB_IDENTITY_TOKEN_FILE": tokenFile, "AWS_ROLE_ARN": roleArn, "AWS_ROLE_SESSION_NAME": "my-session"],
            stsEndpoint: server.baseURL, region: "eu-west-1", client: client, now: clock.now))

        let credentials = try await provider.credentials()
        #expect(credentials.accessKeyId == "ASIAWEB")
        #expect(credentials.secretAccessKey == secret)
        #expect(credentials.sessionToken == sessionToken)
        #expect(abs((credentials.expiration?.timeIntervalSince1970 ?? 0) - 1_800_003_600.123) < 0.001)

        let request = try #require(server.requests.first)
        #expect(CredentialsFakes.stsProblem(request, action: "AssumeRoleWithWebIdentity") == nil)
        #expect(request.form == ["Action": "AssumeRoleWithWebIdentity", "Version": "2011-06-15", "RoleArn": roleArn,
                                 "RoleSessionName": "my-session", "WebIdentityToken": jwt])
        #expect(request.header("authorization") == nil)
        #expect(request.header("x-amz-date") == nil)
    }

    @Test func webIdentityRereadsTheTokenFileOnEveryRefresh() async throws {
        let directory = try CredentialsTempDirectory()
        let tokenFile = try directory.write("token", "first-jwt-value")
        let server = try CredentialsFakeServer(handler: CredentialsFakes.sts(
            action: "AssumeRoleWithWebIdentity", id: "ASIAWEB", secret: uniqueSecret("s"), token: uniqueSecret("t"), expiration: "2027-01-15T09:00:00Z"))
        let (client, _) = try makeCredentialsTestClients()
        let provider = try WebIdentityCredentialsProvider(
            tokenFile: tokenFile, roleArn: roleArn, stsEndpoint: server.baseURL, region: "eu-west-1", client: client, now: clock.now)

        _ = try await provider.credentials()
        try directory.write("token", "second-jwt-value")
        _ = try await provider.credentials() // still fresh: no call
        #expect(server.requests.count == 1)
        clock.advance(by: 3600 - 9 * 60) // inside the mandatory window
        _ = try await provider.credentials()
        #expect(server.requests.map { $0.form["WebIdentityToken"] } == ["first-jwt-value", "second-jwt-value"])
        #expect(server.requests.last?.form["RoleSessionName"]?.hasPrefix("appconfig-agent-") == true)
    }

    @Test func webIdentityRefusalNamesCodeAndMessageButNotTheToken() async throws {
        let directory = try CredentialsTempDirectory()
        let jwt = uniqueSecret("jwt")
        let tokenFile = try directory.write("token", jwt)
        let server = try CredentialsFakeServer { _ in
            .xml(FakeSTS.errorXML(code: "AccessDenied", message: "Not authorized to perform sts:AssumeRoleWithWebIdentity"), status: 403)
        }
        let (client, _) = try makeCredentialsTestClients()
        let provider = try WebIdentityCredentialsProvider(
            tokenFile: tokenFile, roleArn: roleArn, stsEndpoint: server.baseURL, region: "eu-west-1", client: client, now: clock.now)
        let error = try #require(await credentialsError { () async throws(CredentialsError) in try await provider.credentials() })
        #expect(error.message.contains("AccessDenied"))
        #expect(error.message.contains("Not authorized to perform sts:AssumeRoleWithWebIdentity"))
        #expect(error.message.contains("trust policy"))
        #expect(error.message.contains(roleArn))
        #expect(!error.message.contains(jwt))
        #expect(server.requests.count == 1) // a 4xx is not retried
    }

    @Test func stsErrorsNeverQuoteTheTokenOrTheSigningSecret() async throws {
        let directory = try CredentialsTempDirectory()
        let jwt = uniqueSecret("quoted-jwt")
        let tokenFile = try directory.write("token", jwt)
        let server = try CredentialsFakeServer { request in
            let quoted = request.form["WebIdentityToken"] ?? "none"
            return .xml(FakeSTS.errorXML(code: "InvalidIdentityToken", message: "Token \(quoted) is not valid"), status: 400)
        }
        let (client, _) = try makeCredentialsTestClients()
        let web = try WebIdentityCredentialsProvider(
            tokenFile: tokenFile, roleArn: roleArn, stsEndpoint: server.baseURL, region: "eu-west-1", client: client, now: clock.now)
        let webError = try #require(await credentialsError { () async throws(CredentialsError) in try await web.credentials() })
        #expect(webError.message.contains("Token [redacted] is not valid"))
        #expect(!webError.message.contains(jwt))

        let baseSecret = uniqueSecret("quoted-base")
        server.setHandler { _ in .xml(FakeSTS.errorXML(code: "SignatureDoesNotMatch", message: "expected key \(baseSecret)"), status: 403) }
        let assume = try AssumeRoleCredentialsProvider(
            base: StaticCredentialsProvider(AWSCredentials(accessKeyId: "AKIA", secretAccessKey: baseSecret)),
            roleArn: roleArn, stsEndpoint: server.baseURL, region: "eu-west-1", client: client, now: clock.now)
        let assumeError = try #require(await credentialsError { () async throws(CredentialsError) in try await assume.credentials() })
        #expect(assumeError.message.contains("SignatureDoesNotMatch"))
        #expect(assumeError.message.contains("the credentials used to assume the role are not valid"))
        #expect(!assumeError.message.contains(baseSecret))
    }

    @Test func webIdentityConfigurationMistakesAreClearErrors() async throws {
        let (client, _) = try makeCredentialsTestClients()
        #expect(try WebIdentityCredentialsProvider.fromEnvironment(["AWS_ROLE_ARN": roleArn], stsEndpoint: "https://sts.x.amazonaws.com",
                                                                  region: "eu-west-1", client: client) == nil)
        let withoutRole = #expect(throws: CredentialsError.self) {
            try WebIdentityCredentialsProvider.fromEnvironment(["AWS_WEB_IDENTITY_TOKEN_FILE": "/x"], stsEndpoint: "https://sts.x.amazonaws.com",
                                                               region: "eu-west-1", client: client)
        }
        #expect(withoutRole?.message.contains("AWS_ROLE_ARN is not") == true)

        let server = try CredentialsFakeServer { _ in .text("", status: 500) }
        let provider = try WebIdentityCredentialsProvider(
            tokenFile: "/nonexistent/creds-test/token", roleArn: roleArn, stsEndpoint: server.baseURL, region: "eu-west-1", client: client, now: clock.now)
        let missing = await credentialsError { () async throws(CredentialsError) in try await provider.credentials() }
        #expect(missing?.message.contains("/nonexistent/creds-test/token, which does not exist") == true)
        #expect(server.requests.isEmpty)
    }

    // MARK: AssumeRole

    @Test func assumeRoleSignsWithTheBaseCredentialsAndSendsTheForm() async throws {
        let base = AWSCredentials(accessKeyId: "ASIABASE", secretAccessKey: uniqueSecret("base"), sessionToken: uniqueSecret("base-token"))
        let secret = uniqueSecret("ar-secret"), token = uniqueSecret("ar-token")
        let server = try CredentialsFakeServer(handler: CredentialsFakes.sts(action: "AssumeRole", id: "ASIAROLE", secret: secret, token: token))
        let (client, _) = try makeCredentialsTestClients()
        let provider = try AssumeRoleCredentialsProvider(
            base: StaticCredentialsProvider(base), roleArn: roleArn, externalId: "ext-123", sessionName: "agent-session",
            durationSeconds: 1800, stsEndpoint: server.baseURL, region: "eu-west-1", client: client, now: clock.now)

        let credentials = try await provider.credentials()
        #expect(credentials == AWSCredentials(accessKeyId: "ASIAROLE", secretAccessKey: secret, sessionToken: token,
                                              expiration: Date(timeIntervalSince1970: 1_800_003_600)))
        let request = try #require(server.requests.first)
        #expect(CredentialsFakes.stsProblem(request, action: "AssumeRole") == nil)
        #expect(request.form == ["Action": "AssumeRole", "Version": "2011-06-15", "RoleArn": roleArn, "RoleSessionName": "agent-session",
                                 "ExternalId": "ext-123", "DurationSeconds": "1800"])
        let authorization = try #require(request.header("authorization"))
        #expect(authorization.contains("Credential=ASIABASE/20270115/eu-west-1/sts/aws4_request, "))
        #expect(authorization.contains("SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, "))
        #expect(request.header("x-amz-security-token") == base.sessionToken)
        #expect(request.header("x-amz-date") == "20270115T080000Z")
        #expect(request.header("host") == "127.0.0.1:\(server.port)")
        #expect(authorization == FakeSTS.expectedAuthorization(for: request, credentials: base, region: "eu-west-1"))
    }

    @Test func assumeRoleWithLongLivedKeysSignsThreeHeadersAndOmitsOptionalFields() async throws {
        let base = AWSCredentials(accessKeyId: "AKIABASE", secretAccessKey: uniqueSecret("base"))
        let server = try CredentialsFakeServer(handler: CredentialsFakes.sts(action: "AssumeRole", id: "ASIAROLE", secret: uniqueSecret("s"), token: uniqueSecret("t")))
        let (client, _) = try makeCredentialsTestClients()
        let provider = try AssumeRoleCredentialsProvider(
            base: StaticCredentialsProvider(base), roleArn: roleArn, stsEndpoint: server.baseURL, region: "us-east-1", client: client, now: clock.now)
        _ = try await provider.credentials()
        let request = try #require(server.requests.first)
        #expect(CredentialsFakes.stsProblem(request, action: "AssumeRole") == nil)
        #expect(request.header("authorization")?.contains("SignedHeaders=content-type;host;x-amz-date, ") == true)
        #expect(request.header("x-amz-security-token") == nil)
        #expect(request.form["ExternalId"] == nil)
        #expect(request.form["DurationSeconds"] == nil)
        #expect(request.form["RoleSessionName"] == "appconfig-agent-1800000000")
        #expect(request.header("authorization") == FakeSTS.expectedAuthorization(for: request, credentials: base, region: "us-east-1"))
    }

    @Test func assumeRoleRetriesOnceAfterAServerError() async throws {
        let answered = Mutex(0)
        let good = CredentialsFakes.sts(action: "AssumeRole", id: "ASIAROLE", secret: uniqueSecret("s"), token: uniqueSecret("t"))
        let server = try CredentialsFakeServer { request in
            let n = answered.withLock { $0 += 1; return $0 }
            return n == 1 ? .xml(FakeSTS.errorXML(code: "InternalFailure", message: "try again"), status: 500) : good(request)
        }
        let (client, _) = try makeCredentialsTestClients()
        let provider = try AssumeRoleCredentialsProvider(
            base: StaticCredentialsProvider(AWSCredentials(accessKeyId: "AKIA", secretAccessKey: uniqueSecret("b"))),
            roleArn: roleArn, stsEndpoint: server.baseURL, region: "us-east-1", client: client, now: clock.now)
        #expect(try await provider.credentials().accessKeyId == "ASIAROLE")
        #expect(server.requests.count == 2)
    }

    @Test func assumeRoleReportsAFailingBase() async throws {
        let server = try CredentialsFakeServer { _ in .text("", status: 500) }
        let (client, _) = try makeCredentialsTestClients()
        let provider = try AssumeRoleCredentialsProvider(
            base: EnvironmentCredentialsProvider(environment: [:]), roleArn: roleArn, stsEndpoint: server.baseURL,
            region: "us-east-1", client: client, now: clock.now)
        let error = await credentialsError { () async throws(CredentialsError) in try await provider.credentials() }
        #expect(error?.message.contains("cannot assume role \(roleArn)") == true)
        #expect(error?.message.contains("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set") == true)
        #expect(server.requests.isEmpty)
    }

    @Test func assumeRoleAnswerWithoutCredentialsIsRefusedWithoutEchoingIt() async throws {
        let secret = uniqueSecret("leak")
        let server = try CredentialsFakeServer { _ in
            .xml("<AssumeRoleResponse><AssumeRoleResult><Credentials><SecretAccessKey>\(secret)</SecretAccessKey></Credentials></AssumeRoleResult></AssumeRoleResponse>")
        }
        let (client, _) = try makeCredentialsTestClients()
        let provider = try AssumeRoleCredentialsProvider(
            base: StaticCredentialsProvider(AWSCredentials(accessKeyId: "AKIA", secretAccessKey: uniqueSecret("b"))),
            roleArn: roleArn, stsEndpoint: server.baseURL, region: "us-east-1", client: client, now: clock.now)
        let error = await credentialsError { () async throws(CredentialsError) in try await provider.credentials() }
        #expect(error?.message.contains("lacks AccessKeyId, SecretAccessKey or SessionToken") == true)
        #expect(error?.message.contains(secret) == false)
    }

    @Test func stsEndpointMustBeAnHTTPURL() throws {
        let (client, _) = try makeCredentialsTestClients()
        let error = #expect(throws: CredentialsError.self) {
            try AssumeRoleCredentialsProvider(base: EnvironmentCredentialsProvider(environment: [:]), roleArn: roleArn,
                                              stsEndpoint: "https://user:pw@sts.example.com", region: "us-east-1", client: client)
        }
        #expect(error?.message.contains("pw") == false)
        #expect(error?.message.contains("AWS_ENDPOINT_URL_STS") == true)
    }

    // MARK: Container

    @Test func containerRelativeURIIsFetchedWithTheAuthorizationToken() async throws {
        let secret = uniqueSecret("ecs"), token = uniqueSecret("ecs-token"), authorization = uniqueSecret("auth")
        let server = try CredentialsFakeServer(handler: CredentialsFakes.container(
            path: "/v2/credentials/abc-123", authorization: authorization,
            json: #"{"RoleArn":"arn:aws:iam::1:role/T","AccessKeyId":"ASIAECS","SecretAccessKey":"\#(secret)","Token":"\#(token)","Expiration":"2027-01-15T14:00:00Z"}"#))
        let (_, metadata) = try makeCredentialsTestClients()
        let provider = try #require(try ContainerCredentialsProvider.fromEnvironment(
            ["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/credentials/abc-123", "AWS_CONTAINER_AUTHORIZATION_TOKEN": authorization,
             "AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://127.0.0.1:1/ignored"],
            client: metadata, relativeURIBase: server.baseURL, now: clock.now))
        let credentials = try await provider.credentials()
        #expect(credentials == AWSCredentials(accessKeyId: "ASIAECS", secretAccessKey: secret, sessionToken: token,
                                              expiration: Date(timeIntervalSince1970: 1_800_021_600)))
        #expect(server.requests.map(\.target) == ["/v2/credentials/abc-123"])
    }

    @Test func containerAuthorizationTokenFileIsRereadOnRefreshAndWinsOverTheVariable() async throws {
        let directory = try CredentialsTempDirectory()
        let tokenFile = try directory.write("eks-token", "first-pod-token\n")
        let server = try CredentialsFakeServer(handler: CredentialsFakes.container(
            path: "/v1/credentials", authorization: nil,
            json: CredentialsFakes.metadataJSON(id: "ASIAPOD", secret: uniqueSecret("pod"), token: uniqueSecret("pt"), expiration: "2027-01-15T09:00:00Z")))
        let (_, metadata) = try makeCredentialsTestClients()
        let provider = try #require(try ContainerCredentialsProvider.fromEnvironment(
            ["AWS_CONTAINER_CREDENTIALS_FULL_URI": server.baseURL + "/v1/credentials",
             "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": tokenFile, "AWS_CONTAINER_AUTHORIZATION_TOKEN": "ignored-token"],
            client: metadata, now: clock.now))
        _ = try await provider.credentials()
        try directory.write("eks-token", "second-pod-token")
        clock.advance(by: 3600 - 9 * 60)
        _ = try await provider.credentials()
        #expect(server.requests.map { $0.header("authorization") } == ["first-pod-token", "second-pod-token"])
    }

    @Test func containerFullURIToAnotherHostIsRefusedAndNeverContacted() async throws {
        let server = try CredentialsFakeServer { _ in .json("{}") }
        let (_, metadata) = try makeCredentialsTestClients()
        // 0.0.0.0 reaches the local host on Linux: prove it does, so "not contacted" means something.
        let control = try await metadata.execute(HTTPClientRequest(url: "http://0.0.0.0:\(server.port)/control", timeout: .seconds(2)))
        #expect(control.status == 200)
        let before = server.connectionCount
        #expect(before >= 1)

        let error = #expect(throws: CredentialsError.self) {
            try ContainerCredentialsProvider.fromEnvironment(
                ["AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://0.0.0.0:\(server.port)/creds?token=abc"], client: metadata, now: clock.now)
        }
        #expect(error?.message.contains("http://0.0.0.0:\(server.port)/creds is refused") == true)
        #expect(error?.message.contains("use https") == true)
        #expect(error?.message.contains("token=abc") == false)
        try await Task.sleep(for: .milliseconds(50))
        #expect(server.connectionCount == before)
        #expect(server.requests.count == 1)
    }

    @Test func containerErrorStatusNamesTheEndpointAndTheTokenSettings() async throws {
        let server = try CredentialsFakeServer(handler: CredentialsFakes.container(path: "/creds", authorization: "right", json: "{}"))
        let (_, metadata) = try makeCredentialsTestClients()
        let provider = try #require(try ContainerCredentialsProvider.fromEnvironment(
            ["AWS_CONTAINER_CREDENTIALS_FULL_URI": server.baseURL + "/creds", "AWS_CONTAINER_AUTHORIZATION_TOKEN": "wrong-token-value"],
            client: metadata, now: clock.now))
        let error = try #require(await credentialsError { () async throws(CredentialsError) in try await provider.credentials() })
        #expect(error.message.contains("answered HTTP 401"))
        #expect(error.message.contains("AWS_CONTAINER_AUTHORIZATION_TOKEN"))
        #expect(!error.message.contains("wrong-token-value"))
    }

    @Test func metadataEndpointsRefuseAClientThatUsesAProxy() throws {
        let proxied = try CurlHTTPClient(configuration: HTTPClientConfiguration(useEnvironmentProxy: true))
        #expect(throws: CredentialsError.self) {
            try ContainerCredentialsProvider.fromEnvironment(["AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://127.0.0.1/x"], client: proxied)
        }
        #expect(throws: CredentialsError.self) {
            try InstanceMetadataCredentialsProvider(environment: [:], client: proxied)
        }
    }

    // MARK: IMDS

    @Test func instanceMetadataUsesTheSessionTokenFlow() async throws {
        let imdsToken = uniqueSecret("imds"), secret = uniqueSecret("ec2"), token = uniqueSecret("ec2-token")
        let server = try CredentialsFakeServer(handler: CredentialsFakes.imds(
            token: imdsToken, role: "ReaderRole", credentialsJSON: CredentialsFakes.metadataJSON(id: "ASIAEC2", secret: secret, token: token)))
        let (_, metadata) = try makeCredentialsTestClients()
        let provider = try InstanceMetadataCredentialsProvider(
            environment: ["AWS_EC2_METADATA_SERVICE_ENDPOINT": server.baseURL], client: metadata, now: clock.now)
        let credentials = try await provider.credentials()
        #expect(credentials == AWSCredentials(accessKeyId: "ASIAEC2", secretAccessKey: secret, sessionToken: token,
                                              expiration: Date(timeIntervalSince1970: 1_800_021_600)))
        #expect(provider.roleName == "ReaderRole")
        let requests = server.requests
        #expect(requests.map(\.description) == [
            "PUT /latest/api/token", "GET /latest/meta-data/iam/security-credentials/", "GET /latest/meta-data/iam/security-credentials/ReaderRole",
        ])
        #expect(requests[0].header("x-aws-ec2-metadata-token-ttl-seconds") == "21600")
        #expect(requests.dropFirst().allSatisfy { $0.header("x-aws-ec2-metadata-token") == imdsToken })

        // The fake really rejects a GET without the token.
        let bare = try await metadata.execute(HTTPClientRequest(url: server.baseURL + "/latest/meta-data/iam/security-credentials/"))
        #expect(bare.status == 401)
    }

    @Test func instanceMetadataGetsANewTokenAfterA401() async throws {
        let tokens = Mutex(["first-imds-token", "second-imds-token"])
        let current = Mutex("")
        let server = try CredentialsFakeServer { request in
            if request.method == "PUT" {
                let next = tokens.withLock { $0.removeFirst() }
                current.withLock { $0 = next }
                return .text(next)
            }
            // Accept only the newest token, as IMDS does after the old one is revoked.
            guard request.header("x-aws-ec2-metadata-token") == current.withLock({ $0 }) else { return .text("", status: 401) }
            return .text("eu-central-2")
        }
        let (_, metadata) = try makeCredentialsTestClients()
        let client = try InstanceMetadataClient(endpoint: server.baseURL, client: metadata, now: clock.now)
        #expect(try await client.region() == "eu-central-2")
        current.withLock { $0 = "revoked" } // the cached token stops working
        tokens.withLock { $0 = ["third-imds-token"] }
        #expect(try await client.region() == "eu-central-2")
        #expect(server.requests.map(\.method) == ["PUT", "GET", "GET", "PUT", "GET"])
    }

    @Test func instanceWithoutARoleSaysToAttachOne() async throws {
        let server = try CredentialsFakeServer(handler: CredentialsFakes.imds(token: "tok-imds", role: nil, credentialsJSON: "{}"))
        let (_, metadata) = try makeCredentialsTestClients()
        let provider = try InstanceMetadataCredentialsProvider(
            environment: ["AWS_EC2_METADATA_SERVICE_ENDPOINT": server.baseURL], client: metadata, now: clock.now)
        let error = await credentialsError { () async throws(CredentialsError) in try await provider.credentials() }
        #expect(error?.message.contains("no IAM role attached") == true)
    }

    @Test func instanceMetadataFallsBackToV1WhenThereIsNoTokenAPIUnlessForbidden() async throws {
        let server = try CredentialsFakeServer { request in
            if request.method == "PUT" { return .text("", status: 404) }
            return request.header("x-aws-ec2-metadata-token") == nil ? .text("ap-east-1") : .text("", status: 400)
        }
        let (_, metadata) = try makeCredentialsTestClients()
        let v1 = try InstanceMetadataClient(environment: ["AWS_EC2_METADATA_SERVICE_ENDPOINT": server.baseURL], client: metadata, now: clock.now)
        #expect(try await v1.region() == "ap-east-1")
        let strict = try InstanceMetadataClient(
            environment: ["AWS_EC2_METADATA_SERVICE_ENDPOINT": server.baseURL, "AWS_EC2_METADATA_V1_DISABLED": "true"], client: metadata, now: clock.now)
        await #expect(throws: CredentialsError.self) { try await strict.region() }
    }

    @Test func unreachableInstanceMetadataFailsFast() async throws {
        let closed = try CredentialsClosedPort()
        let (_, metadata) = try makeCredentialsTestClients()
        let provider = try InstanceMetadataCredentialsProvider(
            environment: ["AWS_EC2_METADATA_SERVICE_ENDPOINT": closed.url], client: metadata, now: clock.now)
        let began = ContinuousClock.now
        let error = await credentialsError { () async throws(CredentialsError) in try await provider.credentials() }
        #expect(error?.message.contains("could not be reached") == true)
        // Two attempts against a refused port take milliseconds; the bound is wide because the
        // unit-test process starts hundreds of tests at once on two cores. It still fails if the
        // client waited out REQUEST_TIMEOUT-sized delays or retried with a long back-off.
        #expect(ContinuousClock.now - began < .seconds(10))
    }

    // MARK: credential_process

    @Test func credentialProcessRunsThroughTheShellWithTheGivenEnvironment() async throws {
        let directory = try CredentialsTempDirectory()
        let secret = uniqueSecret("proc")
        let script = try directory.write("helper.sh", """
        #!/bin/sh
        echo run >> "\(directory.path)/runs"
        printf '{"Version": 1, "AccessKeyId": "%s", "SecretAccessKey": "%s", "SessionToken": "proc-token-value", "Expiration": "2027-01-15T09:30:00+00:00"}\\n' "$1" "$PROC_SECRET"
        """, executable: true)
        let provider = CredentialProcessProvider(
            command: "'\(script)' AKIDPROC", environment: ["PROC_SECRET": secret, "PATH": "/usr/bin:/bin"], profileName: "dev", now: clock.now)
        let credentials = try await provider.credentials()
        #expect(credentials == AWSCredentials(accessKeyId: "AKIDPROC", secretAccessKey: secret, sessionToken: "proc-token-value",
                                              expiration: Date(timeIntervalSince1970: 1_800_005_400)))
        _ = try await provider.credentials()
        #expect(try String(contentsOfFile: directory.path + "/runs", encoding: .utf8) == "run\n")
        clock.advance(by: 3600) // 30 min left: still good
        _ = try await provider.credentials()
        #expect(try String(contentsOfFile: directory.path + "/runs", encoding: .utf8) == "run\n")
        clock.advance(by: 20 * 60) // 10 min left: run again
        _ = try await provider.credentials()
        #expect(try String(contentsOfFile: directory.path + "/runs", encoding: .utf8) == "run\nrun\n")
    }

    @Test func credentialProcessWithoutExpirationIsLongLived() async throws {
        let provider = CredentialProcessProvider(
            command: #"echo '{"Version":1,"AccessKeyId":"AKIDSTATIC","SecretAccessKey":"static-proc-secret"}'"#, environment: [:], now: clock.now)
        let credentials = try await provider.credentials()
        #expect(credentials == AWSCredentials(accessKeyId: "AKIDSTATIC", secretAccessKey: "static-proc-secret"))
    }

    @Test func credentialProcessFailureHidesItsOutput() async throws {
        let secret = uniqueSecret("exit")
        let failing = CredentialProcessProvider(
            command: #"echo '{"Version":1,"AccessKeyId":"A","SecretAccessKey":"\#(secret)"}'; exit 3"#, environment: [:], profileName: "dev", now: clock.now)
        let exitError = try #require(await credentialsError { () async throws(CredentialsError) in try await failing.credentials() })
        #expect(exitError.message.contains("credential_process of profile dev exited with status 3"))
        #expect(!exitError.message.contains(secret))

        let garbage = CredentialProcessProvider(command: "echo 'Password: \(secret)'", environment: [:], now: clock.now)
        let jsonError = try #require(await credentialsError { () async throws(CredentialsError) in try await garbage.credentials() })
        #expect(jsonError.message.contains("did not return a JSON object"))
        #expect(!jsonError.message.contains(secret))
        #expect(!jsonError.message.contains("Password"))
    }

    @Test func credentialProcessMustSayVersionOne() async throws {
        let provider = CredentialProcessProvider(
            command: #"echo '{"Version":2,"AccessKeyId":"A","SecretAccessKey":"version-two-secret"}'"#, environment: [:], now: clock.now)
        let error = await credentialsError { () async throws(CredentialsError) in try await provider.credentials() }
        #expect(error?.message.contains("Version 2; only Version 1") == true)
        let missing = CredentialProcessProvider(command: #"echo '{"AccessKeyId":"A","SecretAccessKey":"no-version-secret"}'"#, environment: [:], now: clock.now)
        let noVersion = await credentialsError { () async throws(CredentialsError) in try await missing.credentials() }
        #expect(noVersion?.message.contains("without \"Version\": 1") == true)
    }

    @Test func credentialProcessThatHangsIsKilledWithItsChildren() async throws {
        let directory = try CredentialsTempDirectory()
        let pidFile = directory.path + "/child.pid"
        let provider = CredentialProcessProvider(
            command: "sleep 30 & echo $! > '\(pidFile)'; wait", environment: ["PATH": "/usr/bin:/bin"],
            timeout: .milliseconds(500), now: clock.now)
        let began = ContinuousClock.now
        let error = await credentialsError { () async throws(CredentialsError) in try await provider.credentials() }
        #expect(error?.message.contains("did not finish within") == true)
        // The child sleeps 30 s; well under that means it was killed, with room for a loaded machine.
        #expect(ContinuousClock.now - began < .seconds(20))
        let pidText = try String(contentsOfFile: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let child = try #require(Int32(pidText))
        try await Task.sleep(for: .milliseconds(100))
        // Gone, or a zombie waiting for its new parent to reap it: either way no longer running.
        let stat = try? String(contentsOfFile: "/proc/\(child)/stat", encoding: .utf8)
        let state = stat.flatMap { $0.split(separator: ")").last?.split(separator: " ").first }
        #expect(stat == nil || state == "Z", "sleep \(child) still running: \(stat ?? "")")
    }
}
