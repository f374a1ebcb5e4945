import StoreSyncCore

/// How the node takes part in the reference node's store sync (`/vac/waku/reconciliation/1.0.0`
/// and `/vac/waku/transfer/1.0.0`, SPEC.md 9.4) and what it lets one peer cost it there. The
/// defaults are in SPEC.md section 6 with the other bounds.
public struct StoreSyncSettings: Sendable, Hashable {
    /// Whether the node serves and uses this project's Negentropy protocols as well; off, it
    /// syncs with every peer by the reference protocol.
    public var negentropy: Bool
    /// The content topics the node's store syncs cover; empty for all of them. Sessions cover
    /// the topics both sides have in common, as in the reference node.
    public var contentTopics: [String]
    /// The largest reconciliation payload read, checked against its length prefix before it is
    /// buffered.
    public var maximumPayload: Int
    /// Ranges and listed keys one payload may carry, and payloads one session may receive.
    public var limits: DecodingLimits
    public var maximumRounds: Int
    /// Reconciliation sessions one peer may have open with this node at once.
    public var maximumSessionsPerPeer: Int
    /// Seconds the messages a session found missing may take to arrive after it ends.
    public var transferTimeout: Double
    /// Bytes of messages from one peer held while its session runs, before the session has
    /// found them missing (the peer pushes as soon as it knows, which can be before this side
    /// does).
    public var earlyArrivalBytes: Int
    /// Messages a transfer stream may carry that no session asked for before it is reset.
    public var unwantedPerStream: Int

    public init(
        negentropy: Bool = true, contentTopics: [String] = [], maximumPayload: Int = 4 << 20,
        limits: DecodingLimits = DecodingLimits(maximumRanges: 100_000, maximumIds: 120_000),
        maximumRounds: Int = 500, maximumSessionsPerPeer: Int = 2, transferTimeout: Double = 60,
        earlyArrivalBytes: Int = 8 << 20, unwantedPerStream: Int = 100
    ) {
        self.negentropy = negentropy
        self.contentTopics = contentTopics
        self.maximumPayload = maximumPayload
        self.limits = limits
        self.maximumRounds = maximumRounds
        self.maximumSessionsPerPeer = maximumSessionsPerPeer
        self.transferTimeout = transferTimeout
        self.earlyArrivalBytes = earlyArrivalBytes
        self.unwantedPerStream = unwantedPerStream
    }

    /// The reconciliation protocol id.
    public static let reconciliationProtocol = "/vac/waku/reconciliation/1.0.0"
}
