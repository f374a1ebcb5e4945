/// Why a libp2p connection, stream or message failed. Every case says what was being done, so
/// that a log line names the fault without a hex dump.
public enum P2PError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Bytes from the peer are not what the protocol allows.
    case malformed(String)
    /// A length or count from the peer is over the bound the node sets for it.
    case tooLarge(what: String, size: Int, limit: Int)
    /// The peer broke a rule of the protocol (a flow-control window, a stream state).
    case violation(String)
    /// The security handshake failed: a bad payload, a bad signature, a decryption failure.
    case handshake(String)
    /// The peer proved an identity other than the one dialled.
    case peerMismatch(expected: String, actual: String)
    /// A key type or key encoding this node does not accept.
    case unsupportedKey(String)
    /// The peer answered `na` to every protocol offered.
    case refused(protocols: [String])
    /// A step did not finish within its bound.
    case timeout(String)
    /// A node-side bound was hit (connections, streams).
    case limit(String)
    /// The connection or stream is closed.
    case closed
    /// The peer reset the stream.
    case reset

    public var description: String {
        switch self {
        case .malformed(let what): "malformed: \(what)"
        case .tooLarge(let what, let size, let limit): "\(what) of \(size) bytes exceeds the limit of \(limit)"
        case .violation(let what): "protocol violation: \(what)"
        case .handshake(let what): "handshake failed: \(what)"
        case .peerMismatch(let expected, let actual): "dialled peer \(expected) but the remote proved \(actual)"
        case .unsupportedKey(let what): "unsupported key: \(what)"
        case .refused(let protocols): "peer refused \(protocols.joined(separator: ", "))"
        case .timeout(let what): "timed out: \(what)"
        case .limit(let what): what
        case .closed: "closed"
        case .reset: "stream reset by the peer"
        }
    }
}
