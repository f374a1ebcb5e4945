#if canImport(Glibc)
    import Glibc
#endif

/// A libp2p address: `/ip4/127.0.0.1/tcp/60000/p2p/16Uiu2…`. The node dials and listens on TCP
/// over IPv4, IPv6 or a DNS name; the `/p2p/` part names the peer the dialler expects to meet.
public struct Multiaddr: Sendable, Hashable, CustomStringConvertible {
    /// One protocol of the address with its value.
    public enum Component: Sendable, Hashable {
        case ip4([UInt8])
        case ip6([UInt8])
        case dns(String)
        case dns4(String)
        case dns6(String)
        case tcp(UInt16)
        case p2p(PeerID)
    }

    /// The parts, outermost first.
    public var components: [Component]

    /// The longest binary address accepted.
    public static let maximumLength = 512
    /// The longest text address accepted (each binary byte takes at most four characters).
    public static let maximumTextLength = 4 * maximumLength

    public init(_ components: [Component]) {
        self.components = components
    }

    /// Parses the text form.
    public init(_ text: String) throws(P2PError) {
        guard text.utf8.count <= Self.maximumTextLength, text.hasPrefix("/") else {
            throw .malformed(
                "multiaddr \(text.prefix(64)) must start with / and be at most \(Self.maximumTextLength) bytes")
        }
        var parts = text.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map(String.init)
        if parts.last == "" { parts.removeLast() }
        var components: [Component] = []
        var index = 0
        while index < parts.count {
            let name = parts[index]
            guard index + 1 < parts.count else { throw .malformed("multiaddr: /\(name) has no value") }
            let value = parts[index + 1]
            index += 2
            switch name {
            case "ip4":
                guard let bytes = Self.address(value, family: AF_INET, size: 4) else {
                    throw .malformed("multiaddr: \(value) is not an IPv4 address")
                }
                components.append(.ip4(bytes))
            case "ip6":
                guard let bytes = Self.address(value, family: AF_INET6, size: 16) else {
                    throw .malformed("multiaddr: \(value) is not an IPv6 address")
                }
                components.append(.ip6(bytes))
            case "dns", "dns4", "dns6":
                guard Self.isValidName(value) else { throw .malformed("multiaddr: bad DNS name") }
                components.append(name == "dns" ? .dns(value) : name == "dns4" ? .dns4(value) : .dns6(value))
            case "tcp":
                guard let port = UInt16(value) else { throw .malformed("multiaddr: \(value) is not a TCP port") }
                components.append(.tcp(port))
            case "p2p", "ipfs":
                components.append(.p2p(try PeerID(value)))
            default:
                throw .malformed("multiaddr: protocol /\(name) is not supported")
            }
        }
        guard !components.isEmpty else { throw .malformed("multiaddr is empty") }
        self.components = components
    }

    /// The host (an IP address or DNS name) and TCP port to dial, when the address has both.
    public var hostAndPort: (host: String, port: Int)? {
        var host: String?
        var port: Int?
        for component in components {
            switch component {
            case .ip4(let bytes): host = Self.text(bytes, family: AF_INET)
            case .ip6(let bytes): host = Self.text(bytes, family: AF_INET6)
            case .dns(let name), .dns4(let name), .dns6(let name): host = name
            case .tcp(let value): port = Int(value)
            case .p2p: continue
            }
        }
        guard let host, let port else { return nil }
        return (host, port)
    }

    /// The peer the address names, if it has a `/p2p/` part.
    public var peerID: PeerID? {
        for case .p2p(let peer) in components { return peer }
        return nil
    }

    /// This address with `/p2p/peer` appended (or replaced).
    public func with(peer: PeerID) -> Multiaddr {
        Multiaddr(components.filter { if case .p2p = $0 { false } else { true } } + [.p2p(peer)])
    }

    /// The address of a TCP endpoint.
    public static func tcp(host: String, port: Int) -> Multiaddr? {
        if let bytes = address(host, family: AF_INET, size: 4) { return Multiaddr([.ip4(bytes), .tcp(UInt16(port))]) }
        if let bytes = address(host, family: AF_INET6, size: 16) {
            return Multiaddr([.ip6(bytes), .tcp(UInt16(port))])
        }
        return nil
    }

    public var description: String {
        components.map { component in
            switch component {
            case .ip4(let bytes): "/ip4/\(Self.text(bytes, family: AF_INET))"
            case .ip6(let bytes): "/ip6/\(Self.text(bytes, family: AF_INET6))"
            case .dns(let name): "/dns/\(name)"
            case .dns4(let name): "/dns4/\(name)"
            case .dns6(let name): "/dns6/\(name)"
            case .tcp(let port): "/tcp/\(port)"
            case .p2p(let peer): "/p2p/\(peer)"
            }
        }.joined()
    }

    /// Whether `name` can be a DNS name in an address: 1 to 253 letters, digits, dots, hyphens
    /// and underscores (so that the text form reads back).
    static func isValidName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        return (1...253).contains(bytes.count)
            && bytes.allSatisfy { byte in
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte | 0x20)
                    || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                    || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
            }
    }

    static func address(_ text: String, family: Int32, size: Int) -> [UInt8]? {
        var bytes = [UInt8](repeating: 0, count: 16)
        guard inet_pton(family, text, &bytes) == 1 else { return nil }
        return Array(bytes.prefix(size))
    }

    static func text(_ bytes: [UInt8], family: Int32) -> String {
        var output = [CChar](repeating: 0, count: 64)
        guard inet_ntop(family, bytes, &output, socklen_t(output.count)) != nil else { return "?" }
        return String(decoding: output.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
