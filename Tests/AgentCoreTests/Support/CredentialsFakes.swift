import Foundation
import Synchronization
@testable import AgentCore

/// Scripted AWS endpoints built on `CredentialsFakeServer`.
enum CredentialsFakes {
    /// Fake STS: answers `action` with credentials `id`/`secret`/`token` after checking the form body has
    /// `Action`, `Version=2011-06-15`, `RoleArn` and `RoleSessionName` and the content type is the form type;
    /// otherwise 400 with code `FakeCheckFailed` and a message saying what was wrong.
    static func sts(
        action: String, id: String, secret: String, token: String, expiration: String = "2027-01-15T09:00:00Z"
    ) -> CredentialsFakeServer.Handler {
        { request in
            if let problem = stsProblem(request, action: action) {
                return .xml(FakeSTS.errorXML(code: "FakeCheckFailed", message: problem), status: 400)
            }
            return .xml(FakeSTS.credentialsXML(action: action, accessKeyId: id, secret: secret, token: token, expiration: expiration))
        }
    }

    static func stsProblem(_ request: CredentialsFakeServer.Request, action: String) -> String? {
        let form = request.form
        if request.method != "POST" || request.path != "/" { return "expected POST /, got \(request.method) \(request.path)" }
        if request.header("content-type") != "application/x-www-form-urlencoded; charset=utf-8" { return "wrong content type" }
        if form["Action"] != action { return "Action is \(form["Action"] ?? "missing")" }
        if form["Version"] != "2011-06-15" { return "Version missing" }
        if form["RoleArn"] == nil || form["RoleSessionName"] == nil { return "RoleArn or RoleSessionName missing" }
        if action == "AssumeRole" {
            guard let authorization = request.header("authorization"),
                  authorization.hasPrefix("AWS4-HMAC-SHA256 Credential="), authorization.contains("/sts/aws4_request, ")
            else { return "AssumeRole without a SigV4 Authorization scoped to sts" }
            let signed = request.header("x-amz-security-token") == nil
                ? "SignedHeaders=content-type;host;x-amz-date," : "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token,"
            if !authorization.contains(signed) { return "SignedHeaders are not exactly the expected set" }
        } else if request.header("authorization") != nil {
            return "AssumeRoleWithWebIdentity must be unsigned"
        }
        return nil
    }

    /// Fake IMDSv2: `PUT /latest/api/token` needs the TTL header and returns `token`; every `GET` without
    /// that token gets 401. Serves the role listing, the role's credentials JSON and the region.
    static func imds(token: String, role: String?, credentialsJSON: String, region: String = "eu-north-1") -> CredentialsFakeServer.Handler {
        { request in
            if request.method == "PUT" && request.path == "/latest/api/token" {
                guard request.header("x-aws-ec2-metadata-token-ttl-seconds") == "21600" else { return .text("", status: 400) }
                return .text(token)
            }
            guard request.method == "GET", request.header("x-aws-ec2-metadata-token") == token else { return .text("", status: 401) }
            switch request.path {
            case "/latest/meta-data/iam/security-credentials/":
                guard let role else { return .text("", status: 404) }
                return .text(role + "\n")
            case "/latest/meta-data/iam/security-credentials/\(role ?? "-")":
                return .json(credentialsJSON)
            case "/latest/meta-data/placement/region":
                return .text(region)
            default:
                return .text("", status: 404)
            }
        }
    }

    static func metadataJSON(id: String, secret: String, token: String, expiration: String = "2027-01-15T14:00:00Z") -> String {
        """
        {"Code":"Success","LastUpdated":"2027-01-15T08:00:00Z","Type":"AWS-HMAC","AccessKeyId":"\(id)",\
        "SecretAccessKey":"\(secret)","Token":"\(token)","Expiration":"\(expiration)"}
        """
    }

    /// Fake container endpoint: checks `Authorization` equals `authorization` (when given), else 401.
    static func container(path: String, authorization: String?, json: String) -> CredentialsFakeServer.Handler {
        { request in
            if let authorization, request.header("authorization") != authorization { return .json("{\"message\":\"bad token\"}", status: 401) }
            guard request.method == "GET", request.target == path else { return .text("", status: 404) }
            return .json(json)
        }
    }
}
