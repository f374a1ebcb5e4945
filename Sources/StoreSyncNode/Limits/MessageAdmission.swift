import StoreSyncCore

/// The rules a message passes before a node stores it, on every path it can come in by (push,
/// offer, fetch, import): a pubsub topic the node is configured for, an encoding no larger than
/// the maximum message size, and a timestamp not too far in the future (a future-dated message
/// would outlive every real one under a count or size cap).
public struct MessageAdmission: Sendable, Equatable {
    /// The pubsub topics the node stores.
    public var pubsubTopics: Set<String>
    /// The largest 14/WAKU2-MESSAGE encoding accepted, in bytes.
    public var maximumMessageSize: Int
    /// How far ahead of the node's clock a timestamp may be, in nanoseconds.
    public var maximumFutureSkew: UInt64

    /// The reference node's limits: 150 KiB messages, 20 s ahead of the clock.
    public static let defaultMaximumMessageSize = 150 << 10
    public static let defaultMaximumFutureSkewSeconds = 20.0

    public init(
        pubsubTopics: Set<String>, maximumMessageSize: Int = Self.defaultMaximumMessageSize,
        maximumFutureSkewSeconds: Double = Self.defaultMaximumFutureSkewSeconds
    ) {
        self.pubsubTopics = pubsubTopics
        self.maximumMessageSize = maximumMessageSize
        self.maximumFutureSkew = UInt64(max(0, maximumFutureSkewSeconds) * 1e9)
    }

    /// Why `message` is refused at `now` (ns since the epoch), or nil when it may be stored.
    public func refusal(of message: WakuMessage, now: UInt64) -> String? {
        guard pubsubTopics.contains(message.pubsubTopic) else {
            return "pubsub topic \(message.pubsubTopic) is not one this node stores"
        }
        if let tooLarge = Self.sizeRefusal(of: message, maximum: maximumMessageSize) { return tooLarge }
        let (limit, overflow) = now.addingReportingOverflow(maximumFutureSkew)
        if !overflow, message.timestamp > 0, UInt64(message.timestamp) > limit {
            return "timestamp \(message.timestamp) is more than \(maximumFutureSkew / 1_000_000_000) s in the future"
        }
        return nil
    }

    /// Why `message` is too large for `maximum` bytes of encoding, or nil when it fits: the size
    /// rule alone, for paths that know no topics or clock (import).
    public static func sizeRefusal(of message: WakuMessage, maximum: Int) -> String? {
        let size = message.encodedSize
        return size <= maximum ? nil : "message of \(size) bytes; at most \(maximum) are accepted"
    }
}
