import StoreSyncCore
import StoreSyncProto

import struct Foundation.Data

extension WakuMessage {
    /// The message as 14/WAKU2-MESSAGE's protobuf (the pubsub topic travels beside it).
    public var proto: Waku_Message_V1_WakuMessage {
        var out = Waku_Message_V1_WakuMessage()
        out.payload = Data(payload)
        out.contentTopic = contentTopic
        if version != 0 { out.version = version }
        out.timestamp = timestamp
        if let meta { out.meta = Data(meta) }
        if ephemeral { out.ephemeral = true }
        return out
    }

    /// A message from its protobuf and pubsub topic; throws when it cannot be a stored message
    /// (no timestamp, meta over 64 bytes).
    public init(proto: Waku_Message_V1_WakuMessage, pubsubTopic: String) throws(MessageError) {
        guard proto.hasTimestamp else { throw .missingTimestamp }
        try self.init(
            pubsubTopic: pubsubTopic,
            contentTopic: proto.contentTopic,
            payload: Array(proto.payload),
            meta: proto.hasMeta ? Array(proto.meta) : nil,
            timestamp: proto.timestamp,
            ephemeral: proto.ephemeral,
            version: proto.version
        )
    }

    /// Bytes of the message's protobuf encoding (what the maximum message size measures),
    /// counted without encoding it.
    public var encodedSize: Int {
        func field(_ length: Int) -> Int { 1 + VarInt.encodedLength(of: UInt64(length)) + length }
        var size = 0
        // The payload field is written even when empty (the reference node wants field 1).
        size += field(payload.count)
        if !contentTopic.isEmpty { size += field(contentTopic.utf8.count) }
        if version != 0 { size += 1 + VarInt.encodedLength(of: UInt64(version)) }
        let zigzag = UInt64(bitPattern: (timestamp << 1) ^ (timestamp >> 63))
        size += 1 + VarInt.encodedLength(of: zigzag)
        if let meta { size += field(meta.count) }
        if ephemeral { size += 3 }
        return size
    }

    /// The Store v3 key-value entry of the message.
    public func keyValue(hash: MessageHash, includeData: Bool = true) -> Waku_Store_V3_WakuMessageKeyValue {
        var entry = Waku_Store_V3_WakuMessageKeyValue()
        entry.messageHash = Data(hash.bytes)
        if includeData {
            entry.message = proto
            entry.pubsubTopic = pubsubTopic
        }
        return entry
    }
}
