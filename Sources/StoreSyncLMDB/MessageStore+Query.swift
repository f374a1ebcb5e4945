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
    /// content topics (the content-topic index); without, those of `pubsubTopic`, or of every
    /// pubsub topic when it is nil (the key indexes). Timestamps in `timeRange` (end exclusive).
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
            var lists: [[QueryHit]] = []
            if let pubsubTopic, !contentTopics.isEmpty {
                guard let record = try scopeRecord(txn, pubsubTopic: pubsubTopic) else {
                    return []
                }
                for topic in Set(contentTopics) {
                    guard let id = try storedContentTopicId(txn, topic: topic) else { continue }
                    lists.append(
                        try contentScan(
                            txn, scope: record.scopeId, contentTopic: id, pubsubTopic: pubsubTopic,
                            timeRange: timeRange,
                            cursor: cursor, forward: forward, limit: limit))
                }
            } else {
                let topics = try pubsubTopic.map { [$0] } ?? pubsubTopics(txn)
                for topic in topics {
                    guard let record = try scopeRecord(txn, pubsubTopic: topic) else { continue }
                    let snapshot = KeyIndexSnapshot(txn: txn, nodes: environment.databases.nodes, record: record)
                    lists.append(
                        try indexScan(
                            snapshot, pubsubTopic: topic, timeRange: timeRange, cursor: cursor, forward: forward,
                            limit: limit))
                }
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

    private func contentScan(
        _ txn: LMDBTransaction, scope: UInt32, contentTopic: UInt32, pubsubTopic: String, timeRange: Range<UInt64>,
        cursor: SyncKey?, forward: Bool, limit: Int
    ) throws -> [QueryHit] {
        var hits = [QueryHit]()
        func hit(_ raw: UnsafeRawBufferPointer) -> QueryHit? {
            Self.contentIndexEntry(raw, scope: scope, contentTopic: contentTopic).map {
                QueryHit(key: $0, pubsubTopic: pubsubTopic)
            }
        }
        if forward {
            var start = SyncKey(timestamp: timeRange.lowerBound)
            if let cursor, start < cursor { start = cursor }
            try txn.scan(
                environment.databases.byContent,
                from: Self.contentIndexKey(scope: scope, contentTopic: contentTopic, key: start)
            ) { key, _ in
                guard let found = hit(key), found.key.timestamp < timeRange.upperBound else { return false }
                if found.key != cursor { hits.append(found) }
                return hits.count < limit
            }
        } else {
            var end = SyncKey(timestamp: timeRange.upperBound)
            if let cursor, cursor < end { end = cursor }
            try txn.scanBackward(
                environment.databases.byContent,
                before: Self.contentIndexKey(scope: scope, contentTopic: contentTopic, key: end)
            ) { key, _ in
                guard let found = hit(key), found.key.timestamp >= timeRange.lowerBound else { return false }
                hits.append(found)
                return hits.count < limit
            }
        }
        return hits
    }
}
