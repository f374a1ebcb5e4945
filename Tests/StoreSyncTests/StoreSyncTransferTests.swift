import StoreSyncCore
import StoreSyncNode
import StoreSyncP2P
import SwiftProtobuf
import Testing

/// `/vac/waku/transfer/1.0.0` messages: `{1: pubsub topic, 2: WakuMessage}` as the reference
/// node writes them.
@Suite struct StoreSyncTransferTests {
    @Test func aTransferMessageIsTopicThenMessageByteForByte() throws {
        let message = try WakuMessage(pubsubTopic: "t", contentTopic: "c", payload: [0x61], timestamp: 1)
        // 1: "t"; 2: {1: "a", 2: "c", 10: zigzag(1) = 2}
        let bytes: [UInt8] = [0x0A, 0x01, 0x74, 0x12, 0x08, 0x0A, 0x01, 0x61, 0x12, 0x01, 0x63, 0x50, 0x02]
        #expect(StoreSyncTransfer(message: message).encoded == bytes)
        #expect(try StoreSyncTransfer(decoding: bytes).message == message)
    }

    /// The reference node refuses a WakuMessage without field 1: an empty payload is written.
    @Test func anEmptyPayloadIsStillWritten() throws {
        let message = try WakuMessage(pubsubTopic: "t", contentTopic: "c", payload: [], timestamp: 1)
        let bytes: [UInt8] = [0x0A, 0x01, 0x74, 0x12, 0x07, 0x0A, 0x00, 0x12, 0x01, 0x63, 0x50, 0x02]
        #expect(StoreSyncTransfer(message: message).encoded == bytes)
        #expect(try message.proto.serializedBytes() as [UInt8] == Array(bytes[5...]))
        #expect(message.encodedSize == 7)
        #expect(try StoreSyncTransfer(decoding: bytes).message == message)
    }

    @Test func incompleteOversizedOrUnstorableMessagesAreRefused() {
        let refused: [[UInt8]] = [
            [0x0A, 0x01, 0x74],  // no message
            [0x12, 0x02, 0x50, 0x02],  // no pubsub topic
            [0x0A, 0x01, 0x74, 0x12, 0x03, 0x0A, 0x01, 0x61],  // a message without a timestamp
            [0x0A, 0x01, 0x74, 0x12, 0x05, 0x0A, 0x09, 0x61],  // a message cut short
            [UInt8](repeating: 0, count: StoreSyncTransfer.maximumSize + 1),
        ]
        for bytes in refused {
            #expect(throws: P2PError.self) { try StoreSyncTransfer(decoding: bytes) }
        }
    }
}
