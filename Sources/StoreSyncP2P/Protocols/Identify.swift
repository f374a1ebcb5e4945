/// `/ipfs/id/1.0.0`: what a peer says about itself, one varint-prefixed protobuf per stream.
public struct Identify: Sendable, Equatable {
    public static let protocolID = "/ipfs/id/1.0.0"
    /// The largest identify message accepted (signed peer records make them a few KiB).
    public static let maximumSize = 64 * 1024
    /// Listen addresses and protocols accepted from one message.
    public static let maximumEntries = 128

    public var publicKey: [UInt8]?
    public var listenAddresses: [Multiaddr] = []
    public var protocols: [String] = []
    public var observedAddress: Multiaddr?
    public var protocolVersion: String?
    public var agentVersion: String?

    public init() {}

    /// Decodes a peer's message; addresses this node cannot parse are skipped.
    public init(decoding bytes: [UInt8]) throws(P2PError) {
        guard bytes.count <= Self.maximumSize else {
            throw .tooLarge(what: "identify message", size: bytes.count, limit: Self.maximumSize)
        }
        var reader = ProtobufReader(bytes, what: "identify")
        while let (field, value) = try reader.next() {
            switch field {
            case 1: publicKey = try value.bytes("identify public key")
            case 2:
                guard listenAddresses.count < Self.maximumEntries else { throw .limit("too many listen addresses") }
                if let address = try? Multiaddr(binary: try value.bytes("listen address")) {
                    listenAddresses.append(address)
                }
            case 3:
                guard protocols.count < Self.maximumEntries else { throw .limit("too many protocols") }
                protocols.append(try value.string("protocol"))
            case 4: observedAddress = try? Multiaddr(binary: try value.bytes("observed address"))
            case 5: protocolVersion = try value.string("protocol version")
            case 6: agentVersion = try value.string("agent version")
            default: continue
            }
        }
    }

    /// The encoding.
    public var encoded: [UInt8] {
        var writer = ProtobufWriter()
        if let protocolVersion { writer.string(5, protocolVersion) }
        if let agentVersion { writer.string(6, agentVersion) }
        if let publicKey { writer.bytes(1, publicKey) }
        for address in listenAddresses { writer.bytes(2, address.binary) }
        if let observedAddress { writer.bytes(4, observedAddress.binary) }
        for entry in protocols { writer.string(3, entry) }
        return writer.bytes
    }
}
