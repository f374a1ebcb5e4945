import StoreSyncCore
import StoreSyncLMDB

/// Where a node keeps its messages: what the node does with them, whatever holds them.
///
/// Every archive has a counted key index in LMDB (`keyIndex`): reconciliation snapshots, counts
/// by content topic and the node's markers read it. For the LMDB store the index and the archive
/// are one; a PostgreSQL archive keeps its index under the node's data directory. Calls never
/// block the caller's thread: work on disk or on a database runs elsewhere.
public protocol MessageArchive: AnyObject, Sendable {
    /// The key index of what the archive holds.
    var keyIndex: MessageStore { get }
    /// What the archive keeps.
    var retention: RetentionPolicy { get }
    /// Deletions by retention since the archive was opened.
    var retentionDeletions: RetentionReport { get }

    /// Stores messages and indexes their keys; already stored ones are reported, not rewritten.
    /// One outcome per message, in order.
    func ingest(_ messages: [WakuMessage]) async throws -> MessageStore.IngestResult

    /// The stored message of each hash, nil where there is none.
    func messages(for hashes: [MessageHash]) async throws -> [WakuMessage?]

    /// Keys of stored messages matching a Store v3 filter, in the direction of travel.
    func queryKeys(_ query: ArchiveQuery) async throws -> [MessageStore.QueryHit]

    /// Applies the retention policy now; returns what went.
    func applyRetention(now: UInt64) async throws -> RetentionReport

    /// The key below which a message would be deleted by retention as soon as it was stored:
    /// sync fetches and accepts nothing below it.
    func retentionFloor(at now: UInt64) async throws -> SyncKey

    /// Counts per pubsub topic, disk use and policy, for operators and metrics.
    func archiveStatistics() async throws -> StoreStatistics
}

/// A Store v3 filter: messages of a pubsub topic (all when nil) on any of `contentTopics` (all
/// when empty), timestamps in `timeRange`, in key order after (forward) or before `cursor`.
public struct ArchiveQuery: Equatable, Sendable {
    public var pubsubTopic: String?
    public var contentTopics: [String]
    public var timeRange: Range<UInt64>
    public var cursor: SyncKey?
    public var forward: Bool
    public var limit: Int

    public init(
        pubsubTopic: String?, contentTopics: [String], timeRange: Range<UInt64>, cursor: SyncKey?, forward: Bool,
        limit: Int
    ) {
        self.pubsubTopic = pubsubTopic
        self.contentTopics = contentTopics
        self.timeRange = timeRange
        self.cursor = cursor
        self.forward = forward
        self.limit = limit
    }
}
