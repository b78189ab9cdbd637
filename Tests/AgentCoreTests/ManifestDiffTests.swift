import Testing
@testable import AgentCore

private func key(_ app: String) -> ConfigurationKey {
    ConfigurationKey(application: app, environment: "Prod", profile: "Config")
}

private func manifest(_ json: String) throws -> Manifest {
    var decoder = ManifestDecoder()
    return try decoder.decode(Array(json.utf8))
}

@Suite struct ManifestDiffTests {
    @Test func sameManifestHasNoChanges() throws {
        let json = #"{"A:Prod:Config": {"writeTo": {"path": "/run/a"}}, "B:Prod:Config": {}}"#
        let diff = ManifestDiff(old: try manifest(json), new: try manifest(json))
        #expect(diff.isEmpty)
        #expect(diff.added.isEmpty && diff.removed.isEmpty && diff.changed.isEmpty)
    }

    @Test func reorderedEntriesAreNotChanges() throws {
        let diff = ManifestDiff(
            old: try manifest(#"{"A:Prod:Config": {}, "B:Prod:Config": {}}"#),
            new: try manifest(#"{"B:Prod:Config": {}, "A:Prod:Config": {}}"#))
        #expect(diff.isEmpty)
    }

    @Test func newEntriesAreAddedInNewOrderAndMissingOnesRemovedInOldOrder() throws {
        let diff = ManifestDiff(
            old: try manifest(#"{"Z:Prod:Config": {}, "A:Prod:Config": {}, "Y:Prod:Config": {}}"#),
            new: try manifest(#"{"A:Prod:Config": {}, "D:Prod:Config": {"writeTo": {"path": "/run/d"}}, "C:Prod:Config": {}}"#))
        #expect(diff.added.map(\.key) == [key("D"), key("C")])
        #expect(diff.added.first?.writeTo?.path == "/run/d")
        #expect(diff.removed == [key("Z"), key("Y")])
        #expect(diff.changed.isEmpty)
        #expect(!diff.isEmpty)
    }

    @Test func movedWriteToPathIsAChange() throws {
        let diff = ManifestDiff(
            old: try manifest(#"{"A:Prod:Config": {"writeTo": {"path": "/run/old.json"}}, "B:Prod:Config": {}}"#),
            new: try manifest(#"{"A:Prod:Config": {"writeTo": {"path": "/run/new.json"}}, "B:Prod:Config": {}}"#))
        #expect(diff.added.isEmpty && diff.removed.isEmpty)
        try #require(diff.changed.count == 1)
        #expect(diff.changed[0].old.writeTo?.path == "/run/old.json")
        #expect(diff.changed[0].new.writeTo?.path == "/run/new.json")
    }

    @Test func writeToAddedRemovedOrModeChangedIsAChange() throws {
        let old = try manifest(#"{"A:Prod:Config": {}, "B:Prod:Config": {"writeTo": {"path": "/run/b"}}, "C:Prod:Config": {"writeTo": {"path": "/run/c"}}}"#)
        let new = try manifest(#"{"A:Prod:Config": {"writeTo": {"path": "/run/a"}}, "B:Prod:Config": {}, "C:Prod:Config": {"writeTo": {"path": "/run/c", "mode": "0640"}}}"#)
        let diff = ManifestDiff(old: old, new: new)
        #expect(diff.changed.map(\.new.key) == [key("A"), key("B"), key("C")])
        #expect(diff.changed.map(\.old.writeTo?.path) == [nil, "/run/b", "/run/c"])
        #expect(diff.changed.map(\.new.writeTo?.mode) == [.ownerOnly, nil, .groupReadable])
    }

    @Test func credentialsChangesAreChanges() throws {
        let arn = "arn:aws:iam::123456789012:role/Reader"
        let old = try manifest(#"{"A:Prod:Config": {"credentials": {"roleArn": "\#(arn)"}}, "B:Prod:Config": {"credentials": {"roleArn": "\#(arn)", "credentialsDuration": "1h"}}, "C:Prod:Config": {"credentials": {"roleArn": "\#(arn)"}}}"#)
        let new = try manifest(#"{"A:Prod:Config": {"credentials": {"roleArn": "arn:aws:iam::123456789012:role/Other"}}, "B:Prod:Config": {"credentials": {"roleArn": "\#(arn)", "credentialsDuration": "2h"}}, "C:Prod:Config": {"credentials": {"roleArn": "\#(arn)"}}}"#)
        let diff = ManifestDiff(old: old, new: new)
        #expect(diff.changed.map(\.old.key) == [key("A"), key("B")])
        #expect(diff.changed.map(\.new.credentials?.credentialsDuration) == [nil, .seconds(7200)])
    }

    @Test func durationsClampedToTheSameValueAreNoChange() throws {
        let arn = "arn:aws:iam::123456789012:role/Reader"
        let diff = ManifestDiff(
            old: try manifest(#"{"A:Prod:Config": {"credentials": {"roleArn": "\#(arn)", "credentialsDuration": "24h"}}}"#),
            new: try manifest(#"{"A:Prod:Config": {"credentials": {"roleArn": "\#(arn)", "credentialsDuration": "12h"}}}"#))
        #expect(diff.isEmpty)
    }

    @Test func fromNoManifestEverythingIsAdded() throws {
        let new = try manifest(#"{"A:Prod:Config": {}, "B:Prod:Config": {}}"#)
        let diff = ManifestDiff(old: Manifest(entries: []), new: new)
        #expect(diff.added == new.entries)
        #expect(ManifestDiff(old: new, new: Manifest(entries: [])).removed == [key("A"), key("B")])
    }
}
