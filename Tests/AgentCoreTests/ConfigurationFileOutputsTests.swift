import Foundation
import Testing
@testable import AgentCore
#if canImport(Glibc)
import Glibc
#endif

/// `ConfigurationFileOutputs` with the real `AtomicFileWriter` on a scratch directory.
struct ConfigurationFileOutputsTests {
    let key = ConfigurationKey(parsing: "App:Env:Cfg")!
    let other = ConfigurationKey(parsing: "App:Env:Other")!

    func snapshot(_ generation: UInt64, _ payloads: ConfigurationPayload...) -> StoreSnapshot {
        StoreSnapshot(configurations: Dictionary(uniqueKeysWithValues: payloads.map { ($0.key, $0) }), generation: generation)
    }

    @Test func anOlderSnapshotArrivingLateIsNotWritten() throws {
        try withScratchDirectory { dir in
            let outputs = ConfigurationFileOutputs(backupDirectory: dir + "/backups")
            let target = WriteTarget(path: dir + "/cfg.txt")
            outputs.setTargets([key: target], snapshot: snapshot(0))
            let older = ConfigurationPayload(key: key, content: Array("v1".utf8), contentType: "text/plain", version: "1",
                                             versionLabel: "1", source: .service, receivedAt: 0)
            let newer = ConfigurationPayload(key: key, content: Array("v2".utf8), contentType: "text/plain", version: "2",
                                             versionLabel: "2", source: .service, receivedAt: 0)
            outputs.storeChanged(snapshot(3, newer))
            outputs.storeChanged(snapshot(2, older))
            outputs.drain()
            #expect(fileText(target.path) == "v2")
            let backup = try BackupStore(directory: dir + "/backups").load(key)
            guard case .found(let entry) = backup else {
                Issue.record("no backup: \(backup)")
                return
            }
            #expect(entry.version == "2")
        }
    }

    /// Targets set from a snapshot older than one the store delivered meanwhile are written from
    /// the newer one, not skipped as stale.
    @Test func targetsSetFromAnOlderSnapshotAreWrittenFromTheNewestSeen() throws {
        try withScratchDirectory { dir in
            let outputs = ConfigurationFileOutputs(backupDirectory: nil)
            outputs.storeChanged(snapshot(5, payload("App:Env:Cfg", "newest")))
            outputs.setTargets([key: WriteTarget(path: dir + "/cfg.txt")], snapshot: snapshot(4, payload("App:Env:Cfg", "older")))
            outputs.drain()
            #expect(fileText(dir + "/cfg.txt") == "newest")
        }
    }

    /// Version labels may be reused: new content under the same label is a new version on disk too.
    @Test func newContentUnderAReusedLabelIsWrittenAndBackedUp() throws {
        try withScratchDirectory { dir in
            let outputs = ConfigurationFileOutputs(backupDirectory: dir + "/backups")
            let target = WriteTarget(path: dir + "/cfg.txt")
            outputs.setTargets([key: target], snapshot: snapshot(0))
            for (generation, text) in [(1, "first"), (2, "second")] {
                outputs.storeChanged(snapshot(UInt64(generation), ConfigurationPayload(
                    key: key, content: Array(text.utf8), contentType: "text/plain", version: "7", versionLabel: "7",
                    source: .service, receivedAt: 0)))
                outputs.drain()
                #expect(fileText(target.path) == text)
                guard case .found(let entry) = try BackupStore(directory: dir + "/backups").load(key) else {
                    Issue.record("no backup")
                    return
                }
                #expect(entry.content == Array(text.utf8))
            }
        }
    }

    @Test func aMovedTargetIsWrittenAndTheOldFileRemoved() throws {
        try withScratchDirectory { dir in
            let outputs = ConfigurationFileOutputs(backupDirectory: nil)
            let current = snapshot(1, payload("App:Env:Cfg", "one"))
            outputs.setTargets([key: WriteTarget(path: dir + "/old.json")], snapshot: current)
            outputs.drain()
            #expect(fileText(dir + "/old.json") == "one")
            outputs.setTargets([key: WriteTarget(path: dir + "/sub/new.json")], snapshot: current)
            outputs.drain()
            #expect(fileText(dir + "/sub/new.json") == "one")
            #expect(entryStatus(dir + "/old.json") == nil)
        }
    }

    @Test func aRemovedTargetTakesItsFileWith() throws {
        try withScratchDirectory { dir in
            let outputs = ConfigurationFileOutputs(backupDirectory: nil)
            let current = snapshot(1, payload("App:Env:Cfg", "one"), payload("App:Env:Other", "two"))
            outputs.setTargets([key: WriteTarget(path: dir + "/cfg.json"), other: WriteTarget(path: dir + "/other.json")],
                               snapshot: current)
            outputs.drain()
            outputs.setTargets([other: WriteTarget(path: dir + "/other.json")], snapshot: current)
            outputs.drain()
            #expect(entryStatus(dir + "/cfg.json") == nil)
            #expect(fileText(dir + "/other.json") == "two")
        }
    }

    @Test func swappedPathsKeepBothFiles() throws {
        try withScratchDirectory { dir in
            let outputs = ConfigurationFileOutputs(backupDirectory: nil)
            let current = snapshot(1, payload("App:Env:Cfg", "one"), payload("App:Env:Other", "two"))
            outputs.setTargets([key: WriteTarget(path: dir + "/a"), other: WriteTarget(path: dir + "/b")], snapshot: current)
            outputs.setTargets([key: WriteTarget(path: dir + "/b"), other: WriteTarget(path: dir + "/a")], snapshot: current)
            outputs.drain()
            #expect(fileText(dir + "/a") == "two")
            #expect(fileText(dir + "/b") == "one")
        }
    }

    @Test func aModeChangeRewritesAtOnce() throws {
        try withScratchDirectory { dir in
            let outputs = ConfigurationFileOutputs(backupDirectory: nil)
            let current = snapshot(1, payload("App:Env:Cfg", "one"))
            outputs.setTargets([key: WriteTarget(path: dir + "/cfg.json")], snapshot: current)
            outputs.drain()
            #expect(permissionBits(dir + "/cfg.json") == 0o600)
            outputs.setTargets([key: WriteTarget(path: dir + "/cfg.json", mode: .groupReadable)], snapshot: current)
            outputs.drain()
            #expect(permissionBits(dir + "/cfg.json") == 0o640)
            #expect(fileText(dir + "/cfg.json") == "one")
        }
    }

    @Test func anOldPathNoLongerOurRegularFileIsLeftAlone() throws {
        try withScratchDirectory { dir in
            let outputs = ConfigurationFileOutputs(backupDirectory: nil)
            let current = snapshot(1, payload("App:Env:Cfg", "one"))
            outputs.setTargets([key: WriteTarget(path: dir + "/old.json")], snapshot: current)
            outputs.drain()
            // Someone replaced the file by a link to something else since.
            try makeFile(dir + "/elsewhere", "keep")
            try FileManager.default.removeItem(atPath: dir + "/old.json")
            try FileManager.default.createSymbolicLink(atPath: dir + "/old.json", withDestinationPath: dir + "/elsewhere")
            outputs.setTargets([:], snapshot: current)
            outputs.drain()
            #expect(entryStatus(dir + "/old.json").map { $0.st_mode & S_IFMT == S_IFLNK } == true)
            #expect(fileText(dir + "/elsewhere") == "keep")
        }
    }

    @Test func aPathNeverWrittenIsNotRemoved() throws {
        try withScratchDirectory { dir in
            let outputs = ConfigurationFileOutputs(backupDirectory: nil)
            // The configuration is not loaded yet, so nothing was written to the first path …
            try makeFile(dir + "/somebody-elses.json", "keep")
            outputs.setTargets([key: WriteTarget(path: dir + "/somebody-elses.json")], snapshot: snapshot(0))
            outputs.setTargets([key: WriteTarget(path: dir + "/new.json")], snapshot: snapshot(0))
            outputs.drain()
            // … and the file there is left as it was.
            #expect(fileText(dir + "/somebody-elses.json") == "keep")
        }
    }
}
