import StoreSyncCore

/// The reference Waku node's store-sync reconciliation (`--policy waku-sync`), both sides run by
/// this project's engine in process over in-memory storage (which scans each range, as the
/// reference node's own storage does). Bytes are the payloads each side sends; a round is a
/// payload of the initiator that got an answer. Both sides learn the differences: what either
/// learnt counts.
enum WakuSyncRun {
    static let method = "waku-sync"

    /// The keys in the storage the engine works on, built before the session is timed.
    static func storage(_ keys: [SyncKey]) -> MemoryXorStorage {
        MemoryXorStorage(keys.map { .init(key: $0, pubsubTopic: "/waku/2/rs/0/0", contentTopic: "/bench/1/c/proto") })
    }

    static func run(local initiatorStorage: MemoryXorStorage, remote responderStorage: MemoryXorStorage) throws
        -> InProcessSession.Outcome
    {
        // Entries are in key order: the window runs from the first key of either side to the last.
        let ends = [initiatorStorage, responderStorage].flatMap { [$0.entries.first, $0.entries.last] }
            .compactMap { $0?.key.timestamp }
        let window = (ends.min() ?? 0)...((ends.max() ?? 0) + 1)
        var initiator = StoreSyncReconciler()
        var responder = StoreSyncReconciler()
        var outcome = InProcessSession.Outcome()
        var have = Set<MessageHash>()
        var need = Set<MessageHash>()
        var message = try initiator.initiate(window: window, storage: initiatorStorage)
        while true {
            outcome.bytesUp += message.count
            outcome.largestMessage = max(outcome.largestMessage, message.count)
            let answer = try responder.receive(message, storage: responderStorage)
            have.formUnion(answer.need)
            need.formUnion(answer.have)
            guard let reply = answer.reply else { break }
            outcome.rounds += 1
            outcome.bytesDown += reply.count
            outcome.largestMessage = max(outcome.largestMessage, reply.count)
            guard !answer.isDone else { break }
            let next = try initiator.receive(reply, storage: initiatorStorage)
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
