// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "appconfig-agent",
    products: [
        .executable(name: "appconfig-agent", targets: ["appconfig-agent"]),
    ],
    targets: [
        // C libraries from Debian, one system-library target and one shim header each.
        .systemLibrary(
            name: "CLibEvent",
            pkgConfig: "libevent_pthreads",
            providers: [.apt(["libevent-dev"])]
        ),
        .systemLibrary(
            name: "CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        .systemLibrary(
            name: "CCrypto",
            pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"])]
        ),
        .target(
            name: "AgentCore",
            dependencies: ["CLibEvent", "CCurl", "CCrypto"],
            swiftSettings: [.enableUpcomingFeature("ExistentialAny")]
        ),
        .executableTarget(
            name: "appconfig-agent",
            dependencies: ["AgentCore"]
        ),
        // `make bench-flags`: evaluation cost per flag (a benchmark, not part of the tests).
        .executableTarget(
            name: "flag-bench",
            dependencies: ["AgentCore"]
        ),
        .testTarget(
            name: "AgentCoreTests",
            dependencies: ["AgentCore"],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(
            name: "EndToEndTests",
            dependencies: ["AgentCore", "appconfig-agent"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
