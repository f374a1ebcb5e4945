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

/// libp2p's key protobuf, `{1: type, 2: bytes}`, for public and private keys alike.
enum KeyProtobuf {
    static func encode(type: KeyType, data: [UInt8]) -> [UInt8] {
        var writer = ProtobufWriter()
        writer.varint(1, type.rawValue)
        writer.bytes(2, data)
        return writer.bytes
    }

    /// The type number and key bytes of a key protobuf named `what` (for errors); other fields
    /// are skipped.
    static func decode(_ bytes: [UInt8], what: String) throws(P2PError) -> (type: UInt64, data: [UInt8]) {
        var reader = ProtobufReader(bytes, what: what)
        var typeValue: UInt64?
        var data: [UInt8]?
        while let (field, value) = try reader.next() {
            switch field {
            case 1: typeValue = try value.varint("key type")
            case 2: data = try value.bytes("key data")
            default: continue
            }
        }
        guard let typeValue, let data else { throw .malformed("\(what): type or data missing") }
        return (typeValue, data)
    }
}
