/// Shared symbol tables known to the reader, by name and version.
///
/// A local symbol table that imports a shared table takes its symbol texts from here. An import
/// with a `max_id` that the catalog cannot satisfy still reserves its `max_id` symbol IDs; symbols
/// in those slots read as `IonSymbol.unknown` carrying the import's name and position, for the
/// caller to handle.
public struct IonCatalog: Sendable, Equatable {
    public struct Table: Sendable, Equatable {
        public let name: String
        public let version: Int
        /// Symbol texts in order (position 1 first); `nil` marks a slot whose text is unknown.
        public let symbols: [String?]

        public init(name: String, version: Int, symbols: [String?]) {
            self.name = name
            self.version = version
            self.symbols = symbols
        }
    }

    private var tables: [String: [Table]] = [:]

    public init(_ tables: [Table] = []) {
        for table in tables { add(table) }
    }

    public static let empty = IonCatalog()

    /// Adds or replaces the table with this name and version.
    public mutating func add(_ table: Table) {
        var versions = tables[table.name, default: []]
        versions.removeAll { $0.version == table.version }
        versions.append(table)
        versions.sort { $0.version < $1.version }
        tables[table.name] = versions
    }

    /// The exact version when present, otherwise the highest version of that name (as the Ion
    /// 1.0 spec asks), with `isExact` telling which.
    func lookup(name: String, version: Int) -> (table: Table, isExact: Bool)? {
        guard let versions = tables[name], let highest = versions.last else { return nil }
        if let exact = versions.first(where: { $0.version == version }) { return (exact, true) }
        return (highest, false)
    }
}
