/// An exact decimal number `significand × 10^exponent`, for numeric rule comparisons.
///
/// Why not `Double`: a context value arrives as text, and `(eq $price 0.1)` must hold for `0.1`, and
/// `(gt $id 9007199254740993)` must not round. Integers, decimals and the shortest decimal form of a
/// float all convert exactly. Bounds (a value outside them does not convert, so its comparison is
/// false): at most 19 significant digits, and an exponent of at most 4 digits.
public struct RuleNumber: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Magnitude without trailing zeros (0 for zero), below 10^19.
    let significand: UInt64
    let exponent: Int32
    /// Never true for zero: `-0` equals `0`.
    let negative: Bool

    static let maximumDigits = 19

    init(negative: Bool, significand: UInt64, exponent: Int) {
        var significand = significand
        var exponent = exponent
        if significand == 0 {
            self.negative = false
            self.significand = 0
            self.exponent = 0
            return
        }
        while significand % 10 == 0 {
            significand /= 10
            exponent += 1
        }
        self.negative = negative
        self.significand = significand
        self.exponent = Int32(clamping: exponent)
    }

    public init(_ integer: Int64) {
        self.init(negative: integer < 0, significand: integer.magnitude, exponent: 0)
    }

    /// The shortest decimal that reads back as `double` (`0.1` is 0.1, not 0.1000000000000000055…);
    /// nil for NaN and infinities.
    public init?(_ double: Double) {
        guard double.isFinite else { return nil }
        guard let number = RuleNumber(parsing: "\(double)", allowIonExponent: false) else { return nil }
        self = number
    }

    /// Parses `[+-]? digits [. digits] [(e|E) [+-] digits]` (also `.5` and `5.`); with
    /// `allowIonExponent`, the Ion decimal exponent marker `d`/`D` too. No spaces, no `_`, no hex,
    /// no `inf`/`nan`.
    public init?(parsing text: String, allowIonExponent: Bool = false) {
        guard let number = withUTF8Bytes(text, { RuleNumber.parse($0, allowIonExponent: allowIonExponent) }) else {
            return nil
        }
        self = number
    }

    static func parse(_ bytes: UnsafeBufferPointer<UInt8>, allowIonExponent: Bool) -> RuleNumber? {
        let count = bytes.count
        var index = 0
        var negative = false
        if index < count, bytes[index] == UInt8(ascii: "-") || bytes[index] == UInt8(ascii: "+") {
            negative = bytes[index] == UInt8(ascii: "-")
            index += 1
        }
        var significand: UInt64 = 0
        var digits = 0
        var exponent = 0
        var sawDigit = false
        // Integer part: a digit past the 19th may only be a zero, which scales the exponent.
        while index < count, let digit = decimalDigit(bytes[index]) {
            sawDigit = true
            index += 1
            if significand == 0 && digit == 0 { continue }
            if digits < maximumDigits {
                significand = significand * 10 + UInt64(digit)
                digits += 1
            } else {
                guard digit == 0 else { return nil }
                exponent += 1
            }
        }
        if index < count && bytes[index] == UInt8(ascii: ".") {
            index += 1
            while index < count, let digit = decimalDigit(bytes[index]) {
                sawDigit = true
                index += 1
                if significand == 0 && digit == 0 {
                    exponent -= 1
                } else if digits < maximumDigits {
                    significand = significand * 10 + UInt64(digit)
                    digits += 1
                    exponent -= 1
                } else {
                    guard digit == 0 else { return nil }
                }
            }
        }
        guard sawDigit else { return nil }
        if index < count {
            let marker = bytes[index] | 0x20 // ASCII lower case
            guard marker == UInt8(ascii: "e") || (allowIonExponent && marker == UInt8(ascii: "d")) else { return nil }
            index += 1
            var exponentNegative = false
            if index < count, bytes[index] == UInt8(ascii: "-") || bytes[index] == UInt8(ascii: "+") {
                exponentNegative = bytes[index] == UInt8(ascii: "-")
                index += 1
            }
            var written = 0
            var exponentDigits = 0
            while index < count, let digit = decimalDigit(bytes[index]) {
                index += 1
                if written == 0 && digit == 0 { exponentDigits += 1; continue }
                written = written * 10 + digit
                exponentDigits += 1
                guard written <= 9999 else { return nil }
            }
            guard exponentDigits > 0, index == count else { return nil }
            exponent += exponentNegative ? -written : written
        }
        return RuleNumber(negative: negative, significand: significand, exponent: exponent)
    }

    public static func < (lhs: RuleNumber, rhs: RuleNumber) -> Bool { compare(lhs, rhs) < 0 }

    /// -1, 0 or 1, exactly.
    static func compare(_ lhs: RuleNumber, _ rhs: RuleNumber) -> Int {
        let lhsSign = lhs.significand == 0 ? 0 : (lhs.negative ? -1 : 1)
        let rhsSign = rhs.significand == 0 ? 0 : (rhs.negative ? -1 : 1)
        if lhsSign != rhsSign { return lhsSign < rhsSign ? -1 : 1 }
        if lhsSign == 0 { return 0 }
        let magnitude = compareMagnitude(lhs, rhs)
        return lhsSign > 0 ? magnitude : -magnitude
    }

    private static func compareMagnitude(_ lhs: RuleNumber, _ rhs: RuleNumber) -> Int {
        let lhsDigits = digitCount(lhs.significand)
        let rhsDigits = digitCount(rhs.significand)
        // Position of the leading digit decides, unless it is the same.
        let lhsLead = lhsDigits + Int(lhs.exponent)
        let rhsLead = rhsDigits + Int(rhs.exponent)
        if lhsLead != rhsLead { return lhsLead < rhsLead ? -1 : 1 }
        // Same leading position: pad the shorter significand; both stay below 10^19.
        var left = lhs.significand
        var right = rhs.significand
        if lhsDigits < rhsDigits { left *= powerOfTen(rhsDigits - lhsDigits) }
        if rhsDigits < lhsDigits { right *= powerOfTen(lhsDigits - rhsDigits) }
        return left == right ? 0 : (left < right ? -1 : 1)
    }

    static func digitCount(_ value: UInt64) -> Int {
        var count = 1
        var rest = value
        while rest >= 10 { rest /= 10; count += 1 }
        return count
    }

    static func powerOfTen(_ exponent: Int) -> UInt64 {
        var result: UInt64 = 1
        for _ in 0..<exponent { result &*= 10 }
        return result
    }

    /// Plain decimal notation (`120`, `-0.005`, `12.5`), or `1e30` style when that would be long.
    public var description: String {
        let sign = negative ? "-" : ""
        let digits = String(significand)
        let exponent = Int(exponent)
        if exponent >= 0 && exponent <= 20 {
            return sign + digits + String(repeating: "0", count: exponent)
        }
        if exponent < 0 && -exponent <= digits.count + 20 {
            let point = digits.count + exponent
            if point > 0 {
                return sign + digits.prefix(point) + "." + digits.dropFirst(point)
            }
            return sign + "0." + String(repeating: "0", count: -point) + digits
        }
        return "\(sign)\(digits)e\(exponent)"
    }
}

@inline(__always) func decimalDigit(_ byte: UInt8) -> Int? {
    byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") ? Int(byte &- UInt8(ascii: "0")) : nil
}

/// Runs `body` over a string's UTF-8 bytes without copying when the string is native (always on Linux).
@inline(__always) func withUTF8Bytes<Result>(_ text: String, _ body: (UnsafeBufferPointer<UInt8>) -> Result) -> Result {
    if let result = text.utf8.withContiguousStorageIfAvailable(body) { return result }
    return Array(text.utf8).withUnsafeBufferPointer(body)
}
