import NIOCore
import NIOEmbedded
import StoreSyncNode
import Testing

@Suite("Stream framing, through EmbeddedChannel")
struct FrameCodecTests {
    static func channel(maximum: Int = 1_024) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addFramingHandlers(maximumFrameSize: maximum)
        return channel
    }

    @Test func framesRoundTripAcrossArbitrarySplits() throws {
        let frames: [Frame] = [
            .hello(protocolId: 1, version: StreamProtocol.version), .data(ByteBuffer(bytes: [1, 2, 3])),
            .error(code: 429, message: "slow down"),
            .end, .data(ByteBuffer()),
        ]
        let sender = try Self.channel()
        for frame in frames { try sender.writeOutbound(frame) }
        var wire = ByteBuffer()
        while var chunk = try sender.readOutbound(as: ByteBuffer.self) { wire.writeBuffer(&chunk) }
        // Feed the bytes one at a time: the decoder must reassemble every frame.
        let receiver = try Self.channel()
        while let byte = wire.readSlice(length: 1) { try receiver.writeInbound(byte) }
        var received = [Frame]()
        while let frame = try receiver.readInbound(as: Frame.self) { received.append(frame) }
        #expect(received == frames)
    }

    @Test func oversizedLengthIsRefusedBeforeBuffering() throws {
        let receiver = try Self.channel(maximum: 1_024)
        var buffer = ByteBuffer()
        buffer.writeInteger(UInt32(2_000_000_000))  // a 2 GB frame announced, none of it sent
        #expect(throws: FrameError.tooLarge(length: 2_000_000_000, maximum: 1_024)) {
            try receiver.writeInbound(buffer)
        }
    }

    @Test(arguments: [
        ([UInt8](arrayLiteral: 0, 0, 0, 0), FrameError.empty),
        ([0, 0, 0, 1, 9], .unknownKind(9)),
        ([0, 0, 0, 3, 1, 0x58, 0x58], .badHello),
        ([0, 0, 0, 2, 3, 1], .badError),
    ])
    func malformedFramesAreTypedErrors(bytes: [UInt8], expected: FrameError) throws {
        let receiver = try Self.channel()
        #expect(throws: expected) { try receiver.writeInbound(ByteBuffer(bytes: bytes)) }
    }
}
