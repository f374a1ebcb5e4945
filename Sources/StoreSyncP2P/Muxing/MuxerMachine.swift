import NIOCore

/// A stream of a muxed connection: its number and whether this side opened it (mplex numbers
/// each side's streams on its own).
public struct StreamKey: Hashable, Sendable, CustomStringConvertible {
    public let id: UInt64
    public let local: Bool

    public var description: String { "\(local ? "local" : "remote") stream \(id)" }
}

/// What a muxer learns from the peer's bytes.
enum MuxerEvent: Sendable, Equatable {
    /// The peer opened a stream.
    case opened(StreamKey)
    /// Bytes for a stream.
    case data(StreamKey, ByteBuffer)
    /// The peer will send no more on the stream.
    case remoteClosed(StreamKey)
    /// The peer reset the stream.
    case reset(StreamKey)
    /// The peer widened what this side may send on the stream.
    case windowOpened(StreamKey)
    /// Bytes the muxer must send (acknowledgements, pings, refusals).
    case send(ByteBuffer)
    /// The peer is closing the connection.
    case goAway
}

/// Which end of the connection this side is: the dialler opens odd yamux streams.
public enum ConnectionRole: Sendable {
    case dialer, listener
}

/// The bounds a muxer keeps for one connection.
public struct MuxerLimits: Sendable {
    /// Streams open at once, both sides together; a peer's stream over it is refused.
    public var maximumStreams: Int
    /// The yamux receive window of each stream (also the most a stream buffers).
    public var yamuxWindow: Int
    /// The largest mplex message accepted.
    public var maximumMplexMessage: Int

    public init(maximumStreams: Int = 64, yamuxWindow: Int = 256 * 1024, maximumMplexMessage: Int = 1 << 20) {
        self.maximumStreams = maximumStreams
        self.yamuxWindow = yamuxWindow
        self.maximumMplexMessage = maximumMplexMessage
    }
}

/// A stream multiplexer as a state machine: bytes from the peer in, events and bytes to send out.
/// Yamux and mplex implement it; `MuxedConnection` runs either over a secure channel.
protocol MuxerMachine: Sendable {
    init(role: ConnectionRole, limits: MuxerLimits)
    /// Decodes the whole frames at the front of `buffer`; a frame that breaks the protocol or a
    /// bound throws, and the connection is to be closed.
    mutating func receive(_ buffer: inout ByteBuffer, into events: inout [MuxerEvent]) throws(P2PError)
    /// Opens a stream: its key and the bytes announcing it.
    mutating func open() throws(P2PError) -> (StreamKey, ByteBuffer)
    /// Bytes this side may send on the stream now.
    func sendable(_ key: StreamKey) -> Int
    /// Frames `data` (at most `sendable`) for the stream.
    mutating func frame(_ data: ByteBuffer, on key: StreamKey) -> ByteBuffer
    /// The application took `count` bytes of the stream: bytes to send, if that warrants a window
    /// update.
    mutating func consumed(_ count: Int, on key: StreamKey) -> ByteBuffer?
    /// This side will send no more on the stream.
    mutating func closeWrite(_ key: StreamKey) -> ByteBuffer?
    /// This side abandons the stream.
    mutating func reset(_ key: StreamKey) -> ByteBuffer?
    /// Forgets a stream both sides are done with.
    mutating func remove(_ key: StreamKey)
    /// Bytes that tell the peer the connection closes.
    func goAway() -> ByteBuffer?
}
