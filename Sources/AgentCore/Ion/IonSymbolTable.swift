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
        /// The shared table's texts (possibly more than `count`, which wins); slots past the end
        /// and `nil` entries are unknown.
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
                if index < segment.texts.count, let text = segment.texts[index] { return .text(text) }  // index < count
                return .unknown(sid: sid, importLocation: IonImportLocation(tableName: segment.name, position: index + 1))
            }
        }
        return .unknown(sid: sid, importLocation: nil)
    }

    /// True for a top-level value that declares a local symbol table rather than carrying data.
    static func isLocalSymbolTable(_ value: IonValue) -> Bool {
        value.type == .struct && value.annotations.first?.text == "$ion_symbol_table"
    }

    /// Applies a `$ion_symbol_table::{…}` struct read while this table was in force: replaces
    /// this table, or appends to it (`imports: $ion_symbol_table`). Mutating in place keeps a
    /// long run of appends linear: the symbol array is never copied.
    mutating func apply(
        localTable value: IonValue, catalog: IonCatalog, limits: IonLimits, offset: Int
    ) throws(IonError) {
        guard let fields = value.fields else {  // null.struct: no symbols
            self = .system
            return
        }
        var importsValue: IonValue?
        var symbolsValue: IonValue?
        for field in fields {
            switch field.name.text {
            case "imports":
                guard importsValue == nil else {
                    throw IonError(.invalidSymbolTable, "local symbol table has two imports fields", at: offset)
                }
                importsValue = field.value
            case "symbols":
                guard symbolsValue == nil else {
                    throw IonError(.invalidSymbolTable, "local symbol table has two symbols fields", at: offset)
                }
                symbolsValue = field.value
            default:
                continue  // open content is ignored
            }
        }
        if case .symbol(.text("$ion_symbol_table"))? = importsValue?.content {
            // Append: keep this table as it is.
        } else {
            var fresh = IonSymbolTable()
            if case .list(let imports)? = importsValue?.content {
                for entry in imports {
                    try fresh.addImport(entry, catalog: catalog, limits: limits, offset: offset)
                }
            }
            self = fresh
        }
        guard case .list(let declared)? = symbolsValue?.content, !declared.isEmpty else { return }
        guard declared.count <= limits.maxSymbols - declaredCount else {
            throw IonError.limit("local symbol table declares more than \(limits.maxSymbols) symbols", at: offset)
        }
        for symbol in declared {
            if case .string(let text) = symbol.content {
                locals.append(text)
            } else {
                locals.append(nil)  // a declared slot with unknown text
            }
        }
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
            texts = found?.table.symbols ?? []  // shared with the catalog, never copied
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
