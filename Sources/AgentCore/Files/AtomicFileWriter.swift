#if canImport(Glibc)
import Glibc
#endif

/// Writes a file so that it is private to the agent and replaced atomically; the one place where the
/// agent puts configuration bytes on disk (`writeTo` files and backups).
///
/// Rules (for the README):
/// - The path must be absolute, without `.` or `..` components. Directories above the parent are
///   resolved normally, symbolic links included (`/var/run` → `/run`); the parent directory itself is
///   opened with `O_NOFOLLOW`, and every step after that works on the open descriptor (`openat`,
///   `fstatat`, `renameat`), so nothing can be swapped between a check and the write.
/// - The write is refused, with the file left untouched, when:
///   - the parent directory is a symbolic link, or is not a directory;
///   - the parent directory is writable by group or others, unless it is sticky (like `/tmp`,
///     mode `1777`), where only an entry's owner can rename or remove it;
///   - the parent directory is owned by neither the agent's user nor root;
///   - the target exists and is a symbolic link, or not a regular file, or owned by another user,
///     or has more than one hard link (its content may be readable through another name).
/// - Missing parent directories are created (unless `createParents` is false) with mode `0700`,
///   each only inside a directory that passes the same checks.
/// - The file gets mode `0600` whatever the umask; `0640` may be asked for, to let a reader in the
///   file's group read it; no other mode is accepted. The file belongs to the agent's user because
///   the agent creates it; this is checked with `fstat` before any byte is written. An existing
///   file's mode and owner do not carry over: it is replaced by the new file.
/// - Atomic replacement: a temporary file `.<name>.tmp-<16 hex digits>` is created in the same
///   directory with `O_CREAT|O_EXCL|O_NOFOLLOW`, given its mode, written, `fsync`ed, renamed over the
///   target, and the directory is `fsync`ed. A crash at any instant leaves the old file or the new
///   one, never a torn one; on any failure the temporary file is removed and the target is untouched
///   (a failed `fsync` of the directory is reported too, though the new file is then in place). A
///   temporary file of the same target left by a killed agent is removed by the next successful
///   write once it is a minute old.
///
/// Design note: the bytes only ever go into a new inode the agent created with `O_EXCL`, and `rename`
/// replaces a link or another user's file rather than writing through it, so the target checks guard
/// against mistakes and plants worth an operator's attention rather than against a leak.
public struct AtomicFileWriter: Sendable {
    public init() {}

    /// Writes `bytes` to `path` under the rules above. Errors name the path and what to fix, never content.
    public func write(
        _ bytes: some Collection<UInt8>, to path: String, mode: FileMode = .ownerOnly, createParents: Bool = true
    ) throws(FileWriteError) {
        guard mode.isAllowedForWriting else { throw .unsupportedMode(path: path, mode: mode) }
        let (parent, name) = try Self.split(path)
        let directory = try Self.openParent(parent, of: path, createParents: createParents)
        try Self.checkTarget(name, in: directory, path: path)

        let (fd, temporaryName) = try Self.createTemporaryFile(for: name, in: directory, path: path)
        var committed = false
        var descriptorOpen = true
        defer {
            if descriptorOpen { close(fd) }
            if !committed { unlinkat(directory.fd, temporaryName, 0) }
        }

        do {
            try SystemCall.retrying("fchmod") { fchmod(fd, mode.rawValue) }
        } catch {
            throw .io(path: path, operation: "chmod \(mode) temporary file", errno: error.errno)
        }
        var status = stat()
        do {
            try SystemCall.retrying("fstat") { fstat(fd, &status) }
        } catch {
            throw .io(path: path, operation: "fstat temporary file", errno: error.errno)
        }
        guard status.st_uid == geteuid() else { throw .ownershipNotKept(path: path, owner: status.st_uid) }

        let failed = bytes.withContiguousStorageIfAvailable { Self.writeAll($0, to: fd) }
            ?? Array(bytes).withUnsafeBufferPointer { Self.writeAll($0, to: fd) }
        if let code = failed { throw .io(path: path, operation: "write", errno: code) }
        do {
            try SystemCall.retrying("fsync") { fsync(fd) }
        } catch {
            throw .io(path: path, operation: "fsync", errno: error.errno)
        }
        descriptorOpen = false
        // close can report a deferred write error (NFS); the descriptor is gone whatever it returns.
        if close(fd) != 0 && errno != EINTR {
            throw .io(path: path, operation: "close", errno: errno)
        }
        do {
            try SystemCall.retrying("renameat") { renameat(directory.fd, temporaryName, directory.fd, name) }
        } catch {
            throw .io(path: path, operation: "rename", errno: error.errno)
        }
        committed = true
        Self.removeStaleTemporaryFiles(of: name, in: directory)
        // Makes the rename durable. EINVAL: the filesystem cannot sync directories; nothing to do.
        do {
            try SystemCall.retrying("fsync") { fsync(directory.fd) }
        } catch where error.errno != EINVAL {
            throw .io(path: path, operation: "fsync directory", errno: error.errno)
        } catch {}
    }

    /// A temporary file of the same target older than this is a leftover of a writer that was
    /// killed mid-write (any other failure removes its own); a live writer's is seconds old at most.
    static let staleTemporaryAge: Int = 60

    /// Removes leftovers of earlier, killed writes of `name`: the agent's own regular files named
    /// `.<name>.tmp-<16 hex digits>`, unmodified for `staleTemporaryAge` seconds. Best effort: a
    /// leftover that cannot be removed costs disk space, nothing else.
    private static func removeStaleTemporaryFiles(of name: String, in directory: borrowing OpenDirectory) {
        let prefix = Array(".\(String(decoding: name.utf8.prefix(200), as: UTF8.self)).tmp-".utf8)
        let listing = dup(directory.fd)
        guard listing >= 0 else { return }
        guard let stream = fdopendir(listing) else {
            close(listing)
            return
        }
        var leftovers: [String] = []
        while let entry = readdir(stream) {
            let entryName = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                Array(raw.prefix { $0 != 0 })
            }
            guard entryName.count == prefix.count + 16, entryName.starts(with: prefix),
                  entryName.suffix(16).allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) })
            else { continue }
            leftovers.append(String(decoding: entryName, as: UTF8.self))
        }
        closedir(stream)
        let now = time(nil)
        for leftover in leftovers {
            var status = stat()
            guard fstatat(directory.fd, leftover, &status, AT_SYMLINK_NOFOLLOW) == 0,
                  status.st_mode & S_IFMT == S_IFREG, status.st_uid == geteuid(),
                  now - status.st_mtim.tv_sec >= staleTemporaryAge else { continue }
            if unlinkat(directory.fd, leftover, 0) == 0 {
                log.info("removed \(directory.path)/\(leftover), left by an earlier write that did not finish")
            }
        }
    }

    /// Removes the file at `path` if it exists, after the same checks on its directory and on the
    /// file (a symbolic link, something that is not a regular file, or another user's file is left
    /// alone and reported). Missing file or missing directory: nothing to do.
    public func remove(_ path: String) throws(FileWriteError) {
        let (parent, name) = try Self.split(path)
        guard let directory = try Self.openExistingParent(parent, of: path) else { return }
        let entry: DirectoryEntry
        do {
            entry = try DirectoryEntry.look(name, in: directory)
        } catch {
            throw error.writeError(path)
        }
        guard case .present(let status) = entry else { return }
        try Self.refuseUnsafeTarget(status, path: path, allowHardLinks: true)
        do {
            try SystemCall.retrying("unlinkat") { unlinkat(directory.fd, name, 0) }
        } catch where error.errno == ENOENT {
            return
        } catch {
            throw .io(path: path, operation: "unlink", errno: error.errno)
        }
        do {
            try SystemCall.retrying("fsync") { fsync(directory.fd) }
        } catch where error.errno != EINVAL {
            throw .io(path: path, operation: "fsync directory", errno: error.errno)
        } catch {}
    }

    // MARK: - Steps

    /// The parent directory, or nil when it (or a directory above it) does not exist.
    private static func openExistingParent(_ parent: [String], of path: String) throws(FileWriteError) -> OpenDirectory? {
        do {
            return try DirectoryWalk.open(parent, createMissing: false)
        } catch {
            if case .directory(_, .missing) = error { return nil }
            throw error.writeError(path)
        }
    }

    static func split(_ path: String) throws(FileWriteError) -> (parent: [String], name: String) {
        do {
            return try AbsolutePath(path).splitFile()
        } catch {
            throw error.writeError(path)
        }
    }

    static func openParent(_ parent: [String], of path: String, createParents: Bool) throws(FileWriteError) -> OpenDirectory {
        do {
            return try DirectoryWalk.open(parent, createMissing: createParents)
        } catch {
            throw error.writeError(path)
        }
    }

    private static func checkTarget(_ name: String, in directory: borrowing OpenDirectory, path: String) throws(FileWriteError) {
        let entry: DirectoryEntry
        do {
            entry = try DirectoryEntry.look(name, in: directory)
        } catch {
            throw error.writeError(path)
        }
        if case .present(let status) = entry {
            try refuseUnsafeTarget(status, path: path, allowHardLinks: false)
        }
    }

    private static func refuseUnsafeTarget(_ status: stat, path: String, allowHardLinks: Bool) throws(FileWriteError) {
        let kind = status.st_mode & S_IFMT
        if kind == S_IFLNK { throw .targetIsSymbolicLink(path: path) }
        guard kind == S_IFREG else { throw .targetNotRegularFile(path: path, kind: DirectoryEntry.describeKind(status.st_mode)) }
        guard status.st_uid == geteuid() else { throw .targetOwnedByOtherUser(path: path, owner: status.st_uid) }
        if !allowHardLinks && status.st_nlink > 1 { throw .targetHasHardLinks(path: path, links: Int(status.st_nlink)) }
    }

    /// `O_EXCL|O_NOFOLLOW` with a random name: nobody can have prepared the file, and a name taken by
    /// chance is simply drawn again.
    private static func createTemporaryFile(
        for name: String, in directory: borrowing OpenDirectory, path: String
    ) throws(FileWriteError) -> (Int32, String) {
        // Long names are shortened so the temporary name stays within NAME_MAX (255 bytes).
        let stem = String(decoding: name.utf8.prefix(200), as: UTF8.self)
        var generator = SystemRandomNumberGenerator()
        var attempts = 0
        while true {
            let temporaryName = ".\(stem).tmp-\(hex16(generator.next()))"
            do {
                let fd = try SystemCall.retrying("openat") {
                    openat(directory.fd, temporaryName, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
                }
                return (fd, temporaryName)
            } catch {
                attempts += 1
                if error.errno == EEXIST && attempts < 8 { continue }
                throw .io(path: path, operation: "create temporary file in \(directory.path)", errno: error.errno)
            }
        }
    }

    private static func hex16(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }

    /// Writes every byte, retrying `EINTR` and short writes; returns errno on failure.
    private static func writeAll(_ buffer: UnsafeBufferPointer<UInt8>, to fd: Int32) -> Int32? {
        guard let base = buffer.baseAddress else { return nil }
        var offset = 0
        while offset < buffer.count {
            let written = Glibc.write(fd, base + offset, buffer.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                return errno
            }
            offset += written
        }
        return nil
    }
}
