import StoreSyncCore

/// How a node listens and what it accepts.
public struct NodeConfiguration: Sendable {
    /// The address to listen on.
    public var host: String
    /// The port to listen on; 0 picks a free one.
    public var port: Int
    /// The largest frame accepted on any stream, checked before it is buffered.
    public var maximumFrameSize: Int
    /// The Negentropy frame size limit of reconcile streams (at most `maximumFrameSize` minus room
    /// for framing).
    public var negentropyFrameLimit: Int
    /// The split policy of this node's reconciliations.
    public var policy: SplitPolicy
    /// Whether clients may push messages to be stored.
    public var allowPush: Bool
    /// Request rates per peer and for the whole node, per protocol.
    public var rateLimits: RateLimitPolicy
    /// Seconds a new connection has to send its hello.
    public var handshakeTimeout: Double
    /// Seconds a stream may go without a complete frame (catches slowloris clients).
    public var idleTimeout: Double
    /// Seconds a stream may stay open in all (bounds a whole request or sync session).
    public var maximumStreamDuration: Double
    /// Ranges and ids one reconcile message may carry.
    public var reconcileLimits: DecodingLimits
    /// Bytes per second one address may send to one service; nil for no limit.
    public var bandwidthPerPeer: Int?
    /// Connections open at once, in all and from one address; beyond, a new one gets 503.
    public var maximumConnections: Int
    public var maximumConnectionsPerPeer: Int
    /// Sync sessions (reconciliations) under way at once, inbound and outbound together; beyond,
    /// an inbound one gets 503 and an outbound one fails at once (to be retried later).
    public var maximumSyncSessions: Int

    /// Creates a configuration: loopback, any port, 4 MiB frames, 1 MiB Negentropy messages,
    /// the adaptive policy, push off, the default rate limits, 10 s to say hello, 30 s between
    /// frames, 10 minutes a stream, 1024 connections (64 from one address), 8 sync sessions at
    /// once, 64 MiB/s from one address to one service.
    public init(
        host: String = "127.0.0.1",
        port: Int = 0,
        maximumFrameSize: Int = 4 << 20,
        negentropyFrameLimit: Int = 1 << 20,
        policy: SplitPolicy = .adaptive,
        allowPush: Bool = false,
        rateLimits: RateLimitPolicy = .defaults,
        handshakeTimeout: Double = 10,
        idleTimeout: Double = 30,
        maximumStreamDuration: Double = 600,
        maximumConnections: Int = 1_024,
        maximumConnectionsPerPeer: Int = 64,
        maximumSyncSessions: Int = 8,
        bandwidthPerPeer: Int? = 64 << 20,
        reconcileLimits: DecodingLimits = DecodingLimits(maximumRanges: 100_000, maximumIds: 1_000_000)
    ) {
        self.host = host
        self.port = port
        self.maximumFrameSize = maximumFrameSize
        self.negentropyFrameLimit = negentropyFrameLimit
        self.policy = policy
        self.allowPush = allowPush
        self.rateLimits = rateLimits
        self.handshakeTimeout = handshakeTimeout
        self.idleTimeout = idleTimeout
        self.maximumStreamDuration = maximumStreamDuration
        self.maximumConnections = maximumConnections
        self.maximumConnectionsPerPeer = maximumConnectionsPerPeer
        self.maximumSyncSessions = maximumSyncSessions
        self.bandwidthPerPeer = bandwidthPerPeer
        self.reconcileLimits = reconcileLimits
    }
}
