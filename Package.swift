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
        // libcurl's headers only: the library is loaded with dlopen when AWS mode first needs it
        // (see its shim.h), so no pkg-config, whose flags would link it.
        .systemLibrary(
            name: "CCurl",
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
            dependencies: ["AgentCore"],
            // lld can pack the ~38,000 relative relocations of a position-independent binary with the
            // Swift runtime in it (RELR, glibc 2.36+): 7 KB instead of 900 KB that the dynamic loader
            // reads at every start, and about 1 MiB less resident memory.
            linkerSettings: [.unsafeFlags(["-use-ld=lld", "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs"])]
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
