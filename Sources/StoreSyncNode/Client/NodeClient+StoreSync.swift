import StoreSyncCore
import StoreSyncLMDB
import StoreSyncP2P

extension NodeClient {
    /// Whether a sync with the peer on `connection` runs the reference node's store sync: when
    /// this side has Negentropy turned off, or the peer said in identify that it serves store
    /// sync and not this project's reconcile protocol.
    func usesStoreSync(_ connection: P2PConnection) -> Bool {
        guard storeSync.negentropy else { return true }
        guard let protocols = connection.identify?.protocols else { return false }
        return !protocols.contains(StreamProtocol.reconcile.libp2pID)
            && protocols.contains(StoreSyncSettings.reconciliationProtocol)
    }

    /// Syncs by the reference node's store sync: this side initiates the reconciliation of
    /// `pubsubTopic` over `window`, pushes what the peer lacks over a transfer stream of its
    /// own, and waits for the peer to push what this side lacks (only those messages are
    /// taken), until all have arrived or the transfer timeout passes. What did not arrive is in
    /// `report.unserved`.
    func storeSync(
        store: any MessageArchive, pubsubTopic: String, window: Range<UInt64>, connection: P2PConnection,
        receiver: TransferReceiver, limits: SessionLimits, deadline: SessionDeadline, report: inout SyncReport,
        progress: @Sendable (SyncReport) -> Void
    ) async throws {
        let admission = limits.admission ?? MessageAdmission(pubsubTopics: [pubsubTopic])
        guard
            let session = receiver.expectations.begin(
                peer: connection.remotePeer.description, store: store, admission: admission, clock: clock)
        else {
            throw PeerError.unexpected("a store-sync session with \(connection.remotePeer) is already under way")
        }
        defer { receiver.end(session) }
        let remaining = { [clock] in max(0, deadline.uptime - clock.uptime()) }
        // The reference node reads timestamps as Int64.
        let upper = min(window.upperBound - 1, UInt64(Int64.max))
        guard window.lowerBound <= upper else { return }
        var engine = StoreSyncReconciler(
            configuration: .init(
                scope: SyncScope(pubsubTopics: [pubsubTopic], contentTopics: storeSync.contentTopics),
                floor: window.lowerBound, limits: storeSync.limits,
                maximumRounds: storeSync.maximumRounds))
        var outcome = StoreSyncConversation.Outcome()
        let stream: P2PStream
        do {
            stream = try await connection.newStream([StoreSyncSettings.reconciliationProtocol])
        } catch P2PError.refused(let protocols) {
            throw Self.notSpoken(protocols)
        }
        let lifetime = Watchdog(after: remaining(), clock: clock) { stream.reset() }
        do {
            let opening = try await store.keyIndex.read { store in
                try store.withXorSnapshot { try engine.initiate(window: window.lowerBound...upper, storage: $0) }
            }
            let conversation = StoreSyncConversation(
                stream: stream, store: store.keyIndex, settings: storeSync, idleTimeout: readTimeout, clock: clock,
                session: session, expectations: receiver.expectations)
            try await conversation.run(engine: &engine, opening: opening, outcome: &outcome)
            lifetime.cancel()
            stream.close()
        } catch {
            lifetime.cancel()
            stream.reset()
            if lifetime.fired { throw PeerError.sessionTooLong(seconds: deadline.seconds) }
            if case P2PError.timeout = error { throw PeerError.timedOut(seconds: readTimeout) }
            throw error
        }
        report.rounds = outcome.rounds
        report.have = outcome.have.ordered.count
        report.need = outcome.need.ordered.count
        report.bytesUp += outcome.bytesOut
        report.bytesDown += outcome.bytesIn
        progress(report)
        let have = outcome.have.ordered
        let linger = min(readTimeout, remaining())
        async let pushed = TransferPush.push(have, from: store, over: connection, linger: linger, clock: clock)
        report.unserved = await session.waitForArrivals(
            seconds: min(storeSync.transferTimeout, remaining()), clock: clock)
        let push = try await pushed
        report.pushed = push.sent
        report.transferBytesUp += push.bytes
        report.bytesUp += push.bytes
        report.fetched = session.counts
        progress(report)
    }
}
