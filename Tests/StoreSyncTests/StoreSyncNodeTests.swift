import Foundation
import StoreSyncCore
import StoreSyncLMDB
import StoreSyncNode
import StoreSyncP2P
import Testing

/// Two StoreSync nodes with Negentropy turned off sync by the reference node's store sync over
/// libp2p: reconciliation on the archive's key indexes, each side pushing what the other lacks.
@Suite("Store sync between nodes over libp2p")
struct StoreSyncNodeTests {
    static let topic = "/waku/2/rs/0/0"

    /// A node that speaks only store sync, its clock past every generated timestamp.
    static func node(contentTopics: [String] = []) async throws -> TestNode {
        let node = try await TestNode { configuration in
            configuration.storeSync.negentropy = false
            configuration.storeSync.contentTopics = contentTopics
        }
        node.clock.advance(by: 3_600)
        return node
    }

    /// Messages split between two nodes: most on both, one in twenty on each alone.
    static func divergent(count: Int, seed: UInt64) throws -> (all: [WakuMessage], a: [WakuMessage], b: [WakuMessage]) {
        let messages = try testMessages(count: count, seed: seed)
        let (forA, forB) = divide(messages, seed: seed, oneSidedEvery: 20)
        return (messages, forA, forB)
    }

    @Test(arguments: [(UInt64(1), 2_000), (2, 20_000), (3, 100_000)])
    func twoNodesWithoutNegentropyConverge(seed: UInt64, count: Int) async throws {
        let a = try await Self.node()
        let b = try await Self.node()
        let (all, forA, forB) = try Self.divergent(count: count, seed: seed)
        for chunk in stride(from: 0, to: forA.count, by: 10_000) {
            _ = try await a.store.ingest(Array(forA[chunk..<min(chunk + 10_000, forA.count)]))
        }
        for chunk in stride(from: 0, to: forB.count, by: 10_000) {
            _ = try await b.store.ingest(Array(forB[chunk..<min(chunk + 10_000, forB.count)]))
        }
        let peer = try a.node.client(for: try #require(b.node.address))
        let report = try await a.node.sync(with: peer, pubsubTopic: Self.topic)
        let onlyA = Set(forA.map(\.hash)).subtracting(forB.map(\.hash))
        let onlyB = Set(forB.map(\.hash)).subtracting(forA.map(\.hash))
        #expect(report.method == .storeSync)
        #expect(report.have == onlyA.count && report.need == onlyB.count)
        #expect(report.fetched.stored == onlyB.count && report.fetched.rejected == 0 && report.missing == 0)
        #expect(report.pushed == onlyA.count)
        #expect(try await a.hashes(Self.topic) == Set(all.map(\.hash)))
        // The responder took the pushes before it closed its side of the transfer stream, which
        // the push waited for.
        #expect(try await b.hashes(Self.topic) == Set(all.map(\.hash)))
        #expect(b.node.receiver.dropped == TransferReceiver.Counts())
        try a.store._checkInvariants()
        try b.store._checkInvariants()
        await a.stop()
        await b.stop()
    }

    @Test func aSessionCoversOnlyTheContentTopicsBothSidesSync() async throws {
        let scoped = ["/test/1/c0/proto", "/test/1/c2/proto"]
        let a = try await Self.node(contentTopics: scoped)
        let b = try await Self.node()
        let (all, forA, forB) = try Self.divergent(count: 6_000, seed: 11)
        _ = try await a.store.ingest(forA)
        _ = try await b.store.ingest(forB)
        let report = try await a.node.sync(
            with: try a.node.client(for: try #require(b.node.address)), pubsubTopic: Self.topic)
        let inScope = { (messages: [WakuMessage]) in
            Set(messages.filter { scoped.contains($0.contentTopic) }.map(\.hash))
        }
        let onlyA = inScope(forA).subtracting(inScope(forB))
        let onlyB = inScope(forB).subtracting(inScope(forA))
        #expect(report.have == onlyA.count && report.need == onlyB.count && !onlyB.isEmpty)
        #expect(try await a.hashes(Self.topic) == Set(forA.map(\.hash)).union(onlyB))
        #expect(try await b.hashes(Self.topic) == Set(forB.map(\.hash)).union(onlyA))
        #expect(Set(all.map(\.hash)).subtracting(try await b.hashes(Self.topic)).isEmpty == false)
        await a.stop()
        await b.stop()
    }

    @Test func theProtocolIsChosenPerPeer() async throws {
        let local = try await TestNode()
        let both = try await TestNode()
        let referenceOnly = try await Self.node()
        local.clock.advance(by: 3_600)
        let messages = try testMessages(count: 500, seed: 21)
        _ = try await both.store.ingest(messages)
        _ = try await referenceOnly.store.ingest(messages)
        let byNegentropy = try await local.node.sync(
            with: try local.node.client(for: try #require(both.node.address)), pubsubTopic: Self.topic)
        #expect(byNegentropy.method == .negentropy && byNegentropy.fetched.stored == 500)
        _ = try await local.store.ingest(try testMessages(count: 40, seed: 22))
        let byStoreSync = try await local.node.sync(
            with: try local.node.client(for: try #require(referenceOnly.node.address)), pubsubTopic: Self.topic)
        #expect(byStoreSync.method == .storeSync && byStoreSync.pushed == 40 && byStoreSync.need == 0)
        #expect(try await referenceOnly.hashes(Self.topic) == local.hashes(Self.topic))
        for node in [local, both, referenceOnly] { await node.stop() }
    }
}
