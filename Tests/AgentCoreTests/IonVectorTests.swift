import Foundation
import Testing
@testable import AgentCore

/// Vectors generated from amazon-ion by `Tests/Ion/generate_vectors.py` (see its header for the
/// expected-tree format). Every `good/NAME.json` has NAME.ion and/or NAME.10n beside it.
enum IonFixtures {
    static var root: URL {
        Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent("ion")
    }

    static func files(in folder: String, withExtension ext: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent(folder).path)) ?? []
        return names.filter { $0.hasSuffix("." + ext) }.sorted()
    }

    static func bytes(_ folder: String, _ name: String) -> [UInt8]? {
        FileManager.default.contents(atPath: root.appendingPathComponent(folder).appendingPathComponent(name).path).map(Array.init)
    }

    static func json(_ folder: String, _ name: String) -> Any? {
        guard let data = FileManager.default.contents(atPath: root.appendingPathComponent(folder).appendingPathComponent(name).path)
        else { return nil }
        return try? JSONSerialization.jsonObject(with: data)
    }

    /// `NAME.ion` and `NAME.10n` inputs of the positive vectors.
    static let goodInputs: [String] = {
        let stems = files(in: "good", withExtension: "json").map { String($0.dropLast(5)) }
        return stems.flatMap { stem in
            [stem + ".ion", stem + ".10n"].filter { bytes("good", $0) != nil }
        }
    }()

    static let badInputs: [String] = {
        (files(in: "bad", withExtension: "ion") + files(in: "bad", withExtension: "10n")).sorted()
    }()

    static func catalog(_ entries: Any?) -> IonCatalog {
        var catalog = IonCatalog()
        for entry in entries as? [[String: Any]] ?? [] {
            let symbols = (entry["symbols"] as? [Any] ?? []).map { $0 as? String }
            catalog.add(.init(name: entry["name"] as? String ?? "", version: entry["version"] as? Int ?? 1, symbols: symbols))
        }
        return catalog
    }
}

/// Compares a value with its expected tree, collecting every difference with its path.
struct IonTreeComparison {
    var mismatches: [String] = []

    mutating func values(_ actual: [IonValue], _ expected: [Any], path: String) {
        if actual.count != expected.count {
            mismatches.append("\(path): \(actual.count) values, expected \(expected.count)")
        }
        for (index, (value, tree)) in zip(actual, expected).enumerated() {
            self.value(value, tree, path: "\(path)[\(index)]")
        }
    }

    mutating func symbol(_ actual: IonSymbol, _ expected: Any, path: String) {
        guard let tree = expected as? [String: Any] else {
            mismatches.append("\(path): bad expected symbol")
            return
        }
        if let text = tree["text"] as? String {
            if actual != .text(text) { mismatches.append("\(path): symbol \(actual), expected '\(text)'") }
            return
        }
        guard case .unknown(_, let location) = actual else {
            mismatches.append("\(path): symbol \(actual), expected unknown text")
            return
        }
        if let place = tree["import"] as? [String: Any] {
            let expectedLocation = IonImportLocation(
                tableName: place["name"] as? String ?? "", position: place["position"] as? Int ?? -1)
            if location != expectedLocation {
                mismatches.append("\(path): unknown symbol from \(String(describing: location)), expected \(expectedLocation)")
            }
        } else if tree["import"] is NSNull, location != nil {
            mismatches.append("\(path): unknown symbol from \(String(describing: location)), expected a local one")
        }
    }

    static func sameTimestamp(_ timestamp: IonTimestamp, _ want: Any) -> Bool {
        let fields = want as? [String: Any] ?? [:]
        let precisionNames: [IonTimestamp.Precision: String] = [
            .year: "year", .month: "month", .day: "day", .minute: "minute", .second: "second",
        ]
        var same = precisionNames[timestamp.precision] == fields["precision"] as? String
            && timestamp.year == fields["year"] as? Int && timestamp.month == fields["month"] as? Int
            && timestamp.day == fields["day"] as? Int && timestamp.hour == fields["hour"] as? Int
            && timestamp.minute == fields["minute"] as? Int && timestamp.second == fields["second"] as? Int
            && timestamp.offsetMinutes == fields["offset"] as? Int
        let fraction = timestamp.fraction
        if let wanted = fields["fraction"] as? [String: Any] {
            same = same && fraction?.coefficient == wanted["coefficient"] as? String
                && fraction?.exponent == wanted["exponent"] as? Int
        } else {
            same = same && fraction == nil
        }
        return same
    }

    mutating func value(_ actual: IonValue, _ expected: Any, path: String) {
        guard let tree = expected as? [String: Any], let type = tree["type"] as? String else {
            mismatches.append("\(path): bad expected tree")
            return
        }
        if actual.type.rawValue != type {
            mismatches.append("\(path): type \(actual.type.rawValue), expected \(type)")
            return
        }
        let annotations = tree["annotations"] as? [Any] ?? []
        if annotations.count != actual.annotations.count {
            mismatches.append("\(path): \(actual.annotations.count) annotations, expected \(annotations.count)")
        } else {
            for (index, (symbol, want)) in zip(actual.annotations, annotations).enumerated() {
                self.symbol(symbol, want, path: "\(path).annotations[\(index)]")
            }
        }
        if tree["null"] as? Bool == true {
            if !actual.isNull { mismatches.append("\(path): \(actual.content), expected null.\(type)") }
            return
        }
        let want = tree["value"] ?? NSNull()
        func mismatch(_ got: Any) { mismatches.append("\(path): \(got), expected \(want)") }
        switch actual.content {
        case .null:
            mismatch("null")
        case .bool(let bool):
            if bool != want as? Bool { mismatch(bool) }
        case .int(let int):
            if int.description != want as? String { mismatch(int) }
        case .float(let double):
            if want as? String == "nan" {
                if !double.isNaN { mismatch(double) }
            } else {
                let bits = String(double.bitPattern, radix: 16)
                if String(repeating: "0", count: 16 - bits.count) + bits != want as? String { mismatch(double) }
            }
        case .decimal(let decimal):
            let fields = want as? [String: Any] ?? [:]
            if decimal.isNegative != fields["negative"] as? Bool || decimal.coefficient != fields["coefficient"] as? String
                || decimal.exponent != fields["exponent"] as? Int {
                mismatch(decimal)
            }
        case .timestamp(let timestamp):
            // In a function of its own: inline here, Swift 6.3's optimizer crashes on this function
            // in release builds (a CopyPropagation ownership error).
            if !Self.sameTimestamp(timestamp, want) { mismatch(timestamp) }
        case .symbol(let symbol):
            self.symbol(symbol, want, path: path)
        case .string(let text):
            if text != want as? String { mismatch(text.debugDescription) }
        case .clob(let bytes), .blob(let bytes):
            let hex = bytes.map { String(format: "%02x", $0) }.joined()
            if hex != want as? String { mismatch(hex) }
        case .list(let elements), .sexp(let elements):
            values(elements, want as? [Any] ?? [], path: path)
        case .struct(let fields):
            let wanted = want as? [[String: Any]] ?? []
            if fields.count != wanted.count {
                mismatches.append("\(path): \(fields.count) fields, expected \(wanted.count)")
            }
            for (index, (field, tree)) in zip(fields, wanted).enumerated() {
                symbol(field.name, tree["name"] ?? NSNull(), path: "\(path).fields[\(index)].name")
                value(field.value, tree["value"] ?? NSNull(), path: "\(path).fields[\(index)]")
            }
        }
    }
}

struct IonVectorTests {
    @Test func fixturesArePresent() {
        #expect(IonFixtures.goodInputs.filter { $0.hasSuffix(".ion") }.count >= 50)
        #expect(IonFixtures.goodInputs.filter { $0.hasSuffix(".10n") }.count >= 60)
        #expect(IonFixtures.badInputs.count >= 120)
    }

    @Test(arguments: IonFixtures.goodInputs)
    func vectorParsesToTheReferenceTree(_ input: String) throws {
        let stem = String(input.dropLast(4))
        let bytes = try #require(IonFixtures.bytes("good", input))
        let document = try #require(IonFixtures.json("good", stem + ".json") as? [String: Any])
        let expected = try #require(document["values"] as? [Any])
        let catalog = IonFixtures.catalog(document["catalog"])
        #expect(IonReader.isBinary(bytes) == input.hasSuffix(".10n"))
        let values = try IonReader.parse(bytes, catalog: catalog)
        var comparison = IonTreeComparison()
        comparison.values(values, expected, path: input)
        #expect(comparison.mismatches.isEmpty, "\(comparison.mismatches.prefix(10).joined(separator: "\n"))")
    }

    @Test(arguments: IonFixtures.badInputs)
    func invalidVectorIsRejectedWithItsKind(_ input: String) throws {
        let bytes = try #require(IonFixtures.bytes("bad", input))
        let index = try #require(IonFixtures.json("bad", "index.json") as? [String: [String: Any]])
        let entry = try #require(index[input])
        let kind = try #require(IonError.Kind(rawValue: entry["kind"] as? String ?? ""))
        do {
            let values = try IonReader.parse(bytes)
            Issue.record("\(input) (\(entry["reason"] ?? "")) was accepted as \(values.count) values")
        } catch {
            #expect(error.kind == kind, "\(input): \(error)")
            #expect(error.offset >= 0 && error.offset <= bytes.count)
        }
    }

    /// Every prefix of every binary vector either reads as fewer values or is rejected; none traps.
    @Test func truncatedBinaryVectorsNeverTrap() throws {
        var checked = 0
        for input in IonFixtures.goodInputs where input.hasSuffix(".10n") {
            let bytes = try #require(IonFixtures.bytes("good", input))
            let document = IonFixtures.json("good", String(input.dropLast(4)) + ".json") as? [String: Any]
            let catalog = IonFixtures.catalog(document?["catalog"])
            let full = try IonReader.parse(bytes, catalog: catalog)
            for length in stride(from: 4, to: bytes.count, by: max(1, bytes.count / 64)) {
                if let prefix = try? IonReader.parse(Array(bytes[..<length]), catalog: catalog) {
                    #expect(prefix.count <= full.count, "\(input) cut at \(length)")
                }
                checked += 1
            }
        }
        #expect(checked > 100)
    }

    /// Flipping each byte of each vector gives a value or an IonError, never a trap.
    @Test func corruptedVectorsNeverTrap() throws {
        var rejected = 0
        for input in IonFixtures.goodInputs {
            let bytes = try #require(IonFixtures.bytes("good", input))
            for index in stride(from: 0, to: bytes.count, by: max(1, bytes.count / 48)) {
                for mask: UInt8 in [0x01, 0x80, 0xFF] {
                    var corrupted = bytes
                    corrupted[index] ^= mask
                    if (try? IonReader.parse(corrupted)) == nil { rejected += 1 }
                }
            }
        }
        #expect(rejected > 100)
    }
}
