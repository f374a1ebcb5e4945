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
    /// differs, and removes index keys that lie in no partition: a crash between a database
    /// write and its index write heals here. An index without keys (missing, or emptied after a
    /// load that did not finish) is loaded whole at bulk speed, comparing nothing.
    @discardableResult
    public func reconcileIndex() async throws -> IndexCheck {
        var check = IndexCheck()
        let partitions = try await readPartitions()
        check.partitions = partitions.count
        if try await keyIndex.read({ try $0.messageCount() }) == 0 {
            guard try await holdsRows() else { return check }
            var filled: [(partition: Partition, rows: Int)] = []
            for partition in partitions {
                let rows = try await estimatedRows(of: partition)
                if rows > 0 { filled.append((partition, rows)) }
            }
            logger.notice("the key index is empty: loading it from \(filled.count) partitions of the archive")
            check.rebuiltPartitions = filled.count
            do {
                check.indexedKeys = try await loadIndex(of: filled)
                return check
            } catch StoreError.invalidRequest(let reason) {
                // Rows the loader cannot take (a hash under two timestamps): key by key instead.
                logger.warning("bulk load of the key index refused (\(reason)): indexing key by key")
                check.indexedKeys = try await rebuildIndex(of: filled)
                return check
            }
        }
        var covered = Int64(0)
        var differing: [(partition: Partition, rows: Int)] = []
        for partition in partitions {
            if partition.range.lowerBound > covered {
                check.removedKeys += try await removeIndexKeys(in: covered..<partition.range.lowerBound)
            }
            covered = partition.range.upperBound
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

    /// Whether the messages table has a row.
    private func holdsRows() async throws -> Bool {
        try await database("looking for rows") { client in
            try await client.query(
                "SELECT count(*) FROM (SELECT 1 FROM storesync_messages LIMIT 1) AS one", logger: self.logger
            )
            .integer() > 0
        }
    }

    /// About how many rows a partition holds, to size the windows it is read in: the planner's
    /// estimate, or a count where there is none yet. Never 0 for a partition with rows.
    private func estimatedRows(of partition: Partition) async throws -> Int {
        let estimate = try await database("estimating \(partition.name)") { client in
            try await client.query(
                PostgresQuery(
                    unsafeSQL:
                        "SELECT greatest(reltuples, -1)::bigint FROM pg_class WHERE oid = '\(partition.name)'::regclass"
                ), logger: self.logger
            ).integer()
        }
        return estimate > 0 ? estimate : try await rowCount(partition)
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

    /// Replaces the index's keys of the partitions' ranges with their rows, key by key, window
    /// by window (two windows read ahead while one is indexed). Returns how many keys were
    /// indexed.
    func rebuildIndex(of partitions: [(partition: Partition, rows: Int)]) async throws -> Int {
        for (partition, _) in partitions { _ = try await removeIndexKeys(in: partition.range) }
        var indexed = 0
        try await forEachWindow(of: partitions, rows: Self.rebuildBatch) { groups in
            let entries = groups.flatMap { group in
                group.keys.sorted().map {
                    IndexedKey(key: $0, pubsubTopic: group.pubsubTopic, contentTopic: group.contentTopic)
                }
            }
            if !entries.isEmpty { indexed += try await self.keyIndex.write { try $0.index(entries) } }
        }
        return indexed
    }

    /// Rows read per window of a bulk load.
    static let loadBatch = 500_000

    /// Loads an empty index with the partitions' rows at bulk speed (`KeyIndexLoader`), in
    /// time order. Returns how many keys were loaded. A load that fails is given up, leaving the
    /// index empty.
    func loadIndex(of partitions: [(partition: Partition, rows: Int)]) async throws -> Int {
        let loader = try await keyIndex.write {
            try KeyIndexLoader(store: $0, scratchDirectory: self.configuration.indexLoadDirectory)
        }
        do {
            return try await load(partitions, with: loader)
        } catch {
            try? await keyIndex.write { _ in try loader.abandon() }
            throw error
        }
    }

    private func load(_ partitions: [(partition: Partition, rows: Int)], with loader: KeyIndexLoader) async throws
        -> Int
    {
        let ordered = partitions.sorted { $0.partition.range.lowerBound < $1.partition.range.lowerBound }
        let began = ContinuousClock.now
        var adding = Duration.zero
        try await forEachWindow(of: ordered, rows: Self.loadBatch) { groups in
            let step = ContinuousClock.now
            try await self.keyIndex.write { _ in try loader.add(groups) }
            adding += ContinuousClock.now - step
        }
        let finishing = ContinuousClock.now
        let loaded = try await keyIndex.write { _ in try loader.finish() }
        let end = ContinuousClock.now
        logger.notice(
            "key index loaded: \(loaded) keys in \(end - began) (trees \(adding), records and flush \(end - finishing))"
        )
        return loaded
    }

    /// Reads the partitions' rows in time windows of about `rows` rows, in order, and hands
    /// each window's keys to `body`; two windows are read ahead while `body` works on one.
    private func forEachWindow(
        of partitions: [(partition: Partition, rows: Int)], rows: Int,
        _ body: ([KeyIndexLoader.Group]) async throws -> Void
    ) async throws {
        var windows: [(partition: Partition, window: Range<Int64>)] = []
        for (partition, count) in partitions {
            let pieces = Int64(max(1, (count + rows - 1) / rows))
            let width = (partition.range.upperBound - partition.range.lowerBound) / pieces + 1
            for start in stride(from: partition.range.lowerBound, to: partition.range.upperBound, by: Int(width)) {
                windows.append((partition, start..<min(partition.range.upperBound, start + width)))
            }
        }
        var reading: [Task<[KeyIndexLoader.Group], any Error>] = []
        defer { for task in reading { task.cancel() } }
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
            let groups = try await reading.removeFirst().value
            readAhead()
            try await body(groups)
        }
    }

    /// The keys of a partition's rows with timestamps in `window`, one group per topic pair
    /// (each pair's keys come as one string of timestamps and hashes: decoding a few values
    /// costs far less than decoding every row).
    private func keys(of partition: Partition, in window: Range<Int64>) async throws -> [KeyIndexLoader.Group] {
        try await database("reading keys of \(partition.name)") { client in
            var groups: [KeyIndexLoader.Group] = []
            let rows = try await client.query(
                PostgresQuery(
                    unsafeSQL: """
                        SELECT pubsub_topic, content_topic, string_agg(int8send("timestamp") || hash, ''::bytea)
                        FROM \(partition.name) WHERE "timestamp" >= \(window.lowerBound) AND "timestamp" < \(window.upperBound)
                        GROUP BY pubsub_topic, content_topic
                        """), logger: self.logger)
            for try await (pubsub, content, packed) in rows.decode((String, String, ByteBuffer).self) {
                var packed = packed
                var keys: [SyncKey] = []
                keys.reserveCapacity(packed.readableBytes / 40)
                while let timestamp = packed.readInteger(as: Int64.self),
                    let word0 = packed.readInteger(as: UInt64.self), let word1 = packed.readInteger(as: UInt64.self),
                    let word2 = packed.readInteger(as: UInt64.self), let word3 = packed.readInteger(as: UInt64.self)
                {
                    guard timestamp >= 0 else { continue }
                    let hash = MessageHash(word0: word0, word1: word1, word2: word2, word3: word3)
                    keys.append(SyncKey(timestamp: UInt64(timestamp), hash: hash))
                }
                groups.append(KeyIndexLoader.Group(pubsubTopic: pubsub, contentTopic: content, keys: keys))
            }
            return groups
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
