#if canImport(Glibc)
import Glibc
#endif

/// An open directory descriptor, closed when the value goes away. Everything the writer and reader do
/// happens relative to one of these, so nothing can be swapped between a check and the use.
struct OpenDirectory: ~Copyable {
    let fd: Int32
    /// For messages only; never used to reach the directory again.
    let path: String

    init(fd: Int32, path: String) {
        self.fd = fd
        self.path = path
    }

    deinit {
        close(fd)
    }

    /// `fstat` of the open descriptor.
    func status() throws(PathWalkFailure) -> stat {
        var status = stat()
        do {
            try SystemCall.retrying("fstat") { fstat(fd, &status) }
        } catch {
            throw .io(operation: "fstat \(path)", errno: error.errno)
        }
        return status
    }

    /// The directory's problem under `DirectoryRules`.
    func problem() throws(PathWalkFailure) -> DirectoryProblem? {
        DirectoryRules.problem(try status())
    }

    func childPath(_ name: String) -> String {
        path == "/" ? "/" + name : path + "/" + name
    }
}

/// Failures of the walk, mapped to `FileWriteError` or `FileReadError` by the caller.
enum PathWalkFailure: Error, Equatable {
    case invalidPath(String)
    case directory(String, DirectoryProblem)
    case io(operation: String, errno: Int32)

    func writeError(_ path: String) -> FileWriteError {
        switch self {
        case .invalidPath(let reason): .invalidPath(path: path, reason: reason)
        case .directory(let directory, let problem): .directory(path: path, directory: directory, problem: problem)
        case .io(let operation, let code): .io(path: path, operation: operation, errno: code)
        }
    }

    func readError(_ path: String) -> FileReadError {
        switch self {
        case .invalidPath(let reason): .invalidPath(path: path, reason: reason)
        case .directory(let directory, let problem): .directory(path: path, directory: directory, problem: problem)
        case .io(let operation, let code): .io(path: path, operation: operation, errno: code)
        }
    }
}

/// What a directory holding agent files must be.
enum DirectoryRules {
    /// - a directory;
    /// - owned by the agent's user or root (a directory owned by anyone else is theirs to swap);
    /// - not writable by group or others, unless sticky (`/tmp`, `1777`): there only an entry's owner
    ///   may rename or remove it, and the writer separately refuses targets owned by anyone else.
    static func problem(_ status: stat) -> DirectoryProblem? {
        guard status.st_mode & S_IFMT == S_IFDIR else { return .notDirectory }
        if status.st_uid != geteuid() && status.st_uid != 0 { return .ownedByOtherUser(owner: status.st_uid) }
        if status.st_mode & (S_IWGRP | S_IWOTH) != 0 && status.st_mode & S_ISVTX == 0 {
            return .writableByOthers(mode: status.st_mode & 0o7777)
        }
        return nil
    }
}

/// An absolute path split into components, validated.
struct AbsolutePath {
    let components: [String]
    private let endsWithSlash: Bool

    /// Refuses relative paths, `.` and `..` components, a trailing `/` and NUL: the path must say
    /// plainly where the file is.
    init(_ text: String) throws(PathWalkFailure) {
        guard text.utf8.first == UInt8(ascii: "/") else { throw .invalidPath("the path must be absolute") }
        guard !text.utf8.contains(0) else { throw .invalidPath("the path contains a NUL byte") }
        let components = text.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        guard !components.contains(where: { $0 == "." || $0 == ".." }) else {
            throw .invalidPath("the path must not contain '.' or '..' components")
        }
        self.components = components
        self.endsWithSlash = text.utf8.last == UInt8(ascii: "/")
    }

    /// The file's name and its parent's components; refuses `/` itself and a trailing `/`.
    func splitFile() throws(PathWalkFailure) -> (parent: [String], name: String) {
        guard let name = components.last else { throw .invalidPath("the path names the root directory, not a file") }
        guard !endsWithSlash else { throw .invalidPath("the path ends with '/'; it must name a file") }
        return (Array(components.dropLast()), name)
    }
}

/// `O_PATH`, which Glibc's Swift module does not export (it sits behind `_GNU_SOURCE`): a descriptor
/// good for `*at` calls and `fstat` that needs only search permission on the directory. The value is
/// the generic Linux one (`asm-generic/fcntl.h`), used by these architectures.
#if os(Linux) && (arch(x86_64) || arch(arm64) || arch(i386) || arch(arm) || arch(s390x) || arch(riscv64))
let openPathOnly: Int32 = 0o10_000_000
#else
#error("O_PATH: check its value for this platform in <bits/fcntl-linux.h> and add it here")
#endif

enum DirectoryWalk {
    /// Most symbolic links followed in one walk, as the kernel's own limit (`ELOOP`).
    static let maximumLinks = 40

    /// Opens the directory named by `components` from `/`, one step per component, each relative to
    /// the directory before it.
    ///
    /// Every directory on the way, `/` included, must pass `DirectoryRules`: a directory that someone
    /// else can change could have its entries swapped, redirecting everything below it. Inside a
    /// sticky directory writable by others (`/tmp`), the next entry must belong to the agent's user
    /// or root. A symbolic link above the last component is followed (`/var/run` → `/run` is common)
    /// because the directory holding it passed the rules, so nobody else can change where it points;
    /// its target is walked by the same rules, `..` included. The last component, the directory the
    /// caller works in, must not itself be a link. With `createMissing`, missing directories are
    /// created `0700` (`mkdirat`, then `fchmod` so no umask narrows or widens it), each only inside a
    /// directory that passes the rules, and each opened with `O_NOFOLLOW` and checked again.
    static func open(_ components: [String], createMissing: Bool) throws(PathWalkFailure) -> OpenDirectory {
        var current = try openRoot()
        var shared = try requireSafe(current)
        // Components still to walk, the next one last; `original` marks those of the caller's path
        // (a link's target is pushed above them).
        var pending: [(name: String, original: Bool)] = components.reversed().map { ($0, true) }
        var links = 0
        while let next = pending.popLast() {
            let (name, original) = next
            if name.isEmpty || name == "." { continue }
            if name == ".." {
                current = try openParent(of: current)
                shared = try requireSafe(current)
                continue
            }
            let isLast = original && pending.isEmpty
            let childPath = current.childPath(name)
            guard case .present(let status) = try DirectoryEntry.look(name, in: current) else {
                guard createMissing else { throw .directory(childPath, .missing) }
                current = try createChild(name, path: childPath, in: current)
                shared = try requireSafe(current)  // lost a race to someone else's directory: its rules
                continue
            }
            if shared && status.st_uid != geteuid() && status.st_uid != 0 {
                throw .directory(childPath, .ownedByOtherUser(owner: status.st_uid))
            }
            switch status.st_mode & S_IFMT {
            case S_IFLNK:
                if isLast { throw .directory(childPath, .symbolicLink) }
                links += 1
                guard links <= maximumLinks else { throw .io(operation: "resolve \(childPath)", errno: ELOOP) }
                let target = try readLink(name, path: childPath, in: current)
                if target.utf8.first == UInt8(ascii: "/") {
                    current = try openRoot()
                    shared = try requireSafe(current)
                }
                pending += target.split(separator: "/").reversed().map { (String($0), false) }
            case S_IFDIR:
                current = try openChild(name, path: childPath, in: current)
                shared = try requireSafe(current)
            default:
                throw .directory(childPath, .notDirectory)
            }
        }
        // Every step above holds an `O_PATH` descriptor; the caller reads and syncs the directory.
        do {
            let fd = try SystemCall.retrying("openat") { openat(current.fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
            return OpenDirectory(fd: fd, path: current.path)
        } catch {
            throw .io(operation: "open directory \(current.path)", errno: error.errno)
        }
    }

    private static func openRoot() throws(PathWalkFailure) -> OpenDirectory {
        do {
            let fd = try SystemCall.retrying("open") { Glibc.open("/", openPathOnly | O_DIRECTORY | O_CLOEXEC) }
            return OpenDirectory(fd: fd, path: "/")
        } catch {
            throw .io(operation: "open directory /", errno: error.errno)
        }
    }

    /// Opens a directory entry seen by `fstatat` a moment ago. Swapping it since needs write access to
    /// `parent`, which passed the rules; `O_NOFOLLOW` and the caller's check of the result cover the rest.
    private static func openChild(
        _ component: String, path: String, in parent: borrowing OpenDirectory
    ) throws(PathWalkFailure) -> OpenDirectory {
        do {
            let fd = try SystemCall.retrying("openat") {
                openat(parent.fd, component, openPathOnly | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            }
            return OpenDirectory(fd: fd, path: path)
        } catch {
            switch error.errno {
            case ELOOP, ENOTDIR: throw classifyUnopenable(component, path: path, in: parent, errno: error.errno, isLast: true)
            default: throw .io(operation: "open directory \(path)", errno: error.errno)
            }
        }
    }

    private static func openParent(of directory: borrowing OpenDirectory) throws(PathWalkFailure) -> OpenDirectory {
        var path = directory.path
        if let slash = path.utf8.lastIndex(of: UInt8(ascii: "/")) {
            path = slash == path.utf8.startIndex ? "/" : String(path[..<slash])
        }
        do {
            let fd = try SystemCall.retrying("openat") {
                openat(directory.fd, "..", openPathOnly | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            }
            return OpenDirectory(fd: fd, path: path)
        } catch {
            throw .io(operation: "open directory \(path)", errno: error.errno)
        }
    }

    private static func readLink(
        _ component: String, path: String, in parent: borrowing OpenDirectory
    ) throws(PathWalkFailure) -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count: Int
        do {
            count = try SystemCall.retrying("readlinkat") { readlinkat(parent.fd, component, &buffer, Int(PATH_MAX)) }
        } catch {
            throw .io(operation: "read symbolic link \(path)", errno: error.errno)
        }
        let target = String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard !target.isEmpty, !target.utf8.contains(0) else { throw .io(operation: "read symbolic link \(path)", errno: ENOENT) }
        return target
    }

    /// Throws the directory's problem under `DirectoryRules`; otherwise tells whether it is shared
    /// (sticky and writable by others), where only entries of the agent's user or root are trusted.
    @discardableResult
    private static func requireSafe(_ directory: borrowing OpenDirectory) throws(PathWalkFailure) -> Bool {
        let status = try directory.status()
        if let problem = DirectoryRules.problem(status) { throw .directory(directory.path, problem) }
        return status.st_mode & (S_IWGRP | S_IWOTH) != 0
    }

    /// Why `openat` said `ELOOP` or `ENOTDIR`: a link where `O_NOFOLLOW` forbids one, or not a directory.
    private static func classifyUnopenable(
        _ component: String, path: String, in parent: borrowing OpenDirectory, errno code: Int32, isLast: Bool
    ) -> PathWalkFailure {
        var status = stat()
        if fstatat(parent.fd, component, &status, AT_SYMLINK_NOFOLLOW) == 0 {
            let kind = status.st_mode & S_IFMT
            if kind == S_IFLNK && isLast { return .directory(path, .symbolicLink) }
            if kind != S_IFLNK && kind != S_IFDIR { return .directory(path, .notDirectory) }
        }
        if code == ENOTDIR { return .directory(path, .notDirectory) }
        return .io(operation: "open directory \(path)", errno: code)
    }

    /// Creates `component` 0700 inside `parent`, which must itself pass the rules, and opens it.
    private static func createChild(
        _ component: String, path: String, in parent: borrowing OpenDirectory
    ) throws(PathWalkFailure) -> OpenDirectory {
        if let problem = try parent.problem() { throw .directory(parent.path, problem) }
        var created = true
        do {
            try SystemCall.retrying("mkdirat") { mkdirat(parent.fd, component, 0o700) }
        } catch {
            // Lost a race with another creator: use theirs only if it passes the rules below.
            guard error.errno == EEXIST else { throw .io(operation: "create directory \(path)", errno: error.errno) }
            created = false
        }
        let fd: Int32
        do {
            fd = try SystemCall.retrying("openat") {
                openat(parent.fd, component, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            }
        } catch {
            switch error.errno {
            case ELOOP, ENOTDIR: throw classifyUnopenable(component, path: path, in: parent, errno: error.errno, isLast: true)
            default: throw .io(operation: "open directory \(path)", errno: error.errno)
            }
        }
        let child = OpenDirectory(fd: fd, path: path)
        if created {
            do {
                try SystemCall.retrying("fchmod") { fchmod(fd, 0o700) }
            } catch {
                throw .io(operation: "chmod 0700 \(path)", errno: error.errno)
            }
        }
        try requireSafe(child)
        return child
    }
}

/// What sits at a name inside an open directory, from `fstatat(AT_SYMLINK_NOFOLLOW)`.
enum DirectoryEntry {
    case missing
    case present(stat)

    static func look(_ name: String, in directory: borrowing OpenDirectory) throws(PathWalkFailure) -> DirectoryEntry {
        var status = stat()
        do {
            try SystemCall.retrying("fstatat") { fstatat(directory.fd, name, &status, AT_SYMLINK_NOFOLLOW) }
        } catch {
            if error.errno == ENOENT { return .missing }
            throw .io(operation: "stat \(directory.childPath(name))", errno: error.errno)
        }
        return .present(status)
    }

    static func describeKind(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFDIR: "a directory"
        case S_IFIFO: "a FIFO"
        case S_IFSOCK: "a socket"
        case S_IFCHR: "a character device"
        case S_IFBLK: "a block device"
        case S_IFLNK: "a symbolic link"
        case S_IFREG: "a regular file"
        default: "an unusual file type"
        }
    }
}
