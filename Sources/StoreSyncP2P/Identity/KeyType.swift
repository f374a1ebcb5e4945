/// The key types of libp2p's key protobuf (`KeyType` in libp2p/specs peer-ids).
public enum KeyType: UInt64, Sendable, CaseIterable, CustomStringConvertible {
    case rsa = 0
    case ed25519 = 1
    case secp256k1 = 2
    case ecdsa = 3

    /// Whether this node signs with and verifies this type: Ed25519 and secp256k1.
    public var isSupported: Bool { self == .ed25519 || self == .secp256k1 }

    public var description: String {
        switch self {
        case .rsa: "rsa"
        case .ed25519: "ed25519"
        case .secp256k1: "secp256k1"
        case .ecdsa: "ecdsa"
        }
    }
}
