import StoreSyncCore
import StoreSyncP2P

/// How a node listens and what it accepts. Every bound is a flag of `storesync node`; SPEC.md
/// section 6 is the table of them with their defaults.
public struct NodeConfiguration: Sendable {
    /// The address to listen on (libp2p, and the plaintext listener if any).
    public var host: String
    /// The port of the plaintext framing listener; 0 picks a free one.
    public var port: Int
    /// Whether the node also listens for this project's framing protocols in plaintext on
    /// `host:port` (SPEC.md 5.1 to 5.7), beside libp2p: for peers and tools of the framing
    /// protocol only; off by default, since a peer there is known by its IP address alone.
    public var plaintextListener = false
    /// The TCP port of the libp2p listener (Waku Store v3, metadata, identify); 0 picks a free one.
    public var p2pPort: Int = 0
    /// The Waku cluster the node belongs to; peers of another cluster are disconnected.
    public var clusterID: UInt32 = 0
    /// PeerIds whose pushes the node takes over libp2p (with `allowPush` off, only these).
    public var allowPushFrom: Set<String> = []
    /// The bounds of the libp2p transport.
    public var p2p = P2PConfiguration()
    /// The pubsub topics the node stores, reconciles and serves.
    public var pubsubTopics: [String]
    /// The largest frame accepted on any stream, checked before it is buffered.
    public var maximumFrameSize: Int
    /// The Negentropy frame size limit of reconcile streams (at most `maximumFrameSize` minus room
    /// for framing).
    public var negentropyFrameLimit: Int
    /// The split policy of this node's reconciliations.
    public var policy: SplitPolicy
    /// Whether clients may push messages to be stored (and peers offer what no session showed).
    public var allowPush: Bool
    /// Request rates per peer and for the whole node, per protocol.
    public var rateLimits: RateLimitPolicy
    /// Seconds a new connection has to send its hello.
    public var handshakeTimeout: Double
    /// Seconds a stream may go without a complete frame (catches slowloris clients).
    public var idleTimeout: Double
    /// Seconds a stream may stay open in all: bounds a request, and the wall time of a sync
    /// session inbound and outbound.
    public var maximumStreamDuration: Double
    /// Ranges and ids one reconcile message may carry.
    public var reconcileLimits: DecodingLimits
    /// Rounds and keys enumerated one sync session may cost this node, inbound or outbound.
    public var sessionBudget: SessionBudget
    /// Bytes per second one address may send to one service; nil for no limit.
    public var bandwidthPerPeer: Int?
    /// Connections open at once, in all and from one address; beyond, a new one gets 503.
    public var maximumConnections: Int
    public var maximumConnectionsPerPeer: Int
    /// Sync sessions under way at once that peers opened (beyond, 503) and that this node
    /// opened (beyond, the sync fails at once, to be tried later): separate slots, so that
    /// peers cannot starve the node's own syncs.
    public var maximumInboundSessions: Int
    public var maximumOutboundSessions: Int
    /// The most keys a peer may offer after one reconcile session.
    public var maximumOfferKeys: Int
    /// The largest message stored, in bytes of its protobuf encoding.
    public var maximumMessageSize: Int
    /// How many seconds ahead of the node's clock a message timestamp may be.
    public var maximumFutureSkewSeconds: Double
    /// Bytes of received frames the node holds at once, over all connections and on one.
    public var maximumBufferedBytes: Int
    public var maximumBufferedBytesPerConnection: Int
    /// The reference node's store sync, and whether Negentropy is offered beside it.
    public var storeSync = StoreSyncSettings()

    /// The defaults of every bound (SPEC.md section 6): loopback, any port, topic
    /// `/waku/2/rs/0/0`, push off.
    public init(
        host: String = "127.0.0.1",
        port: Int = 0,
        pubsubTopics: [String] = ["/waku/2/rs/0/0"],
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
        maximumInboundSessions: Int = 8,
        maximumOutboundSessions: Int = 8,
        bandwidthPerPeer: Int? = 64 << 20,
        reconcileLimits: DecodingLimits = DecodingLimits(maximumRanges: 100_000, maximumIds: 1_000_000),
        sessionBudget: SessionBudget = .defaults,
        maximumOfferKeys: Int = 100_000,
        maximumMessageSize: Int = MessageAdmission.defaultMaximumMessageSize,
        maximumFutureSkewSeconds: Double = MessageAdmission.defaultMaximumFutureSkewSeconds,
        maximumBufferedBytes: Int = 128 << 20,
        maximumBufferedBytesPerConnection: Int = 9 << 20
    ) {
        self.host = host
        self.port = port
        self.pubsubTopics = pubsubTopics
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
        self.maximumInboundSessions = maximumInboundSessions
        self.maximumOutboundSessions = maximumOutboundSessions
        self.bandwidthPerPeer = bandwidthPerPeer
        self.reconcileLimits = reconcileLimits
        self.sessionBudget = sessionBudget
        self.maximumOfferKeys = maximumOfferKeys
        self.maximumMessageSize = maximumMessageSize
        self.maximumFutureSkewSeconds = maximumFutureSkewSeconds
        self.maximumBufferedBytes = maximumBufferedBytes
        self.maximumBufferedBytesPerConnection = maximumBufferedBytesPerConnection
    }

    /// Whether a libp2p peer may push: anyone with `allowPush`, else the PeerIds listed.
    public func allowsPush(from peer: String) -> Bool {
        allowPush || allowPushFrom.contains(peer)
    }

    /// The rules messages entering this node pass.
    public var admission: MessageAdmission {
        MessageAdmission(
            pubsubTopics: Set(pubsubTopics), maximumMessageSize: maximumMessageSize,
            maximumFutureSkewSeconds: maximumFutureSkewSeconds)
    }
}

extension NodeConfiguration {
    /// This configuration with `settings` for the reference node's store sync.
    public func withStoreSync(_ settings: StoreSyncSettings) -> NodeConfiguration {
        var configuration = self
        configuration.storeSync = settings
        return configuration
    }

    /// This configuration with the libp2p listener's settings.
    public func withLibp2p(
        allowPushFrom: Set<String> = [], plaintextListener: Bool = false, port: Int, clusterID: UInt32,
        handshakeTimeout: Double, maximumStreamsPerConnection: Int,
        maximumConnectionsPerPeer: Int
    ) -> NodeConfiguration {
        var configuration = self
        configuration.allowPushFrom = allowPushFrom
        configuration.plaintextListener = plaintextListener
        configuration.p2pPort = port
        configuration.clusterID = clusterID
        configuration.p2p.handshakeTimeout = handshakeTimeout
        configuration.p2p.maximumStreamsPerConnection = maximumStreamsPerConnection
        configuration.p2p.maximumConnectionsPerPeer = maximumConnectionsPerPeer
        configuration.p2p.maximumConnections = maximumConnections
        return configuration
    }
}
