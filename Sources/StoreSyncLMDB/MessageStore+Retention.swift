import Foundation
import StoreSyncCore

extension MessageStore {
    /// What this store keeps.
    public var retention: RetentionPolicy { environment.configuration.retention }

    /// Deletions by retention since the store was opened.
    public var retentionDeletions: RetentionReport { retentionTotals.withLock { $0 } }

    /// Under a size cap, pruning starts when the pages in use plus those the coming write will
    /// need pass this share of the cap, and goes on until they are under `sizeCapLowWater`. The
    /// rest covers pages held by open readers.
    static let sizeCapHighWater = 0.85
    static let sizeCapLowWater = 0.70
    /// Above this share of the cap in use, a size-capped store counts as full: pruning keeps it
    /// between here and the high-water mark, so a message older than all it keeps would be the
    /// first to go, and sync does not fetch one.
    static let sizeCapFullMark = 0.50

    /// Stores messages, each with its key in the trees of its pubsub topic and of its topic pair;
    /// already present messages are reported, not rewritten.
    ///
    /// Under a retention policy the store stays within it: with a size cap, messages are written
    /// in transactions small enough for the cap and room is made before each (oldest messages
    /// first, never below what the policy keeps); with a count cap, the oldest messages beyond it
    /// go right after the write. Each outcome says what became of its message: one the count cap
    /// deleted at once is `.evicted`; one a size-capped store had no room for after earlier parts
    /// of the call were committed is `.unavailable`. When no part could be written, the call
    /// throws `StoreError.mapFull` and nothing was deleted beyond the policy.
    public func ingest(_ messages: [WakuMessage]) throws -> IngestResult {
        guard !messages.isEmpty else { return IngestResult() }
        var result = IngestResult()
        if retention.maximumBytes != nil {
            let parts = messages.batches(
                budget: environment.configuration.effectiveMaximumMapSize / 16, maximumCount: cappedTransactionSize,
                size: Self.estimatedSize(of:))
            for part in parts {
                do {
                    let written = try ingestUnderSizeCap(part)
                    result.outcomes += written.outcomes
                    result.keys += written.keys
                } catch StoreError.mapFull where !result.outcomes.isEmpty {
                    let left = messages.count - result.outcomes.count
                    result.outcomes += repeatElement(.unavailable, count: left)
                    result.keys += repeatElement(nil, count: left)
                    break
                }
            }
        } else {
            result = try ingestBatch(messages)
        }
        let evicted = try enforceCapacity()
        record(RetentionReport(byCount: evicted))
        if evicted > 0, let oldest = try statistics().oldestKey {
            for (index, key) in result.keys.enumerated() where result.outcomes[index] == .stored {
                if let key, key < oldest { result.outcomes[index] = .evicted }
            }
        }
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
        do {
            return try ingestBatch(messages)
        } catch StoreError.mapFull(let size, let maximum) {
            // Room is made down to the low-water mark once more, and no further: when pages held
            // by open readers fill the map, deleting more would not help, and the policy does not
            // ask for it. The caller gets the error (503 on the wire) and keeps its messages.
            let deleted = try makeRoom(count: messages.count, bytes: incoming, force: true)
            record(RetentionReport(bySize: deleted))
            guard deleted > 0 else { throw StoreError.mapFull(mapSize: size, maximumMapSize: maximum) }
            return try ingestBatch(messages)
        }
    }

    /// Messages one step of `applyRetention` deletes at most, in one write transaction: short
    /// enough that ingest never waits on a prune for more than a few milliseconds.
    static let retentionStep = 1_000

    /// Applies the whole policy now: messages older than the maximum age, beyond the maximum
    /// count, or beyond what the size cap leaves room for, oldest first. Returns what went.
    ///
    /// Runs on the writer thread in steps of at most `retentionStep` messages, each its own
    /// transaction, so that ingest queued meanwhile is committed between them.
    @discardableResult
    public func applyRetention(now: UInt64 = WallClock.nanoseconds()) async throws -> RetentionReport {
        var report = RetentionReport()
        if let floor = ageFloor(now: now), floor > 0 {
            let bound = SyncKey(timestamp: floor)
            report.byAge = try await inSteps { try $0.deleteOldestStep(limit: Self.retentionStep, below: bound) }
        }
        if let capacity = retention.maximumCount {
            report.byCount = try await inSteps { store in
                let excess = try store.messageCount() - capacity
                return excess > 0 ? try store.deleteOldestStep(limit: min(excess, Self.retentionStep)) : 0
            }
        }
        if retention.maximumBytes != nil {
            var started = false
            report.bySize = try await inSteps { store in
                let deleted = try store.makeRoomStep(
                    count: store.cappedTransactionSize, bytes: 0, lowWater: Self.sizeCapLowWater, started: started)
                started = true
                return deleted
            }
        }
        record(report)
        return report
    }

    /// Runs `step` on the writer thread until it deletes nothing; returns the total.
    private func inSteps(_ step: (MessageStore) throws -> Int) async throws -> Int {
        var total = 0
        while true {
            let deleted = try await write(step)
            if deleted == 0 { return total }
            total += deleted
        }
    }

    /// The key below which a message would be deleted by retention as soon as it was stored:
    /// the age limit, or the oldest message kept while the store is at its count or size cap
    /// (a full key: eviction goes by key, so a message at the same timestamp with a smaller hash
    /// would be the next to go). The lowest key when any message would be kept. Sync fetches and
    /// accepts nothing below it.
    public func retentionFloor(now: UInt64 = WallClock.nanoseconds()) throws -> SyncKey {
        let floor = SyncKey(timestamp: ageFloor(now: now) ?? 0)
        guard retention.maximumCount != nil || retention.maximumBytes != nil else { return floor }
        // One read: counts, oldest message and disk use together.
        let statistics = try statistics()
        let disk = statistics.disk
        let atCount = retention.maximumCount.map { statistics.messages >= $0 } ?? false
        let atSize =
            retention.maximumBytes != nil
            && Double(disk.usedPages) > Self.sizeCapFullMark * Double(disk.maximumMapBytes / disk.pageSize)
        guard atCount || atSize, let oldest = statistics.oldestKey else { return floor }
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

    private func ageFloor(now: UInt64) -> UInt64? { retention.ageFloor(now: now) }

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
        var deleted = 0
        while true {
            let done = try makeRoomStep(count: count, bytes: bytes, lowWater: lowWater, started: force || deleted > 0)
            if done == 0 { return deleted }
            deleted += done
        }
    }

    /// One transaction of `makeRoom`: at most a capped write's worth of the oldest messages.
    /// Unless `started`, it deletes only when the pages in use are past the high-water mark.
    func makeRoomStep(count: Int, bytes: Int, lowWater: Double, started: Bool) throws -> Int {
        guard retention.maximumBytes != nil else { return 0 }
        let usage = try environment.usage()
        let limit = Double(usage.maximumMapBytes / usage.pageSize)
        let needed = Double(Self.pagesNeeded(count: count, bytes: bytes, pageSize: usage.pageSize))
        guard started || Double(usage.usedPages) + needed > Self.sizeCapHighWater * limit else { return 0 }
        let target = max(0, lowWater * limit - needed)
        guard Double(usage.usedPages) > target else { return 0 }
        let stored = try messageCount()
        guard stored > 0 else { return 0 }
        let perMessage = max(1e-3, Double(usage.usedPages) / Double(stored))
        let excess = (Double(usage.usedPages) - target) / perMessage
        // Deletions copy pages too: in transactions no larger than a capped write.
        return try deleteOldestStep(limit: min(stored, cappedTransactionSize, max(16, Int(excess.rounded(.up)))))
    }

    /// Deletes the `count` oldest messages over all pubsub topics, in write transactions of at
    /// most `deleteChunk` messages. Returns how many went.
    @discardableResult
    public func deleteOldest(_ count: Int) throws -> Int {
        var deleted = 0
        while deleted < count {
            let done = try deleteOldestStep(limit: min(Self.deleteChunk, count - deleted))
            guard done > 0 else { break }
            deleted += done
        }
        return deleted
    }

    /// Deletes, in one write transaction, the `limit` oldest messages over all pubsub topics,
    /// only those below `bound` when given. Returns how many went.
    func deleteOldestStep(limit: Int, below bound: SyncKey? = nil) throws -> Int {
        try environment.write { txn in
            // The oldest `limit` of each topic, merged, hold the oldest `limit` of all.
            var candidates: [(key: SyncKey, topic: String)] = []
            for topic in try pubsubTopics(txn) {
                guard let record = try scopeRecord(txn, pubsubTopic: topic) else { continue }
                let snapshot = KeyIndexSnapshot(txn: txn, nodes: databases.nodes, record: record)
                try snapshot.forEachKey(in: 0..<min(limit, try snapshot.count())) { key in
                    if let bound, key >= bound { return false }
                    candidates.append((key, topic))
                    return true
                }
            }
            candidates.sort { $0.key < $1.key }
            let chosen = Dictionary(grouping: candidates.prefix(limit), by: \.topic)
            for (topic, entries) in chosen {
                try deleteKeys(txn, pubsubTopic: topic, keys: entries.map(\.key))
            }
            return min(limit, candidates.count)
        }
    }

    /// Bytes of a message's entries in its two key trees in the data file.
    static let indexBytesPerMessage = 96

    /// A message's share of the data file, roughly: its record and its index entries.
    static func estimatedSize(of message: WakuMessage) -> Int {
        message.estimatedEncodedSize + indexBytesPerMessage
    }
}
