import Dispatch
import StoreSyncCore
import StoreSyncLMDB
import Synchronization
import Testing

@Suite("Store writer: group commit")
struct GroupCommitTests {
    /// Ingests queued while the writer is busy are committed as one group, and each caller gets
    /// the outcomes of its own messages: a message sent twice is stored once, an unstorable one
    /// fails only itself.
    @Test func queuedIngestsShareOneCommitAndKeepTheirOwnOutcomes() async throws {
        let directory = try TemporaryDirectory()
        let store = try MessageStore(StoreConfiguration(directory: directory.sub("s")))
        let messages = try testMessages(count: 64, seed: 8)
        let unstorable = try WakuMessage(pubsubTopic: "/waku/2/rs/0/0", contentTopic: "", payload: [1], timestamp: 5)

        // Hold the writer thread (a thread of the store's own) until every ingest has queued.
        let gate = DispatchSemaphore(value: 0)
        let holding = Atomic(false)
        let held = Task {
            try await store.write { _ in
                holding.store(true, ordering: .releasing)
                gate.wait()
            }
        }
        #expect(await eventually { holding.load(ordering: .acquiring) })
        let before = store.groupCommitCounts
        let calls = messages.indices.map { index -> [WakuMessage] in
            switch index {
            case 0: [messages[0], unstorable]
            case 1: [messages[1], messages[0]]
            default: [messages[index]]
            }
        }
        let results = calls.map { batch in Task { try await store.ingest(batch) } }
        #expect(await eventually { store.queuedWrites == calls.count })
        gate.signal()
        try await held.value
        var outcomes: [[MessageStore.Outcome]] = []
        for result in results { outcomes.append(try await result.value.outcomes) }

        let after = store.groupCommitCounts
        #expect(after.groups - before.groups == 1)
        #expect(after.calls - before.calls == calls.count)
        #expect(outcomes[0].first == .stored)
        guard case .rejected? = outcomes[0].last else {
            Issue.record("the message with an empty content topic was \(String(describing: outcomes[0].last))")
            return
        }
        // Caller 1's copy of message 0 queued after caller 0's: a duplicate by then.
        #expect(outcomes[1] == [.stored, .duplicate])
        #expect(outcomes.dropFirst(2).allSatisfy { $0 == [.stored] })
        #expect(try await store.read { try $0.messageCount() } == messages.count)
        try await store.read { try $0._checkInvariants() }
    }
}
