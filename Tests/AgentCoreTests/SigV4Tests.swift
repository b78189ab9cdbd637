import Foundation
import Testing
@testable import AgentCore

// MARK: - Vectors

/// The SigV4 vectors under Fixtures/sigv4 (see its README.md): one leaf directory per case,
/// `NAME/NAME.{req,creq,sts,authz}`, plus `context.json` for the service-shaped ones.
enum SigV4Vectors {
    static let suiteDate = Date(timeIntervalSince1970: 1_440_938_160)  // 2015-08-30T12:36:00Z
    static let suiteAccessKeyId = "AKIDEXAMPLE"
    static let suiteSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"

    static func root() throws -> URL {
        let fixtures = try #require(Bundle.module.url(forResource: "Fixtures", withExtension: nil))
        return fixtures.appendingPathComponent("sigv4", isDirectory: true)
    }

    /// Case ids (paths relative to `suite`, e.g. `normalize-path/get-space`) of every leaf directory.
    /// Never throws, so that it can feed `@Test(arguments:)`; the count tests catch an empty result.
    static func caseIDs(in suite: String) -> [String] {
        guard let base = try? root().appendingPathComponent(suite, isDirectory: true) else { return [] }
        return leafDirectories(under: base).map { directory in
            directory.pathComponents.dropFirst(base.pathComponents.count).joined(separator: "/")
        }.sorted()
    }

    /// Every directory under `base` that has no subdirectory: each of them is one case.
    static func leafDirectories(under base: URL) -> [URL] {
        guard let walker = FileManager.default.enumerator(at: base, includingPropertiesForKeys: [.isDirectoryKey])
        else { return [] }
        var directories: [URL] = []
        for case let url as URL in walker where (try? url.resourceValues(forKeys: [.isDirectoryKey]))?.isDirectory == true {
            directories.append(url.standardizedFileURL)
        }
        return directories.filter { candidate in
            !directories.contains { $0.deletingLastPathComponent().path == candidate.path }
        }
    }

    struct Case {
        var request: SigV4Request
        var canonicalRequest: String
        var stringToSign: String
        var authorization: String
        var directory: URL
    }

    static func load(suite: String, id: String) throws -> Case {
        let directory = try root().appendingPathComponent(suite).appendingPathComponent(id)
        let name = directory.lastPathComponent
        func text(_ ext: String) throws -> String {
            let data = try Data(contentsOf: directory.appendingPathComponent("\(name).\(ext)"))
            return String(decoding: data, as: UTF8.self)
        }
        let raw = try Data(contentsOf: directory.appendingPathComponent("\(name).req"))
        return Case(
            request: try RawRequestParser.parse(Array(raw)),
            canonicalRequest: try text("creq"),
            stringToSign: try text("sts"),
            authorization: try text("authz"),
            directory: directory
        )
    }

    /// `context.json` of a service-shaped case.
    struct Context: Decodable {
        var access_key_id: String
        var secret_access_key: String
        var token: String?
        var region: String
        var service: String
        var x_amz_date: String
    }
}

/// Reads the vectors' raw HTTP requests: request line (the target may hold a raw space), header lines,
/// obs-fold continuation lines, a blank line, then the body. Files may or may not end with a newline.
enum RawRequestParser {
    struct Malformed: Error, CustomStringConvertible {
        var description: String
    }

    static func parse(_ bytes: [UInt8]) throws -> SigV4Request {
        var headEnd = bytes.count
        var bodyStart = bytes.count
        var index = 0
        while index + 1 < bytes.count {
            if bytes[index] == 0x0A && bytes[index + 1] == 0x0A {
                headEnd = index
                bodyStart = index + 2
                break
            }
            index += 1
        }
        let head = String(decoding: bytes[..<headEnd], as: UTF8.self)
        var lines = head.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            line.hasSuffix("\r") ? line.dropLast() : line
        }
        if lines.last?.isEmpty == true { lines.removeLast() }  // head ended with a single newline
        guard let requestLine = lines.first,
              let firstSpace = requestLine.firstIndex(of: " "),
              let lastSpace = requestLine.lastIndex(of: " "),
              firstSpace < lastSpace
        else { throw Malformed(description: "bad request line in \(head)") }

        let method = String(requestLine[..<firstSpace])
        let target = requestLine[requestLine.index(after: firstSpace)..<lastSpace]
        let path: Substring
        var query: [SigV4Request.Field] = []
        if let mark = target.firstIndex(of: "?") {
            path = target[..<mark]
            for item in target[target.index(after: mark)...].split(separator: "&") {
                let parts = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                query.append(.init(percentDecode(parts[0]), parts.count > 1 ? percentDecode(parts[1]) : ""))
            }
        } else {
            path = target
        }

        var headers: [SigV4Request.Field] = []
        for line in lines.dropFirst() {
            if line.first == " " || line.first == "\t" {
                // obs-fold: the line continues the previous value; keep the break as botocore's parser does.
                guard !headers.isEmpty else { throw Malformed(description: "continuation line before any header") }
                headers[headers.count - 1].value += "\n" + line
                continue
            }
            guard let colon = line.firstIndex(of: ":") else { throw Malformed(description: "bad header line \(line)") }
            headers.append(.init(String(line[..<colon]), String(line[line.index(after: colon)...])))
        }
        return SigV4Request(method: method, path: String(path), query: query, headers: headers,
                            body: Array(bytes[bodyStart...]))
    }

    /// `%XX` to bytes (the signer wants raw query values); anything else, including a bad escape, stays as is.
    static func percentDecode(_ text: Substring) -> String {
        let input = Array(text.utf8)
        var output: [UInt8] = []
        var index = 0
        while index < input.count {
            if input[index] == UInt8(ascii: "%"), index + 2 < input.count,
               let high = hexValue(input[index + 1]), let low = hexValue(input[index + 2]) {
                output.append(high << 4 | low)
                index += 3
            } else {
                output.append(input[index])
                index += 1
            }
        }
        return String(decoding: output, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

// MARK: - Signer

@Suite struct SigV4Tests {
    static let aws4CaseIDs = SigV4Vectors.caseIDs(in: "aws4_testsuite")
    static let serviceCaseIDs = SigV4Vectors.caseIDs(in: "service-shaped")

    @Test func everyAWS4TestSuiteDirectoryIsACase() throws {
        let base = try SigV4Vectors.root().appendingPathComponent("aws4_testsuite")
        let leaves = SigV4Vectors.leafDirectories(under: base)
        #expect(Self.aws4CaseIDs.count == leaves.count)
        #expect(Self.aws4CaseIDs.count == 34)  // botocore 32302bc3: 24 top-level, 8 normalize-path, 2 post-sts-token
        #expect(Self.aws4CaseIDs.contains("normalize-path/get-space"))
        #expect(Self.aws4CaseIDs.contains("post-sts-token/post-sts-header-before"))
    }

    @Test func everyServiceShapedDirectoryIsACase() throws {
        let base = try SigV4Vectors.root().appendingPathComponent("service-shaped")
        #expect(Self.serviceCaseIDs.count == SigV4Vectors.leafDirectories(under: base).count)
        #expect(Self.serviceCaseIDs.count == 4)
    }

    @Test(arguments: aws4CaseIDs)
    func aws4TestSuiteCaseSignsAsBotocore(id: String) throws {
        let vector = try SigV4Vectors.load(suite: "aws4_testsuite", id: id)
        // The README: a case has a session token iff its .creq signs one.
        let tokenPrefix = "x-amz-security-token:"
        let token = vector.canonicalRequest.split(separator: "\n")
            .first { $0.hasPrefix(tokenPrefix) }
            .map { String($0.dropFirst(tokenPrefix.count)) }
        let credentials = AWSCredentials(accessKeyId: SigV4Vectors.suiteAccessKeyId,
                                         secretAccessKey: SigV4Vectors.suiteSecret, sessionToken: token)
        try check(vector, signer: SigV4Signer(service: "service", region: "us-east-1"),
                  credentials: credentials, date: SigV4Vectors.suiteDate, amzDate: "20150830T123600Z")
    }

    @Test(arguments: serviceCaseIDs)
    func serviceShapedCaseSignsAsBotocore(id: String) throws {
        let vector = try SigV4Vectors.load(suite: "service-shaped", id: id)
        let json = try Data(contentsOf: vector.directory.appendingPathComponent("context.json"))
        let context = try JSONDecoder().decode(SigV4Vectors.Context.self, from: json)
        let credentials = AWSCredentials(accessKeyId: context.access_key_id,
                                         secretAccessKey: context.secret_access_key, sessionToken: context.token)
        try check(vector, signer: SigV4Signer(service: context.service, region: context.region),
                  credentials: credentials, date: try Self.date(amz: context.x_amz_date), amzDate: context.x_amz_date)
    }

    private func check(_ vector: SigV4Vectors.Case, signer: SigV4Signer, credentials: AWSCredentials,
                       date: Date, amzDate: String) throws {
        let signed = try signer.signed(vector.request, credentials: credentials, date: date)
        let canonical = signer.canonicalRequest(for: signed).text
        #expect(canonical == vector.canonicalRequest)
        #expect(signer.stringToSign(canonicalRequest: canonical, date: date) == vector.stringToSign)
        #expect(signed.headerValues(named: "authorization") == [vector.authorization])
        #expect(signed.headerValues(named: "x-amz-date") == [amzDate])
        #expect(signed.headerValues(named: "x-amz-security-token") == credentials.sessionToken.map { [$0] } ?? [])
    }

    /// `yyyyMMdd'T'HHmmss'Z'` through Foundation's formatter, independent of the signer's arithmetic.
    static func date(amz: String) throws -> Date {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        return try #require(formatter.date(from: amz))
    }

    // MARK: Behaviour beyond the vectors

    static let credentials = AWSCredentials(accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret", sessionToken: "tok+/=")
    static let appConfig = SigV4Signer(service: "appconfig", region: "us-east-1")

    @Test func signingTwiceReplacesDateTokenAndAuthorization() throws {
        var request = SigV4Request(method: "GET", path: "/configuration",
                                   query: [.init("configuration_token", "a+b/c==")],
                                   headers: [.init("Host", "appconfigdata.us-east-1.amazonaws.com")])
        try Self.appConfig.sign(&request, credentials: Self.credentials, date: SigV4Vectors.suiteDate)
        let first = request
        try Self.appConfig.sign(&request, credentials: Self.credentials, date: SigV4Vectors.suiteDate)
        #expect(request == first)
        let later = SigV4Vectors.suiteDate.addingTimeInterval(60)
        try Self.appConfig.sign(&request, credentials: AWSCredentials(accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret"),
                                date: later)
        #expect(request.headerValues(named: "x-amz-date") == ["20150830T123700Z"])
        #expect(request.headerValues(named: "x-amz-security-token").isEmpty)
        #expect(request.headerValues(named: "authorization").count == 1)
        #expect(request.headerValue(named: "authorization") != first.headerValue(named: "authorization"))
    }

    @Test func signedHeadersAreExactlyTheHeadersOnTheRequest() throws {
        let request = SigV4Request(method: "POST", path: "/configurationsessions",
                                   headers: [.init("Content-Type", "application/json"), .init("Host", "localhost:4566")],
                                   body: Array("{}".utf8))
        let signed = try Self.appConfig.signed(request, credentials: Self.credentials, date: SigV4Vectors.suiteDate)
        let authorization = try #require(signed.headerValue(named: "authorization"))
        #expect(authorization.contains("SignedHeaders=content-type;host;x-amz-date;x-amz-security-token,"))
        #expect(authorization.hasPrefix("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/appconfig/aws4_request, "))
        #expect(signed.headerValues(named: "x-amz-content-sha256").isEmpty)
        #expect(Self.appConfig.canonicalRequest(for: signed).text.contains("\nhost:localhost:4566\n"))
    }

    @Test func missingHostIsAnError() {
        var request = SigV4Request(method: "GET", path: "/")
        #expect(throws: SigV4Error.missingHostHeader) {
            try Self.appConfig.sign(&request, credentials: Self.credentials, date: SigV4Vectors.suiteDate)
        }
    }

    @Test func emptySessionTokenIsNoToken() throws {
        let request = SigV4Request(method: "GET", path: "/", headers: [.init("Host", "h")])
        let credentials = AWSCredentials(accessKeyId: "AKID", secretAccessKey: "s", sessionToken: "")
        let signed = try Self.appConfig.signed(request, credentials: credentials, date: SigV4Vectors.suiteDate)
        #expect(signed.headerValues(named: "x-amz-security-token").isEmpty)
    }

    @Test func queryTokenIsPercentEncodedInURLAndCanonicalQuery() {
        let query: [SigV4Request.Field] = [.init("b", "x y+z/="), .init("a", "ሴ~-_.")]
        let request = SigV4Request(method: "GET", path: "/", query: query)
        #expect(request.encodedQuery == "b=x%20y%2Bz%2F%3D&a=%E1%88%B4~-_.")
        #expect(SigV4Signer.canonicalQuery(query) == "a=%E1%88%B4~-_.&b=x%20y%2Bz%2F%3D")
        #expect(SigV4Signer.canonicalQuery([.init("flag", "")]) == "flag=")
    }

    @Test func alreadyEncodedPathIsEncodedOnceMore() {
        #expect(SigV4Signer.canonicalPath("/a%2Fb/c d") == "/a%252Fb/c%20d")
        #expect(SigV4Signer.canonicalPath("") == "/")
        #expect(SigV4Signer.canonicalPath("/a/b/../c/./d/") == "/a/c/d/")
        #expect(SigV4Signer.canonicalPath("/a/../../..") == "/")
    }

    @Test func headerValuesAreTrimmedAndInnerWhitespaceCollapsed() {
        #expect(SigV4Signer.trimAll("  a \t b\r\n   c  ") == "a b c")
        #expect(SigV4Signer.trimAll("   ") == "")
    }

    @Test(arguments: [
        (0.0, "19700101T000000Z"),
        (951_782_400.0, "20000229T000000Z"),
        (4_107_542_399.9, "21000228T235959Z"),
        (4_107_542_400.0, "21000301T000000Z"),
        (-1.0, "19691231T235959Z"),
        (1_709_251_199.0, "20240229T235959Z"),
    ])
    func amzDateIsUTCCivilTime(seconds: Double, expected: String) throws {
        let date = Date(timeIntervalSince1970: seconds)
        let stamp = AMZDate(date)
        #expect(stamp.dateTime == expected)
        #expect(stamp.day == String(expected.prefix(8)))
        #expect(try Self.date(amz: expected) == Date(timeIntervalSince1970: seconds.rounded(.down)))
    }
}

// MARK: - Digest

// Nested under SigV4Tests so that `swift test --filter SigV4` runs everything the signer relies on.
extension SigV4Tests {
    @Suite struct DigestTests {
        @Test func sha256OfABCIsTheFIPSAnswer() {
            #expect(Digest.hex(Digest.sha256("abc".utf8))
                == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        }

        @Test func sha256OfNothingIsTheEmptyPayloadHash() {
            #expect(Digest.hex(Digest.sha256([UInt8]()))
                == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        }

        @Test func sha256OfANonContiguousCollectionMatches() {
            let lazy = "abc".utf8.lazy.map { $0 }
            #expect(Digest.sha256(lazy) == Digest.sha256(Array("abc".utf8)))
        }

        @Test func hmacSHA256MatchesRFC4231Case2() {
            let tag = Digest.hmacSHA256(key: Array("Jefe".utf8), data: "what do ya want for nothing?".utf8)
            #expect(Digest.hex(tag) == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        }

        @Test func hmacSHA256WithEmptyKeyAndDataIsTheKnownAnswer() {
            #expect(Digest.hex(Digest.hmacSHA256(key: [UInt8](), data: [UInt8]()))
                == "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad")
        }

        @Test func hexIsLowercaseTwoDigitsPerByte() {
            #expect(Digest.hex([0x00, 0x0F, 0xA0, 0xFF]) == "000fa0ff")
            #expect(Digest.hex([UInt8]()) == "")
        }

        @Test func constantTimeEqualsComparesContentAndLength() {
            #expect(Digest.constantTimeEquals([1, 2, 3], [1, 2, 3]))
            #expect(!Digest.constantTimeEquals([1, 2, 3], [1, 2, 4]))
            #expect(!Digest.constantTimeEquals([1, 2, 3], [1, 2]))
            #expect(!Digest.constantTimeEquals([UInt8](), [0]))
            #expect(Digest.constantTimeEquals([UInt8](), [UInt8]()))
            #expect(Digest.constantTimeEquals("token".utf8, Array("token".utf8)))
        }
    }
}

// MARK: - Credentials

extension SigV4Tests {
    @Suite struct AWSCredentialsTests {
        static let credentials = AWSCredentials(
            accessKeyId: "AKIDEXAMPLE",
            secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            sessionToken: "SESSIONTOKENVALUE",
            expiration: Date(timeIntervalSince1970: 1_440_938_160)
        )

        @Test func everyTextualFormHidesSecretAndToken() {
            var dumped = ""
            dump(Self.credentials, to: &dumped)
            let forms = [
                Self.credentials.description,
                Self.credentials.debugDescription,
                "\(Self.credentials)",
                String(reflecting: Self.credentials),
                "\([Self.credentials])",
                "\(Optional(Self.credentials) as Any)",
                dumped,
            ]
            for form in forms {
                #expect(!form.contains("wJalrXUtnFEMI"), "\(form)")
                #expect(!form.contains("SESSIONTOKENVALUE"), "\(form)")
                #expect(form.contains("AKIDEXAMPLE"), "\(form)")
            }
            #expect(Self.credentials.description.contains("<redacted>"))
        }

        @Test func descriptionSaysWhenThereIsNoToken() {
            let longLived = AWSCredentials(accessKeyId: "AKID", secretAccessKey: "s")
            #expect(longLived.description
                == "AWSCredentials(accessKeyId: AKID, secretAccessKey: <redacted>, sessionToken: nil, expiration: nil)")
        }
    }
}
