import Foundation
import Testing

/// Manifest, writeTo and backups against the real binary (SPEC §6, §7).
@Suite struct FilesEndToEndTests {
    let path = "/applications/app/environments/env/configurations/cfg"

    static func privateDirectory() throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("agent-files-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        return directory
    }

    static func mode(_ path: String) -> Int {
        var info = stat()
        guard stat(path, &info) == 0 else { return -1 }
        return Int(info.st_mode & 0o7777)
    }

    @Test func writeToWritesEveryNewVersion0600AndLogsIt() throws {
        let fake = try FakeAWS()
        try fake.settings(["next_poll_interval": 1])
        try fake.putConfiguration("app", "env", "cfg", #"{"v":1}"#, label: "1")
        let out = try Self.privateDirectory()
        let target = out.appendingPathComponent("sub/cfg.json").path
        var env = fake.agentEnvironment
        env["MANIFEST"] = #"{"app:env:cfg": {"writeTo": {"path": "\#(target)"}}}"#
        let agent = try AgentProcess(environment: env)
        #expect(waitUntil(seconds: 5) { (try? String(contentsOfFile: target, encoding: .utf8)) == #"{"v":1}"# })
        #expect(Self.mode(target) == 0o600)
        #expect(Self.mode(out.appendingPathComponent("sub").path) == 0o700)
        #expect(agent.waitForLog("wrote configuration 'app:env:cfg' to \(target)"))
        try fake.putConfiguration("app", "env", "cfg", #"{"v":2}"#, label: "2")
        Thread.sleep(forTimeInterval: 1.1)
        agent.signal(SIGHUP)
        #expect(waitUntil(seconds: 5) { (try? String(contentsOfFile: target, encoding: .utf8)) == #"{"v":2}"# })
    }

    @Test func refusedWriteToIsLoggedAndTheConfigurationStaysServed() throws {
        let fake = try FakeAWS()
        try fake.putConfiguration("app", "env", "cfg", "secret-ish", contentType: "text/plain")
        let out = try Self.privateDirectory()
        let elsewhere = out.appendingPathComponent("elsewhere.txt").path
        try Data("untouched".utf8).write(to: URL(fileURLWithPath: elsewhere))
        let target = out.appendingPathComponent("link.txt").path
        try FileManager.default.createSymbolicLink(atPath: target, withDestinationPath: elsewhere)
        var env = fake.agentEnvironment
        env["MANIFEST"] = #"{"app:env:cfg": {"writeTo": {"path": "\#(target)"}}}"#
        let agent = try AgentProcess(environment: env)
        #expect(agent.waitForLog("writeTo for 'app:env:cfg' refused or failed"))
        #expect(try String(contentsOfFile: elsewhere, encoding: .utf8) == "untouched")
        #expect(try httpGet(port: agent.port, path).text == "secret-ish")
        #expect(!agent.log.contains("secret-ish"))
    }

    @Test func groupWritableParentIsRefused() throws {
        let fake = try FakeAWS()
        try fake.putConfiguration("app", "env", "cfg", "x", contentType: "text/plain")
        let out = try Self.privateDirectory()
        chmod(out.path, 0o770)
        var env = fake.agentEnvironment
        env["MANIFEST"] = #"{"app:env:cfg": {"writeTo": {"path": "\#(out.path)/cfg.txt"}}}"#
        let agent = try AgentProcess(environment: env)
        #expect(agent.waitForLog("writable by group or others"))
        #expect(!FileManager.default.fileExists(atPath: out.path + "/cfg.txt"))
    }

    @Test func backupsAreWrittenAndServedWhenTheServiceIsDown() throws {
        let backups = try Self.privateDirectory().appendingPathComponent("backups").path
        do {
            let fake = try FakeAWS()
            try fake.putConfiguration("app", "env", "cfg", "from-service", contentType: "text/plain", label: "7")
            var env = fake.agentEnvironment
            env["BACKUP_DIRECTORY"] = backups
            env["PREFETCH_LIST"] = "app:env:cfg"
            let agent = try AgentProcess(environment: env)
            let file = backups + "/app:env:cfg.backup"
            #expect(waitUntil(seconds: 5) { FileManager.default.fileExists(atPath: file) })
            #expect(Self.mode(file) == 0o600)
            #expect(Self.mode(backups) == 0o700)
            agent.stop()
        }
        // The service is gone: nothing listens on the endpoint any more.
        for preload in ["true", "false"] {
            let down = ["AWS_ENDPOINT_URL": "http://127.0.0.1:9", "SERVICE_REGION": "us-east-1",
                        "AWS_ACCESS_KEY_ID": FakeAWS.accessKey, "AWS_SECRET_ACCESS_KEY": FakeAWS.secretKey,
                        "AWS_EC2_METADATA_DISABLED": "true", "BACKUP_DIRECTORY": backups, "PRELOAD_BACKUPS": preload,
                        "REQUEST_TIMEOUT": "3s"]
            let agent = try AgentProcess(environment: down)
            let response = try httpGet(port: agent.port, path)
            #expect(response.status == 200, "PRELOAD_BACKUPS=\(preload)")
            #expect(response.text == "from-service")
            #expect(response.header("Version-Label") == "7")
        }
    }

    @Test func tamperedBackupIsSkippedNeverServed() throws {
        let backups = try Self.privateDirectory()
        let file = backups.appendingPathComponent("app:env:cfg.backup").path
        let body = "tampered"
        let meta = #"{"application":"app","contentType":"text/plain","environment":"env","format":1,"profile":"cfg","savedAt":1,"sha256":"0000000000000000000000000000000000000000000000000000000000000000","size":8,"version":"1","versionLabel":null}"#
        try Data((meta + "\n" + body).utf8).write(to: URL(fileURLWithPath: file))
        chmod(file, 0o600)
        let env = ["AWS_ENDPOINT_URL": "http://127.0.0.1:9", "SERVICE_REGION": "us-east-1",
                   "AWS_ACCESS_KEY_ID": FakeAWS.accessKey, "AWS_SECRET_ACCESS_KEY": FakeAWS.secretKey,
                   "AWS_EC2_METADATA_DISABLED": "true", "BACKUP_DIRECTORY": backups.path, "REQUEST_TIMEOUT": "1s"]
        let agent = try AgentProcess(environment: env)
        #expect(agent.log.contains("skipped, never served"))
        #expect(try httpGet(port: agent.port, path).status != 200)
    }

    @Test func liveManifestChangeStartsNewEntriesAndABadOneIsRejected() throws {
        let fake = try FakeAWS()
        try fake.settings(["next_poll_interval": 1])
        let out = try Self.privateDirectory()
        try fake.putConfiguration("app", "env", "cfg", "one", contentType: "text/plain")
        try fake.putConfiguration("app", "env", "two", "two", contentType: "text/plain")
        try fake.putConfiguration("app", "env", "manifest", #"{"app:env:cfg": {"writeTo": {"path": "\#(out.path)/one.txt"}}}"#, label: "m1")
        var env = fake.agentEnvironment
        env["MANIFEST"] = "app:env:manifest"
        let agent = try AgentProcess(environment: env)
        #expect(waitUntil(seconds: 5) { (try? String(contentsOfFile: out.path + "/one.txt", encoding: .utf8)) == "one" })
        try fake.putConfiguration("app", "env", "manifest", #"{"app:env:cfg": {}, "app:env:two": {"writeTo": {"path": "\#(out.path)/two.txt"}}}"#, label: "m2")
        Thread.sleep(forTimeInterval: 1.1)
        agent.signal(SIGHUP)
        #expect(waitUntil(seconds: 8) { (try? String(contentsOfFile: out.path + "/two.txt", encoding: .utf8)) == "two" })
        try fake.putConfiguration("app", "env", "manifest", #"{"not a key": {}}"#, label: "m3")
        Thread.sleep(forTimeInterval: 1.1)
        agent.signal(SIGHUP)
        #expect(agent.waitForLog("version m3 rejected, the previous one stays in force", timeout: 8))
        #expect(agent.log.contains("not a key"))
    }

    @Test func manifestRoleIsAssumedThroughSTSForItsConfiguration() throws {
        let fake = try FakeAWS()
        try fake.putConfiguration("app", "env", "cfg", "role-data", contentType: "text/plain")
        var env = fake.agentEnvironment
        env["MANIFEST"] = #"{"app:env:cfg": {"credentials": {"roleArn": "arn:aws:iam::123456789012:role/Reader", "roleExternalId": "ext-1234", "roleSessionName": "agent-test", "credentialsDuration": "5m"}}}"#
        let agent = try AgentProcess(environment: env)
        #expect(waitUntil(seconds: 5) { (try? httpGet(port: agent.port, path).text) == "role-data" })
        let sts = try fake.calls().filter { ($0["service"] as? String) == "sts" }
        let form = try #require(sts.first?["form"] as? [String: Any])
        #expect(form["RoleArn"] as? String == "arn:aws:iam::123456789012:role/Reader")
        #expect(form["ExternalId"] as? String == "ext-1234")
        #expect(form["RoleSessionName"] as? String == "agent-test")
        #expect(form["DurationSeconds"] as? String == "900")
        let polls = try fake.calls(path: "/configuration")
        #expect(polls.allSatisfy { ($0["credential_source"] as? String) == "sts" })
    }

    @Test func badManifestStopsStartUpWithOneLineNamingTheKeyAndField() throws {
        let agent = try AgentProcess(environment: ["LOCAL_DEVELOPMENT_DIRECTORY": "/tmp",
                                                   "MANIFEST": #"{"a:b:c": {"writeTo": {"path": 42}}}"#],
                                     waitForListening: false)
        #expect(agent.waitForExit(timeout: 5).map { $0 != 0 } == true)
        let lines = agent.log.split(separator: "\n")
        #expect(lines.count == 1)
        #expect(lines.first?.contains("a:b:c") == true)
        #expect(lines.first?.contains("writeTo.path") == true)
    }
}
