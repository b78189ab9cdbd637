/// A point in time, for timestamp rule comparisons: seconds since 1970-01-01T00:00:00Z and
/// nanoseconds within that second.
///
/// Accepted text (rule literals and context values alike), the W3C date-time note AWS documents for
/// rule timestamps plus Ion's forms:
/// `YYYY`, `YYYY-MM`, `YYYY-MM-DD` (each optionally ending in `T`), and
/// `YYYY-MM-DDThh:mm[:ss[.fraction]]` followed by `Z` or `±hh:mm` (required once a time is given).
/// A date without a time is its first instant in UTC; `-00:00` (Ion's unknown offset) is UTC;
/// fractions finer than a nanosecond are truncated; `t` and `z` may be lower case (RFC 3339).
public struct RuleInstant: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let seconds: Int64
    public let nanoseconds: Int32

    public init(seconds: Int64, nanoseconds: Int32 = 0) {
        self.seconds = seconds
        self.nanoseconds = nanoseconds
    }

    public init?(parsing text: String) {
        guard let instant = withUTF8Bytes(text, { RuleInstant.parse($0) }) else { return nil }
        self = instant
    }

    public static func < (lhs: RuleInstant, rhs: RuleInstant) -> Bool {
        lhs.seconds != rhs.seconds ? lhs.seconds < rhs.seconds : lhs.nanoseconds < rhs.nanoseconds
    }

    public var description: String { "\(seconds).\(nanoseconds)s" }

    static func parse(_ bytes: UnsafeBufferPointer<UInt8>) -> RuleInstant? {
        var reader = FixedReader(bytes: bytes)
        guard let year = reader.digits(4), year >= 1 else { return nil }
        var month = 1
        var day = 1
        if reader.atEnd || reader.takeT() { return reader.atEnd ? make(year, month, day) : nil }
        guard reader.take(UInt8(ascii: "-")), let parsedMonth = reader.digits(2), (1...12).contains(parsedMonth) else { return nil }
        month = parsedMonth
        if reader.atEnd || reader.takeT() { return reader.atEnd ? make(year, month, day) : nil }
        guard reader.take(UInt8(ascii: "-")), let parsedDay = reader.digits(2),
              parsedDay >= 1, parsedDay <= daysIn(month: month, year: year) else { return nil }
        day = parsedDay
        if reader.atEnd { return make(year, month, day) }
        guard reader.takeT() else { return nil }
        if reader.atEnd { return make(year, month, day) }

        guard let hour = reader.digits(2), hour < 24, reader.take(UInt8(ascii: ":")),
              let minute = reader.digits(2), minute < 60 else { return nil }
        var second = 0
        var nanoseconds = 0
        if reader.take(UInt8(ascii: ":")) {
            guard let parsedSecond = reader.digits(2), parsedSecond < 60 else { return nil }
            second = parsedSecond
            if reader.take(UInt8(ascii: ".")) {
                var fractionDigits = 0
                while let digit = reader.digit() {
                    if fractionDigits < 9 { nanoseconds = nanoseconds * 10 + digit }
                    fractionDigits += 1
                }
                guard fractionDigits > 0 else { return nil }
                for _ in min(fractionDigits, 9)..<9 { nanoseconds *= 10 }
            }
        }
        // The offset: Z, or ±hh:mm (local time = UTC + offset).
        var offsetMinutes = 0
        if reader.take(UInt8(ascii: "Z")) || reader.take(UInt8(ascii: "z")) {
            offsetMinutes = 0
        } else {
            let negative: Bool
            if reader.take(UInt8(ascii: "+")) {
                negative = false
            } else if reader.take(UInt8(ascii: "-")) {
                negative = true
            } else {
                return nil
            }
            guard let offsetHours = reader.digits(2), offsetHours < 24, reader.take(UInt8(ascii: ":")),
                  let offsetMinute = reader.digits(2), offsetMinute < 60 else { return nil }
            offsetMinutes = (offsetHours * 60 + offsetMinute) * (negative ? -1 : 1)
        }
        guard reader.atEnd else { return nil }
        let local = Int64(IonTimestamp.daysSinceEpoch(year: year, month: month, day: day)) * 86_400
            + Int64(hour * 3600 + minute * 60 + second)
        return RuleInstant(seconds: local - Int64(offsetMinutes * 60), nanoseconds: Int32(nanoseconds))
    }

    private static func make(_ year: Int, _ month: Int, _ day: Int) -> RuleInstant {
        RuleInstant(seconds: Int64(IonTimestamp.daysSinceEpoch(year: year, month: month, day: day)) * 86_400)
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

}

/// Reads fixed-width fields of a timestamp.
private struct FixedReader {
    let bytes: UnsafeBufferPointer<UInt8>
    var index = 0

    var atEnd: Bool { index == bytes.count }

    mutating func take(_ byte: UInt8) -> Bool {
        guard index < bytes.count, bytes[index] == byte else { return false }
        index += 1
        return true
    }

    mutating func takeT() -> Bool { take(UInt8(ascii: "T")) || take(UInt8(ascii: "t")) }

    mutating func digit() -> Int? {
        guard index < bytes.count, let value = decimalDigit(bytes[index]) else { return nil }
        index += 1
        return value
    }

    /// Exactly `width` digits.
    mutating func digits(_ width: Int) -> Int? {
        var value = 0
        for _ in 0..<width {
            guard let next = digit() else { return nil }
            value = value * 10 + next
        }
        return value
    }
}
