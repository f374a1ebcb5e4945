import Logging
import NIOCore
import StoreSyncCore
import StoreSyncLMDB
import StoreSyncProto
import SwiftProtobuf

/// What one sync of a scope and window with a peer found and moved.
public struct SyncReport: Sendable, Equatable {
    /// The protocol the sync ran.
    public enum Method: String, Sendable, Equatable {
        /// This project's: Negentropy, then fetch and offer (SPEC.md 5.2, 5.3).
        case negentropy
        /// The reference Waku node's store sync: its reconciliation, then each side pushes what
        /// the other lacks (SPEC.md 9.4).
        case storeSync = "store-sync"
    }

    public var method = Method.negentropy
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
    /// Outcome of the peer storing what was sent to it (Negentropy: the peer reports it).
    public var sent = StoreCounts()
    /// Messages pushed to the peer by store sync, which reports nothing of their fate.
    public var pushed = 0
    /// Needed keys the peer did not deliver: they stay pending, for another peer to serve.
    public var unserved: [MessageHash] = []
    /// How many needed keys the peer did not deliver.
    public var missing: Int { unserved.count }
    /// The window reconciled: the one asked for, starting no earlier than retention keeps.
    public var window: Range<UInt64> = 0..<0

    public init() {}
}

/// What an outbound session may cost this side, whatever the peer answers: decoding limits and
/// a budget of rounds and keys for its reconciliation, a deadline for the whole session, and the
/// rules fetched messages pass before they are stored.
public struct SessionLimits: Sendable {
    public var decoding: DecodingLimits
    public var budget: SessionBudget
    /// Seconds the whole session (reconciliation and transfer) may take.
    public var maximumDuration: Double
    /// The rules fetched messages pass; nil for the defaults with the synced topic alone.
    public var admission: MessageAdmission?

    public init(
        decoding: DecodingLimits = NodeConfiguration().reconcileLimits, budget: SessionBudget = .defaults,
        maximumDuration: Double = NodeConfiguration().maximumStreamDuration, admission: MessageAdmission? = nil
    ) {
        self.decoding = decoding
        self.budget = budget
        self.maximumDuration = maximumDuration
        self.admission = admission
    }

    /// A node's own limits.
    public init(_ configuration: NodeConfiguration) {
        self.init(
            decoding: configuration.reconcileLimits, budget: configuration.sessionBudget,
            maximumDuration: configuration.maximumStreamDuration, admission: configuration.admission)
    }
}

/// Hashes in first-seen order without repeats: what a session learns over its rounds.
struct UniqueHashes {
    private(set) var ordered: [MessageHash] = []
    private var seen: Set<MessageHash> = []

    mutating func append(contentsOf hashes: [MessageHash]) {
        for hash in hashes where seen.insert(hash).inserted { ordered.append(hash) }
    }
}

extension NodeClient {
    /// Reconciles `pubsubTopic` over `window` between `store` (this side, initiator) and the
    /// peer, fetches what this side lacks (each message checked against the key it was sent for
    /// and against the admission rules: a mismatch is counted as rejected, never stored) and
    /// sends what the peer lacks, in bounded batches.
    ///
    /// The window starts no earlier than the store's retention floor: messages the store would
    /// delete as soon as it got them are neither reconciled nor fetched. The session is bounded
    /// by `limits` whatever the peer sends. `progress` is told what the sync has found and
    /// moved after the reconciliation and after each transfer batch.
    public func sync(
        store: any MessageArchive,
        pubsubTopic: String,
        window requested: Range<UInt64> = 0..<UInt64.max,
        policy: SplitPolicy = .adaptive,
        negentropyFrameLimit: Int = 1 << 20,
        limits: SessionLimits = SessionLimits(),
        logger: Logger = Logger(label: "storesync.sync"),
        progress: @Sendable (SyncReport) -> Void = { _ in }
    ) async throws -> SyncReport {
        var report = SyncReport()
        let deadline = SessionDeadline(seconds: limits.maximumDuration, from: clock)
        let floor = try await store.retentionFloor(at: clock.now()).firstWholeTimestamp
        let window = min(max(requested.lowerBound, floor), requested.upperBound)..<requested.upperBound
        report.window = window
        guard !window.isEmpty else { return report }
        if let dialer, let receiver {
            let connection = try await dialer.connection()
            if usesStoreSync(connection) {
                report.method = .storeSync
                try await storeSync(
                    store: store, pubsubTopic: pubsubTopic, window: window, connection: connection, receiver: receiver,
                    limits: limits, deadline: deadline, report: &report, progress: progress)
                return report
            }
        }
        let (have, need) = try await reconcile(
            store: store, pubsubTopic: pubsubTopic, window: window, policy: policy,
            negentropyFrameLimit: negentropyFrameLimit, limits: limits, deadline: deadline, report: &report)
        report.have = have.count
        report.need = need.count
        progress(report)
        let admission = limits.admission ?? MessageAdmission(pubsubTopics: [pubsubTopic])
        try await transfer(
            store: store, pubsubTopic: pubsubTopic, window: window, have: have, need: need, admission: admission,
            deadline: deadline, report: &report, logger: logger, progress: progress)
        return report
    }

    func reconcile(
        store: any MessageArchive, pubsubTopic: String, window: Range<UInt64>, policy: SplitPolicy,
        negentropyFrameLimit: Int, limits: SessionLimits, deadline: SessionDeadline, report: inout SyncReport
    ) async throws -> (have: [MessageHash], need: [MessageHash]) {
        try await withStream(.reconcile, deadline: deadline) { stream in
            let reconciler = try Reconciler(
                frameSizeLimit: negentropyFrameLimit, policy: policy, limits: limits.decoding, budget: limits.budget)
            let first = try await store.keyIndex.read { store in
                try store.withSnapshot(pubsubTopic: pubsubTopic) {
                    try reconciler.initiate(WindowedStorage($0, window: window))
                }
            }
            var open = ByteBuffer()
            ReconcileOpen(pubsubTopic: pubsubTopic, window: window, message: first).encode(into: &open)
            var reply = try await stream.request(open)
            var rounds = 1
            var have = UniqueHashes()
            var need = UniqueHashes()
            while true {
                let message = Array(buffer: reply)
                let step = try await store.keyIndex.read { store in
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
            return (have.ordered, need.ordered)
        }
    }

    /// Keys of `have` read from the store at once to be offered.
    static let offerReadBatch = 500

    func transfer(
        store: any MessageArchive, pubsubTopic: String, window: Range<UInt64>, have: [MessageHash], need: [MessageHash],
        admission: MessageAdmission, deadline: SessionDeadline, report: inout SyncReport, logger: Logger,
        progress: @Sendable (SyncReport) -> Void
    ) async throws {
        guard !have.isEmpty || !need.isEmpty else { return }
        try await withStream(.transfer, deadline: deadline) { stream in
            try await fetch(
                need, store: store, pubsubTopic: pubsubTopic, admission: admission, stream: &stream, report: &report,
                logger: logger, progress: progress)
            // Send what only this side holds, a bounded batch of it read at a time.
            var start = 0
            while start < have.count {
                let keys = Array(have[start..<min(have.count, start + Self.offerReadBatch)])
                start += keys.count
                let messages = try await store.messages(for: keys).compactMap { $0 }
                for batch in Self.batches(messages, budget: Frame.payloadBudget(maximumFrameSize: maximumFrameSize)) {
                    var request = ByteBuffer()
                    TransferRequest.offer(pubsubTopic: pubsubTopic, window: window, messages: try Self.container(batch))
                        .encode(into: &request)
                    var reply = try await stream.request(request)
                    report.sent = report.sent + (try StoreCounts(decoding: &reply))
                    progress(report)
                }
            }
            report.bytesUp += stream.bytesSent
            report.bytesDown += stream.bytesReceived
            report.transferBytesUp += stream.bytesSent
            report.transferBytesDown += stream.bytesReceived
        }
    }

    /// Fetch requests sent ahead of the reply being read: the peer reads its store for the next
    /// one while this side checks and stores the last.
    static let fetchPipelineDepth = 2

    /// Fetches `need`, a batch of hashes per request, and stores each reply as it comes. Only
    /// messages for requested keys that pass `admission` are accepted. Keys the peer does not
    /// deliver go to `report.unserved`: never treated as done.
    ///
    /// Requests are pipelined. A reply that fills its frame covers the hashes before its cursor;
    /// the rest are asked for again, and later batches are no larger than what the last full reply
    /// held, so that replies seldom leave a rest.
    func fetch(
        _ need: [MessageHash], store: any MessageArchive, pubsubTopic: String, admission: MessageAdmission,
        stream: inout NodeStream, report: inout SyncReport, logger: Logger, progress: @Sendable (SyncReport) -> Void
    ) async throws {
        let hasher = SHA256Hasher()
        var queue = FetchQueue(need)
        var inFlight: [[MessageHash]] = []
        // The previous reply is stored while the next one is asked for and checked: one store
        // write in flight at most.
        var storing: Task<MessageStore.IngestResult, any Error>?
        func settle() async throws {
            guard let pending = storing else { return }
            storing = nil
            for outcome in try await pending.value.outcomes { report.fetched.count(outcome) }
            progress(report)
        }
        do {
            while true {
                while inFlight.count < Self.fetchPipelineDepth, let batch = queue.nextBatch() {
                    var request = ByteBuffer()
                    TransferRequest.fetch(pubsubTopic: pubsubTopic, hashes: batch).encode(into: &request)
                    try await stream.post(request)
                    inFlight.append(batch)
                }
                guard !inFlight.isEmpty else { break }
                let batch = inFlight.removeFirst()
                let reply = try await stream.reply()
                let response = try Waku_Store_V3_StoreQueryResponse(buffer: reply)
                // The reply covers the hashes before its cursor (all of them without one).
                var considered = batch.count
                if response.hasPaginationCursor {
                    guard let cursor = MessageHash(bytes: Array(response.paginationCursor)),
                        let index = batch.firstIndex(of: cursor), index > 0
                    else { throw PeerError.unexpected("a fetch reply that makes no progress") }
                    considered = index
                }
                queue.answered(batch, considered: considered)
                var wanted = Set(batch[..<considered])
                var accepted = [WakuMessage]()
                let now = clock.now()
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
                    if let reason = admission.refusal(of: message, now: now) {
                        report.fetched.rejected += 1
                        logger.warning("rejected a message from \(host):\(port): \(reason)")
                        continue
                    }
                    accepted.append(message)
                }
                report.unserved += batch[..<considered].filter { wanted.contains($0) }
                try await settle()
                storing = Task { [accepted] in try await store.ingest(accepted) }
            }
            try await settle()
        } catch {
            // What was handed to the store is stored or not whatever the peer does next.
            try? await settle()
            throw error
        }
    }
}
