import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import StoreSyncCore
import StoreSyncLMDB
import StoreSyncNode
import StoreSyncP2P
import StoreSyncPostgres

/// `storesync node`: a long-running node, stopped cleanly by SIGINT or SIGTERM.
struct Node: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run a store node until SIGINT or SIGTERM.")

    @Option(help: "Directory of the node's LMDB store (created if missing).")
    var dataDir: String

    @Option(help: "Address of the libp2p listener (Waku peers, this project's protocols), HOST:PORT.")
    var listen = Endpoint(argument: "127.0.0.1:60000")!

    @Option(
        help:
            "Also serve this project's framing protocols in plaintext at HOST:PORT (same host as --listen), for framing-only peers and tools; off by default."
    )
    var plaintextListen: Endpoint?

    @Option(
        help:
            "Type of the node's identity key when it is first made: secp256k1 (the only one an ENR carries) or ed25519."
    )
    var keyType: KeyTypeArgument?

    @Option(help: "Waku cluster id; peers of another cluster are disconnected (the Waku network uses 1).")
    var clusterId: UInt32 = 0

    @Option(help: "Seconds a libp2p connection has to finish its security and muxer handshakes.")
    var p2pHandshakeTimeout = 10.0

    @Option(help: "Streams open at once on one libp2p connection.")
    var maxStreamsPerConnection = 64

    @Option(help: "libp2p connections open at once with one PeerId.")
    var maxConnectionsPerPeerId = 4

    @Option(
        name: .customLong("peer"),
        help:
            "A peer to sync with: its multiaddr /ip4/…/tcp/…/p2p/<PeerId>, or HOST:PORT of a framing listener (repeatable)."
    )
    var peers: [NodeAddress] = []

    @Option(help: "A PeerId whose pushes the node takes over libp2p (repeatable; --allow-push takes them from anyone).")
    var allowPushFrom: [String] = []

    @Option(
        name: .customLong("pubsub-topic"),
        help: "A pubsub topic this node stores, serves and syncs (repeatable); messages of others are refused.")
    var pubsubTopics: [String] = NodeConfiguration().pubsubTopics

    @Flag(help: "Let clients push messages to store.")
    var allowPush = false

    @Flag(
        help:
            "Offer and use only the reference Waku node's store sync (/vac/waku/reconciliation/1.0.0), not this project's Negentropy protocols."
    )
    var noNegentropy = false

    @Option(help: "Seconds the messages a store-sync session found missing may take to arrive.")
    var storeSyncTransferTimeout: Double = StoreSyncSettings().transferTimeout

    @Option(help: "Split policy: reference or adaptive.")
    var policy = SplitPolicy.adaptive

    @Option(
        name: .customLong("rate-limit"),
        help: """
            Per-peer request rate, repeatable: store:10/1s, reconcile:5/1m, transfer:60/1m, push:20/1s;             N/<time> alone for every protocol not named; none to turn limits off.             Default: store 20/1s, push 20/1s, reconcile 30/1m, transfer 60/1m (the node as a whole 20x).
            """)
    var rateLimits: [String] = []

    @Option(help: "Bytes per second one address may send to one service; 0 for no limit.")
    var bandwidthPerPeer = 64 << 20

    @Option(help: "Largest frame accepted, in bytes (checked before it is buffered).")
    var maxFrameSize = 4 << 20

    @Option(help: "Seconds a new connection has to send its hello.")
    var handshakeTimeout = 10.0

    @Option(help: "Seconds a stream may go without a complete frame (cuts off slowloris clients).")
    var idleTimeout = 30.0

    @Option(help: "Seconds a stream may stay open in all (a whole request or sync session).")
    var maxStreamDuration = 600.0

    @Option(help: "Connections open at once, in all.")
    var maxConnections = 1_024

    @Option(help: "Connections open at once from one address.")
    var maxConnectionsPerPeer = 64

    @Option(help: "Ranges one reconcile message may carry.")
    var maxRanges = 100_000

    @Option(help: "Ids one reconcile message may carry, over all its id lists.")
    var maxIds = 1_000_000

    @OptionGroup var retention: RetentionOptions

    @OptionGroup var archiveOptions: ArchiveOptions

    @Option(
        help:
            "Threads that serve store reads (reconcile snapshots, queries, counts, statistics); writes have one of their own."
    )
    var readThreads = StoreConfiguration.defaultReaderThreads

    @Option(help: "Seconds between retention passes (one also runs at start and before writes that need room).")
    var retentionInterval = 60.0

    @Option(help: "Serve Prometheus metrics over HTTP at HOST:PORT, path /metrics.")
    var metricsListen: Endpoint?

    @Option(help: "Seconds between periodic syncs with a peer (each stretched or shrunk by up to 10% at random).")
    var syncInterval = 300.0

    @Option(help: "Seconds of history each periodic sync covers.")
    var syncRange = 3_600.0

    @Option(help: "Seconds before now where the periodic sync window ends (messages in flight are not chased).")
    var syncOffset = 20.0

    @Option(help: "Sync sessions peers may have under way with this node at once.")
    var maxInboundSessions = NodeConfiguration().maximumInboundSessions

    @Option(help: "Sync sessions this node may have under way with peers at once.")
    var maxOutboundSessions = NodeConfiguration().maximumOutboundSessions

    @Option(help: "Rounds one sync session may take, inbound or outbound.")
    var maxSessionRounds = SessionBudget.defaults.maximumRounds

    @Option(help: "Keys one sync session may make this node enumerate, inbound or outbound.")
    var maxSessionKeys = SessionBudget.defaults.maximumKeys

    @Option(help: "Keys a peer may offer after one reconcile session (without --allow-push).")
    var maxOfferKeys = NodeConfiguration().maximumOfferKeys

    @Option(help: "Largest message stored, in bytes of its protobuf encoding.")
    var maxMessageSize = MessageAdmission.defaultMaximumMessageSize

    @Option(help: "Seconds ahead of this node's clock a message timestamp may be.")
    var maxFutureSkew = MessageAdmission.defaultMaximumFutureSkewSeconds

    @Option(help: "Bytes of received frames the node holds at once, over all connections.")
    var maxBufferedBytes = NodeConfiguration().maximumBufferedBytes

    @Option(help: "Bytes of received frames the node holds at once for one connection.")
    var maxBufferedBytesPerConnection = NodeConfiguration().maximumBufferedBytesPerConnection

    @Option(help: "Seconds of a downtime gap reconciled per catch-up slice.")
    var resumeSlice = 3_600.0

    @Option(help: "Seconds before the last-online watermark where a catch-up starts.")
    var resumeMargin = 300.0

    func validate() throws {
        if let plaintextListen, plaintextListen.host != listen.host {
            throw ValidationError("--plaintext-listen must be on the --listen host, \(listen.host)")
        }
        do {
            _ = try RateLimitPolicy.parse(rateLimits)
        } catch {
            throw ValidationError(error.message)
        }
        guard maxFrameSize >= 64 << 10 else { throw ValidationError("--max-frame-size must be at least 65536") }
        guard handshakeTimeout > 0, idleTimeout > 0, maxStreamDuration > 0 else {
            throw ValidationError("timeouts must be positive numbers of seconds")
        }
        guard (1...64).contains(readThreads) else { throw ValidationError("--read-threads must be 1 to 64") }
        guard retentionInterval > 0 else { throw ValidationError("--retention-interval must be positive") }
        guard syncInterval > 0, syncRange > 0, syncOffset >= 0, resumeSlice > 0, resumeMargin >= 0 else {
            throw ValidationError(
                "--sync-interval, --sync-range and --resume-slice must be positive; offsets and margins not negative")
        }
        guard maxInboundSessions > 0, maxOutboundSessions > 0, maxSessionRounds > 0, maxSessionKeys > 0,
            maxOfferKeys >= 0, maxMessageSize > 0, maxFutureSkew >= 0, !pubsubTopics.isEmpty
        else {
            throw ValidationError(
                "session, offer and message bounds must be positive, --max-future-skew not negative, and a pubsub topic given"
            )
        }
        guard maxBufferedBytesPerConnection >= maxFrameSize, maxBufferedBytes >= maxBufferedBytesPerConnection else {
            throw ValidationError(
                "--max-buffered-bytes-per-connection must be at least --max-frame-size, and --max-buffered-bytes at least that"
            )
        }
        guard maxConnections > 0, maxConnectionsPerPeer > 0, bandwidthPerPeer >= 0, maxRanges > 0, maxIds > 0 else {
            throw ValidationError("connection bounds must be positive and bandwidth not negative")
        }
    }

    func run() async throws {
        var logger = Logger(label: "storesync.node")
        logger.logLevel = .info
        let store = try await archiveOptions.open(
            dataDir: dataDir, retention: retention.policy, readerThreads: readThreads)
        if archiveOptions.archive == nil, let cap = retention.policy.maximumBytes,
            let usage = try? await store.keyIndex.read({ try $0.diskUsage() }), usage.fileBytes > cap
        {
            printError(
                "the data file is \(usage.fileBytes) bytes, above the size cap of \(cap): LMDB never shrinks its file; "
                    + "the store keeps its data under the cap from now on, and `mdb_copy -c` compacts the file offline")
        }
        let endpoint = MetricsEndpoint(store: store)
        let identity: PrivateKey
        do {
            identity = try NodeIdentity.loadOrCreate(directory: dataDir, type: keyType?.type)
        } catch {
            printError("\(error)")
            throw ExitCode(1)
        }
        let node: StoreNode
        do {
            var storeSync = StoreSyncSettings()
            storeSync.negentropy = !noNegentropy
            storeSync.transferTimeout = storeSyncTransferTimeout
            node = try await StoreNode.bind(
                archive: store,
                configuration: NodeConfiguration(
                    host: listen.host, port: plaintextListen?.port ?? 0, pubsubTopics: pubsubTopics,
                    maximumFrameSize: maxFrameSize,
                    negentropyFrameLimit: min(1 << 20, maxFrameSize - 16 << 10), policy: policy, allowPush: allowPush,
                    rateLimits: try RateLimitPolicy.parse(rateLimits), handshakeTimeout: handshakeTimeout,
                    idleTimeout: idleTimeout, maximumStreamDuration: maxStreamDuration,
                    maximumConnections: maxConnections, maximumConnectionsPerPeer: maxConnectionsPerPeer,
                    maximumInboundSessions: maxInboundSessions, maximumOutboundSessions: maxOutboundSessions,
                    bandwidthPerPeer: bandwidthPerPeer == 0 ? nil : bandwidthPerPeer,
                    reconcileLimits: DecodingLimits(maximumRanges: maxRanges, maximumIds: maxIds),
                    sessionBudget: SessionBudget(maximumRounds: maxSessionRounds, maximumKeys: maxSessionKeys),
                    maximumOfferKeys: maxOfferKeys, maximumMessageSize: maxMessageSize,
                    maximumFutureSkewSeconds: maxFutureSkew, maximumBufferedBytes: maxBufferedBytes,
                    maximumBufferedBytesPerConnection: maxBufferedBytesPerConnection
                ).withLibp2p(
                    allowPushFrom: Set(allowPushFrom), plaintextListener: plaintextListen != nil, port: listen.port,
                    clusterID: clusterId, handshakeTimeout: p2pHandshakeTimeout,
                    maximumStreamsPerConnection: maxStreamsPerConnection,
                    maximumConnectionsPerPeer: maxConnectionsPerPeerId
                ).withStoreSync(storeSync),
                logger: logger, metrics: endpoint.metrics, identity: identity)
        } catch {
            printError("cannot listen on \(listen): \(error); is the port free and the address local?")
            throw ExitCode(1)
        }
        say("libp2p listening on \(node.address.map(String.init(describing:)) ?? "?") (cluster \(clusterId))")
        if plaintextListen != nil { say("plaintext framing listener on \(listen.host):\(node.port)") }
        say(
            "data in \(dataDir)"
                + ((store as? PostgresArchive).map { ", messages in \($0.configuration.location)" } ?? "")
                + ", retention \(retention.policy)")
        var metricsServer: MetricsServer?
        if let metricsListen {
            do {
                metricsServer = try await MetricsServer.bind(host: metricsListen.host, port: metricsListen.port) {
                    await endpoint.render()
                }
            } catch {
                await node.close()
                printError("cannot serve metrics on \(metricsListen): \(error); is the port free?")
                throw ExitCode(1)
            }
            say("metrics on http://\(metricsListen.host):\(metricsServer?.port ?? 0)/metrics")
        }
        let clients = try peers.map { peer in
            switch peer {
            case .libp2p(let address): try node.client(for: address)
            case .framing: try peer.client()
            }
        }
        let background = BackgroundSync(
            node: node, peers: clients, pubsubTopics: pubsubTopics,
            resume: ResumeCoordinator(
                node: node, peers: clients, pubsubTopics: pubsubTopics,
                configuration: ResumeConfiguration(sliceSeconds: resumeSlice, marginSeconds: resumeMargin),
                logger: logger),
            periodic: PeriodicSync(
                node: node, peers: clients, pubsubTopics: pubsubTopics,
                configuration: PeriodicSyncConfiguration(
                    intervalSeconds: syncInterval, rangeSeconds: syncRange, offsetSeconds: syncOffset),
                logger: logger),
            logger: logger)
        // SIGTERM and SIGINT stop the node gracefully: no new streams, those under way finish.
        var services: [any Service] = [NodeService(node: node), CancelledAtShutdown { await background.run() }]
        if !retention.policy.keepsEverything {
            let retention = PeriodicRetention(store: store, intervalSeconds: retentionInterval, logger: logger)
            services.append(CancelledAtShutdown { await retention.run() })
        }
        let group = ServiceGroup(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        try await group.run()
        await metricsServer?.close()
        say("stopped; store closed")
    }
}

/// The node as a service of a `ServiceGroup`: serves until graceful shutdown closes it.
struct NodeService: Service {
    let node: StoreNode

    func run() async throws {
        try await withGracefulShutdownHandler {
            try await node.serve()
        } onGracefulShutdown: {
            let node = node
            Task { await node.close() }
        }
    }
}

/// Library work that runs until graceful shutdown cancels it.
struct CancelledAtShutdown: Service {
    let work: @Sendable () async -> Void

    func run() async throws {
        await cancelWhenGracefulShutdown { await work() }
    }
}
