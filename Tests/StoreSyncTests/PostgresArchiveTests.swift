import Foundation
import StoreSyncCore
import StoreSyncLMDB
import StoreSyncNode
import StoreSyncPostgres
import StoreSyncTestSupport
import Testing

/// The PostgreSQL archive against a server of each test's own: ingest, reads, partitions,
/// the key index beside it, retention and faults.
@Suite("PostgreSQL archive")
struct PostgresArchiveTests {
    static let hour: UInt64 = 3_600_000_000_000
    /// The start of an hour, so that partitions fall on known bounds.
    static let base: UInt64 = 1_699_999_200_000_000_000

    /// A database of its own on `server` and an archive on it, its index in `directory`.
    static func archive(
        _ server: PostgresServer, _ directory: TemporaryDirectory, database: String = "archive",
        retention: RetentionPolicy = .none, now: UInt64 = base, create: Bool = true, password: String? = nil
    ) async throws -> PostgresArchive {
        if create { try await server.psql("CREATE DATABASE \(database)") }
        var configuration = try PostgresArchiveConfiguration(
            url: server.url(database: database, password: password),
            index: StoreConfiguration(directory: directory.sub("index-\(database)"), durability: .noSync),
            retention: retention)
        configuration.operationTimeout = 120
        return try await PostgresArchive.open(configuration, now: now)
    }

    /// `perHour` messages in each of `hours` hours from `base`, on two pubsub and three content
    /// topics, some with meta.
    static func messages(hours: Int, perHour: Int, seed: UInt64, start: UInt64 = base) throws -> [WakuMessage] {
        var rng = SplitMix64(seed: seed)
        return try (0..<hours * perHour).map { index in
            let hour = UInt64(index / perHour)
            let offset = UInt64(index % perHour) * (hour_ / UInt64(perHour)) + rng.next() % 1_000
            return try WakuMessage(
                pubsubTopic: "/waku/2/rs/0/\(index % 2)",
                contentTopic: "/test/1/c\(index % 3)/proto",
                payload: (0..<Int(10 + rng.next() % 100)).map { _ in UInt8(truncatingIfNeeded: rng.next()) },
                meta: index % 5 == 0 ? [UInt8(index % 256), 7] : nil,
                timestamp: Int64(start + hour * hour_ + offset),
                version: UInt32(index % 2))
        }
    }
    private static let hour_ = hour

    /// Row count and hashes of the whole table, as PostgreSQL has them.
    static func rows(_ server: PostgresServer, database: String = "archive") async throws -> [String] {
        try await server.psql("SELECT encode(hash, 'hex') FROM storesync_messages ORDER BY 1", database: database)
            .split(separator: "\n").map(String.init)
    }

    /// Every key of the index, over all pubsub topics.
    static func indexedKeys(_ archive: PostgresArchive) async throws -> Set<SyncKey> {
        try await archive.keyIndex.read { store in
            var keys = Set<SyncKey>()
            for topic in try store.pubsubTopics() {
                try store.withSnapshot(pubsubTopic: topic) { snapshot in
                    try snapshot.forEachKey(in: 0..<snapshot.count()) { key in
                        keys.insert(key)
                        return true
                    }
                }
            }
            return keys
        }
    }

    static func keys(_ messages: [WakuMessage]) -> Set<SyncKey> {
        Set(messages.map { SyncKey(timestamp: UInt64($0.timestamp), hash: $0.hash) })
    }

    @Test func ingestIsIdempotentAndReportsEveryOutcome() async throws {
        try await withPostgresServer { server in
            let directory = try TemporaryDirectory("pg")
            let archive = try await Self.archive(server, directory)
            defer { archive.close() }
            #expect(try await archive.storedSchemaVersion() == PostgresArchive.schemaVersion)
            let messages = try Self.messages(hours: 3, perHour: 400, seed: 1)
            let ephemeral = try WakuMessage(
                pubsubTopic: "/waku/2/rs/0/0", contentTopic: "/t/1/e/proto", payload: [1], timestamp: Int64(Self.base),
                ephemeral: true)
            let noTopic = try WakuMessage(
                pubsubTopic: "/waku/2/rs/0/0", contentTopic: "", payload: [2], timestamp: Int64(Self.base))
            let first = try await archive.ingest([ephemeral] + messages + [noTopic, messages[5]])
            #expect(first.outcomes.first == .ephemeral)
            #expect(first.outcomes.filter { $0 == .stored }.count == messages.count)
            #expect(first.outcomes.last == .duplicate)
            guard case .rejected = first.outcomes[first.outcomes.count - 2] else {
                Issue.record("a message without content topic is rejected, not \(first.outcomes[first.outcomes.count - 2])")
                return
            }
            let again = try await archive.ingest(messages)
            #expect(again.outcomes.allSatisfy { $0 == .duplicate })
            #expect(try await Self.rows(server).count == messages.count)
            #expect(try await Self.indexedKeys(archive) == Self.keys(messages))
            try await archive.keyIndex.read { try $0._checkInvariants() }
            // One partition per hour with messages, and those created ahead of the clock.
            let partitions = try await server.psql(
                "SELECT count(*) FROM pg_inherits WHERE inhparent = 'storesync_messages'::regclass", database: "archive")
            #expect(partitions.trimmingCharacters(in: .whitespacesAndNewlines) == "3")
            // Lookups return the messages as stored, meta and version included; unknown hashes nil.
            let asked = [messages[0].hash, MessageHash(bytes: [UInt8](repeating: 9, count: 32))!, messages[777].hash]
            let found = try await archive.messages(for: asked)
            #expect(found == [messages[0], nil, messages[777]])
        }
    }

    @Test func keyQueriesMatchTheLMDBStoreOnTheSameMessages() async throws {
        try await withPostgresServer { server in
            let directory = try TemporaryDirectory("pg")
            let archive = try await Self.archive(server, directory)
            defer { archive.close() }
            let lmdb = try MessageStore(StoreConfiguration(directory: directory.sub("lmdb"), durability: .noSync))
            let messages = try Self.messages(hours: 4, perHour: 300, seed: 2)
            _ = try await archive.ingest(messages)
            _ = try await lmdb.ingest(messages)
            var rng = SplitMix64(seed: 3)
            let sorted = Self.keys(messages).sorted()
            for round in 0..<60 {
                let a = Self.base + rng.next() % (4 * Self.hour)
                let b = Self.base + rng.next() % (4 * Self.hour)
                let topics = ["/test/1/c0/proto", "/test/1/c1/proto", "/test/1/c2/proto"].filter { _ in rng.next() % 2 == 0 }
                let pubsub = round % 3 == 0 ? nil : "/waku/2/rs/0/\(rng.next() % 2)"
                let cursor = round % 2 == 0 ? nil : sorted[Int(rng.next() % UInt64(sorted.count))]
                let query = ArchiveQuery(
                    pubsubTopic: pubsub, contentTopics: pubsub == nil ? [] : topics, timeRange: min(a, b)..<max(a, b),
                    cursor: cursor, forward: rng.next() % 2 == 0, limit: 1 + Int(rng.next() % 120))
                let fromPostgres = try await (archive as any MessageArchive).queryKeys(query)
                let fromLMDB = try await (lmdb as any MessageArchive).queryKeys(query)
                #expect(fromPostgres == fromLMDB, "query \(round): \(query)")
            }
        }
    }

    @Test func theIndexIsComparedPartitionByPartitionAndHealed() async throws {
        try await withPostgresServer { server in
            let directory = try TemporaryDirectory("pg")
            let messages = try Self.messages(hours: 3, perHour: 500, seed: 4)
            do {
                let archive = try await Self.archive(server, directory)
                _ = try await archive.ingest(messages)
                // A crash between the two writes: rows of the second hour the index never got, and
                // a key of the third hour whose row never reached the database.
                let lost = messages.filter { UInt64($0.timestamp) / Self.hour == Self.base / Self.hour + 1 }.prefix(40)
                for message in lost {
                    let key = SyncKey(timestamp: UInt64(message.timestamp), hash: message.hash)
                    _ = try await archive.keyIndex.write { try $0.removeKeys(in: key..<key.successor) }
                }
                let stray = IndexedKey(
                    key: SyncKey(timestamp: Self.base + 2 * Self.hour + 5, hash: MessageHash(bytes: [UInt8](repeating: 3, count: 32))!),
                    pubsubTopic: "/waku/2/rs/0/0", contentTopic: "/test/1/c0/proto")
                let outside = IndexedKey(
                    key: SyncKey(timestamp: Self.base + 40 * Self.hour, hash: MessageHash(bytes: [UInt8](repeating: 4, count: 32))!),
                    pubsubTopic: "/waku/2/rs/0/1", contentTopic: "/test/1/c1/proto")
                _ = try await archive.keyIndex.write { try $0.index([stray, outside]) }
                #expect(try await Self.indexedKeys(archive) != Self.keys(messages))
                archive.close()
            }
            let reopened = try await Self.archive(server, directory, create: false)
            #expect(try await Self.indexedKeys(reopened) == Self.keys(messages))
            // Nothing differs any more: a second check rebuilds nothing.
            let check = try await reopened.reconcileIndex()
            #expect(check == PostgresArchive.IndexCheck(partitions: 3))
            try await reopened.keyIndex.read { try $0._checkInvariants() }
            reopened.close()

            // A missing index is rebuilt whole from the archive.
            try FileManager.default.removeItem(atPath: directory.sub("index-archive"))
            let rebuilt = try await Self.archive(server, directory, create: false)
            defer { rebuilt.close() }
            #expect(try await Self.indexedKeys(rebuilt) == Self.keys(messages))
        }
    }
}
