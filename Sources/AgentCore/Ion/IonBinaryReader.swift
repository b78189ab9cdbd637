/// Ion 1.0 binary: a version marker `E0 01 00 EA`, then type-descriptor-led values.
///
/// Every length is checked against the bytes left in the enclosing value before it is used, and
/// every variable-length integer against overflow, so no input can index out of range, trap, or
/// make the reader allocate more than the input holds.
struct IonBinaryReader {
    static let versionMarker: [UInt8] = [0xE0, 0x01, 0x00, 0xEA]

    private let bytes: [UInt8]
    private let catalog: IonCatalog
    private let limits: IonLimits
    private let maxDepth: Int
    private var table = IonSymbolTable.system
    private var totalValues = 0

    init(bytes: [UInt8], catalog: IonCatalog, limits: IonLimits) {
        self.bytes = bytes
        self.catalog = catalog
        self.limits = limits
        self.maxDepth = limits.effectiveMaxDepth
    }

    mutating func readAll() throws(IonError) -> [IonValue] {
        var values: [IonValue] = []
        var position = 0
        let end = bytes.count
        while position < end {
            if bytes[position] == 0xE0 {
                guard end - position >= 4, Array(bytes[position..<position + 4]) == Self.versionMarker else {
                    throw IonError(.unsupportedVersion, "not an Ion 1.0 binary version marker", at: position)
                }
                table = .system
                position += 4
                continue
            }
            let start = position
            guard let value = try readValue(&position, end: end, depth: 0) else { continue }
            if IonSymbolTable.isLocalSymbolTable(value) {
                try table.apply(localTable: value, catalog: catalog, limits: limits, offset: start)
            } else {
                guard values.count < limits.maxContainerElements else {
                    throw IonError.limit("more than \(limits.maxContainerElements) top-level values", at: start)
                }
                values.append(value)
            }
        }
        return values
    }

    // MARK: - Primitive fields

    private func varUInt(_ position: inout Int, end: Int) throws(IonError) -> Int {
        let start = position
        var value = 0
        while true {
            guard position < end else { throw IonError.malformed("VarUInt runs past its container", at: start) }
            let byte = bytes[position]
            position += 1
            guard value <= (Int.max >> 7) else { throw IonError.malformed("VarUInt too large", at: start) }
            value = value << 7 | Int(byte & 0x7F)
            if byte & 0x80 != 0 { return value }
        }
    }

    /// A VarInt; `isNegativeZero` reports the sign bit set on a zero magnitude.
    private func varInt(_ position: inout Int, end: Int) throws(IonError) -> (value: Int, isNegativeZero: Bool) {
        let start = position
        guard position < end else { throw IonError.malformed("VarInt runs past its container", at: start) }
        let first = bytes[position]
        position += 1
        let isNegative = first & 0x40 != 0
        var magnitude = Int(first & 0x3F)
        var byte = first
        while byte & 0x80 == 0 {
            guard position < end else { throw IonError.malformed("VarInt runs past its container", at: start) }
            byte = bytes[position]
            position += 1
            guard magnitude <= (Int.max >> 7) else { throw IonError.malformed("VarInt too large", at: start) }
            magnitude = magnitude << 7 | Int(byte & 0x7F)
        }
        return (isNegative ? -magnitude : magnitude, isNegative && magnitude == 0)
    }

    /// A sign-and-magnitude Int field occupying `[position, end)`: (isNegative, magnitude bytes).
    private func signedMagnitude(_ start: Int, _ end: Int) -> (isNegative: Bool, magnitude: [UInt8]) {
        guard start < end else { return (false, []) }
        var magnitude = Array(bytes[start..<end])
        let isNegative = magnitude[0] & 0x80 != 0
        magnitude[0] &= 0x7F
        return (isNegative, magnitude)
    }

    private func digits(of magnitude: ArraySlice<UInt8>, at offset: Int) throws(IonError) -> String {
        let significant = magnitude.drop { $0 == 0 }
        // A byte holds at most 2.41 digits, so this bound keeps the conversion cheap.
        guard significant.count <= limits.maxNumberDigits / 2 + 8 else {
            throw IonError.limit("number longer than \(limits.maxNumberDigits) digits", at: offset)
        }
        let text = IonMagnitude.decimalDigits(significant)
        guard text.count <= limits.maxNumberDigits else {
            throw IonError.limit("number longer than \(limits.maxNumberDigits) digits", at: offset)
        }
        return text
    }

    private func symbol(_ sid: Int, at offset: Int) throws(IonError) -> IonSymbol {
        guard let symbol = table.resolve(sid) else {
            throw IonError(.symbolOutOfRange, "symbol ID \(sid) is beyond the symbol table's max ID \(table.maxSID)", at: offset)
        }
        return symbol
    }

    private mutating func countValue(at offset: Int) throws(IonError) {
        totalValues += 1
        guard totalValues <= limits.maxTotalValues else {
            throw IonError.limit("more than \(limits.maxTotalValues) values", at: offset)
        }
    }

    // MARK: - Values

    /// Reads the value at `position`, or skips a NOP pad and returns nil.
    private mutating func readValue(_ position: inout Int, end: Int, depth: Int) throws(IonError) -> IonValue? {
        let start = position
        guard position < end else { throw IonError.malformed("value expected", at: start) }
        let descriptor = bytes[position]
        position += 1
        let type = descriptor >> 4
        let low = descriptor & 0x0F

        if type == 0xE {
            guard low >= 3, low != 15 else {
                throw IonError.malformed("invalid annotation wrapper descriptor 0x\(hex(descriptor))", at: start)
            }
            let length = try self.length(low, &position, end: end, at: start)
            let wrapperEnd = position + length
            let annotationLength = try varUInt(&position, end: wrapperEnd)
            guard annotationLength > 0 else { throw IonError.malformed("annotation wrapper without annotations", at: start) }
            guard annotationLength < wrapperEnd - position else {
                throw IonError.malformed("annotations run past their wrapper", at: start)
            }
            let annotationEnd = position + annotationLength
            var annotations: [IonSymbol] = []
            while position < annotationEnd {
                let sidStart = position
                try countValue(at: sidStart)  // annotations count toward maxTotalValues
                let sid = try varUInt(&position, end: annotationEnd)
                annotations.append(try symbol(sid, at: sidStart))
            }
            let wrapped = bytes[position]
            if wrapped >> 4 == 0xE || (wrapped >> 4 == 0 && wrapped & 0x0F != 0x0F) {
                throw IonError.malformed("annotation wrapper around \(wrapped >> 4 == 0xE ? "another wrapper" : "a NOP pad")", at: position)
            }
            guard var value = try readValue(&position, end: wrapperEnd, depth: depth) else {
                throw IonError.malformed("annotation wrapper around a NOP pad", at: start)
            }
            guard position == wrapperEnd else {
                throw IonError.malformed("annotation wrapper length does not match its value", at: start)
            }
            value.annotations = annotations
            return value
        }

        if type == 0 && low != 0x0F {  // NOP pad
            let length = try self.length(low, &position, end: end, at: start)
            position += length
            return nil
        }

        try countValue(at: start)
        if low == 0x0F {
            guard let nullType = Self.nullTypes[Int(type)] else {
                throw IonError.malformed("invalid type descriptor 0x\(hex(descriptor))", at: start)
            }
            return IonValue(.null(nullType))
        }

        switch type {
        case 0x1:
            guard low <= 1 else { throw IonError.malformed("invalid bool descriptor 0x\(hex(descriptor))", at: start) }
            return IonValue(.bool(low == 1))
        case 0x2, 0x3:
            let length = try self.length(low, &position, end: end, at: start)
            let magnitude = bytes[position..<position + length]
            position += length
            let isNegative = type == 0x3
            if isNegative, magnitude.allSatisfy({ $0 == 0 }) {
                throw IonError.malformed("negative zero int", at: start)
            }
            let significant = magnitude.drop { $0 == 0 }
            if significant.count <= 8 {
                var value: UInt64 = 0
                for byte in significant { value = value << 8 | UInt64(byte) }
                return IonValue(.int(IonInt(isNegative: isNegative, magnitude: value)))
            }
            let text = try digits(of: significant, at: start)
            return IonValue(.int(IonInt(isNegative: isNegative, digits: text[...])))
        case 0x4:
            switch low {
            case 0:
                return IonValue(.float(0))
            case 4, 8:
                guard Int(low) <= end - position else { throw IonError.malformed("float runs past its container", at: start) }
                var bits: UInt64 = 0
                for byte in bytes[position..<position + Int(low)] { bits = bits << 8 | UInt64(byte) }
                position += Int(low)
                let value = low == 4 ? Double(Float(bitPattern: UInt32(truncatingIfNeeded: bits))) : Double(bitPattern: bits)
                return IonValue(.float(value))
            default:
                throw IonError.malformed("float length must be 0, 4 or 8", at: start)
            }
        case 0x5:
            let length = try self.length(low, &position, end: end, at: start)
            let valueEnd = position + length
            guard length > 0 else { return IonValue(.decimal(IonDecimal(isNegative: false, coefficient: "0", exponent: 0))) }
            let exponent = try varInt(&position, end: valueEnd).value
            let (isNegative, magnitude) = signedMagnitude(position, valueEnd)
            position = valueEnd
            let coefficient = try digits(of: magnitude[...], at: start)
            return IonValue(.decimal(IonDecimal(isNegative: isNegative, coefficient: coefficient, exponent: exponent)))
        case 0x6:
            let length = try self.length(low, &position, end: end, at: start)
            let valueEnd = position + length
            let timestamp = try readTimestamp(&position, end: valueEnd, at: start)
            return IonValue(.timestamp(timestamp))
        case 0x7:
            let length = try self.length(low, &position, end: end, at: start)
            let field = bytes[position..<position + length].drop { $0 == 0 }
            position += length
            guard field.count <= 8 else {
                throw IonError(.symbolOutOfRange, "symbol ID too large", at: start)
            }
            var sid: UInt64 = 0
            for byte in field { sid = sid << 8 | UInt64(byte) }
            guard sid <= UInt64(Int.max) else { throw IonError(.symbolOutOfRange, "symbol ID too large", at: start) }
            return IonValue(.symbol(try symbol(Int(sid), at: start)))
        case 0x8:
            let length = try self.length(low, &position, end: end, at: start)
            let utf8 = bytes[position..<position + length]
            position += length
            guard let text = String(validating: utf8, as: UTF8.self) else {
                throw IonError.malformed("string is not valid UTF-8", at: start)
            }
            return IonValue(.string(text))
        case 0x9, 0xA:
            let length = try self.length(low, &position, end: end, at: start)
            let lob = Array(bytes[position..<position + length])
            position += length
            return IonValue(type == 0x9 ? .clob(lob) : .blob(lob))
        case 0xB, 0xC:
            let length = try self.length(low, &position, end: end, at: start)
            let containerEnd = position + length
            let elements = try readSequence(&position, end: containerEnd, depth: depth, at: start)
            return IonValue(type == 0xB ? .list(elements) : .sexp(elements))
        case 0xD:
            let length: Int
            if low == 1 {  // ordered struct: VarUInt length, at least one field
                length = try self.length(14, &position, end: end, at: start)
                guard length > 0 else { throw IonError.malformed("ordered struct with no fields", at: start) }
            } else {
                length = try self.length(low, &position, end: end, at: start)
            }
            let fields = try readStruct(&position, end: position + length, depth: depth, at: start)
            return IonValue(.struct(fields))
        default:
            throw IonError.malformed("invalid type descriptor 0x\(hex(descriptor))", at: start)
        }
    }

    private static let nullTypes: [IonType?] = [
        .null, .bool, .int, .int, .float, .decimal, .timestamp, .symbol, .string, .clob, .blob, .list, .sexp, .struct,
        nil, nil,
    ]

    /// The length of a value from its descriptor's low nibble (14 means a VarUInt follows),
    /// checked against the bytes left before `end`.
    private func length(_ low: UInt8, _ position: inout Int, end: Int, at start: Int) throws(IonError) -> Int {
        let length = low == 14 ? try varUInt(&position, end: end) : Int(low)
        guard length <= end - position else {
            throw IonError.malformed("value length \(length) runs past the end of its container", at: start)
        }
        return length
    }

    private mutating func readSequence(_ position: inout Int, end: Int, depth: Int, at start: Int) throws(IonError) -> [IonValue] {
        guard depth < maxDepth else { throw IonError.limit("nesting deeper than \(maxDepth)", at: start) }
        var elements: [IonValue] = []
        while position < end {
            guard let element = try readValue(&position, end: end, depth: depth + 1) else { continue }
            guard elements.count < limits.maxContainerElements else {
                throw IonError.limit("container with more than \(limits.maxContainerElements) elements", at: start)
            }
            elements.append(element)
        }
        return elements
    }

    private mutating func readStruct(_ position: inout Int, end: Int, depth: Int, at start: Int) throws(IonError) -> [IonField] {
        guard depth < maxDepth else { throw IonError.limit("nesting deeper than \(maxDepth)", at: start) }
        var fields: [IonField] = []
        while position < end {
            let nameStart = position
            let sid = try varUInt(&position, end: end)
            guard position < end else { throw IonError.malformed("struct field name without a value", at: nameStart) }
            guard let value = try readValue(&position, end: end, depth: depth + 1) else { continue }  // NOP pad
            guard fields.count < limits.maxContainerElements else {
                throw IonError.limit("struct with more than \(limits.maxContainerElements) fields", at: start)
            }
            fields.append(IonField(name: try symbol(sid, at: nameStart), value: value))
        }
        return fields
    }

    private func readTimestamp(_ position: inout Int, end: Int, at start: Int) throws(IonError) -> IonTimestamp {
        let (offset, offsetUnknown) = try varInt(&position, end: end)
        let year = try varUInt(&position, end: end)
        var precision = IonTimestamp.Precision.year
        var month = 1, day = 1, hour = 0, minute = 0, second = 0
        var fraction: IonDecimal?
        if position < end {
            month = try varUInt(&position, end: end)
            precision = .month
        }
        if position < end {
            day = try varUInt(&position, end: end)
            precision = .day
        }
        if position < end {
            hour = try varUInt(&position, end: end)
            guard position < end else { throw IonError.malformed("timestamp with an hour but no minute", at: start) }
            minute = try varUInt(&position, end: end)
            precision = .minute
        }
        if position < end {
            second = try varUInt(&position, end: end)
            precision = .second
        }
        if position < end {
            let exponent = try varInt(&position, end: end).value
            guard exponent >= -IonTimestamp.maxFractionDigits else {
                throw IonError.limit("fractional seconds finer than \(IonTimestamp.maxFractionDigits) digits", at: start)
            }
            let (isNegative, magnitude) = signedMagnitude(position, end)
            position = end
            let coefficient = try digits(of: magnitude[...], at: start)
            let value = IonDecimal(isNegative: false, coefficient: coefficient, exponent: exponent)
            if isNegative, !value.isZero {
                throw IonError.malformed("negative fractional seconds", at: start)
            }
            if exponent >= 0 {
                // d0 and above: only zero is below one second, and it adds no precision.
                guard value.isZero else { throw IonError.malformed("fractional seconds not below 1", at: start) }
            } else {
                guard value.coefficient.count <= -exponent || value.isZero else {
                    throw IonError.malformed("fractional seconds not below 1", at: start)
                }
                fraction = value
            }
        }
        guard year <= 10_000, month <= 12, day <= 31, hour <= 23, minute <= 59, second <= 59 else {
            throw IonError.malformed("timestamp field out of range", at: start)
        }
        var offsetMinutes: Int? = nil
        if precision >= .minute, !offsetUnknown {
            guard (-1439...1439).contains(offset) else { throw IonError.malformed("timestamp offset out of range", at: start) }
            offsetMinutes = offset
        }
        // Binary holds UTC; the data model keeps the local fields.
        var local = (year: year, month: month, day: day, hour: hour, minute: minute)
        if let offsetMinutes, offsetMinutes != 0 {
            guard (1...12).contains(month), (1...IonTimestamp.daysIn(month: month, year: year)).contains(day) else {
                throw IonError.malformed("invalid timestamp date", at: start)
            }
            let days = IonTimestamp.daysSinceEpoch(year: year, month: month, day: day)
            let minutes = days * 1440 + hour * 60 + minute + offsetMinutes
            let localDays = minutes >= 0 ? minutes / 1440 : (minutes - 1439) / 1440
            let minuteOfDay = minutes - localDays * 1440
            let civil = Self.civil(fromDays: localDays)
            local = (civil.year, civil.month, civil.day, minuteOfDay / 60, minuteOfDay % 60)
        }
        guard let timestamp = IonTimestamp(
            precision: precision, year: local.year, month: local.month, day: local.day, hour: local.hour,
            minute: local.minute, second: second, fraction: fraction, offsetMinutes: offsetMinutes)
        else { throw IonError.malformed("invalid timestamp", at: start) }
        return timestamp
    }

    /// Inverse of `IonTimestamp.daysSinceEpoch`.
    static func civil(fromDays days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}

func hex(_ byte: UInt8) -> String {
    let digits = Array("0123456789ABCDEF")
    return String([digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]])
}
