import Foundation
import Testing
@testable import AgentCore
#if canImport(Glibc)
import Glibc
#endif

private func key(_ application: String, _ environment: String, _ profile: String) -> ConfigurationKey {
    ConfigurationKey(application: application, environment: environment, profile: profile)
}

private let flags = key("MyApp", "Prod", "Flags")
private let payments = key("Other", "Beta", "Payments")

/// A store in `<scratch>/backups` holding one backup of `flags`; returns the store and the file's path.
private func storeWithOneBackup(_ dir: String) throws -> (BackupStore, String) {
    let store = BackupStore(directory: dir + "/backups")
    try store.save(flags, content: Array("{\"on\":true}".utf8), contentType: "application/json",
                   versionLabel: "v1", version: "v1", savedAt: 1_767_366_245)
    let file = dir + "/backups/MyApp:Prod:Flags.backup"
    try #require(entryStatus(file) != nil)
    return (store, file)
}

private func overwrite(_ path: String, with bytes: [UInt8]) throws {
    let fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC)
    try #require(fd >= 0)
    defer { close(fd) }
    #expect(bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } == bytes.count)
}

private func fileBytes(_ path: String) throws -> [UInt8] {
    Array(try #require(FileManager.default.contents(atPath: path)))
}

/// Loads and expects exactly one skipped file, with no entries; returns its reason.
private func onlySkipReason(_ store: BackupStore) throws -> String? {
    let result = try store.loadAll()
    #expect(result.entries.isEmpty)
    #expect(result.skipped.count == 1)
    return result.skipped.first?.reason
}

struct BackupStoreTests {
    @Test func roundTripKeepsContentTypeVersionLabelAndVersion() throws {
        try withScratchDirectory { dir in
            let store = BackupStore(directory: dir + "/backups")
            let binary: [UInt8] = [0, 10, 255, 13, 10, 0x7B]
            try store.save(flags, content: Array("{\"on\":true}\n".utf8), contentType: "application/json",
                           versionLabel: "v1.2", version: "v1.2", savedAt: 1_767_366_245)
            try store.save(payments, content: binary, contentType: "application/octet-stream",
                           versionLabel: nil, version: "7", savedAt: 1_767_366_300)

            let result = try store.loadAll()
            #expect(result.skipped.isEmpty)
            #expect(result.entries.count == 2)
            #expect(result.entries[flags] == BackupEntry(
                key: flags, content: Array("{\"on\":true}\n".utf8), contentType: "application/json",
                versionLabel: "v1.2", version: "v1.2", savedAt: 1_767_366_245))
            #expect(result.entries[payments] == BackupEntry(
                key: payments, content: binary, contentType: "application/octet-stream",
                versionLabel: nil, version: "7", savedAt: 1_767_366_300))

            #expect(permissionBits(dir + "/backups") == 0o700)
            #expect(directoryEntries(dir + "/backups") == ["MyApp:Prod:Flags.backup", "Other:Beta:Payments.backup"])
            #expect(permissionBits(dir + "/backups/MyApp:Prod:Flags.backup") == 0o600)
        }
    }

    @Test func fileIsOneLineOfMetadataThenTheBytes() throws {
        try withScratchDirectory { dir in
            let store = BackupStore(directory: dir)
            try store.save(payments, content: Array("a/b".utf8), contentType: "text/plain", versionLabel: nil,
                           version: "7", savedAt: 1_767_366_245)
            let text = String(decoding: try fileBytes(dir + "/Other:Beta:Payments.backup"), as: UTF8.self)
            let sha = Digest.hex(Digest.sha256(Array("a/b".utf8)))
            #expect(text == """
                {"application":"Other","contentType":"text/plain","environment":"Beta","format":1,"profile":"Payments",\
                "savedAt":1767366245,"sha256":"\(sha)","size":3,"version":"7","versionLabel":null}
                a/b
                """)
        }
    }

    @Test func savingAgainReplacesTheBackup() throws {
        try withScratchDirectory { dir in
            let (store, _) = try storeWithOneBackup(dir)
            try store.save(flags, content: Array("{}".utf8), contentType: "application/json",
                           versionLabel: "v2", version: "v2", savedAt: 1_767_366_999)
            let entry = try #require(try store.loadAll().entries[flags])
            #expect(entry.content == Array("{}".utf8))
            #expect(entry.versionLabel == "v2")
            #expect(directoryEntries(dir + "/backups") == ["MyApp:Prod:Flags.backup"])
        }
    }

    @Test func fileNameEncodesOddKeysReversibly() throws {
        let odd = key("a/b", "c%d", ".e")
        #expect(BackupStore.fileName(for: odd) == "a%2Fb:c%25d:%2Ee.backup")
        #expect(BackupStore.key(forFileName: "a%2Fb:c%25d:%2Ee.backup") == odd)
        try withScratchDirectory { dir in
            let store = BackupStore(directory: dir)
            try store.save(odd, content: Array("x".utf8), contentType: "text/plain", versionLabel: nil, version: "1")
            #expect(directoryEntries(dir) == ["a%2Fb:c%25d:%2Ee.backup"])
            #expect(try store.loadAll().entries[odd]?.content == Array("x".utf8))
        }
    }

    @Test(arguments: [
        key("a:b", "c", "d"), key("..", ".", "x"), key("caf\u{e9}", "new\nline", "nul\u{0}byte"),
        key("space here", "~tilde", "-dash_under.dot"), key("%2F", "%", "100%"),
    ])
    func fileNamesRoundTripAndStaySafe(_ odd: ConfigurationKey) {
        let name = BackupStore.fileName(for: odd)
        #expect(BackupStore.key(forFileName: name) == odd)
        #expect(!name.hasPrefix("."))
        #expect(!name.utf8.contains(UInt8(ascii: "/")))
        #expect(!name.utf8.contains(0))
        #expect(name.utf8.filter { $0 == UInt8(ascii: ":") }.count == 2)
        #expect(name.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F })
    }

    @Test(arguments: ["a%2fb:c:d.backup", "a b:c:d.backup", "a:b.backup", "%ZZ:b:c.backup", "a:b:c:d.backup",
                      "a:b:c.json", ".a:b:c.backup", "a%3Ab:c:d.backup%", "%C3:b:c.backup"])
    func nonCanonicalNamesDecodeToNoKey(_ name: String) {
        #expect(BackupStore.key(forFileName: name) == nil)
    }

    @Test func longKeysUseAHashedName() throws {
        let long = key(String(repeating: "\u{e9}", count: 40), "Prod", "Flags")
        let name = BackupStore.fileName(for: long)
        #expect(name.hasPrefix("sha256-"))
        #expect(name.hasSuffix(".backup"))
        #expect(name.utf8.count == 7 + 64 + 7)
        #expect(BackupStore.key(forFileName: name) == nil)
        try withScratchDirectory { dir in
            let store = BackupStore(directory: dir)
            try store.save(long, content: Array("x".utf8), contentType: "text/plain", versionLabel: nil, version: "1")
            let result = try store.loadAll()
            #expect(result.skipped.isEmpty)
            #expect(result.entries[long]?.content == Array("x".utf8))
        }
    }

    @Test func oneBackupIsLoadedByItselfWithTheSameChecks() throws {
        try withScratchDirectory { dir in
            let (store, file) = try storeWithOneBackup(dir)
            guard case .found(let entry) = try store.load(flags) else {
                Issue.record("the backup of \(flags) was not found")
                return
            }
            #expect(entry.content == Array("{\"on\":true}".utf8))
            #expect(entry.versionLabel == "v1")
            guard case .none = try store.load(payments) else {
                Issue.record("a configuration without a backup has one")
                return
            }
            var bytes = try fileBytes(file)
            bytes[bytes.count - 2] = UInt8(ascii: "X")
            try overwrite(file, with: bytes)
            guard case .skipped(let skipped) = try store.load(flags) else {
                Issue.record("a damaged backup was not skipped")
                return
            }
            #expect(skipped.reason == "the content does not match its SHA-256 (damaged)")
            guard case .none = try BackupStore(directory: dir + "/never-created").load(flags) else {
                Issue.record("a missing directory holds a backup")
                return
            }
        }
    }

    @Test func truncatedOrExtendedBackupIsSkipped() throws {
        try withScratchDirectory { dir in
            let (store, file) = try storeWithOneBackup(dir)
            try overwrite(file, with: try fileBytes(file) + Array("extra".utf8))
            let reason = try onlySkipReason(store)
            #expect(reason?.contains("size mismatch: the metadata says 11 bytes, the file holds 16") == true)

            try overwrite(file, with: Array(try fileBytes(file).dropLast(8)))
            #expect(try onlySkipReason(store)?.contains("size mismatch") == true)
        }
    }

    @Test func alteredContentIsSkipped() throws {
        try withScratchDirectory { dir in
            let (store, file) = try storeWithOneBackup(dir)
            var bytes = try fileBytes(file)
            bytes[bytes.count - 2] ^= 0x20
            try overwrite(file, with: bytes)
            #expect(try onlySkipReason(store) == "the content does not match its SHA-256 (damaged)")
        }
    }

    @Test(arguments: [
        ("", "no metadata line"),
        ("just some text", "no metadata line"),
        ("not json\n{}", "not valid backup metadata"),
        ("{\"format\":1}\n{}", "not valid backup metadata"),
        ("{\"format\":2,\"anything\":true}\n{}", "unknown backup format 2"),
    ])
    func badMetadataIsSkipped(content: String, expected: String) throws {
        try withScratchDirectory { dir in
            let store = BackupStore(directory: dir)
            try makeFile(dir + "/MyApp:Prod:Flags.backup", content)
            #expect(try onlySkipReason(store)?.contains(expected) == true)
        }
    }

    @Test func backupUnderAnotherNameIsSkipped() throws {
        try withScratchDirectory { dir in
            let (store, file) = try storeWithOneBackup(dir)
            try #require(rename(file, dir + "/backups/MyApp:Prod:Other.backup") == 0)
            let reason = try onlySkipReason(store)
            #expect(reason?.contains("the name does not match the configuration inside (MyApp:Prod:Flags") == true)
        }
    }

    @Test(arguments: [0o640, 0o604, 0o644, 0o660, 0o610] as [mode_t])
    func backupAccessibleByOthersIsSkipped(mode: mode_t) throws {
        try withScratchDirectory { dir in
            let (store, file) = try storeWithOneBackup(dir)
            try #require(chmod(file, mode) == 0)
            #expect(try onlySkipReason(store)?.contains("chmod go-rwx \(file)") == true)
        }
    }

    @Test(.enabled(if: runsAsRoot, "needs root to create a file owned by another user"))
    func backupOwnedByAnotherUserIsSkipped() throws {
        try withScratchDirectory { dir in
            let (store, file) = try storeWithOneBackup(dir)
            try #require(chown(file, anotherUser, anotherUser) == 0)
            #expect(try onlySkipReason(store)?.contains("owned by uid \(anotherUser)") == true)
        }
    }

    @Test func symbolicLinkToABackupIsSkipped() throws {
        try withScratchDirectory { dir in
            let (store, file) = try storeWithOneBackup(dir)
            // A perfectly valid backup, reached through a link: still refused.
            try #require(rename(file, dir + "/elsewhere") == 0)
            try #require(symlink(dir + "/elsewhere", file) == 0)
            #expect(try onlySkipReason(store)?.contains("symbolic link") == true)
        }
    }

    @Test func hardLinkedBackupIsSkipped() throws {
        try withScratchDirectory { dir in
            let (store, file) = try storeWithOneBackup(dir)
            try #require(link(file, dir + "/copy") == 0)
            #expect(try onlySkipReason(store)?.contains("hard links") == true)
        }
    }

    @Test func temporaryFilesAreIgnoredAndStrangersReported() throws {
        try withScratchDirectory { dir in
            let (store, _) = try storeWithOneBackup(dir)
            try makeFile(dir + "/backups/.MyApp:Prod:Flags.backup.tmp-0123456789abcdef", "partial")
            try makeFile(dir + "/backups/notes.txt", "hello")
            try makeDirectory(dir + "/backups/sub")
            let result = try store.loadAll()
            #expect(result.entries.keys.sorted { $0.description < $1.description } == [flags])
            #expect(result.skipped.map(\.fileName) == ["notes.txt", "sub"])
        }
    }

    @Test func removeDeletesTheBackup() throws {
        try withScratchDirectory { dir in
            let (store, _) = try storeWithOneBackup(dir)
            try store.remove(flags)
            #expect(directoryEntries(dir + "/backups").isEmpty)
            try store.remove(flags)
            try BackupStore(directory: dir + "/never-created").remove(flags)
        }
    }

    @Test func missingDirectoryHoldsNoBackups() throws {
        try withScratchDirectory { dir in
            let result = try BackupStore(directory: dir + "/not/yet").loadAll()
            #expect(result.entries.isEmpty)
            #expect(result.skipped.isEmpty)
            #expect(entryStatus(dir + "/not") == nil)
        }
    }

    @Test func unsafeDirectoryIsRefusedForReadingAndWriting() throws {
        try withScratchDirectory { dir in
            let (store, _) = try storeWithOneBackup(dir)
            try #require(chmod(dir + "/backups", 0o777) == 0)
            #expect(throws: FileReadError.directory(path: dir + "/backups", directory: dir + "/backups",
                                                   problem: .writableByOthers(mode: 0o777))) {
                try store.loadAll()
            }
            #expect(throws: FileWriteError.directory(path: dir + "/backups/MyApp:Prod:Flags.backup",
                                                    directory: dir + "/backups", problem: .writableByOthers(mode: 0o777))) {
                try store.save(flags, content: [1], contentType: "x", versionLabel: nil, version: "1")
            }
        }
    }

    @Test func symbolicLinkDirectoryIsRefused() throws {
        try withScratchDirectory { dir in
            _ = try storeWithOneBackup(dir)
            try #require(symlink(dir + "/backups", dir + "/link") == 0)
            #expect(throws: FileReadError.directory(path: dir + "/link", directory: dir + "/link", problem: .symbolicLink)) {
                try BackupStore(directory: dir + "/link").loadAll()
            }
        }
    }

    @Test func relativeDirectoryIsTakenFromTheWorkingDirectory() throws {
        let cwd = FileManager.default.currentDirectoryPath
        #expect(BackupStore(directory: "backups//here/").directory == (cwd == "/" ? "" : cwd) + "/backups/here")
        #expect(BackupStore(directory: "/var//backups/").path(for: flags) == "/var/backups/MyApp:Prod:Flags.backup")
    }
}
