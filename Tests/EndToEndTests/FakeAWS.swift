import Foundation
import Testing

/// `Tests/Fakes/fake_aws.py`: fake AppConfig Data, STS, container credentials and IMDS on one
/// loopback port, driven through its `/_admin/` API.
final class FakeAWS: @unchecked Sendable {
    // @unchecked: `process` and `port` are set in init and only read afterwards.
    let process = Process()
    let port: UInt16
    static let accessKey = "AKIDFAKE"
    static let secretKey = "fake-secret-key"

    static var script: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fakes/fake_aws.py")
    }

    init() throws {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", Self.script.path, "--port", "0"]
        let stdout = Pipe()
        process.standardOutput = stdout
        process.standardError = FileHandle.nullDevice
        try process.run()
        var line = Data()
        let handle = stdout.fileHandleForReading
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = handle.availableData
            if chunk.isEmpty { break }
            line.append(chunk)
        }
        let text = String(decoding: line, as: UTF8.self)
        guard let match = text.firstMatch(of: /FAKE_AWS_PORT=(\d+)/), let port = UInt16(match.1) else {
            process.terminate()
            throw FakeAWSError.didNotStart(text)
        }
        self.port = port
    }

    deinit {
        // No waitUntilExit: it spins a run loop; poll, and make sure the fake is gone.
        let pid = process.processIdentifier
        kill(pid, SIGTERM)
        let deadline = Date().addingTimeInterval(2)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        if process.isRunning { kill(pid, SIGKILL) }
    }

    var endpoint: String { "http://127.0.0.1:\(port)" }

    /// The environment that points an agent at this fake with its static credentials.
    var agentEnvironment: [String: String] {
        ["AWS_ENDPOINT_URL": endpoint, "SERVICE_REGION": "us-east-1",
         "AWS_ACCESS_KEY_ID": Self.accessKey, "AWS_SECRET_ACCESS_KEY": Self.secretKey,
         "AWS_EC2_METADATA_DISABLED": "true", "HOME": "/nonexistent"]
    }

    @discardableResult
    func admin(_ method: String, _ path: String, _ json: Any? = nil) throws -> Any? {
        let body = try json.map { try JSONSerialization.data(withJSONObject: $0) }.map { Array($0) } ?? []
        let response = try httpGet(port: port, "/_admin/" + path, method: method,
                                   headers: [("Content-Type", "application/json")], body: body)
        guard response.status < 300 else { throw FakeAWSError.admin("\(method) \(path): \(response.status) \(response.text)") }
        return try? JSONSerialization.jsonObject(with: Data(response.body))
    }

    /// `ion`: the variant feature-flag document, served instead of `content` (as
    /// `application/ion;type=AWS.AppConfig.FeatureFlags`) to a caller whose Accept header asks for it.
    func putConfiguration(_ app: String, _ env: String, _ profile: String, _ content: String,
                          contentType: String = "application/json", label: String? = nil, ion: [UInt8]? = nil) throws {
        var body: [String: Any] = ["content": content, "content_type": contentType]
        if let label { body["version_label"] = label }
        if let ion { body["ion_content_base64"] = Data(ion).base64EncodedString() }
        try admin("PUT", "configurations/\(app)/\(env)/\(profile)", body)
    }

    func fault(_ spec: [String: Any]) throws { try admin("POST", "faults", spec) }

    func settings(_ values: [String: Any]) throws { try admin("PUT", "settings", values) }

    /// Every recorded call, optionally only those to one path.
    func calls(path: String? = nil) throws -> [[String: Any]] {
        let all = (try admin("GET", "calls") as? [[String: Any]]) ?? []
        guard let path else { return all }
        return all.filter { ($0["path"] as? String) == path }
    }
}

enum FakeAWSError: Error { case didNotStart(String), admin(String) }
