import Foundation
import StoreSyncCore
import StoreSyncLMDB
import StoreSyncNode
import Testing

/// The cases of the reference node's `tests/waku_store_sync/test_protocol.nim`, run between two
/// StoreSync nodes that speak only its store sync, over libp2p. The reference test checks the
/// hashes each side queued for the other; here the messages themselves must have moved.
@Suite("Reference store-sync protocol cases")
struct ReferenceStoreSyncProtocolCasesTests {
    static let topic = "/waku/2/rs/0/0"
    static let contentTopic = "/test/1/c0/proto"

    /// A client and a server on `topics`, their clocks at `now`.
    static func pair(clientTopics: [String] = [topic], serverTopics: [String] = [topic]) async throws -> (
        client: TestNode, server: TestNode
    ) {
        let client = try await TestNode {
            $0.storeSync.negentropy = false
            $0.pubsubTopics = clientTopics
        }
        let server = try await TestNode {
            $0.storeSync.negentropy = false
            $0.pubsubTopics = serverTopics
        }
        client.clock.advance(by: 3_600)
        server.clock.advance(by: 3_600)
        return (client, server)
    }

    /// The nodes' "now" after `pair`, in ns.
    static var now: Int64 { 1_700_000_000_000_000_000 + 3_600 * 1_000_000_000 }

    static func message(_ timestamp: Int64, topic: String = topic, tag: UInt8 = 0) throws -> WakuMessage {
        try WakuMessage(
            pubsubTopic: topic, contentTopic: contentTopic,
            payload: Array("message at \(timestamp)".utf8) + [tag], timestamp: timestamp)
    }

    /// The client syncs each of its topics with the server over the last hour.
    static func sync(_ client: TestNode, _ server: TestNode, topics: [String] = [topic], window: Range<UInt64>? = nil)
        async throws -> (have: Int, need: Int)
    {
        let peer = try client.node.client(for: try #require(server.node.address))
        var total = (have: 0, need: 0)
        for topic in topics {
            let report = try await client.node.sync(
                with: peer, pubsubTopic: topic,
                window: window ?? UInt64(now - 3_600 * 1_000_000_000)..<UInt64(now + 1_000_000_000))
            #expect(report.method == .storeSync && report.missing == 0)
            total.have += report.have
            total.need += report.need
        }
        return total
    }

    static func hashes(_ node: TestNode, _ topics: [String] = [topic]) async throws -> Set<MessageHash> {
        var all = Set<MessageHash>()
        for topic in topics { all.formUnion(try await node.hashes(topic)) }
        return all
    }

    @Test func bothEmpty() async throws {
        let (client, server) = try await Self.pair()
        let result = try await Self.sync(client, server)
        #expect(result.have == 0 && result.need == 0)
        await client.stop()
        await server.stop()
    }

    @Test(arguments: [true, false])
    func oneSideHoldsEverything(serverFull: Bool) async throws {
        let (client, server) = try await Self.pair()
        let messages = try (0..<3).map { try Self.message(Self.now - 60_000_000_000 + Int64($0)) }
        _ = try await (serverFull ? server : client).store.ingest(messages)
        let result = try await Self.sync(client, server)
        #expect(result.need == (serverFull ? 3 : 0) && result.have == (serverFull ? 0 : 3))
        #expect(try await Self.hashes(client) == Set(messages.map(\.hash)))
        #expect(try await Self.hashes(server) == Set(messages.map(\.hash)))
        await client.stop()
        await server.stop()
    }

    @Test func differentHashes() async throws {
        let (client, server) = try await Self.pair()
        let (m1, m2, m3) = (
            try Self.message(Self.now - 9_000_000_000), try Self.message(Self.now - 8_999_999_999),
            try Self.message(Self.now - 8_999_999_998)
        )
        _ = try await server.store.ingest([m1, m2])
        _ = try await client.store.ingest([m1, m3])
        let result = try await Self.sync(client, server)
        #expect(result.have == 1 && result.need == 1)
        #expect(try await Self.hashes(client) == [m1.hash, m2.hash, m3.hash])
        #expect(try await Self.hashes(server) == [m1.hash, m2.hash, m3.hash])
        await client.stop()
        await server.stop()
    }

    @Test func differentShards() async throws {
        let shard = { (index: Int) in "/waku/2/rs/2/\(index)" }
        let (client, server) = try await Self.pair(
            clientTopics: (3...6).map(shard), serverTopics: (1...4).map(shard))
        let messages = try (1...6).map { try Self.message(Self.now - 9_000_000_000 + Int64($0), topic: shard($0)) }
        _ = try await server.store.ingest(Array(messages[0..<3]))
        _ = try await client.store.ingest(Array(messages[3..<6]))
        let result = try await Self.sync(client, server, topics: (3...6).map(shard))
        #expect(result.have == 1 && result.need == 1)
        #expect(try await Self.hashes(client, (3...6).map(shard)) == Set(messages[2...].map(\.hash)))
        #expect(
            try await Self.hashes(server, (1...4).map(shard)) == Set(messages[0..<4].map(\.hash)))
        await client.stop()
        await server.stop()
    }

    @Test func sameHashes() async throws {
        let (client, server) = try await Self.pair()
        let messages = [try Self.message(Self.now - 5_000_000_000), try Self.message(Self.now - 4_999_999_999)]
        _ = try await server.store.ingest(messages)
        _ = try await client.store.ingest(messages)
        let result = try await Self.sync(client, server)
        #expect(result.have == 0 && result.need == 0)
        await client.stop()
        await server.stop()
    }

    /// The server holds `count` messages over the hour, the client all but `missing` of them.
    @Test(arguments: [(100_000, [0, 61_803, 99_999]), (10_000, Array(stride(from: 7, to: 10_000, by: 10)))])
    func manyMessagesFewDifferences(count: Int, missing: [Int]) async throws {
        let (client, server) = try await Self.pair()
        let step = 3_600_000_000_000 / Int64(count)
        let messages = try (0..<count).map { try Self.message(Self.now - 3_600_000_000_000 + Int64($0) * step) }
        let absent = Set(missing)
        for start in stride(from: 0, to: count, by: 10_000) {
            let chunk = Array(messages[start..<min(start + 10_000, count)])
            _ = try await server.store.ingest(chunk)
            _ = try await client.store.ingest(
                chunk.enumerated().filter { !absent.contains(start + $0.offset) }.map(\.element))
        }
        let result = try await Self.sync(client, server)
        #expect(result.need == missing.count && result.have == 0)
        #expect(try await Self.hashes(client) == Set(messages.map(\.hash)))
        await client.stop()
        await server.stop()
    }

    /// The client's window is [now - 45 s, now - 25 s]: of three messages on the server only the
    /// one inside it moves.
    @Test func theWindowShiftsWithTheJitter() async throws {
        let (client, server) = try await Self.pair()
        let older = try Self.message(Self.now - 60_000_000_000)
        let inside = try Self.message(Self.now - 35_000_000_000)
        let younger = try Self.message(Self.now - 10_000_000_000)
        _ = try await server.store.ingest([older, inside, younger])
        let result = try await Self.sync(
            client, server, window: UInt64(Self.now - 45_000_000_000)..<UInt64(Self.now - 25_000_000_000))
        #expect(result.need == 1 && result.have == 0)
        #expect(try await Self.hashes(client) == [inside.hash])
        await client.stop()
        await server.stop()
    }
}
