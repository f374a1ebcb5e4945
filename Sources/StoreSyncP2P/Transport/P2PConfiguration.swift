/// The bounds and choices of a libp2p host: the one table of the transport's limits, with their
/// defaults (SPEC.md section 6 lists them with their flags).
public struct P2PConfiguration: Sendable {
    /// Seconds for a connection to agree on security, finish the Noise handshake and agree on a
    /// muxer; a connection not done by then is closed.
    public var handshakeTimeout: Double = 10
    /// Seconds for a new stream to agree on its protocol; a stream that never writes is reset.
    public var negotiationTimeout: Double = 10
    /// Connections open at once.
    public var maximumConnections = 1_024
    /// Connections from one IP address at once.
    public var maximumConnectionsPerIP = 16
    /// Connections with one PeerId at once.
    public var maximumConnectionsPerPeer = 4
    /// Streams open at once on one connection.
    public var maximumStreamsPerConnection = 64
    /// The yamux receive window of each stream (at least the spec's 256 KiB, granted beyond it
    /// when the stream opens): what a stream may buffer, and what one round trip carries.
    public var yamuxWindow = 1 << 20
    /// The largest mplex message accepted.
    public var maximumMplexMessage = 1 << 20
    /// Muxers in order of preference: the first is offered first.
    public var muxers = [YamuxSession.protocolID, MplexSession.protocolID]
    /// Bytes queued for sending before stream writers wait.
    public var sendHighWatermark = 1 << 20
    /// Bytes queued for sending (control frames the peer does not read) before the connection
    /// is closed.
    public var sendHardLimit = 16 << 20
    /// What identify reports as this node's software.
    public var agentVersion = "storesync/1.0"

    public init() {}

    var muxerLimits: MuxerLimits {
        MuxerLimits(
            maximumStreams: maximumStreamsPerConnection, yamuxWindow: yamuxWindow,
            maximumMplexMessage: maximumMplexMessage)
    }

    /// The most a stream buffers before the connection's reader waits for it (mplex; yamux
    /// streams never hold more than their window).
    var streamBufferLimit: Int { max(YamuxSession.initialWindow, yamuxWindow, maximumMplexMessage) }
}
