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
        var differing: [(partition: Partition, rows: Int)] = []
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
            differing.append((partition, archived.count))
        }
        if covered < Int64.max {
            check.removedKeys += try await removeIndexKeys(in: covered..<Int64.max)
        }
        check.rebuiltPartitions = differing.count
        check.indexedKeys = try await rebuildIndex(of: differing)
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

    /// Replaces the index's keys of the partitions' ranges with their rows. The rows are read in
    /// time windows of about `rebuildBatch` rows, each as one row per (pubsub topic, content
    /// topic) carrying its timestamps and hashes in key order (decoding a few arrays costs far
    /// less than decoding every row); two windows are read ahead while one is indexed. Returns
    /// how many keys were indexed.
    func rebuildIndex(of partitions: [(partition: Partition, rows: Int)]) async throws -> Int {
        var windows: [(partition: Partition, window: Range<Int64>)] = []
        for (partition, rows) in partitions {
            _ = try await removeIndexKeys(in: partition.range)
            let count = Int64(max(1, (rows + Self.rebuildBatch - 1) / Self.rebuildBatch))
            let width = (partition.range.upperBound - partition.range.lowerBound) / count + 1
            for start in stride(from: partition.range.lowerBound, to: partition.range.upperBound, by: Int(width)) {
                windows.append((partition, start..<min(partition.range.upperBound, start + width)))
            }
        }
        var indexed = 0
        var reading: [Task<[IndexedKey], any Error>] = []
        var next = 0
        func readAhead() {
            while reading.count < 2, next < windows.count {
                let (partition, window) = windows[next]
                next += 1
                reading.append(Task { try await self.keys(of: partition, in: window) })
            }
        }
        readAhead()
        while !reading.isEmpty {
            let entries = try await reading.removeFirst().value
            readAhead()
            if !entries.isEmpty {
                indexed += try await keyIndex.write { try $0.index(entries) }
            }
        }
        return indexed
    }

    /// The keys of a partition's rows with timestamps in `window`, with their topics.
    private func keys(of partition: Partition, in window: Range<Int64>) async throws -> [IndexedKey] {
        try await database("reading keys of \(partition.name)") { client in
            var entries: [IndexedKey] = []
            let rows = try await client.query(
                PostgresQuery(
                    unsafeSQL: """
                        SELECT pubsub_topic, content_topic,
                               array_agg("timestamp" ORDER BY "timestamp", hash),
                               string_agg(hash, ''::bytea ORDER BY "timestamp", hash)
                        FROM \(partition.name) WHERE "timestamp" >= \(window.lowerBound) AND "timestamp" < \(window.upperBound)
                        GROUP BY pubsub_topic, content_topic
                        """), logger: self.logger)
            for try await (pubsub, content, timestamps, hashes) in rows.decode(
                (String, String, [Int64], ByteBuffer).self)
            {
                var hashes = hashes
                for timestamp in timestamps {
                    guard let bytes = hashes.readBytes(length: 32) else { break }
                    guard timestamp >= 0, let hash = MessageHash(bytes: bytes) else { continue }
                    entries.append(
                        IndexedKey(
                            key: SyncKey(timestamp: UInt64(timestamp), hash: hash), pubsubTopic: pubsub,
                            contentTopic: content))
                }
            }
            return entries
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
