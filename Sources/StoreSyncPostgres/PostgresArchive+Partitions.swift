import PostgresNIO
import StoreSyncCore

/// The partitions of the messages table: read, created ahead and on demand, dropped by retention.
extension PostgresArchive {
    /// The partitions, oldest first, as the database has them now.
    func readPartitions() async throws -> [Partition] {
        let found = try await database("listing partitions") { client in
            var partitions: [Partition] = []
            let rows = try await client.query(
                """
                SELECT c.relname::text, pg_get_expr(c.relpartbound, c.oid)
                FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                WHERE i.inhparent = 'storesync_messages'::regclass
                """, logger: self.logger)
            for try await (name, bound) in rows.decode((String, String).self) {
                if let partition = Partition.parse(name: name, bound: bound) { partitions.append(partition) }
            }
            return partitions.sorted()
        }
        knownPartitions.withLock { $0 = found }
        return found
    }

    /// The partitions as last read or changed by this process.
    func partitions() async throws -> [Partition] {
        if let known = knownPartitions.withLock({ $0 }) { return known }
        return try await readPartitions()
    }

    /// The range of the partition that would hold `timestamp`: its slot of `partitionSeconds`,
    /// cut where it would overlap partitions made with another width.
    func slot(for timestamp: Int64, among partitions: [Partition]) -> Range<Int64> {
        let width = Int64(configuration.partitionSeconds) * 1_000_000_000
        let start = timestamp - timestamp % width
        var lower = start
        var upper = start > Int64.max - width ? Int64.max : start + width
        for partition in partitions {
            if partition.range.upperBound <= timestamp { lower = max(lower, partition.range.upperBound) }
            if partition.range.lowerBound > timestamp { upper = min(upper, partition.range.lowerBound) }
        }
        return lower..<upper
    }

    /// Makes sure a partition holds each timestamp; returns those no partition can hold because
    /// the archive is at its maximum number of partitions.
    @discardableResult
    func ensurePartitions(for timestamps: some Sequence<Int64>) async throws -> Set<Int64> {
        let known = try await partitions()
        let missing = Set(timestamps.filter { !Self.holder(of: $0, in: known) })
        guard !missing.isEmpty else { return [] }
        return try await partitionChanges.withLock {
            var partitions = try await self.readPartitions()
            var refused = Set<Int64>()
            for timestamp in missing.sorted() where !Self.holder(of: timestamp, in: partitions) {
                guard partitions.count < configuration.maximumPartitions else {
                    refused.insert(timestamp)
                    continue
                }
                let range = slot(for: timestamp, among: partitions)
                let partition = Partition(name: Partition.name(start: range.lowerBound), range: range)
                try await database("creating partition \(partition.name)") { client in
                    try await client.query(
                        PostgresQuery(
                            unsafeSQL: """
                                CREATE TABLE IF NOT EXISTS \(partition.name) PARTITION OF \(Self.messagesTable)
                                FOR VALUES FROM (\(range.lowerBound)) TO (\(range.upperBound))
                                """), logger: self.logger)
                }
                partitions.append(partition)
                partitions.sort()
            }
            knownPartitions.withLock { $0 = partitions }
            return refused
        }
    }

    /// Whether one of `partitions` (oldest first, not overlapping) holds `timestamp`: a binary
    /// search, as a write asks it of every timestamp it carries.
    static func holder(of timestamp: Int64, in partitions: [Partition]) -> Bool {
        var low = 0
        var high = partitions.count
        while low < high {
            let middle = (low + high) / 2
            if partitions[middle].range.upperBound <= timestamp { low = middle + 1 } else { high = middle }
        }
        return low < partitions.count && partitions[low].range.contains(timestamp)
    }

    /// Creates the partitions of `now` and of the `partitionsAhead` slots after it.
    func ensurePartitions(around now: UInt64) async throws {
        let width = Int64(configuration.partitionSeconds) * 1_000_000_000
        let current = Int64(clamping: now)
        try await ensurePartitions(
            for: (0...max(0, configuration.partitionsAhead)).map {
                current.addingReportingOverflow(Int64($0) * width).partialValue
            }
            .filter { $0 >= 0 })
    }

    /// Rows in one partition.
    func rowCount(_ partition: Partition) async throws -> Int {
        try await database("counting \(partition.name)") { client in
            try await client.query(
                PostgresQuery(unsafeSQL: "SELECT count(*) FROM \(partition.name)"), logger: self.logger
            ).integer()
        }
    }

    /// Detaches a partition without blocking queries of the table (CONCURRENTLY) and drops it.
    /// Returns how many messages it held. Its keys stay in the index until
    /// `removeKeysBelowOldestPartition()`, so that a retention pass dropping many partitions
    /// removes their keys together: each removal rewrites a page of the hash-keyed index
    /// records, unless the same transaction removes others there.
    func drop(_ partition: Partition) async throws -> Int {
        try await partitionChanges.withLock {
            let rows = try await rowCount(partition)
            try await database("detaching \(partition.name)") { client in
                try await client.query(
                    PostgresQuery(
                        unsafeSQL: "ALTER TABLE \(Self.messagesTable) DETACH PARTITION \(partition.name) CONCURRENTLY"),
                    logger: self.logger)
            }
            try await database("dropping \(partition.name)") { client in
                try await client.query(PostgresQuery(unsafeSQL: "DROP TABLE \(partition.name)"), logger: self.logger)
            }
            knownPartitions.withLock { $0?.removeAll { $0.name == partition.name } }
            return rows
        }
    }

    /// Removes the index keys older than every partition: those of dropped partitions (by this
    /// pass, or by one that failed before it got here), with one walk over the index records
    /// (`MessageStore.removeKeys(below:)`). Under the lock of partition changes, so that a
    /// partition being made for an older message cannot lose the key written into it.
    @discardableResult
    func removeKeysBelowOldestPartition() async throws -> Int {
        try await partitionChanges.withLock {
            let bound = try await partitions().first.map { UInt64($0.range.lowerBound) } ?? UInt64.max
            return try await keyIndex.write { try $0.removeKeys(below: bound) }
        }
    }

    /// The disk the archive's partitions take now, indexes and TOAST included, as PostgreSQL
    /// measures it.
    public func diskBytes() async throws -> Int {
        try await database("measuring the archive") { client in
            try await client.query(
                """
                SELECT coalesce(sum(pg_total_relation_size(inhrelid)), 0)::bigint
                FROM pg_inherits WHERE inhparent = 'storesync_messages'::regclass
                """, logger: self.logger
            ).integer()
        }
    }

    /// Dead tuples left in the archive's partitions, as the statistics collector last counted.
    public func deadTuples() async throws -> Int {
        try await database("counting dead tuples") { client in
            try await client.query(
                """
                SELECT coalesce(sum(s.n_dead_tup), 0)::bigint
                FROM pg_stat_user_tables s JOIN pg_inherits i ON i.inhrelid = s.relid
                WHERE i.inhparent = 'storesync_messages'::regclass
                """, logger: self.logger
            ).integer()
        }
    }
}
