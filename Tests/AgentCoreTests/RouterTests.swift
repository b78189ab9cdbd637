import Testing
@testable import AgentCore

struct RouterTests {
    func router(token: String? = nil, _ payloads: ConfigurationPayload...) -> Router {
        let store = ConfigurationStore()
        for p in payloads { store.put(p) }
        return Router(store: store, accessToken: token)
    }

    @Test func servesStoredBytesWithVersionHeaders() {
        let r = router(payload("App:Env:Prof", #"{"a": 1.50}"#, version: "7", label: "v7"))
        let response = r.route(TestRequest(.get, "/applications/App/environments/Env/configurations/Prof"))
        #expect(response.status == 200)
        #expect(response.bodyBytes == Array(#"{"a": 1.50}"#.utf8))
        #expect(response.header("Content-Type") == "application/json")
        #expect(response.header("Configuration-Version") == "7")
        #expect(response.header("Version-Label") == "v7")
    }

    @Test func versionLabelAbsentWhenServiceGaveNone() {
        let r = router(payload("A:E:P", "x", contentType: "text/plain", version: "3"))
        let response = r.route(TestRequest(.get, "/applications/A/environments/E/configurations/P"))
        #expect(response.header("Version-Label") == nil)
        #expect(response.header("Configuration-Version") == "3")
    }

    @Test func pathSegmentsArePercentDecodedIncludingSlash() {
        let r = router(payload("my app:env/1:pro%f", "ok", contentType: "text/plain"))
        let response = r.route(TestRequest(.get, "/applications/my%20app/environments/env%2F1/configurations/pro%25f"))
        #expect(response.status == 200)
        #expect(response.bodyBytes == Array("ok".utf8))
    }

    @Test func malformedPercentEncodingIs400() {
        let r = router()
        #expect(r.route(TestRequest(.get, "/applications/a%zz/environments/e/configurations/p")).status == 400)
        #expect(r.route(TestRequest(.get, "/applications/a%2/environments/e/configurations/p")).status == 400)
        #expect(r.route(TestRequest(.get, "/applications/%FF/environments/e/configurations/p")).status == 400)
    }

    @Test func unknownConfigurationIs404NamingIt() {
        let response = router().route(TestRequest(.get, "/applications/A/environments/E/configurations/Nope"))
        #expect(response.status == 404)
        #expect(String(decoding: response.bodyBytes, as: UTF8.self).contains("Nope"))
    }

    @Test(arguments: ["/", "/applications", "/applications/A/environments/E", "/applications/A/environments/E/configurations/P/extra",
                      "/applications//environments/E/configurations/P", "/foo", "/pingx"])
    func unknownPathsAre404(path: String) {
        #expect(router().route(TestRequest(.get, path)).status == 404)
    }

    @Test(arguments: [HTTPMethod.post, .put, .delete, .patch, .options, .other])
    func otherMethodsAre405WithAllow(method: HTTPMethod) {
        let r = router(payload("A:E:P", "x"))
        for path in ["/ping", "/applications/A/environments/E/configurations/P"] {
            let response = r.route(TestRequest(method, path))
            #expect(response.status == 405)
            #expect(response.header("Allow") == "GET, HEAD")
        }
    }

    @Test func pingAnswersWithVersion() {
        let response = router().route(TestRequest(.get, "/ping"))
        #expect(response.status == 200)
        #expect(String(decoding: response.bodyBytes, as: UTF8.self).contains(AgentVersion.current))
    }

    @Test func accessTokenRequiredExceptForPing() {
        let r = router(token: "tok-123456", payload("A:E:P", "x"))
        let path = "/applications/A/environments/E/configurations/P"
        let missing = r.route(TestRequest(.get, path))
        #expect(missing.status == 401)
        #expect(missing.header("WWW-Authenticate") == "Bearer")
        #expect(!String(decoding: missing.bodyBytes, as: UTF8.self).contains("tok-123456"))
        #expect(r.route(TestRequest(.get, path, headers: [("Authorization", "Bearer wrong")])).status == 401)
        #expect(r.route(TestRequest(.get, path, headers: [("Authorization", "Bearer tok-1234567")])).status == 401)
        #expect(r.route(TestRequest(.get, path, headers: [("Authorization", "Bearer tok-12345")])).status == 401)
        #expect(r.route(TestRequest(.get, path, headers: [("Authorization", "Basic tok-123456")])).status == 401)
        #expect(r.route(TestRequest(.get, path, headers: [("Authorization", "Bearer tok-123456")])).status == 200)
        #expect(r.route(TestRequest(.get, path, headers: [("authorization", "bearer tok-123456")])).status == 200)
        #expect(r.route(TestRequest(.get, "/ping")).status == 200)
    }

    @Test func unauthenticatedClientCannotProbeWhichPathsExist() {
        let r = router(token: "tok-123456")
        #expect(r.route(TestRequest(.get, "/nothing-here")).status == 401)
    }

    @Test func theAgentsOwnLimitOfOnDemandConfigurationsIs503NamingIt() {
        let response = Router.response(for: .lazyLimitReached, key: ConfigurationKey(parsing: "A:E:P")!)
        #expect(response.status == 503)
        let text = String(decoding: response.bodyBytes, as: UTF8.self)
        #expect(text.contains("\(DataPlaneSource.lazyPollerLimit)"))
        #expect(text.contains("A:E:P"))
        #expect(!text.contains("throttl"))
    }

    @Test func queryWithoutFlagServesWholeConfiguration() {
        let r = router(payload("A:E:P", #"{"f":{"enabled":true}}"#))
        let response = r.route(TestRequest(.get, "/applications/A/environments/E/configurations/P?x=1"))
        #expect(response.status == 200)
        #expect(response.bodyBytes == Array(#"{"f":{"enabled":true}}"#.utf8))
    }
}

struct AccessTokenCheckTests {
    @Test func comparesWholeToken() {
        let check = AccessTokenCheck(token: "abc")
        #expect(check.allows(authorization: "Bearer abc"))
        #expect(!check.allows(authorization: "Bearer ab"))
        #expect(!check.allows(authorization: "Bearer abcd"))
        #expect(!check.allows(authorization: "Bearer abd"))
        #expect(!check.allows(authorization: "Bearer"))
        #expect(!check.allows(authorization: nil))
    }
}

struct PercentDecodingTests {
    @Test func decodesEscapesAndKeepsPlusInPaths() {
        #expect(PercentDecoding.decode("a%2Fb+c") == "a/b+c")
        #expect(PercentDecoding.decode("a+b", plusAsSpace: true) == "a b")
        #expect(PercentDecoding.decode("%e2%9c%93") == "✓")
        #expect(PercentDecoding.decode("%") == nil)
        #expect(PercentDecoding.decode("%C3") == nil)
    }

    @Test func queryValuesInOrder() {
        #expect(PercentDecoding.queryValues("flag=a&x=1&flag=b%20c&flag=", named: "flag") == ["a", "b c", ""])
        #expect(PercentDecoding.queryValues("flag=%zz", named: "flag") == nil)
    }
}

struct ReadinessTests {
    @Test func notReadyUntilEveryRequiredConfigurationIsLoaded() {
        let store = ConfigurationStore()
        let readiness = Readiness(store: store, dataPlane: nil)
        readiness.require([ConfigurationKey(parsing: "A:E:P")!, ConfigurationKey(parsing: "A:E:Q")!])
        let router = Router(store: store, accessToken: nil, readiness: readiness)
        let before = router.route(TestRequest(.get, "/ready"))
        #expect(before.status == 503)
        #expect(String(decoding: before.bodyBytes, as: UTF8.self).contains(#""configuration":"A:E:Q","required":true,"state":"pending""#))
        store.put(payload("A:E:P", "x", version: "v1"))
        #expect(router.route(TestRequest(.get, "/ready")).status == 503)
        store.put(payload("A:E:Q", "y", version: "v2"))
        let after = router.route(TestRequest(.get, "/ready"))
        #expect(after.status == 200)
        let body = String(decoding: after.bodyBytes, as: UTF8.self)
        #expect(body.hasPrefix(#"{"ready":true,"#))
        #expect(body.contains(#""configuration":"A:E:P","required":true,"state":"loaded","version":"v1""#))
        #expect(body.contains(#""source":"local""#))
    }

    @Test func aConfigurationLoadedOnceKeepsTheAgentReady() {
        let store = ConfigurationStore()
        let readiness = Readiness(store: store, dataPlane: nil)
        let key = ConfigurationKey(parsing: "A:E:P")!
        readiness.require([key])
        store.put(payload("A:E:P", "x", version: "v1"))
        store.remove(key)
        let router = Router(store: store, accessToken: nil, readiness: readiness)
        let answer = router.route(TestRequest(.get, "/ready"))
        #expect(answer.status == 200)
        #expect(String(decoding: answer.bodyBytes, as: UTF8.self).contains(#""configuration":"A:E:P","required":true,"state":"pending""#))
        // Dropped from the manifest, then back: it must be loaded again before it counts.
        readiness.setRequired([])
        readiness.setRequired([key])
        #expect(router.route(TestRequest(.get, "/ready")).status == 503)
    }

    @Test func readyIsOpenButDetailsNeedTheToken() {
        let store = ConfigurationStore()
        let readiness = Readiness(store: store, dataPlane: nil)
        store.put(payload("A:E:P", "x"))
        let router = Router(store: store, accessToken: "secret-token", readiness: readiness)
        let anonymous = router.route(TestRequest(.get, "/ready"))
        #expect(anonymous.status == 200)
        #expect(String(decoding: anonymous.bodyBytes, as: UTF8.self) == "{\"ready\":true}\n")
        let detailed = router.route(TestRequest(.get, "/ready", headers: [("Authorization", "Bearer secret-token")]))
        #expect(String(decoding: detailed.bodyBytes, as: UTF8.self).contains("A:E:P"))
    }
}

struct ConditionalRequestTests {
    @Test func ifNoneMatchComparesWeaklyAndHandlesListsAndStar() {
        #expect(ETagMatch.matches("\"v1\"", "\"v1\""))
        #expect(ETagMatch.matches("W/\"v1\"", "\"v1\""))
        #expect(ETagMatch.matches("\"a\", \"v1\"", "\"v1\""))
        #expect(ETagMatch.matches("*", "\"v1\""))
        #expect(!ETagMatch.matches("\"v2\"", "\"v1\""))
        #expect(!ETagMatch.matches("v1", "\"v1\""))
    }

    @Test func waitParameterParsesUnitsAndRejectsJunk() {
        #expect(WaitParameter.parse("30") == .seconds(30))
        #expect(WaitParameter.parse("30s") == .seconds(30))
        #expect(WaitParameter.parse("500ms") == .milliseconds(500))
        #expect(WaitParameter.parse("2m") == .seconds(120))
        #expect(WaitParameter.parse("soon") == nil)
        #expect(WaitParameter.parse("-1") == nil)
        #expect(WaitParameter.parse("10h") == nil)
    }

    @Test func routerAsksToWaitOnlyWhenTheClientHasTheCurrentVersion() {
        let store = ConfigurationStore()
        let current = payload("A:E:P", "x", version: "v1")
        store.put(current)
        let router = Router(store: store, accessToken: nil)
        let path = "/applications/A/environments/E/configurations/P?wait=20s"
        if case .awaitChange(let key, let etag, let wait) = router.handle(TestRequest(.get, path, headers: [("If-None-Match", current.etag)])) {
            #expect(key.profile == "P")
            #expect(etag == current.etag)
            #expect(wait == .seconds(20))
        } else {
            Issue.record("expected a long poll")
        }
        if case .response(let response) = router.handle(TestRequest(.get, path, headers: [("If-None-Match", "\"v0\"")])) {
            #expect(response.status == 200)
        } else {
            Issue.record("expected an answer at once")
        }
        let longAsk = router.handle(TestRequest(.get, "/applications/A/environments/E/configurations/P?wait=1000", headers: [("If-None-Match", current.etag)]))
        if case .awaitChange(_, _, let wait) = longAsk { #expect(wait == Router.maximumWait) } else { Issue.record("expected a capped long poll") }
    }
}

struct ContentVersionTests {
    @Test func fnv1aKnownAnswersAndFixedWidth() {
        #expect(ContentVersion.of([]) == "cbf29ce484222325")
        #expect(ContentVersion.of(Array("a".utf8)) == "af63dc4c8601ec8c")
        #expect(ContentVersion.of(Array("foobar".utf8)) == "85944171f73967e8")
        #expect(ContentVersion.of(Array("{\"v\":1}".utf8)) != ContentVersion.of(Array("{\"v\":2}".utf8)))
    }
}
