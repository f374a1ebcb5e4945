import StoreSyncCore

extension MessageStore {
    /// Messages per pubsub topic with their oldest and newest timestamps, and disk use: what the
    /// metrics endpoint and `storesync stats` report. Each topic's figures come from its key
    /// index in O(log n).
    public func statistics() throws -> StoreStatistics {
        let topics = try environment.read { txn -> [StoreStatistics.Topic] in
            try pubsubTopics(txn).sorted().map { topic in
                let record = try scopeRecord(txn, pubsubTopic: topic)
                let snapshot = KeyIndexSnapshot(txn: txn, nodes: databases.nodes, record: record)
                let count = try snapshot.count()
                return StoreStatistics.Topic(
                    pubsubTopic: topic, messages: count,
                    oldestKey: count > 0 ? try snapshot.key(at: 0) : nil,
                    newest: count > 0 ? try snapshot.key(at: count - 1).timestamp : nil)
            }
        }
        return StoreStatistics(topics: topics, disk: try environment.usage(), retention: retention)
    }
}
