import Crypto

/// A node's own identity key, Ed25519 or secp256k1. Stored in libp2p's private key protobuf
/// `{1: type, 2: bytes}`: 64 bytes (seed, then public key) for Ed25519, the 32-byte secret for
/// secp256k1.
public struct PrivateKey: Sendable {
    private enum Material: Sendable {
        /// The 32-byte seed.
        case ed25519([UInt8])
        case secp256k1([UInt8])
    }

    private let material: Material
    /// The public half.
    public let publicKey: PublicKey

    /// A new random key of `type` (Ed25519 or secp256k1).
    public static func generate(_ type: KeyType) throws(P2PError) -> PrivateKey {
        switch type {
        case .ed25519:
            return PrivateKey(ed25519: Curve25519.Signing.PrivateKey())
        case .secp256k1:
            var generator = SystemRandomNumberGenerator()
            while true {
                let secret = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
                if Secp256k1.isValidSecret(secret) { return try PrivateKey(secp256k1: secret) }
            }
        case .rsa, .ecdsa:
            throw .unsupportedKey("this node makes Ed25519 or secp256k1 keys, not \(type)")
        }
    }

    private init(ed25519 key: Curve25519.Signing.PrivateKey) {
        material = .ed25519(Array(key.rawRepresentation))
        publicKey = .ed25519(Array(key.publicKey.rawRepresentation))
    }

    /// A secp256k1 key from its 32-byte secret.
    public init(secp256k1 secret: [UInt8]) throws(P2PError) {
        publicKey = .secp256k1(try Secp256k1.publicKey(secret: secret))
        material = .secp256k1(secret)
    }

    /// Decodes a private key protobuf (from the node's key file).
    public init(protobuf: [UInt8]) throws(P2PError) {
        let (typeValue, data) = try KeyProtobuf.decode(protobuf, what: "private key")
        switch KeyType(rawValue: typeValue) {
        case .ed25519:
            guard data.count == 64 || data.count == 32,
                let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: data.prefix(32))
            else { throw .unsupportedKey("an Ed25519 private key is 64 bytes, got \(data.count)") }
            guard data.count == 32 || Array(key.publicKey.rawRepresentation) == Array(data.suffix(32)) else {
                throw .unsupportedKey("the Ed25519 private key's public half does not match its seed")
            }
            self.init(ed25519: key)
        case .secp256k1:
            try self.init(secp256k1: data)
        default:
            throw .unsupportedKey("key type \(typeValue)")
        }
    }

    /// The private key protobuf.
    public var protobuf: [UInt8] {
        switch material {
        case .ed25519(let seed): KeyProtobuf.encode(type: .ed25519, data: seed + publicKey.raw)
        case .secp256k1(let secret): KeyProtobuf.encode(type: .secp256k1, data: secret)
        }
    }

    /// The PeerId of this key.
    public var peerID: PeerID { PeerID(publicKey: publicKey) }

    /// Signs `message` as libp2p does for this key type.
    public func sign(_ message: [UInt8]) throws(P2PError) -> [UInt8] {
        switch material {
        case .ed25519(let seed):
            do {
                return Array(try Curve25519.Signing.PrivateKey(rawRepresentation: seed).signature(for: message))
            } catch {
                throw .unsupportedKey("Ed25519 signing failed: \(error)")
            }
        case .secp256k1(let secret):
            return try Secp256k1.sign(message, secret: secret)
        }
    }
}
