import StoreSyncCore
import StoreSyncLMDB

extension StoreNode {
    /// Syncs a pubsub topic over a window with a peer, this node initiating with its own policy
    /// and limits, and reports the session (outcome, rounds, differences, bytes, transfers) in
    /// the node's metrics.
    public func sync(
        with peer: NodeClient, pubsubTopic: String, window: Range<UInt64> = 0..<UInt64.max
    ) async throws -> SyncReport {
        let report: SyncReport
        do {
            report = try await peer.sync(
                store: store, pubsubTopic: pubsubTopic, window: window, policy: configuration.policy,
                negentropyFrameLimit: configuration.negentropyFrameLimit, logger: logger)
        } catch {
            metrics.syncSession(role: .initiator, outcome: "error", rounds: nil, differences: nil)
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
