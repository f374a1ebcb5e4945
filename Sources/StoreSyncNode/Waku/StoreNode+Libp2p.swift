import NIOCore
import StoreSyncCore
import StoreSyncP2P

/// The node's services on libp2p streams: Waku Store v3 and Waku metadata.
extension StoreNode {
    /// The Waku Store v3 protocol id.
    public static let storeQueryProtocol = "/vac/waku/store-query/3.0.0"
    /// The largest Store v3 request read (100 hashes and 10 topics take a few KiB).
    public static let maximumStoreRequest = 64 * 1_024

    func registerServices(on host: P2PHost) {
        for streamProtocol in StreamProtocol.framedOverLibp2p
        where configuration.storeSync.negentropy || ![.reconcile, .transfer].contains(streamProtocol) {
            host.handle(streamProtocol.libp2pID) { [weak self] stream in
                guard let self else { return }
                await self.serveFramed(streamProtocol, stream)
            }
        }
        host.handle(Self.storeQueryProtocol) { [weak self] stream in
            guard let self else { return }
            try await self.serveStoreQuery(stream)
        }
        registerStoreSync(on: host)
        host.handle(WakuMetadata.protocolID) { [weak self] stream in
            guard let self else { return }
            try await self.answerMetadata(stream)
        }
        host.observeConnections { [weak self] connection in
            guard let self else { return }
            await self.checkCluster(connection)
        }
    }

    /// Serves one of this project's protocols on a libp2p stream: the frames of SPEC.md 5.1
    /// without the hello, each within the idle timeout, the stream within its maximum duration.
    /// A failure is answered with an error frame, then the stream closes.
    func serveFramed(_ streamProtocol: StreamProtocol, _ stream: P2PStream) async {
        let info = stream.connection
        let requester = Requester(
            peer: "\(info.remotePeer) at \(info.remoteIP)", limitKeys: Self.limitKeys(info),
            identity: "p2p:\(info.remotePeer)",
            mayPush: configuration.allowsPush(from: info.remotePeer.description))
        meterBandwidth(of: stream, service: streamProtocol)
        let ledger = buffers.connection()
        defer { ledger.close() }
        let lifetime = Watchdog(after: configuration.maximumStreamDuration, clock: clock) { stream.reset() }
        defer {
            lifetime.cancel()
            stream.close()
        }
        var frames = InboundFrames(
            stream, maximumFrameSize: configuration.maximumFrameSize, ledger: ledger, idle: configuration.idleTimeout,
            clock: clock)
        let writer = FrameWriter(stream)
        do {
            try await serve(streamProtocol, &frames, writer, requester: requester)
        } catch {
            let refusal =
                lifetime.fired
                ? ProtocolError(.requestTimeout, "the stream lasted longer than its maximum duration")
                : ProtocolError.answering(error)
            await refuse(refusal, on: writer, stream: "\(streamProtocol.name) stream from \(requester.peer)")
        }
    }

    /// The names the limits count a libp2p peer by: its address and its PeerId.
    static func limitKeys(_ info: P2PConnectionInfo) -> [String] {
        [info.remoteIP, "p2p:\(info.remotePeer)"]
    }

    /// Charges what the peer sends on `stream` to its bandwidth buckets, by address and by
    /// PeerId; over either, the stream is not read until the debt is paid on the node's clock.
    func meterBandwidth(of stream: P2PStream, service: StreamProtocol) {
        Self.meter(stream, service: service, bandwidth: bandwidth, clock: clock)
    }

    static func meter(
        _ stream: P2PStream, service: StreamProtocol, bandwidth: BandwidthLimiter, clock: any SyncScheduler
    ) {
        guard bandwidth.bytesPerSecond != nil else { return }
        let keys = limitKeys(stream.connection)
        stream.meter { bytes in
            let now = clock.uptime()
            let wait = keys.map { bandwidth.charge(bytes, peer: $0, service: service.name, now: now) }.max() ?? 0
            if wait > 0 { try await clock.sleep(seconds: wait) }
        }
    }

    /// One Store v3 request per stream: over the rate limit the answer is 429 with request id
    /// "N/A" and the request is not read, as the reference node does.
    func serveStoreQuery(_ stream: P2PStream) async throws {
        defer { stream.close() }
        let info = stream.connection
        if case .limited(let milliseconds) = limiter.admit(
            .storeQuery, peers: Self.limitKeys(info), now: clock.uptime())
        {
            counters.update { $0.requestsLimited += 1 }
            metrics.requestRejected(.storeQuery, code: .tooManyRequests)
            let response = try StoreQuery.limited("rate limited, retry after \(milliseconds) ms", requestID: "N/A")
            // Answered, if with a refusal: counted as served, as on the framing listener.
            metrics.requestServed(.storeQuery)
            try await stream.writePrefixed(response)
            return
        }
        meterBandwidth(of: stream, service: .storeQuery)
        let watchdog = Watchdog(after: configuration.idleTimeout, clock: clock) { stream.reset() }
        let request: ByteBuffer?
        do {
            request = try await stream.readPrefixed(limit: Self.maximumStoreRequest, what: "StoreQueryRequest")
            watchdog.cancel()
        } catch let error as P2PError {
            watchdog.cancel()
            counters.update { $0.streamErrors += 1 }
            if case .tooLarge = error {
                metrics.requestRejected(.storeQuery, code: .badRequest)
                try await stream.writePrefixed(
                    try StoreQuery.refusal(.badRequest, "request over \(Self.maximumStoreRequest) bytes"))
            }
            throw error
        }
        guard var request else { return }
        let started = ContinuousClock.now
        let received = request.readableBytes
        let response = try await answerStoreQuery(&request)
        metrics.queryLatency(ContinuousClock.now - started)
        metrics.requestServed(.storeQuery)
        metrics.bytes(.storeQuery, received: received, sent: response.readableBytes)
        try await stream.writePrefixed(response)
    }

    /// This node's metadata.
    var metadata: WakuMetadata {
        WakuMetadata(clusterID: configuration.clusterID, pubsubTopics: configuration.pubsubTopics)
    }

    func answerMetadata(_ stream: P2PStream) async throws {
        defer { stream.close() }
        let watchdog = Watchdog(after: configuration.idleTimeout, clock: clock) { stream.reset() }
        defer { watchdog.cancel() }
        guard let request = try await stream.readPrefixed(limit: WakuMetadata.maximumSize, what: "metadata request")
        else { return }
        let theirs = try WakuMetadata(decoding: Array(request.readableBytesView))
        try await stream.writePrefixed(ByteBuffer(bytes: metadata.encoded))
        if let cluster = theirs.clusterID, cluster != configuration.clusterID {
            logger.info("peer \(stream.connection.remotePeer) is in cluster \(cluster), not \(configuration.clusterID)")
        }
    }

    /// Asks a new connection's metadata and drops peers of another cluster. A peer that does
    /// not speak metadata (a plain libp2p client) is kept: it can still query the store.
    func checkCluster(_ connection: P2PConnection) async {
        do {
            let stream = try await connection.newStream([WakuMetadata.protocolID])
            defer { stream.close() }
            try await stream.writePrefixed(ByteBuffer(bytes: metadata.encoded))
            stream.closeWrite()
            let watchdog = Watchdog(after: configuration.idleTimeout, clock: clock) { stream.reset() }
            defer { watchdog.cancel() }
            guard let answer = try await stream.readPrefixed(limit: WakuMetadata.maximumSize, what: "metadata") else {
                throw P2PError.closed
            }
            let theirs = try WakuMetadata(decoding: Array(answer.readableBytesView))
            guard theirs.clusterID == configuration.clusterID else {
                counters.update { $0.peersOfOtherClusters += 1 }
                logger.info(
                    "disconnecting \(connection.remotePeer): cluster \(theirs.clusterID.map(String.init) ?? "none"), this node's is \(configuration.clusterID)"
                )
                connection.close()
                return
            }
        } catch P2PError.refused {
            logger.debug("\(connection.remotePeer) does not speak metadata")
        } catch {
            logger.debug("metadata with \(connection.remotePeer): \(error)")
        }
    }
}
