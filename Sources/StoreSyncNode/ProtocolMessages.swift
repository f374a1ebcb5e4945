import NIOCore
import StoreSyncCore

/// A protocol body that does not decode or breaks a bound.
public struct ProtocolError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The status code to answer with.
    public let code: UInt16
    /// What is wrong.
    public let message: String

    public init(_ code: UInt16, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }

    static func bad(_ message: String) -> ProtocolError { ProtocolError(StatusCode.badRequest, message) }
}

/// The first data frame of a reconcile stream: which scope and time window, and the initiator's
/// first Negentropy message.
public struct ReconcileOpen: Equatable, Sendable {
    /// The longest pubsub topic accepted, in bytes.
    public static let maximumTopicLength = 1_024

    public var pubsubTopic: String
    /// Timestamps `[start, end)` in ns.
    public var window: Range<UInt64>
    public var message: [UInt8]

    public init(pubsubTopic: String, window: Range<UInt64>, message: [UInt8]) {
        self.pubsubTopic = pubsubTopic
        self.window = window
        self.message = message
    }

    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeTopic(pubsubTopic)
        buffer.writeInteger(window.lowerBound)
        buffer.writeInteger(window.upperBound)
        buffer.writeBytes(message)
    }

    public init(decoding buffer: inout ByteBuffer) throws(ProtocolError) {
        pubsubTopic = try buffer.readTopic()
        guard let start = buffer.readInteger(as: UInt64.self), let end = buffer.readInteger(as: UInt64.self) else {
            throw .bad("reconcile header truncated")
        }
        guard start <= end else { throw .bad("window start \(start) after end \(end)") }
        window = start..<end
        message = buffer.readBytes(length: buffer.readableBytes) ?? []
    }
}

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

/// How many messages of a batch were stored, were already there, or were refused.
public struct StoreCounts: Equatable, Sendable {
    public var stored = 0
    public var duplicates = 0
    public var rejected = 0

    public init(stored: Int = 0, duplicates: Int = 0, rejected: Int = 0) {
        self.stored = stored
        self.duplicates = duplicates
        self.rejected = rejected
    }

    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt32(stored))
        buffer.writeInteger(UInt32(duplicates))
        buffer.writeInteger(UInt32(rejected))
    }

    public init(decoding buffer: inout ByteBuffer) throws(ProtocolError) {
        guard let stored = buffer.readInteger(as: UInt32.self), let duplicates = buffer.readInteger(as: UInt32.self),
            let rejected = buffer.readInteger(as: UInt32.self)
        else { throw .bad("counts truncated") }
        self.init(stored: Int(stored), duplicates: Int(duplicates), rejected: Int(rejected))
    }

    public static func + (lhs: StoreCounts, rhs: StoreCounts) -> StoreCounts {
        StoreCounts(
            stored: lhs.stored + rhs.stored, duplicates: lhs.duplicates + rhs.duplicates,
            rejected: lhs.rejected + rhs.rejected)
    }
}

extension ByteBuffer {
    mutating func writeTopic(_ topic: String) {
        writeInteger(UInt16(topic.utf8.count))
        writeString(topic)
    }

    mutating func readTopic() throws(ProtocolError) -> String {
        guard let length = readInteger(as: UInt16.self) else { throw .bad("topic length missing") }
        guard Int(length) <= ReconcileOpen.maximumTopicLength else {
            throw .bad("topic of \(length) bytes is too long")
        }
        guard let topic = readString(length: Int(length)) else { throw .bad("topic truncated") }
        return topic
    }
}
