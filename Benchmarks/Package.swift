// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "StoreSyncBenchmarks",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(name: "StoreSync", path: ".."),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/ordo-one/benchmark.git", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "StoreSyncBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "StoreSyncCore", package: "StoreSync"),
                .product(name: "StoreSyncLMDB", package: "StoreSync"),
            ],
            path: "Benchmarks/StoreSyncBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "sync-bench",
            dependencies: [
                .product(name: "StoreSyncCore", package: "StoreSync"),
                .product(name: "StoreSyncLMDB", package: "StoreSync"),
                .product(name: "StoreSyncNode", package: "StoreSync"),
            ],
            path: "Sources/SyncBench"
        ),
        .executableTarget(
            name: "archive-bench",
            dependencies: [
                .product(name: "StoreSyncCore", package: "StoreSync"),
                .product(name: "StoreSyncLMDB", package: "StoreSync"),
                .product(name: "StoreSyncNode", package: "StoreSync"),
                .product(name: "StoreSyncPostgres", package: "StoreSync"),
            ],
            path: "Sources/ArchiveBench"
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
            name: "p2p-bench",
            dependencies: [
                .product(name: "StoreSyncCore", package: "StoreSync"),
                .product(name: "StoreSyncLMDB", package: "StoreSync"),
                .product(name: "StoreSyncNode", package: "StoreSync"),
                .product(name: "StoreSyncP2P", package: "StoreSync"),
                .product(name: "StoreSyncProto", package: "StoreSync"),
            ],
            path: "Sources/P2PBench"
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
            name: "ingest-bench",
            dependencies: [
                .product(name: "StoreSyncCore", package: "StoreSync"),
                .product(name: "StoreSyncLMDB", package: "StoreSync"),
                .product(name: "StoreSyncNode", package: "StoreSync"),
            ],
            path: "Sources/IngestBench"
        ),
        .executableTarget(
            name: "flood-bench",
            dependencies: [
                .product(name: "StoreSyncCore", package: "StoreSync"),
                .product(name: "StoreSyncNode", package: "StoreSync"),
                .product(name: "StoreSyncProto", package: "StoreSync"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Sources/FloodBench"
        ),
        .executableTarget(
            name: "contention-bench",
            dependencies: [
                .product(name: "StoreSyncCore", package: "StoreSync"),
                .product(name: "StoreSyncLMDB", package: "StoreSync"),
                .product(name: "StoreSyncNode", package: "StoreSync"),
                .product(name: "StoreSyncProto", package: "StoreSync"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/ContentionBench"
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
