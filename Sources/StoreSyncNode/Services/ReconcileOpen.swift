import NIOCore
import StoreSyncCore

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
