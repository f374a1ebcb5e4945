import Foundation
import StoreSyncCore
import StoreSyncLMDB
import StoreSyncTestSupport
import Synchronization
import Testing

@Suite("LMDB store under crashes and concurrency", .timeLimit(.minutes(15)))
struct StoreDurabilityTests {
    static let batchSize = 50
    static let topics = ["/waku/2/rs/0/0", "/waku/2/rs/0/1"]

    /// Messages per batch number, read from the payload prefix "batch N message I ".
    static func batchCounts(_ store: MessageStore) throws -> [Int: Int] {
        var counts: [Int: Int] = [:]
        for topic in topics {
            let hashes = try store.withSnapshot(pubsubTopic: topic) { snapshot -> [MessageHash] in
                var hashes = [MessageHash]()
                try snapshot.forEachKey(in: 0..<snapshot.count()) { key in
                    hashes.append(key.hash)
                    return true
                }
                return hashes
            }
            for hash in hashes {
                let message = try #require(try store.message(for: hash))
                let words = String(decoding: message.payload.prefix(40), as: UTF8.self).split(separator: " ")
                let batch = try #require(words.count > 1 ? Int(words[1]) : nil)
                counts[batch, default: 0] += 1
            }
        }
        return counts
    }

    /// Total keys across both topics, read in one snapshot: a multiple of the batch size if no
    /// half-committed batch is ever visible.
    static func snapshotTotal(_ store: MessageStore) throws -> Int {
        try store.statistics().topics.reduce(0) { $0 + $1.messages }
    }

    @Test func sigkillDuringIngestNeverLeavesAHalfBatch() async throws {
        let executable = ChildProcess.built("store-torture")
        try #require(FileManager.default.isExecutableFile(atPath: executable.path), "store-torture is built")
        let directory = try TemporaryDirectory("torture")
        let path = directory.sub("store")
        var rng = SplitMix64(seed: 2_024)
        var nextBatch = 0
        for round in 0..<20 {
            let child = try ChildProcess(executable, [path, "\(nextBatch)", "\(Self.batchSize)"])
            // Wait for a random number of reported commits, reading the child's own words; the
            // kill then lands wherever the child is in the batch after them.
            let wanted = 1 + Int(rng.next() % 4)
            var reported: [Int] = []
            while reported.count < wanted, let line = await child.nextLine(where: { $0.hasPrefix("committed ") }) {
                if let batch = Int(line.dropFirst(10)) { reported.append(batch) }
            }
            if reported.isEmpty {
                Issue.record("round \(round): the child reported no commit; it said: \(child.lines)")
                return
            }
            if round % 4 == 0 {
                // Another process reads while the child writes: never a half batch in a snapshot.
                let reader = try MessageStore(StoreConfiguration(directory: path))
                for _ in 0..<5 { #expect(try await reader.read { try Self.snapshotTotal($0) } % Self.batchSize == 0) }
            }
            child.send(SIGKILL)
            #expect(await child.exit().reason == .uncaughtSignal)

            let store = try MessageStore(StoreConfiguration(directory: path))
            let counts = try await store.read { store in
                try store._checkInvariants()
                return try Self.batchCounts(store)
            }
            for (batch, count) in counts {
                #expect(count == Self.batchSize, "round \(round): batch \(batch) has \(count) of \(Self.batchSize)")
            }
            let present = counts.keys.sorted()
            #expect(present == Array(0..<present.count), "round \(round): batches present are not 0..<n")
            let lastReported = try #require(reported.last)
            #expect(present.count > lastReported, "round \(round): batch \(lastReported) was reported but is missing")
            nextBatch = present.count
        }
        #expect(nextBatch >= 20)
    }

    @Test func snapshotsStayConsistentWhileAnotherThreadIngests() async throws {
        let directory = try TemporaryDirectory()
        let store = try MessageStore(StoreConfiguration(directory: directory.sub("s"), durability: .noSync))
        let batches = 60
        let size = Self.batchSize
        let writer = Task {
            var rng = SplitMix64(seed: 5)
            for batch in 0..<batches {
                let messages = try (0..<size).map { index in
                    try WakuMessage(
                        pubsubTopic: Self.topics[0], contentTopic: "/c/1/x/proto",
                        payload: (0..<32).map { _ in UInt8(truncatingIfNeeded: rng.next()) },
                        timestamp: Int64(batch * size + index))
                }
                _ = try await store.ingest(messages)
            }
        }
        let finished = Atomic(false)
        let watcher = Task {
            _ = await writer.result
            finished.store(true, ordering: .releasing)
        }
        var snapshots = 0
        while !finished.load(ordering: .acquiring) || snapshots < 20 {
            try await store.read { store in
                try store.withSnapshot(pubsubTopic: Self.topics[0]) { snapshot in
                    let count = try snapshot.count()
                    #expect(count % size == 0, "a snapshot saw a half batch: \(count)")
                    let first = try snapshot.accumulator(of: 0..<count)
                    var brute = Accumulator()
                    try snapshot.forEachKey(in: 0..<count) { key in
                        brute.add(key.hash)
                        return true
                    }
                    #expect(first == brute, "the snapshot changed under the reader")
                }
            }
            snapshots += 1
        }
        try await writer.value
        await watcher.value
        let total = try await store.read { store in
            try store._checkInvariants()
            return try store.withSnapshot(pubsubTopic: Self.topics[0]) { try $0.count() }
        }
        #expect(total == batches * size)
    }
}
