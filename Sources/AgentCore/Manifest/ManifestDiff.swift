/// What changed between the running manifest and a newly decoded one, for applying it live:
/// added entries start polling, removed ones stop, changed ones get their new credentials or
/// `writeTo` (a moved `writeTo.path` means writing the new file; what to do with the old one is the
/// caller's choice).
public struct ManifestDiff: Sendable {
    /// Entries only in the new manifest, in its order.
    public let added: [ManifestEntry]
    /// Keys only in the old manifest, in its order.
    public let removed: [ConfigurationKey]
    /// Entries in both whose `credentials` or `writeTo` differ (path, mode, role, duration …), in the
    /// new manifest's order.
    public let changed: [(old: ManifestEntry, new: ManifestEntry)]

    public init(old: Manifest, new: Manifest) {
        // `decode` never yields a key twice; should a hand-built manifest, the last entry counts.
        let oldByKey = Dictionary(old.entries.map { ($0.key, $0) }, uniquingKeysWith: { _, last in last })
        let newKeys = Set(new.entries.map(\.key))
        var added: [ManifestEntry] = []
        var changed: [(old: ManifestEntry, new: ManifestEntry)] = []
        var reported = Set<ConfigurationKey>()
        for entry in new.entries where reported.insert(entry.key).inserted {
            if let previous = oldByKey[entry.key] {
                if previous != entry { changed.append((previous, entry)) }
            } else {
                added.append(entry)
            }
        }
        var removedKeys = Set<ConfigurationKey>()
        self.removed = old.entries.map(\.key).filter { !newKeys.contains($0) && removedKeys.insert($0).inserted }
        self.added = added
        self.changed = changed
    }

    /// Whether the two manifests ask for the same thing (entry order aside).
    public var isEmpty: Bool { added.isEmpty && removed.isEmpty && changed.isEmpty }
}
