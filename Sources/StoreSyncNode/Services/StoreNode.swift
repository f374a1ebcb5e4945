import Logging
import NIOCore
import NIOPosix
import StoreSyncCore
import StoreSyncLMDB
import StoreSyncP2P
import StoreSyncProto
import SwiftProtobuf

/// A store node's server: one TCP port on which every connection is a stream that opens with a
/// hello naming its protocol (reconcile, transfer, store query, push). A stream that breaks the
/// protocol gets an error frame and is closed; the node keeps serving everyone else and nothing
/// stored is touched by a failed request.
public final class StoreNode: Sendable {
    /// The archive this node serves.
    public let archive: any MessageArchive
    /// The archive's LMDB key index (the archive itself when it is the LMDB store): snapshots
    /// for reconciliation, counts by content topic, the node's markers.
    public var store: MessageStore { archive.keyIndex }
    /// What the node was started with.
    public let configuration: NodeConfiguration
    /// The port of the plaintext framing listener (0 when the node has none).
    public let port: Int
    let logger: Logger
    /// Where the node reports what it does.
    public let metrics: NodeMetrics
    let counters: NodeCounters
    let limiter: RateLimiter
    let permits: OfferPermits
    /// The rules every message entering the node passes.
    public let admission: MessageAdmission
    /// The one clock of the node's limits and timeouts.
    public let clock: any SyncScheduler
    /// The plaintext framing listener, when the configuration asks for one.
    private let serverChannel: NIOAsyncChannel<InboundConnection, Never>?
    /// The bytes of received frames held now, against the node's bounds.
    public let buffers: BufferBudget
    /// Bytes per second each peer may send to each service.
    let bandwidth: BandwidthLimiter
    /// The node's libp2p host: its identity and the services Waku peers reach.
    public let host: P2PHost
    private let listener: P2PListener
    /// Takes the messages peers push in store-sync sessions (SPEC.md 9.4).
    public let receiver: TransferReceiver

    /// Where Waku peers reach the node: `/ip4/…/tcp/…/p2p/<PeerId>`.
    public var address: Multiaddr? { listener.address }

    private init(
        archive: any MessageArchive, configuration: NodeConfiguration, logger: Logger, metrics: NodeMetrics,
        clock: any SyncScheduler, buffers: BufferBudget, bandwidth: BandwidthLimiter,
        channel: NIOAsyncChannel<InboundConnection, Never>?, host: P2PHost, listener: P2PListener
    ) {
        self.bandwidth = bandwidth
        self.host = host
        self.listener = listener
        self.archive = archive
        self.metrics = metrics
        self.clock = clock
        self.configuration = configuration
        self.logger = logger
        let limiter = RateLimiter(policy: configuration.rateLimits)
        let counters = NodeCounters()
        self.limiter = limiter
        self.counters = counters
        self.permits = OfferPermits(
            lifetime: configuration.maximumStreamDuration, maximumKeys: configuration.maximumOfferKeys)
        self.admission = configuration.admission
        self.serverChannel = channel
        self.port = channel?.channel.localAddress?.port ?? 0
        self.buffers = buffers
        self.receiver = TransferReceiver(
            settings: configuration.storeSync, idleTimeout: configuration.idleTimeout,
            maximumDuration: configuration.maximumStreamDuration, clock: clock
        ) { stream in
            Self.admit(
                stream, as: .transfer, limiter: limiter, counters: counters, metrics: metrics, bandwidth: bandwidth,
                clock: clock)
        } dropped: { reason in
            metrics.transfersDropped(reason.rawValue)
        }
    }

    /// Binds the listening sockets of a node serving an LMDB store.
    public static func bind(
        store: MessageStore,
        configuration: NodeConfiguration,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "storesync.node"),
        metrics: NodeMetrics = .disabled,
        clock: any SyncScheduler = SystemScheduler(),
        identity: PrivateKey? = nil
    ) async throws -> StoreNode {
        try await bind(
            archive: store, configuration: configuration, group: group, logger: logger, metrics: metrics,
            clock: clock, identity: identity)
    }

    /// Binds the listening sockets. Call `serve()` to accept streams and `close()` to stop.
    public static func bind(
        archive: any MessageArchive,
        configuration: NodeConfiguration,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "storesync.node"),
        metrics: NodeMetrics = .disabled,
        clock: any SyncScheduler = SystemScheduler(),
        identity: PrivateKey? = nil
    ) async throws -> StoreNode {
        let maximumFrameSize = configuration.maximumFrameSize
        let handshake = configuration.handshakeTimeout
        let idle = configuration.idleTimeout
        let duration = configuration.maximumStreamDuration
        let bandwidth = BandwidthLimiter(bytesPerSecond: configuration.bandwidthPerPeer)
        let buffers = BufferBudget(
            limit: configuration.maximumBufferedBytes, perConnection: configuration.maximumBufferedBytesPerConnection)
        let channel =
            try await !configuration.plaintextListener
            ? nil
            : ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 256)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                // One buffer per read, so a paused peer is not read further within the same cycle.
                .childChannelOption(.maxMessagesPerRead, value: 1)
                .bind(host: configuration.host, port: configuration.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let meter = InboundByteMeter(limiter: bandwidth, clock: clock)
                        let ledger = buffers.connection()
                        try channel.pipeline.syncOperations.addHandler(meter)
                        try channel.pipeline.syncOperations.addHandler(
                            ByteToMessageHandler(FrameDecoder(maximumFrameSize: maximumFrameSize, ledger: ledger)))
                        try channel.pipeline.syncOperations.addHandler(MessageToByteHandler(FrameEncoder()))
                        try channel.pipeline.syncOperations.addHandler(ServiceTagger(meter: meter))
                        try channel.pipeline.syncOperations.addHandler(
                            StreamTimeoutHandler(
                                handshake: handshake, idle: idle, maximumDuration: duration, clock: clock))
                        // Two decoded frames wait at most: then the connection is not read until its
                        // service takes one.
                        let frames = try NIOAsyncChannel<Frame, Frame>(
                            wrappingChannelSynchronously: channel,
                            configuration: .init(backPressureStrategy: .init(lowWatermark: 1, highWatermark: 2)))
                        return InboundConnection(channel: frames, ledger: ledger)
                    }
                }
        let hostLogger = logger
        let host = P2PHost(
            identity: try identity ?? PrivateKey.generate(.secp256k1), configuration: configuration.p2p, clock: clock,
            group: group, report: { hostLogger.debug("\($0)") })
        let listener: P2PListener
        do {
            listener = try await host.listen(host: configuration.host, port: configuration.p2pPort)
        } catch {
            try? await channel?.channel.close()
            throw error
        }
        let node = StoreNode(
            archive: archive, configuration: configuration, logger: logger, metrics: metrics, clock: clock,
            buffers: buffers, bandwidth: bandwidth, channel: channel, host: host, listener: listener)
        node.registerServices(on: host)
        return node
    }

    /// What the node has served and refused so far.
    public var counts: NodeCounts { counters.snapshot }

    /// Connections open now.
    public var openConnections: Int { counters.openConnections }

    /// Sync sessions under way now, inbound and outbound.
    public var openSyncSessions: Int { counters.openSessions }

    /// Accepts and serves streams until `close()`.
    public func serve() async throws {
        try await withThrowingDiscardingTaskGroup { servers in
            servers.addTask { try await self.listener.serve() }
            guard let serverChannel else { return }
            try await serverChannel.executeThenClose { inbound in
                try await withThrowingDiscardingTaskGroup { group in
                    for try await connection in inbound {
                        group.addTask { await self.handle(connection) }
                    }
                }
            }
        }
    }

    /// Stops accepting streams; streams under way finish.
    public func close() async {
        await listener.close()
        try? await serverChannel?.channel.close()
    }

    /// Takes a token for one request, or throws the 429 that answers it.
    func admit(_ streamProtocol: StreamProtocol, requester: Requester) throws {
        if case .limited(let milliseconds) = limiter.admit(
            streamProtocol, peers: requester.limitKeys, now: clock.uptime())
        {
            counters.update { $0.requestsLimited += 1 }
            metrics.requestRejected(streamProtocol, code: .tooManyRequests)
            throw ProtocolError(
                .tooManyRequests, "rate limited, retry after \(milliseconds) ms",
                retryAfterMilliseconds: UInt32(clamping: milliseconds))
        }
    }

    private func handle(_ accepted: InboundConnection) async {
        let connection = accepted.channel
        defer { accepted.ledger.close() }
        let peer = connection.channel.remoteAddress?.description ?? "unknown peer"
        let address = connection.channel.remoteAddress?.ipAddress ?? "unknown"
        let admitted = counters.openConnection(
            from: address, total: configuration.maximumConnections, perPeer: configuration.maximumConnectionsPerPeer)
        defer { if admitted { counters.closeConnection(from: address) } }
        do {
            try await connection.executeThenClose { inbound, outbound in
                var frames = InboundFrames(inbound, ledger: accepted.ledger)
                let writer = FrameWriter(outbound)
                do {
                    guard admitted else {
                        throw ProtocolError(.unavailable, "too many connections; try again later")
                    }
                    try await serveStream(
                        &frames, writer,
                        requester: Requester(
                            peer: peer, limitKeys: [address], identity: address, mayPush: configuration.allowPush))
                } catch {
                    await refuse(ProtocolError.answering(error), on: writer, stream: "stream from \(peer)")
                }
            }
        } catch {
            logger.debug("connection from \(peer) ended: \(error)")
        }
    }

    private func serveStream(
        _ frames: inout InboundFrames,
        _ outbound: FrameWriter,
        requester: Requester
    ) async throws {
        guard case .hello(let id, let version)? = try await frames.next() else {
            throw ProtocolError.bad("a stream must open with a hello frame")
        }
        guard let streamProtocol = StreamProtocol(rawValue: id) else {
            throw ProtocolError(.notFound, "unknown protocol \(id)")
        }
        guard version == StreamProtocol.version else {
            throw ProtocolError(
                .upgradeRequired,
                "\(streamProtocol) version \(version) is not supported; this node speaks \(StreamProtocol.version)")
        }
        try await serve(streamProtocol, &frames, outbound, requester: requester)
    }

    /// Answers a failed stream with its error frame, counted and logged under `stream`.
    func refuse(_ refusal: ProtocolError, on writer: FrameWriter, stream: String) async {
        counters.update { $0.streamErrors += 1 }
        logger.info("\(stream) closed with \(refusal.code): \(refusal.message)")
        try? await writer.write(
            .error(
                code: refusal.code.rawValue, message: refusal.message,
                retryAfterMilliseconds: refusal.retryAfterMilliseconds))
    }

    /// Serves one stream of `streamProtocol`; a failure is counted as a rejection of its code
    /// (a 429 was counted where it was decided) and thrown on.
    func serve(
        _ streamProtocol: StreamProtocol,
        _ frames: inout InboundFrames,
        _ outbound: FrameWriter,
        requester: Requester
    ) async throws {
        do {
            try await route(streamProtocol, &frames, outbound, requester: requester)
        } catch {
            let code = ProtocolError.answering(error).code
            if code != .tooManyRequests { metrics.requestRejected(streamProtocol, code: code) }
            throw error
        }
    }

    private func route(
        _ streamProtocol: StreamProtocol,
        _ frames: inout InboundFrames,
        _ outbound: FrameWriter,
        requester: Requester
    ) async throws {
        switch streamProtocol {
        case .reconcile:
            try admit(.reconcile, requester: requester)
            guard counters.openSession(inbound: true, maximum: configuration.maximumInboundSessions) else {
                throw ProtocolError(
                    .unavailable, "too many sync sessions under way; try again later", retryAfterMilliseconds: 5_000)
            }
            defer { counters.closeSession(inbound: true) }
            try await serveReconcile(&frames, outbound, address: requester.identity)
        case .transfer:
            try admit(.transfer, requester: requester)
            try await serveRequests(.transfer, &frames, outbound) {
                try await self.answerTransfer(&$0, peer: requester.peer, address: requester.identity)
            }
        case .storeQuery:
            try await serveRequests(.storeQuery, &frames, outbound) { request in
                do {
                    try self.admit(.storeQuery, requester: requester)
                } catch let limited as ProtocolError {
                    // Answered without decoding the request: a Store v3 response with status 429.
                    return try StoreQuery.limited(limited.message)
                }
                let started = ContinuousClock.now
                defer { self.metrics.queryLatency(ContinuousClock.now - started) }
                return try await self.answerStoreQuery(&request)
            }
        case .push:
            guard requester.mayPush else {
                throw ProtocolError(.forbidden, "this node takes no pushes from \(requester.peer)")
            }
            try await serveRequests(.push, &frames, outbound) { request in
                try self.admit(.push, requester: requester)
                return try await self.answerPush(&request, peer: requester.peer)
            }
        case .count:
            try await serveRequests(.count, &frames, outbound) { request in
                try self.admit(.count, requester: requester)
                return try await self.answerCount(&request)
            }
        }
    }

    /// Answers each data frame with one data frame until the client ends the stream.
    private func serveRequests(
        _ streamProtocol: StreamProtocol,
        _ frames: inout InboundFrames,
        _ outbound: FrameWriter,
        answer: (inout ByteBuffer) async throws -> ByteBuffer
    ) async throws {
        while true {
            switch try await frames.next() {
            case .data(var request)?:
                let received = request.readableBytes
                let response = try await answer(&request)
                metrics.requestServed(streamProtocol)
                metrics.bytes(streamProtocol, received: received, sent: response.readableBytes)
                try await outbound.write(.data(response))
            case .end?, nil:
                return
            default:
                throw ProtocolError.bad("expected a data or end frame")
            }
        }
    }

    private func serveReconcile(
        _ frames: inout InboundFrames,
        _ outbound: FrameWriter,
        address: String
    ) async throws {
        guard case .data(var first)? = try await frames.next() else {
            throw ProtocolError.bad("a reconcile stream starts with its scope, window and first message")
        }
        metrics.bytes(.reconcile, received: first.readableBytes, sent: 0)
        let open = try ReconcileOpen(decoding: &first)
        guard admission.pubsubTopics.contains(open.pubsubTopic) else {
            throw ProtocolError(.notFound, "pubsub topic \(open.pubsubTopic) is not one this node stores")
        }
        counters.update { $0.reconcileSessions += 1 }
        var rounds = 0
        do {
            let reconciler = try Reconciler(
                frameSizeLimit: configuration.negentropyFrameLimit, policy: configuration.policy,
                limits: configuration.reconcileLimits, budget: configuration.sessionBudget)
            var message = open.message
            while true {
                let reply = try await store.read { store in
                    try store.withSnapshot(pubsubTopic: open.pubsubTopic) { snapshot in
                        try reconciler.respond(to: message, storage: WindowedStorage(snapshot, window: open.window))
                    }
                }
                rounds += 1
                metrics.bytes(.reconcile, received: 0, sent: reply.count)
                try await outbound.write(.data(ByteBuffer(bytes: reply)))
                switch try await frames.next() {
                case .data(let next)?:
                    metrics.bytes(.reconcile, received: next.readableBytes, sent: 0)
                    message = Array(buffer: next)
                case .end?:
                    permits.grant(
                        address: address, pubsubTopic: open.pubsubTopic, window: open.window,
                        ranges: reconciler.listedRanges, now: clock.uptime())
                    metrics.requestServed(.reconcile)
                    metrics.syncSession(role: .responder, outcome: "ok", rounds: rounds, differences: nil)
                    return
                case nil:
                    metrics.syncSession(role: .responder, outcome: "closed", rounds: rounds, differences: nil)
                    return
                default:
                    throw ProtocolError.bad("expected a reconcile message or end")
                }
            }
        } catch {
            metrics.syncSession(role: .responder, outcome: "error", rounds: rounds, differences: nil)
            throw error
        }
    }
}

extension ChannelPipeline.SynchronousOperations {
    /// Adds the frame decoder and encoder every stream uses.
    public func addFramingHandlers(maximumFrameSize: Int) throws {
        try addHandler(ByteToMessageHandler(FrameDecoder(maximumFrameSize: maximumFrameSize)))
        try addHandler(MessageToByteHandler(FrameEncoder()))
    }
}
