import NIOCore

/// What a stream asks of the connection that carries it.
protocol StreamOwner: AnyObject, Sendable {
    func read(_ key: StreamKey) async throws -> ByteBuffer?
    func write(_ data: ByteBuffer, on key: StreamKey) async throws
    func closeWrite(_ key: StreamKey)
    func reset(_ key: StreamKey)
    func release(_ key: StreamKey)
}

/// What a connection handle asks of its muxer, whichever it is.
protocol MuxerCore: StreamOwner {
    func open() throws -> StreamKey
    func goAway()
    func fail(_ error: P2PError)
    var streamCount: Int { get }
}

extension MuxedConnection: MuxerCore {}

/// A stream's bytes by key, before it has a `P2PStream` (while its protocol is agreed).
struct KeyedChunks: ChunkSource {
    let owner: any StreamOwner
    let key: StreamKey

    mutating func nextChunk() async throws -> ByteBuffer? {
        try await owner.read(key)
    }
}
