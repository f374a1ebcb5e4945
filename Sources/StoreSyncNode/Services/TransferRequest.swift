import NIOCore
import StoreSyncCore

/// A transfer stream's request.
public enum TransferRequest: Equatable, Sendable {
    /// Send me these messages of a topic.
    case fetch(pubsubTopic: String, hashes: [MessageHash])
    /// Store these messages of a topic and window (a protobuf `StoreQueryResponse` carrying them).
    case offer(pubsubTopic: String, window: Range<UInt64>, messages: ByteBuffer)

    /// The most hashes one fetch may name.
    public static let maximumFetch = 1_000

    public func encode(into buffer: inout ByteBuffer) {
        switch self {
        case .fetch(let topic, let hashes):
            buffer.writeInteger(UInt8(1))
            buffer.writeTopic(topic)
            buffer.writeInteger(UInt32(hashes.count))
            for hash in hashes { buffer.writeBytes(hash.bytes) }
        case .offer(let topic, let window, var messages):
            buffer.writeInteger(UInt8(2))
            buffer.writeTopic(topic)
            buffer.writeInteger(window.lowerBound)
            buffer.writeInteger(window.upperBound)
            buffer.writeBuffer(&messages)
        }
    }

    public init(decoding buffer: inout ByteBuffer) throws(ProtocolError) {
        switch buffer.readInteger(as: UInt8.self) {
        case 1:
            let topic = try buffer.readTopic()
            guard let count = buffer.readInteger(as: UInt32.self) else { throw .bad("fetch count missing") }
            guard count <= Self.maximumFetch else {
                throw .bad("fetch of \(count) hashes; at most \(Self.maximumFetch)")
            }
            guard buffer.readableBytes == Int(count) * 32 else { throw .bad("fetch hash list length mismatch") }
            var hashes = [MessageHash]()
            hashes.reserveCapacity(Int(count))
            for _ in 0..<count {
                guard let bytes = buffer.readBytes(length: 32), let hash = MessageHash(bytes: bytes) else {
                    throw .bad("fetch hash truncated")
                }
                hashes.append(hash)
            }
            self = .fetch(pubsubTopic: topic, hashes: hashes)
        case 2:
            let topic = try buffer.readTopic()
            guard let start = buffer.readInteger(as: UInt64.self), let end = buffer.readInteger(as: UInt64.self),
                start <= end
            else { throw .bad("offer window malformed") }
            self = .offer(pubsubTopic: topic, window: start..<end, messages: buffer.slice())
        default:
            throw .bad("unknown transfer request")
        }
    }
}
