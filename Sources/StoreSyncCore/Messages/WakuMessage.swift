/// A message of 14/WAKU2-MESSAGE together with the pubsub topic it was published on: what a store
/// node archives and what sync transfers.
public struct WakuMessage: Hashable, Sendable {
    /// The largest `meta` the standard allows.
    public static let maximumMetaLength = 64

    /// The pubsub topic (the sync scope).
    public var pubsubTopic: String
    /// The content topic applications filter on.
    public var contentTopic: String
    /// The application payload.
    public var payload: [UInt8]
    /// Application metadata that takes part in the hash; nil when absent.
    public private(set) var meta: [UInt8]?
    /// Nanoseconds since the Unix epoch; part of the hash and of the sync key.
    public var timestamp: Int64
    /// Ephemeral messages are relayed but never stored.
    public var ephemeral: Bool
    /// The payload version field (carried, not hashed).
    public var version: UInt32

    /// Creates a message; throws if `meta` is longer than 64 bytes.
    public init(
        pubsubTopic: String,
        contentTopic: String,
        payload: [UInt8],
        meta: [UInt8]? = nil,
        timestamp: Int64,
        ephemeral: Bool = false,
        version: UInt32 = 0
    ) throws(MessageError) {
        if let meta, meta.count > Self.maximumMetaLength {
            throw .metaTooLong(length: meta.count)
        }
        self.pubsubTopic = pubsubTopic
        self.contentTopic = contentTopic
        self.payload = payload
        self.meta = meta
        self.timestamp = timestamp
        self.ephemeral = ephemeral
        self.version = version
    }

    /// Replaces `meta`; throws if it is longer than 64 bytes.
    public mutating func setMeta(_ meta: [UInt8]?) throws(MessageError) {
        if let meta, meta.count > Self.maximumMetaLength {
            throw .metaTooLong(length: meta.count)
        }
        self.meta = meta
    }
}

/// Why a message is not acceptable.
public enum MessageError: Error, Equatable, Sendable, CustomStringConvertible {
    /// `meta` exceeds the 64 bytes 14/WAKU2-MESSAGE allows.
    case metaTooLong(length: Int)
    /// The timestamp is negative, so it cannot be a sync key.
    case negativeTimestamp(Int64)
    /// The message has no timestamp, so it cannot be a sync key.
    case missingTimestamp

    public var description: String {
        switch self {
        case .metaTooLong(let length): "meta is \(length) bytes; at most \(WakuMessage.maximumMetaLength) are allowed"
        case .negativeTimestamp(let value): "timestamp \(value) is negative"
        case .missingTimestamp: "the message has no timestamp"
        }
    }
}

extension WakuMessage {
    /// Bytes of protobuf framing, hash and fixed-width fields a message takes beside its
    /// variable parts when carried as a Store v3 entry, rounded up.
    public static let encodingOverhead = 160

    /// An upper estimate of the message's size as a Store v3 entry (with its hash and pubsub
    /// topic): what batching for a frame and for a transaction counts.
    public var estimatedEncodedSize: Int {
        payload.count + (meta?.count ?? 0) + pubsubTopic.utf8.count + contentTopic.utf8.count + Self.encodingOverhead
    }
}
