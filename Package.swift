// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "StoreSync",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "StoreSyncCore", targets: ["StoreSyncCore"]),
        .library(name: "StoreSyncLMDB", targets: ["StoreSyncLMDB"]),
        .library(name: "StoreSyncPostgres", targets: ["StoreSyncPostgres"]),
        .library(name: "StoreSyncNode", targets: ["StoreSyncNode"]),
        .library(name: "StoreSyncProto", targets: ["StoreSyncProto"]),
        .library(name: "StoreSyncP2P", targets: ["StoreSyncP2P"]),
        // The C API (include/storesync.h); scripts/build-c-api installs it as libstoresync.so.
        .library(name: "StoreSyncC", type: .dynamic, targets: ["StoreSyncC"]),
        .executable(name: "negentropy-harness", targets: ["NegentropyHarness"]),
        .executable(name: "reconcile-fuzz", targets: ["ReconcileFuzz"]),
        .executable(name: "node-decoders-fuzz", targets: ["NodeDecodersFuzz"]),
        .executable(name: "p2p-decoders-fuzz", targets: ["P2PDecodersFuzz"]),
        .executable(name: "storesync", targets: ["StoreSyncCLI"]),
        .executable(name: "store-torture", targets: ["StoreTorture"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
    ],
    targets: [
        .systemLibrary(
            name: "CLibCrypto",
            pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"])]
        ),
        .systemLibrary(
            name: "CSecp256k1",
            pkgConfig: "libsecp256k1",
            providers: [.apt(["libsecp256k1-dev"])]
        ),
        // The C API's header, include/storesync.h, whose types the library's exports use.
        .systemLibrary(name: "CStoreSyncABI", path: "Sources/CStoreSyncABI"),
        .target(
            name: "StoreSyncC",
            dependencies: ["CStoreSyncABI", "StoreSyncCore", "StoreSyncLMDB"]
        ),
        .systemLibrary(
            name: "CLMDB",
            pkgConfig: "lmdb",
            providers: [.apt(["liblmdb-dev"])]
        ),
        .target(
            name: "StoreSyncCore",
            dependencies: ["CLibCrypto"]
        ),
        .target(
            name: "StoreSyncLMDB",
            dependencies: ["StoreSyncCore", "CLMDB"]
        ),
        .target(
            name: "StoreSyncPostgres",
            dependencies: [
                "StoreSyncCore",
                "StoreSyncLMDB",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "StoreSyncProto",
            dependencies: [.product(name: "SwiftProtobuf", package: "swift-protobuf")]
        ),
        .target(
            name: "StoreSyncP2P",
            dependencies: [
                "StoreSyncCore",
                "CSecp256k1",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .target(
            name: "StoreSyncNode",
            dependencies: [
                "StoreSyncCore",
                "StoreSyncP2P",
                "StoreSyncLMDB",
                "StoreSyncPostgres",
                "StoreSyncProto",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        .executableTarget(
            name: "StoreSyncCLI",
            dependencies: [
                "StoreSyncCore",
                "StoreSyncLMDB",
                "StoreSyncNode",
                "StoreSyncP2P",
                "StoreSyncPostgres",
                "StoreSyncProto",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "NegentropyHarness",
            dependencies: ["StoreSyncCore"]
        ),
        .target(
            name: "FuzzSupport",
            path: "Fuzz/FuzzSupport"
        ),
        .executableTarget(
            name: "ReconcileFuzz",
            dependencies: ["StoreSyncCore", "FuzzSupport"],
            path: "Fuzz/ReconcileFuzz",
            exclude: ["corpus"]
        ),
        .executableTarget(
            name: "NodeDecodersFuzz",
            dependencies: ["StoreSyncCore", "StoreSyncLMDB", "StoreSyncNode", "StoreSyncProto", "FuzzSupport"],
            path: "Fuzz/NodeDecodersFuzz",
            exclude: ["corpus"]
        ),
        .executableTarget(
            name: "P2PDecodersFuzz",
            dependencies: [
                "StoreSyncP2P", "StoreSyncNode", "FuzzSupport", .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Fuzz/P2PDecodersFuzz",
            exclude: ["corpus"]
        ),
        .executableTarget(
            name: "StoreTorture",
            dependencies: ["StoreSyncCore", "StoreSyncLMDB"]
        ),
        .target(
            name: "StoreSyncTestSupport",
            dependencies: ["StoreSyncCore", "StoreSyncNode"],
            path: "Tests/StoreSyncTestSupport"
        ),
        .testTarget(
            name: "StoreSyncTests",
            dependencies: [
                "StoreSyncTestSupport",
                "StoreSyncCore",
                "StoreSyncLMDB",
                "StoreSyncNode",
                "StoreSyncP2P",
                "StoreSyncPostgres",
                "StoreSyncProto",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
