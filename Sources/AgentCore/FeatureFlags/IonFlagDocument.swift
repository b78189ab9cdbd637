/// Reads a feature-flag configuration as the service or a local-development file delivers it
/// (content type `application/ion;type=AWS.AppConfig.FeatureFlags`, SPEC §8) and compiles it.
///
/// - Binary Ion goes through `IonReader` with `catalog`, then `terms(from:)` turns its values into
///   the `RuleTerm`s that `FeatureFlagDocument` and the rule compiler read.
/// - Ion text is read by `IonReader` too; when that strict reading fails, by `RuleTextParser`, which
///   also accepts the forms AWS's documentation writes that strict Ion does not (a list without
///   commas, `["a" "b"]`). The error reported is then `RuleTextParser`'s.
///
/// Unresolved symbols (from AWS's `ops` and `anns` shared tables, which are not published) are never
/// guessed: inside a rule they make that rule fail to compile, so its flag serves the default variant
/// and `CompiledFlags.ruleProblems` names it; a flag key that cannot be resolved refuses the version.
public enum IonFlagDocument {
    /// The content type of variant feature flags.
    public static let contentType = "application/ion;type=AWS.AppConfig.FeatureFlags"
    /// What GetLatestConfiguration asks for, so that profiles with variants come back as Ion.
    public static let acceptHeader = "application/ion;type=AWS.AppConfig.FeatureFlags;q=1.0,*/*;q=0.1"

    /// AWS's shared tables as far as they are public: `ops` (max_id 23) of which only `eq`, the 4th
    /// symbol, is known; `anns` (max_id 12), none known.
    public static let catalog = IonCatalog([
        .init(name: "ops", version: 1, symbols: [nil, nil, nil, "eq"] + Array(repeating: nil, count: 19)),
        .init(name: "anns", version: 1, symbols: Array(repeating: nil, count: 12)),
    ])

    /// True for `application/ion` with `type=AWS.AppConfig.FeatureFlags` (any case, any spacing,
    /// other parameters allowed).
    public static func isFeatureFlags(contentType: String) -> Bool {
        let parts = contentType.split(separator: ";").map { $0.filter { $0 != " " && $0 != "\t" }.lowercased() }
        guard parts.first == "application/ion" else { return false }
        return parts.dropFirst().contains { $0 == "type=aws.appconfig.featureflags" || $0 == "type=\"aws.appconfig.featureflags\"" }
    }

    /// Parses and compiles one version. Throws when the version as a whole cannot be served.
    /// `catalog` is for tests that stand in for AWS's tables; the agent always uses `Self.catalog`.
    public static func compile(_ bytes: [UInt8], catalog: IonCatalog = Self.catalog) throws(FeatureFlagsError) -> CompiledFlags {
        let terms: [RuleTerm]
        if bytes.first == 0xE0 {
            let values: [IonValue]
            do {
                values = try IonReader.parse(bytes, catalog: catalog)
            } catch {
                throw .malformedDocument("not readable as binary Ion: \(error)")
            }
            terms = try Self.terms(from: values)
        } else {
            terms = try textTerms(bytes, catalog: catalog)
        }
        return try CompiledFlags(FeatureFlagDocument.definitions(from: terms))
    }

    private static func textTerms(_ bytes: [UInt8], catalog: IonCatalog) throws(FeatureFlagsError) -> [RuleTerm] {
        if let values = try? IonReader.parse(bytes, catalog: catalog) {
            return try terms(from: values)
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw .malformedDocument("neither binary Ion nor UTF-8 text")
        }
        do {
            return try RuleTextParser.parseDocument(text)
        } catch {
            throw .malformedDocument(error.description)
        }
    }

    /// The document's top-level values as `RuleTerm`s: each value keeps its flag key (first
    /// annotation, which must be resolved); a variant's name annotation that cannot be resolved is
    /// left out (the name inside its JSON still applies); everything else converts with `term(_:)`.
    public static func terms(from values: [IonValue]) throws(FeatureFlagsError) -> [RuleTerm] {
        var result: [RuleTerm] = []
        result.reserveCapacity(values.count)
        for (position, value) in values.enumerated() {
            guard let first = value.annotations.first else {
                throw .malformedDocument("top-level value \(position + 1) (\(term(value).summary)) has no flag-key annotation")
            }
            guard let key = first.text else {
                throw .malformedDocument("top-level value \(position + 1) has the flag key \(first), whose text is in a shared symbol table the agent does not have")
            }
            switch value.content {
            case .list(let elements):
                let variants = elements.map { element in
                    var converted = term(IonValue(element.content))
                    converted.annotations = element.annotations.compactMap(\.text)
                    return converted
                }
                result.append(.list(variants, annotations: [key]))
            default:
                result.append(RuleTerm(term(IonValue(value.content)).value, annotations: [key]))
            }
        }
        return result
    }

    /// One Ion value as a `RuleTerm`. A symbol or annotation without known text, a struct, a clob or
    /// a blob becomes `.unreadable`, naming what it was, which no rule compiles.
    public static func term(_ value: IonValue) -> RuleTerm {
        var annotations: [String] = []
        annotations.reserveCapacity(value.annotations.count)
        for annotation in value.annotations {
            guard let text = annotation.text else {
                return RuleTerm(.unreadable("the annotation \(annotation) (unknown symbol)"))
            }
            annotations.append(text)
        }
        let converted: RuleTerm.Value
        switch value.content {
        case .null: converted = .null
        case .bool(let flag): converted = .bool(flag)
        case .int(.int64(let number)): converted = .integer(number)
        case .int(let big): converted = .decimal(big.description)
        case .float(let number): converted = .float(number)
        case .decimal(let decimal): converted = .decimal(decimal.description)
        case .timestamp(let timestamp): converted = .timestamp(timestamp.description)
        case .symbol(.text(let text)): converted = .symbol(text)
        case .symbol(let unknown): converted = .unreadable("the symbol \(unknown) (unknown symbol)")
        case .string(let text): converted = .string(text)
        case .clob: converted = .unreadable("a clob")
        case .blob: converted = .unreadable("a blob")
        case .struct: converted = .unreadable("a struct")
        case .list(let elements): converted = .list(elements.map(term))
        case .sexp(let elements): converted = .sexp(elements.map(term))
        }
        return RuleTerm(converted, annotations: annotations)
    }
}
