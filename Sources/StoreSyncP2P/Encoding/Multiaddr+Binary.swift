/// The binary form of multiaddrs, as identify carries them: per component a varint protocol code,
/// then its value (fixed size, or varint-prefixed for names and PeerIds).
extension Multiaddr {
    enum Code: UInt64 {
        case ip4 = 4
        case tcp = 6
        case ip6 = 41
        case dns = 53
        case dns4 = 54
        case dns6 = 55
        case p2p = 421
    }

    /// The binary encoding.
    public var binary: [UInt8] {
        var bytes: [UInt8] = []
        for component in components {
            switch component {
            case .ip4(let address):
                UVarint.write(Code.ip4.rawValue, to: &bytes)
                bytes += address
            case .ip6(let address):
                UVarint.write(Code.ip6.rawValue, to: &bytes)
                bytes += address
            case .tcp(let port):
                UVarint.write(Code.tcp.rawValue, to: &bytes)
                bytes += [UInt8(port >> 8), UInt8(port & 0xFF)]
            case .dns(let name), .dns4(let name), .dns6(let name):
                let code: Code =
                    if case .dns = component { .dns } else if case .dns4 = component { .dns4 } else { .dns6 }
                UVarint.write(code.rawValue, to: &bytes)
                UVarint.write(UInt64(name.utf8.count), to: &bytes)
                bytes += Array(name.utf8)
            case .p2p(let peer):
                UVarint.write(Code.p2p.rawValue, to: &bytes)
                UVarint.write(UInt64(peer.bytes.count), to: &bytes)
                bytes += peer.bytes
            }
        }
        return bytes
    }

    /// Decodes the binary form from a peer.
    public init(binary: [UInt8]) throws(P2PError) {
        guard binary.count <= Self.maximumLength else {
            throw .tooLarge(what: "multiaddr", size: binary.count, limit: Self.maximumLength)
        }
        var reader = ProtobufReader(binary, what: "multiaddr")
        var components: [Component] = []
        while !reader.isAtEnd {
            let value = try reader.varint()
            guard let code = Code(rawValue: value) else { throw .malformed("multiaddr: protocol code \(value)") }
            switch code {
            case .ip4: components.append(.ip4(try reader.fixed(4)))
            case .ip6: components.append(.ip6(try reader.fixed(16)))
            case .tcp:
                let port = try reader.fixed(2)
                components.append(.tcp(UInt16(port[0]) << 8 | UInt16(port[1])))
            case .dns, .dns4, .dns6:
                let length = try reader.varint()
                guard length <= 253 else { throw .malformed("multiaddr: DNS name too long") }
                let raw = try reader.fixed(Int(length))
                guard let name = String(validating: raw, as: UTF8.self), Self.isValidName(name) else {
                    throw .malformed("multiaddr: not a DNS name")
                }
                components.append(code == .dns ? .dns(name) : code == .dns4 ? .dns4(name) : .dns6(name))
            case .p2p:
                let length = try reader.varint()
                guard length <= 64 else { throw .malformed("multiaddr: PeerId too long") }
                components.append(.p2p(try PeerID(multihash: try reader.fixed(Int(length)))))
            }
        }
        guard !components.isEmpty else { throw .malformed("multiaddr is empty") }
        self.components = components
    }
}
