import Foundation
import Testing
@testable import AgentCore
#if canImport(Glibc)
import Glibc
#endif

/// A CA and server certificates made with the openssl CLI for one test (scripts/setup.sh installs it).
final class TestCertificates: Sendable {
    let directory: CredentialsTempDirectory
    var caBundle: String { directory.path + "/ca.pem" }

    /// `names`: the server certificate's subjectAltName entries, e.g. `IP:127.0.0.1`.
    init(names: String = "IP:127.0.0.1") throws {
        directory = try CredentialsTempDirectory()
        try directory.write("server.ext", "subjectAltName=\(names)\nbasicConstraints=CA:FALSE\n")
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        try openssl(["req", "-x509"] + ec + ["-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=appconfig-agent test CA",
                     "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign"])
        try openssl(["req"] + ec + ["-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=appconfig-agent test server"])
        try openssl(["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                     "-out", "server.pem", "-days", "2", "-extfile", "server.ext"])
    }

    private func openssl(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["openssl"] + arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory.path)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw TLSTestError("openssl \(arguments.prefix(2).joined(separator: " ")) failed (is the openssl CLI installed? scripts/setup.sh)")
        }
    }
}

struct TLSTestError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// `Tests/Fakes/tls_server.py` serving `certificates` on 127.0.0.1; gone when released (its standard
/// input closes, and it is terminated).
final class TLSTestServer: @unchecked Sendable {
    // @unchecked: every stored property is set in init and only read afterwards.
    let process = Process()
    private let stdin = Pipe()
    let port: Int
    /// The TLS versions the server negotiated with itself: "1.1", "1.2", "1.3" or "none".
    let offers: String

    static var script: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fakes/tls_server.py").path
    }

    init(_ certificates: TestCertificates, tls: String = "1.2+", forwardTo forward: Int? = nil) throws {
        let dir = certificates.directory.path
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", Self.script, "--cert", dir + "/server.pem", "--key", dir + "/server.key", "--tls", tls]
            + (forward.map { ["--forward", String($0)] } ?? [])
        let stdout = Pipe()
        process.standardInput = stdin
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
        guard let match = text.firstMatch(of: /TLS_SERVER_PORT=(\d+) OFFERS=(\S+)/), let port = Int(match.1) else {
            process.terminate()
            throw TLSTestError("tls_server.py did not start: \(text)")
        }
        self.port = port
        offers = String(match.2)
    }

    deinit {
        try? stdin.fileHandleForWriting.close()
        let pid = process.processIdentifier
        kill(pid, SIGTERM)
        let deadline = Date().addingTimeInterval(2)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        if process.isRunning { kill(pid, SIGKILL) }
    }

    var url: String { "https://127.0.0.1:\(port)/hello" }
}

/// CurlHTTPClient over real TLS on loopback: peer and host verification are on, `AWS_CA_BUNDLE`'s file
/// is the trust store when given, and nothing below TLS 1.2 is accepted.
@Suite struct CurlTLSTests {
    private func get(_ url: String, caBundle: String?) async -> Result<HTTPClientResponse, HTTPClientError> {
        let client: CurlHTTPClient
        do throws(HTTPClientError) {
            client = try CurlHTTPClient(configuration: HTTPClientConfiguration(
                requestTimeout: .seconds(20), connectTimeout: .seconds(20), caBundle: caBundle, useEnvironmentProxy: false))
        } catch {
            return .failure(error)
        }
        defer { client.shutdown() }
        do throws(HTTPClientError) {
            return .success(try await client.execute(HTTPClientRequest(url: url)))
        } catch {
            return .failure(error)
        }
    }

    private func isTLSFailure(_ result: Result<HTTPClientResponse, HTTPClientError>) -> Bool {
        if case .failure(.tls) = result { return true }
        return false
    }

    @Test func aPrivateCAIsRefusedWithoutTheBundleAndTrustedWithIt() async throws {
        let certificates = try TestCertificates()
        let server = try TLSTestServer(certificates)

        let withoutBundle = await get(server.url, caBundle: nil)
        #expect(isTLSFailure(withoutBundle), "\(withoutBundle)")

        let withBundle = await get(server.url, caBundle: certificates.caBundle)
        let response = try withBundle.get()
        #expect(response.status == 200)
        #expect(String(decoding: response.body, as: UTF8.self) == "tls-ok")
    }

    @Test func aCertificateForAnotherNameIsRefusedEvenFromATrustedCA() async throws {
        let certificates = try TestCertificates(names: "DNS:elsewhere.example")
        let server = try TLSTestServer(certificates)
        let result = await get(server.url, caBundle: certificates.caBundle)
        #expect(isTLSFailure(result), "\(result)")
    }

    @Test func aServerLimitedToTLS11IsRefused() async throws {
        let certificates = try TestCertificates()
        let server = try TLSTestServer(certificates, tls: "1.1")
        guard server.offers == "1.1" else {
            print("CurlTLSTests: skipped the TLS 1.1 case: this OpenSSL cannot offer TLS 1.1 (the server negotiated \(server.offers))")
            return
        }
        let result = await get(server.url, caBundle: certificates.caBundle)
        #expect(isTLSFailure(result), "\(result)")
    }
}
