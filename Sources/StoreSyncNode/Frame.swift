import NIOCore

/// One unit of a stream between nodes: every TCP connection is one stream, opened by a hello that
/// names the protocol, then carrying data frames, and ended by an end or an error frame.
public enum Frame: Sendable, Hashable {
    /// Opens a stream: the protocol id (`StreamProtocol`) and its version.
    case hello(protocolId: UInt8, version: UInt8)
    /// Protocol data.
    case data(ByteBuffer)
    /// A failure, with an HTTP-like status code; the sender closes the stream after it.
    case error(code: UInt16, message: String)
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
    public static let version: UInt8 = 1

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

/// Status codes of error frames (and of Store v3 responses), HTTP-like.
public enum StatusCode {
    public static let ok: UInt16 = 200
    public static let badRequest: UInt16 = 400
    public static let forbidden: UInt16 = 403
    public static let notFound: UInt16 = 404
    public static let payloadTooLarge: UInt16 = 413
    public static let upgradeRequired: UInt16 = 426
    public static let tooManyRequests: UInt16 = 429
    public static let internalError: UInt16 = 500
    public static let unavailable: UInt16 = 503
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
    /// An error frame too short for its code.
    case badError

    public var description: String {
        switch self {
        case .tooLarge(let length, let maximum): "frame of \(length) bytes exceeds the maximum of \(maximum)"
        case .empty: "empty frame"
        case .unknownKind(let kind): "unknown frame kind \(kind)"
        case .badHello: "malformed hello frame"
        case .badError: "malformed error frame"
        }
    }
}
