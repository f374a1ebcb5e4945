import NIOCore
import StoreSyncCore
import StoreSyncLMDB
import StoreSyncP2P

/// One side of a `/vac/waku/reconciliation/1.0.0` stream: varint-prefixed `RangesData`
/// payloads in turn, each answered by the engine over the store's key indexes, until a side
/// sends an empty or all-Skip payload (SPEC.md 9.4). Both the initiator and the responder run it.
struct StoreSyncConversation {
    let stream: P2PStream
    let store: MessageStore
    let settings: StoreSyncSettings
    let idleTimeout: Double
    let clock: any SyncScheduler
    /// Where the keys this side lacks are expected, as each round finds them.
    let session: TransferExpectations.Session
    let expectations: TransferExpectations

    /// What the conversation found and cost.
    struct Outcome {
        var have = UniqueHashes()
        var need = UniqueHashes()
        var rounds = 0
        var bytesIn = 0
        var bytesOut = 0
    }

    /// Sends `opening` (the initiator's first payload) if given, then answers the peer's
    /// payloads until the session ends.
    func run(engine: inout StoreSyncReconciler, opening: [UInt8]?, outcome: inout Outcome) async throws {
        if let opening { try await send(opening, outcome: &outcome) }
        while let payload = try await receive() {
            outcome.bytesIn += payload.count
            outcome.rounds += 1
            let step = try await store.read { store in
                try store.withXorSnapshot { try engine.receive(payload, storage: $0) }
            }
            outcome.have.append(contentsOf: step.have)
            outcome.need.append(contentsOf: step.need)
            try await expectations.expect(step.need, in: session)
            if let reply = step.reply { try await send(reply, outcome: &outcome) }
            if step.isDone { return }
        }
    }

    private func send(_ payload: [UInt8], outcome: inout Outcome) async throws {
        outcome.bytesOut += payload.count
        try await stream.writePrefixed(ByteBuffer(bytes: payload))
    }

    /// The next payload, nil at the end of the stream; one that does not come within the idle
    /// timeout resets the stream.
    private func receive() async throws -> [UInt8]? {
        try await stream.readPrefixed(
            limit: settings.maximumPayload, what: "store-sync payload", idle: idleTimeout, clock: clock
        ).map { Array($0.readableBytesView) }
    }
}
