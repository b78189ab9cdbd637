#if canImport(Glibc)
import Glibc
#endif

/// Reads and decodes the manifest named by `MANIFEST`, for the sources that need no AWS call.
///
/// A manifest file holds no secrets, so, unlike the files the agent writes, it may be readable by
/// anyone, and symbolic links are followed (a Kubernetes ConfigMap mounts its files as links). It does
/// decide which roles are assumed and where files are written, so it must be a regular file owned by
/// root or by the agent's user and writable by no one else.
public enum ManifestSourceLoader {
    /// The decoded manifest for `.file` and `.inline`; nil for `.configuration`, which the caller
    /// fetches through the data plane and passes to `Manifest.decode`.
    public static func load(_ source: AgentSettings.ManifestSource) throws(ManifestError) -> Manifest? {
        switch source {
        case .file(let path):
            return try Manifest.decode(readFile(path)).0
        case .inline(let json):
            return try Manifest.decode(Array(json.utf8)).0
        case .configuration:
            return nil
        }
    }

    /// The file's bytes, at most `Manifest.maximumSize`, under the ownership rules above.
    static func readFile(_ path: String) throws(ManifestError) -> [UInt8] {
        func refuse(_ problem: String) -> ManifestError { .unreadable(path: path, problem: problem) }
        guard path.utf8.first == UInt8(ascii: "/") else { throw refuse("the path must be absolute (MANIFEST=file:/path/to/manifest.json)") }
        guard !path.utf8.contains(0) else { throw refuse("the path contains a NUL byte") }

        // O_NONBLOCK: a FIFO put in the file's place must not hang start-up; it is refused below.
        let fd: Int32
        do {
            fd = try SystemCall.retrying("open") { open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC) }
        } catch {
            switch error.errno {
            case ENOENT: throw refuse("it does not exist; check the path in MANIFEST")
            case EACCES: throw refuse("permission denied; the agent's user (uid \(geteuid())) must be able to read it and search its directories")
            case ENOTDIR: throw refuse("a component of the path is not a directory")
            default: throw refuse("open failed: \(ErrnoText.describe(error.errno))")
            }
        }
        defer { close(fd) }

        var status = stat()
        do {
            try SystemCall.retrying("fstat") { fstat(fd, &status) }
        } catch {
            throw refuse("fstat failed: \(ErrnoText.describe(error.errno))")
        }
        guard status.st_mode & S_IFMT == S_IFREG else {
            throw refuse("it is \(DirectoryEntry.describeKind(status.st_mode)), not a regular file")
        }
        let agentUser = geteuid()
        guard status.st_uid == 0 || status.st_uid == agentUser else {
            throw refuse("it is owned by uid \(status.st_uid); the manifest must be owned by root or the agent's user (uid \(agentUser)); chown root \(path)")
        }
        guard status.st_mode & 0o022 == 0 else {
            throw refuse("mode \(FileMode.octal(status.st_mode)) lets group or others change it; chmod go-w \(path)")
        }
        guard Int(status.st_size) <= Manifest.maximumSize else {
            throw refuse("it is \(status.st_size) bytes, more than the \(Manifest.maximumSize)-byte limit")
        }

        // One byte beyond the limit reveals a file that grew after fstat.
        var buffer = [UInt8](repeating: 0, count: Manifest.maximumSize + 1)
        var filled = 0
        while filled < buffer.count {
            let start = filled
            let count: Int
            do {
                count = try SystemCall.retrying("read") {
                    buffer.withUnsafeMutableBytes { raw in
                        Glibc.read(fd, raw.baseAddress.map { $0 + start }, raw.count - start)
                    }
                }
            } catch {
                throw refuse("read failed: \(ErrnoText.describe(error.errno))")
            }
            if count == 0 { break }
            filled += count
        }
        guard filled <= Manifest.maximumSize else {
            throw refuse("it is more than the \(Manifest.maximumSize)-byte limit")
        }
        buffer.removeSubrange(filled...)
        return buffer
    }
}
