// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "StoreSyncBenchmarks",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(name: "StoreSync", path: "..")
    ],
    targets: [
        .executableTarget(
            name: "sync-bench",
            dependencies: [
                .product(name: "StoreSyncCore", package: "StoreSync"),
                .product(name: "StoreSyncLMDB", package: "StoreSync"),
            ],
            path: "Sources/SyncBench"
        ),
        .executableTarget(
            name: "node-bench",
            dependencies: [
                .product(name: "StoreSyncCore", package: "StoreSync"),
                .product(name: "StoreSyncLMDB", package: "StoreSync"),
                .product(name: "StoreSyncNode", package: "StoreSync"),
            ],
            path: "Sources/NodeBench"
        ),
        .executableTarget(
            name: "store-bench",
            dependencies: [
                .product(name: "StoreSyncCore", package: "StoreSync"),
                .product(name: "StoreSyncLMDB", package: "StoreSync"),
            ],
            path: "Sources/StoreBench"
        ),
        .executableTarget(
            name: "disk-bench",
            dependencies: [
                .product(name: "StoreSyncCore", package: "StoreSync"),
                .product(name: "StoreSyncLMDB", package: "StoreSync"),
            ],
            path: "Sources/DiskBench"
        ),
        .executableTarget(
            name: "catchup-bench",
            dependencies: [
                .product(name: "StoreSyncCore", package: "StoreSync"),
                .product(name: "StoreSyncLMDB", package: "StoreSync"),
                .product(name: "StoreSyncNode", package: "StoreSync"),
            ],
            path: "Sources/CatchUpBench"
        ),
    ],
    swiftLanguageModes: [.v6]
)
