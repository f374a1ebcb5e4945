// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "StoreSync",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "StoreSyncCore", targets: ["StoreSyncCore"]),
        .library(name: "StoreSyncLMDB", targets: ["StoreSyncLMDB"]),
        .executable(name: "negentropy-harness", targets: ["NegentropyHarness"]),
        .executable(name: "reconcile-fuzz", targets: ["ReconcileFuzz"]),
        .executable(name: "storesync", targets: ["StoreSyncCLI"]),
        .executable(name: "store-torture", targets: ["StoreTorture"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2")
    ],
    targets: [
        .systemLibrary(
            name: "CLibCrypto",
            pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"])]
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
        .executableTarget(
            name: "StoreSyncCLI",
            dependencies: [
                "StoreSyncCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "NegentropyHarness",
            dependencies: ["StoreSyncCore"]
        ),
        .executableTarget(
            name: "ReconcileFuzz",
            dependencies: ["StoreSyncCore"],
            path: "Fuzz/ReconcileFuzz",
            exclude: ["corpus"]
        ),
        .executableTarget(
            name: "StoreTorture",
            dependencies: ["StoreSyncCore", "StoreSyncLMDB"]
        ),
        .testTarget(
            name: "StoreSyncTests",
            dependencies: ["StoreSyncCore", "StoreSyncLMDB"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
