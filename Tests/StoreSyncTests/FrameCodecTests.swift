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

@Suite("Buffer budget, through EmbeddedChannel")
struct BufferBudgetTests {
    static func channel(_ ledger: BufferBudget.Ledger) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(
            ByteToMessageHandler(FrameDecoder(maximumFrameSize: 4 << 20, ledger: ledger)))
        return channel
    }

    /// The prefix and the first bytes of a data frame of `length` bytes after its prefix.
    static func start(length: Int) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeInteger(UInt32(length))
        buffer.writeInteger(UInt8(2))
        buffer.writeBytes([UInt8](repeating: 7, count: 100))
        return buffer
    }

    @Test func framesAreCountedBeforeTheyAreBufferedAndRefusedPastTheBounds() throws {
        let budget = BufferBudget(limit: 3 << 20, perConnection: 2 << 20)
        let first = budget.connection()
        let second = budget.connection()
        let a = try Self.channel(first)
        let b = try Self.channel(second)
        // 1.5 MiB announced on a: counted whole, though only 105 bytes of it arrived.
        try a.writeInbound(Self.start(length: 3 << 19))
        #expect(budget.bytesHeld == 4 + 3 << 19)
        // Another 1.5 MiB on b would pass the node's 3 MiB: retry later (503).
        #expect { try b.writeInbound(Self.start(length: 3 << 19)) } throws: { error in
            guard case FrameError.overBudget(_, connection: false) = error else { return false }
            return true
        }
        // A small frame on a third connection is still let in.
        let c = try Self.channel(budget.connection())
        var small = ByteBuffer()
        FrameEncoder().encode(data: .end, out: &small)
        try c.writeInbound(small)
        #expect(try c.readInbound(as: Frame.self) == .end)
        // The rest of a's frame arrives; it is decoded and stays counted until released.
        try a.writeInbound(ByteBuffer(bytes: [UInt8](repeating: 7, count: (3 << 19) - 101)))
        #expect(try a.readInbound(as: Frame.self) != nil)
        #expect(first.bytesHeld == 4 + 3 << 19)
        // A second large frame on a would put 2.5 MiB in flight there, past its 2 MiB (413).
        #expect { try a.writeInbound(Self.start(length: 1 << 20)) } throws: { error in
            guard case FrameError.overBudget(_, connection: true) = error else { return false }
            return true
        }
        // Once the service is done with the first frame, the room is back.
        first.releaseOldest()
        #expect(budget.bytesHeld == 4 + 1)
        let fresh = budget.connection()
        let d = try Self.channel(fresh)
        try d.writeInbound(Self.start(length: 3 << 19))
        #expect(fresh.bytesHeld == 4 + 3 << 19)
        fresh.close()
        #expect(budget.bytesHeld == 4 + 1)
        _ = try? a.finish()
        _ = try? b.finish()
        _ = try? c.finish()
        _ = try? d.finish()
    }
}
