import StoreSyncCore
import StoreSyncP2P
import StoreSyncProto

/// One message of the reference node's store-sync transfer (`/vac/waku/transfer/1.0.0`): the
/// sender opens its own stream and writes, varint-prefixed until it closes, one
/// `{1: pubsub topic, 2: WakuMessage}` for each message its peer lacks. Push only: nothing is
/// ever asked for.
public struct StoreSyncTransfer: Sendable, Equatable {
    public static let protocolID = "/vac/waku/transfer/1.0.0"
    /// The largest message read, its prefix aside: the reference node's largest Waku message.
    public static let maximumSize = 150 * 1_024

    public var message: WakuMessage

    public init(message: WakuMessage) {
        self.message = message
    }

    /// Decodes one message; both fields must be there and the message must be storable.
    public init(decoding bytes: [UInt8]) throws(P2PError) {
        guard bytes.count <= Self.maximumSize else {
            throw .tooLarge(what: "transfer message", size: bytes.count, limit: Self.maximumSize)
        }
        var reader = ProtobufReader(bytes, what: "transfer message")
        var topic: String?
        var encoded: [UInt8]?
        while let (field, value) = try reader.next() {
            switch field {
            case 1: topic = try value.string("pubsub topic")
            case 2: encoded = try value.bytes("message")
            default: continue
            }
        }
        guard let topic, let encoded else { throw .malformed("a transfer message lacks its pubsub topic or message") }
        let proto: Waku_Message_V1_WakuMessage
        do {
            proto = try Waku_Message_V1_WakuMessage(serializedBytes: encoded)
        } catch {
            throw .malformed("the transferred WakuMessage does not decode: \(error)")
        }
        do {
            message = try WakuMessage(proto: proto, pubsubTopic: topic)
        } catch {
            throw .malformed("the transferred message cannot be stored: \(error)")
        }
    }

    /// The encoding, pubsub topic first, as the reference node writes it.
    public var encoded: [UInt8] {
        var writer = ProtobufWriter()
        writer.string(1, message.pubsubTopic)
        writer.bytes(2, (try? message.proto.serializedBytes() as [UInt8]) ?? [])
        return writer.bytes
    }
}
