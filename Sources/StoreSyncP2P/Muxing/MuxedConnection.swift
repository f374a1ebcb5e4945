import NIOCore
import Synchronization

/// Runs a muxer state machine over a secure channel: one task reads and hands each stream its
/// bytes, streams' writers frame their data through the machine and queue it for the one writer
/// task. A stream holds at most its buffer bound; past it (only mplex, which has no windows) the
/// reader stops reading the connection until the stream's reader catches up.
final class MuxedConnection<Machine: MuxerMachine>: StreamOwner {
    private struct StreamState {
        var chunks: [ByteBuffer] = []
        var buffered = 0
        var remoteClosed = false
        var localClosed = false
        var reset = false
        /// This side is done with the stream but the peer has not closed its side yet: what it
        /// still sends is dropped, and its close removes the stream.
        var released = false
        var reader: CheckedContinuation<ByteBuffer?, any Error>?
        var writer: CheckedContinuation<Void, any Error>?
    }

    private struct State {
        var machine: Machine
        var streams: [StreamKey: StreamState] = [:]
        var failure: P2PError?
        var goingAway = false
        /// The reader task, waiting for a full stream to drain.
        var stalled: CheckedContinuation<Void, Never>?
    }

    /// A continuation to resume once the lock is released.
    private enum Wake {
        case reader(CheckedContinuation<ByteBuffer?, any Error>, Result<ByteBuffer?, P2PError>)
        case writer(CheckedContinuation<Void, any Error>, Result<Void, P2PError>)
        case stalled(CheckedContinuation<Void, Never>)

        func run() {
            switch self {
            case .reader(let continuation, let result): continuation.resume(with: result)
            case .writer(let continuation, let result): continuation.resume(with: result)
            case .stalled(let continuation): continuation.resume()
            }
        }
    }

    private let state: Mutex<State>
    let queue: OutboundQueue
    /// The most bytes a stream buffers before the reader waits.
    private let streamBufferLimit: Int

    init(machine: Machine, queue: OutboundQueue, streamBufferLimit: Int) {
        state = Mutex(State(machine: machine))
        self.queue = queue
        self.streamBufferLimit = streamBufferLimit
    }

    /// Reads the peer's frames until the connection ends; `opened` gets each stream the peer
    /// opens. Returns at the end of the stream; throws when the peer breaks the protocol.
    func run<Source>(_ reader: inout BufferedReader<Source>, opened: (StreamKey) -> Void) async throws {
        defer { fail(.closed) }
        while true {
            var events: [MuxerEvent] = []
            try state.withLock { state throws(P2PError) in
                try state.machine.receive(&reader.buffer, into: &events)
            }
            let (newStreams, stall) = try apply(events)
            for key in newStreams { opened(key) }
            if stall {
                await withCheckedContinuation { continuation in
                    let resume = state.withLock { state -> Bool in
                        guard state.failure == nil, isOverLimit(state) else { return true }
                        state.stalled = continuation
                        return false
                    }
                    if resume { continuation.resume() }
                }
            }
            guard let chunk = try await reader.source.nextChunk() else { return }
            reader.append(chunk)
        }
    }

    private func isOverLimit(_ state: State) -> Bool {
        state.streams.values.contains { $0.buffered > streamBufferLimit }
    }

    private func apply(_ events: [MuxerEvent]) throws -> (opened: [StreamKey], stall: Bool) {
        var wakes: [Wake] = []
        var opened: [StreamKey] = []
        var outgoing: [ByteBuffer] = []
        let stall = state.withLock { state -> Bool in
            for event in events {
                switch event {
                case .opened(let key):
                    if state.goingAway {
                        if let refusal = state.machine.reset(key) { outgoing.append(refusal) }
                    } else {
                        state.streams[key] = StreamState()
                        opened.append(key)
                    }
                case .data(let key, let bytes):
                    guard var stream = state.streams[key], !stream.reset, !stream.released else {
                        if let credit = state.machine.consumed(bytes.readableBytes, on: key) { outgoing.append(credit) }
                        continue
                    }
                    if let reader = stream.reader {
                        stream.reader = nil
                        if let credit = state.machine.consumed(bytes.readableBytes, on: key) { outgoing.append(credit) }
                        wakes.append(.reader(reader, .success(bytes)))
                    } else {
                        stream.chunks.append(bytes)
                        stream.buffered += bytes.readableBytes
                    }
                    state.streams[key] = stream
                case .remoteClosed(let key):
                    guard var stream = state.streams[key] else { continue }
                    if stream.released {
                        state.streams[key] = nil
                        state.machine.remove(key)
                        continue
                    }
                    stream.remoteClosed = true
                    if let reader = stream.reader {
                        stream.reader = nil
                        wakes.append(.reader(reader, .success(nil)))
                    }
                    state.streams[key] = stream
                case .reset(let key):
                    guard var stream = state.streams[key] else { continue }
                    if stream.released {
                        state.streams[key] = nil
                        continue
                    }
                    stream.reset = true
                    if let reader = stream.reader { wakes.append(.reader(reader, .failure(.reset))) }
                    if let writer = stream.writer { wakes.append(.writer(writer, .failure(.reset))) }
                    stream.reader = nil
                    stream.writer = nil
                    state.streams[key] = stream
                case .windowOpened(let key):
                    if let writer = state.streams[key]?.writer {
                        state.streams[key]?.writer = nil
                        wakes.append(.writer(writer, .success(())))
                    }
                case .send(let bytes):
                    outgoing.append(bytes)
                case .goAway:
                    state.goingAway = true
                }
            }
            return isOverLimit(state)
        }
        for wake in wakes { wake.run() }
        for bytes in outgoing { try queue.enqueue(bytes) }
        return (opened, stall)
    }

    /// Ends every stream with `error` and the writer task.
    func fail(_ error: P2PError) {
        let wakes = state.withLock { state -> [Wake] in
            if state.failure == nil { state.failure = error }
            var wakes: [Wake] = []
            for (key, stream) in state.streams {
                if let reader = stream.reader { wakes.append(.reader(reader, .failure(error))) }
                if let writer = stream.writer { wakes.append(.writer(writer, .failure(error))) }
                state.streams[key]?.reader = nil
                state.streams[key]?.writer = nil
            }
            if let stalled = state.stalled { wakes.append(.stalled(stalled)) }
            state.stalled = nil
            return wakes
        }
        for wake in wakes { wake.run() }
        queue.close()
    }

    /// Opens a stream to the peer.
    func open() throws -> StreamKey {
        let (key, announce) = try state.withLock { state throws(P2PError) -> (StreamKey, ByteBuffer) in
            if let failure = state.failure { throw failure }
            guard !state.goingAway else { throw .closed }
            let (key, announce) = try state.machine.open()
            state.streams[key] = StreamState()
            return (key, announce)
        }
        try queue.enqueue(announce)
        return key
    }

    /// Streams open now.
    var streamCount: Int { state.withLock { $0.streams.count } }

    func read(_ key: StreamKey) async throws -> ByteBuffer? {
        try await withCheckedThrowingContinuation { continuation in
            var wakes: [Wake] = []
            var credit: ByteBuffer?
            state.withLock { state in
                guard var stream = state.streams[key] else {
                    wakes.append(.reader(continuation, .failure(state.failure ?? .closed)))
                    return
                }
                if !stream.chunks.isEmpty {
                    let chunk = stream.chunks.removeFirst()
                    stream.buffered -= chunk.readableBytes
                    credit = state.machine.consumed(chunk.readableBytes, on: key)
                    wakes.append(.reader(continuation, .success(chunk)))
                } else if stream.reset {
                    wakes.append(.reader(continuation, .failure(.reset)))
                } else if stream.remoteClosed {
                    wakes.append(.reader(continuation, .success(nil)))
                } else if let failure = state.failure {
                    wakes.append(.reader(continuation, .failure(failure)))
                } else {
                    stream.reader = continuation
                }
                state.streams[key] = stream
                if let stalled = state.stalled, !isOverLimit(state) {
                    state.stalled = nil
                    wakes.append(.stalled(stalled))
                }
            }
            if let credit { try? queue.enqueue(credit) }
            for wake in wakes { wake.run() }
        }
    }

    func write(_ data: ByteBuffer, on key: StreamKey) async throws {
        var rest = data
        while rest.readableBytes > 0 {
            let frame = try state.withLock { state throws(P2PError) -> ByteBuffer? in
                guard let stream = state.streams[key] else { throw state.failure ?? .closed }
                if stream.reset { throw .reset }
                if stream.localClosed { throw .closed }
                if let failure = state.failure { throw failure }
                let room = state.machine.sendable(key)
                guard room > 0 else { return nil }
                return state.machine.frame(rest.readSlice(length: min(room, rest.readableBytes))!, on: key)
            }
            if let frame {
                try await queue.enqueueData(frame)
                continue
            }
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let wake = state.withLock { state -> Wake? in
                    // The machine forgets a reset stream before `apply` marks it: a writer that
                    // parked in between would wait for a wake that never comes.
                    guard let stream = state.streams[key], !stream.reset, !stream.localClosed, state.failure == nil,
                        state.machine.sendable(key) == 0
                    else {
                        return .writer(continuation, .success(()))
                    }
                    state.streams[key]?.writer = continuation
                    return nil
                }
                wake?.run()
            }
        }
    }

    func closeWrite(_ key: StreamKey) {
        let fin = state.withLock { state -> ByteBuffer? in
            guard state.streams[key] != nil, state.streams[key]?.localClosed == false else { return nil }
            state.streams[key]?.localClosed = true
            return state.machine.closeWrite(key)
        }
        if let fin { try? queue.enqueue(fin) }
    }

    func reset(_ key: StreamKey) {
        let frame = state.withLock { state -> ByteBuffer? in
            guard state.streams[key] != nil else { return nil }
            state.streams[key]?.reset = true
            return state.machine.reset(key)
        }
        if let frame { try? queue.enqueue(frame) }
    }

    func release(_ key: StreamKey) {
        let frame = state.withLock { state -> ByteBuffer? in
            guard var stream = state.streams[key], !stream.released else { return nil }
            if stream.reset || (stream.remoteClosed && stream.localClosed) {
                state.streams[key] = nil
                state.machine.remove(key)
                return nil
            }
            if stream.localClosed {
                // Half closed: the peer's close (or reset) finishes it.
                stream.released = true
                stream.chunks = []
                stream.buffered = 0
                state.streams[key] = stream
                return nil
            }
            state.streams[key] = nil
            return state.machine.reset(key)
        }
        if let frame { try? queue.enqueue(frame) }
    }

    /// Tells the peer the connection closes, when the muxer has a way to say it.
    func goAway() {
        let frame = state.withLock { state -> ByteBuffer? in
            state.goingAway = true
            return state.machine.goAway()
        }
        if let frame { try? queue.enqueue(frame) }
    }
}
