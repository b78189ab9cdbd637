import Testing
@testable import AgentCore

/// Variant feature flags served through the router: evaluated per request with `Context` and
/// `Entity-Id`, and new versions admitted or refused.
@Suite struct VariantServingTests {
    static let type = "application/ion;type=AWS.AppConfig.FeatureFlags"
    static let document = """
        'dark_mode'::'''{"enabled":true}'''
        'checkout'::[
          [ (eq $tier "gold"), '''{"_variant":"gold","enabled":true}''' ],
          [ (and (exists key::"country") (in $country ["CA" "FR"])), '''{"_variant":"fr","enabled":true}''' ],
          [ (split pct::100), '''{"_variant":"everyone-with-an-id","enabled":true}''' ],
          '''{"_variant":"off","enabled":false}'''
        ]
        """
    static let path = "/applications/A/environments/E/configurations/Flags"

    func router(_ content: String = Self.document) -> Router {
        let store = ConfigurationStore()
        store.put(payload("A:E:Flags", content, contentType: Self.type, version: "3", label: "3"))
        return Router(store: store, accessToken: nil)
    }

    func body(_ response: RouteResponse) -> String { String(decoding: response.bodyBytes, as: UTF8.self) }

    @Test func wholeProfileIsEvaluatedPerRequest() {
        let r = router()
        let plain = r.route(TestRequest(.get, Self.path))
        #expect(plain.status == 200)
        #expect(body(plain) == #"{"dark_mode":{"enabled":true},"checkout":{"_variant":"off","enabled":false}}"#)
        #expect(plain.header("Content-Type") == "application/json")
        #expect(plain.header("Configuration-Version") == "3")
        #expect(plain.header("Version-Label") == "3")
        #expect(plain.header("ETag")?.wholeMatch(of: /"3-[0-9a-f]{16}"/) != nil)
        let gold = r.route(TestRequest(.get, Self.path, headers: [("Context", "tier=gold")]))
        #expect(body(gold) == #"{"dark_mode":{"enabled":true},"checkout":{"_variant":"gold","enabled":true}}"#)
    }

    @Test func contextAsRepeatedHeadersAndCommaSeparatedPairs() {
        let r = router()
        let path = Self.path + "?flag=checkout"
        let repeated = r.route(TestRequest(.get, path, headers: [("Context", "tier=silver"), ("context", "country=FR")]))
        let commas = r.route(TestRequest(.get, path, headers: [("Context", "tier=silver, country=FR")]))
        #expect(body(repeated) == #"{"_variant":"fr","enabled":true}"#)
        #expect(body(commas) == body(repeated))
        let other = r.route(TestRequest(.get, path, headers: [("Context", "tier=silver,country=DE")]))
        #expect(body(other) == #"{"_variant":"off","enabled":false}"#)
    }

    /// A split without `by::` hashes the request's Entity-Id; without one it does not hold.
    @Test func entityIdFeedsRulesAndIsBounded() {
        let r = router()
        let path = Self.path + "?flag=checkout"
        let withId = r.route(TestRequest(.get, path, headers: [("Entity-Id", "user-1")]))
        #expect(body(withId) == #"{"_variant":"everyone-with-an-id","enabled":true}"#)
        #expect(body(r.route(TestRequest(.get, path))) == #"{"_variant":"off","enabled":false}"#)
        let long = r.route(TestRequest(.get, path, headers: [("Entity-Id", String(repeating: "x", count: 2049))]))
        #expect(long.status == 400)
        #expect(body(long).contains("Entity-Id too long"))
        let limit = r.route(TestRequest(.get, path, headers: [("Entity-Id", String(repeating: "x", count: 2048))]))
        #expect(limit.status == 200)
    }

    @Test func severalFlagsUnknownFlagAndMalformedContext() {
        let r = router()
        let both = r.route(TestRequest(.get, Self.path + "?flag=checkout&flag=dark_mode", headers: [("Context", "tier=gold")]))
        #expect(body(both) == #"{"checkout":{"_variant":"gold","enabled":true},"dark_mode":{"enabled":true}}"#)
        #expect(both.header("Content-Type") == "application/json")
        let unknown = r.route(TestRequest(.get, Self.path + "?flag=nope"))
        #expect(unknown.status == 404)
        #expect(body(unknown).contains("nope"))
        for bad in ["tier", "=gold", "tier=gold,tier=silver"] {
            let response = r.route(TestRequest(.get, Self.path, headers: [("Context", bad)]))
            #expect(response.status == 400, "\(bad)")
            #expect(body(response).contains("Context"), "\(bad)")
        }
    }

    @Test func headAnswersWithTheSameHeadersAndIfNoneMatchStillWorks() {
        let r = router()
        let head = r.route(TestRequest(.head, Self.path, headers: [("Context", "tier=gold")]))
        let get = r.route(TestRequest(.get, Self.path, headers: [("Context", "tier=gold")]))
        #expect(head.status == 200)
        #expect(head.header("Content-Type") == get.header("Content-Type"))
        #expect(head.body.count == get.body.count)
        #expect(r.route(TestRequest(.get, Self.path, headers: [("If-None-Match", get.header("ETag") ?? "")])).status == 304)
    }

    @Test func unreadableDocumentGets502NamingTheProblem() {
        let r = router("'f'::[ (eq $a")
        let response = r.route(TestRequest(.get, Self.path))
        #expect(response.status == 502)
        #expect(body(response).contains("cannot be served"))
        #expect(r.route(TestRequest(.get, Self.path + "?flag=f")).status == 502)
    }

    @Test func unreadableVersionNeverReplacesAReadableOne() {
        let good = payload("A:E:Adm", Self.document, contentType: Self.type, version: "1")
        let bad = payload("A:E:Adm", "'f'::[ (eq", contentType: Self.type, version: "2")
        let key = ConfigurationKey(parsing: "A:E:Adm")!
        let counter = AgentMetrics.shared.featureFlagErrors.labels([key.description, "document"])
        let before = counter.value
        #expect(VersionAdmission.admit(bad, replacing: good) == false)
        #expect(VersionAdmission.admit(bad, replacing: nil) == true)
        #expect(VersionAdmission.admit(good, replacing: bad) == true)
        #expect(counter.value == before + 2)
    }

    @Test func ruleProblemsAreCountedAndTheVersionServed() {
        let key = ConfigurationKey(parsing: "A:E:Rules")!
        let version = payload("A:E:Rules", #"'f'::[ [ (frobnicate $a), '''{"on":true}''' ], '''{"on":false}''' ]"#,
                              contentType: Self.type, version: "1")
        #expect(version.flags.ruleProblems.count == 1)
        let counter = AgentMetrics.shared.featureFlagErrors.labels([key.description, "rule"])
        let before = counter.value
        #expect(VersionAdmission.admit(version, replacing: nil))
        #expect(counter.value == before + 1)
    }
}
