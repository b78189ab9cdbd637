#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Calls one STS action that returns credentials, over the query protocol: `POST /` with a form body,
/// an XML answer. Signed with SigV4 (signing name `sts`) when given credentials to sign with, unsigned
/// otherwise (`AssumeRoleWithWebIdentity`). One retry, after a short pause, on a network failure, a 5xx
/// or a throttling/IdP-communication error; never on anything the caller must fix.
struct STSQueryClient: Sendable {
    static let apiVersion = "2011-06-15"
    static let contentType = "application/x-www-form-urlencoded; charset=utf-8"

    let endpoint: EndpointURL
    let region: String
    let client: CurlHTTPClient
    let now: @Sendable () -> Date

    init(endpoint: String, region: String, client: CurlHTTPClient, now: @escaping @Sendable () -> Date) throws(CredentialsError) {
        guard let parsed = EndpointURL(parsing: endpoint), !parsed.pathAndQuery.contains("?") else {
            throw CredentialsError("the STS endpoint \(SettingValueParsers.redactingUserInfo(endpoint)) is not an http or https URL with a host and no query or user information; check AWS_ENDPOINT_URL_STS / AWS_ENDPOINT_URL")
        }
        self.endpoint = parsed
        self.region = region
        self.client = client
        self.now = now
    }

    /// `Action=…&Version=…&name=value…`, each part percent-encoded (RFC 3986 unreserved characters kept),
    /// the way the SDKs encode query-protocol bodies.
    static func formBody(action: String, parameters: [(String, String)]) -> [UInt8] {
        let fields = [("Action", action), ("Version", apiVersion)] + parameters
        return Array(fields.map { SigV4Signer.uriEncode($0.0) + "=" + SigV4Signer.uriEncode($0.1) }.joined(separator: "&").utf8)
    }

    /// Runs `action` and returns the credentials in its answer, their secrets already registered with the logger.
    /// `describe` names the call in messages, such as `STS AssumeRole for arn:aws:iam::1:role/R`.
    func credentials(
        action: String,
        parameters: [(String, String)],
        signingWith signing: AWSCredentials?,
        describe: String,
        hint: (String) -> String?
    ) async throws(CredentialsError) -> AWSCredentials {
        let body = Self.formBody(action: action, parameters: parameters)
        // Values that must not come back in an error even if STS were to quote them.
        let secrets = parameters.filter { $0.0 == "WebIdentityToken" }.map(\.1)
            + [signing?.secretAccessKey, signing?.sessionToken].compactMap { $0 }
        var attempt = 1
        while true {
            var signable = SigV4Request(
                method: "POST", path: endpoint.path,
                headers: [.init("Host", endpoint.hostHeader), .init("Content-Type", Self.contentType)],
                body: body
            )
            if let signing {
                do {
                    try SigV4Signer(service: "sts", region: region).sign(&signable, credentials: signing, date: now())
                } catch {
                    throw CredentialsError("\(describe): cannot sign the request: \(error)")
                }
            }
            let request = HTTPClientRequest(
                method: "POST", url: endpoint.url(path: endpoint.path),
                headers: signable.headers.map { HTTPHeader(name: $0.name, value: $0.value) }, body: body
            )
            let outcome: STSOutcome
            do throws(HTTPClientError) {
                let response = try await client.execute(request)
                outcome = Self.interpret(response, action: action, describe: describe, hint: hint)
            } catch {
                outcome = .failed(CredentialsError("\(describe) failed: \(error) (\(endpoint.redacted))"), retryable: Self.isTransient(error))
            }
            switch outcome {
            case .credentials(let credentials):
                return credentials
            case .failed(let failure, let retryable):
                let error = CredentialsError(Self.scrub(failure.message, removing: secrets))
                guard retryable, attempt < 2 else { throw error }
                attempt += 1
                log.debug("\(error.message); trying once more")
                await CredentialsSupport.pauseBeforeRetry()
            }
        }
    }

    enum STSOutcome {
        case credentials(AWSCredentials)
        case failed(CredentialsError, retryable: Bool)
    }

    static func interpret(
        _ response: HTTPClientResponse, action: String, describe: String, hint: (String) -> String?
    ) -> STSOutcome {
        func broken(_ message: String) -> STSOutcome { .failed(CredentialsError("\(describe): \(message)"), retryable: false) }
        let document = XMLElementTree.parse(response.body)
        guard response.status == 200 else {
            let error = document?.firstDescendant(named: "Error")
            let code = error?.value(at: ["Code"])
            let message = error?.value(at: ["Message"]).map { CredentialsSupport.excerpt($0) }
            var text = "\(describe) was refused with HTTP \(response.status)"
            if let code { text += ": \(CredentialsSupport.excerpt(code, limit: 64))" }
            if let message { text += (code == nil ? ": " : " (") + message + (code == nil ? "" : ")") }
            if let code, let advice = hint(code) { text += "; \(advice)" }
            let retryable = response.status >= 500 || response.status == 429
                || ["Throttling", "ThrottlingException", "RequestLimitExceeded", "IDPCommunicationError", "InternalFailure", "ServiceUnavailable"]
                    .contains(code ?? "")
            return .failed(CredentialsError(text), retryable: retryable)
        }
        guard let document, document.name == "\(action)Response",
              let credentials = document.element(at: ["\(action)Result", "Credentials"])
        else {
            return broken("the answer is not the XML STS sends (no \(action)Result/Credentials)")
        }
        guard let accessKeyId = credentials.value(at: ["AccessKeyId"]),
              let secret = credentials.value(at: ["SecretAccessKey"]),
              let token = credentials.value(at: ["SessionToken"])
        else {
            return broken("the answer lacks AccessKeyId, SecretAccessKey or SessionToken")
        }
        // Register before anything else can fail and print.
        Log.registerSecret(secret)
        Log.registerSecret(token)
        guard let expirationText = credentials.value(at: ["Expiration"]) else {
            return broken("the answer has no Expiration")
        }
        guard let expiration = ISO8601Timestamp.parse(expirationText) else {
            return broken("the answer's Expiration \(CredentialsSupport.excerpt(expirationText, limit: 40)) is not an ISO 8601 time")
        }
        return .credentials(AWSCredentials(accessKeyId: accessKeyId, secretAccessKey: secret, sessionToken: token, expiration: expiration))
    }

    /// `text` with every one of `secrets` replaced by `[redacted]`.
    static func scrub(_ text: String, removing secrets: [String]) -> String {
        var out = text
        for secret in secrets where !secret.isEmpty && out.contains(secret) {
            out = out.replacing(secret, with: "[redacted]")
        }
        return out
    }

    static func isTransient(_ error: HTTPClientError) -> Bool {
        switch error {
        case .timedOut, .connectionFailed, .truncated: true
        default: false
        }
    }
}
