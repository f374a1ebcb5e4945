import Foundation
import StoreSyncCore
import Testing

@Suite("14/WAKU2-MESSAGE deterministic hash")
struct MessageHashTests {
    struct Vector: Decodable {
        let name: String
        let pubsubTopic: String
        let contentTopic: String
        let payloadHex: String
        let metaHex: String?
        let timestampNs: Int64
        let messageHashHex: String

        enum CodingKeys: String, CodingKey {
            case name
            case pubsubTopic = "pubsub_topic"
            case contentTopic = "content_topic"
            case payloadHex = "payload_hex"
            case metaHex = "meta_hex"
            case timestampNs = "timestamp_ns"
            case messageHashHex = "message_hash_hex"
        }
    }

    static func vectors() throws -> [Vector] {
        try JSONDecoder().decode([Vector].self, from: TestVectors.data("message-hash.json"))
    }

    @Test func allOfficialVectorsPass() throws {
        let vectors = try Self.vectors()
        #expect(vectors.count == 8)
        let hasher = SHA256Hasher()
        for vector in vectors {
            let message = try WakuMessage(
                pubsubTopic: vector.pubsubTopic,
                contentTopic: vector.contentTopic,
                payload: try #require(Hex.decode(vector.payloadHex)),
                meta: try vector.metaHex.map { try #require(Hex.decode($0)) },
                timestamp: vector.timestampNs
            )
            #expect(message.hash(using: hasher).hex == vector.messageHashHex, "\(vector.name)")
            #expect(message.hash.hex == vector.messageHashHex, "\(vector.name), fresh hasher")
        }
    }

    @Test func metaOver64BytesIsRejected() {
        #expect(throws: MessageError.metaTooLong(length: 65)) {
            try WakuMessage(
                pubsubTopic: "p", contentTopic: "c", payload: [], meta: Array(repeating: 1, count: 65), timestamp: 1)
        }
        var message = try? WakuMessage(pubsubTopic: "p", contentTopic: "c", payload: [], timestamp: 1)
        #expect(throws: MessageError.metaTooLong(length: 100)) { try message?.setMeta(Array(repeating: 0, count: 100)) }
        #expect(message?.meta == nil)
    }

    @Test func emptyAndAbsentMetaHashAlike() throws {
        let absent = try WakuMessage(pubsubTopic: "p", contentTopic: "c", payload: [1], timestamp: 5)
        let empty = try WakuMessage(pubsubTopic: "p", contentTopic: "c", payload: [1], meta: [], timestamp: 5)
        // Both hash the same bytes: meta contributes nothing when empty or absent.
        #expect(absent.hash == empty.hash)
        let changed = try WakuMessage(pubsubTopic: "p", contentTopic: "c", payload: [2], timestamp: 5)
        #expect(absent.hash != changed.hash)
    }

    @Test func negativeTimestampHasNoSyncKey() throws {
        let message = try WakuMessage(pubsubTopic: "p", contentTopic: "c", payload: [], timestamp: -1)
        #expect(throws: MessageError.negativeTimestamp(-1)) { try message.syncKey(using: SHA256Hasher()) }
    }

    @Test func syncKeysOrderByTimestampThenHashBytes() throws {
        let low = try #require(MessageHash(hex: String(repeating: "00", count: 31) + "ff"))
        let high = try #require(MessageHash(hex: "01" + String(repeating: "00", count: 31)))
        #expect(low < high)
        #expect(SyncKey(timestamp: 1, hash: high) < SyncKey(timestamp: 2, hash: low))
        #expect(SyncKey(timestamp: 2, hash: low) < SyncKey(timestamp: 2, hash: high))
        #expect(high.hex == "01" + String(repeating: "00", count: 31))
        #expect(MessageHash(bytes: high.bytes) == high)
    }
}
