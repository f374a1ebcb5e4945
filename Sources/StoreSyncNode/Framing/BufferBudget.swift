import Synchronization

/// The bytes of received frames a node holds at once, over all connections: each frame is
/// counted from the moment its length is read (before any of it is buffered) until the service
/// that took it asks for the next one, or its connection ends. A frame that would pass the
/// budget is refused, so a flood of large frames costs the node at most the budget, and small
/// requests (queries, hellos, ends) are always let in, so others keep being served.
public final class BufferBudget: Sendable {
    /// The most bytes held over all connections.
    public let limit: Int
    /// The most bytes held for one connection.
    public let perConnection: Int
    /// Frames this small are counted but never refused.
    public static let smallFrame = 64 << 10

    private let held = Mutex(0)

    public init(limit: Int, perConnection: Int) {
        self.limit = limit
        self.perConnection = perConnection
    }

    /// Bytes held now, over all connections.
    public var bytesHeld: Int { held.withLock { $0 } }

    /// A ledger of one connection's frames against this budget.
    public func connection() -> Ledger { Ledger(budget: self) }

    fileprivate func reserve(_ bytes: Int, connectionHeld: Int) throws(FrameError) {
        try held.withLock { (held: inout Int) throws(FrameError) in
            if bytes > Self.smallFrame {
                guard connectionHeld + bytes <= perConnection else {
                    throw .overBudget(
                        "a frame of \(bytes) bytes would put \(connectionHeld + bytes) bytes in flight on this connection; at most \(perConnection)",
                        connection: true)
                }
                guard held + bytes <= limit else {
                    throw .overBudget(
                        "the node holds \(held) bytes of received frames; at most \(limit): try again later",
                        connection: false)
                }
            }
            held += bytes
        }
    }

    fileprivate func release(_ bytes: Int) {
        held.withLock { $0 -= bytes }
    }

    /// One connection's frames: reserved by its decoder on the event loop, released in the
    /// same order by the task that serves it, and whatever is left when the connection ends.
    public final class Ledger: Sendable {
        private struct State {
            /// The bytes reserved for each frame not yet released, oldest first.
            var frames: [Int] = []
            var held = 0
            /// Whether the connection has ended: nothing more is counted then.
            var closed = false
        }

        private let budget: BufferBudget
        private let state = Mutex(State())

        fileprivate init(budget: BufferBudget) {
            self.budget = budget
        }

        /// Bytes this connection holds now.
        public var bytesHeld: Int { state.withLock { $0.held } }

        /// Counts a frame of `bytes` in, or throws when it would pass a bound.
        public func reserve(_ bytes: Int) throws(FrameError) {
            try state.withLock { (state: inout State) throws(FrameError) in
                guard !state.closed else { return }
                try budget.reserve(bytes, connectionHeld: state.held)
                state.frames.append(bytes)
                state.held += bytes
            }
        }

        /// Counts the oldest frame still held out: its service is done with it.
        public func releaseOldest() {
            state.withLock { state in
                guard !state.frames.isEmpty else { return }
                let bytes = state.frames.removeFirst()
                state.held -= bytes
                budget.release(bytes)
            }
        }

        /// Releases everything the connection still holds; it counts nothing from now on.
        public func close() {
            state.withLock { state in
                budget.release(state.held)
                state = State(closed: true)
            }
        }
    }
}
