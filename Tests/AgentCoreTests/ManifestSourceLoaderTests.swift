import Foundation
import Testing
@testable import AgentCore

/// A fresh directory under /tmp, removed with its content at the end of the test.
private final class ManifestTempDirectory {
    let path: String

    init() throws {
        var template = Array("/tmp/manifest-test-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw SystemError(call: "mkdtemp", errno: errno) }
        path = String(cString: made)
    }

    /// Writes `text` to `name` with `mode` (set with chmod, whatever the umask) and returns its path.
    @discardableResult
    func write(_ name: String, _ text: String, mode: mode_t = 0o644) throws -> String {
        let file = path + "/" + name
        try Data(text.utf8).write(to: URL(fileURLWithPath: file))
        guard chmod(file, mode) == 0 else { throw SystemError(call: "chmod", errno: errno) }
        return file
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }
}

private func loadError(_ source: AgentSettings.ManifestSource) -> ManifestError? {
    do {
        _ = try ManifestSourceLoader.load(source)
        return nil
    } catch {
        return error
    }
}

private let sample = #"{"A:E:P": {"writeTo": {"path": "/run/a.json"}}, "B:E:P": {}}"#

@Suite struct ManifestSourceLoaderTests {
    @Test func worldReadableFileIsLoaded() throws {
        let directory = try ManifestTempDirectory()
        let file = try directory.write("manifest.json", sample, mode: 0o644)
        let manifest = try #require(try ManifestSourceLoader.load(.file(path: file)))
        #expect(manifest.keys.map(\.description) == ["A:E:P", "B:E:P"])
        #expect(manifest.entries.first?.writeTo == WriteTarget(path: "/run/a.json"))
    }

    @Test func symbolicLinkToTheFileIsFollowed() throws {
        // A Kubernetes ConfigMap mounts each file as a link into a hidden data directory.
        let directory = try ManifestTempDirectory()
        let target = try directory.write("real.json", sample)
        let link = directory.path + "/manifest.json"
        #expect(symlink(target, link) == 0)
        #expect(try ManifestSourceLoader.load(.file(path: link))?.entries.count == 2)
    }

    @Test func missingFileIsAnErrorNamingThePath() throws {
        let directory = try ManifestTempDirectory()
        let path = directory.path + "/absent.json"
        let error = loadError(.file(path: path))
        #expect(error == .unreadable(path: path, problem: "it does not exist; check the path in MANIFEST"))
        #expect(error?.description == "cannot read manifest file \(path): it does not exist; check the path in MANIFEST")
    }

    @Test func fileWritableByGroupOrOthersIsRefused() throws {
        let directory = try ManifestTempDirectory()
        for mode: mode_t in [0o664, 0o646] {
            let file = try directory.write("manifest-\(mode).json", sample, mode: mode)
            let error = try #require(loadError(.file(path: file)))
            #expect(error.description.contains("lets group or others change it; chmod go-w \(file)"), "\(error)")
        }
    }

    @Test(.enabled(if: geteuid() == 0, "needs root to give the file to another user"))
    func fileOwnedByAnotherUserIsRefused() throws {
        let directory = try ManifestTempDirectory()
        let file = try directory.write("manifest.json", sample)
        #expect(chown(file, 4321, 4321) == 0)
        let error = try #require(loadError(.file(path: file)))
        #expect(error.description.contains("it is owned by uid 4321; the manifest must be owned by root or the agent's user"), "\(error)")
    }

    @Test func directoryIsNotAManifestFile() throws {
        let directory = try ManifestTempDirectory()
        let error = loadError(.file(path: directory.path))
        #expect(error == .unreadable(path: directory.path, problem: "it is a directory, not a regular file"))
    }

    @Test func fileOverOneMebibyteIsRefusedBeforeDecoding() throws {
        let directory = try ManifestTempDirectory()
        let file = try directory.write("big.json", "{}" + String(repeating: " ", count: Manifest.maximumSize - 1))
        let error = loadError(.file(path: file))
        #expect(error == .unreadable(path: file, problem: "it is \(Manifest.maximumSize + 1) bytes, more than the \(Manifest.maximumSize)-byte limit"))
    }

    @Test func relativePathIsRefused() {
        #expect(loadError(.file(path: "manifest.json"))?.description.contains("the path must be absolute") == true)
    }

    @Test func invalidFileContentIsADecodeError() throws {
        let directory = try ManifestTempDirectory()
        let file = try directory.write("manifest.json", #"{"A:E:P": {"writeTo": {"path": "relative"}}}"#)
        #expect(loadError(.file(path: file))?.field == "writeTo.path")
    }

    @Test func inlineJSONIsDecoded() throws {
        #expect(try ManifestSourceLoader.load(.inline(json: sample))?.keys.map(\.description) == ["A:E:P", "B:E:P"])
        #expect(loadError(.inline(json: #"{"A:E": {}}"#)) == .invalidKey("A:E"))
    }

    @Test func manifestKeptInAppConfigIsLeftToTheCaller() throws {
        let source = AgentSettings.ManifestSource.configuration(ConfigurationKey(application: "A", environment: "E", profile: "Manifest"))
        #expect(try ManifestSourceLoader.load(source) == nil)
    }
}
