import Foundation
import StoreSyncCore
import StoreSyncLMDB
import StoreSyncNode
import StoreSyncPostgres
import StoreSyncTestSupport
import Testing

/// `storesync import --from-nwaku-postgres`: a reference node's archive (its schema, hex columns
/// and all) copied into this node's archives, checked row by row, and resumed when cut short.
@Suite("Import from a reference node's PostgreSQL archive")
struct NwakuImportTests {
    /// A database laid out as the reference node's schema `version` leaves it: the `version`
    /// table, the `messages` table partitioned by timestamp with text columns of hex, and the
    /// `messages_lookup` table.
    static func referenceArchive(
        _ server: PostgresServer, version: Int = 8, messages: [WakuMessage], tampered: Set<Int> = [],
        malformed: Set<Int> = []
    ) async throws -> String {
        let database = "nwaku_\(UUID().uuidString.prefix(8).lowercased())"
        try await server.psql("CREATE DATABASE \(database)")
        var sql = """
            CREATE TABLE version (version INTEGER NOT NULL);
            INSERT INTO version (version) VALUES (\(version));
            CREATE TABLE messages (
                id VARCHAR, messageHash VARCHAR NOT NULL, pubsubTopic VARCHAR NOT NULL,
                contentTopic VARCHAR NOT NULL, payload VARCHAR, version INTEGER NOT NULL,
                timestamp BIGINT NOT NULL, meta VARCHAR,
                CONSTRAINT messageIndex PRIMARY KEY (messageHash, timestamp)
            ) PARTITION BY RANGE (timestamp);
            CREATE TABLE messages_lookup (
                timestamp BIGINT NOT NULL, messageHash VARCHAR NOT NULL,
                CONSTRAINT messageIndexLookupTable PRIMARY KEY (messageHash, timestamp)
            ) PARTITION BY RANGE (timestamp);

            """
        let hours = Set(messages.map { $0.timestamp / 3_600_000_000_000 })
        for hour in hours {
            let start = hour * 3_600_000_000_000
            sql += """
                CREATE TABLE messages_\(start / 1_000_000_000)_\(start / 1_000_000_000 + 3_600) PARTITION OF messages
                    FOR VALUES FROM (\(start)) TO (\(start + 3_600_000_000_000));

                """
        }
        for (index, message) in messages.enumerated() {
            var hash = Hex.encode(message.hash.bytes)
            if index % 7 == 0 { hash = hash.uppercased() }
            var payload = Hex.encode(message.payload)
            if tampered.contains(index) { payload = Hex.encode(message.payload + [1]) }
            if malformed.contains(index) { payload = "zz" + payload }
            let meta = message.meta.map { "'\(Hex.encode($0))'" } ?? (index % 2 == 0 ? "NULL" : "''")
            sql += """
                INSERT INTO messages VALUES ('0', '\(hash)', '\(message.pubsubTopic)', '\(message.contentTopic)', \
                '\(payload)', \(message.version), \(message.timestamp), \(meta));

                """
        }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("\(database).sql")
        try Data(sql.utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        try await server.psql(file: file.path, database: database)
        return database
    }

    @Test func everyRowIsCheckedAndTheValidOnesStoredInAPostgresArchive() async throws {
        try await withPostgresServer { server in
            let messages = try PostgresArchiveTests.messages(hours: 3, perHour: 400, seed: 21)
            let tampered: Set<Int> = [3, 500, 901]
            let malformed: Set<Int> = [10, 20]
            let database = try await Self.referenceArchive(
                server, messages: messages, tampered: tampered, malformed: malformed)
            let directory = try TemporaryDirectory("nwaku")
            let archive = try await PostgresArchiveTests.archive(server, directory, database: "target")
            defer { archive.close() }
            let source = try await NwakuArchiveReader.open(url: server.url(database: database))
            defer { source.close() }
            #expect(source.schemaVersion == 8)
            let report = try await NwakuImport(pageSize: 250).run(from: source, into: archive)
            let valid = messages.enumerated().filter { !tampered.contains($0.offset) && !malformed.contains($0.offset) }
                .map(\.element)
            #expect(report.read == messages.count && report.total == messages.count)
            #expect(report.mismatched == tampered.count)
            #expect(report.counts.stored == valid.count && report.counts.rejected == tampered.count + malformed.count)
            #expect(Set(report.mismatchedHashes) == Set(tampered.map { Hex.encode(messages[$0].hash.bytes) }))
            #expect(try await PostgresArchiveTests.indexedKeys(archive) == PostgresArchiveTests.keys(valid))
            let stored = try await archive.messages(for: valid.map(\.hash))
            #expect(stored == valid.map { $0 })
            // Again: the marker says where the last run reached; nothing new is stored.
            let again = try await NwakuImport(pageSize: 250).run(from: source, into: archive)
            #expect(again.resumedFrom == messages.map(\.timestamp).max())
            #expect(again.counts.stored == 0)
        }
    }

    @Test func anImportCutShortResumesWhereItStopped() async throws {
        try await withPostgresServer { server in
            let messages = try PostgresArchiveTests.messages(hours: 2, perHour: 1_000, seed: 22)
            let database = try await Self.referenceArchive(server, version: 7, messages: messages)
            let directory = try TemporaryDirectory("nwaku")
            let store = try MessageStore(StoreConfiguration(directory: directory.sub("store"), durability: .noSync))
            let source = try await NwakuArchiveReader.open(url: server.url(database: database))
            defer { source.close() }
            // The first run is cancelled once it has stored three pages.
            let importer = NwakuImport(pageSize: 300)
            let first = Task {
                try await importer.run(from: source, into: store) { report in
                    if report.read >= 900 { withUnsafeCurrentTask { $0?.cancel() } }
                }
            }
            await #expect(throws: CancellationError.self) { _ = try await first.value }
            let partial = try await store.read { try $0.messageCount() }
            #expect(partial >= 900 && partial < messages.count)
            let second = try await importer.run(from: source, into: store)
            #expect(second.resumedFrom != nil)
            #expect(second.counts.stored == messages.count - partial)
            #expect(second.read < messages.count)
            #expect(try await store.read { try $0.messageCount() } == messages.count)
            try store._checkInvariants()
        }
    }

    @Test func anotherSchemaVersionIsRefused() async throws {
        try await withPostgresServer { server in
            let database = try await Self.referenceArchive(server, version: 5, messages: [])
            await #expect {
                _ = try await NwakuArchiveReader.open(url: server.url(database: database))
            } throws: { error in
                "\(error)".contains("schema is version 5")
            }
        }
    }
}
