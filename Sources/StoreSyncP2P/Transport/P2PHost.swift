import NIOCore
import NIOPosix
import StoreSyncCore
import Synchronization

/// A libp2p host on TCP: Noise for security, yamux or mplex for streams, multistream-select for
/// every choice, identify answered on every connection and asked on those it dials. Services
/// register a handler per protocol id; every connection, inbound or outbound, is announced to
/// the connection observers (where the Waku layer asks metadata).
public final class P2PHost: Sendable {
    /// Serves one stream of an agreed protocol; the stream is released when it returns.
    public typealias StreamHandler = @Sendable (P2PStream) async throws -> Void
    /// Told of each connection once it is secured and muxed.
    public typealias ConnectionObserver = @Sendable (P2PConnection) async -> Void

    /// This node's identity key.
    public let identity: PrivateKey
    /// This node's PeerId.
    public let peerID: PeerID
    public let configuration: P2PConfiguration
    let clock: any SyncScheduler
    let group: any EventLoopGroup
    private let handlers = Mutex<[String: StreamHandler]>([:])
    private let observers = Mutex<[ConnectionObserver]>([])
    private let listenAddresses = Mutex<[Multiaddr]>([])
    let counts = Mutex(ConnectionCounts())
    /// Every connection open now, to close them all at shutdown.
    let channels = Mutex<[ObjectIdentifier: any Channel]>([:])
    /// Every connection secured and muxed, by its channel: where streams to a peer are opened.
    let connections = Mutex<[ObjectIdentifier: P2PConnection]>([:])
    /// Reports what the host refused or dropped, for logs and metrics.
    let report: @Sendable (String) -> Void

    public init(
        identity: PrivateKey, configuration: P2PConfiguration = P2PConfiguration(),
        clock: any SyncScheduler = SystemScheduler(),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        report: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.identity = identity
        self.peerID = identity.peerID
        self.configuration = configuration
        self.clock = clock
        self.group = group
        self.report = report
        handle(Identify.protocolID) { [weak self] stream in
            guard let self else { return }
            try await self.answerIdentify(stream)
        }
    }

    /// Serves `protocolID` with `handler` on every connection.
    public func handle(_ protocolID: String, _ handler: @escaping StreamHandler) {
        handlers.withLock { $0[protocolID] = handler }
    }

    /// Calls `observer` with every new connection.
    public func observeConnections(_ observer: @escaping ConnectionObserver) {
        observers.withLock { $0.append(observer) }
    }

    /// The protocols this host serves.
    public var protocols: [String] { handlers.withLock { Array($0.keys).sorted() } }

    /// Connections open now.
    public var openConnections: Int { counts.withLock { $0.total } }

    func handler(for protocolID: String) -> StreamHandler? {
        handlers.withLock { $0[protocolID] }
    }

    /// Binds a TCP listener; call `serve()` on it to accept connections.
    public func listen(host: String, port: Int) async throws -> P2PListener {
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .bind(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(
                        wrappingChannelSynchronously: channel,
                        configuration: .init(backPressureStrategy: .init(lowWatermark: 2, highWatermark: 8)))
                }
            }
        let bound = channel.channel.localAddress
        let address = Multiaddr.tcp(host: bound?.ipAddress ?? host, port: bound?.port ?? port)?.with(peer: peerID)
        if let address { listenAddresses.withLock { $0.append(address) } }
        return P2PListener(host: self, channel: channel, address: address)
    }

    /// Dials `address`, which must name the peer (`/p2p/…`): the handshake fails unless the
    /// remote proves that identity.
    public func dial(_ address: Multiaddr) async throws -> P2PConnection {
        guard let (host, port) = address.hostAndPort else { throw P2PError.malformed("\(address) has no TCP endpoint") }
        guard let expected = address.peerID else { throw P2PError.malformed("\(address) names no peer (/p2p/…)") }
        let channel = try await ClientBootstrap(group: group)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(.seconds(Int64(max(1, configuration.handshakeTimeout))))
            .connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(
                        wrappingChannelSynchronously: channel,
                        configuration: .init(backPressureStrategy: .init(lowWatermark: 2, highWatermark: 8)))
                }
            }
        return try await withCheckedThrowingContinuation { continuation in
            let once = Once(continuation)
            Task {
                await self.run(channel, role: .dialer, expected: expected) { once.resume(with: $0) }
                once.resume(with: .failure(P2PError.closed))
            }
        }
    }

    /// Closes every connection, inbound and outbound.
    public func closeConnections() {
        for channel in channels.withLock({ Array($0.values) }) { channel.close(promise: nil) }
    }

    /// An open connection with `peer`, inbound or outbound, if there is one: a protocol that
    /// answers on a stream of its own (as store-sync transfer does) opens it there.
    public func connection(to peer: PeerID) -> P2PConnection? {
        connections.withLock { connections in
            connections.values.first { $0.remotePeer == peer && $0.isActive }
        }
    }

    /// The addresses this host listens on, with its PeerId.
    public var addresses: [Multiaddr] { listenAddresses.withLock { $0 } }

    func announce(_ connection: P2PConnection) async {
        for observer in observers.withLock({ $0 }) { await observer(connection) }
    }
}

/// Resumes a continuation once, whichever path gets there first.
final class Once<T: Sendable>: Sendable {
    private let continuation: Mutex<CheckedContinuation<T, any Error>?>

    init(_ continuation: CheckedContinuation<T, any Error>) {
        self.continuation = Mutex(continuation)
    }

    func resume(with result: Result<T, any Error>) {
        continuation.withLock { stored in
            defer { stored = nil }
            return stored
        }?.resume(with: result)
    }
}

/// Connections open, in all and per address and peer.
struct ConnectionCounts: Sendable {
    var total = 0
    var perIP: [String: Int] = [:]
    var perPeer: [PeerID: Int] = [:]
}

/// A bound TCP listener of a host.
public final class P2PListener: Sendable {
    let host: P2PHost
    let channel: NIOAsyncChannel<NIOAsyncChannel<ByteBuffer, ByteBuffer>, Never>
    /// Where it listens, with the host's PeerId.
    public let address: Multiaddr?

    init(host: P2PHost, channel: NIOAsyncChannel<NIOAsyncChannel<ByteBuffer, ByteBuffer>, Never>, address: Multiaddr?) {
        self.host = host
        self.channel = channel
        self.address = address
    }

    /// The TCP port bound.
    public var port: Int { channel.channel.localAddress?.port ?? 0 }

    /// Accepts and serves connections until `close()`.
    public func serve() async throws {
        try await channel.executeThenClose { inbound in
            try await withThrowingDiscardingTaskGroup { group in
                for try await connection in inbound {
                    group.addTask { await self.host.run(connection, role: .listener, expected: nil) { _ in } }
                }
            }
        }
    }

    /// Stops accepting connections and closes the host's connections.
    public func close() async {
        try? await channel.channel.close()
        host.closeConnections()
    }
}
