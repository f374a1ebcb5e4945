import NIOCore
import PostgresNIO
import StoreSyncCore
import StoreSyncLMDB

/// Retention as whole partitions (SPEC.md 4.4): what expires goes by DETACH and DROP, which
/// leave no dead tuples and give the disk back at once. Rows are deleted only where a bound
/// falls inside a partition, and that partition is vacuumed at once.
extension PostgresArchive {
    /// Under a size cap, a write passing this share of the cap first drops oldest partitions
    /// until the archive is under `sizeCapLowWater`.
    static let sizeCapLowWater = 0.70
    /// Above this share of the cap a size-capped archive counts as full (see `retentionFloor`).
    static let sizeCapFullMark = 0.50

    public var retention: RetentionPolicy { configuration.retention }

    public var retentionDeletions: RetentionReport { retentionTotals.withLock { $0 } }

    private func record(_ report: RetentionReport) {
        retentionTotals.withLock { $0 = $0 + report }
    }

    /// Applies the whole policy now: partitions wholly older than the age limit are dropped and
    /// the rows below it in the partition at the boundary deleted; beyond the count cap the
    /// oldest partitions are dropped, and the oldest rows of the next deleted; over the size cap
    /// oldest partitions are dropped until under its low-water mark. Creates the partitions
    /// ahead of `now` as well.
    @discardableResult
    public func applyRetention(now: UInt64) async throws -> RetentionReport {
        var report = RetentionReport()
        try await ensurePartitions(around: now)
        if let floor = retention.ageFloor(now: now), floor > 0 {
            let bound = Int64(clamping: floor)
            for partition in try await partitions() where partition.range.lowerBound < bound {
                if partition.range.upperBound <= bound {
                    report.byAge += try await drop(partition)
                } else {
                    report.byAge += try await deleteRows(
                        in: partition, below: SyncKey(timestamp: floor), limit: nil)
                }
            }
        }
        // The count below is the index's: the keys of what was just dropped leave it first.
        if report.byAge > 0 { try await removeKeysBelowOldestPartition() }
        if let capacity = retention.maximumCount {
            var excess = try await keyIndex.read { try $0.messageCount() } - capacity
            while excess > 0, let oldest = try await partitions().first {
                let rows = try await rowCount(oldest)
                if rows <= excess {
                    report.byCount += try await drop(oldest)
                    excess -= rows
                } else {
                    report.byCount += try await deleteRows(in: oldest, below: nil, limit: excess)
                    excess = 0
                }
            }
        }
        if let cap = retention.maximumBytes {
            report.bySize += try await pruneBySize(toBelow: Int(Double(cap) * Self.sizeCapLowWater), keep: now)
        }
        if report.byCount > 0 || report.bySize > 0 { try await removeKeysBelowOldestPartition() }
        record(report)
        return report
    }

    /// Makes room for a write of `incoming` bytes under the size cap: when it would pass the
    /// cap, drops oldest partitions until the archive and the write fit under the low-water
    /// mark. False when even an empty archive would not take it.
    func makeRoom(for incoming: Int) async throws -> Bool {
        guard let cap = retention.maximumBytes else { return true }
        guard incoming <= cap else { return false }
        guard try await diskBytes() + incoming > cap else { return true }
        let deleted = try await pruneBySize(toBelow: Int(Double(cap) * Self.sizeCapLowWater) - incoming, keep: nil)
        if deleted > 0 { try await removeKeysBelowOldestPartition() }
        record(RetentionReport(bySize: deleted))
        return try await diskBytes() + incoming <= cap
    }

    /// Drops oldest partitions with messages while the archive takes more than `target` bytes;
    /// an empty partition from `keep` on stays (it is where writes go). Returns the messages
    /// dropped.
    private func pruneBySize(toBelow target: Int, keep: UInt64?) async throws -> Int {
        var deleted = 0
        while try await diskBytes() > max(0, target) {
            let candidates = try await partitions()
            guard let oldest = candidates.first else { break }
            if let keep, oldest.range.upperBound > Int64(clamping: keep), try await rowCount(oldest) == 0 { break }
            deleted += try await drop(oldest)
        }
        return deleted
    }

    /// Deletes, in one partition, the rows below `bound` or the oldest `limit` rows, then their
    /// keys from the index, then vacuums the partition so that no dead tuples stay behind.
    /// Returns how many rows went.
    private func deleteRows(in partition: Partition, below bound: SyncKey?, limit: Int?) async throws -> Int {
        let sql: String
        if let limit {
            sql = """
                DELETE FROM \(partition.name) WHERE (hash, "timestamp") IN (
                    SELECT hash, "timestamp" FROM \(partition.name) ORDER BY "timestamp", hash LIMIT \(limit))
                RETURNING "timestamp", hash
                """
        } else {
            sql =
                #"DELETE FROM \#(partition.name) WHERE "timestamp" < \#(Int64(clamping: bound?.timestamp ?? 0)) RETURNING "timestamp", hash"#
        }
        let last = try await database("deleting rows of \(partition.name)") { client in
            var count = 0
            var last: SyncKey?
            for try await (timestamp, hash) in try await client.query(
                PostgresQuery(unsafeSQL: sql), logger: self.logger
            )
            .decode((Int64, ByteBuffer).self) {
                count += 1
                if let hash = MessageHash(bytes: Array(buffer: hash)), timestamp >= 0 {
                    last = max(
                        last ?? SyncKey(timestamp: UInt64(timestamp), hash: hash),
                        SyncKey(timestamp: UInt64(timestamp), hash: hash))
                }
            }
            return (count, last)
        }
        guard last.0 > 0, let newest = last.1 else { return 0 }
        // The rows went oldest first, so the index loses exactly the keys up to the newest of them.
        _ = try await keyIndex.write { try $0.removeKeys(in: SyncKey(timestamp: 0)..<newest.successor) }
        try await database("vacuuming \(partition.name)") { client in
            try await client.query(PostgresQuery(unsafeSQL: "VACUUM \(partition.name)"), logger: self.logger)
        }
        return last.0
    }

    /// The key below which a message would be deleted by retention as soon as it was stored.
    public func retentionFloor(at now: UInt64) async throws -> SyncKey {
        let floor = SyncKey(timestamp: retention.ageFloor(now: now) ?? 0)
        guard retention.maximumCount != nil || retention.maximumBytes != nil else { return floor }
        let statistics = try await keyIndex.read { try $0.statistics() }
        let atCount = retention.maximumCount.map { statistics.messages >= $0 } ?? false
        var atSize = false
        if let cap = retention.maximumBytes {
            atSize = Double(try await diskBytes()) > Self.sizeCapFullMark * Double(cap)
        }
        guard atCount || atSize, let oldest = statistics.oldestKey else { return floor }
        return max(floor, oldest)
    }
}
