import NIOCore
import PostgresNIO
import StoreSyncCore
import StoreSyncLMDB

/// The key index compared with the archive, partition by partition, and healed where they differ.
extension PostgresArchive {
    /// What a comparison of the index with the archive found and did.
    public struct IndexCheck: Equatable, Sendable {
        /// Partitions compared.
        public var partitions = 0
        /// Partitions whose keys were indexed anew.
        public var rebuiltPartitions = 0
        /// Keys written to the index by those rebuilds.
        public var indexedKeys = 0
        /// Keys the index held where the archive has no partition, removed.
        public var removedKeys = 0

        public init(partitions: Int = 0, rebuiltPartitions: Int = 0, indexedKeys: Int = 0, removedKeys: Int = 0) {
            self.partitions = partitions
            self.rebuiltPartitions = rebuiltPartitions
            self.indexedKeys = indexedKeys
            self.removedKeys = removedKeys
        }
    }

    /// Rows read from the database per step of a rebuild.
    static let rebuildBatch = 50_000

    /// Compares, for every partition, the count and XOR of the hashes in the archive with those
    /// of the index over the same time range; rebuilds the index of each partition that
    /// differs, and removes index keys that lie in no partition. A missing index is rebuilt
    /// whole this way; a crash between a database write and its index write heals here.
    @discardableResult
    public func reconcileIndex() async throws -> IndexCheck {
        var check = IndexCheck()
        let partitions = try await readPartitions()
        var covered = Int64(0)
        for partition in partitions {
            if partition.range.lowerBound > covered {
                check.removedKeys += try await removeIndexKeys(in: covered..<partition.range.lowerBound)
            }
            covered = partition.range.upperBound
            check.partitions += 1
            let archived = try await summary(of: partition)
            let indexed = try await indexSummary(of: partition.range)
            guard archived != indexed else { continue }
            logger.info(
                "index of \(partition.name) differs from the archive (\(indexed.count) keys, \(archived.count) rows): rebuilding it"
            )
            check.rebuiltPartitions += 1
            check.indexedKeys += try await rebuildIndex(of: partition)
        }
        if covered < Int64.max {
            check.removedKeys += try await removeIndexKeys(in: covered..<Int64.max)
        }
        return check
    }

    /// Count and XOR of the partition's hashes, computed by the database.
    func summary(of partition: Partition) async throws -> Summary {
        try await database("summing \(partition.name)") { client in
            var summary = Summary(count: 0, xor: .zero)
            let rows = try await client.query(
                PostgresQuery(
                    unsafeSQL:
                        "SELECT count(*), coalesce(bit_xor(('x' || encode(hash, 'hex'))::bit(256))::text, '') FROM \(partition.name)"
                ), logger: self.logger)
            for try await (count, bits) in rows.decode((Int, String).self) {
                summary = Summary(count: count, xor: Summary.hash(bits: bits))
            }
            return summary
        }
    }

    /// Count and XOR of the index's keys with timestamps in `range`, over every pubsub topic.
    func indexSummary(of range: Range<Int64>) async throws -> Summary {
        guard range.lowerBound >= 0, !range.isEmpty else { return Summary(count: 0, xor: .zero) }
        let lower = SyncKey(timestamp: UInt64(range.lowerBound))
        let upper = SyncKey(
            timestamp: UInt64(range.upperBound - 1), hash: MessageHash(bytes: [UInt8](repeating: 0xFF, count: 32))!)
        return try await keyIndex.read { store in
            try store.withXorSnapshot { snapshot in
                let scope = SyncScope()
                return Summary(
                    count: try snapshot.count(from: lower, through: upper, in: scope),
                    xor: try snapshot.xor(from: lower, through: upper, in: scope))
            }
        }
    }

    private func removeIndexKeys(in range: Range<Int64>) async throws -> Int {
        guard range.lowerBound >= 0, !range.isEmpty else { return 0 }
        let keys = SyncKey(timestamp: UInt64(range.lowerBound))..<SyncKey(timestamp: UInt64(range.upperBound))
        return try await keyIndex.write { try $0.removeKeys(in: keys) }
    }

    /// Replaces the index's keys of a partition's range with the partition's rows, read in key
    /// order a batch at a time. Returns how many keys were indexed.
    func rebuildIndex(of partition: Partition) async throws -> Int {
        _ = try await removeIndexKeys(in: partition.range)
        var after: (Int64, ByteBuffer)?
        var indexed = 0
        while true {
            let cursor = after
            let batch = try await database("reading keys of \(partition.name)") { client in
                var query = PostgresQuery(
                    unsafeSQL: #"SELECT "timestamp", hash, pubsub_topic, content_topic FROM \#(partition.name)"#)
                if let cursor {
                    query.binds.append(cursor.0)
                    query.binds.append(cursor.1)
                    query.sql += #" WHERE ("timestamp", hash) > ($1, $2)"#
                }
                query.sql += #" ORDER BY "timestamp", hash LIMIT \#(Self.rebuildBatch)"#
                var entries: [IndexedKey] = []
                var last: (Int64, ByteBuffer)?
                for try await (timestamp, hash, pubsub, content) in try await client.query(query, logger: self.logger)
                    .decode((Int64, ByteBuffer, String, String).self)
                {
                    last = (timestamp, hash)
                    guard timestamp >= 0, let hash = MessageHash(bytes: Array(buffer: hash)) else { continue }
                    entries.append(
                        IndexedKey(
                            key: SyncKey(timestamp: UInt64(timestamp), hash: hash), pubsubTopic: pubsub,
                            contentTopic: content))
                }
                return (entries, last)
            }
            if !batch.0.isEmpty {
                let entries = batch.0
                indexed += try await keyIndex.write { try $0.index(entries) }
            }
            guard let last = batch.1 else { return indexed }
            after = last
        }
    }

    /// The count and XOR of a set of hashes.
    struct Summary: Equatable, Sendable {
        var count: Int
        var xor: MessageHash

        /// The hash whose bits PostgreSQL printed as a string of '0' and '1' (zero for none).
        static func hash(bits: String) -> MessageHash {
            guard bits.utf8.count == 256 else { return .zero }
            var bytes = [UInt8](repeating: 0, count: 32)
            for (index, bit) in bits.utf8.enumerated() where bit == UInt8(ascii: "1") {
                bytes[index / 8] |= 0x80 >> (index % 8)
            }
            return MessageHash(bytes: bytes) ?? .zero
        }
    }
}
