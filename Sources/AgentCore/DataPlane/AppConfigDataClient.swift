#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// One answer of `GetLatestConfiguration`.
public struct LatestConfiguration: Sendable {
    /// The configuration bytes; empty when unchanged since the previous token's answer.
    public var content: [UInt8]
    public var nextToken: String
    public var nextPollIntervalSeconds: Int?
    public var contentType: String?
    public var versionLabel: String?
    public var requestId: String?
}

/// The two calls of the AppConfig Data API (SPEC §4), SigV4-signed (`appconfig`), over libcurl.
public final class AppConfigDataClient: Sendable {
    public let endpoint: ServiceEndpoint
    private let signer: SigV4Signer
    private let credentials: any CredentialsProviding
    private let http: CurlHTTPClient

    public init(endpoint: String, region: String, credentials: any CredentialsProviding, http: CurlHTTPClient) throws(DataPlaneError) {
        guard let parsed = ServiceEndpoint(endpoint) else {
            throw .malformedResponse("endpoint URL '\(endpoint)' is not an http or https URL")
        }
        self.endpoint = parsed
        self.signer = SigV4Signer(service: "appconfig", region: region)
        self.credentials = credentials
        self.http = http
    }

    private struct StartSessionBody: Encodable {
        let ApplicationIdentifier: String
        let EnvironmentIdentifier: String
        let ConfigurationProfileIdentifier: String
        let RequiredMinimumPollIntervalInSeconds: Int
    }

    private struct StartSessionAnswer: Decodable {
        let InitialConfigurationToken: String
    }

    /// `StartConfigurationSession`: returns the initial token and the request id.
    public func startSession(_ key: ConfigurationKey, pollIntervalSeconds: Int) async throws(DataPlaneError) -> (token: String, requestId: String?) {
        let interval = PollerStateMachine.clampedPollInterval(pollIntervalSeconds)
        let body: [UInt8]
        do {
            body = Array(try JSONEncoder().encode(StartSessionBody(
                ApplicationIdentifier: key.application, EnvironmentIdentifier: key.environment,
                ConfigurationProfileIdentifier: key.profile, RequiredMinimumPollIntervalInSeconds: interval)))
        } catch {
            throw .malformedResponse("cannot encode the session request")
        }
        let request = SigV4Request(method: "POST", path: endpoint.path("/configurationsessions"),
                                   headers: [.init("Content-Type", "application/json")], body: body)
        let call = "StartConfigurationSession"
        let started = WallClock.monotonic()
        let response = try await send(request, accept: nil, call: call, key: key)
        do throws(DataPlaneError) {
            guard response.status == 201 || response.status == 200 else { throw Self.classify(response) }
            guard let answer = try? JSONDecoder().decode(StartSessionAnswer.self, from: Data(response.body)),
                  !answer.InitialConfigurationToken.isEmpty else {
                throw .malformedResponse("\(call) answer has no InitialConfigurationToken")
            }
            return (answer.InitialConfigurationToken, response.header("x-amzn-RequestId"))
        } catch {
            throw logged(error, response, call: call, key: key, started: started)
        }
    }

    /// `GetLatestConfiguration` with one token. `accept` asks for a representation (Ion for feature flags).
    public func getLatestConfiguration(_ key: ConfigurationKey, token: String, accept: String? = nil) async throws(DataPlaneError) -> LatestConfiguration {
        let request = SigV4Request(method: "GET", path: endpoint.path("/configuration"),
                                   query: [.init("configuration_token", token)])
        let call = "GetLatestConfiguration"
        let started = WallClock.monotonic()
        let response = try await send(request, accept: accept, call: call, key: key)
        do throws(DataPlaneError) {
            guard response.status == 200 else { throw Self.classify(response) }
            guard let next = response.header("Next-Poll-Configuration-Token"), !next.isEmpty else {
                throw .malformedResponse("\(call) answer has no Next-Poll-Configuration-Token")
            }
            var interval: Int?
            if let text = response.header("Next-Poll-Interval-In-Seconds") {
                guard let value = Int(text.filter { $0 != " " }), value >= 0 else {
                    throw .malformedResponse("Next-Poll-Interval-In-Seconds '\(text.prefix(20))' is not a number")
                }
                interval = value
            }
            return LatestConfiguration(
                content: response.body, nextToken: next, nextPollIntervalSeconds: interval,
                contentType: response.header("Content-Type"), versionLabel: response.header("Version-Label"),
                requestId: response.header("x-amzn-RequestId"))
        } catch {
            throw logged(error, response, call: call, key: key, started: started)
        }
    }

    private static func classify(_ response: HTTPClientResponse) -> DataPlaneError {
        DataPlaneError.classify(status: response.status, errorTypeHeader: response.header("x-amzn-ErrorType"),
                                body: response.body)
    }

    /// Logs an answer that failed (an error, or one that cannot be used) with its status, AWS error
    /// type, duration and request id, never its body; returns the error. The type is looked for in
    /// the body of an error answer only: the body of a 200 is the configuration itself, and whatever
    /// it holds under `code` or `__type` must not reach the log.
    private func logged(_ error: DataPlaneError, _ response: HTTPClientResponse, call: String, key: ConfigurationKey,
                        started: Double) -> DataPlaneError {
        let errorBody = (200..<300).contains(response.status) ? [] : response.body
        let type = DataPlaneError.errorTypeName(errorTypeHeader: response.header("x-amzn-ErrorType"), body: errorBody)
        let requestId = response.header("x-amzn-RequestId").map { ", request id \($0)" } ?? ""
        log.warn("\(call) for '\(key)' failed in \(Milliseconds.text(since: started)): HTTP \(response.status)\(type.map { " " + $0 } ?? ""): \(error)\(requestId)")
        return error
    }

    private func send(_ unsigned: SigV4Request, accept: String?, call: String, key: ConfigurationKey) async throws(DataPlaneError) -> HTTPClientResponse {
        let started = WallClock.monotonic()
        let creds: AWSCredentials
        do {
            creds = try await credentials.credentials()
        } catch {
            log.error("\(call) for '\(key)' not sent: \(error.message)")
            throw .credentials(error.message)
        }
        var request = unsigned
        request.headers.append(.init("Host", endpoint.hostHeader))
        do {
            try signer.sign(&request, credentials: creds, date: Date())
        } catch {
            log.error("\(call) for '\(key)' not sent: cannot sign: \(error)")
            throw .malformedResponse("cannot sign: \(error)")
        }
        var headers = request.headers.map { HTTPHeader(name: $0.name, value: $0.value) }
        // Accept is sent but never signed (SPEC §4): proxies and SDKs may rewrite it.
        if let accept { headers.append(HTTPHeader(name: "Accept", value: accept)) }
        let query = request.query.isEmpty ? "" : "?" + request.encodedQuery
        let outgoing = HTTPClientRequest(method: request.method, url: endpoint.url(request.path + query),
                                         headers: headers, body: request.body)
        do {
            return try await http.execute(outgoing)
        } catch {
            let failure: DataPlaneError = switch error {
            case .truncated(let detail): .malformedResponse("truncated answer: \(detail)")
            case .tooLarge(let limit): .malformedResponse("answer larger than \(limit) bytes")
            default: .network(error.description)
            }
            log.warn("\(call) for '\(key)' failed in \(Milliseconds.text(since: started)): \(failure)")
            throw failure
        }
    }
}

/// An endpoint URL split into what signing and requests need.
public struct ServiceEndpoint: Sendable, Equatable {
    public let scheme: String
    public let host: String
    public let port: Int?
    public let basePath: String

    public init?(_ url: String) {
        guard let schemeEnd = url.firstRange(of: "://") else { return nil }
        let scheme = url[..<schemeEnd.lowerBound].lowercased()
        guard scheme == "http" || scheme == "https" else { return nil }
        let rest = url[schemeEnd.upperBound...]
        let authorityEnd = rest.firstIndex(of: "/") ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        var path = String(rest[authorityEnd...])
        while path.hasSuffix("/") { path.removeLast() }
        var host = String(authority)
        var port: Int?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return nil }
            host = String(authority[...close])
            let after = authority[authority.index(after: close)...]
            if after.hasPrefix(":") { port = Int(after.dropFirst()) }
        } else if let colon = authority.lastIndex(of: ":") {
            host = String(authority[..<colon])
            port = Int(authority[authority.index(after: colon)...])
            if port == nil { return nil }
        }
        guard !host.isEmpty, !host.contains("@") else { return nil }
        self.scheme = scheme
        self.host = host
        self.port = port
        self.basePath = path
    }

    /// `Host` as sent and signed: with the port when it is not the scheme's default.
    public var hostHeader: String {
        guard let port, !(scheme == "https" && port == 443), !(scheme == "http" && port == 80) else { return host }
        return "\(host):\(port)"
    }

    public func path(_ suffix: String) -> String { basePath + suffix }

    public func url(_ pathAndQuery: String) -> String { "\(scheme)://\(hostHeader)\(pathAndQuery)" }
}

enum Milliseconds {
    /// `93.2ms`: the time since a `WallClock.monotonic()` reading, for log lines.
    static func text(since start: Double) -> String {
        let tenths = Int(((WallClock.monotonic() - start) * 10_000).rounded())
        return "\(tenths / 10).\(tenths % 10)ms"
    }
}
