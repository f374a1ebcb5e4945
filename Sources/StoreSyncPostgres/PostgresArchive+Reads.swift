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
        let keys = try await keyIndex.read { try $0.keys(for: hashes) }
        let present = keys.compactMap { $0 }
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

    /// Keys of stored messages matching a Store v3 filter, in the direction of travel. With
    /// content topics, each topic is read on its own from the (pubsub topic, content topic,
    /// timestamp, hash) index, which gives the order (an index scan that stops at the limit),
    /// and the pages are merged; otherwise the (timestamp, hash) index is read.
    public func queryKeys(
        pubsubTopic: String?, contentTopics: [String], timeRange: Range<UInt64>, cursor: SyncKey?, forward: Bool,
        limit: Int
    ) async throws -> [MessageStore.QueryHit] {
        guard limit > 0, !timeRange.isEmpty else { return [] }
        var query = PostgresQuery(unsafeSQL: "")
        func bind(_ value: some PostgresNonThrowingEncodable & Sendable) -> String {
            query.binds.append(value)
            return "$\(query.binds.count)"
        }
        let order = forward ? "ASC" : "DESC"
        var conditions = [
            #""timestamp" >= \#(bind(Int64(clamping: timeRange.lowerBound)))"#,
            #""timestamp" < \#(bind(Int64(clamping: timeRange.upperBound)))"#,
        ]
        if let cursor {
            let timestamp = bind(Int64(clamping: cursor.timestamp))
            let hash = bind(ByteBuffer(bytes: cursor.hash.bytes))
            conditions.append(#"("timestamp", hash) \#(forward ? ">" : "<") (\#(timestamp), \#(hash))"#)
        }
        if let pubsubTopic { conditions.append("pubsub_topic = \(bind(pubsubTopic))") }
        let count = bind(limit)
        let ordered = #"ORDER BY "timestamp" \#(order), hash \#(order) LIMIT \#(count)"#
        if contentTopics.isEmpty {
            query.sql = #"""
                SELECT "timestamp", hash, pubsub_topic FROM storesync_messages
                WHERE \#(conditions.joined(separator: " AND ")) \#(ordered)
                """#
        } else {
            let topics = bind(Array(Set(contentTopics)))
            query.sql = #"""
                SELECT m."timestamp", m.hash, m.pubsub_topic FROM unnest(\#(topics)::text[]) AS c(topic)
                CROSS JOIN LATERAL (
                    SELECT "timestamp", hash, pubsub_topic FROM storesync_messages
                    WHERE content_topic = c.topic AND \#(conditions.joined(separator: " AND ")) \#(ordered)
                ) AS m
                \#(ordered)
                """#
        }
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
