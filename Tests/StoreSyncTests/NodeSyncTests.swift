import Foundation
import NIOCore
import NIOPosix
import StoreSyncCore
import StoreSyncLMDB
import StoreSyncNode
import StoreSyncProto
import Testing

@Suite("Nodes syncing over loopback TCP")
struct NodeSyncTests {
    static let topic = "/waku/2/rs/0/0"

    @Test(arguments: [UInt64(1), 2, 3])
    func twoNodesWithRandomDivergenceConverge(seed: UInt64) async throws {
        let a = try await TestNode()
        let b = try await TestNode()
        let messages = try testMessages(count: 3_000, seed: seed)
        let (forA, forB) = divide(messages, seed: seed, oneSidedEvery: 10)
        _ = try await a.store.ingest(forA)
        _ = try await b.store.ingest(forB)
        let report = try await b.client.sync(store: a.store, pubsubTopic: Self.topic)
        #expect(report.have == Set(forA.map(\.hash)).subtracting(forB.map(\.hash)).count)
        #expect(report.need == Set(forB.map(\.hash)).subtracting(forA.map(\.hash)).count)
        #expect(report.fetched.stored == report.need && report.sent.stored == report.have)
        #expect(report.fetched.rejected == 0 && report.missing == 0)
        #expect(try await a.hashes(Self.topic) == Set(messages.map(\.hash)))
        #expect(try await b.hashes(Self.topic) == Set(messages.map(\.hash)))
        try a.store._checkInvariants()
        try b.store._checkInvariants()
        await a.stop()
        await b.stop()
    }

    @Test func threeNodesEachWithAThirdConverge() async throws {
        let nodes = [try await TestNode(), try await TestNode(), try await TestNode()]
        let messages = try testMessages(count: 2_400, seed: 9)
        for (index, message) in messages.enumerated() { _ = try await nodes[index % 3].store.ingest([message]) }
        for (from, to) in [(0, 1), (1, 2), (2, 0)] {
            _ = try await nodes[to].client.sync(store: nodes[from].store, pubsubTopic: Self.topic)
        }
        let all = Set(messages.map(\.hash))
        for node in nodes { #expect(try await node.hashes(Self.topic) == all) }
        for node in nodes { await node.stop() }
    }

    @Test func aWindowSyncsOnlyItsKeys() async throws {
        let a = try await TestNode()
        let b = try await TestNode()
        let messages = try testMessages(count: 1_000, seed: 4)
        _ = try await a.store.ingest(messages)
        let middle = UInt64(messages[500].timestamp)
        let report = try await b.client.sync(store: a.store, pubsubTopic: Self.topic, window: middle..<UInt64.max)
        let expected = Set(messages.filter { UInt64($0.timestamp) >= middle }.map(\.hash))
        #expect(report.have == expected.count)
        #expect(try await b.hashes(Self.topic) == expected)
        await a.stop()
        await b.stop()
    }

    @Test(arguments: ArchiveKind.allCases)
    func aForgedMessageIsRejectedAndTheHonestCopyArrivesFromAnotherPeer(archive: ArchiveKind) async throws {
        try await archive.withNode { local in
            let honest = try await TestNode()
            let genuine = try testMessages(count: 1, seed: 77)[0]
            _ = try await honest.store.ingest([genuine])
            let forger = try await ForgingPeer.start(claiming: genuine)
            let forged = try await NodeClient(host: "127.0.0.1", port: forger.port)
                .sync(store: local.archive, pubsubTopic: Self.topic)
            #expect(forged.need == 1)
            #expect(forged.fetched.rejected == 1 && forged.fetched.stored == 0)
            #expect(try await local.archive.messages(for: [genuine.hash]) == [nil])
            let fromHonest = try await honest.client.sync(store: local.archive, pubsubTopic: Self.topic)
            #expect(fromHonest.fetched.stored == 1)
            #expect(try await local.archive.messages(for: [genuine.hash]) == [genuine])
            try local.store._checkInvariants()
            await forger.stop()
            await honest.stop()
        }
    }

    @Test func badStreamsGetErrorFramesAndTheNodeKeepsServing() async throws {
        let node = try await TestNode(maximumFrameSize: 64 * 1_024)
        _ = try await node.store.ingest(try testMessages(count: 50, seed: 1))
        let before = try await node.hashes(Self.topic)
        let raw = RawPeer(port: node.node.port)
        #expect(
            try await raw.exchange(frames: [.hello(protocolId: 99, version: StreamProtocol.version)])
                == .error(code: 404, message: "unknown protocol 99"))
        let badVersion = try await raw.exchange(frames: [.hello(protocolId: 1, version: 7)])
        guard case .error(426, _, _)? = badVersion else {
            Issue.record("bad version answered \(String(describing: badVersion))")
            return
        }
        let noHello = try await raw.exchange(frames: [.data(ByteBuffer(bytes: [1]))])
        guard case .error(400, _, _)? = noHello else {
            Issue.record("data before hello answered \(String(describing: noHello))")
            return
        }
        var oversized = ByteBuffer()
        oversized.writeInteger(UInt32(1 << 30))
        let tooLarge = try await raw.exchange(bytes: oversized)
        guard case .error(413, _, _)? = tooLarge else {
            Issue.record("oversized frame answered \(String(describing: tooLarge))")
            return
        }
        let garbage = try await raw.exchange(frames: [
            .hello(protocolId: 1, version: StreamProtocol.version), .data(ByteBuffer(bytes: [0, 5, 1, 2])),
        ])
        guard case .error(400, _, _)? = garbage else {
            Issue.record("garbage reconcile answered \(String(describing: garbage))")
            return
        }
        let pushOff = try await raw.exchange(frames: [.hello(protocolId: 4, version: StreamProtocol.version)])
        guard case .error(403, _, _)? = pushOff else {
            Issue.record("push answered \(String(describing: pushOff))")
            return
        }
        // Still serving, nothing lost.
        let other = try await TestNode()
        let report = try await node.client.sync(store: other.store, pubsubTopic: Self.topic)
        #expect(report.need == 50)
        #expect(try await node.hashes(Self.topic) == before)
        #expect(node.node.counts.streamErrors == 6)
        await other.stop()
        await node.stop()
    }
}
