import Logging
import NIOCore
import StoreSyncCore
import StoreSyncLMDB
import StoreSyncProto
import SwiftProtobuf

/// What one sync of a scope and window with a peer found and moved.
public struct SyncReport: Sendable, Equatable {
    /// Round trips of the reconciliation.
    public var rounds = 0
    /// Data bytes this side sent and received, over all streams of the sync.
    public var bytesUp = 0
    public var bytesDown = 0
    /// Of those, the bytes of the transfer stream (the rest are reconciliation).
    public var transferBytesUp = 0
    public var transferBytesDown = 0
    /// Keys only this side held, and keys only the peer held.
    public var have = 0
    public var need = 0
    /// Outcome of storing what was fetched from the peer.
    public var fetched = StoreCounts()
    /// Outcome of the peer storing what was sent to it.
    public var sent = StoreCounts()
    /// Needed keys the peer did not deliver.
    public var missing = 0
    /// The window reconciled: the one asked for, starting no earlier than retention keeps.
    public var window: Range<UInt64> = 0..<0

    public init() {}
}

extension NodeClient {
    /// Reconciles `pubsubTopic` over `window` between `store` (this side, initiator) and the
    /// peer, fetches what this side lacks (each message checked against the key it was sent for:
    /// a mismatch is counted as rejected, never stored) and sends what the peer lacks.
    ///
    /// The window starts no earlier than the store's retention floor: messages the store would
    /// delete as soon as it got them are neither reconciled nor fetched. `progress` is told what
    /// the sync has found and moved after the reconciliation and after each transfer batch.
    public func sync(
        store: MessageStore,
        pubsubTopic: String,
        window requested: Range<UInt64> = 0..<UInt64.max,
        policy: SplitPolicy = .adaptive,
        negentropyFrameLimit: Int = 1 << 20,
        logger: Logger = Logger(label: "storesync.sync"),
        progress: @Sendable (SyncReport) -> Void = { _ in }
    ) async throws -> SyncReport {
        var report = SyncReport()
        let floor = try await store.read { try $0.retentionFloor() }
        let window = min(max(requested.lowerBound, floor), requested.upperBound)..<requested.upperBound
        report.window = window
        guard !window.isEmpty else { return report }
        let (have, need) = try await reconcile(
            store: store, pubsubTopic: pubsubTopic, window: window, policy: policy,
            negentropyFrameLimit: negentropyFrameLimit, report: &report)
        report.have = have.count
        report.need = need.count
        progress(report)
        try await transfer(
            store: store, pubsubTopic: pubsubTopic, window: window, have: have, need: need, report: &report,
            logger: logger, progress: progress)
        return report
    }

    func reconcile(
        store: MessageStore, pubsubTopic: String, window: Range<UInt64>, policy: SplitPolicy,
        negentropyFrameLimit: Int, report: inout SyncReport
    ) async throws -> (have: [MessageHash], need: [MessageHash]) {
        try await withStream(.reconcile) { stream in
            let reconciler = try Reconciler(frameSizeLimit: negentropyFrameLimit, policy: policy)
            let first = try await store.read { store in
                try store.withSnapshot(pubsubTopic: pubsubTopic) {
                    try reconciler.initiate(WindowedStorage($0, window: window))
                }
            }
            var open = ByteBuffer()
            ReconcileOpen(pubsubTopic: pubsubTopic, window: window, message: first).encode(into: &open)
            var reply = try await stream.request(open)
            var rounds = 1
            var have = [MessageHash]()
            var need = [MessageHash]()
            while true {
                let message = Array(buffer: reply)
                let step = try await store.read { store in
                    try store.withSnapshot(pubsubTopic: pubsubTopic) {
                        try reconciler.reconcile(message, storage: WindowedStorage($0, window: window))
                    }
                }
                have.append(contentsOf: step.have)
                need.append(contentsOf: step.need)
                guard let next = step.nextMessage else { break }
                reply = try await stream.request(ByteBuffer(bytes: next))
                rounds += 1
            }
            report.rounds = rounds
            report.bytesUp += stream.bytesSent
            report.bytesDown += stream.bytesReceived
            return (have, need)
        }
    }

    func transfer(
        store: MessageStore, pubsubTopic: String, window: Range<UInt64>, have: [MessageHash], need: [MessageHash],
        report: inout SyncReport, logger: Logger, progress: @Sendable (SyncReport) -> Void
    ) async throws {
        guard !have.isEmpty || !need.isEmpty else { return }
        try await withStream(.transfer) { stream in
            // Fetch: only messages for keys the session reported are accepted.
            var pending = need
            let hasher = SHA256Hasher()
            // Ask for about twice what the last reply could carry, so large messages do not make
            // the same long hash list travel again for every frame of them.
            var batchSize = TransferRequest.maximumFetch
            while !pending.isEmpty {
                let batch = Array(pending.prefix(batchSize))
                var request = ByteBuffer()
                TransferRequest.fetch(pubsubTopic: pubsubTopic, hashes: batch).encode(into: &request)
                let reply = try await stream.request(request)
                let response = try Waku_Store_V3_StoreQueryResponse(serializedBytes: Array(buffer: reply))
                var wanted = Set(batch)
                var accepted = [WakuMessage]()
                for entry in response.messages {
                    guard let claimed = MessageHash(bytes: Array(entry.messageHash)), wanted.contains(claimed),
                        entry.hasMessage,
                        let message = try? WakuMessage(proto: entry.message, pubsubTopic: pubsubTopic),
                        message.hash(using: hasher) == claimed
                    else {
                        report.fetched.rejected += 1
                        logger.warning("rejected a message from \(host):\(port): it does not match a requested key")
                        continue
                    }
                    wanted.remove(claimed)
                    accepted.append(message)
                }
                let result = try await store.ingest(accepted)
                report.fetched.stored += result.stored
                report.fetched.duplicates += result.duplicates
                let rest = pending.dropFirst(batch.count)
                if batch.count == wanted.count {
                    // The peer delivered none of this batch: it does not have them (any more).
                    report.missing += wanted.count
                    pending = Array(rest)
                } else {
                    // Ask again for what did not fit in the reply.
                    pending = Array(wanted) + rest
                    batchSize = min(TransferRequest.maximumFetch, max(16, 2 * (batch.count - wanted.count)))
                }
                progress(report)
            }
            // Send: what only this side holds, in batches under the frame size.
            let messages = try await store.read { store in
                try have.compactMap { try store.message(for: $0) }
            }
            for batch in Self.batches(messages, budget: Frame.payloadBudget(maximumFrameSize: maximumFrameSize)) {
                var request = ByteBuffer()
                TransferRequest.offer(pubsubTopic: pubsubTopic, window: window, messages: try Self.container(batch))
                    .encode(into: &request)
                var reply = try await stream.request(request)
                report.sent = report.sent + (try StoreCounts(decoding: &reply))
                progress(report)
            }
            report.bytesUp += stream.bytesSent
            report.bytesDown += stream.bytesReceived
            report.transferBytesUp += stream.bytesSent
            report.transferBytesDown += stream.bytesReceived
        }
    }
}
