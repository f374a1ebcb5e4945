// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "StoreSync",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "StoreSyncCore", targets: ["StoreSyncCore"]),
        .executable(name: "negentropy-harness", targets: ["NegentropyHarness"]),
        .executable(name: "reconcile-fuzz", targets: ["ReconcileFuzz"]),
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
        .testTarget(
            name: "StoreSyncCoreTests",
            dependencies: ["StoreSyncCore"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
