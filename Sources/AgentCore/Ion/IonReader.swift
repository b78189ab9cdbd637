// Design notes
//
// - Ours, small and strict: no Ion library exists for Swift on Linux. Everything here depends
//   only on the standard library, so `fuzz/run.sh ion` compiles this folder on its own.
// - Model: ints that fit Int64 are `.int64`, bigger ones a sign and decimal digits; decimals a
//   sign, coefficient digits and an exponent (so -0.0 and 1.00 survive); timestamps keep their
//   written fields, precision, fraction digits and offset, with `instant` for comparisons.
// - Symbols: text, or `.unknown(sid:importLocation:)` when a shared table is missing from the
//   catalog. Nothing is guessed; the flag evaluator decides what an unknown operator means.
// - Bounds (IonLimits): input size, nesting depth (also a hard cap on recursion), symbols per
//   table, elements per container, values and annotations per document, digits per number.
//   Lengths are checked against the bytes that remain before they are used; arithmetic on
//   input-derived numbers is overflow-checked. Fuzzed with libFuzzer and ASan.
// - Where the reference implementations (ion-c, amazon-ion for Python) disagree with the Ion
//   1.0 spec, ion-tests or ion-rust we follow the latter: only the unquoted identifier
//   `$ion_1_0` is a version marker, so a top-level `$2` or `'$ion_1_0'` is a symbol value (the
//   references silently drop both); `a::` at the end, `1e`, `0x`, NUL bytes, invalid UTF-8 and
//   `{{YQ==YQ==}}` are errors; a comment may follow a number directly. Comments are not
//   allowed inside lobs (as ion-c).
//   Tests/Ion/generate_vectors.py records each such case.

/// Reads Amazon Ion 1.0 documents, text or binary, into `IonValue`s.
///
/// ```swift
/// let values = try IonReader.parse(bytes)                       // text or binary
/// let values = try IonReader.parse(bytes, catalog: IonCatalog([.init(name: "ops", version: 1, symbols: …)]))
/// ```
///
/// Binary is recognised by its version marker `E0 01 00 EA` (any other input starting with
/// `0xE0` is rejected as an unsupported binary version); anything else is text and must be
/// UTF-8. Version markers and local symbol tables are applied, not returned: the result is the
/// user values in order. Reading is strict (no recovery from an error) and bounded by `limits`.
public enum IonReader {
    public static func parse(
        _ bytes: [UInt8], catalog: IonCatalog = .empty, limits: IonLimits = .default
    ) throws(IonError) -> [IonValue] {
        guard bytes.count <= limits.maxInputBytes else {
            throw IonError.limit("document of \(bytes.count) bytes is over the \(limits.maxInputBytes)-byte limit", at: 0)
        }
        if bytes.first == 0xE0 {
            var reader = IonBinaryReader(bytes: bytes, catalog: catalog, limits: limits)
            return try reader.readAll()
        }
        var reader = IonTextReader(bytes: bytes, catalog: catalog, limits: limits)
        return try reader.readAll()
    }

    /// Reads Ion text.
    public static func parse(
        _ text: String, catalog: IonCatalog = .empty, limits: IonLimits = .default
    ) throws(IonError) -> [IonValue] {
        try parse(Array(text.utf8), catalog: catalog, limits: limits)
    }

    /// True when `bytes` start with the Ion 1.0 binary version marker.
    public static func isBinary(_ bytes: [UInt8]) -> Bool {
        bytes.starts(with: IonBinaryReader.versionMarker)
    }
}
