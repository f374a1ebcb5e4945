import StoreSyncCore
import StoreSyncLMDB
import StoreSyncP2P

/// The reference Waku node's store sync, served: `/vac/waku/reconciliation/1.0.0` answered by
/// the engine over the archive's key indexes, and `/vac/waku/transfer/1.0.0` taking only what a
/// session with the same peer found missing (SPEC.md 9.4).
extension StoreNode {
    func registerStoreSync(on host: P2PHost) {
        receiver.install(on: host)
        host.handle(StoreSyncSettings.reconciliationProtocol) { [weak self] stream in
            guard let self else { return }
            await self.serveStoreSync(stream)
        }
    }

    /// Takes a token of the peer's rate limit for `service` (this protocol has no error message:
    /// over the limit the stream is reset at once) and meters the stream's bandwidth.
    func admitStoreSync(_ stream: P2PStream, as service: StreamProtocol) -> Bool {
        Self.admit(
            stream, as: service, limiter: limiter, counters: counters, metrics: metrics, bandwidth: bandwidth,
            clock: clock)
    }

    static func admit(
        _ stream: P2PStream, as service: StreamProtocol, limiter: RateLimiter, counters: NodeCounters,
        metrics: NodeMetrics, bandwidth: BandwidthLimiter, clock: any SyncScheduler
    ) -> Bool {
        if case .limited = limiter.admit(service, peers: limitKeys(stream.connection), now: clock.uptime()) {
            counters.update { $0.requestsLimited += 1 }
            metrics.requestRejected(service, code: .tooManyRequests)
            stream.reset()
            return false
        }
        meter(stream, service: service, bandwidth: bandwidth, clock: clock)
        return true
    }

    /// A client for the peer at `address` that dials from this node's own host, with its
    /// identity, and whose store syncs push into this node's receiver.
    public func client(for address: Multiaddr, readTimeout: Double = 60) throws -> NodeClient {
        try NodeClient(
            address: address, host: host, receiver: receiver, maximumFrameSize: configuration.maximumFrameSize,
            readTimeout: readTimeout, storeSync: configuration.storeSync, clock: clock)
    }

    /// Answers one peer's store-sync session: the reconciliation on this stream within the
    /// session bounds, then a push of what the peer lacks over a transfer stream of this node's
    /// own, and the messages this node lacks taken as the peer pushes them, until all are in or
    /// the transfer timeout passes.
    func serveStoreSync(_ stream: P2PStream) async {
        let peer = stream.connection.remotePeer
        guard admitStoreSync(stream, as: .reconcile) else { return }
        guard counters.openSession(inbound: true, maximum: configuration.maximumInboundSessions) else {
            metrics.syncSession(role: .responder, outcome: "busy", rounds: nil, differences: nil)
            stream.reset()
            return
        }
        guard
            let session = receiver.expectations.begin(
                peer: peer.description, store: archive, admission: admission, clock: clock)
        else {
            counters.closeSession(inbound: true)
            metrics.syncSession(role: .responder, outcome: "busy", rounds: nil, differences: nil)
            stream.reset()
            return
        }
        defer { receiver.end(session) }
        let lifetime = Watchdog(after: configuration.maximumStreamDuration, clock: clock) { stream.reset() }
        var outcome = StoreSyncConversation.Outcome()
        do {
            let floor = try await archive.retentionFloor(at: clock.now()).firstWholeTimestamp
            var engine = StoreSyncReconciler(
                configuration: .init(
                    scope: SyncScope(
                        pubsubTopics: configuration.pubsubTopics, contentTopics: configuration.storeSync.contentTopics),
                    floor: floor,
                    limits: configuration.storeSync.limits, maximumRounds: configuration.storeSync.maximumRounds))
            let conversation = StoreSyncConversation(
                stream: stream, store: store, settings: configuration.storeSync, idleTimeout: configuration.idleTimeout,
                clock: clock, session: session, expectations: receiver.expectations)
            try await conversation.run(engine: &engine, opening: nil, outcome: &outcome)
            lifetime.cancel()
            stream.close()
        } catch {
            lifetime.cancel()
            stream.reset()
            counters.closeSession(inbound: true)
            counters.update { $0.streamErrors += 1 }
            metrics.syncSession(
                role: .responder, outcome: lifetime.fired ? "timeout" : "error", rounds: outcome.rounds,
                differences: nil)
            logger.info("store-sync session from \(peer) given up: \(lifetime.fired ? "too long" : "\(error)")")
            return
        }
        counters.closeSession(inbound: true)
        counters.update { $0.reconcileSessions += 1 }
        metrics.syncSession(
            role: .responder, outcome: "ok", rounds: outcome.rounds,
            differences: outcome.have.ordered.count + outcome.need.ordered.count)
        metrics.bytes(.reconcile, received: outcome.bytesIn, sent: outcome.bytesOut)
        async let pushing = push(outcome.have.ordered, to: peer)
        _ = await session.waitForArrivals(seconds: configuration.storeSync.transferTimeout, clock: clock)
        let pushed = await pushing
        let counts = session.counts
        metrics.bytes(.transfer, received: 0, sent: pushed.bytes)
        metrics.messagesTransferred(received: counts.stored, sent: pushed.sent)
        metrics.transfersRejected(counts.rejected)
    }

    /// Pushes what `peer` lacks over a transfer stream of this node's own on its connection;
    /// returns what moved (nothing when the peer is gone, or the push failed part way).
    private func push(_ hashes: [MessageHash], to peer: PeerID) async -> TransferPush.Outcome {
        guard let connection = host.connection(to: peer) else { return TransferPush.Outcome() }
        do {
            return try await TransferPush.push(
                hashes, from: archive, over: connection, linger: configuration.idleTimeout, clock: clock)
        } catch {
            logger.info("store-sync push to \(peer) failed: \(error)")
            return TransferPush.Outcome()
        }
    }
}
