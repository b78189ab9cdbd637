#if canImport(Glibc)
import Glibc
#endif

/// What identifies one version of a file on disk: when any of it changes, the file is read again.
public struct LocalFileStamp: Sendable, Equatable {
    public let device: UInt64
    public let inode: UInt64
    public let size: Int
    public let modificationSeconds: Int
    public let modificationNanoseconds: Int
    public let changeSeconds: Int
    public let changeNanoseconds: Int

    init(_ status: stat) {
        device = UInt64(status.st_dev)
        inode = UInt64(status.st_ino)
        size = Int(status.st_size)
        modificationSeconds = Int(status.st_mtim.tv_sec)
        modificationNanoseconds = Int(status.st_mtim.tv_nsec)
        changeSeconds = Int(status.st_ctim.tv_sec)
        changeNanoseconds = Int(status.st_ctim.tv_nsec)
    }
}

/// One configuration served from the local development directory.
public struct LocalConfigurationFile: Sendable, Equatable {
    public let fileName: String
    public let key: ConfigurationKey
    public let contentType: String
    public let bytes: [UInt8]
    /// The file's identity and times when it was opened for the read that produced `bytes`.
    public let stamp: LocalFileStamp
    /// False when the file was modified so shortly before it was read that a later write could keep
    /// the same modification time (timestamps are only as fine as the kernel's clock tick): the next
    /// scan reads it again instead of trusting the stamp, as git does with "racily clean" entries.
    let stampIsReliable: Bool

    public var size: Int { bytes.count }
    public var modificationTime: (seconds: Int, nanoseconds: Int) {
        (stamp.modificationSeconds, stamp.modificationNanoseconds)
    }
}

/// A directory entry that is not served, and why; worth one warning when it first appears.
public struct LocalSkippedFile: Sendable, Equatable {
    public let fileName: String
    public let reason: String

    public init(fileName: String, reason: String) {
        self.fileName = fileName
        self.reason = reason
    }
}

/// One pass over the local development directory.
public struct LocalScanResult: Sendable {
    public var configurations: [ConfigurationKey: LocalConfigurationFile]
    /// Sorted by file name.
    public var skipped: [LocalSkippedFile]

    public init(configurations: [ConfigurationKey: LocalConfigurationFile] = [:], skipped: [LocalSkippedFile] = []) {
        self.configurations = configurations
        self.skipped = skipped
    }

    /// The skipped entries that `previous` did not report (with the same reason), so that a watcher
    /// rescanning every few seconds warns once per problem rather than on every pass.
    public func newlySkipped(since previous: LocalScanResult?) -> [LocalSkippedFile] {
        guard let previous else { return skipped }
        return skipped.filter { !previous.skipped.contains($0) }
    }
}

/// The local development directory cannot be listed.
public struct LocalDirectoryError: Error, Sendable, Equatable, CustomStringConvertible {
    public let path: String
    public let errno: Int32

    public var description: String {
        let problem = String(cString: strerror(errno))
        return "local development directory \(path) cannot be read: \(problem); LOCAL_DEVELOPMENT_DIRECTORY must name a readable directory"
    }
}

/// Lists `App:Env:Profile[.ext]` files in a directory and reads them (design notes, for the README):
/// - Regular files only, reached through symbolic links too: Kubernetes mounts ConfigMap keys as
///   symlinks into `..data/`. Directories and other entries whose names are not configuration names
///   are ignored quietly; sockets, FIFOs, devices, dangling links, unreadable and oversized files are
///   skipped with a reason.
/// - Two files naming one configuration (`A:B:C.json` and `A:B:C.yaml`): entries are taken in
///   byte-wise order of their names and the first usable one wins; the others are skipped.
/// - A rescan given the previous result reuses a file's bytes without opening it while its device,
///   inode, size, modification and change times are all unchanged; a directory of unchanged files
///   costs one `readdir` pass and one `stat` per entry.
public enum LocalDirectoryScanner {
    public static let defaultMaximumFileSize = 64 << 20

    /// Files modified within this many seconds before they are read are read again on the next scan.
    static let racyWindowSeconds = 2

    public static func scan(
        directory: String,
        previous: LocalScanResult? = nil,
        maximumFileSize: Int = defaultMaximumFileSize
    ) throws(LocalDirectoryError) -> LocalScanResult {
        guard let handle = opendir(directory) else { throw LocalDirectoryError(path: directory, errno: errno) }
        defer { closedir(handle) }
        let directoryFD = dirfd(handle)

        var names: [[UInt8]] = []
        while true {
            errno = 0
            guard let entry = readdir(handle) else {
                if errno != 0 { throw LocalDirectoryError(path: directory, errno: errno) }
                break
            }
            let name = withUnsafeBytes(of: &entry.pointee.d_name) { raw in
                Array(raw.prefix { $0 != 0 })
            }
            if name == [UInt8(ascii: ".")] || name == [UInt8(ascii: "."), UInt8(ascii: ".")] { continue }
            names.append(name)
        }
        names.sort { $0.lexicographicallyPrecedes($1) }

        var result = LocalScanResult()
        var winners: [ConfigurationKey: String] = [:]
        let now = currentSeconds()
        for nameBytes in names {
            guard let fileName = String(validating: nameBytes, as: UTF8.self) else {
                result.skipped.append(LocalSkippedFile(fileName: String(decoding: nameBytes, as: UTF8.self), reason: "the name is not valid UTF-8"))
                continue
            }
            let parsed = LocalFileName.parse(fileName)
            if case .ignored = parsed { continue }

            var status = stat()
            if fstatat(directoryFD, fileName, &status, 0) != 0 {
                let code = errno
                if case .configuration = parsed {
                    let detail = code == ENOENT ? "it vanished, or is a symbolic link to nothing" : String(cString: strerror(code))
                    result.skipped.append(LocalSkippedFile(fileName: fileName, reason: "cannot stat: \(detail)"))
                }
                continue
            }
            let kind = status.st_mode & S_IFMT
            guard case .configuration(let name) = parsed else {
                if kind != S_IFDIR, case .rejected(let reason) = parsed {
                    result.skipped.append(LocalSkippedFile(fileName: fileName, reason: reason))
                }
                continue
            }
            guard kind == S_IFREG else {
                result.skipped.append(LocalSkippedFile(fileName: fileName, reason: "not a regular file (\(describe(kind)))"))
                continue
            }
            if let winner = winners[name.key] {
                result.skipped.append(LocalSkippedFile(fileName: fileName, reason: "\(winner) already gives configuration \(name.key) (the first name in byte order wins)"))
                continue
            }
            if Int(status.st_size) > maximumFileSize {
                result.skipped.append(LocalSkippedFile(fileName: fileName, reason: tooLarge(Int(status.st_size), maximumFileSize)))
                continue
            }
            let stamp = LocalFileStamp(status)
            if let old = previous?.configurations[name.key], old.fileName == fileName, old.stampIsReliable,
               old.stamp == stamp, old.contentType == name.contentType, old.bytes.count <= maximumFileSize {
                result.configurations[name.key] = old
                winners[name.key] = fileName
                continue
            }
            switch read(fileName, in: directoryFD, limit: maximumFileSize) {
            case .success(let (bytes, stamp)):
                result.configurations[name.key] = LocalConfigurationFile(
                    fileName: fileName, key: name.key, contentType: name.contentType, bytes: bytes, stamp: stamp,
                    stampIsReliable: stamp.modificationSeconds < now - racyWindowSeconds)
                winners[name.key] = fileName
            case .failure(let failure):
                result.skipped.append(LocalSkippedFile(fileName: fileName, reason: failure.reason))
            }
        }
        return result
    }

    struct ReadFailure: Error { let reason: String }

    /// Opens and reads a whole file, taking its stamp from the open descriptor so that the stamp
    /// describes the file the bytes came from.
    static func read(_ fileName: String, in directoryFD: Int32, limit: Int) -> Result<([UInt8], LocalFileStamp), ReadFailure> {
        // O_NONBLOCK: should the entry have become a FIFO since it was checked, opening must not hang.
        let fd: Int32
        do {
            fd = try SystemCall.retrying("open") { openat(directoryFD, fileName, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY) }
        } catch {
            return .failure(ReadFailure(reason: "cannot open: \(String(cString: strerror(error.errno)))"))
        }
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0 else {
            return .failure(ReadFailure(reason: "cannot stat: \(String(cString: strerror(errno)))"))
        }
        guard status.st_mode & S_IFMT == S_IFREG else {
            return .failure(ReadFailure(reason: "not a regular file (\(describe(status.st_mode & S_IFMT)))"))
        }
        let expected = Int(status.st_size)
        guard expected <= limit else { return .failure(ReadFailure(reason: tooLarge(expected, limit))) }

        // One byte of room beyond the expected size reveals a file that grew since fstat.
        var buffer = [UInt8](repeating: 0, count: expected + 1)
        var filled = 0
        while true {
            if filled == buffer.count {
                guard buffer.count <= limit else { return .failure(ReadFailure(reason: tooLarge(filled, limit))) }
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
                return .failure(ReadFailure(reason: "cannot read: \(String(cString: strerror(error.errno)))"))
            }
            if count == 0 { break }
            filled += count
        }
        buffer.removeSubrange(filled...)
        return .success((buffer, LocalFileStamp(status)))
    }

    static func tooLarge(_ size: Int, _ limit: Int) -> String {
        "larger than the \(limit)-byte limit (\(size) bytes)"
    }

    static func describe(_ kind: mode_t) -> String {
        switch kind {
        case S_IFDIR: "a directory"
        case S_IFIFO: "a FIFO"
        case S_IFSOCK: "a socket"
        case S_IFCHR: "a character device"
        case S_IFBLK: "a block device"
        default: "an unusual file type"
        }
    }

    static func currentSeconds() -> Int {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int(now.tv_sec)
    }
}
