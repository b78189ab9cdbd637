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

    /// The environment of an agent whose service cannot be reached: nothing listens on the endpoint.
    static func serviceDown(backups: String, preload: String, requestTimeout: String = "3s") -> [String: String] {
        ["AWS_ENDPOINT_URL": "http://127.0.0.1:9", "SERVICE_REGION": "us-east-1",
         "AWS_ACCESS_KEY_ID": FakeAWS.accessKey, "AWS_SECRET_ACCESS_KEY": FakeAWS.secretKey,
         "AWS_EC2_METADATA_DISABLED": "true", "BACKUP_DIRECTORY": backups, "PRELOAD_BACKUPS": preload,
         "REQUEST_TIMEOUT": requestTimeout]
    }

    /// Runs an agent once against a fake of its own to leave a backup of app:env:cfg in `backups`.
    static func writeBackup(in backups: String, content: String, label: String) throws {
        let fake = try FakeAWS()
        try fake.putConfiguration("app", "env", "cfg", content, contentType: "text/plain", label: label)
        var env = fake.agentEnvironment
        env["BACKUP_DIRECTORY"] = backups
        env["PREFETCH_LIST"] = "app:env:cfg"
        let agent = try AgentProcess(environment: env)
        #expect(agent.waitForLog("backed up configuration 'app:env:cfg' version \(label)"))
        agent.stop()
    }

    /// Lines of `log` containing `text`.
    static func count(_ text: String, in log: String) -> Int {
        log.split(separator: "\n").filter { $0.contains(text) }.count
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
            let agent = try AgentProcess(environment: Self.serviceDown(backups: backups, preload: preload))
            let response = try httpGet(port: agent.port, path)
            #expect(response.status == 200, "PRELOAD_BACKUPS=\(preload)")
            #expect(response.text == "from-service")
            #expect(response.header("Version-Label") == "7")
        }
    }

    @Test func preloadedBackupIsServedAtOnceThenTheServicesVersion() throws {
        let backups = try Self.privateDirectory().appendingPathComponent("backups").path
        try Self.writeBackup(in: backups, content: "from-backup", label: "7")
        let fake = try FakeAWS()
        try fake.settings(["next_poll_interval": 1])
        try fake.putConfiguration("app", "env", "cfg", "from-service", contentType: "text/plain", label: "8")
        // The service is slow to answer the first session: the backup is what there is meanwhile.
        try fake.fault(["match": ["path": "/configurationsessions"], "kind": "slow", "delay_ms": 3000, "count": 1])
        var env = fake.agentEnvironment
        env["BACKUP_DIRECTORY"] = backups
        env["PRELOAD_BACKUPS"] = "true"
        let agent = try AgentProcess(environment: env)
        let first = try httpGet(port: agent.port, path)
        #expect(first.status == 200)
        #expect(first.text == "from-backup")
        #expect(first.header("Version-Label") == "7")
        let ready = try httpGet(port: agent.port, "/ready").text
        #expect(ready.contains(#""configuration":"app:env:cfg","required":false,"state":"loaded","version":"7","ageSeconds":"#), "\(ready)")
        #expect(ready.contains(#""source":"backup""#), "\(ready)")
        #expect(waitUntil(seconds: 10) { (try? httpGet(port: agent.port, path))?.header("Version-Label") == "8" })
        #expect(try httpGet(port: agent.port, path).text == "from-service")
        let later = try httpGet(port: agent.port, "/ready").text
        #expect(later.contains(#""version":"8","ageSeconds":"#) && later.contains(#""source":"service""#), "\(later)")
    }

    @Test func backupIsNotServedWithoutPreloadWhileTheServiceAnswers() throws {
        let backups = try Self.privateDirectory().appendingPathComponent("backups").path
        try Self.writeBackup(in: backups, content: "from-backup", label: "7")
        let fake = try FakeAWS()
        try fake.putConfiguration("app", "env", "cfg", "from-service", contentType: "text/plain", label: "8")
        try fake.fault(["match": ["path": "/configurationsessions"], "kind": "slow", "delay_ms": 1000, "count": 1])
        var env = fake.agentEnvironment
        env["BACKUP_DIRECTORY"] = backups
        env["PRELOAD_BACKUPS"] = "false"
        env["REQUEST_TIMEOUT"] = "10s"
        let agent = try AgentProcess(environment: env)
        let first = try httpGet(port: agent.port, path)
        #expect(first.status == 200)
        #expect(first.text == "from-service")
        #expect(first.header("Version-Label") == "8")
        #expect(!agent.log.contains("serving its backup"))
    }

    @Test func unreadableBackupIsSkippedWithAWarningNeverServed() throws {
        guard geteuid() != 0 else {
            print("unreadableBackupIsSkippedWithAWarningNeverServed: skipped, root reads a mode 0000 file anyway")
            return
        }
        let backups = try Self.privateDirectory().appendingPathComponent("backups").path
        try Self.writeBackup(in: backups, content: "from-backup", label: "7")
        chmod(backups + "/app:env:cfg.backup", 0)
        for preload in ["true", "false"] {
            let agent = try AgentProcess(environment: Self.serviceDown(backups: backups, preload: preload, requestTimeout: "1s"))
            let response = try httpGet(port: agent.port, path)
            #expect(response.status != 200, "PRELOAD_BACKUPS=\(preload)")
            #expect(!response.text.contains("from-backup"))
            #expect(agent.waitForLog("backup app:env:cfg.backup in \(backups) skipped, never served"), "PRELOAD_BACKUPS=\(preload)")
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
        try fake.putConfiguration("app", "env", "manifest", #"{"app:env:cfg": {"zzNewFeature": 1}, "app:env:two": {"writeTo": {"path": "\#(out.path)/two.txt"}}}"#, label: "m2")
        Thread.sleep(forTimeInterval: 1.1)
        agent.signal(SIGHUP)
        #expect(waitUntil(seconds: 8) { (try? String(contentsOfFile: out.path + "/two.txt", encoding: .utf8)) == "two" })
        #expect(agent.waitForLog("version m2 applied"))
        #expect(Self.count("zzNewFeature", in: agent.log) == 1)
        try fake.putConfiguration("app", "env", "manifest", #"{"not a key": {}}"#, label: "m3")
        Thread.sleep(forTimeInterval: 1.1)
        agent.signal(SIGHUP)
        #expect(agent.waitForLog("version m3 rejected, the previous one stays in force", timeout: 8))
        #expect(agent.log.contains("not a key"))
        // m2 is still in force: a new version of a configuration it writes reaches its file.
        try fake.putConfiguration("app", "env", "two", "two, second version", contentType: "text/plain")
        Thread.sleep(forTimeInterval: 1.1)
        agent.signal(SIGHUP)
        #expect(waitUntil(seconds: 8) { (try? String(contentsOfFile: out.path + "/two.txt", encoding: .utf8)) == "two, second version" })
    }

    @Test func liveManifestChangeMovesWriteToAndDropsRemovedEntries() throws {
        let fake = try FakeAWS()
        try fake.settings(["next_poll_interval": 1])
        let out = try Self.privateDirectory()
        try fake.putConfiguration("app", "env", "cfg", "one", contentType: "text/plain")
        try fake.putConfiguration("app", "env", "two", "two", contentType: "text/plain")
        try fake.putConfiguration("app", "env", "kept", "kept", contentType: "text/plain")
        try fake.putConfiguration("app", "env", "manifest", #"{"app:env:cfg": {"writeTo": {"path": "\#(out.path)/one.txt"}}, "app:env:two": {}, "app:env:kept": {}}"#, label: "m1")
        var env = fake.agentEnvironment
        env["MANIFEST"] = "app:env:manifest"
        env["PREFETCH_LIST"] = "app:env:kept"
        let agent = try AgentProcess(environment: env)
        let twoPath = "/applications/app/environments/env/configurations/two"
        #expect(waitUntil(seconds: 5) { (try? String(contentsOfFile: out.path + "/one.txt", encoding: .utf8)) == "one" })
        #expect(waitUntil(seconds: 5) { (try? httpGet(port: agent.port, twoPath).text) == "two" })
        // m2 moves cfg's file, drops two, and drops kept, which PREFETCH_LIST still asks for.
        try fake.putConfiguration("app", "env", "manifest", #"{"app:env:cfg": {"writeTo": {"path": "\#(out.path)/moved/one.txt"}}}"#, label: "m2")
        Thread.sleep(forTimeInterval: 1.1)
        agent.signal(SIGHUP)
        #expect(waitUntil(seconds: 8) { (try? String(contentsOfFile: out.path + "/moved/one.txt", encoding: .utf8)) == "one" })
        #expect(waitUntil(seconds: 5) { !FileManager.default.fileExists(atPath: out.path + "/one.txt") })
        // two is no longer served nor polled; kept is both.
        #expect(waitUntil(seconds: 5) { (try? httpGet(port: agent.port, "/ready").text).map { !$0.contains("app:env:two") } == true })
        #expect(try httpGet(port: agent.port, "/ready").text.contains("app:env:kept"))
        func polls(_ profile: String) throws -> Int {
            try fake.calls(path: "/configuration").filter { ($0["profile"] as? String) == profile }.count
        }
        let twoBefore = try polls("two"), keptBefore = try polls("kept")
        for _ in 0..<2 {
            Thread.sleep(forTimeInterval: 1.1)
            agent.signal(SIGHUP)
        }
        #expect(waitUntil(seconds: 5) { ((try? polls("kept")) ?? 0) > keptBefore })
        #expect(try polls("two") == twoBefore)
        // Asked for again, two is retrieved afresh like any configuration never seen: its current version.
        try fake.putConfiguration("app", "env", "two", "two, second version", contentType: "text/plain")
        let again = try httpGet(port: agent.port, twoPath)
        #expect(again.status == 200)
        #expect(again.text == "two, second version")
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

    /// A request for a configuration arrives before the manifest kept in AppConfig, which gives it a
    /// role: its poller is replaced while the request waits, and the request gets the new poller's
    /// answer, not a failure.
    @Test func aRequestWaitingWhileTheManifestReplacesItsPollerIsAnswered() throws {
        let fake = try FakeAWS()
        let role = "arn:aws:iam::123456789012:role/Reader"
        try fake.putConfiguration("app", "env", "cfg", "role-data", contentType: "text/plain")
        try fake.putConfiguration("app", "env", "manifest", #"{"app:env:cfg": {"credentials": {"roleArn": "\#(role)", "credentialsDuration": "1h"}}}"#, label: "m1")
        // The manifest arrives after 1 s; the request's own first session would take 4 s.
        try fake.fault(["match": ["path": "/configurationsessions", "profile": "manifest"], "kind": "slow", "delay_ms": 1000, "count": 1])
        try fake.fault(["match": ["path": "/configurationsessions", "profile": "cfg"], "kind": "slow", "delay_ms": 4000, "count": 1])
        var env = fake.agentEnvironment
        env["MANIFEST"] = "app:env:manifest"
        env["WAIT_ON_MANIFEST"] = "false"
        env["REQUEST_TIMEOUT"] = "6s"
        let agent = try AgentProcess(environment: env)
        let response = try httpGet(port: agent.port, path)
        #expect(response.status == 200, "\(response.text)")
        #expect(response.text == "role-data")
        #expect(agent.log.contains("retrieved anew, with its manifest role"))
        let polls = try fake.calls(path: "/configuration").filter { ($0["profile"] as? String) == "cfg" }
        #expect(polls.first.map { ($0["credential_role_arn"] as? String) == role } == true)
    }

    @Test func aPreloadedConfigurationInThePrefetchListStartsOneSession() throws {
        let backups = try Self.privateDirectory().appendingPathComponent("backups").path
        try Self.writeBackup(in: backups, content: "from-backup", label: "7")
        let fake = try FakeAWS()
        try fake.putConfiguration("app", "env", "cfg", "from-service", contentType: "text/plain", label: "8")
        var env = fake.agentEnvironment
        env["BACKUP_DIRECTORY"] = backups
        env["PREFETCH_LIST"] = "app:env:cfg"
        let agent = try AgentProcess(environment: env)
        #expect(waitUntil(seconds: 5) { (try? httpGet(port: agent.port, path).text) == "from-service" })
        Thread.sleep(forTimeInterval: 0.5)
        #expect(try fake.calls(path: "/configurationsessions").count == 1)
        #expect(!agent.log.contains("retrieved anew"))
    }

    @Test func manifestRoleIsAssumedForAConfigurationPreloadedFromABackup() throws {
        let backups = try Self.privateDirectory().appendingPathComponent("backups").path
        try Self.writeBackup(in: backups, content: "from-backup", label: "7")
        let fake = try FakeAWS()
        try fake.settings(["next_poll_interval": 1])
        try fake.putConfiguration("app", "env", "cfg", "role-data", contentType: "text/plain", label: "8")
        let role = "arn:aws:iam::123456789012:role/Reader"
        var env = fake.agentEnvironment
        env["BACKUP_DIRECTORY"] = backups
        env["PRELOAD_BACKUPS"] = "true"
        env["MANIFEST"] = #"{"app:env:cfg": {"credentials": {"roleArn": "\#(role)", "credentialsDuration": "1h"}}}"#
        let agent = try AgentProcess(environment: env)
        #expect(waitUntil(seconds: 5) { (try? httpGet(port: agent.port, path).text) == "role-data" })
        for _ in 0..<3 {
            Thread.sleep(forTimeInterval: 1.1)
            agent.signal(SIGHUP)
        }
        #expect(waitUntil(seconds: 5) { ((try? fake.calls(path: "/configuration").count) ?? 0) >= 3 })
        let dataPlane = try fake.calls().filter { ($0["service"] as? String) == "appconfig" && $0["status"] as? Int != nil }
        #expect(!dataPlane.isEmpty)
        #expect(dataPlane.allSatisfy { ($0["credential_role_arn"] as? String) == role })
        let assumed = try fake.calls().filter { ($0["action"] as? String) == "AssumeRole" && ($0["form"] as? [String: Any])?["RoleArn"] as? String == role }
        #expect(assumed.count == 1)
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
