import Foundation
import Testing

/// Variant feature flags through the real binary: from the fake service (binary and text Ion with
/// AWS's shared-table imports) and from local-development files.
@Suite struct FeatureFlagsEndToEndTests {
    static let ionType = "application/ion;type=AWS.AppConfig.FeatureFlags"
    static let path = "/applications/app/environments/env/configurations/flags"

    /// A vector written by amazon-ion: every rule operator, binary, importing `ops` and `anns`.
    static func binaryFixture() throws -> [UInt8] {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("AgentCoreTests/Fixtures/ion/good/flags_binary_no_catalog.10n")
        return Array(try Data(contentsOf: url))
    }

    /// Ion text whose operator is `$13`: ops#4, `eq`, the one AWS symbol whose text is public.
    static let eqThroughImport = #"$ion_symbol_table::{imports:[{name:"ops", version:1, max_id:23}, {name:"anns", version:1, max_id:12}]} "#
        + #"'region_banner'::[ [ ($13 $country "DE"), '''{"_variant":"de","enabled":true}''' ], '''{"_variant":"off","enabled":false}''' ] "#
        + #"'plain'::'''{"enabled":true}'''"#

    func body(_ response: RawHTTPResponse) -> String { response.text }

    @Test func serviceAnswersIonWhenAskedAndTheAgentEvaluatesIt() throws {
        let fake = try FakeAWS()
        // The JSON form is what a caller that does not ask for Ion gets: the agent must not see it.
        try fake.putConfiguration("app", "env", "flags", #"{"region_banner":{"enabled":false}}"#,
                                  label: "1", ion: Array(Self.eqThroughImport.utf8))
        var env = fake.agentEnvironment
        env["PREFETCH_LIST"] = "app:env:flags"
        let agent = try AgentProcess(environment: env)
        #expect(waitUntil(seconds: 10) { (try? httpGet(port: agent.port, Self.path).status) == 200 })
        let de = try httpGet(port: agent.port, Self.path + "?flag=region_banner", headers: [("Context", "country=DE")])
        #expect(de.status == 200)
        #expect(de.text == #"{"_variant":"de","enabled":true}"#)
        #expect(de.header("Content-Type") == "application/json")
        #expect(de.header("Configuration-Version") == "1")
        let fr = try httpGet(port: agent.port, Self.path, headers: [("Context", "country=FR")])
        #expect(fr.text == #"{"region_banner":{"_variant":"off","enabled":false},"plain":{"enabled":true}}"#)
        let polls = try fake.calls(path: "/configuration")
        #expect(!polls.isEmpty)
        for poll in polls {
            let accept = (poll["headers"] as? [String: Any])?["accept"] as? String
            #expect(accept == "application/ion;type=AWS.AppConfig.FeatureFlags;q=1.0,*/*;q=0.1")
        }
    }

    @Test func unresolvedBinarySymbolsServeDefaultsAndAreLoggedAndCounted() throws {
        let fake = try FakeAWS()
        try fake.putConfiguration("app", "env", "flags", "{}", label: "7", ion: try Self.binaryFixture())
        let agent = try AgentProcess(environment: fake.agentEnvironment)
        // Beta's rule holds for this context, but its operators are in AWS's unpublished table.
        let response = try httpGet(port: agent.port, Self.path + "?flag=checkout_v2&flag=plain",
                                   headers: [("Context", "country=DE"), ("Context", "age=30, score=2")])
        #expect(response.status == 200)
        #expect(response.text == #"{"checkout_v2":{"_variant":"Default Variant","enabled":false},"plain":{"enabled":false}}"#)
        #expect(agent.waitForLog("serving the default variant"))
        #expect(agent.log.contains("which the agent cannot resolve"))
        let metrics = try httpGet(port: agent.port, "/metrics").text
        #expect(metrics.contains(#"appconfig_agent_feature_flag_errors_total{configuration="app:env:flags",kind="rule"}"#))
    }

    @Test func localIonFileIsEvaluatedPerRequestAndABadEditKeepsTheLastGoodVersion() throws {
        let name = "app:env:flags.application%ion%type=AWS.AppConfig.FeatureFlags"
        let document = """
            // AWS's sample form: a list without commas
            'banner'::[ [ (in $country ["CA" "FR"]), '''{"_variant":"fr","enabled":true}''' ],
                        [ (split pct::100), '''{"_variant":"with-entity","enabled":true}''' ],
                        '''{"_variant":"off","enabled":false}''' ]
            """
        let directory = try ServingEndToEndTests.configDirectory([name: document])
        let agent = try AgentProcess(environment: ["LOCAL_DEVELOPMENT_DIRECTORY": directory.path, "POLL_INTERVAL": "1s"])
        func banner(_ headers: [(String, String)]) throws -> RawHTTPResponse {
            try httpGet(port: agent.port, Self.path + "?flag=banner", headers: headers)
        }
        #expect(try banner([("Context", "country=FR")]).text == #"{"_variant":"fr","enabled":true}"#)
        #expect(try banner([("Entity-Id", "user-1")]).text == #"{"_variant":"with-entity","enabled":true}"#)
        #expect(try banner([]).text == #"{"_variant":"off","enabled":false}"#)
        let whole = try httpGet(port: agent.port, Self.path, headers: [("Context", "country=CA")])
        #expect(whole.text == #"{"banner":{"_variant":"fr","enabled":true}}"#)
        #expect(whole.header("Content-Type") == "application/json")
        let head = try httpGet(port: agent.port, Self.path, method: "HEAD", headers: [("Context", "country=CA")])
        #expect(head.header("Content-Length") == String(whole.body.count))

        let malformed = try banner([("Context", "country")])
        #expect(malformed.status == 400)
        #expect(malformed.text.contains("malformed Context header"))
        #expect(try banner([("Entity-Id", String(repeating: "e", count: 2049))]).status == 400)
        #expect(try httpGet(port: agent.port, Self.path + "?flag=nope").status == 404)

        // A broken edit is refused; the previous version stays in service.
        try Data("'banner'::[ [ (in $country".utf8).write(to: directory.appendingPathComponent(name))
        #expect(agent.waitForLog("refusing version", timeout: 10))
        #expect(try banner([("Context", "country=FR")]).text == #"{"_variant":"fr","enabled":true}"#)
    }
}
