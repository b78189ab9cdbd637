/// The hash behind `(split pct::N by::$k seed::"s")`. AWS does not publish its own, so this one is
/// ours, fixed, and must never change between releases (a change would move entities between
/// variants):
///
///     h      = the first 8 bytes, big-endian, of SHA-256( UTF-8(seed) ‖ 0x00 ‖ UTF-8(value) )
///     bucket = h / 2^64 × 100                      (in [0, 100))
///     holds  ⇔ bucket < N
///
/// `seed` is the `seed::` string, or the flag key when the rule has none; `value` is the `by::`
/// context value, or the request's `Entity-Id` when the rule has no `by::`. A missing value makes the
/// split false. `bucket < N` is decided exactly, in integers, as `h < ⌈N × 2^64 / 100⌉`, so
/// `pct::0` never holds, `pct::100` always does, and with one seed the entities under `pct::20` are
/// exactly those under `pct::25` minus 5 %.
public enum SplitHash {
    /// `h` for a seed and a value.
    public static func hash(seed: String, value: String) -> UInt64 {
        let prefix = Array(seed.utf8) + [0]
        return prefix.withUnsafeBufferPointer { head in
            withUTF8Bytes(value) { hash(prefix: head, value: $0) }
        }
    }

    /// `bucket` as a `Double`, for reports and tests.
    public static func percentage(seed: String, value: String) -> Double {
        Double(hash(seed: seed, value: value)) / 18_446_744_073_709_551_616.0 * 100
    }

    /// The smallest `h` that does not hold for `pct::percent`: ⌈percent × 2^64 / 100⌉. `percent`
    /// must be within 0...100.
    static func threshold(percent: RuleNumber) -> UInt128 {
        let limit = UInt128(1) << 64
        guard percent.significand != 0, !percent.negative else { return 0 }
        let significand = UInt128(percent.significand)
        let exponent = Int(percent.exponent)
        var numerator: UInt128
        var denominator: UInt128 = 100
        if exponent >= 0 {
            // An integer of at most 100: no overflow.
            numerator = (significand * UInt128(RuleNumber.powerOfTen(exponent))) << 64
        } else {
            // significand < 10^19 < 2^64, so significand × 2^64 < 2^128.
            numerator = significand << 64
            guard -exponent <= 36 else { return 1 } // 0 < quotient < 1
            for _ in 0..<(-exponent) { denominator *= 10 }
        }
        let (quotient, remainder) = numerator.quotientAndRemainder(dividingBy: denominator)
        numerator = quotient + (remainder == 0 ? 0 : 1)
        return min(numerator, limit)
    }

    /// `h` for a prefix that already holds the seed and its 0 separator; nothing goes to the heap.
    static func hash(prefix: UnsafeBufferPointer<UInt8>, value: UnsafeBufferPointer<UInt8>) -> UInt64 {
        // SHA-256 from libcrypto (the project hand-writes none of what libcrypto does).
        Digest.sha256Prefix64(prefix, value)
    }
}
