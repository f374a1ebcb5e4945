import Foundation
import NIOPosix
import StoreSyncCore
import StoreSyncLMDB
import StoreSyncNode
import StoreSyncPostgres
import StoreSyncTestSupport
import Testing

/// A node on loopback with its own store in a temporary directory, serving until `stop()`.
final class TestNode {
    let directory: TemporaryDirectory
    /// The node's archive: its LMDB store, or a PostgreSQL archive.
    let archive: any MessageArchive
    /// The archive's LMDB key index (the archive itself for an LMDB store).
    var store: MessageStore { archive.keyIndex }
    let node: StoreNode
    /// The node's metrics, in a Prometheus registry of its own.
    let endpoint: MetricsEndpoint
    /// The node's clock: its rate and bandwidth buckets refill, and its stream timeouts fire,
    /// only as the test moves it.
    let clock: ManualScheduler
    private let serving: Task<Void, any Error>

    init(
        allowPush: Bool = false, maximumFrameSize: Int = 4 << 20, rateLimits: RateLimitPolicy = .none,
        retention: RetentionPolicy = .none, postgres: PostgresServer? = nil, postgresTimeout: Double = 30,
        configure: (inout NodeConfiguration) -> Void = { _ in }
    ) async throws {
        directory = try TemporaryDirectory("node")
        if let postgres {
            let database = "node_\(UUID().uuidString.prefix(8).lowercased())"
            try await postgres.psql("CREATE DATABASE \(database)")
            var archiveConfiguration = try PostgresArchiveConfiguration(
                url: postgres.url(database: database),
                index: StoreConfiguration(directory: directory.sub("index"), durability: .noSync),
                retention: retention)
            archiveConfiguration.operationTimeout = postgresTimeout
            archive = try await PostgresArchive.open(archiveConfiguration, now: 1_700_000_000_000_000_000)
        } else {
            archive = try MessageStore(
                StoreConfiguration(directory: directory.sub("store"), durability: .noSync, retention: retention))
        }
        endpoint = MetricsEndpoint(store: archive)
        var configuration = NodeConfiguration(
            pubsubTopics: ["/waku/2/rs/0/0", "/waku/2/rs/0/1"], maximumFrameSize: maximumFrameSize,
            allowPush: allowPush, rateLimits: rateLimits)
        // Tests of the framing protocol's own bounds reach it on its plaintext listener.
        configuration.plaintextListener = true
        configure(&configuration)
        clock = ManualScheduler(start: 1_700_000_000_000_000_000)
        node = try await StoreNode.bind(
            archive: archive, configuration: configuration, metrics: endpoint.metrics, clock: clock)
        let node = self.node
        client = try NodeClient(address: try #require(node.address), readTimeout: 600)
        serving = Task { try await node.serve() }
    }

    /// A client of this node over libp2p (one connection, a stream per call). Its read timeout
    /// is long: tests of timeouts make their own clients.
    let client: NodeClient

    /// A client of this node's framing listener.
    var framingClient: NodeClient { NodeClient(host: "127.0.0.1", port: node.port, readTimeout: 600) }

    /// A Waku Store v3 client of this node over libp2p.
    func wakuClient() throws -> WakuStoreClient {
        try WakuStoreClient(address: try #require(node.address), timeout: 600)
    }

    func stop() async {
        await node.close()
        _ = await serving.result
        (archive as? PostgresArchive)?.close()
    }

    /// Every message hash this node stores in a topic.
    func hashes(_ topic: String) async throws -> Set<MessageHash> {
        try await store.read { store in
            try store.withSnapshot(pubsubTopic: topic) { snapshot in
                var hashes = Set<MessageHash>()
                try snapshot.forEachKey(in: 0..<snapshot.count()) { key in
                    hashes.insert(key.hash)
                    return true
                }
                return hashes
            }
        }
    }
}

/// A generated message stream for node tests.
func testMessages(count: Int, seed: UInt64, topic: String = "/waku/2/rs/0/0") throws -> [WakuMessage] {
    var rng = SplitMix64(seed: seed)
    return try (0..<count).map { index in
        try WakuMessage(
            pubsubTopic: topic,
            contentTopic: "/test/1/c\(index % 3)/proto",
            payload: (0..<Int(20 + rng.next() % 200)).map { _ in UInt8(truncatingIfNeeded: rng.next()) },
            timestamp: 1_700_000_000_000_000_000 + Int64(index) * 1_000_000 + Int64(rng.next() % 1_000)
        )
    }
}

/// Messages split between two nodes: one in `oneSidedEvery` on the first alone, as many on the
/// second alone, the rest on both.
func divide(_ messages: [WakuMessage], seed: UInt64, oneSidedEvery: UInt64) -> (a: [WakuMessage], b: [WakuMessage]) {
    var rng = SplitMix64(seed: seed)
    var forA = [WakuMessage]()
    var forB = [WakuMessage]()
    for message in messages {
        switch rng.next() % oneSidedEvery {
        case 0: forA.append(message)
        case 1: forB.append(message)
        default:
            forA.append(message)
            forB.append(message)
        }
    }
    return (forA, forB)
}

/// Waits until `condition` holds, yielding between checks, for at most `limit`: returns whether
/// it came true. A bound, not a sleep: it returns as soon as the condition holds, and the bound is
/// generous, so that a starved cooperative pool on a loaded machine is not read as a failure.
func eventually(within limit: Duration = .seconds(300), _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + limit
    while !condition() {
        if ContinuousClock.now > deadline { return false }
        await Task.yield()
    }
    return true
}

/// `eventually` for a condition that has to wait for its answer (a metrics render, a store read).
func eventually(within limit: Duration = .seconds(300), asking condition: () async throws -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + limit
    while !((try? await condition()) ?? false) {
        if ContinuousClock.now > deadline { return false }
        await Task.yield()
    }
    return true
}

/// The archives a node can have: node behaviour is tested on each.
enum ArchiveKind: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case lmdb
    case postgres

    var testDescription: String { rawValue }

    /// Runs `body` with a node on this kind of archive (and a PostgreSQL server of its own for
    /// `.postgres`), stopped afterwards.
    func withNode<T>(
        allowPush: Bool = false, retention: RetentionPolicy = .none, rateLimits: RateLimitPolicy = .none,
        _ body: (TestNode) async throws -> T
    ) async throws -> T {
        func run(_ node: TestNode) async throws -> T {
            do {
                let result = try await body(node)
                await node.stop()
                return result
            } catch {
                await node.stop()
                throw error
            }
        }
        switch self {
        case .lmdb:
            return try await run(try await TestNode(allowPush: allowPush, rateLimits: rateLimits, retention: retention))
        case .postgres:
            return try await withPostgresServer { server in
                try await run(
                    try await TestNode(
                        allowPush: allowPush, rateLimits: rateLimits, retention: retention, postgres: server))
            }
        }
    }
}
