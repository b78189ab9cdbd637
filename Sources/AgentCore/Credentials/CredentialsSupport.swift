#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// Small helpers shared by the credential sources: environment look-ups, file reads, secret registration.
enum CredentialsSupport {
    /// `name` from `environment`, trimmed; nil when unset or only white space (as the SDKs treat a blank variable).
    static func value(_ environment: [String: String], _ name: String) -> String? {
        guard let raw = environment[name] else { return nil }
        let text = SettingValueParsers.trimmed(raw)
        return text.isEmpty ? nil : text
    }

    /// A boolean variable the SDK way: only `true` (any case) turns it on.
    static func flag(_ environment: [String: String], _ name: String) -> Bool {
        value(environment, name)?.lowercased() == "true"
    }

    /// Every secret in `credentials` goes to the logger's redaction list before anyone can print it.
    @discardableResult
    static func registered(_ credentials: AWSCredentials) -> AWSCredentials {
        Log.registerSecret(credentials.secretAccessKey)
        if let token = credentials.sessionToken { Log.registerSecret(token) }
        return credentials
    }

    /// `~` or `~/…` at the start becomes the home directory (`HOME` from `environment`, else the
    /// password database), as the SDKs expand the shared-file paths.
    static func expandingHome(_ path: String, environment: [String: String]) -> String {
        guard path == "~" || path.hasPrefix("~/") else { return path }
        guard let home = homeDirectory(environment) else { return path }
        return home + path.dropFirst()
    }

    static func homeDirectory(_ environment: [String: String]) -> String? {
        if let home = value(environment, "HOME") { return home }
        var entry = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 16384)
        guard getpwuid_r(getuid(), &entry, &buffer, buffer.count, &result) == 0, result != nil,
              let directory = entry.pw_dir
        else { return nil }
        let home = String(cString: directory)
        return home.isEmpty ? nil : home
    }

    enum FileReadError: Error, Equatable {
        case missing
        case failed(String)
    }

    /// The whole file, at most `limit` bytes. `.missing` for ENOENT/ENOTDIR so callers can treat an
    /// absent optional file as not configured; other failures carry a message naming the path.
    static func readFile(_ path: String, limit: Int = 1 << 20) -> Result<[UInt8], FileReadError> {
        let fd: Int32
        do {
            fd = try SystemCall.retrying("open(\(path))") { open(path, O_RDONLY | O_CLOEXEC) }
        } catch {
            if error.errno == ENOENT || error.errno == ENOTDIR { return .failure(.missing) }
            return .failure(.failed("cannot read \(path): \(String(cString: strerror(error.errno)))"))
        }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16384)
        while true {
            let count: Int
            do {
                count = try SystemCall.retrying("read(\(path))") {
                    chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                }
            } catch {
                return .failure(.failed("cannot read \(path): \(String(cString: strerror(error.errno)))"))
            }
            if count == 0 { return .success(bytes) }
            bytes.append(contentsOf: chunk[..<count])
            if bytes.count > limit { return .failure(.failed("\(path) is larger than \(limit) bytes")) }
        }
    }

    /// A token file's text, trimmed (a trailing newline is common); errors say which file and what to fix.
    /// `what` names the setting for the message, such as `AWS_WEB_IDENTITY_TOKEN_FILE`.
    static func readToken(_ path: String, what: String) throws(CredentialsError) -> String {
        switch readFile(path, limit: 64 << 10) {
        case .failure(.missing):
            throw CredentialsError("\(what) names \(path), which does not exist; check the path or mount the token file")
        case .failure(.failed(let message)):
            throw CredentialsError("\(what): \(message)")
        case .success(let bytes):
            let token = SettingValueParsers.trimmed(String(decoding: bytes, as: UTF8.self))
            guard !token.isEmpty else { throw CredentialsError("\(what) names \(path), which is empty") }
            guard !token.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) else {
                throw CredentialsError("\(what) names \(path), which holds control characters or several lines; it must hold one token")
            }
            Log.registerSecret(token)
            return token
        }
    }

    /// A short, safe excerpt of a service's error message: one line, printable ASCII, at most 300 characters.
    static func excerpt(_ text: String, limit: Int = 300) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            if out.unicodeScalars.count >= limit { out += "…"; break }
            out.unicodeScalars.append(scalar.value >= 0x20 && scalar.value < 0x7F ? scalar : " ")
        }
        return SettingValueParsers.trimmed(out)
    }

    /// A pause before one retry of a transient failure, so a blip does not fail a refresh outright.
    static func pauseBeforeRetry() async {
        try? await Task.sleep(for: .milliseconds(100 + Int.random(in: 0..<100)))
    }
}

/// Long-lived credentials that never change: the environment's keys or a profile's static keys.
public struct StaticCredentialsProvider: CredentialsProviding {
    private let value: AWSCredentials

    public init(_ credentials: AWSCredentials) {
        value = CredentialsSupport.registered(credentials)
    }

    public func credentials() async throws(CredentialsError) -> AWSCredentials { value }
}
