#if canImport(Glibc)
import Glibc
#endif

/// Why a directory on the way to a file was refused. Every case has a fix the operator can apply.
public enum DirectoryProblem: Sendable, Equatable {
    /// It does not exist (and was not to be created).
    case missing
    /// The parent directory is a symbolic link (links above it are followed when the directory holding
    /// them passes the rules).
    case symbolicLink
    /// Something other than a directory sits where a directory should be.
    case notDirectory
    /// Writable by group or others without the sticky bit: anyone could swap files inside.
    case writableByOthers(mode: UInt32)
    /// Owned by neither the agent's user nor root.
    case ownedByOtherUser(owner: UInt32)

    func explanation(_ directory: String) -> String {
        switch self {
        case .missing:
            "directory \(directory) does not exist; create it (mode 0700, owned by the agent's user)"
        case .symbolicLink:
            "directory \(directory) is a symbolic link; use the path of the real directory"
        case .notDirectory:
            "\(directory) is not a directory; remove it or choose another path"
        case .writableByOthers(let mode):
            "directory \(directory) is writable by group or others (mode \(FileMode.octal(mode))); chmod go-w \(directory)"
        case .ownedByOtherUser(let owner):
            "directory \(directory) is owned by uid \(owner), neither the agent's user (uid \(geteuid())) nor root; chown \(geteuid()) \(directory)"
        }
    }
}

/// Why `AtomicFileWriter` refused or failed a write. One line naming the path and what to fix; never
/// any content. In every case the target was left as it was and no temporary file remains, except
/// `.io` with operation `fsync directory`, which happens after the new file replaced the old one.
public enum FileWriteError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Not absolute, has `.` or `..` components, ends with `/`, or contains NUL.
    case invalidPath(path: String, reason: String)
    /// A mode other than `0600` or `0640`.
    case unsupportedMode(path: String, mode: FileMode)
    /// The parent directory (or a directory the writer would create into) is unsafe or missing.
    case directory(path: String, directory: String, problem: DirectoryProblem)
    case targetIsSymbolicLink(path: String)
    /// The target is a directory, FIFO, socket or device; `kind` says which.
    case targetNotRegularFile(path: String, kind: String)
    case targetOwnedByOtherUser(path: String, owner: UInt32)
    /// Someone may have linked the file elsewhere to keep reading it.
    case targetHasHardLinks(path: String, links: Int)
    /// The file the agent created came out owned by someone else (a filesystem that maps owners).
    case ownershipNotKept(path: String, owner: UInt32)
    /// A system call failed: `operation` names it, `errno` says why (`ENOSPC`, `EACCES`, …).
    case io(path: String, operation: String, errno: Int32)

    public var path: String {
        switch self {
        case .invalidPath(let path, _), .unsupportedMode(let path, _), .directory(let path, _, _),
             .targetIsSymbolicLink(let path), .targetNotRegularFile(let path, _),
             .targetOwnedByOtherUser(let path, _), .targetHasHardLinks(let path, _),
             .ownershipNotKept(let path, _), .io(let path, _, _):
            path
        }
    }

    /// What is wrong and how to fix it, without the path prefix.
    public var problem: String {
        switch self {
        case .invalidPath(_, let reason):
            reason
        case .unsupportedMode(_, let mode):
            "mode \(mode) is not allowed; use 0600, or 0640 to let the file's group read it"
        case .directory(_, let directory, let problem):
            problem.explanation(directory)
        case .targetIsSymbolicLink(let path):
            "it is a symbolic link; remove the link and use the real file's path (\(path) is never followed)"
        case .targetNotRegularFile(_, let kind):
            "it is \(kind), not a regular file; remove it or choose another path"
        case .targetOwnedByOtherUser(let path, let owner):
            "it is owned by uid \(owner), not the agent's user (uid \(geteuid())); remove it, or chown \(geteuid()) \(path)"
        case .targetHasHardLinks(_, let links):
            "it has \(links) hard links, so its content may be readable through another name; remove it and its other links"
        case .ownershipNotKept(_, let owner):
            "the new file is owned by uid \(owner), not the agent's user (uid \(geteuid())); use a filesystem that keeps file owners"
        case .io(_, let operation, let code):
            "\(operation) failed: \(ErrnoText.describe(code))\(ErrnoText.hint(code))"
        }
    }

    public var description: String { "cannot write \(path): \(problem)" }
}

/// Why `ProtectedFileReader` refused or failed a read. One line naming the path and what to fix.
public enum FileReadError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalidPath(path: String, reason: String)
    case directory(path: String, directory: String, problem: DirectoryProblem)
    case missing(path: String)
    case isSymbolicLink(path: String)
    case notRegularFile(path: String, kind: String)
    case ownedByOtherUser(path: String, owner: UInt32)
    /// Group or other permission bits beyond `allowed` (`0600`: none; `0640`: group read).
    case accessibleByOthers(path: String, mode: UInt32, allowed: FileMode)
    case hasHardLinks(path: String, links: Int)
    case tooLarge(path: String, size: Int, limit: Int)
    case io(path: String, operation: String, errno: Int32)

    public var path: String {
        switch self {
        case .invalidPath(let path, _), .directory(let path, _, _), .missing(let path), .isSymbolicLink(let path),
             .notRegularFile(let path, _), .ownedByOtherUser(let path, _), .accessibleByOthers(let path, _, _),
             .hasHardLinks(let path, _), .tooLarge(let path, _, _), .io(let path, _, _):
            path
        }
    }

    /// What is wrong and how to fix it, without the path prefix; `BackupStore` uses it as a skip reason.
    public var problem: String {
        switch self {
        case .invalidPath(_, let reason):
            reason
        case .directory(_, let directory, let problem):
            problem.explanation(directory)
        case .missing:
            "it does not exist"
        case .isSymbolicLink:
            "it is a symbolic link, which is never followed; remove it"
        case .notRegularFile(_, let kind):
            "it is \(kind), not a regular file"
        case .ownedByOtherUser(let path, let owner):
            "it is owned by uid \(owner), not the agent's user (uid \(geteuid())); remove it, or chown \(geteuid()) \(path)"
        case .accessibleByOthers(let path, let mode, let allowed):
            "mode \(FileMode.octal(mode)) gives group or others access (at most \(allowed) is accepted); "
                + (allowed == .groupReadable ? "chmod g-wx,o-rwx \(path)" : "chmod go-rwx \(path)")
        case .hasHardLinks(_, let links):
            "it has \(links) hard links; remove the other links"
        case .tooLarge(_, let size, let limit):
            "it is larger than the \(limit)-byte limit (\(size) bytes)"
        case .io(_, let operation, let code):
            "\(operation) failed: \(ErrnoText.describe(code))\(ErrnoText.hint(code))"
        }
    }

    public var description: String { "cannot read \(path): \(problem)" }
}

/// errno as text an operator can act on.
enum ErrnoText {
    static func describe(_ code: Int32) -> String {
        let text = String(cString: strerror(code))
        return name(code).map { "\(text) (\($0))" } ?? text
    }

    static func name(_ code: Int32) -> String? {
        switch code {
        case ENOSPC: "ENOSPC"
        case EDQUOT: "EDQUOT"
        case EACCES: "EACCES"
        case EPERM: "EPERM"
        case EROFS: "EROFS"
        case EIO: "EIO"
        case EFBIG: "EFBIG"
        case ENAMETOOLONG: "ENAMETOOLONG"
        case ENOENT: "ENOENT"
        case ENOTDIR: "ENOTDIR"
        case ELOOP: "ELOOP"
        case EEXIST: "EEXIST"
        case EMFILE: "EMFILE"
        default: nil
        }
    }

    static func hint(_ code: Int32) -> String {
        switch code {
        case ENOSPC, EDQUOT: "; free some space"
        case EACCES, EPERM: "; check that the agent's user may write there"
        case EROFS: "; the filesystem is mounted read-only"
        case ENAMETOOLONG: "; use a shorter path"
        default: ""
        }
    }
}
