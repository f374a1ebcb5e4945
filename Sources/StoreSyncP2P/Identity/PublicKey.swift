import Crypto

/// A peer's identity key, as libp2p carries it: the key protobuf `{1: type, 2: bytes}`.
/// Ed25519 keys are 32 bytes; secp256k1 keys are kept compressed (33 bytes).
public enum PublicKey: Sendable, Hashable {
    case ed25519([UInt8])
    case secp256k1([UInt8])

    /// The largest key protobuf accepted from a peer (an RSA-4096 key is about 550 bytes).
    public static let maximumEncodedSize = 1_024

    /// The key's type.
    public var type: KeyType {
        switch self {
        case .ed25519: .ed25519
        case .secp256k1: .secp256k1
        }
    }

    /// The raw key bytes.
    public var raw: [UInt8] {
        switch self {
        case .ed25519(let bytes), .secp256k1(let bytes): bytes
        }
    }

    /// Decodes a key protobuf from a peer; refuses types this node does not verify and keys that
    /// are not valid points.
    public init(protobuf: [UInt8]) throws(P2PError) {
        guard protobuf.count <= Self.maximumEncodedSize else {
            throw .tooLarge(what: "public key", size: protobuf.count, limit: Self.maximumEncodedSize)
        }
        let (typeValue, data) = try KeyProtobuf.decode(protobuf, what: "public key")
        guard let type = KeyType(rawValue: typeValue) else { throw .unsupportedKey("key type \(typeValue)") }
        switch type {
        case .ed25519:
            guard data.count == 32, (try? Curve25519.Signing.PublicKey(rawRepresentation: data)) != nil else {
                throw .unsupportedKey("an Ed25519 key is 32 bytes, got \(data.count)")
            }
            self = .ed25519(data)
        case .secp256k1:
            guard let point = Secp256k1.compressed(data) else { throw .unsupportedKey("not a secp256k1 point") }
            self = .secp256k1(point)
        case .rsa, .ecdsa:
            throw .unsupportedKey("\(type) keys are not accepted by this node")
        }
    }

    /// The key protobuf: what PeerIds and the Noise payload are computed over.
    public var protobuf: [UInt8] {
        KeyProtobuf.encode(type: type, data: raw)
    }

    /// Whether `signature` is this key's over `message`.
    public func verify(_ signature: [UInt8], message: [UInt8]) -> Bool {
        switch self {
        case .ed25519(let bytes):
            guard let key = try? Curve25519.Signing.PublicKey(rawRepresentation: bytes) else { return false }
            return key.isValidSignature(signature, for: message)
        case .secp256k1(let bytes):
            return Secp256k1.verify(signature, message: message, publicKey: bytes)
        }
    }
}
