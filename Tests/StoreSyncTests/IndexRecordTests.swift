import Foundation
import StoreSyncCore
import Testing

@testable import StoreSyncLMDB

/// The records of an index kept beside another archive: written with their topics' ids (17
/// bytes), and those written by store format 2 with their topics' names still read, removed and
/// checked alike.
@Suite struct IndexRecordTests {
    static func entries(seed: UInt64) -> [IndexedKey] {
        var rng = SplitMix64(seed: seed)
        return Array(KeyIndexLoaderTests.windows(count: 3_000, rng: &rng).joined())
    }

    /// Rewrites the records of `entries` in the format-2 layout (by name), as a store upgraded
    /// from format 2 holds them.
    static func rewriteByName(_ store: MessageStore, _ entries: [IndexedKey]) throws {
        try store.environment.write { txn in
            for entry in entries {
                var value: [UInt8] = [StoredRecord.indexedFormat]
                value.appendBigEndian(entry.key.timestamp)
                for topic in [entry.pubsubTopic, entry.contentTopic] {
                    VarInt.encode(UInt64(topic.utf8.count), into: &value)
                    value.append(contentsOf: topic.utf8)
                }
                _ = try txn.put(store.databases.messages, entry.key.hash.bytes, value)
            }
        }
    }

    static func recordSizes(_ store: MessageStore, _ entries: [IndexedKey]) throws -> Set<Int> {
        try store.environment.read { txn in
            Set(try entries.map { try txn.get(store.databases.messages, $0.key.hash.bytes)?.count ?? 0 })
        }
    }

    @Test func recordsNameTheirTopicsByIdAndReadBackAsTheirKeysAndTopics() throws {
        let directory = try TemporaryDirectory()
        let store = try KeyIndexLoaderTests.store(directory, "index")
        let entries = Self.entries(seed: 1)
        #expect(try store.index(entries) == entries.count)
        #expect(try Self.recordSizes(store, entries) == [StoredRecord.indexedByIdsSize])
        let absent = MessageHash(word0: 7, word1: 7, word2: 7, word3: 7)
        let hashes = entries.map(\.key.hash) + [absent]
        #expect(try store.indexedKeys(for: hashes) == entries + [nil])
        #expect(try store.keys(for: hashes) == entries.map(\.key) + [nil])
        try store._checkInvariants()
    }

    @Test func recordsByNameOfFormatTwoAreReadRemovedAndChecked() throws {
        let directory = try TemporaryDirectory()
        let store = try KeyIndexLoaderTests.store(directory, "index")
        let entries = Self.entries(seed: 2)
        try store.index(entries)
        let byName = entries.enumerated().filter { $0.offset % 2 == 0 }.map(\.element)
        try Self.rewriteByName(store, byName)
        #expect(
            try Self.recordSizes(store, entries)
                == Set([StoredRecord.indexedByIdsSize]).union(try Self.recordSizes(store, byName)))
        #expect(try !Self.recordSizes(store, byName).contains(StoredRecord.indexedByIdsSize))
        try store._checkInvariants()
        #expect(try store.indexedKeys(for: entries.map(\.key.hash)) == entries)
        #expect(try store.keys(for: entries.map(\.key.hash)) == entries.map(\.key))

        // Removal finds each key's content-topic tree from either kind of record.
        let sorted = entries.sorted { $0.key < $1.key }
        let middle = sorted[sorted.count / 3].key..<sorted[2 * sorted.count / 3].key
        let removed = try store.removeKeys(in: middle)
        #expect(removed == sorted.filter { middle.contains($0.key) }.count)
        try store._checkInvariants()
        let bound = sorted[sorted.count / 6].key.timestamp
        try store.removeKeys(below: bound)
        try store._checkInvariants()
        let kept = sorted.filter { !middle.contains($0.key) && $0.key.timestamp >= bound }
        for pubsub in KeyIndexLoaderTests.pubsubTopics {
            for content in KeyIndexLoaderTests.contentTopics {
                let found = try store.queryKeys(
                    pubsubTopic: pubsub, contentTopics: [content], timeRange: 0..<UInt64.max, cursor: nil,
                    forward: true, limit: entries.count)
                #expect(
                    found.map(\.key)
                        == kept.filter { $0.pubsubTopic == pubsub && $0.contentTopic == content }.map(\.key))
            }
        }
        #expect(try store.messageCount() == kept.count)
    }
}
