import NIOCore
import StoreSyncCore
import StoreSyncLMDB
import StoreSyncProto
import SwiftProtobuf

import struct Foundation.Data

extension StoreNode {
    /// Room left in a frame for the framing and protobuf overhead of a response.
    var responseBudget: Int { Frame.payloadBudget(maximumFrameSize: configuration.maximumFrameSize) }

    func answerTransfer(_ request: inout ByteBuffer, peer: String) async throws -> ByteBuffer {
        switch try TransferRequest(decoding: &request) {
        case .fetch(let topic, let hashes):
            var response = Waku_Store_V3_StoreQueryResponse()
            response.statusCode = UInt32(StatusCode.ok)
            let budget = responseBudget
            response.messages = try await store.read { store in
                var budget = budget
                var entries = [Waku_Store_V3_WakuMessageKeyValue]()
                for hash in hashes {
                    guard let message = try store.message(for: hash), message.pubsubTopic == topic else { continue }
                    let size = message.estimatedEncodedSize
                    guard size <= budget else { break }
                    budget -= size
                    entries.append(message.keyValue(hash: hash))
                }
                return entries
            }
            counters.update { $0.messagesServed += response.messages.count }
            metrics.messagesTransferred(received: 0, sent: response.messages.count)
            return ByteBuffer(bytes: try response.serializedBytes() as [UInt8])
        case .offer(let topic, let window, let payload):
            let offered = try Waku_Store_V3_StoreQueryResponse(serializedBytes: Array(buffer: payload))
            let floor = try await store.read { try $0.retentionFloor() }
            let counts = try await storeVerified(offered.messages, peer: peer) { entry, message in
                guard message.pubsubTopic == topic else { return "pubsub topic \(message.pubsubTopic), not \(topic)" }
                guard message.timestamp >= 0, window.contains(UInt64(message.timestamp)) else {
                    return "timestamp \(message.timestamp) outside the session's window"
                }
                guard UInt64(message.timestamp) >= floor else {
                    return "timestamp \(message.timestamp) is older than this node's retention keeps"
                }
                return nil
            }
            var out = ByteBuffer()
            counts.encode(into: &out)
            return out
        }
    }

    func answerPush(_ request: inout ByteBuffer, peer: String) async throws -> ByteBuffer {
        let pushed = try Waku_Store_V3_StoreQueryResponse(serializedBytes: Array(buffer: request))
        let counts = try await storeVerified(pushed.messages, peer: peer, requireHash: false) { _, message in
            message.ephemeral ? "ephemeral messages are not stored" : nil
        }
        var out = ByteBuffer()
        counts.encode(into: &out)
        return out
    }

    /// Stores the entries whose message hashes to the hash they were sent for (when given) and
    /// passes `check`; counts and logs the rest, which are never stored.
    func storeVerified(
        _ entries: [Waku_Store_V3_WakuMessageKeyValue],
        peer: String,
        requireHash: Bool = true,
        check: (Waku_Store_V3_WakuMessageKeyValue, WakuMessage) -> String?
    ) async throws -> StoreCounts {
        var counts = StoreCounts()
        var accepted = [WakuMessage]()
        let hasher = SHA256Hasher()
        for entry in entries {
            do {
                guard entry.hasMessage, entry.hasPubsubTopic else { throw ProtocolError.bad("entry without message") }
                let message = try WakuMessage(proto: entry.message, pubsubTopic: entry.pubsubTopic)
                let hash = message.hash(using: hasher)
                if requireHash || entry.hasMessageHash {
                    guard entry.messageHash.count == 32, Array(entry.messageHash) == hash.bytes else {
                        throw ProtocolError.bad("message does not hash to the key it was sent for")
                    }
                }
                if let reason = check(entry, message) { throw ProtocolError.bad(reason) }
                accepted.append(message)
            } catch {
                counts.rejected += 1
                logger.warning("rejected a message from \(peer): \(error)")
            }
        }
        let result = try await store.ingest(accepted)
        for outcome in result.outcomes {
            switch outcome {
            case .stored: counts.stored += 1
            case .duplicate: counts.duplicates += 1
            case .ephemeral, .rejected: counts.rejected += 1
            }
        }
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
        let response = try await store.read { StoreQuery.answer(serialized: serialized, store: $0) }
        return ByteBuffer(bytes: try response.serializedBytes() as [UInt8])
    }
}
