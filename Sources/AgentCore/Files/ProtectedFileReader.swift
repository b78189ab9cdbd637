#if canImport(Glibc)
import Glibc
#endif

/// Reads back a file the agent wrote, only if it still looks like the agent wrote it.
///
/// Rules (for the README): the file's directory must pass the writer's directory checks (not a
/// symbolic link, owned by the agent's user or root, not writable by group or others unless sticky);
/// the file is opened with `O_NOFOLLOW` and, from `fstat` on the open descriptor, must be a regular
/// file owned by the agent's user with one hard link, give no permission to others and none to its
/// group (`0600`), or group read only when the caller accepts `0640`, and be at most 64 MiB.
/// Owner bits are not checked. A file that fails is never read.
public enum ProtectedFileReader {
    public static let defaultMaximumSize = 64 << 20

    /// Reads the whole file at `path` under the rules above; `access` is the widest mode accepted.
    public static func read(
        _ path: String, access: FileMode = .ownerOnly, maximumSize: Int = defaultMaximumSize
    ) throws(FileReadError) -> [UInt8] {
        let (parent, name) = try split(path)
        return try read(name, in: openDirectory(parent, of: path), path: path, access: access, maximumSize: maximumSize)
    }

    private static func split(_ path: String) throws(FileReadError) -> (parent: [String], name: String) {
        do {
            return try AbsolutePath(path).splitFile()
        } catch {
            throw error.readError(path)
        }
    }

    private static func openDirectory(_ components: [String], of path: String) throws(FileReadError) -> OpenDirectory {
        do {
            return try DirectoryWalk.open(components, createMissing: false)
        } catch {
            throw error.readError(path)
        }
    }

    /// Reads `name` inside an already checked directory; `path` is for messages.
    static func read(
        _ name: String, in directory: borrowing OpenDirectory, path: String, access: FileMode, maximumSize: Int
    ) throws(FileReadError) -> [UInt8] {
        // Looked at before opening, so that no device or FIFO is ever opened.
        var status = stat()
        do {
            try SystemCall.retrying("fstatat") { fstatat(directory.fd, name, &status, AT_SYMLINK_NOFOLLOW) }
        } catch {
            if error.errno == ENOENT { throw .missing(path: path) }
            throw .io(path: path, operation: "stat", errno: error.errno)
        }
        try check(status, path: path, access: access, maximumSize: maximumSize)

        // O_NONBLOCK: should the entry have become a FIFO since, opening must not hang.
        let fd: Int32
        do {
            fd = try SystemCall.retrying("openat") {
                openat(directory.fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)
            }
        } catch {
            switch error.errno {
            case ENOENT: throw .missing(path: path)
            case ELOOP: throw .isSymbolicLink(path: path)
            default: throw .io(path: path, operation: "open", errno: error.errno)
            }
        }
        defer { close(fd) }
        do {
            try SystemCall.retrying("fstat") { fstat(fd, &status) }
        } catch {
            throw .io(path: path, operation: "fstat", errno: error.errno)
        }
        try check(status, path: path, access: access, maximumSize: maximumSize)
        return try readAll(fd, expected: Int(status.st_size), limit: maximumSize, path: path)
    }

    static func check(_ status: stat, path: String, access: FileMode, maximumSize: Int) throws(FileReadError) {
        let kind = status.st_mode & S_IFMT
        if kind == S_IFLNK { throw .isSymbolicLink(path: path) }
        guard kind == S_IFREG else { throw .notRegularFile(path: path, kind: DirectoryEntry.describeKind(status.st_mode)) }
        guard status.st_uid == geteuid() else { throw .ownedByOtherUser(path: path, owner: status.st_uid) }
        let allowed = access.rawValue & 0o077
        guard status.st_mode & 0o077 & ~allowed == 0 else {
            throw .accessibleByOthers(path: path, mode: status.st_mode & 0o7777, allowed: access)
        }
        guard status.st_nlink == 1 else { throw .hasHardLinks(path: path, links: Int(status.st_nlink)) }
        guard Int(status.st_size) <= maximumSize else {
            throw .tooLarge(path: path, size: Int(status.st_size), limit: maximumSize)
        }
    }

    /// Reads to end of file, never more than `limit` bytes: a file that grew past it is refused.
    private static func readAll(_ fd: Int32, expected: Int, limit: Int, path: String) throws(FileReadError) -> [UInt8] {
        // One byte of room beyond the expected size reveals a file that grew since fstat.
        var buffer = [UInt8](repeating: 0, count: expected + 1)
        var filled = 0
        while true {
            if filled == buffer.count {
                guard buffer.count <= limit else { throw .tooLarge(path: path, size: filled, limit: limit) }
                buffer.append(contentsOf: repeatElement(0, count: min(buffer.count, limit + 1 - buffer.count)))
            }
            let start = filled
            let count: Int
            do {
                count = try SystemCall.retrying("read") {
                    buffer.withUnsafeMutableBytes { raw in
                        Glibc.read(fd, raw.baseAddress.map { $0 + start }, raw.count - start)
                    }
                }
            } catch {
                throw .io(path: path, operation: "read", errno: error.errno)
            }
            if count == 0 { break }
            filled += count
        }
        buffer.removeSubrange(filled...)
        return buffer
    }
}
