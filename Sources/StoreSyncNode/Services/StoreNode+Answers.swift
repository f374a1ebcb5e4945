import NIOCore
import StoreSyncCore
import StoreSyncLMDB
import StoreSyncProto
import SwiftProtobuf

import struct Foundation.Data

extension StoreNode {
    /// Room left in a frame for the framing and protobuf overhead of a response.
    var responseBudget: Int { Frame.payloadBudget(maximumFrameSize: configuration.maximumFrameSize) }

    func answerTransfer(_ request: inout ByteBuffer, peer: String, address: String) async throws -> ByteBuffer {
        switch try TransferRequest(decoding: &request) {
        case .fetch(let topic, let hashes):
            let response = Self.fetchReply(
                hashes: hashes, messages: try await archive.messages(for: hashes), pubsubTopic: topic,
                budget: responseBudget)
            counters.update { $0.messagesServed += response.messages.count }
            metrics.messagesTransferred(received: 0, sent: response.messages.count)
            return try response.serializedBuffer()
        case .offer(let topic, let window, let payload):
            guard admission.pubsubTopics.contains(topic) else {
                throw ProtocolError(.notFound, "pubsub topic \(topic) is not one this node stores")
            }
            let offered = try Waku_Store_V3_StoreQueryResponse(buffer: payload)
            if !configuration.allowPush {
                try permitOffer(offered.messages, pubsubTopic: topic, address: address)
            }
            let floor = try await archive.retentionFloor(at: clock.now())
            let counts = try await storeVerified(offered.messages, peer: peer) { message, key in
                guard message.pubsubTopic == topic else { return "pubsub topic \(message.pubsubTopic), not \(topic)" }
                guard window.contains(key.timestamp) else {
                    return "timestamp \(message.timestamp) outside the session's window"
                }
                guard key >= floor else { return "key \(key) is below what this node's retention keeps" }
                return nil
            }
            var out = ByteBuffer()
            counts.encode(into: &out)
            return out
        }
    }

    /// A fetch reply: the messages for `hashes`, in their order, as many as fit in `budget`.
    /// It always makes progress: when the budget cuts it, the cursor names the first hash not
    /// considered, and every hash before it that has no message in the reply is one this node
    /// cannot serve (it lacks it, or the message is too large for any reply).
    static func fetchReply(hashes: [MessageHash], messages: [WakuMessage?], pubsubTopic: String, budget: Int)
        -> Waku_Store_V3_StoreQueryResponse
    {
        var response = Waku_Store_V3_StoreQueryResponse()
        response.statusCode = UInt32(StatusCode.ok.rawValue)
        var left = budget
        for (hash, message) in zip(hashes, messages) {
            guard let message, message.pubsubTopic == pubsubTopic else { continue }
            let size = message.estimatedEncodedSize
            guard size <= budget else { continue }
            guard size <= left else {
                response.paginationCursor = Data(hash.bytes)
                break
            }
            left -= size
            response.messages.append(message.keyValue(hash: hash))
        }
        return response
    }

    /// Takes the permission of a reconcile session of this peer for every offered message, or
    /// refuses the whole offer with 403.
    private func permitOffer(_ entries: [Waku_Store_V3_WakuMessageKeyValue], pubsubTopic: String, address: String)
        throws
    {
        let keys = entries.map { entry in
            SyncKey(
                timestamp: entry.message.hasTimestamp ? UInt64(clamping: entry.message.timestamp) : 0,
                hash: MessageHash(bytes: Array(entry.messageHash)) ?? .zero)
        }
        let refused = permits.admit(address: address, pubsubTopic: pubsubTopic, keys: keys, now: clock.uptime())
        guard refused.isEmpty else {
            counters.update {
                $0.offersForbidden += entries.count
                $0.messagesRejected += entries.count
            }
            metrics.transfersRejected(entries.count)
            throw ProtocolError(
                .forbidden,
                "\(refused.count) of \(entries.count) offered messages are outside what a reconcile session with this peer showed this node to lack; this node does not take pushes"
            )
        }
    }

    func answerPush(_ request: inout ByteBuffer, peer: String) async throws -> ByteBuffer {
        let pushed = try Waku_Store_V3_StoreQueryResponse(buffer: request)
        let counts = try await storeVerified(pushed.messages, peer: peer, requireHash: false) { message, _ in
            message.ephemeral ? "ephemeral messages are not stored" : nil
        }
        var out = ByteBuffer()
        counts.encode(into: &out)
        return out
    }

    /// Stores the entries whose message hashes to the hash they were sent for (when given),
    /// passes the node's admission rules and `check`; counts and logs the rest, which are never
    /// stored.
    func storeVerified(
        _ entries: [Waku_Store_V3_WakuMessageKeyValue],
        peer: String,
        requireHash: Bool = true,
        check: (WakuMessage, SyncKey) -> String?
    ) async throws -> StoreCounts {
        var counts = StoreCounts()
        var accepted = [WakuMessage]()
        let hasher = SHA256Hasher()
        let now = clock.now()
        for entry in entries {
            do {
                guard entry.hasMessage, entry.hasPubsubTopic else { throw ProtocolError.bad("entry without message") }
                let message = try WakuMessage(proto: entry.message, pubsubTopic: entry.pubsubTopic)
                let key = try message.syncKey(using: hasher)
                if requireHash || entry.hasMessageHash {
                    guard entry.messageHash.count == 32, Array(entry.messageHash) == key.hash.bytes else {
                        throw ProtocolError.bad("message does not hash to the key it was sent for")
                    }
                }
                if let reason = admission.refusal(of: message, now: now) ?? check(message, key) {
                    throw ProtocolError.bad(reason)
                }
                accepted.append(message)
            } catch {
                counts.rejected += 1
                logger.warning("rejected a message from \(peer): \(error)")
            }
        }
        let result = try await archive.ingest(accepted)
        for outcome in result.outcomes { counts.count(outcome) }
        let final = counts
        counters.update {
            $0.messagesStored += final.stored
            $0.messagesRejected += final.rejected
        }
        metrics.messagesTransferred(received: final.stored, sent: 0)
        metrics.transfersRejected(final.rejected)
        return counts
    }

    func answerCount(_ request: inout ByteBuffer) async throws -> ByteBuffer {
        let count = try CountRequest(decoding: &request)
        let answer = try await store.read { try count.answer(store: $0) }
        var out = ByteBuffer()
        answer.encode(into: &out)
        return out
    }

    func answerStoreQuery(_ request: inout ByteBuffer) async throws -> ByteBuffer {
        let serialized = Array(buffer: request)
        let response = await StoreQuery.answer(serialized: serialized, archive: archive)
        return try response.serializedBuffer()
    }
}
