import NIOCore
import StoreSyncCore
import StoreSyncLMDB
import StoreSyncProto

import struct Foundation.Data

/// Waku Store v3 query semantics over a node's archive.
public enum StoreQuery {
    /// Page size when the request names none.
    public static let defaultPageSize = 20
    /// The largest page; larger requested limits are clamped to it.
    public static let maximumPageSize = 100
    /// The most hashes one request may name.
    public static let maximumHashes = 100
    /// The most content topics one request may name.
    public static let maximumContentTopics = 10

    /// The 429 response to a request refused by a rate limit, made without decoding it (so its
    /// request id is not known: the reference node answers "N/A").
    static func limited(_ description: String, requestID: String = "") throws -> ByteBuffer {
        try refusal(.tooManyRequests, "TOO_MANY_REQUESTS: \(description)", requestID: requestID)
    }

    /// A response that carries only a status.
    static func refusal(_ code: StatusCode, _ description: String, requestID: String = "") throws -> ByteBuffer {
        var response = Waku_Store_V3_StoreQueryResponse()
        response.requestID = requestID
        response.statusCode = UInt32(code.rawValue)
        response.statusDesc = description
        return try response.serializedBuffer()
    }

    /// Answers the bytes of a request as they came from the network: a request that is not a
    /// `StoreQueryRequest` gets status 400.
    public static func answer(serialized: [UInt8], archive: any MessageArchive) async
        -> Waku_Store_V3_StoreQueryResponse
    {
        do {
            return await answer(try Waku_Store_V3_StoreQueryRequest(serializedBytes: serialized), archive: archive)
        } catch {
            var refusal = Waku_Store_V3_StoreQueryResponse()
            refusal.statusCode = UInt32(StatusCode.badRequest.rawValue)
            refusal.statusDesc = "malformed StoreQueryRequest: \(error)"
            return refusal
        }
    }

    /// Answers a request: 200 with a page of messages (always in forward order) and a cursor when
    /// more remain, 400 with a description for a malformed request, and for a store failure the
    /// code every protocol gives it (`ProtocolError.answering`).
    public static func answer(_ request: Waku_Store_V3_StoreQueryRequest, archive: any MessageArchive) async
        -> Waku_Store_V3_StoreQueryResponse
    {
        var response = Waku_Store_V3_StoreQueryResponse()
        response.requestID = request.requestID
        do {
            try await fill(&response, request: request, archive: archive)
            response.statusCode = UInt32(StatusCode.ok.rawValue)
            response.statusDesc = "OK"
        } catch {
            let refusal = ProtocolError.answering(error)
            response.messages = []
            response.clearPaginationCursor()
            response.statusCode = UInt32(refusal.code.rawValue)
            response.statusDesc = refusal.message
        }
        return response
    }

    private static func fill(
        _ response: inout Waku_Store_V3_StoreQueryResponse,
        request: Waku_Store_V3_StoreQueryRequest,
        archive: any MessageArchive
    ) async throws {
        let hasFilters =
            request.hasPubsubTopic || !request.contentTopics.isEmpty || request.hasTimeStart || request.hasTimeEnd
        guard request.messageHashes.isEmpty || !hasFilters else {
            throw ProtocolError.bad("a query names message hashes or filters, not both")
        }
        guard request.messageHashes.count <= maximumHashes else {
            throw ProtocolError.bad("at most \(maximumHashes) message hashes per query")
        }
        guard request.hasPubsubTopic == !request.contentTopics.isEmpty else {
            throw ProtocolError.bad("pubsub topic and content topics go together: give both or neither")
        }
        guard request.contentTopics.count <= maximumContentTopics else {
            throw ProtocolError.bad("at most \(maximumContentTopics) content topics per query")
        }
        let requested = request.hasPaginationLimit ? Int(clamping: request.paginationLimit) : defaultPageSize
        let limit = min(max(requested == 0 ? defaultPageSize : requested, 1), maximumPageSize)

        if !request.messageHashes.isEmpty {
            var hashes = [MessageHash]()
            for raw in request.messageHashes {
                guard let hash = MessageHash(bytes: Array(raw)) else {
                    throw ProtocolError.bad("a message hash is 32 bytes")
                }
                hashes.append(hash)
            }
            var start = 0
            if request.hasPaginationCursor {
                guard let cursor = MessageHash(bytes: Array(request.paginationCursor)),
                    let index = hashes.firstIndex(of: cursor)
                else { throw ProtocolError.bad("pagination cursor is not one of the requested hashes") }
                start = index + 1
            }
            var found = [(MessageHash, WakuMessage)]()
            var index = start
            while index < hashes.count && found.count < limit {
                // As many as the page still has room for, at once.
                let batch = Array(hashes[index..<min(hashes.count, index + limit - found.count)])
                for (hash, message) in zip(batch, try await archive.messages(for: batch)) {
                    if let message { found.append((hash, message)) }
                }
                index += batch.count
            }
            response.messages = found.map { $0.1.keyValue(hash: $0.0, includeData: request.includeData) }
            if index < hashes.count, let last = found.last { response.paginationCursor = Data(last.0.bytes) }
            return
        }

        guard !request.hasTimeStart || request.timeStart >= 0, !request.hasTimeEnd || request.timeEnd >= 0 else {
            throw ProtocolError.bad("negative time bounds")
        }
        let start = request.hasTimeStart ? UInt64(request.timeStart) : 0
        let end = request.hasTimeEnd ? UInt64(request.timeEnd) : .max
        guard start <= end else { throw ProtocolError.bad("time_start is after time_end") }
        var cursor: SyncKey?
        if request.hasPaginationCursor {
            guard let hash = MessageHash(bytes: Array(request.paginationCursor)),
                let message = try await archive.messages(for: [hash]).first ?? nil, message.timestamp >= 0
            else { throw ProtocolError.bad("pagination cursor names no stored message") }
            cursor = SyncKey(timestamp: UInt64(message.timestamp), hash: hash)
        }
        let hits = try await archive.queryKeys(
            ArchiveQuery(
                pubsubTopic: request.hasPubsubTopic ? request.pubsubTopic : nil,
                contentTopics: request.contentTopics, timeRange: start..<end, cursor: cursor,
                forward: request.paginationForward, limit: limit + 1))
        let page = Array(hits.prefix(limit))
        let messages = request.includeData ? try await archive.messages(for: page.map(\.key.hash)) : []
        var entries = [Waku_Store_V3_WakuMessageKeyValue]()
        for (index, hit) in page.enumerated() {
            if request.includeData {
                guard let message = messages[index] else { continue }
                entries.append(message.keyValue(hash: hit.key.hash))
            } else {
                var entry = Waku_Store_V3_WakuMessageKeyValue()
                entry.messageHash = Data(hit.key.hash.bytes)
                entries.append(entry)
            }
        }
        // Always in forward order; the cursor is the last message in the direction of travel.
        response.messages = request.paginationForward ? entries : entries.reversed()
        if hits.count > limit, let last = page.last { response.paginationCursor = Data(last.key.hash.bytes) }
    }
}
