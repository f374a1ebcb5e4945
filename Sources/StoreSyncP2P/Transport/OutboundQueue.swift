import NIOCore
import Synchronization

/// The plaintext a muxed connection sends, in order, to the one task that encrypts and writes it.
/// Stream data waits while more than the high watermark is queued, so a peer that does not read
/// holds this side's writers, not its memory; control frames (acknowledgements, window updates,
/// pings) never wait, and a peer that lets them pile past the hard limit loses the connection.
final class OutboundQueue: Sendable {
    private struct State {
        var queued = 0
        /// Writers of data waiting for room; resumed with false to try again.
        var waiters: [CheckedContinuation<Bool, any Error>] = []
        var closed = false
    }

    let frames: AsyncStream<ByteBuffer>
    private let continuation: AsyncStream<ByteBuffer>.Continuation
    private let state = Mutex(State())
    private let highWatermark: Int
    private let hardLimit: Int

    init(highWatermark: Int, hardLimit: Int) {
        (frames, continuation) = AsyncStream.makeStream(of: ByteBuffer.self)
        self.highWatermark = highWatermark
        self.hardLimit = hardLimit
    }

    /// Queues a control frame.
    func enqueue(_ bytes: ByteBuffer) throws(P2PError) {
        try state.withLock { state throws(P2PError) in
            guard !state.closed else { throw .closed }
            guard state.queued + bytes.readableBytes <= hardLimit else {
                throw .limit("the peer does not read: \(state.queued) bytes wait to be sent")
            }
            state.queued += bytes.readableBytes
            continuation.yield(bytes)
        }
    }

    /// Queues stream data once the queue is under its high watermark.
    func enqueueData(_ bytes: ByteBuffer) async throws {
        while true {
            let queued: Bool = try await withCheckedThrowingContinuation { waiter in
                let outcome: Result<Bool, P2PError> = state.withLock { state in
                    if state.closed { return .failure(.closed) }
                    if state.queued >= highWatermark {
                        state.waiters.append(waiter)
                        return .success(false)
                    }
                    state.queued += bytes.readableBytes
                    continuation.yield(bytes)
                    return .success(true)
                }
                switch outcome {
                case .failure(let error): waiter.resume(throwing: error)
                case .success(true): waiter.resume(returning: true)
                case .success(false): break
                }
            }
            if queued { return }
        }
    }

    /// The writer sent `count` bytes.
    func sent(_ count: Int) {
        let woken = state.withLock { state -> [CheckedContinuation<Bool, any Error>] in
            state.queued -= count
            guard state.queued < highWatermark else { return [] }
            defer { state.waiters.removeAll() }
            return state.waiters
        }
        for waiter in woken { waiter.resume(returning: false) }
    }

    /// Ends the queue: writers waiting fail, and the writer task finishes.
    func close() {
        let woken = state.withLock { state -> [CheckedContinuation<Bool, any Error>] in
            state.closed = true
            defer { state.waiters.removeAll() }
            return state.waiters
        }
        continuation.finish()
        for waiter in woken { waiter.resume(throwing: P2PError.closed) }
    }
}
