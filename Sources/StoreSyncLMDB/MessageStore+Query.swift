import CLMDB
import StoreSyncCore

extension MessageStore {
    /// A message found by a query: its key and pubsub topic.
    public struct QueryHit: Hashable, Sendable {
        public var key: SyncKey
        public var pubsubTopic: String

        public init(key: SyncKey, pubsubTopic: String) {
            self.key = key
            self.pubsubTopic = pubsubTopic
        }
    }

    /// Keys of stored messages matching a filter, in key order starting after (forward) or before
    /// (backward) `cursor`, at most `limit`: with `contentTopics`, those of `pubsubTopic` on those
    /// content topics (their content-topic trees); without, those of `pubsubTopic`, or of every
    /// pubsub topic when it is nil (the pubsub-topic trees). Timestamps in `timeRange` (end
    /// exclusive).
    /// Returned in the direction of travel: ascending forward, descending backward.
    public func queryKeys(
        pubsubTopic: String?,
        contentTopics: [String],
        timeRange: Range<UInt64>,
        cursor: SyncKey?,
        forward: Bool,
        limit: Int
    ) throws -> [QueryHit] {
        try environment.read { txn in
            var trees: [(pubsubTopic: String, record: ScopeRecord)] = []
            if let pubsubTopic, !contentTopics.isEmpty {
                for topic in Set(contentTopics) {
                    guard let record = try contentTopicRecord(txn, contentTopic: topic, pubsubTopic: pubsubTopic)
                    else { continue }
                    trees.append((pubsubTopic, record))
                }
            } else {
                for topic in try pubsubTopic.map({ [$0] }) ?? pubsubTopics(txn) {
                    guard let record = try scopeRecord(txn, pubsubTopic: topic) else { continue }
                    trees.append((topic, record))
                }
            }
            let lists = try trees.map { tree in
                try indexScan(
                    KeyIndexSnapshot(txn: txn, nodes: databases.nodes, record: tree.record),
                    pubsubTopic: tree.pubsubTopic, timeRange: timeRange, cursor: cursor, forward: forward,
                    limit: limit)
            }
            let merged = lists.joined().sorted { forward ? $0.key < $1.key : $1.key < $0.key }
            return Array(merged.prefix(limit))
        }
    }

    private func indexScan(
        _ snapshot: KeyIndexSnapshot, pubsubTopic: String, timeRange: Range<UInt64>, cursor: SyncKey?, forward: Bool,
        limit: Int
    ) throws -> [QueryHit] {
        let count = try snapshot.count()
        var lower = try snapshot.lowerBound(of: SyncKey(timestamp: timeRange.lowerBound), in: 0..<count)
        var upper = try snapshot.lowerBound(of: SyncKey(timestamp: timeRange.upperBound), in: lower..<count)
        if let cursor {
            let at = try snapshot.lowerBound(of: cursor, in: 0..<count)
            let exact = at < count ? try snapshot.key(at: at) == cursor : false
            if forward {
                lower = max(lower, exact ? at + 1 : at)
            } else {
                upper = min(upper, at)
            }
        }
        guard lower < upper else { return [] }
        let range = forward ? lower..<min(upper, lower + limit) : max(lower, upper - limit)..<upper
        var hits = [QueryHit]()
        try snapshot.forEachKey(in: range) { key in
            hits.append(QueryHit(key: key, pubsubTopic: pubsubTopic))
            return true
        }
        return forward ? hits : hits.reversed()
    }
}
