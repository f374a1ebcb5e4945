import NIOCore
import Synchronization

/// One stream of a libp2p connection, after its protocol was agreed: bytes both ways, each
/// direction closed on its own. Read from one task at a time. Releasing the stream (done when
/// the handler returns, or by `close()`) resets it unless both sides had closed it.
public final class P2PStream: Sendable {
    /// The protocol agreed for the stream.
    public let protocolID: String
    /// The connection the stream belongs to.
    public let connection: P2PConnectionInfo
    let key: StreamKey
    private let owner: any StreamOwner
    /// Bytes read from the connection and not yet taken by a parser.
    private let pending: Mutex<ByteBuffer>
    /// What each chunk read from the connection is charged to, if anything.
    private let meter = Mutex<(@Sendable (Int) async throws -> Void)?>(nil)

    init(key: StreamKey, owner: any StreamOwner, protocolID: String, connection: P2PConnectionInfo, pending: ByteBuffer)
    {
        self.key = key
        self.owner = owner
        self.protocolID = protocolID
        self.connection = connection
        self.pending = Mutex(pending)
    }

    deinit {
        owner.release(key)
    }

    /// The next bytes of the stream, or nil once the peer closed its side.
    public func read() async throws -> ByteBuffer? {
        let buffered = pending.withLock { buffer -> ByteBuffer? in
            guard buffer.readableBytes > 0 else { return nil }
            defer { buffer.clear() }
            return buffer
        }
        if let buffered { return buffered }
        return try await readChunk()
    }

    /// Charges every chunk read from now on to `charge`, before it is parsed. While `charge`
    /// waits nothing more is read from the stream, so the peer's window stays shut (yamux) or
    /// the connection stops being read once the stream's buffer is full (mplex): a rate limit
    /// turns into backpressure on the sender.
    public func meter(with charge: @escaping @Sendable (Int) async throws -> Void) {
        meter.withLock { $0 = charge }
    }

    private func readChunk() async throws -> ByteBuffer? {
        let chunk = try await owner.read(key)
        if let chunk, let charge = meter.withLock({ $0 }) { try await charge(chunk.readableBytes) }
        return chunk
    }

    /// The next message `parse` takes, or nil if the peer closed the stream cleanly before it.
    public func next<T>(_ parse: (inout ByteBuffer) throws -> T?) async throws -> T? {
        var reader = BufferedReader(
            source: Chunks(stream: self),
            buffer: pending.withLock { buffer in
                defer { buffer = ByteBuffer() }
                return buffer
            })
        defer {
            let leftover = reader.buffer
            pending.withLock { $0 = leftover }
        }
        return try await reader.nextOrEnd(parse)
    }

    /// Reads one varint-prefixed message of at most `limit` bytes (the prefix is checked before
    /// the message is buffered); nil if the peer closed the stream before it.
    public func readPrefixed(limit: Int, what: String) async throws -> ByteBuffer? {
        try await next { buffer in try UVarint.readPrefixed(&buffer, limit: limit, what: what) }
    }

    /// Sends bytes; waits while the peer's window is shut or the connection's send queue is full.
    public func write(_ data: ByteBuffer) async throws {
        try await owner.write(data, on: key)
    }

    /// Sends one varint-prefixed message.
    public func writePrefixed(_ message: ByteBuffer) async throws {
        var framed = ByteBuffer()
        framed.reserveCapacity(message.readableBytes + UVarint.maximumLength)
        UVarint.writePrefixed(message, to: &framed)
        try await write(framed)
    }

    /// Tells the peer this side sends no more.
    public func closeWrite() {
        owner.closeWrite(key)
    }

    /// Abandons the stream both ways.
    public func reset() {
        owner.reset(key)
    }

    /// Closes this side and lets the stream go: reset if the peer had not closed its side.
    public func close() {
        owner.closeWrite(key)
        owner.release(key)
    }

    /// The stream's bytes as chunks, for a `BufferedReader`.
    struct Chunks: ChunkSource {
        let stream: P2PStream

        mutating func nextChunk() async throws -> ByteBuffer? {
            try await stream.readChunk()
        }
    }
}
