import CLMDB
import StoreSyncCore

/// The messages of one time bucket: how many, and the sum of their key hashes (from which a
/// Negentropy fingerprint is made), so that two stores can tell whether they agree on a bucket
/// without exchanging its keys.
public struct BucketSummary: Equatable, Sendable {
    public var count: Int
    public var sum: Accumulator

    public init(count: Int = 0, sum: Accumulator = Accumulator()) {
        self.count = count
        self.sum = sum
    }
}

extension MessageStore {
    /// Summaries of consecutive time buckets `[start + i·width, start + (i+1)·width)`, the last
    /// one ending at `end`, of the messages of a pubsub topic (only those on `contentTopics`
    /// when some are given). Each bucket costs O(log n) per tree read: the pubsub topic's, or
    /// the tree of each content topic given.
    public func bucketSummaries(
        pubsubTopic: String, contentTopics: [String], start: UInt64, end: UInt64, width: UInt64
    ) throws -> [BucketSummary] {
        guard width > 0, start <= end else {
            throw StoreError.invalidRequest("buckets need a positive width and start <= end")
        }
        let buckets = Int((end - start) / width + ((end - start) % width == 0 ? 0 : 1))
        var summaries = [BucketSummary](repeating: BucketSummary(), count: buckets)
        guard buckets > 0 else { return summaries }
        try environment.read { txn in
            guard let record = try scopeRecord(txn, pubsubTopic: pubsubTopic) else { return }
            var records = [record]
            if !contentTopics.isEmpty {
                records = try Set(contentTopics).compactMap { topic in
                    try contentTopicRecord(txn, contentTopic: topic, pubsubTopic: pubsubTopic)
                }
            }
            for record in records {
                let snapshot = KeyIndexSnapshot(txn: txn, nodes: databases.nodes, record: record)
                let count = try snapshot.count()
                var lower = try snapshot.lowerBound(of: SyncKey(timestamp: start), in: 0..<count)
                var bucketStart = start
                for index in 0..<buckets {
                    let upperTimestamp = bucketStart + min(width, end - bucketStart)
                    bucketStart = upperTimestamp
                    let upper = try snapshot.lowerBound(of: SyncKey(timestamp: upperTimestamp), in: lower..<count)
                    summaries[index].count += upper - lower
                    summaries[index].sum.add(try snapshot.accumulator(of: lower..<upper))
                    lower = upper
                }
            }
        }
        return summaries
    }
}
