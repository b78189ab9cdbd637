/// Reads the retrieval format of a multi-variant feature-flag configuration (SPEC §8), given as the
/// top-level values of its Ion document:
///
///     'simple_flag'::'''{"enabled":true}'''
///     'tiered_release'::[
///       [ (or (eq $group "Tier1") (split pct::25 by::$userId)), '''{"_variant":"Tier1","enabled":true}''' ],
///       '''{"_variant":"Default Variant","enabled":false}'''
///     ]
///
/// Each value is annotated with its flag key (the first annotation). A string is a basic flag's JSON;
/// a list is a variant flag: `[rule, JSON]` pairs tried in order, then the default's JSON alone. A
/// variant's name, when annotated on its pair (or on the default's string), is its first annotation.
public enum FeatureFlagDocument {
    public static func definitions(from values: [RuleTerm]) throws(FeatureFlagsError) -> [FeatureFlagDefinition] {
        var definitions: [FeatureFlagDefinition] = []
        definitions.reserveCapacity(values.count)
        for (position, value) in values.enumerated() {
            guard let key = value.annotations.first else {
                throw .malformedDocument("top-level value \(position + 1) (\(value.summary)) has no flag-key annotation")
            }
            switch value.value {
            case .string(let json):
                definitions.append(.basic(key: key, json: Array(json.utf8)))
            case .list(let elements):
                guard let last = elements.last, case .string(let defaultJSON) = last.value else {
                    throw .malformedDocument("flag '\(RuleError.clip(key))' must end its variant list with the default variant's JSON string")
                }
                var variants: [FeatureFlagVariant] = []
                for (index, element) in elements.dropLast().enumerated() {
                    guard case .list(let pair) = element.value, pair.count == 2, case .string(let json) = pair[1].value else {
                        throw .malformedDocument("flag '\(RuleError.clip(key))' variant \(index + 1) is not a [rule, JSON string] pair")
                    }
                    variants.append(FeatureFlagVariant(rule: pair[0], json: Array(json.utf8), name: element.annotations.first))
                }
                definitions.append(.variants(key: key, variants: variants, defaultJSON: Array(defaultJSON.utf8),
                                             defaultName: last.annotations.first))
            default:
                throw .malformedDocument("flag '\(RuleError.clip(key))' is \(value.summary), not a JSON string or a variant list")
            }
        }
        return definitions
    }
}
