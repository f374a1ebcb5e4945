import NIOCore

/// A byte stream that arrives in chunks: a TCP connection, a Noise channel, a muxed stream.
public protocol ChunkSource {
    /// The next chunk, or nil at the end of the stream.
    mutating func nextChunk() async throws -> ByteBuffer?
}

/// Reads messages from a chunked byte stream: a parser looks at the bytes so far and takes a
/// message when a whole one is there; what it leaves stays for the next read. Parsers check every
/// length against its bound before waiting for the bytes it announces, so what is buffered stays
/// within one bounded message plus one chunk.
public struct BufferedReader<Source: ChunkSource> {
    public var source: Source
    /// Bytes received and not yet taken.
    public var buffer: ByteBuffer

    public init(source: Source, buffer: ByteBuffer = ByteBuffer()) {
        self.source = source
        self.buffer = buffer
    }

    /// The next message `parse` takes; throws `P2PError.closed` if the stream ends first.
    public mutating func next<T>(_ parse: (inout ByteBuffer) throws -> T?) async throws -> T {
        guard let value = try await nextOrEnd(parse) else { throw P2PError.closed }
        return value
    }

    /// The next message, or nil if the stream ends cleanly before any byte of it.
    public mutating func nextOrEnd<T>(_ parse: (inout ByteBuffer) throws -> T?) async throws -> T? {
        while true {
            if let value = try parse(&buffer) { return value }
            guard let chunk = try await source.nextChunk() else {
                guard buffer.readableBytes == 0 else { throw P2PError.malformed("the stream ended inside a message") }
                return nil
            }
            append(chunk)
        }
    }

    /// Adds a chunk behind the bytes not yet taken; a chunk that arrives when none are left
    /// becomes the buffer, uncopied.
    public mutating func append(_ chunk: ByteBuffer) {
        if buffer.readableBytes == 0 {
            buffer = chunk
        } else {
            var chunk = chunk
            buffer.discardReadBytes()
            buffer.writeBuffer(&chunk)
        }
    }

    /// The bytes buffered now, or the next chunk: for relaying a stream's data as it arrives.
    public mutating func nextBytes() async throws -> ByteBuffer? {
        if buffer.readableBytes > 0 {
            defer { buffer.clear() }
            return buffer
        }
        return try await source.nextChunk()
    }
}

extension NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator: ChunkSource {
    public mutating func nextChunk() async throws -> ByteBuffer? {
        try await next()
    }
}
