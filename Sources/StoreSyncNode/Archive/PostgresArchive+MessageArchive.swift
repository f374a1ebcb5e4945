import StoreSyncCore
import StoreSyncLMDB
import StoreSyncPostgres

/// A PostgreSQL archive serves a node as the LMDB store does; its index is an LMDB store of
/// keys under the node's data directory.
extension PostgresArchive: MessageArchive {
    public func queryKeys(_ query: ArchiveQuery) async throws -> [MessageStore.QueryHit] {
        try await queryKeys(
            pubsubTopic: query.pubsubTopic, contentTopics: query.contentTopics, timeRange: query.timeRange,
            cursor: query.cursor, forward: query.forward, limit: query.limit)
    }

    /// The index's counts per pubsub topic, with the index's disk use and the archive's.
    public func archiveStatistics() async throws -> StoreStatistics {
        var statistics = try await keyIndex.read { try $0.statistics() }
        statistics.retention = retention
        statistics.archiveBytes = try await diskBytes()
        return statistics
    }
}
