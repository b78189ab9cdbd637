#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// One configuration read back from `BACKUP_DIRECTORY`, verified against its size and SHA-256.
public struct BackupEntry: Sendable, Equatable {
    public let key: ConfigurationKey
    public let content: [UInt8]
    public let contentType: String
    /// The service's version label, when it had one.
    public let versionLabel: String?
    /// The `Configuration-Version` value served with it.
    public let version: String
    /// Seconds since the Unix epoch when the backup was written.
    public let savedAt: Int

    public init(key: ConfigurationKey, content: [UInt8], contentType: String, versionLabel: String?, version: String, savedAt: Int) {
        self.key = key
        self.content = content
        self.contentType = contentType
        self.versionLabel = versionLabel
        self.version = version
        self.savedAt = savedAt
    }
}

/// A file in `BACKUP_DIRECTORY` that was not loaded, and why; safe to log (no content).
public struct SkippedBackup: Sendable, Equatable {
    public let fileName: String
    public let reason: String
}

public struct BackupLoadResult: Sendable {
    public var entries: [ConfigurationKey: BackupEntry] = [:]
    public var skipped: [SkippedBackup] = []
}

/// Keeps a copy of every configuration retrieved, in `BACKUP_DIRECTORY`.
///
/// Layout (for the README):
/// - `BACKUP_DIRECTORY` holds one file per configuration, `<App>:<Env>:<Profile>.backup`, mode
///   `0600`. The directory is created `0700` (parents too) when missing, and must pass the checks of
///   every file the agent writes: not a symbolic link, owned by the agent's user or root, not
///   writable by group or others. A relative `BACKUP_DIRECTORY` is taken from the agent's working
///   directory at start-up.
/// - In the name, each of the three parts is UTF-8 with every byte outside `A-Z a-z 0-9 - _ . ~`
///   written `%XX` (upper-case hex), and a leading `.` written `%2E`, so that `:` separates the parts,
///   no name is hidden or contains `/`, and the name decodes back to the key: `a/b`, `c%d`, `.e`
///   is stored as `a%2Fb:c%25d:%2Ee.backup`. A name that would exceed 200 bytes is replaced by
///   `sha256-<64 hex digits of the SHA-256 of the encoded name>.backup`.
/// - Each file is one line of JSON metadata, a newline (`\n`), then the configuration's bytes
///   exactly as retrieved:
///   `{"application":"MyApp","contentType":"application/json","environment":"Prod","format":1,"profile":"Flags","savedAt":1767366245,"sha256":"<64 hex digits>","size":42,"version":"3","versionLabel":"v1.2"}`
///   `versionLabel` is `null` when the service gave none; `size` and `sha256` describe the bytes
///   after the newline; `savedAt` is seconds since the Unix epoch. The file is replaced atomically,
///   so metadata and content always match.
/// - On loading, a file is skipped, with a logged reason, and never served, when: it is a symbolic
///   link or not a regular file, is owned by another user, has a hard link, gives its group or
///   others any permission, is larger than 64 MiB, has no valid metadata line or an unknown
///   `format`, its size or SHA-256 does not match its content, or its name is not the one the
///   configuration in its metadata maps to. Names starting with `.` (temporary files of a write in
///   progress or interrupted) are ignored; any other file is reported as not a backup.
public struct BackupStore: Sendable {
    public static let fileExtension = ".backup"
    public static let maximumContentSize = ProtectedFileReader.defaultMaximumSize
    static let maximumHeaderSize = 64 << 10
    static let maximumFileNameLength = 200
    static let format = 1

    /// The absolute path of the directory.
    public let directory: String
    private let writer = AtomicFileWriter()

    public init(directory: String) {
        self.directory = Self.absolute(directory)
    }

    /// Writes (or replaces) the backup of `key` through `AtomicFileWriter`, mode `0600`.
    public func save(
        _ key: ConfigurationKey, content: some Collection<UInt8>, contentType: String, versionLabel: String?,
        version: String, savedAt: Int = Int(WallClock.now())
    ) throws(FileWriteError) {
        let header = BackupHeader(
            format: Self.format, application: key.application, environment: key.environment, profile: key.profile,
            contentType: contentType, versionLabel: versionLabel, version: version, size: content.count,
            sha256: Digest.hex(Digest.sha256(content)), savedAt: savedAt)
        var file = header.encoded()
        file.reserveCapacity(file.count + 1 + content.count)
        file.append(UInt8(ascii: "\n"))
        file.append(contentsOf: content)
        try writer.write(file, to: path(for: key), mode: .ownerOnly, createParents: true)
    }

    /// Removes the backup of `key`; nothing to do when there is none.
    public func remove(_ key: ConfigurationKey) throws(FileWriteError) {
        try writer.remove(path(for: key))
    }

    /// Every usable backup, and every file skipped with its reason. A missing directory holds no
    /// backups; a directory that fails the checks is an error.
    public func loadAll() throws(FileReadError) -> BackupLoadResult {
        guard let directoryHandle = try openDirectory() else { return BackupLoadResult() }
        var result = BackupLoadResult()
        for nameBytes in try listNames(directoryHandle) {
            guard nameBytes.first != UInt8(ascii: ".") else { continue }
            guard let fileName = String(validating: nameBytes, as: UTF8.self) else {
                result.skipped.append(SkippedBackup(
                    fileName: String(decoding: nameBytes, as: UTF8.self), reason: "not a backup: the name is not valid UTF-8"))
                continue
            }
            guard fileName.hasSuffix(Self.fileExtension) else {
                result.skipped.append(SkippedBackup(
                    fileName: fileName, reason: "not a backup: backup files are named App:Env:Profile\(Self.fileExtension)"))
                continue
            }
            switch load(fileName, in: directoryHandle) {
            case .loaded(let entry): result.entries[entry.key] = entry
            case .skipped(let reason): result.skipped.append(SkippedBackup(fileName: fileName, reason: reason))
            }
        }
        return result
    }

    /// What `load(_:)` found for one configuration.
    public enum Lookup: Sendable {
        case found(BackupEntry)
        /// There is a file, but it fails the checks: never served.
        case skipped(SkippedBackup)
        case none
    }

    /// The backup of one configuration: reads only its file (`loadAll` reads every one).
    public func load(_ key: ConfigurationKey) throws(FileReadError) -> Lookup {
        guard let directoryHandle = try openDirectory() else { return .none }
        let fileName = Self.fileName(for: key)
        do {
            guard case .present = try DirectoryEntry.look(fileName, in: directoryHandle) else { return .none }
        } catch {
            return .skipped(SkippedBackup(fileName: fileName, reason: "cannot be looked at: \(error)"))
        }
        switch load(fileName, in: directoryHandle) {
        case .loaded(let entry): return .found(entry)
        case .skipped(let reason): return .skipped(SkippedBackup(fileName: fileName, reason: reason))
        }
    }

    /// The file that holds the backup of `key`.
    public func path(for key: ConfigurationKey) -> String {
        (directory == "/" ? "" : directory) + "/" + Self.fileName(for: key)
    }

    // MARK: - File names

    /// `App:Env:Profile.backup` with each part encoded (see the type's documentation).
    public static func fileName(for key: ConfigurationKey) -> String {
        let encoded = [key.application, key.environment, key.profile].map(encodePart).joined(separator: ":")
        let name = encoded + fileExtension
        if name.utf8.count <= maximumFileNameLength { return name }
        return "sha256-" + Digest.hex(Digest.sha256(Array(encoded.utf8))) + fileExtension
    }

    /// The key a backup file name encodes; nil for hashed names and for names that are not canonical
    /// encodings.
    public static func key(forFileName name: String) -> ConfigurationKey? {
        guard name.hasSuffix(fileExtension) else { return nil }
        let stem = name.utf8.dropLast(fileExtension.utf8.count)
        let parts = stem.split(separator: UInt8(ascii: ":"), omittingEmptySubsequences: false)
        guard parts.count == 3 else { return nil }
        var decoded: [String] = []
        for part in parts {
            guard let text = decodePart(part) else { return nil }
            decoded.append(text)
        }
        let key = ConfigurationKey(application: decoded[0], environment: decoded[1], profile: decoded[2])
        return fileName(for: key) == name ? key : nil
    }

    static func encodePart(_ part: String) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(part.utf8.count)
        for (index, byte) in part.utf8.enumerated() {
            if isUnreserved(byte) && !(index == 0 && byte == UInt8(ascii: ".")) {
                out.append(byte)
            } else {
                out.append(UInt8(ascii: "%"))
                out.append(upperHex[Int(byte >> 4)])
                out.append(upperHex[Int(byte & 0x0F)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func decodePart(_ bytes: some Collection<UInt8>) -> String? {
        var out: [UInt8] = []
        var iterator = bytes.makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%") {
                guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else { return nil }
                out.append(high << 4 | low)
            } else {
                guard isUnreserved(byte) else { return nil }
                out.append(byte)
            }
        }
        return String(validating: out, as: UTF8.self)
    }

    private static let upperHex = Array("0123456789ABCDEF".utf8)

    private static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
            true
        default:
            false
        }
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    // MARK: - Loading

    private enum LoadOutcome {
        case loaded(BackupEntry)
        case skipped(String)
    }

    private func load(_ fileName: String, in directoryHandle: borrowing OpenDirectory) -> LoadOutcome {
        func skip(_ reason: String) -> LoadOutcome { .skipped(reason) }
        let bytes: [UInt8]
        do {
            bytes = try ProtectedFileReader.read(
                fileName, in: directoryHandle, path: directoryHandle.childPath(fileName), access: .ownerOnly,
                maximumSize: Self.maximumContentSize + Self.maximumHeaderSize)
        } catch {
            return skip(error.problem)
        }
        guard let newline = bytes.prefix(Self.maximumHeaderSize).firstIndex(of: UInt8(ascii: "\n")) else {
            return skip("no metadata line (the file does not start with a line of JSON)")
        }
        let line = Data(bytes[..<newline])
        guard let probe = try? JSONDecoder().decode(BackupFormatProbe.self, from: line) else {
            return skip("the metadata line is not valid backup metadata")
        }
        guard probe.format == Self.format else {
            return skip("unknown backup format \(probe.format) (this agent reads format \(Self.format))")
        }
        guard let header = try? JSONDecoder().decode(BackupHeader.self, from: line) else {
            return skip("the metadata line is not valid backup metadata")
        }
        let key = ConfigurationKey(application: header.application, environment: header.environment, profile: header.profile)
        guard Self.fileName(for: key) == fileName else {
            return skip("the name does not match the configuration inside (\(key) is stored as \(Self.fileName(for: key)))")
        }
        let content = Array(bytes[(newline + 1)...])
        guard content.count == header.size else {
            return skip("size mismatch: the metadata says \(header.size) bytes, the file holds \(content.count) (truncated or damaged)")
        }
        guard Digest.hex(Digest.sha256(content)) == header.sha256 else {
            return skip("the content does not match its SHA-256 (damaged)")
        }
        return .loaded(BackupEntry(
            key: key, content: content, contentType: header.contentType, versionLabel: header.versionLabel,
            version: header.version, savedAt: header.savedAt))
    }

    /// The checked directory, or nil when it (or a directory above it) does not exist yet: then
    /// nothing was ever saved.
    private func openDirectory() throws(FileReadError) -> OpenDirectory? {
        do {
            return try DirectoryWalk.open(AbsolutePath(directory).components, createMissing: false)
        } catch {
            if case .directory(_, .missing) = error { return nil }
            throw error.readError(directory)
        }
    }

    private func listNames(_ directoryHandle: borrowing OpenDirectory) throws(FileReadError) -> [[UInt8]] {
        // fdopendir takes its own descriptor, so the checked one stays open for the reads.
        let copy: Int32
        do {
            copy = try SystemCall.retrying("dup") { dup(directoryHandle.fd) }
        } catch {
            throw .io(path: directory, operation: "dup", errno: error.errno)
        }
        guard let stream = fdopendir(copy) else {
            let code = errno
            close(copy)
            throw .io(path: directory, operation: "opendir", errno: code)
        }
        defer { closedir(stream) }
        var names: [[UInt8]] = []
        while true {
            errno = 0
            guard let entry = readdir(stream) else {
                if errno != 0 { throw .io(path: directory, operation: "readdir", errno: errno) }
                break
            }
            let name = withUnsafeBytes(of: &entry.pointee.d_name) { raw in Array(raw.prefix { $0 != 0 }) }
            names.append(name)
        }
        names.sort { $0.lexicographicallyPrecedes($1) }
        return names
    }

    private static func absolute(_ path: String) -> String {
        if path.hasPrefix("/") { return AbsolutePathText.normalized(path) }
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let found = buffer.withUnsafeMutableBufferPointer { getcwd($0.baseAddress, $0.count) } != nil
        let cwd = found ? String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : "/"
        return AbsolutePathText.normalized(cwd + "/" + path)
    }
}

/// Path text as `DirectoryWalk` names directories: single slashes, no trailing slash.
enum AbsolutePathText {
    static func normalized(_ path: String) -> String {
        "/" + path.split(separator: "/", omittingEmptySubsequences: true).joined(separator: "/")
    }
}

/// Read first, so that a file from a later format is reported as such.
struct BackupFormatProbe: Decodable {
    var format: Int
}

/// The first line of a backup file.
struct BackupHeader: Codable, Equatable {
    var format: Int
    var application: String
    var environment: String
    var profile: String
    var contentType: String
    var versionLabel: String?
    var version: String
    var size: Int
    var sha256: String
    var savedAt: Int

    enum CodingKeys: String, CodingKey {
        case format, application, environment, profile, contentType, versionLabel, version, size, sha256, savedAt
    }

    /// Writes `versionLabel` as `null` rather than leaving it out, so every file has the same fields.
    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(format, forKey: .format)
        try container.encode(application, forKey: .application)
        try container.encode(environment, forKey: .environment)
        try container.encode(profile, forKey: .profile)
        try container.encode(contentType, forKey: .contentType)
        try container.encode(versionLabel, forKey: .versionLabel)
        try container.encode(version, forKey: .version)
        try container.encode(size, forKey: .size)
        try container.encode(sha256, forKey: .sha256)
        try container.encode(savedAt, forKey: .savedAt)
    }

    /// One line of JSON: the encoder never writes a raw newline without `.prettyPrinted`.
    func encoded() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding strings and integers into JSON cannot fail.
        guard let data = try? encoder.encode(self) else { preconditionFailure("backup metadata failed to encode") }
        return Array(data)
    }
}
