import NIOCore

/// A connection's frames as its service reads them: each frame stays counted against the
/// node's buffer budget until the service asks for the next one, and whatever is left is
/// released when the connection ends.
struct InboundFrames {
    private var iterator: NIOAsyncChannelInboundStream<Frame>.AsyncIterator
    private let ledger: BufferBudget.Ledger
    /// Whether the service holds a frame it took.
    private var holding = false

    init(_ stream: NIOAsyncChannelInboundStream<Frame>, ledger: BufferBudget.Ledger) {
        self.iterator = stream.makeAsyncIterator()
        self.ledger = ledger
    }

    /// The next frame; the previous one is done with.
    mutating func next() async throws -> Frame? {
        if holding { ledger.releaseOldest() }
        let frame = try await iterator.next()
        holding = frame != nil
        return frame
    }
}

/// An accepted connection with the ledger of its frames.
struct InboundConnection: Sendable {
    let channel: NIOAsyncChannel<Frame, Frame>
    let ledger: BufferBudget.Ledger
}
