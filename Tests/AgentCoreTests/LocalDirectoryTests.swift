import Foundation
import Testing
@testable import AgentCore
#if canImport(Glibc)
import Glibc
#endif

/// A fresh directory under /tmp, removed when the test ends.
private func withTemporaryDirectory(_ body: (String) throws -> Void) throws {
    var template = Array("/tmp/local-directory-test.XXXXXX".utf8CString)
    let created: String? = template.withUnsafeMutableBufferPointer { buffer in
        buffer.baseAddress.flatMap { mkdtemp($0) }.map { String(cString: $0) }
    }
    let path = try #require(created)
    defer { try? FileManager.default.removeItem(atPath: path) }
    try body(path)
}

private func write(_ text: String, to path: String) throws {
    try Data(text.utf8).write(to: URL(fileURLWithPath: path))
}

/// Moves a file's modification time an hour back, out of the window in which the scanner distrusts it.
private func backdate(_ path: String) throws {
    var times = [timespec(tv_sec: time(nil) - 3600, tv_nsec: 0), timespec(tv_sec: time(nil) - 3600, tv_nsec: 0)]
    #expect(utimensat(AT_FDCWD, path, &times, 0) == 0)
}

private func storage(_ bytes: [UInt8]?) -> UnsafeRawPointer? {
    bytes?.withUnsafeBytes { $0.baseAddress }
}

private func configuration(_ fileName: String) -> LocalFileName? {
    if case .configuration(let name) = LocalFileName.parse(fileName) { return name }
    return nil
}

private func rejection(_ fileName: String) -> String? {
    if case .rejected(let reason) = LocalFileName.parse(fileName) { return reason }
    return nil
}

private func key(_ text: String) throws -> ConfigurationKey {
    try #require(ConfigurationKey(parsing: text))
}

struct LocalDirectoryFileNameTests {
    @Test(arguments: [
        ("MyApp:Prod:Settings.json", "application/json"),
        ("MyApp:Prod:Settings.yaml", "application/x-yaml"),
        ("MyApp:Prod:Settings.yml", "application/x-yaml"),
        ("MyApp:Prod:Settings.txt", "text/plain"),
        ("MyApp:Prod:Settings", "application/octet-stream"),
        ("MyApp:Prod:Settings.JSON", "application/json"),
        ("MyApp:Prod:Settings.Yml", "application/x-yaml"),
        ("MyApp:Prod:Settings.application%xml", "application/xml"),
        ("MyApp:Prod:Settings.text%csv", "text/csv"),
        ("MyApp:Prod:Settings.application%ion%type=AWS.AppConfig.FeatureFlags", "application/ion;type=AWS.AppConfig.FeatureFlags"),
        ("MyApp:Prod:Settings.text%plain%charset=utf-8%format=flowed", "text/plain;charset=utf-8;format=flowed"),
    ])
    func extensionGivesTheContentType(_ fileName: String, _ contentType: String) throws {
        let parsed = try #require(configuration(fileName))
        #expect(parsed.key == (try key("MyApp:Prod:Settings")))
        #expect(parsed.contentType == contentType)
    }

    @Test func percentFormKeepsDotsOfTheProfileName() throws {
        let parsed = try #require(configuration("A:B:my.flags.v2.application%ion%type=AWS.AppConfig.FeatureFlags"))
        #expect(parsed.key.profile == "my.flags.v2")
        #expect(parsed.contentType == "application/ion;type=AWS.AppConfig.FeatureFlags")
    }

    @Test func knownExtensionIsCutAtTheLastDot() throws {
        let parsed = try #require(configuration("A:B:my.profile.json"))
        #expect(parsed.key.profile == "my.profile")
        #expect(parsed.contentType == "application/json")
    }

    @Test func unknownExtensionStaysInTheProfileName() throws {
        let bak = try #require(configuration("A:B:C.json.bak"))
        #expect(bak.key.profile == "C.json.bak")
        #expect(bak.contentType == "application/octet-stream")
        let dotted = try #require(configuration("A:B:my.profile"))
        #expect(dotted.key.profile == "my.profile")
        #expect(dotted.contentType == "application/octet-stream")
    }

    @Test func percentWithoutADotBeforeItIsPartOfTheName() throws {
        let parsed = try #require(configuration("A:B:50%off.json"))
        #expect(parsed.key.profile == "50%off")
        #expect(parsed.contentType == "application/json")
    }

    @Test func namesKeepSpacesAndUnicode() throws {
        let parsed = try #require(configuration("Mon app:Étape 1:Réglages.txt"))
        #expect(parsed.key == ConfigurationKey(application: "Mon app", environment: "Étape 1", profile: "Réglages"))
    }

    @Test(arguments: [".hidden", "..data", ".A:B:C.json.swp", "A:B:C.json~", "..2024_01_01_00_00_00.123"])
    func dotfilesAndBackupsAreIgnoredQuietly(_ fileName: String) {
        #expect(LocalFileName.parse(fileName) == .ignored)
    }

    @Test(arguments: [
        ("README.md", "found 1"),
        ("A:B", "found 2"),
        ("A:B:C:D.json", "found 4"),
        (":B:C.json", "application name is empty"),
        ("A::C.json", "environment name is empty"),
        ("A:B:", "profile name is empty"),
        ("A:B:.json", "profile name is empty"),
        ("A:B:.application%json", "profile name is empty"),
        ("A:B:C.%json", "bad or empty type"),
        ("A:B:C.application%", "bad or empty subtype"),
        ("A:B:C.appli cation%json", "bad or empty type"),
        ("A:B:C.application%js(on", "bad or empty subtype"),
        ("A:B:C.application%ion%", "bad or empty parameter"),
        ("A:B:C.application%ion%a b", "bad or empty parameter"),
        ("A:B:C\r\nX-Injected: 1.json", "control characters"),
        ("", "empty file name"),
    ])
    func badNameIsRejectedWithAReason(_ fileName: String, _ expected: String) throws {
        let reason = try #require(rejection(fileName))
        #expect(reason.contains(expected), "\(reason)")
    }
}

struct LocalDirectoryTests {
    @Test func scanReadsEveryConfigurationWithItsContentType() throws {
        try withTemporaryDirectory { dir in
            let files = [
                "App:Env:Json.json": (#"{"a": 1}"#, "application/json"),
                "App:Env:Yaml.yaml": ("a: 1\n", "application/x-yaml"),
                "App:Env:Yml.yml": ("b: 2\n", "application/x-yaml"),
                "App:Env:Text.txt": ("hello\n", "text/plain"),
                "App:Env:Raw": ("\u{1}\u{2}", "application/octet-stream"),
                "App:Env:Xml.application%xml": ("<a/>", "application/xml"),
                "App:Env:Flags.application%ion%type=AWS.AppConfig.FeatureFlags": ("'f'::'''{}'''", "application/ion;type=AWS.AppConfig.FeatureFlags"),
                "App:Env:Empty.json": ("", "application/json"),
            ]
            for (name, (content, _)) in files { try write(content, to: "\(dir)/\(name)") }
            let result = try LocalDirectoryScanner.scan(directory: dir)
            #expect(result.skipped.isEmpty)
            #expect(result.configurations.count == files.count)
            for (name, (content, contentType)) in files {
                let parsed = try #require(configuration(name))
                let file = try #require(result.configurations[parsed.key], "\(name)")
                #expect(file.fileName == name)
                #expect(file.key == parsed.key)
                #expect(file.contentType == contentType)
                #expect(file.bytes == Array(content.utf8))
                #expect(file.size == content.utf8.count)
                #expect(file.stamp.size == content.utf8.count)
                #expect(abs(file.modificationTime.seconds - Int(time(nil))) < 60)
            }
        }
    }

    @Test func badNamesAreSkippedWithReasonsAndDotfilesQuietly() throws {
        try withTemporaryDirectory { dir in
            try write("x", to: "\(dir)/README.md")
            try write("x", to: "\(dir)/A:B:C.%json")
            try write("x", to: "\(dir)/.A:B:C.json.swp")
            try write("x", to: "\(dir)/A:B:C.json~")
            try write("{}", to: "\(dir)/A:B:C.json")
            let result = try LocalDirectoryScanner.scan(directory: dir)
            #expect(result.configurations.keys.map(\.description) == ["A:B:C"])
            #expect(result.skipped.map(\.fileName) == ["A:B:C.%json", "README.md"])
            #expect(result.skipped.allSatisfy { !$0.reason.isEmpty })
        }
    }

    @Test func fileNameThatIsNotUTF8IsSkipped() throws {
        try withTemporaryDirectory { dir in
            let path: [CChar] = (Array("\(dir)/A:B:".utf8) + [0xFF, 0x00]).map { CChar(bitPattern: $0) }
            let fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
            #expect(fd >= 0)
            close(fd)
            let result = try LocalDirectoryScanner.scan(directory: dir)
            #expect(result.configurations.isEmpty)
            #expect(result.skipped.map(\.reason) == ["the name is not valid UTF-8"])
        }
    }

    @Test func removedFileDisappearsFromTheNextScan() throws {
        try withTemporaryDirectory { dir in
            try write("1", to: "\(dir)/A:B:One.txt")
            try write("2", to: "\(dir)/A:B:Two.txt")
            let first = try LocalDirectoryScanner.scan(directory: dir)
            #expect(first.configurations.count == 2)
            #expect(unlink("\(dir)/A:B:One.txt") == 0)
            let second = try LocalDirectoryScanner.scan(directory: dir, previous: first)
            #expect(second.configurations.keys.map(\.profile) == ["Two"])
        }
    }

    @Test func editedFileIsPickedUpEvenWhenItsStampWasTrusted() throws {
        try withTemporaryDirectory { dir in
            let path = "\(dir)/A:B:C.json"
            try write(#"{"v":1}"#, to: path)
            try backdate(path)
            let first = try LocalDirectoryScanner.scan(directory: dir)
            try write(#"{"v":2}"#, to: path) // Same size: only the times and content differ.
            let second = try LocalDirectoryScanner.scan(directory: dir, previous: first)
            #expect(second.configurations[try key("A:B:C")]?.bytes == Array(#"{"v":2}"#.utf8))
        }
    }

    @Test func unchangedFileIsNotReadAgain() throws {
        try withTemporaryDirectory { dir in
            let path = "\(dir)/A:B:C.json"
            try write(#"{"v":1}"#, to: path)
            try backdate(path)
            let first = try LocalDirectoryScanner.scan(directory: dir)
            let second = try LocalDirectoryScanner.scan(directory: dir, previous: first)
            let k = try key("A:B:C")
            #expect(second.configurations[k] == first.configurations[k])
            // The very same buffer: the previous bytes were reused, not read into a new array.
            #expect(storage(second.configurations[k]?.bytes) == storage(first.configurations[k]?.bytes))
        }
    }

    @Test func recentlyModifiedFileIsReadAgainOnTheNextScan() throws {
        try withTemporaryDirectory { dir in
            try write(#"{"v":1}"#, to: "\(dir)/A:B:C.json")
            let first = try LocalDirectoryScanner.scan(directory: dir)
            let second = try LocalDirectoryScanner.scan(directory: dir, previous: first)
            let k = try key("A:B:C")
            #expect(second.configurations[k]?.bytes == first.configurations[k]?.bytes)
            #expect(storage(second.configurations[k]?.bytes) != storage(first.configurations[k]?.bytes))
        }
    }

    @Test func replacedFileWithSameSizeAndTimesIsReadAgain() throws {
        try withTemporaryDirectory { dir in
            let path = "\(dir)/A:B:C.txt"
            try write("old", to: path)
            try backdate(path)
            let first = try LocalDirectoryScanner.scan(directory: dir)
            // A new inode renamed over the old one, as editors and ConfigMap updates do.
            try write("new", to: "\(dir)/.tmp")
            try backdate("\(dir)/.tmp")
            #expect(rename("\(dir)/.tmp", path) == 0)
            let second = try LocalDirectoryScanner.scan(directory: dir, previous: first)
            #expect(second.configurations[try key("A:B:C")]?.bytes == Array("new".utf8))
        }
    }

    @Test func firstNameInByteOrderWinsAConflict() throws {
        try withTemporaryDirectory { dir in
            try write("yaml: 1", to: "\(dir)/A:B:C.yaml")
            try write(#"{"json":1}"#, to: "\(dir)/A:B:C.json")
            try write("text", to: "\(dir)/A:B:C.TXT")
            let result = try LocalDirectoryScanner.scan(directory: dir)
            let file = try #require(result.configurations[try key("A:B:C")])
            #expect(file.fileName == "A:B:C.TXT") // 'T' (0x54) sorts before 'j' and 'y'.
            #expect(result.skipped.map(\.fileName) == ["A:B:C.json", "A:B:C.yaml"])
            #expect(result.skipped.allSatisfy { $0.reason.contains("A:B:C.TXT") })
        }
    }

    @Test func jsonWinsOverYaml() throws {
        try withTemporaryDirectory { dir in
            try write("yaml: 1", to: "\(dir)/A:B:C.yaml")
            try write(#"{"json":1}"#, to: "\(dir)/A:B:C.json")
            let result = try LocalDirectoryScanner.scan(directory: dir)
            #expect(result.configurations[try key("A:B:C")]?.contentType == "application/json")
            #expect(result.skipped.map(\.fileName) == ["A:B:C.yaml"])
        }
    }

    @Test func symlinkToAFileIsFollowedAsInAConfigMapMount() throws {
        try withTemporaryDirectory { dir in
            let data = "\(dir)/..2026_01_01_00_00_00.1"
            try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: false)
            try write(#"{"from":"configmap"}"#, to: "\(data)/A:B:C.json")
            #expect(symlink("..2026_01_01_00_00_00.1", "\(dir)/..data") == 0)
            #expect(symlink("..data/A:B:C.json", "\(dir)/A:B:C.json") == 0)
            let result = try LocalDirectoryScanner.scan(directory: dir)
            #expect(result.skipped.isEmpty)
            #expect(result.configurations[try key("A:B:C")]?.bytes == Array(#"{"from":"configmap"}"#.utf8))
        }
    }

    @Test func danglingSymlinkIsSkippedWithAReason() throws {
        try withTemporaryDirectory { dir in
            #expect(symlink("nowhere.json", "\(dir)/A:B:C.json") == 0)
            let result = try LocalDirectoryScanner.scan(directory: dir)
            #expect(result.configurations.isEmpty)
            #expect(result.skipped.count == 1)
            #expect(result.skipped.first?.reason.contains("symbolic link to nothing") == true)
        }
    }

    @Test func subdirectoriesAreIgnored() throws {
        try withTemporaryDirectory { dir in
            try FileManager.default.createDirectory(atPath: "\(dir)/archive", withIntermediateDirectories: false)
            try write("{}", to: "\(dir)/archive/A:B:Old.json")
            try FileManager.default.createDirectory(atPath: "\(dir)/A:B:Dir.json", withIntermediateDirectories: false)
            try write("{}", to: "\(dir)/A:B:C.json")
            let result = try LocalDirectoryScanner.scan(directory: dir)
            #expect(result.configurations.keys.map(\.description) == ["A:B:C"])
            // A directory carrying a configuration's name is reported: it was probably meant as one.
            #expect(result.skipped == [LocalSkippedFile(fileName: "A:B:Dir.json", reason: "not a regular file (a directory)")])
        }
    }

    @Test func fifoIsSkippedWithoutBlocking() throws {
        try withTemporaryDirectory { dir in
            #expect(mkfifo("\(dir)/A:B:Pipe.json", 0o600) == 0)
            let result = try LocalDirectoryScanner.scan(directory: dir)
            #expect(result.configurations.isEmpty)
            #expect(result.skipped == [LocalSkippedFile(fileName: "A:B:Pipe.json", reason: "not a regular file (a FIFO)")])
        }
    }

    @Test func fileAboveTheSizeLimitIsSkipped() throws {
        try withTemporaryDirectory { dir in
            try write("0123456789", to: "\(dir)/A:B:Fits.txt")
            try write("0123456789A", to: "\(dir)/A:B:Big.txt")
            let result = try LocalDirectoryScanner.scan(directory: dir, maximumFileSize: 10)
            #expect(result.configurations.keys.map(\.profile) == ["Fits"])
            #expect(result.skipped == [LocalSkippedFile(fileName: "A:B:Big.txt", reason: "larger than the 10-byte limit (11 bytes)")])
        }
    }

    @Test(.enabled(if: getuid() != 0, "root reads any file"))
    func unreadableFileIsSkippedWithTheReason() throws {
        try withTemporaryDirectory { dir in
            try write("{}", to: "\(dir)/A:B:C.json")
            #expect(chmod("\(dir)/A:B:C.json", 0) == 0)
            let result = try LocalDirectoryScanner.scan(directory: dir)
            #expect(result.configurations.isEmpty)
            #expect(result.skipped.first?.reason == "cannot open: Permission denied")
        }
    }

    @Test func missingDirectoryThrowsAnErrorNamingPathAndProblem() throws {
        let path = "/tmp/local-directory-test-missing-\(getpid())"
        #expect {
            _ = try LocalDirectoryScanner.scan(directory: path)
        } throws: { error in
            let description = (error as? LocalDirectoryError)?.description ?? ""
            return (error as? LocalDirectoryError)?.errno == ENOENT
                && description.contains(path) && description.contains("No such file or directory")
        }
    }

    @Test func regularFileInsteadOfADirectoryThrows() throws {
        try withTemporaryDirectory { dir in
            try write("x", to: "\(dir)/file")
            #expect(throws: LocalDirectoryError(path: "\(dir)/file", errno: ENOTDIR)) {
                _ = try LocalDirectoryScanner.scan(directory: "\(dir)/file")
            }
        }
    }

    @Test func newlySkippedReportsOnlyProblemsThePreviousScanDidNot() throws {
        try withTemporaryDirectory { dir in
            try write("x", to: "\(dir)/notes.txt")
            let first = try LocalDirectoryScanner.scan(directory: dir)
            #expect(first.newlySkipped(since: nil).map(\.fileName) == ["notes.txt"])
            try write("x", to: "\(dir)/todo.txt")
            let second = try LocalDirectoryScanner.scan(directory: dir, previous: first)
            #expect(second.newlySkipped(since: first).map(\.fileName) == ["todo.txt"])
            #expect(second.newlySkipped(since: second).isEmpty)
        }
    }
}
