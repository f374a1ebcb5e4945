import Foundation
import StoreSyncCore
import Testing

@testable import StoreSyncLMDB

/// Removing an index's keys below a bound (trees first, then one walk over the records) leaves
/// the index that removing them key by key leaves, and a removal cut off between its two steps
/// is completed before the index is used again.
@Suite("Removing an index's oldest keys")
struct IndexKeyRemovalTests {
    /// Two indexes of the same keys.
    static func twoIndexes(_ directory: TemporaryDirectory, seed: UInt64) throws -> (
        walked: MessageStore, keyByKey: MessageStore, entries: [IndexedKey]
    ) {
        var rng = SplitMix64(seed: seed)
        let entries = Array(KeyIndexLoaderTests.windows(count: 12_000, rng: &rng).joined())
        let walked = try KeyIndexLoaderTests.store(directory, "walked")
        let keyByKey = try KeyIndexLoaderTests.store(directory, "key-by-key")
        try walked.index(entries)
        try keyByKey.index(entries)
        return (walked, keyByKey, entries)
    }

    /// Same keys in every tree, same records, same counts.
    static func expectSame(_ a: MessageStore, _ b: MessageStore, hashes: [MessageHash]) throws {
        #expect(try a.statistics().topics == b.statistics().topics)
        #expect(try a.indexedKeys(for: hashes) == b.indexedKeys(for: hashes))
        for topic in KeyIndexLoaderTests.pubsubTopics {
            for content in [[], [KeyIndexLoaderTests.contentTopics[1]]] {
                let query = { (store: MessageStore) in
                    try store.queryKeys(
                        pubsubTopic: topic, contentTopics: content, timeRange: 0..<UInt64.max, cursor: nil,
                        forward: true, limit: 100_000)
                }
                #expect(try query(a) == query(b))
            }
        }
        try a._checkInvariants()
    }

    @Test(arguments: [UInt64(1), 2, 3])
    func removingBelowABoundLeavesWhatRemovingKeyByKeyLeaves(seed: UInt64) throws {
        let directory = try TemporaryDirectory()
        let (walked, keyByKey, entries) = try Self.twoIndexes(directory, seed: seed)
        let timestamps = entries.map(\.key.timestamp).sorted()
        let hashes = entries.map(\.key.hash)
        // Nothing below, then a bound inside, then one above everything.
        for bound in [0, timestamps[timestamps.count * (2 + Int(seed)) / 10], timestamps.last! + 1] {
            // Walks of 700 records a transaction, so that each goes on where the last stopped.
            let removed = try walked.removeKeys(below: bound, walkChunk: 700)
            #expect(removed == (try keyByKey.removeKeys(in: SyncKey(timestamp: 0)..<SyncKey(timestamp: bound))))
            try Self.expectSame(walked, keyByKey, hashes: hashes)
            #expect(
                try walked.environment.read { try $0.get(walked.databases.meta, MessageStore.keyRemovalMarker) } == nil)
        }
        #expect(try walked.messageCount() == 0)
    }

    @Test func aRemovalCutOffBetweenTreesAndRecordsIsCompletedBeforeTheIndexIsUsed() throws {
        let directory = try TemporaryDirectory()
        let (walked, keyByKey, entries) = try Self.twoIndexes(directory, seed: 7)
        let bound = entries.map(\.key.timestamp).sorted()[entries.count / 2]
        // The first step and its marker, then the process stops.
        try walked.environment.write { txn in
            var value: [UInt8] = []
            value.appendBigEndian(bound)
            _ = try txn.put(walked.databases.meta, MessageStore.keyRemovalMarker, value)
        }
        for topic in KeyIndexLoaderTests.pubsubTopics {
            _ = try walked.deleteMessages(
                in: SyncKey(timestamp: 0)..<SyncKey(timestamp: bound), pubsubTopic: topic, keepingRecords: true)
        }
        // Records without keys: the index is not whole.
        #expect(throws: (any Error).self) { try walked._checkInvariants() }
        try walked.resumeKeyRemoval(walkChunk: 1_000)
        try keyByKey.removeKeys(in: SyncKey(timestamp: 0)..<SyncKey(timestamp: bound))
        try Self.expectSame(walked, keyByKey, hashes: entries.map(\.key.hash))
        // The keys the removal left can go on being removed the usual way.
        try walked.removeKeys(below: bound + 50)
        try keyByKey.removeKeys(in: SyncKey(timestamp: 0)..<SyncKey(timestamp: bound + 50))
        try Self.expectSame(walked, keyByKey, hashes: entries.map(\.key.hash))
    }
}
