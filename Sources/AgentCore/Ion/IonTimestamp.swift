/// An Ion timestamp as written: local date and time fields in the timestamp's own offset, the
/// precision it was written with, and its fractional seconds kept digit for digit.
///
/// `2007T`, `2007-02-23` and `2007-02-23T12:14:33.0790-08:00` are all different values; `instant`
/// gives the comparable point in time (unknown offsets, `-00:00`, and date-only timestamps count as UTC).
public struct IonTimestamp: Sendable, Hashable, CustomStringConvertible {
    public enum Precision: Int, Sendable, Hashable, Comparable {
        case year, month, day, minute, second

        public static func < (lhs: Precision, rhs: Precision) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    public let precision: Precision
    public let year: Int
    /// 1 when the precision is coarser than month, like the other unwritten fields.
    public let month: Int
    public let day: Int
    public let hour: Int
    public let minute: Int
    public let second: Int
    /// Fractional seconds in [0, 1) with their written precision (`.0790` is coefficient 790,
    /// exponent -4); only with `.second` precision.
    public let fraction: IonDecimal?
    /// Minutes east of UTC; nil for an unknown offset (`-00:00`) and for date-only precisions.
    public let offsetMinutes: Int?

    /// Finest fractional-second precision accepted (far past any clock; it bounds the work
    /// `instant` and `description` do).
    public static let maxFractionDigits = 4096

    /// Validates the fields (calendar, ranges, offset under 24 h, fraction in [0, 1)).
    public init?(
        precision: Precision, year: Int, month: Int = 1, day: Int = 1, hour: Int = 0, minute: Int = 0,
        second: Int = 0, fraction: IonDecimal? = nil, offsetMinutes: Int? = nil
    ) {
        guard (1...9999).contains(year), (1...12).contains(month),
              (1...Self.daysIn(month: month, year: year)).contains(day),
              (0...23).contains(hour), (0...59).contains(minute), (0...59).contains(second)
        else { return nil }
        if precision < .month, month != 1 { return nil }
        if precision < .day, day != 1 { return nil }
        if precision < .minute, hour != 0 || minute != 0 || offsetMinutes != nil { return nil }
        if precision < .second, second != 0 { return nil }
        if let fraction {
            guard precision == .second, !fraction.isNegative, fraction.exponent < 0,
                  fraction.exponent >= -Self.maxFractionDigits, fraction.coefficient.count <= -fraction.exponent
            else { return nil }
        }
        if let offsetMinutes, !(-1439...1439).contains(offsetMinutes) { return nil }
        self.precision = precision
        self.year = year
        self.month = month
        self.day = day
        self.hour = hour
        self.minute = minute
        self.second = second
        self.fraction = fraction
        self.offsetMinutes = offsetMinutes
    }

    /// Parses one Ion text timestamp such as `2007-02-23T12:14Z`; nil when it is not exactly one.
    public init?(_ text: String) {
        guard let parsed = IonTextTimestamp.parse(Array(text.utf8)[...]) else { return nil }
        self = parsed
    }

    static func isLeap(_ year: Int) -> Bool { (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (valid for any year in 0...10000).
    static func daysSinceEpoch(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let shiftedMonth = month > 2 ? month - 3 : month + 9
        let dayOfYear = (153 * shiftedMonth + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// Seconds since 1970-01-01T00:00Z of the whole-second part.
    public var epochSeconds: Int64 {
        let days = Self.daysSinceEpoch(year: year, month: month, day: day)
        let local = Int64(days) * 86_400 + Int64(hour * 3600 + minute * 60 + second)
        return local - Int64((offsetMinutes ?? 0) * 60)
    }

    /// The point in time, comparable with other timestamps whatever their precision or offset.
    public var instant: IonInstant {
        var digits = ""
        if let fraction {
            digits = String(repeating: "0", count: max(0, -fraction.exponent - fraction.coefficient.count))
                + fraction.coefficient
            while digits.last == "0" { digits.removeLast() }
        }
        return IonInstant(epochSeconds: epochSeconds, fractionDigits: digits)
    }

    /// Ion text form.
    public var description: String {
        func pad(_ value: Int, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        var text = pad(year, 4)
        if precision == .year { return text + "T" }
        text += "-" + pad(month, 2)
        if precision == .month { return text + "T" }
        text += "-" + pad(day, 2)
        if precision == .day { return text }
        text += "T" + pad(hour, 2) + ":" + pad(minute, 2)
        if precision == .second {
            text += ":" + pad(second, 2)
            if let fraction {
                let digits = String(repeating: "0", count: max(0, -fraction.exponent - fraction.coefficient.count))
                    + (fraction.isZero ? "" : fraction.coefficient)
                text += "." + digits + String(repeating: "0", count: max(0, -fraction.exponent - digits.count))
            }
        }
        guard let offsetMinutes else { return text + "-00:00" }
        if offsetMinutes == 0 { return text + "Z" }
        let magnitude = abs(offsetMinutes)
        return text + (offsetMinutes < 0 ? "-" : "+") + pad(magnitude / 60, 2) + ":" + pad(magnitude % 60, 2)
    }
}

/// A point in time: whole seconds since the Unix epoch plus the exact fractional digits.
public struct IonInstant: Sendable, Hashable, Comparable {
    public let epochSeconds: Int64
    /// Digits after the decimal point, without trailing zeros ("" for a whole second).
    public let fractionDigits: String

    public var timeIntervalSince1970: Double {
        Double(epochSeconds) + (Double("0." + fractionDigits) ?? 0)
    }

    public static func < (lhs: IonInstant, rhs: IonInstant) -> Bool {
        if lhs.epochSeconds != rhs.epochSeconds { return lhs.epochSeconds < rhs.epochSeconds }
        // Without trailing zeros, digit strings of fractions in [0, 1) order lexicographically.
        return lhs.fractionDigits.utf8.lexicographicallyPrecedes(rhs.fractionDigits.utf8)
    }
}
