import StoreSyncCore
import StoreSyncLMDB

/// The LMDB store is an archive and its own key index; its work runs on its own threads.
extension MessageStore: MessageArchive {
    public var keyIndex: MessageStore { self }

    public func messages(for hashes: [MessageHash]) async throws -> [WakuMessage?] {
        try await read { store in try hashes.map { try store.message(for: $0) } }
    }

    public func queryKeys(_ query: ArchiveQuery) async throws -> [QueryHit] {
        try await read { store in
            try store.queryKeys(
                pubsubTopic: query.pubsubTopic, contentTopics: query.contentTopics, timeRange: query.timeRange,
                cursor: query.cursor, forward: query.forward, limit: query.limit)
        }
    }

    public func retentionFloor(at now: UInt64) async throws -> SyncKey {
        try await read { try $0.retentionFloor(now: now) }
    }

    public func archiveStatistics() async throws -> StoreStatistics {
        try await read { try $0.statistics() }
    }
}
