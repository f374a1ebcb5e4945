import Logging
import NIOCore
import NIOPosix
import StoreSyncCore
import StoreSyncLMDB
import StoreSyncP2P
import StoreSyncProto
import SwiftProtobuf
import Synchronization

import struct Foundation.Data

/// A failure reported by the peer in an error frame, or a stream that ended too soon.
public enum PeerError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The peer answered with an error frame: its status code, what it said, and the seconds
    /// it asked to wait before trying again (nil without a hint).
    case status(code: UInt16, message: String, retryAfter: Double? = nil)
    /// The peer closed the stream before answering.
    case closed
    /// The peer sent nothing for longer than the client's read timeout: the stream was closed.
    case timedOut(seconds: Double)
    /// The session took longer than the client allows one in all: the stream was closed.
    case sessionTooLong(seconds: Double)
    /// The peer answered with something the protocol does not allow there.
    case unexpected(String)

    public var description: String {
        switch self {
        case .status(let code, let message, _): "peer answered \(code): \(message)"
        case .closed: "peer closed the stream before answering"
        case .timedOut(let seconds): "peer sent nothing for \(seconds) s; gave up on the stream"
        case .sessionTooLong(let seconds): "the session took longer than \(seconds) s in all; gave up on it"
        case .unexpected(let what): "unexpected answer from peer: \(what)"
        }
    }
}

/// One open stream to a peer, for the duration of a client call: a framing connection, or a
/// libp2p stream of the protocol's id.
public struct NodeStream {
    private var source: FrameSource
    private let writer: FrameWriter
    /// Bytes of data frames sent and received on this stream.
    public private(set) var bytesSent = 0
    public private(set) var bytesReceived = 0

    init(inbound: NIOAsyncChannelInboundStream<Frame>.AsyncIterator, outbound: NIOAsyncChannelOutboundWriter<Frame>) {
        source = .channel(inbound)
        writer = FrameWriter(outbound)
    }

    init(reader: StreamFrameReader, writer: FrameWriter) {
        source = .stream(reader)
        self.writer = writer
    }

    /// Sends one frame.
    func send(_ frame: Frame) async throws {
        try await writer.write(frame)
    }

    /// The peer's next frame, or nil when it closed the stream.
    mutating func receive() async throws -> Frame? {
        try await source.next()
    }

    /// Waits for the peer's next frame without sending anything: what it says before closing
    /// (nil if it closes without a word).
    public mutating func waitForClose() async throws -> Frame? {
        try await receive()
    }

    /// Sends one data frame and waits for the data frame that answers it.
    public mutating func request(_ body: ByteBuffer) async throws -> ByteBuffer {
        try await post(body)
        return try await reply()
    }

    /// Sends one data frame without waiting for its answer: requests may be pipelined, and the
    /// peer answers them in order.
    public mutating func post(_ body: ByteBuffer) async throws {
        bytesSent += body.readableBytes
        do {
            try await send(.data(body))
        } catch {
            // A peer that refused the stream said why before it closed: its word beats the
            // failed write.
            if case .error(let code, let message, let wait)? = try? await receive() {
                throw PeerError.status(code: code, message: message, retryAfter: Self.seconds(wait))
            }
            throw error
        }
    }

    /// Waits for the data frame that answers the oldest request not yet answered.
    public mutating func reply() async throws -> ByteBuffer {
        switch try await receive() {
        case .data(let reply)?:
            bytesReceived += reply.readableBytes
            return reply
        case .error(let code, let message, let wait)?:
            throw PeerError.status(code: code, message: message, retryAfter: Self.seconds(wait))
        case nil, .end?:
            throw PeerError.closed
        case .hello?:
            throw PeerError.unexpected("hello")
        }
    }

    /// A retry hint in seconds; nil for none.
    static func seconds(_ milliseconds: UInt32) -> Double? {
        milliseconds == 0 ? nil : Double(milliseconds) / 1_000
    }
}

/// The client side of a node's protocols: over libp2p, one connection per client and a stream
/// per call; over the framing listener, one TCP connection per call.
public struct NodeClient: Sendable {
    /// The peer's libp2p address, when the client speaks libp2p.
    public let address: Multiaddr?
    let dialer: Libp2pDialer?
    /// The peer's address.
    public let host: String
    public let port: Int
    /// The largest frame accepted from the peer.
    public let maximumFrameSize: Int
    /// The local address to connect from (any, when nil).
    public let localAddress: String?
    /// Seconds a stream may wait for the peer's next frame before it is given up (a stalled
    /// session ends with `PeerError.timedOut`).
    public let readTimeout: Double
    /// The clock the read timeout and retries are measured on.
    public let clock: any SyncScheduler
    let group: any EventLoopGroup
    /// How syncs with a libp2p peer choose and bound the reference node's store sync, and what
    /// takes the messages the peer pushes there (nil over the framing listener).
    public let storeSync: StoreSyncSettings
    let receiver: TransferReceiver?

    /// Creates a client for the node at `host:port`.
    public init(
        host: String, port: Int, maximumFrameSize: Int = 4 << 20, localAddress: String? = nil,
        readTimeout: Double = 60, clock: any SyncScheduler = SystemScheduler(),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) {
        self.readTimeout = readTimeout
        self.clock = clock
        self.host = host
        self.port = port
        self.maximumFrameSize = maximumFrameSize
        self.localAddress = localAddress
        self.group = group
        self.address = nil
        self.dialer = nil
        self.storeSync = StoreSyncSettings()
        self.receiver = nil
    }

    /// Creates a client for the node at a libp2p `address` (with its `/p2p/` PeerId), with a
    /// fresh Ed25519 identity unless one is given, on a libp2p host of its own (which takes
    /// the messages a peer pushes in a store sync).
    public init(
        address: Multiaddr, identity: PrivateKey? = nil, maximumFrameSize: Int = 4 << 20, readTimeout: Double = 60,
        storeSync: StoreSyncSettings = StoreSyncSettings(), clock: any SyncScheduler = SystemScheduler(),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) throws {
        let host = P2PHost(identity: try identity ?? PrivateKey.generate(.ed25519), clock: clock, group: group)
        let receiver = TransferReceiver(
            settings: storeSync, idleTimeout: readTimeout, maximumDuration: readTimeout * 10, clock: clock)
        receiver.install(on: host)
        try self.init(
            address: address, host: host, receiver: receiver, maximumFrameSize: maximumFrameSize,
            readTimeout: readTimeout, storeSync: storeSync, clock: clock, group: group)
    }

    /// Creates a client for the node at `address` that dials from an existing libp2p host (a
    /// node's own, so that the peer knows it by the node's PeerId and pushes to the node's
    /// `receiver`).
    public init(
        address: Multiaddr, host p2pHost: P2PHost, receiver: TransferReceiver, maximumFrameSize: Int = 4 << 20,
        readTimeout: Double = 60, storeSync: StoreSyncSettings = StoreSyncSettings(),
        clock: any SyncScheduler = SystemScheduler(), group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) throws {
        guard let (host, port) = address.hostAndPort, address.peerID != nil else {
            throw P2PError.malformed("\(address) is not /ip4|ip6|dns/…/tcp/…/p2p/<PeerId>")
        }
        self.address = address
        self.dialer = Libp2pDialer(address: address, host: p2pHost)
        self.storeSync = storeSync
        self.receiver = receiver
        self.host = host
        self.port = port
        self.maximumFrameSize = maximumFrameSize
        self.localAddress = nil
        self.readTimeout = readTimeout
        self.clock = clock
        self.group = group
    }

    /// What the client is connected to, for messages.
    public var peerDescription: String { address?.description ?? "\(host):\(port)" }

    /// Runs `body` on a libp2p stream of `streamProtocol`'s id.
    private func withLibp2pStream<T>(
        _ dialer: Libp2pDialer, _ streamProtocol: StreamProtocol, deadline: SessionDeadline?,
        _ body: (inout NodeStream) async throws -> T
    ) async throws -> T {
        let readTimeout = readTimeout
        do {
            let stream = try await dialer.connection().newStream([streamProtocol.libp2pID])
            defer { stream.close() }
            let reader = StreamFrameReader(
                stream: stream, maximumFrameSize: maximumFrameSize, ledger: nil, idle: readTimeout, clock: clock,
                deadline: deadline
            ) { sessionExpired in
                sessionExpired
                    ? PeerError.sessionTooLong(seconds: deadline?.seconds ?? readTimeout)
                    : PeerError.timedOut(seconds: readTimeout)
            }
            var nodeStream = NodeStream(reader: reader, writer: FrameWriter(stream))
            let result = try await body(&nodeStream)
            try? await nodeStream.send(.end)
            stream.closeWrite()
            return result
        } catch P2PError.refused(let protocols) {
            throw Self.notSpoken(protocols)
        } catch P2PError.closed, P2PError.reset {
            throw PeerError.closed
        }
    }

    /// A peer that agreed to none of `protocols`, as the framing listener would answer: 404.
    static func notSpoken(_ protocols: [String]) -> PeerError {
        PeerError.status(
            code: StatusCode.notFound.rawValue, message: "the peer speaks none of \(protocols.joined(separator: ", "))")
    }

    /// Opens a stream for `streamProtocol`, runs `body` on it, then ends and closes it. With the
    /// `deadline` of a session, the stream is closed then whatever the peer sends.
    public func withStream<T>(
        _ streamProtocol: StreamProtocol, deadline: SessionDeadline? = nil,
        _ body: (inout NodeStream) async throws -> T
    ) async throws -> T {
        if let dialer { return try await withLibp2pStream(dialer, streamProtocol, deadline: deadline, body) }
        let maximumFrameSize = maximumFrameSize
        let readTimeout = readTimeout
        let clock = clock
        let timedOut = TimeoutFlag()
        var bootstrap = ClientBootstrap(group: group)
        if let localAddress { bootstrap = bootstrap.bind(to: try SocketAddress(ipAddress: localAddress, port: 0)) }
        let channel =
            try await bootstrap
            .connectTimeout(.seconds(10))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        ReadTimeoutHandler(seconds: readTimeout, session: deadline, clock: clock, flag: timedOut))
                    try channel.pipeline.syncOperations.addFramingHandlers(maximumFrameSize: maximumFrameSize)
                    return try NIOAsyncChannel<Frame, Frame>(wrappingChannelSynchronously: channel)
                }
            }
        do {
            return try await channel.executeThenClose { inbound, outbound in
                try await outbound.write(.hello(protocolId: streamProtocol.rawValue, version: StreamProtocol.version))
                var stream = NodeStream(inbound: inbound.makeAsyncIterator(), outbound: outbound)
                let result = try await body(&stream)
                try? await outbound.write(.end)
                return result
            }
        } catch {
            // Whatever broke after the timeout closed the stream (a write, a read), the cause is the timeout.
            if let cause = timedOut.cause { throw cause }
            throw error
        }
    }

    /// Runs a Store v3 query.
    public func query(_ request: Waku_Store_V3_StoreQueryRequest) async throws -> Waku_Store_V3_StoreQueryResponse {
        if let dialer {
            do {
                return try await WakuStoreClient.exchange(
                    request, on: try await dialer.connection(), timeout: readTimeout, clock: clock)
            } catch P2PError.closed, P2PError.reset {
                throw PeerError.closed
            } catch WakuStoreClient.Failure.timeout {
                throw PeerError.timedOut(seconds: readTimeout)
            }
        }
        return try await withStream(.storeQuery) { stream in
            let reply = try await stream.request(try request.serializedBuffer())
            return try Waku_Store_V3_StoreQueryResponse(buffer: reply)
        }
    }

    /// Hands messages to the node to store (the node must allow push).
    public func push(_ messages: [WakuMessage]) async throws -> StoreCounts {
        try await withStream(.push) { stream in
            var total = StoreCounts()
            for batch in Self.batches(messages, budget: Frame.payloadBudget(maximumFrameSize: maximumFrameSize)) {
                var reply = try await stream.request(try Self.container(batch))
                total = total + (try StoreCounts(decoding: &reply))
            }
            return total
        }
    }

    /// Messages as the `StoreQueryResponse` that push and transfer offers carry them in.
    static func container(_ messages: [WakuMessage]) throws -> ByteBuffer {
        var container = Waku_Store_V3_StoreQueryResponse()
        container.messages = messages.map { $0.keyValue(hash: $0.hash) }
        return try container.serializedBuffer()
    }

    /// Splits messages into batches whose encoding stays under `budget` bytes and 500 messages.
    static func batches(_ messages: [WakuMessage], budget: Int) -> [[WakuMessage]] {
        messages.batches(budget: budget, maximumCount: 500, size: \.estimatedEncodedSize)
    }
}

/// Gives a stream up when the peer sends nothing for `seconds` on the client's clock: raises
/// `PeerError.timedOut` and closes it, so that a client waiting on a stalled peer gets an error
/// instead of waiting forever.
final class ReadTimeoutHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let seconds: Double
    private let session: SessionDeadline?
    private let clock: any SyncScheduler
    private let flag: TimeoutFlag
    private let watcher: DeadlineWatcher
    private var deadline = Double.infinity

    init(seconds: Double, session: SessionDeadline?, clock: any SyncScheduler, flag: TimeoutFlag) {
        self.seconds = seconds
        self.session = session
        self.clock = clock
        self.flag = flag
        self.watcher = DeadlineWatcher(clock: clock)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { arm(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        arm(context)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        arm(context)
        context.fireChannelRead(data)
    }

    func channelInactive(context: ChannelHandlerContext) {
        watcher.cancel()
        context.fireChannelInactive()
    }

    private func arm(_ context: ChannelHandlerContext) {
        deadline = min(clock.uptime() + seconds, session?.uptime ?? .infinity)
        watcher.arm(at: deadline, loop: context.eventLoop) { [self] in
            guard context.channel.isActive else { return nil }
            let now = clock.uptime()
            guard now >= deadline else { return deadline }
            let cause =
                if let session, now >= session.uptime {
                    PeerError.sessionTooLong(seconds: session.seconds)
                } else {
                    PeerError.timedOut(seconds: seconds)
                }
            flag.fire(cause)
            context.fireErrorCaught(cause)
            context.close(promise: nil)
            return nil
        }
    }
}

/// Whether a stream's read timeout fired: set on the event loop, read by the task that owns the
/// stream.
final class TimeoutFlag: Sendable {
    private let state = Mutex<PeerError?>(nil)

    func fire(_ cause: PeerError) { state.withLock { $0 = cause } }

    /// What closed the stream, if a deadline did.
    var cause: PeerError? { state.withLock { $0 } }
}
