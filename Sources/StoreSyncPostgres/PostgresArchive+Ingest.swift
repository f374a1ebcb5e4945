import NIOCore
import PostgresNIO
import StoreSyncCore
import StoreSyncLMDB

/// Batched, idempotent ingest: PostgreSQL first, then the key index.
extension PostgresArchive {
    /// Rows one INSERT statement carries.
    static let insertBatch = 5_000

    /// Stores messages: one multi-row INSERT per batch (`ON CONFLICT DO NOTHING`, which names
    /// the rows it wrote), then their keys in the index, stored and duplicates alike, so that a
    /// key lost to a crash between the two writes is indexed again by the next ingest of its
    /// message. Under a size cap, whole oldest partitions go first when the write would pass it.
    public func ingest(_ messages: [WakuMessage]) async throws -> MessageStore.IngestResult {
        let (outcomes, prepared) = MessageStore.prepare(messages)
        var result = MessageStore.IngestResult(outcomes: outcomes)
        var rows = prepared.enumerated().compactMap { index, row in
            row.map { (index: index, key: $0.key, message: $0.message) }
        }
        guard !rows.isEmpty else { return result }
        let refused = try await ensurePartitions(for: Set(rows.map { Int64($0.key.timestamp) }))
        if !refused.isEmpty {
            for row in rows where refused.contains(Int64(row.key.timestamp)) {
                result.outcomes[row.index] = .rejected(
                    "the archive holds its maximum of \(configuration.maximumPartitions) partitions")
            }
            rows.removeAll { refused.contains(Int64($0.key.timestamp)) }
        }
        if configuration.retention.maximumBytes != nil, !rows.isEmpty {
            let incoming = rows.reduce(0) { $0 + Self.estimatedDiskBytes(of: $1.message) }
            if try await !makeRoom(for: incoming) {
                for row in rows { result.outcomes[row.index] = .unavailable }
                return result
            }
        }
        var start = 0
        while start < rows.count {
            let batch = Array(rows[start..<min(rows.count, start + Self.insertBatch)])
            start += batch.count
            let written = try await insert(batch.map(\.message))
            var seen = Set<MessageHash>()
            for row in batch {
                // The first of equal messages in a call is the one written.
                let isNew = written.contains(row.key.hash) && seen.insert(row.key.hash).inserted
                result.outcomes[row.index] = isNew ? .stored : .duplicate
            }
            let entries = batch.map {
                IndexedKey(key: $0.key, pubsubTopic: $0.message.pubsubTopic, contentTopic: $0.message.contentTopic)
            }
            _ = try await keyIndex.write { try $0.index(entries) }
        }
        return result
    }

    /// Inserts rows; returns the hashes of those newly written.
    private func insert(_ messages: [WakuMessage]) async throws -> Set<MessageHash> {
        let hasher = SHA256Hasher()
        let hashes = messages.map { ByteBuffer(bytes: $0.hash(using: hasher).bytes) }
        let timestamps = messages.map(\.timestamp)
        let pubsubTopics = messages.map(\.pubsubTopic)
        let contentTopics = messages.map(\.contentTopic)
        let versions = messages.map { Int64($0.version) }
        let hasMeta = messages.map { $0.meta != nil }
        let metas = messages.map { ByteBuffer(bytes: $0.meta ?? []) }
        let payloads = messages.map { ByteBuffer(bytes: $0.payload) }
        return try await database("storing \(messages.count) messages") { client in
            var written = Set<MessageHash>()
            let rows = try await client.query(
                """
                INSERT INTO storesync_messages (hash, "timestamp", pubsub_topic, content_topic, version, meta, payload)
                SELECT h, t, p, c, v, CASE WHEN hm THEN m END, d
                FROM unnest(\(hashes)::bytea[], \(timestamps)::int8[], \(pubsubTopics)::text[], \(contentTopics)::text[],
                            \(versions)::int8[], \(hasMeta)::bool[], \(metas)::bytea[], \(payloads)::bytea[])
                    AS r(h, t, p, c, v, hm, m, d)
                ON CONFLICT DO NOTHING
                RETURNING hash
                """, logger: self.logger)
            for try await hash in rows.decode(ByteBuffer.self) {
                if let hash = MessageHash(bytes: Array(buffer: hash)) { written.insert(hash) }
            }
            return written
        }
    }

    /// What a message may take on disk in PostgreSQL: its row and its entries in the three
    /// indexes, with room for page and tuple overheads.
    static func estimatedDiskBytes(of message: WakuMessage) -> Int {
        let row =
            32 + 8 + 8 + message.pubsubTopic.utf8.count + message.contentTopic.utf8.count
            + (message.meta?.count ?? 0) + message.payload.count + 40
        let indexes = 3 * (32 + 8 + 24) + message.pubsubTopic.utf8.count + message.contentTopic.utf8.count
        return 2 * (row + indexes)
    }
}
