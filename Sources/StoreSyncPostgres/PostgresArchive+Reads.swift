import NIOCore
import PostgresNIO
import StoreSyncCore
import StoreSyncLMDB

/// Lookups by hash and Store v3 filter queries.
extension PostgresArchive {
    /// The stored message of each hash, nil where there is none. The index gives each hash's
    /// timestamp, so that the database reads only the partitions that hold them.
    public func messages(for hashes: [MessageHash]) async throws -> [WakuMessage?] {
        guard !hashes.isEmpty else { return [] }
        let keys = try await keyIndex.read { try $0.indexedKeys(for: hashes) }
        let present = keys.compactMap { $0?.key }
        guard !present.isEmpty else { return Array(repeating: nil, count: hashes.count) }
        let timestamps = Array(Set(present.map { Int64($0.timestamp) }))
        let wanted = present.map { ByteBuffer(bytes: $0.hash.bytes) }
        let found = try await database("reading \(present.count) messages") { client in
            var found: [MessageHash: WakuMessage] = [:]
            let rows = try await client.query(
                """
                SELECT hash, "timestamp", pubsub_topic, content_topic, version, meta, payload
                FROM storesync_messages WHERE "timestamp" = ANY(\(timestamps)::int8[]) AND hash = ANY(\(wanted)::bytea[])
                """, logger: self.logger)
            for try await (hash, timestamp, pubsub, content, version, meta, payload) in rows.decode(
                (ByteBuffer, Int64, String, String, Int64, ByteBuffer?, ByteBuffer).self)
            {
                guard let hash = MessageHash(bytes: Array(buffer: hash)) else { continue }
                found[hash] = try WakuMessage(
                    pubsubTopic: pubsub, contentTopic: content, payload: Array(buffer: payload),
                    meta: meta.map { Array(buffer: $0) }, timestamp: timestamp, ephemeral: false,
                    version: UInt32(clamping: version))
            }
            return found
        }
        return hashes.map { found[$0] }
    }

    /// Keys of stored messages matching a Store v3 filter, in the direction of travel, served by
    /// the table's (pubsub topic, content topic, timestamp, hash) or (timestamp, hash) index.
    public func queryKeys(
        pubsubTopic: String?, contentTopics: [String], timeRange: Range<UInt64>, cursor: SyncKey?, forward: Bool,
        limit: Int
    ) async throws -> [MessageStore.QueryHit] {
        guard limit > 0, !timeRange.isEmpty else { return [] }
        let lower = Int64(clamping: timeRange.lowerBound)
        let upper = Int64(clamping: timeRange.upperBound)
        var query = PostgresQuery(
            unsafeSQL:
                #"SELECT "timestamp", hash, pubsub_topic FROM storesync_messages WHERE "timestamp" >= $1 AND "timestamp" < $2"#
        )
        query.binds.append(lower)
        query.binds.append(upper)
        if let pubsubTopic {
            query.binds.append(pubsubTopic)
            query.sql += " AND pubsub_topic = $\(query.binds.count)"
        }
        if !contentTopics.isEmpty {
            query.binds.append(Array(Set(contentTopics)))
            query.sql += " AND content_topic = ANY($\(query.binds.count)::text[])"
        }
        if let cursor {
            query.binds.append(Int64(clamping: cursor.timestamp))
            query.binds.append(ByteBuffer(bytes: cursor.hash.bytes))
            query.sql +=
                #" AND ("timestamp", hash) \#(forward ? ">" : "<") ($\#(query.binds.count - 1), $\#(query.binds.count))"#
        }
        query.binds.append(limit)
        let order = forward ? "ASC" : "DESC"
        query.sql += #" ORDER BY "timestamp" \#(order), hash \#(order) LIMIT $\#(query.binds.count)"#
        let finished = query
        return try await database("querying messages") { client in
            var hits: [MessageStore.QueryHit] = []
            for try await (timestamp, hash, pubsub) in try await client.query(finished, logger: self.logger).decode(
                (Int64, ByteBuffer, String).self)
            {
                guard let hash = MessageHash(bytes: Array(buffer: hash)), timestamp >= 0 else { continue }
                hits.append(
                    MessageStore.QueryHit(key: SyncKey(timestamp: UInt64(timestamp), hash: hash), pubsubTopic: pubsub))
            }
            return hits
        }
    }
}
