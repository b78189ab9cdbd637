import Foundation
import Testing

/// The real binary getting its credentials from each source of the chain, against the fake's STS,
/// container endpoint and IMDS. The fake verifies every signature and records which credentials made
/// it (`access_key`, `credential_source`), so each test shows who signed the AppConfig calls.
/// `AgentProcess` gives the agent only the variables listed here: nothing from the developer's AWS setup.
@Suite struct CredentialsEndToEndTests {
    let path = "/applications/app/environments/env/configurations/cfg"
    static let roleArn = "arn:aws:iam::123456789012:role/Reader"

    /// Endpoints on the fake, no keys, no instance metadata, no shared files.
    func baseEnvironment(_ fake: FakeAWS) -> [String: String] {
        ["AWS_ENDPOINT_URL": fake.endpoint, "SERVICE_REGION": "us-east-1",
         "AWS_EC2_METADATA_DISABLED": "true", "HOME": "/nonexistent"]
    }

    /// Starts the agent, retrieves the configuration, and returns the AppConfig calls (all well signed).
    func retrieve(_ fake: FakeAWS, _ env: [String: String], sourceLocation: SourceLocation = #_sourceLocation) throws -> (AgentProcess, [[String: Any]]) {
        try fake.putConfiguration("app", "env", "cfg", #"{"from":"aws"}"#, label: "v1")
        let agent = try AgentProcess(environment: env)
        let response = try httpGet(port: agent.port, path)
        #expect(response.status == 200, "\(agent.log)", sourceLocation: sourceLocation)
        #expect(response.text == #"{"from":"aws"}"#, sourceLocation: sourceLocation)
        let calls = try fake.calls().filter { ($0["service"] as? String) == "appconfig" }
        #expect(calls.count >= 2, sourceLocation: sourceLocation)
        #expect(calls.allSatisfy { ($0["signature_ok"] as? Bool) == true }, "\(calls)", sourceLocation: sourceLocation)
        return (agent, calls)
    }

    func issuedKeys(_ fake: FakeAWS, service: String) throws -> [String] {
        try fake.calls().filter { ($0["service"] as? String) == service }.compactMap { $0["issued_access_key"] as? String }
    }

    func signers(_ calls: [[String: Any]]) -> Set<String> { Set(calls.compactMap { $0["access_key"] as? String }) }

    @Test func roleArnIsAssumedWithTheBaseCredentialsAndSignsTheDataPlaneCalls() throws {
        let fake = try FakeAWS()
        try fake.settings(["role_external_ids": [Self.roleArn: "ext-1234"]])
        var env = fake.agentEnvironment
        env.merge(["ROLE_ARN": Self.roleArn, "ROLE_EXTERNAL_ID": "ext-1234", "ROLE_SESSION_NAME": "e2e-session"]) { _, new in new }
        let (agent, calls) = try retrieve(fake, env)

        let assume = try fake.calls().filter { ($0["action"] as? String) == "AssumeRole" }
        #expect(assume.count == 1)
        let form = assume.first?["form"] as? [String: String]
        #expect(form?["RoleArn"] == Self.roleArn)
        #expect(form?["ExternalId"] == "ext-1234")
        #expect(form?["RoleSessionName"] == "e2e-session")
        #expect(assume.first?["access_key"] as? String == FakeAWS.accessKey)
        #expect(assume.first?["signature_ok"] as? Bool == true)
        #expect(assume.first?["status"] as? Int == 200)
        #expect(signers(calls) == Set(try issuedKeys(fake, service: "sts")))
        #expect(calls.allSatisfy { ($0["credential_source"] as? String) == "sts" && ($0["credential_role_arn"] as? String) == Self.roleArn })
        #expect(!agent.log.contains(FakeAWS.secretKey))
    }

    @Test func containerCredentialsWithATokenFile() throws {
        let fake = try FakeAWS()
        let token = "container-token-\(UUID().uuidString)"
        try fake.settings(["container_token": token])
        let directory = try TemporaryFiles()
        var env = baseEnvironment(fake)
        env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = fake.endpoint + "/container-credentials/e2e"
        env["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"] = try directory.write("token", token + "\n")
        let (agent, calls) = try retrieve(fake, env)

        let container = try fake.calls().filter { ($0["service"] as? String) == "container" }
        #expect(!container.isEmpty && container.allSatisfy { ($0["status"] as? Int) == 200 })
        #expect(calls.allSatisfy { ($0["credential_source"] as? String) == "container" })
        #expect(signers(calls) == Set(try issuedKeys(fake, service: "container")))
        #expect(!agent.log.contains(token))
    }

    @Test func instanceMetadataGivesTheCredentialsAndTheRegion() throws {
        let fake = try FakeAWS()
        try fake.settings(["region": "eu-west-3"])
        var env = baseEnvironment(fake)
        env.removeValue(forKey: "SERVICE_REGION")
        env["AWS_EC2_METADATA_DISABLED"] = nil
        env["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = fake.endpoint
        let (agent, calls) = try retrieve(fake, env)

        #expect(agent.log.contains("AWS region eu-west-3"))
        let imds = try fake.calls().filter { ($0["service"] as? String) == "imds" }
        #expect(imds.contains { ($0["path"] as? String) == "/latest/api/token" && ($0["method"] as? String) == "PUT" })
        #expect(imds.filter { ($0["method"] as? String) == "GET" }.allSatisfy { ($0["imds_token_ok"] as? Bool) == true })
        #expect(calls.allSatisfy { ($0["credential_source"] as? String) == "imds" })
        #expect(signers(calls) == Set(try issuedKeys(fake, service: "imds")))
    }

    @Test func webIdentityTokenIsExchangedAtTheConfiguredSTS() throws {
        let fake = try FakeAWS()
        let token = "eyJ.web-identity.\(UUID().uuidString)"
        try fake.settings(["web_identity_token": token])
        let directory = try TemporaryFiles()
        var env = baseEnvironment(fake)
        env["AWS_ENDPOINT_URL"] = nil
        env["AWS_ENDPOINT_URL_APPCONFIGDATA"] = fake.endpoint
        env["AWS_ENDPOINT_URL_STS"] = fake.endpoint
        env["AWS_WEB_IDENTITY_TOKEN_FILE"] = try directory.write("web-identity-token", token)
        env["AWS_ROLE_ARN"] = Self.roleArn
        env["AWS_ROLE_SESSION_NAME"] = "e2e-web"
        let (agent, calls) = try retrieve(fake, env)

        let exchange = try fake.calls().filter { ($0["action"] as? String) == "AssumeRoleWithWebIdentity" }
        #expect(exchange.count == 1)
        let form = exchange.first?["form"] as? [String: String]
        #expect(form?["RoleArn"] == Self.roleArn)
        #expect(form?["RoleSessionName"] == "e2e-web")
        #expect(form?["WebIdentityToken"] == token)
        #expect(exchange.first?["status"] as? Int == 200)
        #expect(calls.allSatisfy { ($0["credential_source"] as? String) == "web_identity" })
        #expect(signers(calls) == Set(try issuedKeys(fake, service: "sts")))
        #expect(!agent.log.contains(token))
    }

    @Test func credentialProcessOfAProfileInAConfigFile() throws {
        let fake = try FakeAWS()
        let secret = "process-secret-\(UUID().uuidString)"
        try fake.settings(["add_credentials": [["access_key": "AKIDPROCESS", "secret_key": secret]]])
        let directory = try TemporaryFiles()
        let script = try directory.write("credentials.sh", """
            #!/bin/sh
            printf '{"Version": 1, "AccessKeyId": "AKIDPROCESS", "SecretAccessKey": "%s"}\\n' '\(secret)'
            """, executable: true)
        let config = try directory.write("config", "[profile e2e]\ncredential_process = \(script)\n")
        var env = baseEnvironment(fake)
        env["AWS_CONFIG_FILE"] = config
        env["AWS_SHARED_CREDENTIALS_FILE"] = directory.path + "/no-credentials"
        env["AWS_PROFILE"] = "e2e"
        let (agent, calls) = try retrieve(fake, env)

        #expect(signers(calls) == ["AKIDPROCESS"])
        #expect(!agent.log.contains(secret))
    }

    @Test func shortLivedCredentialsAreRefreshedBeforeTheyExpireWhilePollingGoesOn() throws {
        // Polls come every 15 s (the service minimum). Credentials lasting 40 s are refreshed from 20 s
        // before expiry and required from 13 s before: the poll at about 30 s must refresh them, 10 s
        // before they expire; each poll at 15 s or 45 s uses the cached ones.
        let fake = try FakeAWS()
        let lifetime = 40.0
        try fake.settings(["credentials_ttl": Int(lifetime)])
        var env = fake.agentEnvironment
        env["ROLE_ARN"] = Self.roleArn
        env["POLL_INTERVAL"] = "15s"
        env["PREFETCH_LIST"] = "app:env:cfg"
        try fake.putConfiguration("app", "env", "cfg", "polled", contentType: "text/plain")
        let agent = try AgentProcess(environment: env)

        func assumes() throws -> [[String: Any]] { try fake.calls().filter { ($0["action"] as? String) == "AssumeRole" } }
        func polls() throws -> [[String: Any]] { try fake.calls().filter { ($0["path"] as? String) == "/configuration" } }
        #expect(waitUntil(seconds: 120) {
            // Refreshed, and the new credentials signed a poll.
            guard let keys = try? issuedKeys(fake, service: "sts"), keys.count >= 2, let newest = keys.last else { return false }
            return ((try? polls()) ?? []).contains { ($0["access_key"] as? String) == newest }
        })
        let allPolls = try polls()
        #expect(allPolls.count >= 3)
        #expect(allPolls.allSatisfy { ($0["status"] as? Int) == 200 && ($0["signature_ok"] as? Bool) == true }, "\(allPolls)")
        let times = try assumes().compactMap { $0["t"] as? Double }
        #expect(times.count >= 2)
        for (earlier, later) in zip(times, times.dropFirst()) {
            #expect(later - earlier < lifetime, "refreshed \(later - earlier) s after the previous AssumeRole, past expiry")
        }
        #expect(try httpGet(port: agent.port, path).text == "polled")
    }
}

/// Proxies from the environment are libcurl's own reading of it (the client sets no CURLOPT_PROXY
/// unless `PROXY_URL` is given). The fake serves absolute-form requests, as a plain-HTTP proxy
/// receives them, and records them as such: pointed at as a proxy, it shows the proxy was used.
@Suite struct ProxyEndToEndTests {
    let path = "/applications/app/environments/env/configurations/cfg"
    /// Nothing resolves this name: only a proxy can reach it.
    let unreachable = "http://appconfig.invalid:9"
    /// Nothing listens on port 1: a request sent to this proxy fails.
    let deadProxy = "http://127.0.0.1:1"

    func retrieve(_ fake: FakeAWS, _ extra: [String: String]) throws -> (status: Int, proxied: [Bool], log: String) {
        try fake.putConfiguration("app", "env", "cfg", "via-proxy?", contentType: "text/plain")
        var env = fake.agentEnvironment
        env.merge(extra) { _, new in new }
        let agent = try AgentProcess(environment: env)
        let status = try httpGet(port: agent.port, path).status
        let calls = try fake.calls().filter { ($0["service"] as? String) == "appconfig" }
        return (status, calls.map { ($0["absolute_form"] as? Bool) == true }, agent.log)
    }

    @Test func lowerCaseHttpProxyCarriesTheCalls() throws {
        let fake = try FakeAWS()
        let result = try retrieve(fake, ["AWS_ENDPOINT_URL": unreachable, "http_proxy": fake.endpoint])
        #expect(result.status == 200, "\(result.log)")
        #expect(!result.proxied.isEmpty && result.proxied.allSatisfy { $0 })
    }

    @Test func noProxyBypassesTheProxy() throws {
        let fake = try FakeAWS()
        let result = try retrieve(fake, ["http_proxy": deadProxy, "NO_PROXY": "127.0.0.1"])
        #expect(result.status == 200, "\(result.log)")
        #expect(!result.proxied.isEmpty && result.proxied.allSatisfy { !$0 })
    }

    @Test func proxyURLWinsOverTheEnvironment() throws {
        let fake = try FakeAWS()
        let result = try retrieve(fake, ["AWS_ENDPOINT_URL": unreachable, "PROXY_URL": fake.endpoint,
                                         "http_proxy": deadProxy, "https_proxy": deadProxy, "all_proxy": deadProxy])
        #expect(result.status == 200, "\(result.log)")
        #expect(!result.proxied.isEmpty && result.proxied.allSatisfy { $0 })
    }
}

/// A private directory for one test's files, removed when released.
final class TemporaryFiles: Sendable {
    let path: String

    init() throws {
        var template = Array("/tmp/creds-e2e-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw CocoaError(.fileWriteUnknown) }
        path = String(cString: made)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// Writes `text` to `name` (mode 0600, or 0700 when executable) and returns its path.
    func write(_ name: String, _ text: String, executable: Bool = false) throws -> String {
        let file = path + "/" + name
        try Data(text.utf8).write(to: URL(fileURLWithPath: file))
        chmod(file, executable ? 0o700 : 0o600)
        return file
    }
}
