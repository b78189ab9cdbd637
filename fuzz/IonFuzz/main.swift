// libFuzzer entry point for the Ion reader. Built by `fuzz/run.sh ion` together with the
// files of Sources/AgentCore/Ion (which depend on nothing else), so no module import is needed.

/// Reads the input as a document with and without a catalog, and with tight limits, so both the
/// shared-table paths and the bound checks are exercised. Any trap or sanitizer report is a bug.
@_cdecl("LLVMFuzzerTestOneInput")
public func ionFuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let catalog = IonCatalog([
        .init(name: "ops", version: 1, symbols: [nil, nil, nil, "eq"]),
        .init(name: "anns", version: 1, symbols: ["pct", "by", "seed"]),
    ])
    if let values = try? IonReader.parse(bytes, catalog: catalog) {
        // Touch what callers use, so derived properties are fuzzed too.
        for value in values { consume(value) }
    }
    let tight = IonLimits(maxInputBytes: 1 << 16, maxDepth: 8, maxSymbols: 50, maxContainerElements: 100,
                          maxTotalValues: 1000, maxNumberDigits: 40)
    _ = try? IonReader.parse(bytes, limits: tight)
    return 0
}

private func consume(_ value: IonValue) {
    _ = value.annotationTexts
    _ = value.type
    switch value.content {
    case .decimal(let decimal):
        _ = decimal.description
        _ = decimal.doubleValue
    case .timestamp(let timestamp):
        _ = timestamp.description
        _ = timestamp.instant.timeIntervalSince1970
    case .int(let int):
        _ = int.description
    case .list(let values), .sexp(let values):
        for element in values { consume(element) }
    case .struct(let fields):
        for field in fields {
            _ = field.name.description
            consume(field.value)
        }
    default:
        break
    }
}
