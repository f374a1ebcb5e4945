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
            let offset = UInt64(index % perHour) * (Self.hour / UInt64(perHour)) + rng.next() % 1_000
            return try WakuMessage(
                pubsubTopic: "/waku/2/rs/0/\(index % 2)",
                contentTopic: "/test/1/c\(index % 3)/proto",
                payload: (0..<Int(10 + rng.next() % 100)).map { _ in UInt8(truncatingIfNeeded: rng.next()) },
                meta: index % 5 == 0 ? [UInt8(index % 256), 7] : nil,
                timestamp: Int64(start + hour * Self.hour + offset),
                version: UInt32(index % 2))
        }
    }

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
                Issue.record(
                    "a message without content topic is rejected, not \(first.outcomes[first.outcomes.count - 2])")
                return
            }
            let again = try await archive.ingest(messages)
            #expect(again.outcomes.allSatisfy { $0 == .duplicate })
            #expect(try await Self.rows(server).count == messages.count)
            #expect(try await Self.indexedKeys(archive) == Self.keys(messages))
            try await archive.keyIndex.read { try $0._checkInvariants() }
            // One partition per hour with messages, and those created ahead of the clock.
            let partitions = try await server.psql(
                "SELECT count(*) FROM pg_inherits WHERE inhparent = 'storesync_messages'::regclass", database: "archive"
            )
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
                let topics = ["/test/1/c0/proto", "/test/1/c1/proto", "/test/1/c2/proto"].filter { _ in
                    rng.next() % 2 == 0
                }
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
                    key: SyncKey(
                        timestamp: Self.base + 2 * Self.hour + 5,
                        hash: MessageHash(bytes: [UInt8](repeating: 3, count: 32))!),
                    pubsubTopic: "/waku/2/rs/0/0", contentTopic: "/test/1/c0/proto")
                let outside = IndexedKey(
                    key: SyncKey(
                        timestamp: Self.base + 40 * Self.hour,
                        hash: MessageHash(bytes: [UInt8](repeating: 4, count: 32))!),
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

            // A missing index is rebuilt whole from the archive (its windows sized by the
            // planner's estimates, which ANALYZE makes).
            try await server.psql("ANALYZE storesync_messages", database: "archive")
            try FileManager.default.removeItem(atPath: directory.sub("index-archive"))
            let rebuilt = try await Self.archive(server, directory, create: false)
            #expect(try await Self.indexedKeys(rebuilt) == Self.keys(messages))
            try await rebuilt.keyIndex.read { try $0._checkInvariants() }
            let loadDirectory = rebuilt.configuration.indexLoadDirectory
            #expect(!KeyIndexLoader.isInterrupted(scratchDirectory: loadDirectory))
            rebuilt.close()

            // A load cut off by a machine crash: its scratch directory is left, and the index
            // file, written without flushes, may be unreadable. Both are removed at open and
            // the index is loaded again.
            try FileManager.default.createDirectory(atPath: loadDirectory, withIntermediateDirectories: true)
            let file = directory.sub("index-archive") + "/data.mdb"
            let size = try #require(try FileManager.default.attributesOfItem(atPath: file)[.size] as? Int)
            try Data(repeating: 0xA5, count: size).write(to: URL(fileURLWithPath: file))
            let reloaded = try await Self.archive(server, directory, create: false)
            defer { reloaded.close() }
            #expect(!KeyIndexLoader.isInterrupted(scratchDirectory: loadDirectory))
            #expect(try await Self.indexedKeys(reloaded) == Self.keys(messages))
            try await reloaded.keyIndex.read { try $0._checkInvariants() }
        }
    }

    static func partitionCount(_ server: PostgresServer) async throws -> Int {
        Int(
            try await server.psql(
                "SELECT count(*) FROM pg_inherits WHERE inhparent = 'storesync_messages'::regclass", database: "archive"
            ).trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
    }

    /// Dead tuples in the archive's partitions as they are on disk now (pgstattuple reads the
    /// pages; the statistics collector's count lags behind).
    static func deadTuples(_ server: PostgresServer) async throws -> Int {
        try await server.psql("CREATE EXTENSION IF NOT EXISTS pgstattuple", database: "archive")
        return Int(
            try await server.psql(
                """
                SELECT coalesce(sum((pgstattuple(inhrelid::regclass)).dead_tuple_count), 0)
                FROM pg_inherits WHERE inhparent = 'storesync_messages'::regclass
                """, database: "archive"
            ).trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
    }

    @Test func timeRetentionDropsWholePartitionsAndTrimsTheOneAtTheBoundary() async throws {
        try await withPostgresServer { server in
            let directory = try TemporaryDirectory("pg")
            let archive = try await Self.archive(
                server, directory, retention: RetentionPolicy(maximumAgeSeconds: 9_000))
            defer { archive.close() }
            let messages = try Self.messages(hours: 5, perHour: 200, seed: 5)
            _ = try await archive.ingest(messages)
            let now = Self.base + 5 * Self.hour
            let floor = now - 9_000_000_000_000
            let kept = messages.filter { UInt64($0.timestamp) >= floor }
            let report = try await archive.applyRetention(now: now)
            #expect(report.byAge == messages.count - kept.count)
            #expect(archive.retentionDeletions.byAge == report.byAge)
            #expect(try await Self.rows(server).count == kept.count)
            #expect(try await Self.indexedKeys(archive) == Self.keys(kept))
            // Hours 0 and 1 went whole; hour 2 holds the boundary; hours 5 to 7 were made ahead.
            #expect(try await Self.partitionCount(server) == 6)
            // The rows deleted at the boundary were vacuumed away with it.
            #expect(try await Self.deadTuples(server) == 0)
            #expect(try await archive.retentionFloor(at: now) == SyncKey(timestamp: floor))
            try await archive.keyIndex.read { try $0._checkInvariants() }
        }
    }

    @Test func countRetentionKeepsTheNewestMessages() async throws {
        try await withPostgresServer { server in
            let directory = try TemporaryDirectory("pg")
            let archive = try await Self.archive(server, directory, retention: RetentionPolicy(maximumCount: 700))
            defer { archive.close() }
            let messages = try Self.messages(hours: 5, perHour: 200, seed: 6)
            _ = try await archive.ingest(messages)
            let report = try await archive.applyRetention(now: Self.base + 5 * Self.hour)
            let newest = Set(Self.keys(messages).sorted().suffix(700))
            #expect(report.byCount == 300)
            #expect(try await Self.indexedKeys(archive) == newest)
            #expect(try await Self.rows(server).count == 700)
            #expect(try await Self.deadTuples(server) == 0)
            #expect(try await archive.retentionFloor(at: Self.base + 5 * Self.hour) == newest.min())
        }
    }

    @Test func theSizeCapIsNeverPassed() async throws {
        try await withPostgresServer { server in
            let directory = try TemporaryDirectory("pg")
            let cap = 3 << 20
            let archive = try await Self.archive(server, directory, retention: RetentionPolicy(maximumBytes: cap))
            defer { archive.close() }
            var largest = 0
            var stored = 0
            for hour in 0..<30 {
                let batch = try Self.messages(
                    hours: 1, perHour: 300, seed: UInt64(100 + hour), start: Self.base + UInt64(hour) * Self.hour
                ).map {
                    try WakuMessage(
                        pubsubTopic: $0.pubsubTopic, contentTopic: $0.contentTopic,
                        payload: $0.payload + [UInt8](repeating: UInt8(hour), count: 900), timestamp: $0.timestamp)
                }
                let result = try await archive.ingest(batch)
                stored += result.stored
                largest = max(largest, try await archive.diskBytes())
                #expect(largest <= cap, "after hour \(hour): \(largest) bytes over a cap of \(cap)")
            }
            // About 10 MB was written: most of it went, the newest hours stayed whole.
            #expect(stored == 30 * 300)
            #expect(archive.retentionDeletions.bySize > 0)
            let left = try await Self.rows(server).count
            #expect(left == stored - archive.retentionDeletions.bySize)
            #expect(try await Self.indexedKeys(archive).count == left)
            #expect(try await Self.deadTuples(server) == 0)
        }
    }

    @Test func aWriteTheCapCannotTakeIsUnavailableAndPartitionsAreBounded() async throws {
        try await withPostgresServer { server in
            let directory = try TemporaryDirectory("pg")
            try await server.psql("CREATE DATABASE archive")
            var configuration = try PostgresArchiveConfiguration(
                url: server.url(database: "archive"),
                index: StoreConfiguration(directory: directory.sub("index"), durability: .noSync),
                retention: RetentionPolicy(maximumBytes: 1 << 20))
            configuration.maximumPartitions = 4
            configuration.partitionsAhead = 0
            let archive = try await PostgresArchive.open(configuration, now: Self.base)
            defer { archive.close() }
            // One message per hour over six hours: the archive makes four partitions, no more.
            let spread = try Self.messages(hours: 6, perHour: 1, seed: 9)
            let outcomes = try await archive.ingest(spread).outcomes
            #expect(outcomes.prefix(4).allSatisfy { $0 == .stored })
            #expect(
                outcomes.suffix(2).allSatisfy {
                    if case .rejected(let reason) = $0 { return reason.contains("maximum of 4 partitions") }
                    return false
                })
            #expect(try await Self.partitionCount(server) == 4)
            // A write larger than the whole cap stores nothing and deletes nothing.
            let huge = try (0..<40).map { index in
                try WakuMessage(
                    pubsubTopic: "/waku/2/rs/0/0", contentTopic: "/t/1/huge/proto",
                    payload: [UInt8](repeating: UInt8(index), count: 30_000), timestamp: Int64(Self.base) + Int64(index)
                )
            }
            #expect(try await archive.ingest(huge).outcomes.allSatisfy { $0 == .unavailable })
            #expect(try await Self.rows(server).count == 4)
        }
    }

    @Test func tlsIsUsedAsTheURLSays() async throws {
        try await withPostgresServer(tls: true) { server in
            let directory = try TemporaryDirectory("pg")
            try await server.psql("CREATE DATABASE archive")
            try await server.psql("CREATE DATABASE clientcert")
            let root = try #require(server.certificate)
            let (certificate, key) = (try #require(server.clientCertificate), try #require(server.clientKey))
            func open(_ host: String, _ parameters: String, database: String = "archive") async throws
                -> PostgresArchive
            {
                var configuration = try PostgresArchiveConfiguration(
                    url: "postgres://storesync:\(server.password)@\(host):\(server.port)/\(database)?\(parameters)",
                    index: StoreConfiguration(directory: directory.sub("index-\(database)"), durability: .noSync))
                configuration.operationTimeout = 60
                return try await PostgresArchive.open(configuration, now: Self.base)
            }
            let messages = try Self.messages(hours: 1, perHour: 50, seed: 21)
            // The server takes no TCP connection without TLS: each archive that opens used it.
            for (host, parameters) in [
                ("127.0.0.1", "sslmode=require"), ("127.0.0.1", "sslmode=prefer"),
                ("127.0.0.1", "sslmode=verify-ca&sslrootcert=\(root)"),
                ("localhost", "sslmode=verify-full&sslrootcert=\(root)"),
            ] {
                let archive = try await open(host, parameters)
                _ = try await archive.ingest(messages)
                #expect(try await archive.messages(for: messages.map(\.hash)) == messages.map { $0 })
                archive.close()
            }
            // A database that asks for a client certificate gets the one the URL names.
            let withCertificate = try await open(
                "127.0.0.1", "sslmode=require&sslcert=\(certificate)&sslkey=\(key)", database: "clientcert")
            _ = try await withCertificate.ingest(messages)
            #expect(try await withCertificate.messages(for: [messages[0].hash]) == [messages[0]])
            withCertificate.close()
            await #expect {
                _ = try await open("127.0.0.1", "sslmode=require", database: "clientcert")
            } throws: { error in
                guard case .authenticationFailed = error as? PostgresArchiveError else { return false }
                return "\(error)".contains("certificate")
            }
            // Without TLS the server refuses; a certificate no root vouches for is refused here.
            await #expect {
                _ = try await open("127.0.0.1", "sslmode=disable")
            } throws: { error in
                guard case .authenticationFailed = error as? PostgresArchiveError else { return false }
                return "\(error)".contains("no encryption")
            }
            await #expect {
                _ = try await open("localhost", "sslmode=verify-full")
            } throws: { error in
                guard case .unreachable = error as? PostgresArchiveError else { return false }
                return true
            }
            // Settings that cannot work are refused before connecting.
            for parameters in [
                "sslmode=verify-full&sslrootcert=\(root)", "sslmode=sometimes", "sslmode=require&sslcert=x",
                "sslmode=verify-ca&sslrootcert=\(directory.sub("absent.pem"))",
                "sslmode=require&sslcert=\(certificate)",
                "sslmode=disable&sslcert=\(certificate)&sslkey=\(key)",
                "sslmode=require&sslcert=\(directory.sub("absent.pem"))&sslkey=\(key)",
            ] {
                await #expect {
                    _ = try await open("127.0.0.1", parameters)
                } throws: { error in
                    guard case .invalidURL = error as? PostgresArchiveError else { return false }
                    return true
                }
            }
        }
    }

    @Test func wrongCredentialsAnAbsentServerAndANewerSchemaAreClearErrors() async throws {
        try await withPostgresServer { server in
            let directory = try TemporaryDirectory("pg")
            await #expect {
                _ = try await Self.archive(server, directory, password: "not-the-password")
            } throws: { error in
                guard case .authenticationFailed = error as? PostgresArchiveError else { return false }
                return "\(error)".contains("refused the credentials")
            }
            let absent = try PostgresArchiveConfiguration(
                url: "postgres://storesync:x@127.0.0.1:1/archive",
                index: StoreConfiguration(directory: directory.sub("absent"), durability: .noSync))
            await #expect {
                _ = try await PostgresArchive.open(absent)
            } throws: { error in
                guard case .unreachable = error as? PostgresArchiveError else { return false }
                return true
            }
            #expect(throws: PostgresArchiveError.self) {
                _ = try PostgresArchiveConfiguration(
                    url: "mysql://u@h/db", index: StoreConfiguration(directory: directory.sub("x")))
            }
            let archive = try await Self.archive(server, directory, create: false)
            archive.close()
            try await server.psql("INSERT INTO storesync_schema (version) VALUES (99)", database: "archive")
            await #expect(
                throws: PostgresArchiveError.schemaTooNew(found: 99, supported: PostgresArchive.schemaVersion)
            ) {
                _ = try await Self.archive(server, directory, create: false)
            }
        }
    }

    @Test func aRestartedDatabaseLosesNothingAcknowledgedAndStoresNothingTwice() async throws {
        try await withPostgresServer { server in
            let directory = try TemporaryDirectory("pg")
            let archive = try await Self.archive(server, directory)
            defer { archive.close() }
            let messages = try Self.messages(hours: 2, perHour: 3_000, seed: 7)
            let batches = stride(from: 0, to: messages.count, by: 500).map {
                Array(messages[$0..<min($0 + 500, messages.count)])
            }
            var acknowledged = Set<MessageHash>()
            // The server goes down hard while ingest runs: calls fail with a clear error or succeed.
            let ingesting = Task {
                var outcomes: [(MessageHash, MessageStore.Outcome)] = []
                var failures: [String] = []
                for batch in batches {
                    do {
                        let result = try await archive.ingest(batch)
                        outcomes += zip(batch.map(\.hash), result.outcomes)
                    } catch {
                        failures.append("\(error)")
                    }
                }
                return (outcomes, failures)
            }
            try await server.restart()
            let (outcomes, failures) = await ingesting.value
            for (hash, outcome) in outcomes where outcome == .stored || outcome == .duplicate {
                acknowledged.insert(hash)
            }
            #expect(failures.allSatisfy { $0.contains("PostgreSQL") }, "\(failures)")
            // Whatever was acknowledged is there; sending everything again stores only the rest.
            let stored = Set(try await Self.rows(server))
            #expect(acknowledged.allSatisfy { stored.contains($0.hex) })
            var again = 0
            for batch in batches {
                var attempt = 0
                while true {
                    do {
                        again += try await archive.ingest(batch).stored
                        break
                    } catch {
                        attempt += 1
                        // The pool's connections to the old server are found dead one by one.
                        #expect(attempt < 20, "ingest after the restart keeps failing: \(error)")
                        if attempt >= 20 { return }
                    }
                }
            }
            #expect(again == messages.count - stored.count)
            let rows = try await Self.rows(server)
            #expect(rows.count == messages.count && Set(rows).count == rows.count)
            #expect(try await Self.indexedKeys(archive) == Self.keys(messages))
        }
    }

    @Test func aPoolOfOneConnectionQueuesCallsAndAnswersThemAll() async throws {
        try await withPostgresServer { server in
            let directory = try TemporaryDirectory("pg")
            try await server.psql("CREATE DATABASE archive")
            var configuration = try PostgresArchiveConfiguration(
                url: server.url(database: "archive"),
                index: StoreConfiguration(directory: directory.sub("index"), durability: .noSync))
            configuration.connections = 1
            let archive = try await PostgresArchive.open(configuration, now: Self.base)
            defer { archive.close() }
            let messages = try Self.messages(hours: 1, perHour: 2_000, seed: 8)
            let found = try await withThrowingTaskGroup(of: Int.self) { group in
                for slice in 0..<20 {
                    group.addTask {
                        let mine = Array(messages[slice * 100..<(slice + 1) * 100])
                        _ = try await archive.ingest(mine)
                        return try await archive.messages(for: mine.map(\.hash)).compactMap { $0 }.count
                    }
                }
                return try await group.reduce(0, +)
            }
            #expect(found == messages.count)
        }
    }
}
