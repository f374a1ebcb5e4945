import StoreSyncCore
import StoreSyncLMDB
import StoreSyncNode
import StoreSyncTestSupport
import Testing

@Suite("Background sync at start")
struct BackgroundSyncTests {
    static let topics = PeriodicSyncResumeTests.topics
    static let t0 = PeriodicSyncResumeTests.t0
    static let second = PeriodicSyncResumeTests.second

    static func background(_ local: TestNode, peers: [NodeClient], scheduler: ManualScheduler) -> BackgroundSync {
        BackgroundSync(
            node: local.node, peers: peers, pubsubTopics: topics,
            resume: ResumeCoordinator(node: local.node, peers: peers, pubsubTopics: topics, scheduler: scheduler),
            periodic: PeriodicSync(node: local.node, peers: peers, pubsubTopics: topics, scheduler: scheduler))
    }

    /// A node whose first run reached no peer, and so wrote its watermark without the sync of
    /// everything, still owes that sync at its next start: it fetches the peer's whole history,
    /// older than the watermark too, and only then plans catch-ups.
    @Test func aFirstRunThatReachedNoPeerSyncsEverythingAtTheNextStart() async throws {
        let peer = try await TestNode()
        let local = try await TestNode()
        let history = try PeriodicSyncResumeTests.messages(
            from: Self.t0 - 48 * 3_600 * Self.second, to: Self.t0, every: 600)
        _ = try await peer.store.ingest(history)
        let down = try await TestNode()
        let unreachable = down.client
        await down.stop()
        let scheduler = ManualScheduler(start: Self.t0)

        // First run: no peer answers. The watermark is written all the same.
        let first = Self.background(local, peers: [unreachable], scheduler: scheduler)
        #expect(try await first.plan() == .initialSync)
        #expect(await first.initialSync() == false)
        try await ResumeCoordinator(node: local.node, peers: [], pubsubTopics: Self.topics, scheduler: scheduler)
            .recordWatermark()
        #expect(try await local.store.read { try $0.marker(BackgroundSync.initialSyncMarker) } == 1)

        // An hour later, with a peer that answers: the sync of everything, not a catch-up.
        scheduler.advance(by: 3_600)
        let second = Self.background(local, peers: [peer.client], scheduler: scheduler)
        #expect(try await second.plan() == .initialSync)
        #expect(await second.initialSync())
        #expect(try await PeriodicSyncResumeTests.hashes(local) == Set(history.map(\.hash)))
        let markers = try await local.store.read { store in
            [
                try store.marker(BackgroundSync.initialSyncMarker),
                try store.marker(ResumeCoordinator.catchUpCursorMarker),
            ]
        }
        #expect(markers == [nil, nil])

        // From then on, a restart catches up on its gap only.
        try await ResumeCoordinator(node: local.node, peers: [], pubsubTopics: Self.topics, scheduler: scheduler)
            .recordWatermark()
        scheduler.advance(by: 3_600)
        let third = Self.background(local, peers: [peer.client], scheduler: scheduler)
        guard case .catchUp(let gap) = try await third.plan() else {
            Issue.record("a node that has done its initial sync plans a catch-up")
            return
        }
        #expect(gap.upperBound == scheduler.now())
        await peer.stop()
        await local.stop()
    }
}
