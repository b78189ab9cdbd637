import Testing
@testable import AgentCore

private func parse(_ text: String, catalog: IonCatalog = .empty, limits: IonLimits = .default) throws(IonError) -> [IonValue] {
    try IonReader.parse(Array(text.utf8), catalog: catalog, limits: limits)
}

private func error(_ bytes: [UInt8], catalog: IonCatalog = .empty, limits: IonLimits = .default) -> IonError? {
    do {
        _ = try IonReader.parse(bytes, catalog: catalog, limits: limits)
        return nil
    } catch {
        return error
    }
}

private func error(_ text: String, limits: IonLimits = .default) -> IonError? {
    error(Array(text.utf8), limits: limits)
}

private let ivm: [UInt8] = [0xE0, 0x01, 0x00, 0xEA]

private func varUInt(_ value: Int) -> [UInt8] {
    var out: [UInt8] = [UInt8(value & 0x7F) | 0x80]
    var rest = value >> 7
    while rest > 0 {
        out.insert(UInt8(rest & 0x7F), at: 0)
        rest >>= 7
    }
    return out
}

/// `depth` nested binary lists around an int.
private func nestedBinaryLists(_ depth: Int) -> [UInt8] {
    var value: [UInt8] = [0x21, 0x01]
    for _ in 0..<depth {
        value = (value.count < 14 ? [0xB0 | UInt8(value.count)] : [0xBE] + varUInt(value.count)) + value
    }
    return ivm + value
}

/// A binary local symbol table with `count` local symbols "s0", "s1", …
private func binarySymbolTable(count: Int, then body: [UInt8]) -> [UInt8] {
    var symbols: [UInt8] = []
    for index in 0..<count {
        let text = Array("s\(index)".utf8)
        symbols += [0x80 | UInt8(text.count)] + text
    }
    let list: [UInt8] = [0xBE] + varUInt(symbols.count) + symbols
    let fields: [UInt8] = varUInt(7) + list
    let structure: [UInt8] = [0xDE] + varUInt(fields.count) + fields
    let wrapped: [UInt8] = varUInt(1) + varUInt(3) + structure
    return ivm + [0xEE] + varUInt(wrapped.count) + wrapped + body
}

struct IonReaderTests {
    // MARK: Bounds

    @Test func depthLimitAdmitsExactlyMaxDepthNestedContainersInText() throws {
        let limits = IonLimits(maxDepth: 5)
        #expect(try parse(String(repeating: "[", count: 5) + String(repeating: "]", count: 5), limits: limits).count == 1)
        let tooDeep = error(String(repeating: "[", count: 6) + String(repeating: "]", count: 6), limits: limits)
        #expect(tooDeep?.kind == .limitExceeded)
        #expect(tooDeep?.offset == 5)
        #expect(error("{a:{b:(c [d, {e:f}])}}", limits: limits) == nil)
        #expect(error("{a:{b:(c [d, {e:[f]}])}}", limits: limits)?.kind == .limitExceeded)
    }

    @Test func depthLimitAdmitsExactlyMaxDepthNestedContainersInBinary() throws {
        #expect(try IonReader.parse(nestedBinaryLists(64)).count == 1)
        #expect(error(nestedBinaryLists(65))?.kind == .limitExceeded)
        #expect(error(nestedBinaryLists(4), limits: IonLimits(maxDepth: 3))?.kind == .limitExceeded)
    }

    @Test func depthLimitIsClampedToTheHardMaximum() {
        let limits = IonLimits(maxDepth: 1_000_000)
        let depth = IonLimits.hardMaxDepth + 1
        #expect(error(String(repeating: "(", count: depth) + String(repeating: ")", count: depth), limits: limits)?.kind == .limitExceeded)
        #expect(error(nestedBinaryLists(depth), limits: limits)?.kind == .limitExceeded)
        #expect(error(nestedBinaryLists(IonLimits.hardMaxDepth), limits: limits) == nil)
    }

    @Test func inputSizeLimitIsCheckedBeforeReading() {
        let limits = IonLimits(maxInputBytes: 8)
        #expect(error("12345678", limits: limits) == nil)
        let tooBig = error("123456789", limits: limits)
        #expect(tooBig?.kind == .limitExceeded)
        #expect(tooBig?.offset == 0)
        #expect(error(ivm + [0x21, 0x01, 0x21, 0x02, 0x20], limits: limits)?.kind == .limitExceeded)
    }

    @Test func localSymbolCountIsBounded() throws {
        let limits = IonLimits(maxSymbols: 10)
        let symbols = (0..<10).map { "\"s\($0)\"" }.joined(separator: ",")
        #expect(try parse("$ion_symbol_table::{symbols:[\(symbols)]} $19", limits: limits).first?.text == "s9")
        #expect(error("$ion_symbol_table::{symbols:[\(symbols), \"x\"]} 1", limits: limits)?.kind == .limitExceeded)
        #expect(try IonReader.parse(binarySymbolTable(count: 10, then: [0x71, 0x13]), limits: limits).first?.text == "s9")
        #expect(error(binarySymbolTable(count: 11, then: []), limits: limits)?.kind == .limitExceeded)
        // Imports count too, and appending cannot grow past the bound either.
        #expect(error("$ion_symbol_table::{imports:[{name:\"t\", version:1, max_id:6}], symbols:[\"a\",\"b\",\"c\",\"d\",\"e\"]} 1",
                      limits: limits)?.kind == .limitExceeded)
        let append = "$ion_symbol_table::{imports:$ion_symbol_table, symbols:[\(symbols)]} 1"
        #expect(error("$ion_symbol_table::{symbols:[\"x\"]} " + append, limits: limits)?.kind == .limitExceeded)
    }

    @Test func defaultSymbolLimitRejectsHundredThousandAndOneSymbols() throws {
        #expect(try IonReader.parse(binarySymbolTable(count: 100_000, then: [0x73, 0x01, 0x86, 0xA9])).first?.text == "s99999")
        #expect(error(binarySymbolTable(count: 100_001, then: []))?.kind == .limitExceeded)
    }

    /// Appending to a full table must not copy it: 30 000 appends to 100 000 symbols would move
    /// billions of entries if it did.
    @Test func appendingToALargeSymbolTableStaysLinear() throws {
        let appends = 30_000
        var document = binarySymbolTable(count: 100_000, then: [])
        let append: [UInt8] = [0xE6, 0x81, 0x83, 0xD3, 0x86, 0x71, 0x03]  // $ion_symbol_table::{imports:$ion_symbol_table}
        document.reserveCapacity(document.count + append.count * appends + 4)
        for _ in 0..<appends { document += append }
        document += [0x73, 0x01, 0x86, 0xA9]  // $100009
        let started = ContinuousClock.now
        let values = try IonReader.parse(document)
        #expect(values.first?.text == "s99999")
        #expect(ContinuousClock.now - started < .seconds(30))
    }

    @Test func containerElementAndTotalValueCountsAreBounded() {
        #expect(error("[1,2,3]", limits: IonLimits(maxContainerElements: 3)) == nil)
        #expect(error("[1,2,3,4]", limits: IonLimits(maxContainerElements: 3))?.kind == .limitExceeded)
        #expect(error("{a:1,b:2,c:3,d:4}", limits: IonLimits(maxContainerElements: 3))?.kind == .limitExceeded)
        #expect(error("1 2 3 4", limits: IonLimits(maxContainerElements: 3))?.kind == .limitExceeded)
        #expect(error(ivm + [0xB4, 0x20, 0x20, 0x20, 0x20], limits: IonLimits(maxContainerElements: 3))?.kind == .limitExceeded)
        #expect(error("[1,[2,3]]", limits: IonLimits(maxTotalValues: 5)) == nil)
        #expect(error("[1,[2,3]] 4", limits: IonLimits(maxTotalValues: 5))?.kind == .limitExceeded)
        #expect(error(ivm + [0xB3, 0x20, 0xB1, 0x20], limits: IonLimits(maxTotalValues: 3))?.kind == .limitExceeded)
    }

    @Test func annotationsCountTowardTheValueBound() {
        #expect(error("a::b::c::1", limits: IonLimits(maxTotalValues: 4)) == nil)
        #expect(error("a::b::c::d::1", limits: IonLimits(maxTotalValues: 4))?.kind == .limitExceeded)
        #expect(error(ivm + [0xE5, 0x83, 0x84, 0x85, 0x86, 0x20], limits: IonLimits(maxTotalValues: 3))?.kind == .limitExceeded)
    }

    @Test func fractionalSecondsPrecisionIsBounded() {
        // A binary fraction exponent of -(2^42) would need a 2^42-digit string to print.
        let huge = error(ivm + [0x6E, 0x8F, 0x80, 0x0F, 0xD7, 0x82, 0x97, 0x8C, 0x8E, 0xA1, 0x41, 0, 0, 0, 0, 0, 0x80])
        #expect(huge?.kind == .limitExceeded)
        let digits = IonTimestamp.maxFractionDigits
        #expect(error("2007-02-23T12:14:33." + String(repeating: "0", count: digits) + "Z") == nil)
        #expect(error("2007-02-23T12:14:33." + String(repeating: "0", count: digits + 1) + "Z")?.kind == .malformed)
    }

    @Test func numberDigitsAreBounded() {
        let limits = IonLimits(maxNumberDigits: 20)
        #expect(error(String(repeating: "9", count: 20), limits: limits) == nil)
        #expect(error(String(repeating: "9", count: 21), limits: limits)?.kind == .limitExceeded)
        #expect(error("0x" + String(repeating: "F", count: 81), limits: limits)?.kind == .limitExceeded)
        #expect(error("1." + String(repeating: "0", count: 20), limits: limits)?.kind == .limitExceeded)
        #expect(error(ivm + [0x2E, 0x8C] + [UInt8](repeating: 0xFF, count: 12), limits: limits)?.kind == .limitExceeded)
    }

    @Test func declaredLengthsBeyondTheInputAreRejectedWithoutAllocating() {
        // A string claiming nearly 2^62 bytes, a VarUInt past 64 bits, and a blob claiming 2^35.
        let huge = error(ivm + [0x8E, 0x3F] + [UInt8](repeating: 0x7F, count: 7) + [0xFF])
        #expect(huge?.kind == .malformed)
        #expect(huge?.offset == 4)
        #expect(huge?.reason.contains("runs past") == true)
        #expect(error(ivm + [0x8E, 0x40] + [UInt8](repeating: 0x00, count: 8) + [0x80])?.reason.contains("too large") == true)
        #expect(error(ivm + [0xAE, 0x01, 0x00, 0x00, 0x00, 0x00, 0x80])?.kind == .malformed)
    }

    // MARK: Errors

    @Test func errorsCarryTheOffsetOfTheProblem() {
        #expect(error("[1, 2, \"abc")?.offset == 7)
        #expect(error("a b $10")?.offset == 4)
        #expect(error("1 2 \u{7F}x\u{FF}".utf8.map { $0 } + [0xFF])?.offset == 8)
        #expect(error(ivm + [0x20, 0x71, 0x0A])?.offset == 5)
        #expect(error("2007-02-29")?.description.contains("timestamp") == true)
    }

    @Test func nonIonBinaryVersionIsUnsupported() {
        #expect(error([0xE0, 0x01, 0x01, 0xEA])?.kind == .unsupportedVersion)
        #expect(error([0xE0])?.kind == .unsupportedVersion)
        #expect(error("$ion_1_1")?.kind == .unsupportedVersion)
    }

    // MARK: Symbols and catalogs

    @Test func importsResolveThroughTheCatalogWithVersionFallback() throws {
        let catalog = IonCatalog([IonCatalog.Table(name: "ops", version: 1, symbols: ["and", "or", "not", "eq"])])
        let lst = "$ion_symbol_table::{imports:[{name:\"ops\", version:2, max_id:5}], symbols:[\"x\"]} "
        let values = try parse(lst + "$13 $14 $15", catalog: catalog)
        #expect(values.map(\.content) == [
            .symbol(.text("eq")),
            .symbol(.unknown(sid: 14, importLocation: IonImportLocation(tableName: "ops", position: 5))),
            .symbol(.text("x")),
        ])
        // Without max_id only the exact version will do.
        let inexact = "$ion_symbol_table::{imports:[{name:\"ops\", version:2}]} 1"
        #expect(error(Array(inexact.utf8), catalog: catalog)?.kind == .invalidSymbolTable)
        let exact = "$ion_symbol_table::{imports:[{name:\"ops\", version:1}]} $13"
        #expect(try parse(exact, catalog: catalog).first?.text == "eq")
    }

    @Test func importMissingFromTheCatalogReservesUnknownSlots() throws {
        let lst = "$ion_symbol_table::{imports:[{name:\"ops\", version:1, max_id:23}, {name:\"anns\", version:1, max_id:12}], symbols:[\"Tier1\"]} "
        let values = try parse(lst + "$13::$33 $45", catalog: .empty)
        #expect(values[0].annotations == [.unknown(sid: 13, importLocation: IonImportLocation(tableName: "ops", position: 4))])
        #expect(values[0].content == .symbol(.unknown(sid: 33, importLocation: IonImportLocation(tableName: "anns", position: 1))))
        #expect(values[1].content == .symbol(.text("Tier1")))
        #expect(error(Array((lst + "$46").utf8))?.kind == .symbolOutOfRange)
    }

    @Test func catalogReplacesATableOfTheSameNameAndVersion() {
        var catalog = IonCatalog([.init(name: "t", version: 1, symbols: ["a"])])
        catalog.add(.init(name: "t", version: 1, symbols: ["b"]))
        catalog.add(.init(name: "t", version: 3, symbols: ["c"]))
        #expect(catalog.lookup(name: "t", version: 1)?.table.symbols == ["b"])
        #expect(catalog.lookup(name: "t", version: 2)?.table.symbols == ["c"])
        #expect(catalog.lookup(name: "t", version: 2)?.isExact == false)
        #expect(catalog.lookup(name: "u", version: 1) == nil)
    }

    @Test func onlyTheUnquotedIdentifierIsAVersionMarker() throws {
        let values = try parse("$0 $2 '$ion_1_0' $ion_1_0 x '$ion_1_1'")
        #expect(values.map(\.content) == [
            .symbol(.unknown(sid: 0, importLocation: nil)), .symbol(.text("$ion_1_0")), .symbol(.text("$ion_1_0")),
            .symbol(.text("x")), .symbol(.text("$ion_1_1")),
        ])
        // A quoted marker does not reset the symbol table; the real one does.
        let lst = "$ion_symbol_table::{symbols:[\"a\"]} "
        #expect(try parse(lst + "'$ion_1_0' $10").last?.text == "a")
        #expect(error(lst + "$ion_1_0 $10")?.kind == .symbolOutOfRange)
    }

    // MARK: Model

    @Test func intsKeepInt64WhenTheyFitAndDigitsWhenNot() throws {
        let values = try parse("9223372036854775807 -9223372036854775808 9223372036854775808 -0x10000000000000000")
        #expect(values[0].content == .int(.int64(.max)))
        #expect(values[1].content == .int(.int64(.min)))
        #expect(values[2].content == .int(.big(isNegative: false, magnitude: "9223372036854775808")))
        #expect(values[3].content == .int(.big(isNegative: true, magnitude: "18446744073709551616")))
        #expect(values.count == 4)
    }

    @Test func decimalsKeepSignPrecisionAndDigits() throws {
        let values = try parse("-0.0 1.50 123456789012345678901234567890.1 1d-3")
        guard case .decimal(let negativeZero) = values[0].content,
              case .decimal(let precise) = values[1].content,
              case .decimal(let long) = values[2].content,
              case .decimal(let small) = values[3].content
        else {
            Issue.record("not decimals: \(values)")
            return
        }
        #expect(negativeZero == IonDecimal(isNegative: true, coefficient: "0", exponent: -1))
        #expect(negativeZero.description == "-0.0")
        #expect(precise.description == "1.50")
        #expect(long.coefficient == "1234567890123456789012345678901")
        #expect(small.description == "0.001")
        #expect(small.doubleValue == 0.001)
    }

    @Test func timestampsCompareAsInstantsAcrossOffsetsAndPrecision() throws {
        let a = try #require(IonTimestamp("2007-02-23T12:14Z"))
        let b = try #require(IonTimestamp("2007-02-23T04:14-08:00"))
        let c = try #require(IonTimestamp("2007-02-23T12:14:00.5Z"))
        let d = try #require(IonTimestamp("2007-02-23T12:14:00.49999Z"))
        #expect(a != b)
        #expect(a.instant == b.instant)
        #expect(a.instant < d.instant && d.instant < c.instant)
        #expect(a.epochSeconds == 1_172_232_840)
        #expect(c.instant.timeIntervalSince1970 == 1_172_232_840.5)
        #expect(IonTimestamp("2007T")?.instant == IonTimestamp("2007-01-01T00:00-00:00")?.instant)
        #expect(IonTimestamp("2007-02-23T12:14:00.5Z")?.description == "2007-02-23T12:14:00.5Z")
        #expect(IonTimestamp("2007-02-23T12:14:00.000-00:00")?.description == "2007-02-23T12:14:00.000-00:00")
        #expect(IonTimestamp("2007-02-29") == nil)
        #expect(IonTimestamp("2007-02-23T12:14") == nil)
        #expect(IonTimestamp("2007-02-23 ") == nil)
    }

    @Test func binaryTimestampsAreUTCAndReadBackInTheirOffset() throws {
        // 2008-01-01T07:59Z stored with offset -08:00 reads as 2007-12-31T23:59-08:00.
        let values = try IonReader.parse(ivm + [0x68, 0x43, 0xE0, 0x0F, 0xD8, 0x81, 0x81, 0x87, 0xBB])
        guard case .timestamp(let timestamp) = values.first?.content else {
            Issue.record("not a timestamp: \(values)")
            return
        }
        #expect(timestamp.description == "2007-12-31T23:59-08:00")
        #expect(timestamp.instant == IonTimestamp("2008-01-01T07:59Z")?.instant)
    }

    @Test func specSampleReadsAsAnnotatedFlags() throws {
        let sample = """
            'simple_flag'::'''{"enabled":true}'''
            'tiered_release'::[
              [ (or (eq $group "Tier1") (split pct::25 by::$userId)), '''{"_variant":"Tier1","enabled":true}''' ],
              '''{"_variant":"Default Variant","enabled":false}'''
            ]
            """
        let values = try parse(sample)
        #expect(values.count == 2)
        #expect(values[0].annotationTexts == ["simple_flag"])
        #expect(values[0].text == #"{"enabled":true}"#)
        let variants = try #require(values[1].elements)
        #expect(values[1].annotationTexts == ["tiered_release"])
        let rule = try #require(variants[0].elements?[0].elements)
        #expect(rule[0].text == "or")
        let split = try #require(rule[2].elements)
        #expect(split.map(\.text) == ["split", "25", "$userId"].map { $0 == "25" ? nil : $0 })
        #expect(split[1].annotationTexts == ["pct"] && split[1].content == .int(.int64(25)))
        #expect(variants[1].text == #"{"_variant":"Default Variant","enabled":false}"#)
    }

    @Test func structAccessorsKeepOrderAndDuplicates() throws {
        let value = try #require(try parse("{a:1, b:\"x\", a:2}").first)
        #expect(value.fields?.map(\.name) == [.text("a"), .text("b"), .text("a")])
        #expect(value[field: "a"]?.content == .int(.int64(1)))
        #expect(value[field: "b"]?.text == "x")
        #expect(value[field: "c"] == nil)
        #expect(value.annotationTexts == [])
    }

    @Test func stringFormAndByteFormParseAlike() throws {
        let text = "a::{b:[1, 2.5, 3e0, \"s\"]}"
        #expect(try IonReader.parse(text) == IonReader.parse(Array(text.utf8)))
    }
}
