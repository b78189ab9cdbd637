/// One variant of a multi-variant flag, as delivered: its rule, its JSON object, and its name when the
/// name travels outside the JSON (the binary Ion form annotates each variant with it).
public struct FeatureFlagVariant: Sendable {
    public var rule: RuleTerm
    public var json: [UInt8]
    public var name: String?

    public init(rule: RuleTerm, json: [UInt8], name: String? = nil) {
        self.rule = rule
        self.json = json
        self.name = name
    }
}

/// One flag of a feature-flag configuration, before compilation.
public enum FeatureFlagDefinition: Sendable {
    /// A flag without variants: always `json`.
    case basic(key: String, json: [UInt8])
    /// A flag whose variants are tried in order; `defaultJSON` (named `defaultName`) when none holds.
    case variants(key: String, variants: [FeatureFlagVariant], defaultJSON: [UInt8], defaultName: String? = nil)

    public var key: String {
        switch self {
        case .basic(let key, _), .variants(let key, _, _, _): key
        }
    }
}

/// Why a feature-flag configuration version was refused as a whole (the agent keeps serving the
/// previous version).
public enum FeatureFlagsError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Two flags with the same key.
    case duplicateFlag(String)
    /// A flag's (or one of its variants') JSON is not a valid JSON object.
    case invalidJSON(flag: String, variant: String, reason: String)
    /// The document does not have the shape of a feature-flag configuration.
    case malformedDocument(String)

    public var description: String {
        switch self {
        case .duplicateFlag(let key): "feature flag '\(RuleError.clip(key))' is defined twice"
        case .invalidJSON(let flag, let variant, let reason):
            "feature flag '\(RuleError.clip(flag))' \(variant): not a JSON object: \(reason)"
        case .malformedDocument(let reason): "malformed feature-flag document: \(reason)"
        }
    }
}

/// A variant rule that did not compile: its flag serves the default variant until the next version.
/// The caller logs `description`.
public struct FlagRuleProblem: Sendable, Equatable, CustomStringConvertible {
    public let flag: String
    /// Position of the variant in the flag's list, from 0.
    public let variantIndex: Int
    public let variantName: String?
    public let error: RuleError

    public var description: String {
        let variant = variantName.map { "variant '\(RuleError.clip($0))'" } ?? "variant \(variantIndex + 1)"
        return "feature flag '\(RuleError.clip(flag))' \(variant): rule does not compile (\(error)); serving the default variant"
    }
}

/// The answer for one flag to one request.
public struct EvaluatedFlag: Sendable, Equatable {
    public let key: String
    /// The selected variant's JSON object, exactly as stored (with `_variant` when it has a name).
    public let json: ArraySlice<UInt8>
    /// The selected variant's name, when known.
    public let variant: String?
}

/// The flags of one configuration version, compiled once; each request then costs a slot table, the
/// rule tests, and one copy of the chosen JSON bytes. Immutable, so one instance serves every thread.
///
/// Choices:
/// - Every flag's JSON (each variant's and the default's) must be a JSON object (checked strictly
///   once); surrounding whitespace is dropped, the object's bytes are kept as written.
/// - A variant name known only outside the JSON is written into it as `"_variant":"name"` right after
///   the `{` (followed by `,` unless the object is empty), without reformatting anything else; an
///   object that already has a top-level `_variant` is kept as it is.
/// - A rule that does not compile makes its whole flag serve the default variant (never a later
///   variant, which could widen who gets what); the problems are listed in `ruleProblems`.
/// - Two flags with one key, or invalid JSON, refuse the whole version (`FeatureFlagsError`).
public final class CompiledFlags: Sendable {
    /// Flag keys in document order.
    public let keys: [String]
    public let ruleProblems: [FlagRuleProblem]

    /// Every JSON object and every `"key"` token, back to back; flags refer to spans of it.
    private let storage: [UInt8]
    private let flags: [FlagEntry]
    private let variants: [VariantEntry]
    /// Variant names, referred to by index.
    private let names: [String]
    private let byKey: [ExactKey: Int]
    private let program: RuleProgram
    /// Bytes of the largest whole-profile response: one allocation per render.
    private let renderCapacity: Int

    private struct FlagEntry: Sendable {
        /// The key as a JSON string token, quotes included.
        let keyToken: ByteSpan
        /// This flag's variants in `variants` (none when a rule did not compile).
        let variants: ByteSpan
        let defaultJSON: ByteSpan
        /// Index in `names`, or -1.
        let defaultName: Int
        /// The longest of its JSON objects.
        let largestJSON: Int
    }

    private struct VariantEntry: Sendable {
        /// Index of the rule's first operation in `program`.
        let rule: Int
        let json: ByteSpan
        /// Index in `names`, or -1.
        let name: Int
    }

    public init(_ definitions: [FeatureFlagDefinition]) throws(FeatureFlagsError) {
        var storage: [UInt8] = []
        var flags: [FlagEntry] = []
        var variantTable: [VariantEntry] = []
        var names: [String] = []
        var byKey: [ExactKey: Int] = [:]
        var problems: [FlagRuleProblem] = []
        var compiler = RuleCompiler()
        var builder = RuleProgramBuilder()
        flags.reserveCapacity(definitions.count)

        func store(_ bytes: [UInt8]) -> ByteSpan {
            let span = ByteSpan(start: storage.count, count: bytes.count)
            storage.append(contentsOf: bytes)
            return span
        }
        func nameIndex(_ name: String?) -> Int {
            guard let name else { return -1 }
            names.append(name)
            return names.count - 1
        }

        for definition in definitions {
            let key = definition.key
            guard byKey[ExactKey(key)] == nil else { throw .duplicateFlag(key) }
            byKey[ExactKey(key)] = flags.count
            var token: [UInt8] = []
            appendJSONString(key, to: &token)
            let keyToken = store(token)
            switch definition {
            case .basic(_, let json):
                let object = store(try Self.object(json, named: nil, flag: key, variant: "value"))
                flags.append(FlagEntry(keyToken: keyToken, variants: ByteSpan(start: variantTable.count, count: 0),
                                       defaultJSON: object, defaultName: -1, largestJSON: object.count))
            case .variants(_, let variants, let defaultJSON, let defaultName):
                var compiled: [VariantEntry] = []
                var failed = false
                var largest = 0
                for (index, variant) in variants.enumerated() {
                    let label = variant.name.map { "variant '\(RuleError.clip($0))'" } ?? "variant \(index + 1)"
                    let object = store(try Self.object(variant.json, named: variant.name, flag: key, variant: label))
                    largest = max(largest, object.count)
                    do {
                        let node = try compiler.compile(variant.rule, flagKey: key)
                        compiled.append(VariantEntry(rule: builder.append(node), json: object, name: nameIndex(variant.name)))
                    } catch {
                        failed = true
                        problems.append(FlagRuleProblem(flag: key, variantIndex: index, variantName: variant.name, error: error))
                    }
                }
                let object = store(try Self.object(defaultJSON, named: defaultName, flag: key, variant: "default variant"))
                let first = variantTable.count
                if !failed { variantTable.append(contentsOf: compiled) }
                flags.append(FlagEntry(keyToken: keyToken, variants: ByteSpan(start: first, count: variantTable.count - first),
                                       defaultJSON: object, defaultName: nameIndex(defaultName),
                                       largestJSON: max(largest, object.count)))
            }
        }
        self.keys = definitions.map(\.key)
        self.ruleProblems = problems
        self.storage = storage
        self.flags = flags
        self.variants = variantTable
        self.names = names
        self.byKey = byKey
        self.program = RuleProgram(builder, keys: compiler.keys)
        self.renderCapacity = flags.reduce(2) { $0 + $1.keyToken.count + 2 + $1.largestJSON }
    }

    /// `json` checked as one JSON object, trimmed, with `"_variant":"name"` inserted when `name` is
    /// given and the object has no top-level `_variant`.
    private static func object(_ json: [UInt8], named name: String?, flag: String, variant: String) throws(FeatureFlagsError) -> [UInt8] {
        let members: [JSONMember]
        do {
            members = try JSONObjectScanner.members(of: json)
        } catch {
            throw .invalidJSON(flag: flag, variant: variant, reason: error.description)
        }
        var start = 0
        var end = json.count
        while start < end, isJSONSpace(json[start]) { start += 1 }
        while end > start, isJSONSpace(json[end - 1]) { end -= 1 }
        guard let name, !members.contains(where: { $0.key == "_variant" }) else { return Array(json[start..<end]) }
        // json[start] is the object's `{`.
        var result: [UInt8] = [UInt8(ascii: "{")]
        result.reserveCapacity(end - start + name.utf8.count + 16)
        appendJSONString("_variant", to: &result)
        result.append(UInt8(ascii: ":"))
        appendJSONString(name, to: &result)
        if !members.isEmpty { result.append(UInt8(ascii: ",")) }
        result.append(contentsOf: json[(start + 1)..<end])
        return result
    }

    private static func isJSONSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09
    }

    /// Number of flags.
    public var count: Int { flags.count }

    /// Each flag's answer to `context`, in document order.
    public func evaluate(_ context: EvaluationContext) -> [EvaluatedFlag] {
        program.withMachine(context) { machine in
            var result: [EvaluatedFlag] = []
            result.reserveCapacity(flags.count)
            for position in flags.indices {
                result.append(answer(position, machine))
            }
            return result
        }
    }

    /// The answer of flag `key` to `context`; nil when there is no such flag.
    public func evaluate(flag key: String, _ context: EvaluationContext) -> EvaluatedFlag? {
        guard let position = byKey[ExactKey(key)] else { return nil }
        return program.withMachine(context) { answer(position, $0) }
    }

    private func answer(_ position: Int, _ machine: RuleMachine) -> EvaluatedFlag {
        let (json, name) = select(flags[position], machine)
        return EvaluatedFlag(key: keys[position], json: storage[json.start..<(json.start + json.count)],
                             variant: name < 0 ? nil : names[name])
    }

    /// The response body: with `only` nil, the whole profile `{"a":{…},"b":{…}}` in document order;
    /// with one name, that flag's object; with several, an object of those flags in request order (a
    /// flag named twice appears once). Unknown flag: `.unknownFlag` (404); an empty list or an empty
    /// name: `.noFlagNamed` (400).
    public func render(_ context: EvaluationContext, only names: [String]? = nil) throws(FlagSelectionError) -> [UInt8] {
        var chosen: [Int] = []
        if let names {
            guard !names.isEmpty, !names.contains(where: \.isEmpty) else { throw .noFlagNamed }
            chosen.reserveCapacity(names.count)
            for name in names {
                guard let position = byKey[ExactKey(name)] else { throw .unknownFlag(name) }
                if !chosen.contains(position) { chosen.append(position) }
            }
        }
        let single = names?.count == 1
        let whole = names == nil
        return program.withMachine(context) { machine in
            storage.withUnsafeBufferPointer { storage in
                var output: [UInt8] = []
                if single {
                    let flag = flags[chosen[0]]
                    output.reserveCapacity(flag.largestJSON)
                    output.append(contentsOf: storage.slice(select(flag, machine).json))
                    return output
                }
                output.reserveCapacity(whole ? renderCapacity : chosen.reduce(2) {
                    $0 + flags[$1].keyToken.count + 2 + flags[$1].largestJSON
                })
                output.append(UInt8(ascii: "{"))
                func append(_ flag: FlagEntry) {
                    if output.count > 1 { output.append(UInt8(ascii: ",")) }
                    output.append(contentsOf: storage.slice(flag.keyToken))
                    output.append(UInt8(ascii: ":"))
                    output.append(contentsOf: storage.slice(select(flag, machine).json))
                }
                if whole {
                    for flag in flags { append(flag) }
                } else {
                    for position in chosen { append(flags[position]) }
                }
                output.append(UInt8(ascii: "}"))
                return output
            }
        }
    }

    /// The first variant whose rule holds, else the default: its JSON and its name index.
    @inline(__always) private func select(_ flag: FlagEntry, _ machine: RuleMachine) -> (json: ByteSpan, name: Int) {
        for index in flag.variants.start..<(flag.variants.start + flag.variants.count) {
            let variant = variants[index]
            if machine.evaluate(variant.rule) { return (variant.json, variant.name) }
        }
        return (flag.defaultJSON, flag.defaultName)
    }
}

/// Appends `text` as a JSON string token: `"`, `\`, and control characters escaped, the rest as UTF-8.
func appendJSONString(_ text: String, to output: inout [UInt8]) {
    let hex = Array("0123456789abcdef".utf8)
    output.append(UInt8(ascii: "\""))
    for byte in text.utf8 {
        switch byte {
        case UInt8(ascii: "\""): output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
        case UInt8(ascii: "\\"): output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
        case 0x0A: output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
        case 0x0D: output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
        case 0x09: output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
        case 0x00..<0x20:
            output.append(contentsOf: Array("\\u00".utf8))
            output.append(hex[Int(byte >> 4)])
            output.append(hex[Int(byte & 0x0F)])
        default: output.append(byte)
        }
    }
    output.append(UInt8(ascii: "\""))
}
