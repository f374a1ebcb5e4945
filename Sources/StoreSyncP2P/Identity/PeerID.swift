import Crypto

/// A libp2p peer's identity: the multihash of its public key protobuf, the identity multihash
/// when that protobuf is at most 42 bytes (Ed25519, secp256k1), SHA-256 otherwise. Written in
/// base58btc.
public struct PeerID: Sendable, Hashable, CustomStringConvertible {
    /// The multihash bytes.
    public let bytes: [UInt8]

    static let identityCode: UInt8 = 0x00
    static let sha256Code: UInt8 = 0x12
    /// Keys whose protobuf is at most this long are inlined in the PeerId.
    static let inlineLimit = 42

    /// The PeerId of `publicKey`.
    public init(publicKey: PublicKey) {
        let encoded = publicKey.protobuf
        if encoded.count <= Self.inlineLimit {
            bytes = [Self.identityCode, UInt8(encoded.count)] + encoded
        } else {
            bytes = [Self.sha256Code, 32] + Array(SHA256.hash(data: encoded))
        }
    }

    /// A PeerId from its multihash bytes (from a multiaddr or a protobuf).
    public init(multihash: [UInt8]) throws(P2PError) {
        guard multihash.count >= 2, Int(multihash[1]) == multihash.count - 2 else {
            throw .malformed("PeerId: multihash length does not match its bytes")
        }
        switch multihash[0] {
        case Self.identityCode:
            guard multihash.count - 2 <= Self.inlineLimit else { throw .malformed("PeerId: identity hash too long") }
        case Self.sha256Code:
            guard multihash.count == 34 else { throw .malformed("PeerId: a SHA-256 multihash has 32 bytes") }
        default:
            throw .malformed("PeerId: multihash code \(multihash[0])")
        }
        bytes = multihash
    }

    /// A PeerId from its base58btc text (`12D3KooW…`, `16Uiu2…`).
    public init(_ text: String) throws(P2PError) {
        guard let decoded = Base58.decode(text) else { throw .malformed("PeerId \(text) is not base58btc") }
        try self.init(multihash: decoded)
    }

    /// Whether `publicKey` is this peer's key.
    public func matches(_ publicKey: PublicKey) -> Bool {
        PeerID(publicKey: publicKey) == self
    }

    public var description: String { Base58.encode(bytes) }
}
