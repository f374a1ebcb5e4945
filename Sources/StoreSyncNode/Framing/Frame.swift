import NIOCore

/// One unit of a stream between nodes: every TCP connection is one stream, opened by a hello that
/// names the protocol, then carrying data frames, and ended by an end or an error frame.
public enum Frame: Sendable, Hashable {
    /// Opens a stream: the protocol id (`StreamProtocol`) and its version.
    case hello(protocolId: UInt8, version: UInt8)
    /// Protocol data.
    case data(ByteBuffer)
    /// A failure, with a status code (`StatusCode`), what went wrong, and for a retryable one
    /// the milliseconds the peer should wait before trying again (0: no hint); the sender closes
    /// the stream after it.
    case error(code: UInt16, message: String, retryAfterMilliseconds: UInt32 = 0)
    /// The sender has nothing more to send on this stream.
    case end

    static let helloKind: UInt8 = 1
    static let dataKind: UInt8 = 2
    static let errorKind: UInt8 = 3
    static let endKind: UInt8 = 4
    static let magic: [UInt8] = Array("SSYN".utf8)

    /// Bytes a frame keeps for framing and the protobuf fields around its messages.
    static let framingReserve = 4_096

    /// The bytes of messages one data frame can carry under `maximumFrameSize`.
    public static func payloadBudget(maximumFrameSize: Int) -> Int {
        maximumFrameSize - framingReserve
    }
}

/// The protocols a stream can speak.
public enum StreamProtocol: UInt8, Sendable, CaseIterable {
    /// Negentropy v1 reconciliation of one scope and time window.
    case reconcile = 1
    /// Fetching and offering messages after a reconciliation.
    case transfer = 2
    /// Waku Store v3 queries.
    case storeQuery = 3
    /// Clients handing a node messages to store.
    case push = 4
    /// Per-bucket message counts and fingerprints, and key lists, for comparing nodes.
    case count = 5

    /// The version of each protocol this node speaks.
    public static let version: UInt8 = 2

    /// The protocols that run on libp2p streams as frames (Store v3 has its own Waku framing).
    public static let framedOverLibp2p: [StreamProtocol] = [.reconcile, .transfer, .push, .count]

    /// The libp2p protocol id of a framed protocol: `/storesync/<name>/<version>.0.0`.
    public var libp2pID: String { "/storesync/\(name)/\(Self.version).0.0" }

    /// The protocol's name in flags and metrics.
    public var name: String {
        switch self {
        case .reconcile: "reconcile"
        case .transfer: "transfer"
        case .storeQuery: "store"
        case .push: "push"
        case .count: "count"
        }
    }
}

/// The status codes of error frames and of Store v3 responses, HTTP-like: the one table of
/// them, with what each means and whether a client may try again.
public struct StatusCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt16

    public init(rawValue: UInt16) {
        self.rawValue = rawValue
    }

    public static let ok = StatusCode(rawValue: 200)
    public static let badRequest = StatusCode(rawValue: 400)
    public static let forbidden = StatusCode(rawValue: 403)
    public static let notFound = StatusCode(rawValue: 404)
    public static let requestTimeout = StatusCode(rawValue: 408)
    public static let payloadTooLarge = StatusCode(rawValue: 413)
    public static let upgradeRequired = StatusCode(rawValue: 426)
    public static let tooManyRequests = StatusCode(rawValue: 429)
    public static let internalError = StatusCode(rawValue: 500)
    public static let unavailable = StatusCode(rawValue: 503)

    /// Every code a node sends, with its meaning.
    public static let table: [(code: StatusCode, meaning: String)] = [
        (.ok, "served"),
        (.badRequest, "the request is malformed or breaks a protocol bound; do not retry it as is"),
        (.forbidden, "the node does not take this from this peer (push disabled, an offer outside its session)"),
        (.notFound, "unknown protocol, or a pubsub topic the node does not store"),
        (.requestTimeout, "the stream was too slow (hello, a frame, or the whole stream took too long)"),
        (.payloadTooLarge, "a frame or a session asked for more than the node's bounds allow"),
        (.upgradeRequired, "the node speaks another version of the protocol"),
        (.tooManyRequests, "over a rate limit; retry after the hint"),
        (.internalError, "the node failed for a reason of its own"),
        (.unavailable, "the node is at a capacity bound (connections, sessions, buffers, disk); retry later"),
    ]

    /// Whether a client may send the same request again later: 408, 429 and 503.
    public var isRetryable: Bool {
        self == .requestTimeout || self == .tooManyRequests || self == .unavailable
    }

    public var description: String { String(rawValue) }
}

/// Why bytes on a stream are not a frame.
public enum FrameError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The length prefix is above the maximum: refused before any of it is buffered.
    case tooLarge(length: UInt32, maximum: Int)
    /// A frame of length zero (every frame has at least its kind byte).
    case empty
    /// An unknown frame kind.
    case unknownKind(UInt8)
    /// A hello that does not start with the magic bytes or has the wrong size.
    case badHello
    /// An error frame too short for its code and retry hint.
    case badError
    /// Buffering the frame would pass the bytes the node holds over all connections (worth
    /// trying again later) or on this one (`connection`: the peer has too much in flight).
    case overBudget(String, connection: Bool)

    public var description: String {
        switch self {
        case .tooLarge(let length, let maximum): "frame of \(length) bytes exceeds the maximum of \(maximum)"
        case .empty: "empty frame"
        case .unknownKind(let kind): "unknown frame kind \(kind)"
        case .badHello: "malformed hello frame"
        case .badError: "malformed error frame"
        case .overBudget(let what, _): what
        }
    }
}
