/// The symbol table in force while reading: the Ion 1.0 system symbols, then each import's
/// `max_id` slots, then the local symbols. Imports are kept as segments, so a table that reserves
/// many unknown slots costs nothing per slot.
struct IonSymbolTable: Sendable {
    static let systemSymbols = [
        "$ion", "$ion_1_0", "$ion_symbol_table", "name", "version", "imports", "symbols", "max_id",
        "$ion_shared_symbol_table",
    ]

    struct ImportSegment: Sendable {
        let name: String
        let firstSID: Int
        let count: Int
        /// At most `count` texts; slots past the end, and `nil` entries, are unknown.
        let texts: [String?]
    }

    private(set) var imports: [ImportSegment] = []
    private(set) var locals: [String?] = []
    private(set) var localFirstSID = 10

    static let system = IonSymbolTable()

    /// Symbol IDs declared beyond the system table.
    var declaredCount: Int { localFirstSID - 10 + locals.count }
    var maxSID: Int { localFirstSID + locals.count - 1 }

    /// The symbol for an ID, or nil when the ID has no slot in this table.
    func resolve(_ sid: Int) -> IonSymbol? {
        if sid == 0 { return .unknown(sid: 0, importLocation: nil) }
        guard sid > 0, sid <= maxSID else { return nil }
        if sid <= 9 { return .text(Self.systemSymbols[sid - 1]) }
        if sid >= localFirstSID {
            if let text = locals[sid - localFirstSID] { return .text(text) }
            return .unknown(sid: sid, importLocation: nil)
        }
        // Binary search for the import segment holding this ID.
        var low = 0
        var high = imports.count - 1
        while low <= high {
            let middle = (low + high) / 2
            let segment = imports[middle]
            if sid < segment.firstSID {
                high = middle - 1
            } else if sid >= segment.firstSID + segment.count {
                low = middle + 1
            } else {
                let index = sid - segment.firstSID
                if index < segment.texts.count, let text = segment.texts[index] { return .text(text) }
                return .unknown(sid: sid, importLocation: IonImportLocation(tableName: segment.name, position: index + 1))
            }
        }
        return .unknown(sid: sid, importLocation: nil)
    }

    /// True for a top-level value that declares a local symbol table rather than carrying data.
    static func isLocalSymbolTable(_ value: IonValue) -> Bool {
        value.type == .struct && value.annotations.first?.text == "$ion_symbol_table"
    }

    /// The table declared by a `$ion_symbol_table::{…}` struct read while `current` was in force.
    static func declared(
        by value: IonValue, current: IonSymbolTable, catalog: IonCatalog, limits: IonLimits, offset: Int
    ) throws(IonError) -> IonSymbolTable {
        guard let fields = value.fields else { return .system }  // null.struct: no symbols
        var table = IonSymbolTable()
        var sawImports = false
        var sawSymbols = false
        var declaredSymbols: [IonValue] = []
        for field in fields {
            switch field.name.text {
            case "imports":
                if sawImports {
                    throw IonError(.invalidSymbolTable, "local symbol table has two imports fields", at: offset)
                }
                sawImports = true
                if case .symbol(.text("$ion_symbol_table")) = field.value.content {
                    table = current  // append to the table in force
                } else if case .list(let imports) = field.value.content {
                    for entry in imports {
                        try table.addImport(entry, catalog: catalog, limits: limits, offset: offset)
                    }
                }
            case "symbols":
                if sawSymbols {
                    throw IonError(.invalidSymbolTable, "local symbol table has two symbols fields", at: offset)
                }
                sawSymbols = true
                if case .list(let symbols) = field.value.content { declaredSymbols = symbols }
            default:
                continue  // open content is ignored
            }
        }
        guard declaredSymbols.count <= limits.maxSymbols - table.declaredCount else {
            throw IonError.limit("local symbol table declares more than \(limits.maxSymbols) symbols", at: offset)
        }
        table.locals.reserveCapacity(table.locals.count + declaredSymbols.count)
        for symbol in declaredSymbols {
            if case .string(let text) = symbol.content {
                table.locals.append(text)
            } else {
                table.locals.append(nil)  // a declared slot with unknown text
            }
        }
        return table
    }

    private mutating func addImport(
        _ entry: IonValue, catalog: IonCatalog, limits: IonLimits, offset: Int
    ) throws(IonError) {
        guard let fields = entry.fields else { return }
        var name: String?
        var version = 1
        var maxID: Int?
        var maxIDTooLarge = false
        for field in fields {
            switch field.name.text {
            case "name":
                if name == nil, case .string(let text) = field.value.content { name = text }
            case "version":
                if case .int(.int64(let value)) = field.value.content, value >= 1, value <= Int64(Int.max) {
                    version = Int(value)
                }
            case "max_id":
                switch field.value.content {
                case .int(.int64(let value)) where value >= 0:
                    if value > Int64(limits.maxSymbols) { maxIDTooLarge = true } else { maxID = Int(value) }
                case .int(.big(isNegative: false, _)):
                    maxIDTooLarge = true
                default:
                    break  // undefined: negative, null or not an int
                }
            default:
                continue
            }
        }
        guard let name, !name.isEmpty, name != "$ion" else { return }
        if maxIDTooLarge {
            throw IonError.limit("import '\(name)' declares more than \(limits.maxSymbols) symbols", at: offset)
        }
        let found = catalog.lookup(name: name, version: version)
        let count: Int
        let texts: [String?]
        if let maxID {
            count = maxID
            texts = found.map { Array($0.table.symbols.prefix(maxID)) } ?? []
        } else if let found, found.isExact {
            count = found.table.symbols.count
            texts = found.table.symbols
        } else {
            throw IonError(
                .invalidSymbolTable,
                "import '\(name)' version \(version) has no max_id and is not in the catalog", at: offset)
        }
        guard count <= limits.maxSymbols - declaredCount else {
            throw IonError.limit("local symbol table declares more than \(limits.maxSymbols) symbols", at: offset)
        }
        guard count > 0 else { return }
        imports.append(ImportSegment(name: name, firstSID: localFirstSID, count: count, texts: texts))
        localFirstSID += count
    }
}
