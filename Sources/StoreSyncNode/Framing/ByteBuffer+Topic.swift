import NIOCore
import StoreSyncCore

/// Topics on the wire of the node protocols: a UInt16 big-endian length and UTF-8 bytes.
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
