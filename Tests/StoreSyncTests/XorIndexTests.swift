import Foundation
import StoreSyncCore
import StoreSyncLMDB
import Testing

/// The LMDB store as the store-sync engine reads it: every count, XOR and key list of the
/// content-topic trees and pubsub trees equals a scan of the same messages, through random
/// ingests and deletes, and an engine on LMDB converges with one on memory.
@Suite struct XorIndexTests {
    static let pubsubTopics = ["/waku/2/rs/1/0", "/waku/2/rs/1/1"]
    static let contentTopics = ["/app/1/a/proto", "/app/1/b/proto", "/app/1/c/proto", "/app/1/d/proto"]

    static func message(_ random: inout SplitMix64, timestamps: UInt64 = 5_000) throws -> WakuMessage {
        try WakuMessage(
            pubsubTopic: pubsubTopics[Int(random.next() % 2)],
            contentTopic: contentTopics[Int(random.next() % 4)],
            payload: (0..<8).map { _ in UInt8(truncatingIfNeeded: random.next()) },
            timestamp: Int64(1_000 + random.next() % timestamps))
    }

    static func entry(_ message: WakuMessage) throws -> MemoryXorStorage.Entry {
        MemoryXorStorage.Entry(
            key: try message.syncKey(using: SHA256Hasher()), pubsubTopic: message.pubsubTopic,
            contentTopic: message.contentTopic)
    }

    /// Scopes worth asking about: everything, one pubsub topic, content topics with and without
    /// pubsub topics, and topics the store has never seen.
    static let scopes: [SyncScope] = [
        SyncScope(),
        SyncScope(pubsubTopics: [pubsubTopics[0]]),
        SyncScope(contentTopics: [contentTopics[1]]),
        SyncScope(pubsubTopics: [pubsubTopics[1]], contentTopics: [contentTopics[0], contentTopics[3]]),
        SyncScope(pubsubTopics: pubsubTopics, contentTopics: ["/never/1/seen/proto"]),
        SyncScope(pubsubTopics: ["/never/seen"]),
    ]

    /// Every scope and a spread of ranges, LMDB against the scan.
    static func compare(_ store: MessageStore, _ model: MemoryXorStorage, random: inout SplitMix64) throws {
        var ranges: [(SyncKey, SyncKey)] = [
            (
                SyncKey(timestamp: 0),
                SyncKey(timestamp: .max, hash: MessageHash(word0: .max, word1: .max, word2: .max, word3: .max))
            )
        ]
        for _ in 0..<12 {
            // Bounds on stored keys (inclusive ends matter there) and between them.
            let pick = { (random: inout SplitMix64) -> SyncKey in
                if !model.entries.isEmpty, random.next() % 2 == 0 {
                    return model.entries[Int(random.next() % UInt64(model.entries.count))].key
                }
                return SyncKey(timestamp: 1_000 + random.next() % 5_200, hash: random.hash())
            }
            let a = pick(&random)
            let b = pick(&random)
            ranges.append((min(a, b), max(a, b)))
        }
        ranges.append((SyncKey(timestamp: 3_000), SyncKey(timestamp: 2_000)))
        try store.withXorSnapshot { snapshot in
            for scope in scopes {
                for (lower, upper) in ranges {
                    let count = try snapshot.count(from: lower, through: upper, in: scope)
                    let xor = try snapshot.xor(from: lower, through: upper, in: scope)
                    let keys = try snapshot.keys(from: lower, through: upper, in: scope, limit: 37)
                    #expect(count == model.count(from: lower, through: upper, in: scope))
                    #expect(xor == model.xor(from: lower, through: upper, in: scope))
                    #expect(keys == model.keys(from: lower, through: upper, in: scope, limit: 37))
                }
            }
        }
    }

    @Test(arguments: [1, 2, 3] as [UInt64])
    func answersEqualAScanThroughIngestsAndDeletes(seed: UInt64) throws {
        let directory = try TemporaryDirectory()
        let store = try MessageStore(StoreConfiguration(directory: directory.path, durability: .noSync))
        var random = SplitMix64(seed: seed)
        var model = MemoryXorStorage()
        var stored: [WakuMessage] = []
        for round in 0..<6 {
            let batch = try (0..<1_500).map { _ in try Self.message(&random) }
            _ = try store.ingest(batch)
            for message in batch { model.insert(try Self.entry(message)) }
            stored += batch
            // Delete a random time slice of one pubsub topic: nodes empty, merge and collapse.
            let from = 1_000 + random.next() % 5_000
            let topic = Self.pubsubTopics[round % 2]
            let range = SyncKey(timestamp: from)..<SyncKey(timestamp: from + 400)
            let deleted = try store.deleteMessages(in: range, pubsubTopic: topic)
            let keep = try stored.filter { message in
                let key = try message.syncKey(using: SHA256Hasher())
                return !(message.pubsubTopic == topic && range.contains(key))
            }
            #expect(stored.count - keep.count == deleted)
            stored = keep
            model = MemoryXorStorage(try stored.map(Self.entry))
            try store._checkInvariants()
            try Self.compare(store, model, random: &random)
        }
    }

    @Test func anEngineOnLMDBConvergesWithOneOnMemoryWithinAScope() throws {
        let directory = try TemporaryDirectory()
        let store = try MessageStore(StoreConfiguration(directory: directory.path, durability: .noSync))
        var random = SplitMix64(seed: 77)
        let shared = try (0..<12_000).map { _ in try Self.message(&random, timestamps: 3_600_000) }
        let onlyStore = try (0..<90).map { _ in try Self.message(&random, timestamps: 3_600_000) }
        let onlyMemory = try (0..<60).map { _ in try Self.message(&random, timestamps: 3_600_000) }
        _ = try store.ingest(shared + onlyStore)
        let memory = MemoryXorStorage(try (shared + onlyMemory).map(Self.entry))
        let scope = SyncScope(pubsubTopics: [Self.pubsubTopics[0]], contentTopics: Array(Self.contentTopics[1...2]))
        let inScope = { (messages: [WakuMessage]) in
            try Set(
                messages.filter { scope.admits(pubsubTopic: $0.pubsubTopic, contentTopic: $0.contentTopic) }
                    .map { try $0.syncKey(using: SHA256Hasher()).hash })
        }
        var initiator = StoreSyncReconciler(configuration: .init(scope: scope))
        var responder = StoreSyncReconciler(configuration: .init(scope: scope))
        var have = Set<MessageHash>()
        var need = Set<MessageHash>()
        var message = try store.withXorSnapshot { try initiator.initiate(window: 0...4_000_000, storage: $0) }
        for _ in 0..<50 {
            let answer = try responder.receive(message, storage: memory)
            guard let reply = answer.reply, !answer.isDone else { break }
            let step = try store.withXorSnapshot { try initiator.receive(reply, storage: $0) }
            have.formUnion(step.have)
            need.formUnion(step.need)
            guard let next = step.reply, !step.isDone else { break }
            message = next
        }
        #expect(have == (try inScope(onlyStore)))
        #expect(need == (try inScope(onlyMemory)))
        #expect(!have.isEmpty && !need.isEmpty)
    }
}
