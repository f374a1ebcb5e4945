import StoreSyncCore

/// Counts of what a store holds, for operators: per pubsub topic and in all, with disk use.
public struct StoreStatistics: Equatable, Sendable {
    /// One pubsub topic's messages.
    public struct Topic: Equatable, Sendable {
        public var pubsubTopic: String
        public var messages: Int
        /// The key of the oldest message; nil when there is none.
        public var oldestKey: SyncKey?
        /// Timestamp (ns) of the newest message; nil when there is none.
        public var newest: UInt64?
        /// Timestamp (ns) of the oldest message; nil when there is none.
        public var oldest: UInt64? { oldestKey?.timestamp }
    }

    /// Per pubsub topic, in name order.
    public var topics: [Topic]
    /// The data file and its pages.
    public var disk: DiskUsage
    /// Bytes the messages take in an archive outside this store, as that archive measures them
    /// (PostgreSQL: the partitions with their indexes and TOAST); nil when the store holds the
    /// messages itself.
    public var archiveBytes: Int?
    /// What the store keeps.
    public var retention: RetentionPolicy

    /// Messages over all pubsub topics.
    public var messages: Int { topics.reduce(0) { $0 + $1.messages } }
    /// The key of the oldest message over all pubsub topics: the first retention deletes.
    public var oldestKey: SyncKey? { topics.compactMap(\.oldestKey).min() }
    /// The oldest and newest timestamp over all pubsub topics.
    public var oldest: UInt64? { oldestKey?.timestamp }
    public var newest: UInt64? { topics.compactMap(\.newest).max() }
}
