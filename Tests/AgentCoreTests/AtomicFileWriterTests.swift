import Foundation
import Testing
@testable import AgentCore
#if canImport(Glibc)
import Glibc
#endif

// Helpers shared with BackupStoreTests.swift (same test module).

/// Where scratch directories go: /dev/shm when there is one, else /tmp. On tmpfs `fsync` costs
/// nothing; on a disk each write's two `fsync`s block a test thread, and the timing-sensitive HTTP
/// client tests running beside these ones feel it on a two-core machine.
private let scratchBase: String = {
    var status = stat()
    return stat("/dev/shm", &status) == 0 && status.st_mode & S_IFMT == S_IFDIR && access("/dev/shm", W_OK) == 0
        ? "/dev/shm" : "/tmp"
}()

/// A fresh directory (mode 0700, ours), removed when the test ends.
func withScratchDirectory(_ body: (String) throws -> Void) throws {
    var template = Array("\(scratchBase)/files-test.XXXXXX".utf8CString)
    let created: String? = template.withUnsafeMutableBufferPointer { buffer in
        buffer.baseAddress.flatMap { mkdtemp($0) }.map { String(cString: $0) }
    }
    let path = try #require(created)
    defer { try? FileManager.default.removeItem(atPath: path) }
    try body(path)
}

/// `lstat`: the entry itself, never what a link points to.
func entryStatus(_ path: String) -> stat? {
    var status = stat()
    return lstat(path, &status) == 0 ? status : nil
}

func permissionBits(_ path: String) -> UInt32? {
    entryStatus(path).map { $0.st_mode & 0o7777 }
}

func fileText(_ path: String) -> String? {
    FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) }
}

/// Creates (or truncates) a file with exactly `mode`, whatever the umask.
func makeFile(_ path: String, _ text: String, mode: mode_t = 0o600) throws {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
    try #require(fd >= 0, "open \(path): errno \(errno)")
    defer { close(fd) }
    let bytes = Array(text.utf8)
    #expect(bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } == bytes.count)
    #expect(fchmod(fd, mode) == 0)
}

func makeDirectory(_ path: String, mode: mode_t = 0o700) throws {
    try #require(mkdir(path, 0o700) == 0, "mkdir \(path): errno \(errno)")
    try #require(chmod(path, mode) == 0)
}

func directoryEntries(_ path: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
}

let runsAsRoot = geteuid() == 0
let anotherUser: uid_t = 65534

private func writeError(_ body: () throws(FileWriteError) -> Void) -> FileWriteError? {
    do {
        try body()
        return nil
    } catch {
        return error
    }
}

private func readError(_ body: () throws(FileReadError) -> Void) -> FileReadError? {
    do {
        try body()
        return nil
    } catch {
        return error
    }
}

private let writer = AtomicFileWriter()
private let secret = "s3cr3t-payload-never-in-errors"

struct AtomicFileWriterTests {
    @Test func writesNewFileOwnerOnlyAndOwnedByTheAgent() throws {
        try withScratchDirectory { dir in
            let path = dir + "/config.json"
            try writer.write(Array("{\"a\":1}".utf8), to: path)
            #expect(fileText(path) == "{\"a\":1}")
            let status = try #require(entryStatus(path))
            #expect(status.st_mode & S_IFMT == S_IFREG)
            #expect(status.st_mode & 0o7777 == 0o600)
            #expect(status.st_uid == geteuid())
            #expect(directoryEntries(dir) == ["config.json"])
        }
    }

    @Test func writesEmptyContent() throws {
        try withScratchDirectory { dir in
            try writer.write([UInt8](), to: dir + "/empty")
            #expect(fileText(dir + "/empty") == "")
        }
    }

    @Test func groupReadableModeIsAllowed() throws {
        try withScratchDirectory { dir in
            try writer.write(Array("x".utf8), to: dir + "/shared", mode: .groupReadable)
            #expect(permissionBits(dir + "/shared") == 0o640)
        }
    }

    @Test(arguments: [0o644, 0o666, 0o660, 0o700, 0o400, 0o4600, 0o1600] as [UInt32])
    func refusesEveryOtherMode(mode: UInt32) throws {
        try withScratchDirectory { dir in
            let path = dir + "/config"
            let error = writeError { () throws(FileWriteError) in
                try writer.write(Array("x".utf8), to: path, mode: FileMode(rawValue: mode))
            }
            #expect(error == .unsupportedMode(path: path, mode: FileMode(rawValue: mode)))
            #expect(directoryEntries(dir).isEmpty)
        }
    }

    @Test func replacesExistingFileAtomically() throws {
        try withScratchDirectory { dir in
            let path = dir + "/config"
            try writer.write(Array("old content".utf8), to: path)
            let oldInode = try #require(entryStatus(path)).st_ino
            // A reader that opened the old file keeps reading the whole old file: it is replaced, not rewritten.
            let reader = open(path, O_RDONLY | O_CLOEXEC)
            try #require(reader >= 0)
            defer { close(reader) }

            try writer.write(Array("new".utf8), to: path)

            #expect(try #require(entryStatus(path)).st_ino != oldInode)
            #expect(fileText(path) == "new")
            var buffer = [UInt8](repeating: 0, count: 64)
            let count = buffer.withUnsafeMutableBytes { pread(reader, $0.baseAddress, $0.count, 0) }
            #expect(count == 11)
            #expect(String(decoding: buffer.prefix(max(count, 0)), as: UTF8.self) == "old content")
            #expect(directoryEntries(dir) == ["config"])
        }
    }

    /// What a writer killed mid-write leaves behind goes with the next write once it is a minute
    /// old; a fresh one (a writer that may still be running), other names and links stay.
    @Test func staleTemporaryFilesOfTheTargetAreRemovedByTheNextWrite() throws {
        try withScratchDirectory { dir in
            func age(_ name: String, seconds: Int) throws {
                var times = [timespec(tv_sec: time(nil) - seconds, tv_nsec: 0), timespec(tv_sec: time(nil) - seconds, tv_nsec: 0)]
                try #require(utimensat(AT_FDCWD, dir + "/" + name, &times, AT_SYMLINK_NOFOLLOW) == 0)
            }
            let stale = ".config.tmp-0123456789abcdef"
            let fresh = ".config.tmp-fedcba9876543210"
            let otherTarget = ".other.tmp-0123456789abcdef"
            let notOurs = ".config.tmp-backup"
            let link = ".config.tmp-aaaaaaaaaaaaaaaa"
            for name in [stale, fresh, otherTarget, notOurs] { try makeFile(dir + "/" + name, "partial") }
            try #require(symlink("/nonexistent", dir + "/" + link) == 0)
            for name in [stale, otherTarget, notOurs, link] { try age(name, seconds: 3600) }

            try writer.write(Array("v2".utf8), to: dir + "/config")

            #expect(directoryEntries(dir) == [link, fresh, otherTarget, notOurs, "config"].sorted())
            #expect(fileText(dir + "/config") == "v2")
        }
    }

    @Test func existingFileWithWiderModeIsReplacedOwnerOnly() throws {
        try withScratchDirectory { dir in
            let path = dir + "/config"
            try makeFile(path, "old", mode: 0o666)
            try writer.write(Array("new".utf8), to: path)
            #expect(permissionBits(path) == 0o600)
            #expect(fileText(path) == "new")
        }
    }

    @Test func refusesSymbolicLinkTarget() throws {
        try withScratchDirectory { dir in
            try makeFile(dir + "/victim", "victim")
            try #require(symlink(dir + "/victim", dir + "/config") == 0)
            let error = writeError { () throws(FileWriteError) in try writer.write(Array(secret.utf8), to: dir + "/config") }
            #expect(error == .targetIsSymbolicLink(path: dir + "/config"))
            #expect(fileText(dir + "/victim") == "victim")
            #expect(try #require(entryStatus(dir + "/config")).st_mode & S_IFMT == S_IFLNK)
            #expect(directoryEntries(dir) == ["config", "victim"])
        }
    }

    @Test func refusesDanglingSymbolicLinkTarget() throws {
        try withScratchDirectory { dir in
            try #require(symlink(dir + "/planted", dir + "/config") == 0)
            let error = writeError { () throws(FileWriteError) in try writer.write(Array(secret.utf8), to: dir + "/config") }
            #expect(error == .targetIsSymbolicLink(path: dir + "/config"))
            #expect(entryStatus(dir + "/planted") == nil)
        }
    }

    @Test func refusesSymbolicLinkParent() throws {
        try withScratchDirectory { dir in
            try makeDirectory(dir + "/real")
            try #require(symlink(dir + "/real", dir + "/link") == 0)
            let error = writeError { () throws(FileWriteError) in try writer.write(Array("x".utf8), to: dir + "/link/config") }
            #expect(error == .directory(path: dir + "/link/config", directory: dir + "/link", problem: .symbolicLink))
            #expect(directoryEntries(dir + "/real").isEmpty)
            #expect(error?.description.contains("symbolic link") == true)
        }
    }

    @Test func followsSymbolicLinksAboveTheParent() throws {
        try withScratchDirectory { dir in
            try makeDirectory(dir + "/real")
            try makeDirectory(dir + "/real/app")
            try #require(symlink(dir + "/real", dir + "/link") == 0)
            try writer.write(Array("x".utf8), to: dir + "/link/app/config")
            #expect(fileText(dir + "/real/app/config") == "x")
        }
    }

    @Test func followsRelativeLinksWithDotDotAboveTheParent() throws {
        try withScratchDirectory { dir in
            try makeDirectory(dir + "/a")
            try makeDirectory(dir + "/a/real")
            try makeDirectory(dir + "/a/real/app")
            try makeDirectory(dir + "/b")
            try #require(symlink("../a/./real", dir + "/b/link") == 0)
            try writer.write(Array("x".utf8), to: dir + "/b/link/app/config")
            #expect(fileText(dir + "/a/real/app/config") == "x")
        }
    }

    /// An ancestor anyone can write could have the directory below it swapped for another, so the
    /// write would land wherever they like: every directory on the way is held to the parent's rules.
    @Test(arguments: [0o777, 0o770, 0o775] as [mode_t])
    func refusesAncestorWritableByGroupOrOthers(mode: mode_t) throws {
        try withScratchDirectory { dir in
            let shared = dir + "/shared"
            try makeDirectory(shared, mode: mode)
            try makeDirectory(shared + "/app")
            let path = shared + "/app/config"
            let error = writeError { () throws(FileWriteError) in try writer.write(Array(secret.utf8), to: path) }
            #expect(error == .directory(path: path, directory: shared, problem: .writableByOthers(mode: UInt32(mode))))
            #expect(directoryEntries(shared + "/app").isEmpty)
        }
    }

    @Test func refusesLinkWhoseTargetPassesThroughAWritableDirectory() throws {
        try withScratchDirectory { dir in
            let shared = dir + "/shared"
            try makeDirectory(shared, mode: 0o777)
            try makeDirectory(shared + "/app")
            try #require(symlink(shared, dir + "/link") == 0)
            let path = dir + "/link/app/config"
            let error = writeError { () throws(FileWriteError) in try writer.write(Array(secret.utf8), to: path) }
            #expect(error == .directory(path: path, directory: shared, problem: .writableByOthers(mode: 0o777)))
            #expect(directoryEntries(shared + "/app").isEmpty)
        }
    }

    @Test func refusesALoopOfLinks() throws {
        try withScratchDirectory { dir in
            try #require(symlink(dir + "/two", dir + "/one") == 0)
            try #require(symlink(dir + "/one", dir + "/two") == 0)
            let path = dir + "/one/app/config"
            let error = writeError { () throws(FileWriteError) in try writer.write(Array(secret.utf8), to: path) }
            guard case .io(_, let operation, let code) = error else {
                Issue.record("expected an I/O error, got \(String(describing: error))")
                return
            }
            #expect(code == ELOOP)
            #expect(operation.hasPrefix("resolve "))
        }
    }

    @Test(.enabled(if: runsAsRoot, "needs root to create a directory owned by another user"))
    func refusesAncestorOwnedByAnotherUser() throws {
        try withScratchDirectory { dir in
            let theirs = dir + "/theirs"
            try makeDirectory(theirs, mode: 0o755)
            try makeDirectory(theirs + "/app")
            try #require(chown(theirs, anotherUser, anotherUser) == 0)
            let path = theirs + "/app/config"
            let error = writeError { () throws(FileWriteError) in try writer.write(Array(secret.utf8), to: path) }
            #expect(error == .directory(path: path, directory: theirs, problem: .ownedByOtherUser(owner: anotherUser)))
            #expect(directoryEntries(theirs + "/app").isEmpty)
        }
    }

    /// In a sticky directory anyone can write (`/tmp`), another user's link could point anywhere.
    @Test(.enabled(if: runsAsRoot, "needs root to create a link owned by another user"))
    func refusesAnotherUsersLinkInAStickyDirectory() throws {
        try withScratchDirectory { dir in
            let sticky = dir + "/sticky"
            try makeDirectory(sticky, mode: 0o1777)
            try makeDirectory(dir + "/real")
            try makeDirectory(dir + "/real/app")
            try #require(symlink(dir + "/real", sticky + "/link") == 0)
            try #require(lchown(sticky + "/link", anotherUser, anotherUser) == 0)
            let path = sticky + "/link/app/config"
            let error = writeError { () throws(FileWriteError) in try writer.write(Array(secret.utf8), to: path) }
            #expect(error == .directory(path: path, directory: sticky + "/link", problem: .ownedByOtherUser(owner: anotherUser)))
            #expect(directoryEntries(dir + "/real/app").isEmpty)
            // The same link owned by the agent's user is followed.
            try #require(lchown(sticky + "/link", geteuid(), getegid()) == 0)
            try writer.write(Array("x".utf8), to: path)
            #expect(fileText(dir + "/real/app/config") == "x")
        }
    }

    @Test(arguments: [0o770, 0o777, 0o720, 0o702, 0o730] as [mode_t])
    func refusesParentWritableByGroupOrOthers(mode: mode_t) throws {
        try withScratchDirectory { dir in
            let parent = dir + "/shared"
            try makeDirectory(parent, mode: mode)
            let path = parent + "/config"
            let error = writeError { () throws(FileWriteError) in try writer.write(Array(secret.utf8), to: path) }
            #expect(error == .directory(path: path, directory: parent, problem: .writableByOthers(mode: UInt32(mode))))
            #expect(error?.description == "cannot write \(path): directory \(parent) is writable by group or others (mode 0\(String(mode, radix: 8))); chmod go-w \(parent)")
            #expect(directoryEntries(parent).isEmpty)
        }
    }

    @Test func writesDirectlyIntoTheRealTmp() throws {
        var status = stat()
        try #require(stat("/tmp", &status) == 0)
        #expect(status.st_mode & 0o1777 == 0o1777, "/tmp is expected to be sticky and world-writable")
        let path = "/tmp/files-test-\(UInt64.random(in: 0 ... .max))"
        defer { unlink(path) }
        try writer.write(Array("x".utf8), to: path)
        #expect(fileText(path) == "x")
        #expect(permissionBits(path) == 0o600)
    }

    @Test func allowsStickyWorldWritableParentForItsOwnFile() throws {
        try withScratchDirectory { dir in
            let parent = dir + "/sticky"
            try makeDirectory(parent, mode: 0o1777)
            try writer.write(Array("first".utf8), to: parent + "/config")
            try writer.write(Array("second".utf8), to: parent + "/config")
            #expect(fileText(parent + "/config") == "second")
            #expect(directoryEntries(parent) == ["config"])
        }
    }

    @Test(.enabled(if: runsAsRoot, "needs root to create a file owned by another user"))
    func refusesAnotherUsersFileInStickyParent() throws {
        try withScratchDirectory { dir in
            let parent = dir + "/sticky"
            try makeDirectory(parent, mode: 0o1777)
            let path = parent + "/config"
            try makeFile(path, "theirs", mode: 0o644)
            try #require(chown(path, anotherUser, anotherUser) == 0)
            let error = writeError { () throws(FileWriteError) in try writer.write(Array(secret.utf8), to: path) }
            #expect(error == .targetOwnedByOtherUser(path: path, owner: anotherUser))
            #expect(fileText(path) == "theirs")
            #expect(directoryEntries(parent) == ["config"])
        }
    }

    @Test(.enabled(if: runsAsRoot, "needs root to create a file owned by another user"))
    func refusesTargetOwnedByAnotherUser() throws {
        try withScratchDirectory { dir in
            let path = dir + "/config"
            try makeFile(path, "theirs")
            try #require(chown(path, anotherUser, anotherUser) == 0)
            let error = writeError { () throws(FileWriteError) in try writer.write(Array(secret.utf8), to: path) }
            #expect(error == .targetOwnedByOtherUser(path: path, owner: anotherUser))
            #expect(error?.description.contains("chown \(geteuid()) \(path)") == true)
            #expect(fileText(path) == "theirs")
            #expect(entryStatus(path)?.st_uid == anotherUser)
        }
    }

    @Test(.enabled(if: runsAsRoot, "needs root to create a directory owned by another user"))
    func refusesParentOwnedByAnotherUser() throws {
        try withScratchDirectory { dir in
            let parent = dir + "/theirs"
            try makeDirectory(parent, mode: 0o755)
            try #require(chown(parent, anotherUser, anotherUser) == 0)
            let path = parent + "/config"
            let error = writeError { () throws(FileWriteError) in try writer.write(Array(secret.utf8), to: path) }
            #expect(error == .directory(path: path, directory: parent, problem: .ownedByOtherUser(owner: anotherUser)))
            #expect(directoryEntries(parent).isEmpty)
        }
    }

    @Test func refusesHardLinkedTarget() throws {
        try withScratchDirectory { dir in
            let path = dir + "/config"
            try makeFile(path, "old")
            try #require(link(path, dir + "/copy") == 0)
            let error = writeError { () throws(FileWriteError) in try writer.write(Array(secret.utf8), to: path) }
            #expect(error == .targetHasHardLinks(path: path, links: 2))
            #expect(fileText(path) == "old")
            #expect(fileText(dir + "/copy") == "old")
            #expect(directoryEntries(dir) == ["config", "copy"])
        }
    }

    @Test func refusesDirectoryTarget() throws {
        try withScratchDirectory { dir in
            let path = dir + "/config"
            try makeDirectory(path)
            let error = writeError { () throws(FileWriteError) in try writer.write(Array("x".utf8), to: path) }
            #expect(error == .targetNotRegularFile(path: path, kind: "a directory"))
            #expect(directoryEntries(dir) == ["config"])
        }
    }

    @Test func refusesFIFOTarget() throws {
        try withScratchDirectory { dir in
            let path = dir + "/config"
            try #require(mkfifo(path, 0o600) == 0)
            let error = writeError { () throws(FileWriteError) in try writer.write(Array("x".utf8), to: path) }
            #expect(error == .targetNotRegularFile(path: path, kind: "a FIFO"))
            #expect(try #require(entryStatus(path)).st_mode & S_IFMT == S_IFIFO)
        }
    }

    @Test func createsMissingParentsOwnerOnly() throws {
        try withScratchDirectory { dir in
            try writer.write(Array("x".utf8), to: dir + "/a/b/c/config")
            for level in ["/a", "/a/b", "/a/b/c"] {
                let status = try #require(entryStatus(dir + level))
                #expect(status.st_mode & S_IFMT == S_IFDIR)
                #expect(status.st_mode & 0o7777 == 0o700, "\(level)")
                #expect(status.st_uid == geteuid())
            }
            #expect(fileText(dir + "/a/b/c/config") == "x")
        }
    }

    @Test func refusesMissingParentWhenNotCreatingParents() throws {
        try withScratchDirectory { dir in
            let path = dir + "/a/b/config"
            let error = writeError { () throws(FileWriteError) in
                try writer.write(Array("x".utf8), to: path, createParents: false)
            }
            #expect(error == .directory(path: path, directory: dir + "/a", problem: .missing))
            #expect(directoryEntries(dir).isEmpty)
        }
    }

    @Test func refusesCreatingParentsInsideAnUnsafeDirectory() throws {
        try withScratchDirectory { dir in
            let shared = dir + "/shared"
            try makeDirectory(shared, mode: 0o777)
            let path = shared + "/app/config"
            let error = writeError { () throws(FileWriteError) in try writer.write(Array("x".utf8), to: path) }
            #expect(error == .directory(path: path, directory: shared, problem: .writableByOthers(mode: 0o777)))
            #expect(directoryEntries(shared).isEmpty)
        }
    }

    @Test func createsParentsInsideAStickyDirectory() throws {
        try withScratchDirectory { dir in
            let sticky = dir + "/sticky"
            try makeDirectory(sticky, mode: 0o1777)
            try writer.write(Array("x".utf8), to: sticky + "/app/config")
            #expect(permissionBits(sticky + "/app") == 0o700)
            #expect(fileText(sticky + "/app/config") == "x")
        }
    }

    @Test func refusesParentThatIsNotADirectory() throws {
        try withScratchDirectory { dir in
            try makeFile(dir + "/file", "x")
            let path = dir + "/file/config"
            let error = writeError { () throws(FileWriteError) in try writer.write(Array("x".utf8), to: path) }
            #expect(error == .directory(path: path, directory: dir + "/file", problem: .notDirectory))
        }
    }

    // Under a directory that does not exist, and without creating parents: a regression cannot write anywhere.
    @Test(arguments: ["relative/config", "/nonexistent-files-test/../config", "/nonexistent-files-test/./config",
                      "/nonexistent-files-test/config/", "/", "/nonexistent-files-test/a\u{0}b"])
    func refusesInvalidPaths(path: String) {
        let error = writeError { () throws(FileWriteError) in
            try writer.write(Array("x".utf8), to: path, createParents: false)
        }
        guard case .invalidPath(let reported, _) = error else {
            Issue.record("expected invalidPath, got \(String(describing: error))")
            return
        }
        #expect(reported == path)
    }

    @Test func refusalsLeaveNoTemporaryFilesAndNeverShowContent() throws {
        try withScratchDirectory { dir in
            try makeFile(dir + "/victim", "victim")
            try #require(symlink(dir + "/victim", dir + "/link") == 0)
            try makeFile(dir + "/linked", "linked")
            try #require(link(dir + "/linked", dir + "/second") == 0)
            try makeDirectory(dir + "/directory")
            let before = directoryEntries(dir)
            var errors: [FileWriteError] = []
            for name in ["link", "linked", "directory"] {
                if let error = writeError({ () throws(FileWriteError) in try writer.write(Array(secret.utf8), to: dir + "/" + name) }) {
                    errors.append(error)
                }
            }
            #expect(errors.count == 3)
            #expect(directoryEntries(dir) == before)
            for error in errors {
                #expect(!error.description.contains(secret))
                #expect(error.description.hasPrefix("cannot write \(dir)/"))
                #expect(!error.description.contains("\n"))
            }
        }
    }

    @Test func removeDeletesTheAgentsFile() throws {
        try withScratchDirectory { dir in
            try writer.write(Array("x".utf8), to: dir + "/config")
            try writer.remove(dir + "/config")
            #expect(directoryEntries(dir).isEmpty)
            // Nothing there, or no directory at all: nothing to do.
            try writer.remove(dir + "/config")
            try writer.remove(dir + "/missing/config")
        }
    }

    @Test func removeLeavesASymbolicLinkAlone() throws {
        try withScratchDirectory { dir in
            try makeFile(dir + "/victim", "victim")
            try #require(symlink(dir + "/victim", dir + "/config") == 0)
            let error = writeError { () throws(FileWriteError) in try writer.remove(dir + "/config") }
            #expect(error == .targetIsSymbolicLink(path: dir + "/config"))
            #expect(directoryEntries(dir) == ["config", "victim"])
        }
    }

    @Test func concurrentWritesLeaveOneCompleteVersion() throws {
        try withScratchDirectory { dir in
            let path = dir + "/config"
            let versions = (0..<8).map { String(repeating: String($0), count: 100_000) }
            DispatchQueue.concurrentPerform(iterations: versions.count) { index in
                try? AtomicFileWriter().write(Array(versions[index].utf8), to: path)
            }
            let text = try #require(fileText(path))
            #expect(versions.contains(text))
            #expect(directoryEntries(dir) == ["config"])
        }
    }

    // MARK: - Reading back

    struct ReadBack {
        @Test func readsTheAgentsOwnFile() throws {
            try withScratchDirectory { dir in
                try writer.write(Array("payload".utf8), to: dir + "/config")
                #expect(try ProtectedFileReader.read(dir + "/config") == Array("payload".utf8))
            }
        }

        @Test(arguments: [0o644, 0o640, 0o604, 0o620, 0o602, 0o610] as [mode_t])
        func ownerOnlyRefusesAnyGroupOrOtherPermission(mode: mode_t) throws {
            try withScratchDirectory { dir in
                let path = dir + "/config"
                try makeFile(path, "x", mode: mode)
                let error = readError { () throws(FileReadError) in _ = try ProtectedFileReader.read(path) }
                #expect(error == .accessibleByOthers(path: path, mode: UInt32(mode), allowed: .ownerOnly))
                #expect(error?.description.contains("chmod go-rwx \(path)") == true)
            }
        }

        @Test func groupReadableAcceptsGroupReadOnly() throws {
            try withScratchDirectory { dir in
                let path = dir + "/config"
                try makeFile(path, "x", mode: 0o640)
                #expect(try ProtectedFileReader.read(path, access: .groupReadable) == Array("x".utf8))
                #expect(chmod(path, 0o660) == 0)
                let error = readError { () throws(FileReadError) in _ = try ProtectedFileReader.read(path, access: .groupReadable) }
                #expect(error == .accessibleByOthers(path: path, mode: 0o660, allowed: .groupReadable))
            }
        }

        @Test func refusesSymbolicLink() throws {
            try withScratchDirectory { dir in
                try makeFile(dir + "/real", "x")
                try #require(symlink(dir + "/real", dir + "/config") == 0)
                let error = readError { () throws(FileReadError) in _ = try ProtectedFileReader.read(dir + "/config") }
                #expect(error == .isSymbolicLink(path: dir + "/config"))
            }
        }

        @Test(.enabled(if: runsAsRoot, "needs root to create a file owned by another user"))
        func refusesAnotherUsersFile() throws {
            try withScratchDirectory { dir in
                let path = dir + "/config"
                try makeFile(path, "x")
                try #require(chown(path, anotherUser, anotherUser) == 0)
                let error = readError { () throws(FileReadError) in _ = try ProtectedFileReader.read(path) }
                #expect(error == .ownedByOtherUser(path: path, owner: anotherUser))
            }
        }

        @Test func refusesHardLinkedFile() throws {
            try withScratchDirectory { dir in
                try makeFile(dir + "/config", "x")
                try #require(link(dir + "/config", dir + "/copy") == 0)
                let error = readError { () throws(FileReadError) in _ = try ProtectedFileReader.read(dir + "/config") }
                #expect(error == .hasHardLinks(path: dir + "/config", links: 2))
            }
        }

        @Test func refusesFileOverTheLimit() throws {
            try withScratchDirectory { dir in
                try makeFile(dir + "/config", "0123456789A")
                let error = readError { () throws(FileReadError) in _ = try ProtectedFileReader.read(dir + "/config", maximumSize: 10) }
                #expect(error == .tooLarge(path: dir + "/config", size: 11, limit: 10))
                #expect(try ProtectedFileReader.read(dir + "/config", maximumSize: 11).count == 11)
            }
        }

        @Test func refusesFIFOWithoutOpeningIt() throws {
            try withScratchDirectory { dir in
                try #require(mkfifo(dir + "/config", 0o600) == 0)
                let error = readError { () throws(FileReadError) in _ = try ProtectedFileReader.read(dir + "/config") }
                #expect(error == .notRegularFile(path: dir + "/config", kind: "a FIFO"))
            }
        }

        @Test func reportsMissingFile() throws {
            try withScratchDirectory { dir in
                let error = readError { () throws(FileReadError) in _ = try ProtectedFileReader.read(dir + "/config") }
                #expect(error == .missing(path: dir + "/config"))
            }
        }

        @Test func refusesFileInAGroupWritableDirectory() throws {
            try withScratchDirectory { dir in
                try makeDirectory(dir + "/shared", mode: 0o770)
                try makeFile(dir + "/shared/config", "x")
                let error = readError { () throws(FileReadError) in _ = try ProtectedFileReader.read(dir + "/shared/config") }
                #expect(error == .directory(path: dir + "/shared/config", directory: dir + "/shared", problem: .writableByOthers(mode: 0o770)))
            }
        }
    }

    // MARK: - Process-wide state

    /// Umask and file-size limits belong to the whole process: these tests run one at a time.
    @Suite(.serialized)
    struct ProcessState {
        @Test func modesAreExactUnderUmaskZero() throws {
            let saved = umask(0)
            defer { umask(saved) }
            try withScratchDirectory { dir in
                try writer.write(Array("x".utf8), to: dir + "/new/owner-only")
                try writer.write(Array("x".utf8), to: dir + "/new/group-readable", mode: .groupReadable)
                #expect(permissionBits(dir + "/new") == 0o700)
                #expect(permissionBits(dir + "/new/owner-only") == 0o600)
                #expect(permissionBits(dir + "/new/group-readable") == 0o640)
            }
        }

        /// A real write failure: a file-size limit makes `write` fail with `EFBIG` halfway through.
        @Test func failedWriteLeavesTargetUntouchedAndNoTemporaryFile() throws {
            try withScratchDirectory { dir in
                let path = dir + "/config"
                try writer.write(Array("old content".utf8), to: path)
                let oldInode = try #require(entryStatus(path)).st_ino

                var saved = rlimit()
                try #require(getrlimit(Int32(RLIMIT_FSIZE.rawValue), &saved) == 0)
                let previousHandler = signal(SIGXFSZ, SIG_IGN)
                var limited = saved
                limited.rlim_cur = 1 << 20
                try #require(setrlimit(Int32(RLIMIT_FSIZE.rawValue), &limited) == 0)
                let content = Array(String(repeating: secret, count: (2 << 20) / secret.utf8.count).utf8)
                let error = writeError { () throws(FileWriteError) in try writer.write(content, to: path) }
                #expect(setrlimit(Int32(RLIMIT_FSIZE.rawValue), &saved) == 0)
                signal(SIGXFSZ, previousHandler)

                #expect(error == .io(path: path, operation: "write", errno: EFBIG))
                #expect(error?.description.contains(secret) == false)
                #expect(fileText(path) == "old content")
                #expect(try #require(entryStatus(path)).st_ino == oldInode)
                #expect(directoryEntries(dir) == ["config"])
            }
        }
    }
}
