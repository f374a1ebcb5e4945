import Logging
import StoreSyncCore
import StoreSyncLMDB

extension StoreNode {
    /// Syncs a pubsub topic over a window with a peer, this node initiating with its own policy
    /// and limits, and reports the session (outcome `ok`, `error`, `timeout` when the peer
    /// stalled past the client's read timeout, `busy` when the node had no session slot;
    /// rounds, differences, bytes, transfers) in the node's metrics. What the transfer stored
    /// before a failure stays stored.
    public func sync(
        with peer: NodeClient, pubsubTopic: String, window: Range<UInt64> = 0..<UInt64.max
    ) async throws -> SyncReport {
        guard configuration.pubsubTopics.contains(pubsubTopic) else {
            throw ProtocolError(.notFound, "pubsub topic \(pubsubTopic) is not one this node stores")
        }
        guard counters.openSession(inbound: false, maximum: configuration.maximumOutboundSessions) else {
            metrics.syncSession(role: .initiator, outcome: "busy", rounds: nil, differences: nil)
            throw ProtocolError(.unavailable, "too many outbound sync sessions under way on this node")
        }
        defer { counters.closeSession(inbound: false) }
        let report: SyncReport
        do {
            report = try await peer.sync(
                store: archive, pubsubTopic: pubsubTopic, window: window, policy: configuration.policy,
                negentropyFrameLimit: configuration.negentropyFrameLimit, limits: SessionLimits(configuration),
                logger: logger)
        } catch {
            let outcome =
                switch error {
                case PeerError.timedOut, PeerError.sessionTooLong: "timeout"
                default: "error"
                }
            metrics.syncSession(role: .initiator, outcome: outcome, rounds: nil, differences: nil)
            throw error
        }
        metrics.syncSession(
            role: .initiator, outcome: "ok", rounds: report.rounds, differences: report.have + report.need)
        metrics.bytes(
            .reconcile, received: report.bytesDown - report.transferBytesDown,
            sent: report.bytesUp - report.transferBytesUp)
        metrics.bytes(.transfer, received: report.transferBytesDown, sent: report.transferBytesUp)
        metrics.messagesTransferred(received: report.fetched.stored, sent: report.sent.stored)
        metrics.transfersRejected(report.fetched.rejected)
        return report
    }

    /// Fetches messages by hash from a peer, outside a session: keys another peer could not
    /// serve. Returns the counts and the hashes this peer did not serve either.
    public func fetch(_ hashes: [MessageHash], from peer: NodeClient, pubsubTopic: String) async throws
        -> (counts: StoreCounts, unserved: [MessageHash])
    {
        guard !hashes.isEmpty else { return (StoreCounts(), []) }
        var report = SyncReport()
        let deadline = SessionDeadline(seconds: configuration.maximumStreamDuration, from: peer.clock)
        try await peer.withStream(.transfer, deadline: deadline) { stream in
            try await peer.fetch(
                hashes, store: archive, pubsubTopic: pubsubTopic, admission: admission, stream: &stream,
                report: &report, logger: logger, progress: { _ in })
        }
        metrics.messagesTransferred(received: report.fetched.stored, sent: 0)
        metrics.transfersRejected(report.fetched.rejected)
        return (report.fetched, report.unserved)
    }

    /// Keys a session found missing that its peer did not serve: those still missing are asked
    /// of each peer in turn. Returns how many were stored and the keys no peer served.
    public func pending(_ unserved: [MessageHash], pubsubTopic: String, peers: [NodeClient], logger: Logger)
        async throws
        -> (fetched: Int, left: [MessageHash])
    {
        guard !unserved.isEmpty else { return (0, []) }
        let stored = try await archive.messages(for: unserved)
        var left = zip(unserved, stored).filter { $0.1 == nil }.map(\.0)
        var fetched = 0
        for peer in peers where !left.isEmpty {
            do {
                let (counts, unservedHere) = try await fetch(left, from: peer, pubsubTopic: pubsubTopic)
                fetched += counts.stored
                left = unservedHere
            } catch {
                logger.warning(
                    "fetch of \(left.count) pending messages from \(peer.host):\(peer.port) failed: \(error)")
            }
        }
        return (fetched, left)
    }
}
