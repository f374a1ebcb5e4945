import Foundation
import StoreSyncCore

extension MessageStore {
    /// What this store keeps.
    public var retention: RetentionPolicy { environment.configuration.retention }

    /// Deletions by retention since the store was opened.
    public var retentionDeletions: RetentionReport { retentionTotals.withLock { $0 } }

    /// Nanoseconds since the Unix epoch by the system clock.
    public static func currentTime() -> UInt64 {
        UInt64(max(0, Date().timeIntervalSince1970) * 1e9)
    }

    /// Under a size cap, pruning starts when the pages in use plus those the coming write will
    /// need pass this share of the cap, and goes on until they are under `sizeCapLowWater`. The
    /// rest covers pages held by open readers.
    static let sizeCapHighWater = 0.85
    static let sizeCapLowWater = 0.70
    /// Above this share of the cap in use, a size-capped store counts as full: pruning keeps it
    /// between here and the high-water mark, so a message older than all it keeps would be the
    /// first to go, and sync does not fetch one.
    static let sizeCapFullMark = 0.50

    /// Stores messages, each with its secondary index entry and its key in its pubsub topic's
    /// index; already present messages are reported, not rewritten.
    ///
    /// Under a retention policy the store stays within it: with a size cap, messages are written
    /// in transactions small enough for the cap, room is made before each (oldest messages
    /// first), and a write that still finds the map full prunes and is retried rather than
    /// failing; with a count cap, the oldest messages beyond it go right after the write.
    public func ingest(_ messages: [WakuMessage]) throws -> IngestResult {
        guard !messages.isEmpty else { return IngestResult() }
        var result = IngestResult()
        if retention.maximumBytes != nil {
            let parts = messages.batches(
                budget: environment.configuration.effectiveMaximumMapSize / 16, maximumCount: cappedTransactionSize,
                size: Self.estimatedSize(of:))
            for part in parts {
                result.outcomes += try ingestUnderSizeCap(part).outcomes
            }
        } else {
            result = try ingestBatch(messages)
        }
        record(RetentionReport(byCount: try enforceCapacity()))
        return result
    }

    /// Messages per write transaction under a size cap. Keys of the archive are hashes, so each
    /// message of a write may copy a page of it (copy-on-write), and pages freed by a commit are
    /// reused only after the next one: a write of n messages needs up to 2n free pages. Writes
    /// are kept to a twentieth of the cap's pages.
    var cappedTransactionSize: Int {
        max(16, min(Self.deleteChunk, environment.configuration.effectiveMaximumMapSize / 4_096 / 20))
    }

    /// Pages a write of `count` messages totalling `bytes` may need: copies of the pages it
    /// touches, those the previous commit freed and cannot yet be reused, and the new data.
    static func pagesNeeded(count: Int, bytes: Int, pageSize: Int) -> Int {
        2 * count + 2 * (bytes / pageSize) + 16
    }

    private func ingestUnderSizeCap(_ messages: [WakuMessage]) throws -> IngestResult {
        let incoming = messages.reduce(0) { $0 + Self.estimatedSize(of: $1) }
        record(RetentionReport(bySize: try makeRoom(count: messages.count, bytes: incoming)))
        var lowWater = Self.sizeCapLowWater
        while true {
            do {
                return try ingestBatch(messages)
            } catch StoreError.mapFull(let size, let maximum) {
                // The margin was not enough (pages held by a long reader): prune harder.
                lowWater -= 0.15
                let deleted = try makeRoom(count: messages.count, bytes: incoming, lowWater: lowWater, force: true)
                record(RetentionReport(bySize: deleted))
                if deleted == 0 || lowWater < 0 { throw StoreError.mapFull(mapSize: size, maximumMapSize: maximum) }
            }
        }
    }

    /// Applies the whole policy now: messages older than the maximum age, beyond the maximum
    /// count, or beyond what the size cap leaves room for, oldest first. Returns what went.
    @discardableResult
    public func applyRetention(now: UInt64 = MessageStore.currentTime()) throws -> RetentionReport {
        var report = RetentionReport()
        if let floor = ageFloor(now: now), floor > 0 {
            report.byAge = try prune(olderThan: floor)
        }
        report.byCount = try enforceCapacity()
        if retention.maximumBytes != nil {
            report.bySize = try makeRoom(count: cappedTransactionSize, bytes: 0)
        }
        record(report)
        return report
    }

    /// The timestamp (ns) below which a message would be deleted by retention as soon as it was
    /// stored: the age limit, or the oldest message kept while the store is at its count or size
    /// cap. 0 when any message would be kept. Sync fetches nothing older.
    public func retentionFloor(now: UInt64 = MessageStore.currentTime()) throws -> UInt64 {
        let floor = ageFloor(now: now) ?? 0
        guard retention.maximumCount != nil || retention.maximumBytes != nil else { return floor }
        // One read: counts, oldest message and disk use together.
        let statistics = try statistics()
        let disk = statistics.disk
        let atCount = retention.maximumCount.map { statistics.messages >= $0 } ?? false
        let atSize =
            retention.maximumBytes != nil
            && Double(disk.usedPages) > Self.sizeCapFullMark * Double(disk.maximumMapBytes / disk.pageSize)
        guard atCount || atSize, let oldest = statistics.oldest else { return floor }
        return max(floor, oldest)
    }

    /// Pages in use and file size now.
    public func diskUsage() throws -> DiskUsage {
        try environment.usage()
    }

    /// Deletes the oldest messages beyond the count cap, if there is one. Returns how many went.
    private func enforceCapacity() throws -> Int {
        guard let capacity = retention.maximumCount else { return 0 }
        let excess = try messageCount() - capacity
        return excess > 0 ? try deleteOldest(excess) : 0
    }

    private func ageFloor(now: UInt64) -> UInt64? {
        guard let age = retention.maximumAgeSeconds else { return nil }
        let (span, overflow) = age.multipliedReportingOverflow(by: 1_000_000_000)
        return overflow || span >= now ? 0 : now - span
    }

    private func record(_ report: RetentionReport) {
        guard report.total > 0 else { return }
        retentionTotals.withLock { $0 = $0 + report }
    }

    /// Deletes the oldest messages until the pages in use, plus those a write of `count`
    /// messages and `bytes` bytes needs, are under `lowWater` of the cap; does nothing while they
    /// are under the high-water mark (unless forced). Returns how many messages went.
    private func makeRoom(count: Int, bytes: Int, lowWater: Double = sizeCapLowWater, force: Bool = false) throws
        -> Int
    {
        guard retention.maximumBytes != nil else { return 0 }
        var usage = try environment.usage()
        let limit = Double(usage.maximumMapBytes / usage.pageSize)
        let needed = Double(Self.pagesNeeded(count: count, bytes: bytes, pageSize: usage.pageSize))
        guard force || Double(usage.usedPages) + needed > Self.sizeCapHighWater * limit else { return 0 }
        let target = max(0, lowWater * limit - needed)
        var deleted = 0
        while Double(usage.usedPages) > target {
            let stored = try messageCount()
            guard stored > 0 else { break }
            let perMessage = max(1e-3, Double(usage.usedPages) / Double(stored))
            let excess = (Double(usage.usedPages) - target) / perMessage
            let batch = min(stored, max(16, Int(excess.rounded(.up))))
            // Deletions copy pages too: in transactions no larger than a capped write.
            let done = try deleteOldest(batch, chunk: cappedTransactionSize)
            guard done > 0 else { break }
            deleted += done
            usage = try environment.usage()
        }
        return deleted
    }

    /// Deletes the `count` oldest messages over all pubsub topics, in write transactions of at
    /// most `chunk` messages. Returns how many went.
    @discardableResult
    public func deleteOldest(_ count: Int) throws -> Int {
        try deleteOldest(count, chunk: Self.deleteChunk)
    }

    func deleteOldest(_ count: Int, chunk: Int) throws -> Int {
        var deleted = 0
        while deleted < count {
            let limit = min(chunk, count - deleted)
            let done = try environment.write { txn in try deleteOldestChunk(txn, limit: limit) }
            guard done > 0 else { break }
            deleted += done
        }
        return deleted
    }

    private func deleteOldestChunk(_ txn: LMDBTransaction, limit: Int) throws -> Int {
        // The oldest `limit` of each topic, merged, hold the oldest `limit` of all.
        var candidates: [(key: SyncKey, topic: String)] = []
        var records: [String: ScopeRecord] = [:]
        for topic in try pubsubTopics(txn) {
            guard let record = try scopeRecord(txn, kind: Self.messageScopeKind, name: topic) else { continue }
            records[topic] = record
            let snapshot = KeyIndexSnapshot(txn: txn, nodes: databases.nodes, record: record)
            try snapshot.forEachKey(in: 0..<min(limit, try snapshot.count())) { key in
                candidates.append((key, topic))
                return true
            }
        }
        candidates.sort { $0.key < $1.key }
        let chosen = Dictionary(grouping: candidates.prefix(limit), by: \.topic)
        for (topic, entries) in chosen {
            guard let record = records[topic] else { continue }
            try deleteKeys(txn, pubsubTopic: topic, record: record, keys: entries.map(\.key))
        }
        return min(limit, candidates.count)
    }

    /// A message's share of the data file, roughly: its record, index entries and page overhead.
    static func estimatedSize(of message: WakuMessage) -> Int {
        message.payload.count + (message.meta?.count ?? 0) + message.pubsubTopic.utf8.count
            + 2 * message.contentTopic.utf8.count + 200
    }
}
