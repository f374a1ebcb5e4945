import Foundation
import StoreSyncCore
import StoreSyncLMDB
import Testing

/// Checks range counts and sums of a snapshot against a brute-force recomputation over a model.
func checkAgainstModel(_ snapshot: KeyIndexSnapshot, model: [SyncKey], rng: inout SplitMix64) throws {
    #expect(try snapshot.count() == model.count)
    let count = model.count
    var prefix = [Accumulator()]
    for key in model { prefix.append(prefix[prefix.count - 1].adding(Accumulator(key.hash))) }
    for _ in 0..<25 {
        let lower = count == 0 ? 0 : Int(rng.next() % UInt64(count + 1))
        let upper = lower + (count == lower ? 0 : Int(rng.next() % UInt64(count - lower + 1)))
        #expect(try snapshot.accumulator(of: lower..<upper) == prefix[upper].subtracting(prefix[lower]))
        if lower < count { #expect(try snapshot.key(at: lower) == model[lower]) }
        let probe =
            count > 0 && rng.next() % 2 == 0
            ? model[Int(rng.next() % UInt64(count))] : SyncKey(timestamp: rng.next() % 2_000, hash: rng.hash())
        let expected = model.partitioningIndex { !($0 < probe) }
        #expect(try snapshot.lowerBound(of: probe, in: 0..<count) == expected)
        var iterated = [SyncKey]()
        try snapshot.forEachKey(in: lower..<upper) { key in
            iterated.append(key)
            return true
        }
        #expect(iterated == Array(model[lower..<upper]))
    }
}

extension Array where Element == SyncKey {
    func partitioningIndex(where belongs: (SyncKey) -> Bool) -> Int {
        var low = 0
        var high = count
        while low < high {
            let middle = (low + high) / 2
            if belongs(self[middle]) { high = middle } else { low = middle + 1 }
        }
        return low
    }
}

@Suite("LMDB message store")
struct MessageStoreTests {
    static func message(_ rng: inout SplitMix64, topic: String, timestamp: Int64) throws -> WakuMessage {
        try WakuMessage(
            pubsubTopic: topic,
            contentTopic: "/test/1/c\(rng.next() % 4)/proto",
            payload: (0..<Int(rng.next() % 40)).map { _ in UInt8(truncatingIfNeeded: rng.next()) },
            meta: rng.next() % 3 == 0 ? [1, 2, 3] : nil,
            timestamp: timestamp
        )
    }

    @Test(arguments: [UInt64(1), 2, 3])
    func randomOperationsKeepIndexExactAcrossReopen(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        let directory = try TemporaryDirectory()
        let configuration = StoreConfiguration(
            directory: directory.sub("s"), initialMapSize: 1 << 20, durability: .noSync)
        var store: MessageStore? = try MessageStore(configuration)
        let topics = ["/waku/2/rs/0/0", "/waku/2/rs/0/1"]
        var model: [String: Set<SyncKey>] = [:]
        var known: [WakuMessage] = []
        let hasher = SHA256Hasher()

        for step in 0..<60 {
            let current = try #require(store)
            switch rng.next() % 10 {
            case 0..<6:
                // Ingest a batch, with some messages already stored.
                var batch = [WakuMessage]()
                for _ in 0..<Int(1 + rng.next() % 300) {
                    if !known.isEmpty && rng.next() % 8 == 0 {
                        batch.append(known[Int(rng.next() % UInt64(known.count))])
                    } else {
                        let topic = topics[Int(rng.next() % 2)]
                        batch.append(try Self.message(&rng, topic: topic, timestamp: Int64(rng.next() % 1_000)))
                    }
                }
                let result = try current.ingest(batch)
                var expectedNew = 0
                for (message, outcome) in zip(batch, result.outcomes) {
                    let key = try message.syncKey(using: hasher)
                    let isNew = model[message.pubsubTopic, default: []].insert(key).inserted
                    if isNew {
                        expectedNew += 1
                        known.append(message)
                    }
                    #expect(outcome == (isNew ? .stored : .duplicate), "step \(step)")
                }
                #expect(result.stored == expectedNew)
            case 6, 7:
                let topic = topics[Int(rng.next() % 2)]
                let low = SyncKey(timestamp: rng.next() % 1_000, hash: rng.hash())
                let high = SyncKey(timestamp: low.timestamp + rng.next() % 200, hash: rng.hash())
                guard low < high else { continue }
                let deleted = try current.deleteMessages(in: low..<high, pubsubTopic: topic)
                let doomed = model[topic, default: []].filter { $0 >= low && $0 < high }
                #expect(deleted == doomed.count, "step \(step)")
                model[topic, default: []].subtract(doomed)
            case 8:
                let cutoff = rng.next() % 300
                let pruned = try current.prune(olderThan: cutoff)
                var expected = 0
                for topic in topics {
                    let doomed = model[topic, default: []].filter { $0.timestamp < cutoff }
                    expected += doomed.count
                    model[topic, default: []].subtract(doomed)
                }
                #expect(pruned == expected, "step \(step)")
            default:
                store = nil
                store = try MessageStore(configuration)
            }
            let checked = try #require(store)
            try checked._checkInvariants()
            for topic in topics {
                let sorted = model[topic, default: []].sorted()
                try checked.withSnapshot(pubsubTopic: topic) { try checkAgainstModel($0, model: sorted, rng: &rng) }
            }
            #expect(try checked.messageCount() == model.values.reduce(0) { $0 + $1.count })
        }
    }

    @Test func thousandsOfKeyOperationsKeepAggregatesExact() throws {
        var rng = SplitMix64(seed: 42)
        let directory = try TemporaryDirectory()
        let configuration = StoreConfiguration(directory: directory.sub("k"), durability: .noSync)
        var store = try MessageStore(configuration)
        var model = Set<SyncKey>()
        for round in 0..<40 {
            var inserts = [SyncKey]()
            for _ in 0..<Int(rng.next() % 2_000) {
                let key = SyncKey(timestamp: rng.next() % 5_000, hash: rng.hash())
                inserts.append(key)
                if rng.next() % 10 == 0 { inserts.append(key) }  // duplicate within the batch
            }
            let inserted = try store.insertKeys(inserts, index: "idx")
            let before = model.count
            model.formUnion(inserts)
            #expect(inserted == model.count - before)
            // Remove a random sample, and some keys that are absent.
            var removals = model.shuffled(using: &rng).prefix(Int(rng.next() % UInt64(max(1, model.count / 2))))
                .map { $0 }
            removals.append(SyncKey(timestamp: 9_999, hash: rng.hash()))
            let removed = try store.removeKeys(removals, index: "idx")
            model.subtract(removals)
            #expect(removed == removals.count - 1)
            if round % 7 == 6 { store = try MessageStore(configuration) }
            try store._checkInvariants()
            let sorted = model.sorted()
            try store.withKeyIndexSnapshot(index: "idx") { try checkAgainstModel($0, model: sorted, rng: &rng) }
        }
        // Remove everything: the tree collapses to an empty root and stays valid.
        try store.removeKeys(Array(model), index: "idx")
        try store._checkInvariants()
        let remaining = try store.withKeyIndexSnapshot(index: "idx") { try $0.count() }
        #expect(remaining == 0)
    }

    @Test func storedMessagesRoundTripAndEphemeralOnesAreNot() throws {
        let directory = try TemporaryDirectory()
        let store = try MessageStore(StoreConfiguration(directory: directory.sub("m"), durability: .noSync))
        let message = try WakuMessage(
            pubsubTopic: "/waku/2/rs/0/0", contentTopic: "/a/1/b/proto", payload: [0, 1, 2], meta: [9, 9],
            timestamp: 1_700_000_000_000_000_000, version: 1)
        let ephemeral = try WakuMessage(
            pubsubTopic: "/waku/2/rs/0/0", contentTopic: "/a/1/b/proto", payload: [7], timestamp: 5, ephemeral: true)
        let negative = try WakuMessage(pubsubTopic: "p", contentTopic: "c", payload: [], timestamp: -5)
        let result = try store.ingest([message, ephemeral, negative, message])
        #expect(result.outcomes[0] == .stored)
        #expect(result.outcomes[1] == .ephemeral)
        guard case .rejected = result.outcomes[2] else {
            Issue.record("negative timestamp must be rejected, got \(result.outcomes[2])")
            return
        }
        #expect(result.outcomes[3] == .duplicate)
        #expect(try store.message(for: message.hash) == message)
        #expect(try store.message(for: ephemeral.hash) == nil)
        #expect(try store.pubsubTopics() == ["/waku/2/rs/0/0"])
        try store._checkInvariants()
    }

    @Test func mapGrowsAndAFullMapIsAClearErrorThatLosesNothing() throws {
        let directory = try TemporaryDirectory()
        let growing = try MessageStore(
            StoreConfiguration(directory: directory.sub("grow"), initialMapSize: 256 << 10, durability: .noSync))
        var rng = SplitMix64(seed: 9)
        let many = try (0..<3_000).map { index in
            try Self.message(&rng, topic: "t", timestamp: Int64(index))
        }
        #expect(try growing.ingest(many).stored == 3_000)
        #expect(growing.mapSize > 256 << 10)
        try growing._checkInvariants()

        let capped = try MessageStore(
            StoreConfiguration(
                directory: directory.sub("cap"), initialMapSize: 256 << 10, maximumMapSize: 512 << 10,
                durability: .noSync))
        let first = Array(many.prefix(100))
        #expect(try capped.ingest(first).stored == 100)
        var sawFull = false
        do {
            for chunk in stride(from: 100, to: many.count, by: 200) {
                _ = try capped.ingest(Array(many[chunk..<min(chunk + 200, many.count)]))
            }
        } catch let error as StoreError {
            guard case .mapFull = error else { throw error }
            sawFull = true
        }
        #expect(sawFull)
        try capped._checkInvariants()
        for message in first { #expect(try capped.message(for: message.hash) == message) }
    }

    /// A full map can fail a write at its commit (LMDB saving its free list) as well as at a put;
    /// either way the write is refused cleanly, the transaction is not touched after LMDB freed
    /// it, and the store stays whole, whatever number of writes keep knocking.
    @Test func writesIntoAFullMapFailCleanlyAtPutOrCommit() async throws {
        let directory = try TemporaryDirectory()
        let store = try MessageStore(
            StoreConfiguration(
                directory: directory.sub("full"), initialMapSize: 256 << 10, maximumMapSize: 384 << 10,
                durability: .noSync))
        var rng = SplitMix64(seed: 10)
        var stored: [WakuMessage] = []
        var refused = 0
        for index in 0..<1_500 {
            let message = try Self.message(&rng, topic: "t\(index % 3)", timestamp: Int64(index))
            do {
                if try await store.ingest([message]).stored == 1 { stored.append(message) }
            } catch let error as StoreError {
                guard case .mapFull = error else { throw error }
                refused += 1
            }
        }
        #expect(refused > 0)
        #expect(!stored.isEmpty)
        try await store.read { store in
            try store._checkInvariants()
            #expect(try store.messageCount() == stored.count)
            for message in stored { #expect(try store.message(for: message.hash) == message) }
        }
    }

    @Test func badDataOnDiskIsAClearErrorAtOpen() throws {
        let directory = try TemporaryDirectory()
        // A foreign file where the data file should be.
        let foreign = directory.sub("foreign")
        try FileManager.default.createDirectory(atPath: foreign, withIntermediateDirectories: true)
        var rng = SplitMix64(seed: 3)
        let garbage = (0..<65_536).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        #expect(FileManager.default.createFile(atPath: foreign + "/data.mdb", contents: Data(garbage)))
        #expect {
            _ = try MessageStore(StoreConfiguration(directory: foreign))
        } throws: { error in
            guard case StoreError.notAStore = error else { return false }
            return true
        }

        // A store whose data file was cut short.
        let truncated = directory.sub("truncated")
        do {
            let store = try MessageStore(StoreConfiguration(directory: truncated, durability: .noSync))
            let keys = (0..<20_000).map { SyncKey(timestamp: UInt64($0), hash: rng.hash()) }
            try store.insertKeys(keys, index: "i")
        }
        let dataPath = truncated + "/data.mdb"
        let size = try #require(try FileManager.default.attributesOfItem(atPath: dataPath)[.size] as? Int)
        let handle = try #require(FileHandle(forWritingAtPath: dataPath))
        try handle.truncate(atOffset: UInt64(size / 2))
        try handle.close()
        #expect {
            _ = try MessageStore(StoreConfiguration(directory: truncated))
        } throws: { error in
            guard case StoreError.truncatedDataFile = error else { return false }
            return true
        }

        // An empty data file, and a plain file where the directory should be.
        let empty = directory.sub("empty")
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: empty + "/data.mdb", contents: Data()))
        #expect(throws: StoreError.self) { _ = try MessageStore(StoreConfiguration(directory: empty)) }
        let plainFile = directory.sub("file")
        #expect(FileManager.default.createFile(atPath: plainFile, contents: Data([1, 2, 3])))
        #expect(throws: StoreError.self) { _ = try MessageStore(StoreConfiguration(directory: plainFile)) }
    }

    /// Topics that cannot be LMDB keys (empty content topic, over 480 bytes) are refused one by
    /// one, not by failing the batch; lookups of them find nothing instead of failing.
    @Test func unstorableTopicsAreRejectedPerMessage() throws {
        let directory = try TemporaryDirectory()
        let store = try MessageStore(StoreConfiguration(directory: directory.sub("s"), durability: .noSync))
        let long = String(repeating: "x", count: 600)
        let batch = try [
            WakuMessage(pubsubTopic: "/p", contentTopic: "/c", payload: [1], timestamp: 1),
            WakuMessage(pubsubTopic: "/p", contentTopic: "", payload: [2], timestamp: 2),
            WakuMessage(pubsubTopic: long, contentTopic: "/c", payload: [3], timestamp: 3),
            WakuMessage(pubsubTopic: "/p", contentTopic: long, payload: [4], timestamp: 4),
        ]
        let result = try store.ingest(batch)
        #expect(result.outcomes[0] == .stored)
        #expect(result.outcomes.dropFirst().allSatisfy { if case .rejected = $0 { true } else { false } })
        #expect(try store.messageCount() == 1)
        for topic in ["", long] {
            #expect(
                try store.queryKeys(
                    pubsubTopic: "/p", contentTopics: [topic], timeRange: 0..<10, cursor: nil, forward: true, limit: 10
                ).isEmpty)
            #expect(
                try store.bucketSummaries(pubsubTopic: "/p", contentTopics: [topic], start: 0, end: 10, width: 5)
                    == [BucketSummary(), BucketSummary()])
        }
        #expect(try store.withSnapshot(pubsubTopic: long) { try $0.count() } == 0)
        try store._checkInvariants()
    }
}
