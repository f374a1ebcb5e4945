import StoreSyncCore
import StoreSyncLMDB

extension CountRequest {
    /// The answer of `store` to this request: bucket counts with fingerprints, or a page of keys.
    public func answer(store: MessageStore) throws -> CountResponse {
        switch self {
        case .buckets(let filter, let width):
            let hasher = SHA256Hasher()
            let summaries = try store.bucketSummaries(
                pubsubTopic: filter.pubsubTopic, contentTopics: filter.contentTopics,
                start: filter.timeRange.lowerBound, end: filter.timeRange.upperBound, width: width)
            return .buckets(
                summaries.map {
                    BucketCount(count: $0.count, fingerprint: Fingerprint(sum: $0.sum, count: $0.count, hasher: hasher))
                })
        case .keys(let filter, let cursor, let limit):
            let hits = try store.queryKeys(
                pubsubTopic: filter.pubsubTopic, contentTopics: filter.contentTopics, timeRange: filter.timeRange,
                cursor: cursor, forward: true, limit: limit + 1)
            return .keys(hits.prefix(limit).map(\.key), more: hits.count > limit)
        }
    }
}
