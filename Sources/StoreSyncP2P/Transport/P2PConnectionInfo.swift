/// Who is at the other end of a connection: proven by the Noise handshake (the PeerId) and seen
/// by the socket (the address).
public struct P2PConnectionInfo: Sendable, Hashable {
    /// The peer's identity.
    public let remotePeer: PeerID
    /// The peer's identity key.
    public let remoteKey: PublicKey
    /// The peer's IP address, without port (for per-address limits).
    public let remoteIP: String
    /// The peer's socket address as a multiaddr, when it has one.
    public let remoteAddress: Multiaddr?
    /// Whether this side dialled.
    public let role: ConnectionRole
    /// The muxer agreed.
    public let muxer: String
}
