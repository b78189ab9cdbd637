/// Conversions between big-endian unsigned magnitudes and decimal digit strings, for ints and
/// decimal coefficients too large for `UInt64`. Callers bound the input size first: the work is
/// quadratic in the length.
enum IonMagnitude {
    /// Decimal digits of a big-endian unsigned magnitude ("0" when empty or all zero).
    static func decimalDigits(_ bytes: ArraySlice<UInt8>) -> String {
        let significant = bytes.drop { $0 == 0 }
        if significant.isEmpty { return "0" }
        if significant.count <= 8 {
            var value: UInt64 = 0
            for byte in significant { value = value << 8 | UInt64(byte) }
            return String(value)
        }
        // Base 2^32 limbs, most significant first; repeated division by 10^9.
        var limbs: [UInt32] = []
        limbs.reserveCapacity(significant.count / 4 + 1)
        var partial: UInt32 = 0
        var partialBytes = significant.count % 4
        if partialBytes == 0 { partialBytes = 4 }
        var taken = 0
        for byte in significant {
            partial = partial << 8 | UInt32(byte)
            taken += 1
            if taken == partialBytes {
                limbs.append(partial)
                partial = 0
                taken = 0
                partialBytes = 4
            }
        }
        var chunks: [UInt32] = []
        var start = 0
        while start < limbs.count {
            var remainder: UInt64 = 0
            for index in start..<limbs.count {
                let current = remainder << 32 | UInt64(limbs[index])
                limbs[index] = UInt32(current / 1_000_000_000)
                remainder = current % 1_000_000_000
            }
            chunks.append(UInt32(remainder))
            while start < limbs.count, limbs[start] == 0 { start += 1 }
        }
        var text = String(chunks.last ?? 0)
        for chunk in chunks.dropLast().reversed() {
            let part = String(chunk)
            text += String(repeating: "0", count: 9 - part.count) + part
        }
        return text
    }

    /// Big-endian magnitude of a run of hex (radix 16) or binary (radix 2) digits.
    static func bytes(fromDigits digits: [UInt8], radix: Int) -> [UInt8] {
        var bits: [UInt8] = []  // one entry per bit, most significant first
        let bitsPerDigit = radix == 16 ? 4 : 1
        bits.reserveCapacity(digits.count * bitsPerDigit)
        for digit in digits {
            for shift in stride(from: bitsPerDigit - 1, through: 0, by: -1) {
                bits.append(UInt8((Int(digit) >> shift) & 1))
            }
        }
        var bytes = [UInt8](repeating: 0, count: (bits.count + 7) / 8)
        let padding = bytes.count * 8 - bits.count
        for (index, bit) in bits.enumerated() where bit == 1 {
            let position = index + padding
            bytes[position / 8] |= 0x80 >> UInt8(position % 8)
        }
        return bytes
    }
}
