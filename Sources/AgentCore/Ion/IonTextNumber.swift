/// Ion text ints (decimal, `0x`, `0b`, with `_` between digits), decimals (`1.`, `1.5d-3`) and
/// floats (`1e0`); the caller has cut out the token and handles `nan` and `±inf`.
enum IonTextNumber {
    private static let underscore = UInt8(ascii: "_")

    /// Digits from `index` on, allowing single underscores between digits.
    private static func digits(
        _ run: ArraySlice<UInt8>, _ index: inout Int, isDigit: (UInt8) -> Bool
    ) -> [UInt8]? {
        var out: [UInt8] = []
        while index < run.endIndex {
            let byte = run[index]
            if isDigit(byte) {
                out.append(byte)
                index += 1
            } else if byte == underscore {
                guard !out.isEmpty, index + 1 < run.endIndex, isDigit(run[index + 1]) else { return nil }
                index += 1
            } else {
                break
            }
        }
        return out
    }

    static func parse(_ run: ArraySlice<UInt8>, limits: IonLimits, at offset: Int) throws(IonError) -> IonValue.Content {
        func bad(_ reason: String = "invalid number") -> IonError { IonError.malformed(reason, at: offset) }
        var index = run.startIndex
        let end = run.endIndex
        var isNegative = false
        if index < end, run[index] == UInt8(ascii: "-") {
            isNegative = true
            index += 1
        }
        guard index < end, IonChar.isDigit(run[index]) else { throw bad() }

        // Hexadecimal and binary ints.
        if run[index] == UInt8(ascii: "0"), index + 1 < end {
            let marker = run[index + 1] | 0x20
            if marker == UInt8(ascii: "x") || marker == UInt8(ascii: "b") {
                let radix = marker == UInt8(ascii: "x") ? 16 : 2
                index += 2
                guard let found = digits(run, &index, isDigit: radix == 16
                        ? { IonChar.hexValue($0) != nil }
                        : { $0 == UInt8(ascii: "0") || $0 == UInt8(ascii: "1") }),
                      !found.isEmpty, index == end
                else { throw bad("invalid \(radix == 16 ? "hexadecimal" : "binary") int") }
                guard found.count <= limits.maxNumberDigits * 4 else {
                    throw IonError.limit("number longer than \(limits.maxNumberDigits) digits", at: offset)
                }
                let values = found.compactMap(IonChar.hexValue)
                let magnitude = IonMagnitude.bytes(fromDigits: values, radix: radix)
                let decimal = IonMagnitude.decimalDigits(magnitude[...])
                guard decimal.count <= limits.maxNumberDigits else {
                    throw IonError.limit("number longer than \(limits.maxNumberDigits) digits", at: offset)
                }
                return .int(IonInt(isNegative: isNegative, digits: decimal[...]))
            }
        }

        guard let integer = digits(run, &index, isDigit: IonChar.isDigit), !integer.isEmpty else { throw bad() }
        if integer.count > 1, integer[0] == UInt8(ascii: "0") { throw bad("leading zeros are not allowed") }
        var fraction: [UInt8]?
        if index < end, run[index] == UInt8(ascii: ".") {
            index += 1
            guard let found = digits(run, &index, isDigit: IonChar.isDigit) else { throw bad() }
            fraction = found
        }
        var exponentKind: UInt8?
        var exponentNegative = false
        var exponentDigits: [UInt8] = []
        if index < end {
            let marker = run[index] | 0x20
            guard marker == UInt8(ascii: "e") || marker == UInt8(ascii: "d") else { throw bad() }
            exponentKind = marker
            index += 1
            if index < end, run[index] == UInt8(ascii: "+") || run[index] == UInt8(ascii: "-") {
                exponentNegative = run[index] == UInt8(ascii: "-")
                index += 1
            }
            while index < end, IonChar.isDigit(run[index]) {
                exponentDigits.append(run[index])
                index += 1
            }
            guard !exponentDigits.isEmpty else { throw bad("exponent needs digits") }
        }
        guard index == end else { throw bad() }
        guard integer.count + (fraction?.count ?? 0) <= limits.maxNumberDigits else {
            throw IonError.limit("number longer than \(limits.maxNumberDigits) digits", at: offset)
        }

        if exponentKind == UInt8(ascii: "e") {
            var text = isNegative ? "-" : ""
            text += String(decoding: integer, as: UTF8.self)
            if let fraction, !fraction.isEmpty { text += "." + String(decoding: fraction, as: UTF8.self) }
            text += "e" + (exponentNegative ? "-" : "") + String(decoding: exponentDigits, as: UTF8.self)
            guard let value = Double(text) else { throw bad("invalid float") }
            return .float(value)
        }
        if fraction == nil, exponentKind == nil {
            return .int(IonInt(isNegative: isNegative, digits: String(decoding: integer, as: UTF8.self)[...]))
        }
        // Decimal: coefficient is every digit, the exponent shifts by the fraction's length.
        let significantExponent = exponentDigits.drop { $0 == UInt8(ascii: "0") }
        guard significantExponent.count <= 15 else {
            throw IonError.limit("decimal exponent too large", at: offset)
        }
        var exponent = 0
        for digit in significantExponent { exponent = exponent * 10 + Int(digit - UInt8(ascii: "0")) }
        if exponentNegative { exponent = -exponent }
        exponent -= fraction?.count ?? 0
        let coefficient = String(decoding: integer + (fraction ?? []), as: UTF8.self)
        return .decimal(IonDecimal(isNegative: isNegative, coefficient: coefficient, exponent: exponent))
    }
}

/// Ion text timestamps: `2007T`, `2007-02T`, `2007-02-23(T)`, `2007-02-23T12:14(:33(.fff))OFFSET`.
enum IonTextTimestamp {
    static func parse(_ run: ArraySlice<UInt8>) -> IonTimestamp? {
        var index = run.startIndex
        let end = run.endIndex

        func number(_ width: Int) -> Int? {
            guard end - index >= width else { return nil }
            var value = 0
            for _ in 0..<width {
                guard IonChar.isDigit(run[index]) else { return nil }
                value = value * 10 + Int(run[index] - 0x30)
                index += 1
            }
            return value
        }
        func take(_ ascii: Unicode.Scalar) -> Bool {
            guard index < end, run[index] == UInt8(ascii: ascii) else { return false }
            index += 1
            return true
        }
        var atEnd: Bool { index == end }

        guard let year = number(4) else { return nil }
        if take("T") {
            return atEnd ? IonTimestamp(precision: .year, year: year) : nil
        }
        guard take("-"), let month = number(2) else { return nil }
        if take("T") {
            return atEnd ? IonTimestamp(precision: .month, year: year, month: month) : nil
        }
        guard take("-"), let day = number(2) else { return nil }
        if atEnd { return IonTimestamp(precision: .day, year: year, month: month, day: day) }
        guard take("T") else { return nil }
        if atEnd { return IonTimestamp(precision: .day, year: year, month: month, day: day) }
        guard let hour = number(2), take(":"), let minute = number(2) else { return nil }
        var precision = IonTimestamp.Precision.minute
        var second = 0
        var fraction: IonDecimal?
        if take(":") {
            guard let value = number(2) else { return nil }
            second = value
            precision = .second
            if take(".") {
                let digitsStart = index
                while index < end, IonChar.isDigit(run[index]) { index += 1 }
                guard index > digitsStart else { return nil }
                let digits = String(decoding: run[digitsStart..<index], as: UTF8.self)
                fraction = IonDecimal(isNegative: false, coefficient: digits, exponent: -(index - digitsStart))
            }
        }
        var offset: Int?
        if take("Z") {
            offset = 0
        } else if index < end, run[index] == UInt8(ascii: "+") || run[index] == UInt8(ascii: "-") {
            let isNegative = run[index] == UInt8(ascii: "-")
            index += 1
            guard let offsetHours = number(2), take(":"), let offsetMinutes = number(2),
                  offsetHours < 24, offsetMinutes < 60
            else { return nil }
            let total = offsetHours * 60 + offsetMinutes
            offset = isNegative ? (total == 0 ? nil : -total) : total
        } else {
            return nil  // a time needs an offset
        }
        guard atEnd else { return nil }
        return IonTimestamp(
            precision: precision, year: year, month: month, day: day, hour: hour, minute: minute,
            second: second, fraction: fraction, offsetMinutes: offset)
    }
}
