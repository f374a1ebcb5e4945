import Foundation
import StoreSyncCore
import StoreSyncLMDB
import StoreSyncNode
import StoreSyncPostgres
import StoreSyncProto
import StoreSyncTestSupport
import Synchronization
import Testing

/// A node whose archive is in PostgreSQL syncs with one on LMDB, by Negentropy and by the
/// reference node's store sync, and rides out a restart of its database.
@Suite("A node on a PostgreSQL archive")
struct PostgresNodeTests {
    static let topic = "/waku/2/rs/0/0"

    enum Method: String, CaseIterable, CustomTestStringConvertible, Sendable {
        case negentropy
        case storeSync
        var testDescription: String { rawValue }
    }

    static func configure(_ method: Method) -> (inout NodeConfiguration) -> Void {
        { $0.storeSync.negentropy = method == .negentropy }
    }

    /// Every hash in the node's archive: the rows of a PostgreSQL archive, the messages of an LMDB one.
    static func archived(_ node: TestNode, count: Int) async throws -> Set<MessageHash> {
        let keys = try await node.hashes(Self.topic)
        let messages = try await node.archive.messages(for: Array(keys))
        #expect(messages.allSatisfy { $0 != nil }, "the index names a message the archive lacks")
        return keys
    }

    /// A node on PostgreSQL (`a`) and one on LMDB (`b`), an hour into their clocks, holding
    /// `count` test messages divided between them (one in `oneSidedEvery` on one side only).
    struct Pair {
        let a: TestNode
        let b: TestNode
        let messages: [WakuMessage]
        let forA: [WakuMessage]
        let forB: [WakuMessage]

        init(
            _ server: PostgresServer, count: Int, seed: UInt64, oneSidedEvery: UInt64, postgresTimeout: Double = 30,
            configure: @escaping (inout NodeConfiguration) -> Void = { _ in }
        ) async throws {
            a = try await TestNode(postgres: server, postgresTimeout: postgresTimeout, configure: configure)
            b = try await TestNode(configure: configure)
            a.clock.advance(by: 3_600)
            b.clock.advance(by: 3_600)
            messages = try testMessages(count: count, seed: seed)
            (forA, forB) = divide(messages, seed: seed, oneSidedEvery: oneSidedEvery)
            _ = try await a.archive.ingest(forA)
            _ = try await b.archive.ingest(forB)
        }
    }

    @Test(arguments: Method.allCases)
    func aNodeOnPostgresAndOneOnLMDBConverge(method: Method) async throws {
        try await withPostgresServer { server in
            let pair = try await Pair(
                server, count: 4_000, seed: 11, oneSidedEvery: 10, configure: Self.configure(method))
            let (a, b, messages, forA, forB) = (pair.a, pair.b, pair.messages, pair.forA, pair.forB)
            let peer = try a.node.client(for: try #require(b.node.address))
            let report = try await a.node.sync(with: peer, pubsubTopic: Self.topic)
            #expect(report.method == (method == .negentropy ? .negentropy : .storeSync))
            #expect(report.need == Set(forB.map(\.hash)).subtracting(forA.map(\.hash)).count)
            #expect(report.fetched.stored == report.need && report.fetched.rejected == 0)
            #expect(try await Self.archived(a, count: messages.count) == Set(messages.map(\.hash)))
            #expect(try await Self.archived(b, count: messages.count) == Set(messages.map(\.hash)))
            let postgres = try #require(a.archive as? PostgresArchive)
            #expect(try await postgres.reconcileIndex().rebuiltPartitions == 0)
            try a.store._checkInvariants()
            try b.store._checkInvariants()
            await a.stop()
            await b.stop()
        }
    }

    @Test func whileItsDatabaseIsDownTheNodeReconcilesFromItsIndexAndRefusesTheRestRetryably() async throws {
        try await withPostgresServer { server in
            let pair = try await Pair(server, count: 3_000, seed: 13, oneSidedEvery: 5, postgresTimeout: 10)
            let (a, b, messages, forA, forB) = (pair.a, pair.b, pair.messages, pair.forA, pair.forB)
            let postgres = try #require(a.archive as? PostgresArchive)

            // The archive's own disk use is a gauge of its own, beside the index's.
            let before = try await postgres.diskBytes()
            let samples = try PrometheusSamples(parsing: await a.endpoint.render())
            let after = try await postgres.diskBytes()
            let gauge = try #require(samples["storesync_archive_bytes"])
            #expect(gauge > 0 && gauge >= Double(min(before, after)) && gauge <= Double(max(before, after)))
            #expect(samples["storesync_disk_file_bytes"] == Double(try a.store.diskUsage().fileBytes))

            try await server.halt()
            // Store v3 needs the database: a retryable 503 that says so.
            var query = Waku_Store_V3_StoreQueryRequest()
            query.requestID = "down"
            query.pubsubTopic = Self.topic
            query.contentTopics = ["/test/1/c0/proto"]
            query.includeData = true
            let refused = try await b.node.client(for: try #require(a.node.address)).query(query)
            #expect(refused.statusCode == 503)
            #expect(refused.statusDesc.contains("archive"))
            // Reconciliation reads only the index: b learns exactly what differs; the transfer,
            // which needs the database, is refused.
            let found = Mutex<SyncReport?>(nil)
            let peer = try b.node.client(for: try #require(a.node.address))
            await #expect(throws: (any Error).self) {
                _ = try await peer.sync(store: b.archive, pubsubTopic: Self.topic) { report in
                    found.withLock { if $0 == nil { $0 = report } }
                }
            }
            let reconciled = try #require(found.withLock { $0 })
            let onlyA = Set(forA.map(\.hash)).subtracting(forB.map(\.hash))
            let onlyB = Set(forB.map(\.hash)).subtracting(forA.map(\.hash))
            #expect(reconciled.need == onlyA.count && reconciled.have == onlyB.count)
            #expect(try await b.hashes(Self.topic) == Set(forB.map(\.hash)))

            // Back up: the same sync moves everything, nothing was lost on either side.
            try await server.resume()
            var report: SyncReport?
            for _ in 0..<20 where report == nil {
                report = try? await peer.sync(store: b.archive, pubsubTopic: Self.topic)
            }
            #expect(report != nil)
            #expect(try await b.hashes(Self.topic) == Set(messages.map(\.hash)))
            #expect(try await Self.archived(a, count: messages.count) == Set(messages.map(\.hash)))
            #expect(try await postgres.reconcileIndex().rebuiltPartitions == 0)
            await a.stop()
            await b.stop()
        }
    }

    @Test func aSyncDuringARestartOfTheDatabaseEndsCleanlyAndTheNextOneConverges() async throws {
        try await withPostgresServer { server in
            let pair = try await Pair(server, count: 6_000, seed: 12, oneSidedEvery: 4)
            let (a, b, messages) = (pair.a, pair.b, pair.messages)
            let peer = try a.node.client(for: try #require(b.node.address))
            let node = a.node
            let first = Task { try await node.sync(with: peer, pubsubTopic: Self.topic) }
            try await server.restart()
            // The first sync may fail with the database's error or finish; either way it ends.
            _ = await first.result
            var converged = false
            for _ in 0..<20 where !converged {
                if (try? await a.node.sync(with: peer, pubsubTopic: Self.topic)) != nil {
                    converged = try await a.hashes(Self.topic) == Set(messages.map(\.hash))
                }
            }
            #expect(converged)
            let rows = try await server.psql(
                "SELECT count(*), count(DISTINCT hash) FROM storesync_messages",
                database: String(try #require((a.archive as? PostgresArchive)?.configuration.database)))
            #expect(rows.trimmingCharacters(in: .whitespacesAndNewlines) == "\(messages.count)|\(messages.count)")
            #expect(try await b.hashes(Self.topic) == Set(messages.map(\.hash)))
            await a.stop()
            await b.stop()
        }
    }
}
