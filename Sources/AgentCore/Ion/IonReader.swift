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
