/// The libp2p Noise handshake payload: the sender's identity key and its signature over
/// `"noise-libp2p-static-key:"` followed by the sender's Noise static key, which binds the
/// encrypted session to a PeerId. Fields a peer adds (extensions) are skipped.
public struct NoisePayload: Sendable, Equatable {
    /// The identity key protobuf.
    public var identityKey: [UInt8]
    /// The signature.
    public var signature: [UInt8]

    static let signaturePrefix = Array("noise-libp2p-static-key:".utf8)

    public init(identityKey: [UInt8], signature: [UInt8]) {
        self.identityKey = identityKey
        self.signature = signature
    }

    /// The payload `key` sends with Noise static key `staticKey`.
    static func signed(by key: PrivateKey, staticKey: [UInt8]) throws(P2PError) -> NoisePayload {
        NoisePayload(identityKey: key.publicKey.protobuf, signature: try key.sign(signaturePrefix + staticKey))
    }

    /// Decodes a payload from a peer.
    public init(decoding bytes: [UInt8]) throws(P2PError) {
        var reader = ProtobufReader(bytes, what: "Noise payload")
        var key: [UInt8]?
        var signature: [UInt8]?
        while let (field, value) = try reader.next() {
            switch field {
            case 1: key = try value.bytes("identity key")
            case 2: signature = try value.bytes("identity signature")
            default: continue
            }
        }
        guard let key, let signature else { throw .handshake("the Noise payload lacks an identity key or signature") }
        self.init(identityKey: key, signature: signature)
    }

    /// The encoding.
    public var encoded: [UInt8] {
        var writer = ProtobufWriter()
        writer.bytes(1, identityKey)
        writer.bytes(2, signature)
        return writer.bytes
    }

    /// The sender's key, once its signature over `staticKey` checks out.
    func verifiedKey(staticKey: [UInt8]) throws(P2PError) -> PublicKey {
        let key = try PublicKey(protobuf: identityKey)
        guard key.verify(signature, message: Self.signaturePrefix + staticKey) else {
            throw .handshake("the identity signature over the Noise static key is not valid")
        }
        return key
    }
}
