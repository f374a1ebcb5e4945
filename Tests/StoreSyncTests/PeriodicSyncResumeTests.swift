import Foundation
import NIOCore
import NIOPosix
import StoreSyncCore
import StoreSyncLMDB
import StoreSyncNode
import StoreSyncTestSupport
import Testing

@Suite("Periodic sync and resume")
struct PeriodicSyncResumeTests {
    static let topics = ["/waku/2/rs/0/0", "/waku/2/rs/0/1"]
    static let second: UInt64 = 1_000_000_000
    static let t0: UInt64 = 1_700_000_000 * 1_000_000_000

    /// Messages every `every` seconds over `[start, end)`, alternating between the two topics.
    static func messages(from start: UInt64, to end: UInt64, every: UInt64, seed: UInt8 = 0) throws -> [WakuMessage] {
        try stride(from: start, to: end, by: Int(every * second)).enumerated().map { index, timestamp in
            try WakuMessage(
                pubsubTopic: topics[index % 2], contentTopic: "/test/1/c\(index % 3)/proto",
                payload: [seed, UInt8(index & 255), UInt8((index >> 8) & 255)], timestamp: Int64(timestamp))
        }
    }

    static func hashes(_ node: TestNode) async throws -> Set<MessageHash> {
        var all = Set<MessageHash>()
        for topic in topics { all.formUnion(try await node.hashes(topic)) }
        return all
    }

    /// A node down for six simulated hours while its peer took in messages catches up, slice by
    /// slice, to exactly the peer's archive, and clears its progress when done; on either archive.
    @Test(arguments: ArchiveKind.allCases)
    func aNodeDownForHoursCatchesUpToItsPeer(archive: ArchiveKind) async throws {
        let peer = try await TestNode()
        try await archive.withNode { local in
            let before = try Self.messages(from: Self.t0 - 3_600 * Self.second, to: Self.t0, every: 30)
            _ = try await peer.archive.ingest(before)
            _ = try await local.archive.ingest(before)
            let scheduler = ManualScheduler(start: Self.t0)
            let configuration = ResumeConfiguration()
            let first = ResumeCoordinator(
                node: local.node, peers: [peer.client], pubsubTopics: Self.topics, configuration: configuration,
                scheduler: scheduler)
            #expect(try await first.plan() == nil)  // never online before: nothing to catch up on
            try await first.recordWatermark()
            // Down for six hours; the peer goes on.
            _ = try await peer.archive.ingest(
                try Self.messages(from: Self.t0, to: Self.t0 + 6 * 3_600 * Self.second, every: 10))
            scheduler.advance(by: 6 * 3_600)
            let restarted = ResumeCoordinator(
                node: local.node, peers: [peer.client], pubsubTopics: Self.topics, configuration: configuration,
                scheduler: scheduler)
            let gap = try #require(try await restarted.plan())
            #expect(gap == (Self.t0 - 300 * Self.second)..<(Self.t0 + 6 * 3_600 * Self.second))
            #expect(try local.store.marker(ResumeCoordinator.catchUpCursorMarker) == gap.lowerBound)
            let report = try await restarted.catchUp(gap)
            #expect(report.slices == 7)
            #expect(report.fetched == 6 * 360)
            #expect(try await Self.hashes(local) == Self.hashes(peer))
            #expect(try await Self.archivedEverything(local))
            #expect(try local.store.marker(ResumeCoordinator.catchUpCursorMarker) == nil)
            try local.store._checkInvariants()
        }
        await peer.stop()
    }

    /// Whether the node's archive holds a message for every key of its index.
    static func archivedEverything(_ node: TestNode) async throws -> Bool {
        for topic in topics {
            let keys = Array(try await node.hashes(topic))
            guard try await node.archive.messages(for: keys).allSatisfy({ $0 != nil }) else { return false }
        }
        return true
    }

    /// The same catch-up against a peer that offers no Negentropy: every slice runs the
    /// reference node's store sync (chosen from what the peer said in identify), the peer
    /// pushing what this node lacks.
    @Test func aNodeCatchesUpByStoreSyncWithAPeerWithoutNegentropy() async throws {
        let peer = try await TestNode { $0.storeSync.negentropy = false }
        let local = try await TestNode()
        let before = try Self.messages(from: Self.t0 - 3_600 * Self.second, to: Self.t0, every: 30)
        _ = try await peer.store.ingest(before)
        _ = try await local.store.ingest(before)
        let scheduler = ManualScheduler(start: Self.t0)
        let coordinator = ResumeCoordinator(
            node: local.node, peers: [try local.node.client(for: try #require(peer.node.address))],
            pubsubTopics: Self.topics, configuration: ResumeConfiguration(), scheduler: scheduler)
        try await coordinator.recordWatermark()
        _ = try await peer.store.ingest(
            try Self.messages(from: Self.t0, to: Self.t0 + 3 * 3_600 * Self.second, every: 10))
        scheduler.advance(by: 3 * 3_600)
        // Local's own clock must not see the peer's messages as coming from the future.
        local.clock.advance(by: 4 * 3_600)
        let gap = try #require(try await coordinator.plan())
        let report = try await coordinator.catchUp(gap)
        #expect(report.slices == 4)
        #expect(report.storeSyncSessions == report.slices * Self.topics.count)
        #expect(report.fetched == 3 * 360)
        #expect(try await Self.hashes(local) == Self.hashes(peer))
        try local.store._checkInvariants()
        await peer.stop()
        await local.stop()
    }

    /// The plan starts at an unfinished catch-up's progress when that is older than the
    /// watermark, and never before what retention keeps.
    @Test func thePlanResumesFromProgressAndRespectsRetention() async throws {
        let local = try await TestNode(retention: RetentionPolicy(maximumAgeSeconds: 10 * 3_600))
        let scheduler = ManualScheduler(start: Self.t0)
        let coordinator = ResumeCoordinator(
            node: local.node, peers: [], pubsubTopics: Self.topics, scheduler: scheduler)
        try local.store.setMarkers([
            ResumeCoordinator.catchUpCursorMarker: Self.t0 - 2 * 3_600 * Self.second,
            ResumeCoordinator.lastOnlineMarker: Self.t0 - 3_600 * Self.second,
        ])
        #expect(try await coordinator.plan() == (Self.t0 - 2 * 3_600 * Self.second)..<Self.t0)
        // Down for a day: the gap is clamped to the 10 hours retention keeps.
        try local.store.setMarkers([ResumeCoordinator.catchUpCursorMarker: nil])
        try local.store.setMarkers([ResumeCoordinator.lastOnlineMarker: Self.t0 - 24 * 3_600 * Self.second])
        #expect(try await coordinator.plan() == (Self.t0 - 10 * 3_600 * Self.second)..<Self.t0)
        await local.stop()
    }

    @Test func theWatermarkIsKeptEveryIntervalAndAtShutdown() async throws {
        let local = try await TestNode()
        let scheduler = ManualScheduler(start: Self.t0)
        let coordinator = ResumeCoordinator(
            node: local.node, peers: [], pubsubTopics: Self.topics,
            configuration: ResumeConfiguration(watermarkIntervalSeconds: 60), scheduler: scheduler)
        let keeper = Task { await coordinator.keepWatermark() }
        #expect(await eventually { scheduler.sleepers == 1 })
        #expect(try local.store.marker(ResumeCoordinator.lastOnlineMarker) == Self.t0)
        scheduler.advance(by: 60)
        #expect(
            await eventually {
                (try? local.store.marker(ResumeCoordinator.lastOnlineMarker)) == Self.t0 + 60 * Self.second
            })
        scheduler.advance(by: 30)
        keeper.cancel()
        await keeper.value
        #expect(try local.store.marker(ResumeCoordinator.lastOnlineMarker) == Self.t0 + 90 * Self.second)
        await local.stop()
    }

    /// Three nodes each given a third of a stream converge within a few intervals, one of them
    /// (on either archive) also configured with a peer that is down (backed off after its failure).
    @Test(arguments: ArchiveKind.allCases)
    func threeNodesConvergeByPeriodicSyncDespiteAnUnreachablePeer(archive: ArchiveKind) async throws {
        try await archive.withNode { first in
            let nodes = [first, try await TestNode(), try await TestNode()]
            let stream = try Self.messages(
                from: Self.t0 - 1_800 * Self.second, to: Self.t0 - 60 * Self.second, every: 2)
            for (index, node) in nodes.enumerated() {
                _ = try await node.archive.ingest(
                    stream.enumerated().filter { $0.offset % 3 == index }.map(\.element))
            }
            let down = try await TestNode()
            let unreachable = down.client
            await down.stop()
            let scheduler = ManualScheduler(start: Self.t0)
            let syncs = nodes.enumerated().map { index, node in
                let others = nodes.enumerated().filter { $0.offset != index }.map(\.element.client)
                return PeriodicSync(
                    node: node.node, peers: index == 0 ? [unreachable] + others : others, pubsubTopics: Self.topics,
                    scheduler: scheduler)
            }
            let running = syncs.map { sync in Task { await sync.run() } }
            for interval in 1...4 {
                #expect(await eventually { scheduler.sleepers == 3 })
                scheduler.advance(by: 360)
                #expect(await eventually { syncs.allSatisfy { $0.rounds.count == interval } })
            }
            for task in running { task.cancel() }
            for task in running { await task.value }
            let expected = Set(stream.map(\.hash))
            for node in nodes {
                #expect(try await Self.hashes(node) == expected)
                #expect(try await Self.archivedEverything(node))
            }
            // The first node tried the dead peer, left it alone for the 5-minute backoff while it
            // synced with the two others (least recently tried first), then tried it again.
            let dead = "\(unreachable.host):\(unreachable.port)"
            let b = "127.0.0.1:\(try #require(nodes[1].node.address?.hostAndPort?.port))"
            let c = "127.0.0.1:\(try #require(nodes[2].node.address?.hostAndPort?.port))"
            #expect(syncs[0].rounds.map(\.peer) == [dead, b, c, dead])
            #expect(syncs[0].rounds.map(\.succeeded) == [false, true, true, false])
            for node in nodes { try node.store._checkInvariants() }
            for node in nodes.dropFirst() { await node.stop() }
        }
    }

    /// A peer that accepts and then says nothing: the session is given up after the client's
    /// read timeout and counted as timed out; the node's session slot is free again.
    @Test func aStalledSessionTimesOutAndIsCounted() async throws {
        let silent = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0).get()
        let local = try await TestNode()
        let clock = ManualScheduler(start: Self.t0)
        let client = NodeClient(
            host: "127.0.0.1", port: silent.localAddress?.port ?? 0, readTimeout: 0.5, clock: clock)
        let mover = ClockMover(clock, stepsUpTo: 1)
        await #expect(throws: PeerError.timedOut(seconds: 0.5)) {
            try await local.node.sync(with: client, pubsubTopic: Self.topics[0])
        }
        #expect(await mover.stop() >= 0.5 - 1e-6, "given up only once the timeout had passed on the client's clock")
        #expect(local.node.openSyncSessions == 0)
        let samples = try await PrometheusSamples(parsing: local.endpoint.render())
        #expect(samples["storesync_sync_sessions_total", ["role": "initiator", "outcome": "timeout"]] == 1)
        try await silent.close()
        await local.stop()
    }

    /// With every session slot taken, an inbound reconciliation gets 503 and an outbound one
    /// fails at once (counted as busy).
    @Test func syncSessionsAreBounded() async throws {
        let full = try await TestNode {
            $0.maximumInboundSessions = 0
            $0.maximumOutboundSessions = 0
        }
        let other = try await TestNode()
        await #expect(throws: PeerError.self) {
            try await full.client.sync(store: other.store, pubsubTopic: Self.topics[0])
        }
        do {
            _ = try await full.client.sync(store: other.store, pubsubTopic: Self.topics[0])
        } catch let error as PeerError {
            #expect(
                error
                    == .status(
                        code: 503, message: "too many sync sessions under way; try again later", retryAfter: 5))
        }
        await #expect(throws: ProtocolError.self) {
            try await full.node.sync(with: other.client, pubsubTopic: Self.topics[0])
        }
        let samples = try await PrometheusSamples(parsing: full.endpoint.render())
        #expect(samples["storesync_sync_sessions_total", ["role": "initiator", "outcome": "busy"]] == 1)
        await full.stop()
        await other.stop()
    }
}
