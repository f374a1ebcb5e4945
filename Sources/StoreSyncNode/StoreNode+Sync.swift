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
        guard counters.openSession(maximum: configuration.maximumSyncSessions) else {
            metrics.syncSession(role: .initiator, outcome: "busy", rounds: nil, differences: nil)
            throw ProtocolError(StatusCode.unavailable, "too many sync sessions under way on this node")
        }
        defer { counters.closeSession() }
        let report: SyncReport
        do {
            report = try await peer.sync(
                store: store, pubsubTopic: pubsubTopic, window: window, policy: configuration.policy,
                negentropyFrameLimit: configuration.negentropyFrameLimit, logger: logger)
        } catch {
            let timedOut = if case PeerError.timedOut = error { true } else { false }
            metrics.syncSession(
                role: .initiator, outcome: timedOut ? "timeout" : "error", rounds: nil, differences: nil)
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
}
