import StoreSyncCore

/// The reference Waku node's store-sync reconciliation (`--policy waku-sync`), both sides run by
/// this project's engine in process, over in-memory storage (which scans each range, as the
/// reference node's own storage does) or the LMDB index (one read snapshot per payload, as a
/// node reads it). Bytes are the payloads each side sends; a round is a payload of the initiator
/// that got an answer. Both sides learn the differences: what either learnt counts.
enum WakuSyncRun {
    static let method = "waku-sync"

    /// Lends one side's storage to a step of its engine.
    typealias Access = ((any XorRangeStorage) throws -> Void) throws -> Void

    static func access(_ storage: MemoryXorStorage) -> Access {
        { body in try body(storage) }
    }

    /// The keys in the storage the engine works on, built before the session is timed.
    static func storage(_ keys: [SyncKey]) -> MemoryXorStorage {
        MemoryXorStorage(keys.map { .init(key: $0, pubsubTopic: "/waku/2/rs/0/0", contentTopic: "/bench/1/c/proto") })
    }

    /// The window from the first key of either side to the last.
    static func window(_ local: [SyncKey], _ remote: [SyncKey]) -> ClosedRange<UInt64> {
        let ends = [local.first, local.last, remote.first, remote.last].compactMap { $0?.timestamp }
        return (ends.min() ?? 0)...((ends.max() ?? 0) + 1)
    }

    static func run(local initiatorStorage: Access, remote responderStorage: Access, window: ClosedRange<UInt64>)
        throws -> InProcessSession.Outcome
    {
        var initiator = StoreSyncReconciler()
        var responder = StoreSyncReconciler()
        var outcome = InProcessSession.Outcome()
        var have = Set<MessageHash>()
        var need = Set<MessageHash>()
        var message: [UInt8] = []
        try initiatorStorage { message = try initiator.initiate(window: window, storage: $0) }
        while true {
            outcome.bytesUp += message.count
            outcome.largestMessage = max(outcome.largestMessage, message.count)
            var answered: StoreSyncReconciler.Step?
            try responderStorage { answered = try responder.receive(message, storage: $0) }
            guard let answer = answered else { break }
            have.formUnion(answer.need)
            need.formUnion(answer.have)
            guard let reply = answer.reply else { break }
            outcome.rounds += 1
            outcome.bytesDown += reply.count
            outcome.largestMessage = max(outcome.largestMessage, reply.count)
            guard !answer.isDone else { break }
            var stepped: StoreSyncReconciler.Step?
            try initiatorStorage { stepped = try initiator.receive(reply, storage: $0) }
            guard let next = stepped else { break }
            have.formUnion(next.have)
            need.formUnion(next.need)
            guard let again = next.reply, !next.isDone else {
                if let last = next.reply { outcome.bytesUp += last.count }
                break
            }
            message = again
        }
        outcome.have = Array(have)
        outcome.need = Array(need)
        return outcome
    }
}
