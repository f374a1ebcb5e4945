import NIOCore
import StoreSyncCore
import StoreSyncP2P

/// A stream's frames as its service reads them, from a framing connection or a libp2p stream:
/// each frame stays counted against the node's buffer budget until the service asks for the next
/// one, and whatever is left is released when the stream ends.
struct InboundFrames {
    private var source: FrameSource
    private let ledger: BufferBudget.Ledger
    /// Whether the service holds a frame it took.
    private var holding = false

    init(_ stream: NIOAsyncChannelInboundStream<Frame>, ledger: BufferBudget.Ledger) {
        self.source = .channel(stream.makeAsyncIterator())
        self.ledger = ledger
    }

    /// The frames of a libp2p stream, each read within `idle` seconds of asking (else the
    /// stream is reset).
    init(
        _ stream: P2PStream, maximumFrameSize: Int, ledger: BufferBudget.Ledger, idle: Double, clock: any SyncScheduler
    ) {
        self.source = .stream(
            StreamFrameReader(
                stream: stream, maximumFrameSize: maximumFrameSize, ledger: ledger, idle: idle, clock: clock
            ) { _ in ProtocolError(.requestTimeout, "no complete frame for \(Int(idle * 1_000)) ms") })
        self.ledger = ledger
    }

    /// The next frame; the previous one is done with.
    mutating func next() async throws -> Frame? {
        if holding { ledger.releaseOldest() }
        let frame = try await source.next()
        holding = frame != nil
        return frame
    }
}

/// Where a stream's frames come from: a framing connection's decoder, or a libp2p stream read
/// with the same decoder.
enum FrameSource {
    case channel(NIOAsyncChannelInboundStream<Frame>.AsyncIterator)
    case stream(StreamFrameReader)

    /// The next frame, or nil when the peer closed the stream.
    mutating func next() async throws -> Frame? {
        switch self {
        case .channel(var iterator):
            defer { self = .channel(iterator) }
            return try await iterator.next()
        case .stream(var reader):
            defer { self = .stream(reader) }
            return try await reader.next()
        }
    }
}

/// An accepted connection with the ledger of its frames.
struct InboundConnection: Sendable {
    let channel: NIOAsyncChannel<Frame, Frame>
    let ledger: BufferBudget.Ledger
}

/// Frames (SPEC.md 5.1, without the hello: the protocol id names the protocol) read from a libp2p
/// stream with the framing connection's decoder.
struct StreamFrameReader {
    let stream: P2PStream
    /// The framing connection's decoder: the same bounds and buffer accounting.
    private var decoder: FrameDecoder
    let idle: Double
    let clock: any SyncScheduler
    /// When the whole session must end, if it has such a bound (a client's sync session).
    let deadline: SessionDeadline?
    /// The error a timeout ends a read with; told whether the session's deadline was the cause.
    let timeoutError: @Sendable (_ sessionExpired: Bool) -> any Error
    init(
        stream: P2PStream, maximumFrameSize: Int, ledger: BufferBudget.Ledger?, idle: Double, clock: any SyncScheduler,
        deadline: SessionDeadline? = nil, timeoutError: @escaping @Sendable (_ sessionExpired: Bool) -> any Error
    ) {
        self.stream = stream
        self.decoder = FrameDecoder(maximumFrameSize: maximumFrameSize, ledger: ledger)
        self.idle = idle
        self.clock = clock
        self.deadline = deadline
        self.timeoutError = timeoutError
    }

    /// The next frame, or nil when the peer closed its side between frames; a frame not complete
    /// within the idle timeout (or the session's deadline) resets the stream.
    mutating func next() async throws -> Frame? {
        let stream = self.stream
        var wait = idle
        var sessionBound = false
        if let deadline, deadline.uptime - clock.uptime() < wait {
            wait = max(0, deadline.uptime - clock.uptime())
            sessionBound = true
        }
        let watchdog = Watchdog(after: wait, clock: clock) { stream.reset() }
        defer { watchdog.cancel() }
        do {
            return try await stream.next { buffer in try take(&buffer) }
        } catch P2PError.reset where watchdog.fired {
            throw timeoutError(sessionBound)
        }
    }

    private mutating func take(_ buffer: inout ByteBuffer) throws -> Frame? {
        let frame = try decoder.take(from: &buffer)
        if case .hello? = frame { throw ProtocolError.bad("a libp2p stream names its protocol by its id, not a hello") }
        return frame
    }
}

/// Where a service writes its frames: a framing connection or a libp2p stream.
struct FrameWriter: Sendable {
    private enum Sink: Sendable {
        case channel(NIOAsyncChannelOutboundWriter<Frame>)
        case stream(P2PStream)
    }

    private let sink: Sink

    init(_ writer: NIOAsyncChannelOutboundWriter<Frame>) {
        sink = .channel(writer)
    }

    init(_ stream: P2PStream) {
        sink = .stream(stream)
    }

    func write(_ frame: Frame) async throws {
        switch sink {
        case .channel(let writer):
            try await writer.write(frame)
        case .stream(let stream):
            var bytes = ByteBuffer()
            FrameEncoder().encode(data: frame, out: &bytes)
            try await stream.write(bytes)
        }
    }
}
