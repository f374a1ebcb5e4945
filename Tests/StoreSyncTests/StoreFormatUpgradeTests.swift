import Foundation
import StoreSyncCore
import StoreSyncLMDB
import Testing

/// A store written by format `storesync-lmdb/1` or `/2` opens, is upgraded in place once, and
/// then answers as a store of the current format written from the same messages.
@Suite struct StoreFormatUpgradeTests {
    /// A copy of a committed store, which the test must not change.
    static func copyOfStore(_ vector: String, into directory: TemporaryDirectory) throws -> String {
        let source = TestVectors.directory.appendingPathComponent("\(vector)/data.mdb")
        let target = directory.sub("store")
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: source.path, toPath: target + "/data.mdb")
        return target
    }

    @Test(arguments: ["lmdb-format-1", "lmdb-format-2"])
    func anEarlierFormatIsUpgradedInPlaceAndKeepsEverything(vector: String) throws {
        let directory = try TemporaryDirectory()
        let path = try Self.copyOfStore(vector, into: directory)
        var kept = try OldFormatFixture.kept()
        var random = SplitMix64(seed: 9)
        for _ in 0..<2 {
            // The second open finds the current format and changes nothing.
            let store = try MessageStore(StoreConfiguration(directory: path))
            try store._checkInvariants()
            let model = MemoryXorStorage(try kept.map(XorIndexTests.entry))
            #expect(try store.messageCount() == kept.count)
            #expect(Set(try store.pubsubTopics()) == Set(OldFormatFixture.pubsubTopics))
            try store.withXorSnapshot { snapshot throws in
                for scope in [
                    SyncScope(), SyncScope(pubsubTopics: [OldFormatFixture.pubsubTopics[1]]),
                    SyncScope(contentTopics: [OldFormatFixture.contentTopics[2], OldFormatFixture.contentTopics[4]]),
                ] {
                    let all = (
                        SyncKey(timestamp: 0),
                        SyncKey(timestamp: .max, hash: MessageHash(word0: .max, word1: .max, word2: .max, word3: .max))
                    )
                    let count = try snapshot.count(from: all.0, through: all.1, in: scope)
                    let xor = try snapshot.xor(from: all.0, through: all.1, in: scope)
                    #expect(count == model.count(from: all.0, through: all.1, in: scope))
                    #expect(xor == model.xor(from: all.0, through: all.1, in: scope))
                }
            }
            let keyIndex = Set(OldFormatFixture.keyIndex())
            try store.withKeyIndexSnapshot(index: OldFormatFixture.keyIndexName) { snapshot throws in
                let count = try snapshot.count()
                let stored = try snapshot.accumulator(of: 0..<count)
                var sum = Accumulator()
                for key in keyIndex { sum.add(key.hash) }
                #expect(count == keyIndex.count)
                #expect(stored == sum)
            }
            let hasher = SHA256Hasher()
            // Queries by content topic read the content-topic trees (format 3 has no content index).
            for pubsubTopic in OldFormatFixture.pubsubTopics {
                for contentTopic in OldFormatFixture.contentTopics {
                    let expected = try kept.filter { $0.pubsubTopic == pubsubTopic && $0.contentTopic == contentTopic }
                        .map { try $0.syncKey(using: hasher) }.sorted()
                    let forward = try store.queryKeys(
                        pubsubTopic: pubsubTopic, contentTopics: [contentTopic], timeRange: 0..<UInt64.max,
                        cursor: nil, forward: true, limit: kept.count)
                    #expect(forward.map(\.key) == expected)
                    let last = try #require(expected.last)
                    let lastTen = try store.queryKeys(
                        pubsubTopic: pubsubTopic, contentTopics: [contentTopic, OldFormatFixture.contentTopics[0]],
                        timeRange: 0..<UInt64.max, cursor: last, forward: false, limit: 10)
                    let both = try kept.filter {
                        $0.pubsubTopic == pubsubTopic
                            && [contentTopic, OldFormatFixture.contentTopics[0]].contains($0.contentTopic)
                    }.map { try $0.syncKey(using: hasher) }.sorted()
                    #expect(lastTen.map(\.key) == Array(both.filter { $0 < last }.suffix(10).reversed()))
                }
            }
            for message in kept.prefix(50) {
                #expect(try store.message(for: message.syncKey(using: hasher).hash) == message)
            }
            // Writes after the upgrade keep every tree exact.
            let added = try (0..<300).map { _ in try XorIndexTests.message(&random) }
            #expect(try store.ingest(added).stored == added.count)
            kept += added
            try store._checkInvariants()
        }
        let reopened = try MessageStore(StoreConfiguration(directory: path))
        try XorIndexTests.compare(
            reopened,
            MemoryXorStorage(
                try reopened.pubsubTopics().flatMap { topic in
                    try reopened.withSnapshot(pubsubTopic: topic) { snapshot in
                        var entries: [MemoryXorStorage.Entry] = []
                        try snapshot.forEachKey(in: 0..<snapshot.count()) { key in
                            guard let message = try reopened.message(for: key.hash) else { return false }
                            entries.append(try XorIndexTests.entry(message))
                            return true
                        }
                        return entries
                    }
                }),
            random: &random)
    }
}
