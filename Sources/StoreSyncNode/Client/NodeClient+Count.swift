import NIOCore
import StoreSyncCore

extension NodeClient {
    /// Count and fingerprint of each bucket of `bucketWidth` ns over the filter's time range,
    /// asked in as many requests on one stream as the bucket limit needs.
    public func bucketCounts(_ filter: CountFilter, bucketWidth: UInt64) async throws -> [BucketCount] {
        precondition(bucketWidth > 0, "buckets need a positive width")
        return try await withStream(.count) { stream in
            var buckets = [BucketCount]()
            var start = filter.timeRange.lowerBound
            let end = filter.timeRange.upperBound
            let most = UInt64(CountRequest.maximumBuckets)
            let maximumSpan = bucketWidth > UInt64.max / most ? UInt64.max : bucketWidth * most
            repeat {
                let partEnd = end - start <= maximumSpan ? end : start + maximumSpan
                var part = filter
                part.timeRange = start..<partEnd
                var request = ByteBuffer()
                CountRequest.buckets(part, bucketWidth: bucketWidth).encode(into: &request)
                var reply = try await stream.request(request)
                guard case .buckets(let answered) = try CountResponse(decoding: &reply) else {
                    throw PeerError.unexpected("a key page where bucket counts were asked for")
                }
                buckets += answered
                start = partEnd
            } while start < end
            return buckets
        }
    }

    /// Every key the filter selects, in key order, fetched in pages; throws if there are more
    /// than `limit`.
    public func keys(_ filter: CountFilter, limit: Int = 1_000_000) async throws -> [SyncKey] {
        try await withStream(.count) { stream in
            var keys = [SyncKey]()
            var cursor: SyncKey?
            while true {
                var request = ByteBuffer()
                CountRequest.keys(filter, after: cursor, limit: CountRequest.maximumKeys).encode(into: &request)
                var reply = try await stream.request(request)
                guard case .keys(let page, let more) = try CountResponse(decoding: &reply) else {
                    throw PeerError.unexpected("bucket counts where a key page was asked for")
                }
                keys += page
                guard keys.count <= limit else {
                    throw PeerError.unexpected("more than \(limit) keys in the range; narrow it")
                }
                guard more, let last = page.last else { return keys }
                cursor = last
            }
        }
    }
}
