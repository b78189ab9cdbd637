import Foundation
import Synchronization
import Testing

/// The real `appconfig-agent` binary, started for one test with its own environment and an ephemeral port.
final class AgentProcess: @unchecked Sendable {
    // @unchecked: `process` and the pipe are set up in init and then only read; `output` is a Mutex.
    let process = Process()
    private let output = OutputBuffer()
    private(set) var port: UInt16 = 0

    static var binaryURL: URL {
        if let path = ProcessInfo.processInfo.environment["AGENT_BINARY"] { return URL(fileURLWithPath: path) }
        // The test bundle sits next to the products of the same build.
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var directory = bundle.deletingLastPathComponent()
        while directory.path != "/" {
            let candidate = directory.appendingPathComponent("appconfig-agent")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        return URL(fileURLWithPath: ".build/debug/appconfig-agent")
    }

    /// Starts the agent; with `waitForListening`, returns once it logs the port it listens on.
    init(environment: [String: String], arguments: [String] = [], waitForListening: Bool = true) throws {
        process.executableURL = Self.binaryURL
        process.arguments = arguments
        var env = ["HTTP_PORT": "0", "LOG_LEVEL": "debug", "PATH": "/usr/bin:/bin"]
        env.merge(environment) { _, new in new }
        process.environment = env
        let pipe = Pipe()
        process.standardError = pipe
        process.standardOutput = pipe
        pipe.fileHandleForReading.readabilityHandler = { [output] handle in
            let data = handle.availableData
            if !data.isEmpty { output.append(String(decoding: data, as: UTF8.self)) }
        }
        try process.run()
        if waitForListening {
            let deadline = Date().addingTimeInterval(10)
            while Date() < deadline {
                if let match = log.firstMatch(of: /listening on .*?:(\d+)/), let port = UInt16(match.1) {
                    self.port = port
                    return
                }
                if !process.isRunning { break }
                Thread.sleep(forTimeInterval: 0.01)
            }
            stop()
            throw AgentProcessError.didNotStart(log)
        }
    }

    var log: String { output.text }

    /// Waits for the process to exit, up to `timeout` seconds; returns its status or nil.
    func waitForExit(timeout: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        return process.isRunning ? nil : process.terminationStatus
    }

    func signal(_ signal: Int32) { kill(process.processIdentifier, signal) }

    /// Waits until the log contains `text`.
    func waitForLog(_ text: String, timeout: Double = 5) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if log.contains(text) { return true }
            Thread.sleep(forTimeInterval: 0.01)
        }
        return false
    }

    func stop() {
        if process.isRunning {
            process.terminate()
            _ = waitForExit(timeout: 5)
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
    }

    deinit { stop() }
}

enum AgentProcessError: Error, CustomStringConvertible {
    case didNotStart(String)
    var description: String {
        switch self { case .didNotStart(let log): "agent did not start; its output:\n\(log)" }
    }
}

final class OutputBuffer: Sendable {
    private let storage = Mutex<String>("")
    func append(_ text: String) { storage.withLock { $0 += text } }
    var text: String { storage.withLock { $0 } }
}
