/// The thirteen types of the Ion 1.0 data model.
public enum IonType: String, Sendable, Hashable, CaseIterable {
    case null, bool, int, float, decimal, timestamp, symbol, string, clob, blob, list, sexp
    case `struct`
}

/// Where an unresolved symbol came from: the shared table's name and the 1-based position in it.
public struct IonImportLocation: Sendable, Hashable {
    public let tableName: String
    public let position: Int

    public init(tableName: String, position: Int) {
        self.tableName = tableName
        self.position = position
    }
}

/// A symbol token: known text, or a symbol ID whose text is unknown here.
///
/// Unknown text arises from `$0`, from a local-table slot declared without text, and from an import
/// whose shared table is not in the `IonCatalog`. The `sid` of an unknown symbol is only meaningful
/// inside the document it came from; `importLocation` is stable across encodings.
public enum IonSymbol: Sendable, Hashable, CustomStringConvertible {
    case text(String)
    case unknown(sid: Int, importLocation: IonImportLocation?)

    public var text: String? {
        if case .text(let text) = self { return text }
        return nil
    }

    public var description: String {
        switch self {
        case .text(let text): return text
        case .unknown(let sid, let location):
            if let location { return "$\(sid) (\(location.tableName)#\(location.position))" }
            return "$\(sid)"
        }
    }
}

/// An Ion int of any size. Values that fit `Int64` are always `.int64`; larger magnitudes are kept
/// exactly as a sign and a decimal digit string (no leading zeros) so nothing is lost.
public enum IonInt: Sendable, Hashable, CustomStringConvertible {
    case int64(Int64)
    case big(isNegative: Bool, magnitude: String)

    public var int64Value: Int64? {
        if case .int64(let value) = self { return value }
        return nil
    }

    public var description: String {
        switch self {
        case .int64(let value): return String(value)
        case .big(let isNegative, let magnitude): return isNegative ? "-" + magnitude : magnitude
        }
    }

    /// Builds the canonical form from a sign and decimal digits (leading zeros allowed).
    init(isNegative: Bool, digits: Substring) {
        let trimmed = digits.drop { $0 == "0" }
        if trimmed.isEmpty {
            self = .int64(0)
            return
        }
        if trimmed.count <= 19, let magnitude = UInt64(trimmed) {
            if !isNegative, magnitude <= UInt64(Int64.max) {
                self = .int64(Int64(magnitude))
                return
            }
            if isNegative, magnitude <= UInt64(Int64.max) + 1 {
                self = .int64(magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude))
                return
            }
        }
        self = .big(isNegative: isNegative, magnitude: String(trimmed))
    }

    init(isNegative: Bool, magnitude: UInt64) {
        if !isNegative, magnitude <= UInt64(Int64.max) {
            self = .int64(Int64(magnitude))
        } else if isNegative, magnitude <= UInt64(Int64.max) {
            self = .int64(-Int64(magnitude))
        } else if isNegative, magnitude == UInt64(Int64.max) + 1 {
            self = .int64(Int64.min)
        } else {
            self = .big(isNegative: isNegative, magnitude: String(magnitude))
        }
    }
}

/// An Ion decimal: `(-1)^isNegative × coefficient × 10^exponent`, exact. The sign is kept apart
/// so `-0.0` survives; `coefficient` is decimal digits without leading zeros (`"0"` for zero), so
/// precision (`1.0` versus `1.00`) lives in `exponent`.
public struct IonDecimal: Sendable, Hashable, CustomStringConvertible {
    public let isNegative: Bool
    public let coefficient: String
    public let exponent: Int

    public init(isNegative: Bool, coefficient: String, exponent: Int) {
        let trimmed = coefficient.drop { $0 == "0" }
        self.isNegative = isNegative
        self.coefficient = trimmed.isEmpty ? "0" : String(trimmed)
        self.exponent = exponent
    }

    public var isZero: Bool { coefficient == "0" }

    /// The nearest `Double` (for comparisons in rules; the decimal itself stays exact).
    public var doubleValue: Double {
        let magnitude = Double("\(coefficient)e\(exponent)") ?? (exponent > 0 ? .infinity : 0)
        return isNegative ? -magnitude : magnitude
    }

    /// Ion text form, e.g. `-12.50` or `1d40`.
    public var description: String {
        let sign = isNegative ? "-" : ""
        if exponent == 0 { return "\(sign)\(coefficient)." }
        if exponent < 0, exponent > -coefficient.count - 8 {
            let shift = -exponent
            let padded = coefficient.count <= shift
                ? String(repeating: "0", count: shift - coefficient.count + 1) + coefficient
                : coefficient
            let split = padded.index(padded.endIndex, offsetBy: -shift)
            return "\(sign)\(padded[..<split]).\(padded[split...])"
        }
        return "\(sign)\(coefficient)d\(exponent)"
    }
}

/// A struct field. Fields keep their document order and names may repeat.
public struct IonField: Sendable, Hashable {
    public var name: IonSymbol
    public var value: IonValue

    public init(name: IonSymbol, value: IonValue) {
        self.name = name
        self.value = value
    }
}

/// One Ion value with its annotations.
///
/// Equality is the data model's, with one exception: `Double` NaN is never equal to itself.
public struct IonValue: Sendable, Hashable {
    public enum Content: Sendable, Hashable {
        /// A null of the given type (`null` is `.null(.null)`, `null.int` is `.null(.int)`).
        case null(IonType)
        case bool(Bool)
        case int(IonInt)
        /// 64-bit; 32-bit binary floats are widened exactly.
        case float(Double)
        case decimal(IonDecimal)
        indirect case timestamp(IonTimestamp)
        case symbol(IonSymbol)
        case string(String)
        case clob([UInt8])
        case blob([UInt8])
        case list([IonValue])
        case sexp([IonValue])
        case `struct`([IonField])
    }

    public var annotations: [IonSymbol]
    public var content: Content

    public init(_ content: Content, annotations: [IonSymbol] = []) {
        self.content = content
        self.annotations = annotations
    }

    public var type: IonType {
        switch content {
        case .null(let type): return type
        case .bool: return .bool
        case .int: return .int
        case .float: return .float
        case .decimal: return .decimal
        case .timestamp: return .timestamp
        case .symbol: return .symbol
        case .string: return .string
        case .clob: return .clob
        case .blob: return .blob
        case .list: return .list
        case .sexp: return .sexp
        case .struct: return .struct
        }
    }

    public var isNull: Bool {
        if case .null = content { return true }
        return false
    }

    /// Annotation texts, or nil when any annotation's text is unknown.
    public var annotationTexts: [String]? {
        var texts: [String] = []
        texts.reserveCapacity(annotations.count)
        for annotation in annotations {
            guard let text = annotation.text else { return nil }
            texts.append(text)
        }
        return texts
    }

    /// The text of a string, or of a symbol with known text.
    public var text: String? {
        switch content {
        case .string(let text): return text
        case .symbol(let symbol): return symbol.text
        default: return nil
        }
    }

    /// Elements of a list or s-expression.
    public var elements: [IonValue]? {
        switch content {
        case .list(let values), .sexp(let values): return values
        default: return nil
        }
    }

    /// Fields of a struct, in document order.
    public var fields: [IonField]? {
        if case .struct(let fields) = content { return fields }
        return nil
    }

    /// The first field with this name, if this is a struct.
    public subscript(field name: String) -> IonValue? {
        fields?.first { $0.name.text == name }?.value
    }
}
