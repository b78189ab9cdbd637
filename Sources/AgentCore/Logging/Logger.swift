import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Severity of a log line, from the most verbose to `none`, which silences everything.
public enum LogLevel: Int, Sendable, Comparable, CaseIterable {
    case trace, debug, info, warn, error, fatal, none

    /// Parses `LOG_LEVEL`: the level names in any case.
    public init?(parsing text: String) {
        switch text.lowercased() {
        case "trace": self = .trace
        case "debug": self = .debug
        case "info": self = .info
        case "warn", "warning": self = .warn
        case "error": self = .error
        case "fatal": self = .fatal
        case "none", "off": self = .none
        default: return nil
        }
    }

    public static func < (lhs: LogLevel, rhs: LogLevel) -> Bool { lhs.rawValue < rhs.rawValue }

    var label: String {
        switch self {
        case .trace: "TRACE"
        case .debug: "DEBUG"
        case .info: "INFO"
        case .warn: "WARN"
        case .error: "ERROR"
        case .fatal: "FATAL"
        case .none: "NONE"
        }
    }
}

/// Where formatted log lines go. Set once per process with `Log.bootstrap`.
public protocol LogSink: Sendable {
    func write(line: String)
}

/// Appends each line to a file descriptor with one `write(2)`, so that lines from several threads never interleave.
public final class FileDescriptorLogSink: LogSink {
    private let fd: Int32
    private let ownsDescriptor: Bool

    public init(fd: Int32, ownsDescriptor: Bool = false) {
        self.fd = fd
        self.ownsDescriptor = ownsDescriptor
    }

    /// Opens `path` for appending, created 0600 when missing: logs name configurations and hosts.
    public static func opening(path: String) throws(SystemError) -> FileDescriptorLogSink {
        let fd = try SystemCall.retrying("open(\(path))") {
            open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        }
        return FileDescriptorLogSink(fd: fd, ownsDescriptor: true)
    }

    public func write(line: String) {
        var bytes = Array(line.utf8)
        bytes.append(UInt8(ascii: "\n"))
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let n = Glibc.write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    return
                }
                offset += n
            }
        }
    }

    deinit {
        if ownsDescriptor { close(fd) }
    }
}

/// Keeps every line in memory; for tests.
public final class MemoryLogSink: LogSink {
    private let storage = Mutex<[String]>([])
    public init() {}
    public func write(line: String) { storage.withLock { $0.append(line) } }
    public var lines: [String] { storage.withLock { $0 } }
}

/// The secrets that log lines are redacted of. Permanent ones (ACCESS_TOKEN, static credentials)
/// stay; rotating ones (credentials that are refreshed) are forgotten, oldest first, beyond
/// `maximumRotating`: far more than can be valid at once (a few per role and refresh), so a
/// process that runs for months does not grow a list it scans on every line.
struct SecretRegistry: Sendable {
    static let maximumRotating = 512
    private(set) var permanent: [String] = []
    /// Most recent last.
    private(set) var rotating: [String] = []

    var all: [String] { permanent + rotating }

    func contains(_ secret: String) -> Bool { permanent.contains(secret) || rotating.contains(secret) }

    /// Secrets shorter than 4 characters are ignored: redacting them would mangle ordinary text.
    mutating func register(_ secret: String, permanent isPermanent: Bool) {
        guard secret.count >= 4, !permanent.contains(secret) else { return }
        rotating.removeAll { $0 == secret }
        if isPermanent {
            permanent.append(secret)
            return
        }
        rotating.append(secret)
        if rotating.count > Self.maximumRotating { rotating.removeFirst(rotating.count - Self.maximumRotating) }
    }
}

/// The process-wide logging set-up: level, sink and the secrets that must never be printed.
public enum Log {
    struct State: Sendable {
        var level: LogLevel = .info
        var sink: any LogSink = FileDescriptorLogSink(fd: 2)
        var secrets = SecretRegistry()
    }

    static let state = Mutex(State())
    private static let levelValue = Atomic<Int>(LogLevel.info.rawValue)

    /// Sets the level and the sink; called once at start-up (and by tests).
    public static func bootstrap(level: LogLevel, sink: any LogSink) {
        state.withLock {
            $0.level = level
            $0.sink = sink
        }
        levelValue.store(level.rawValue, ordering: .relaxed)
    }

    /// Registers a secret (access token, secret key, session token): any line that would contain it
    /// has it replaced by `[redacted]`. A second line of defence; code never logs secrets on purpose.
    /// `permanent` secrets stay registered; the others (credentials that rotate) are forgotten,
    /// oldest first, beyond `maximumRotatingSecrets`, long after they have expired.
    public static func registerSecret(_ secret: String, permanent: Bool = false) {
        state.withLock { $0.secrets.register(secret, permanent: permanent) }
    }

    public static var level: LogLevel { LogLevel(rawValue: levelValue.load(ordering: .relaxed)) ?? .info }

    @inline(__always)
    public static func isEnabled(_ level: LogLevel) -> Bool {
        level != .none && level.rawValue >= levelValue.load(ordering: .relaxed)
    }

    static func emit(_ level: LogLevel, _ message: String) {
        let (sink, secrets) = state.withLock { ($0.sink, $0.secrets) }
        var text = message
        for secret in secrets.all where text.contains(secret) {
            text = text.replacing(secret, with: "[redacted]")
        }
        sink.write(line: "[appconfig agent] \(timestamp()) \(level.label) \(text)")
    }

    /// `2026/01/02 15:04:05` in local time, the format of AWS's agent.
    static func timestamp() -> String {
        var now = time(nil)
        var parts = tm()
        localtime_r(&now, &parts)
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(parts.tm_year + 1900)/\(two(parts.tm_mon + 1))/\(two(parts.tm_mday)) \(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))"
    }
}

/// The cheap front end: `log.info("…")`. The message is built only when its level is enabled.
public struct Logger: Sendable {
    public init() {}

    public func trace(_ message: @autoclosure () -> String) { log(.trace, message()) }
    public func debug(_ message: @autoclosure () -> String) { log(.debug, message()) }
    public func info(_ message: @autoclosure () -> String) { log(.info, message()) }
    public func warn(_ message: @autoclosure () -> String) { log(.warn, message()) }
    public func error(_ message: @autoclosure () -> String) { log(.error, message()) }
    public func fatal(_ message: @autoclosure () -> String) { log(.fatal, message()) }

    @inline(__always)
    public func log(_ level: LogLevel, _ message: @autoclosure () -> String) {
        guard Log.isEnabled(level) else { return }
        Log.emit(level, message())
    }
}

public let log = Logger()
