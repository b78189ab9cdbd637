import Testing
@testable import AgentCore

/// `ManifestController` without AWS: the manifest kept in a configuration, fed by store snapshots.
struct ManifestControllerTests {
    let manifestKey = ConfigurationKey(parsing: "App:Env:Manifest")!

    func controller(store: ConfigurationStore) -> ManifestController {
        ManifestController(source: .configuration(manifestKey), store: store, dataPlane: nil, clients: nil,
                           outputs: ConfigurationFileOutputs(backupDirectory: nil),
                           readiness: Readiness(store: store, dataPlane: nil), prefetch: [])
    }

    func snapshot(_ generation: UInt64, manifest json: String, version: String) -> StoreSnapshot {
        let document = ConfigurationPayload(key: manifestKey, content: Array(json.utf8), contentType: "application/json",
                                            version: version, versionLabel: version, source: .service, receivedAt: 0)
        return StoreSnapshot(configurations: [manifestKey: document], generation: generation)
    }

    @Test func anOlderManifestArrivingLateDoesNotReplaceANewerOne() {
        let controller = controller(store: ConfigurationStore())
        controller.storeChanged(snapshot(5, manifest: #"{"App:Env:New": {}}"#, version: "m2"))
        controller.storeChanged(snapshot(4, manifest: #"{"App:Env:Old": {}}"#, version: "m1"))
        #expect(controller.manifest.keys == [ConfigurationKey(parsing: "App:Env:New")!])
    }

    @Test func aBadVersionKeepsTheOldManifestAndALaterGoodOneApplies() {
        let controller = controller(store: ConfigurationStore())
        controller.storeChanged(snapshot(1, manifest: #"{"App:Env:One": {}}"#, version: "m1"))
        controller.storeChanged(snapshot(2, manifest: #"{"not a key": {}}"#, version: "m2"))
        #expect(controller.manifest.keys == [ConfigurationKey(parsing: "App:Env:One")!])
        controller.storeChanged(snapshot(3, manifest: #"{"App:Env:Two": {}}"#, version: "m3"))
        #expect(controller.manifest.keys == [ConfigurationKey(parsing: "App:Env:Two")!])
    }

    @Test func inLocalModeARemovedEntryStaysServedFromTheDirectory() throws {
        let store = ConfigurationStore()
        store.put(payload("App:Env:One", "local"))
        let controller = controller(store: store)
        controller.storeChanged(snapshot(1, manifest: #"{"App:Env:One": {}}"#, version: "m1"))
        controller.storeChanged(snapshot(2, manifest: #"{}"#, version: "m2"))
        #expect(controller.manifest.entries.isEmpty)
        #expect(store.payload(for: ConfigurationKey(parsing: "App:Env:One")!) != nil)
    }
}
