import Foundation
import StoreSyncCore
import StoreSyncLMDB
import Testing

/// The bulk loader gives the index that key-by-key indexing gives for the same keys: same trees
/// (counts, sums, keys at every position), same records, same content-topic index and queries.
@Suite("Bulk load of a key index")
struct KeyIndexLoaderTests {
    static let pubsubTopics = ["/waku/2/rs/0/0", "/waku/2/rs/0/1"]
    static let contentTopics = (0..<5).map { "/load/1/c\($0)/proto" }

    /// Keys with topics at increasing timestamps, cut into windows of random sizes.
    static func windows(count: Int, rng: inout SplitMix64) -> [[IndexedKey]] {
        var windows: [[IndexedKey]] = []
        var timestamp: UInt64 = 1_000
        var produced = 0
        while produced < count {
            let size = min(count - produced, Int(rng.next() % 700))
            var window: [IndexedKey] = []
            for _ in 0..<size {
                // Several keys may share a timestamp.
                timestamp += rng.next() % 3
                window.append(
                    IndexedKey(
                        key: SyncKey(timestamp: timestamp, hash: rng.hash()),
                        pubsubTopic: pubsubTopics[Int(rng.next() % 2)],
                        contentTopic: contentTopics[Int(rng.next() % 5)]))
            }
            timestamp += 1
            produced += size
            window.shuffle(using: &rng)
            windows.append(window)
        }
        return windows
    }

    static func groups(_ window: [IndexedKey]) -> [KeyIndexLoader.Group] {
        Dictionary(grouping: window) { [$0.pubsubTopic, $0.contentTopic] }.map { pair, entries in
            KeyIndexLoader.Group(pubsubTopic: pair[0], contentTopic: pair[1], keys: entries.map(\.key))
        }
    }

    static func store(_ directory: TemporaryDirectory, _ name: String) throws -> MessageStore {
        try MessageStore(
            StoreConfiguration(directory: directory.sub(name), initialMapSize: 1 << 20, durability: .noSync))
    }

    /// Loads `windows` with the loader into one store and with `index(_:)` into another, and
    /// compares them.
    static func compare(
        _ windows: [[IndexedKey]], runLength: Int, nodeMemory: Int = 256 << 20, rng: inout SplitMix64
    ) throws {
        let directory = try TemporaryDirectory()
        let loaded = try store(directory, "loaded")
        let indexed = try store(directory, "indexed")
        let loader = try KeyIndexLoader(
            store: loaded, scratchDirectory: directory.sub("scratch"), runLength: runLength, nodeMemory: nodeMemory)
        #expect(KeyIndexLoader.isInterrupted(scratchDirectory: directory.sub("scratch")))
        for window in windows {
            try loader.add(groups(window))
            try indexed.index(window)
        }
        let all = windows.joined()
        #expect(try loader.finish() == all.count)
        #expect(KeyIndexLoader.isInterrupted(scratchDirectory: directory.sub("scratch")) == false)
        try loaded._checkInvariants()

        for topic in pubsubTopics {
            let model = all.filter { $0.pubsubTopic == topic }.map(\.key).sorted()
            try loaded.withSnapshot(pubsubTopic: topic) { try checkAgainstModel($0, model: model, rng: &rng) }
        }
        let hashes = all.map(\.key.hash) + [rng.hash()]
        #expect(try loaded.indexedKeys(for: hashes) == indexed.indexedKeys(for: hashes))
        let span = (all.map(\.key.timestamp).max() ?? 0) + 2
        for _ in 0..<40 {
            let topic = pubsubTopics[Int(rng.next() % 2)]
            let content = rng.next() % 3 == 0 ? [] : [contentTopics[Int(rng.next() % 5)], contentTopics[0]]
            let from = rng.next() % span
            let range = from..<(from + rng.next() % span)
            let forward = rng.next() % 2 == 0
            let limit = Int(rng.next() % 300) + 1
            let query = { (store: MessageStore) in
                try store.queryKeys(
                    pubsubTopic: topic, contentTopics: content, timeRange: range, cursor: nil, forward: forward,
                    limit: limit)
            }
            #expect(try query(loaded) == query(indexed))
        }
        let (loadedStats, indexedStats) = (try loaded.statistics(), try indexed.statistics())
        #expect(loadedStats.messages == indexedStats.messages)
    }

    @Test(arguments: [UInt64(1), 2, 3])
    func loadsWhatIndexingWrites(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        let windows = Self.windows(count: 20_000, rng: &rng)
        // Seed 1 holds everything in memory; the others put runs of 1 500 records through a
        // dozen scratch files and their merge, and tree nodes beyond 64 KiB through a file.
        if seed == 1 {
            try Self.compare(windows, runLength: 2_000_000, rng: &rng)
        } else {
            try Self.compare(windows, runLength: 1_500, nodeMemory: 0, rng: &rng)
        }
    }

    /// Sizes at the edges of full nodes (48 keys a leaf, 16 entries an internal node), in one
    /// content topic so that its tree has exactly that many keys.
    @Test(arguments: [1, 47, 48, 49, 48 * 16, 48 * 16 + 1, 48 * 16 * 16, 48 * 16 * 16 + 1, 48 * 16 * 16 * 2 + 5])
    func treesOfEveryEdgeSize(count: Int) throws {
        var rng = SplitMix64(seed: UInt64(count))
        let window = (0..<count).map {
            IndexedKey(
                key: SyncKey(timestamp: UInt64($0), hash: rng.hash()), pubsubTopic: Self.pubsubTopics[0],
                contentTopic: Self.contentTopics[0])
        }
        try Self.compare([window], runLength: 1_000, rng: &rng)
    }

    @Test func keysBelowAnEarlierWindowAreRefused() throws {
        var rng = SplitMix64(seed: 7)
        let directory = try TemporaryDirectory()
        let store = try Self.store(directory, "s")
        let loader = try KeyIndexLoader(store: store, scratchDirectory: directory.sub("scratch"))
        let topics = (Self.pubsubTopics[0], Self.contentTopics[0])
        try loader.add([
            .init(pubsubTopic: topics.0, contentTopic: topics.1, keys: [SyncKey(timestamp: 10, hash: rng.hash())])
        ])
        #expect(throws: StoreError.self) {
            try loader.add([
                .init(pubsubTopic: topics.0, contentTopic: topics.1, keys: [SyncKey(timestamp: 9, hash: rng.hash())])
            ])
        }
    }

    @Test func aHashWithTwoTimestampsFailsTheLoad() throws {
        var rng = SplitMix64(seed: 8)
        let directory = try TemporaryDirectory()
        let store = try Self.store(directory, "s")
        let loader = try KeyIndexLoader(store: store, scratchDirectory: directory.sub("scratch"), runLength: 2)
        let hash = rng.hash()
        for timestamp: UInt64 in [10, 20] {
            try loader.add([
                .init(
                    pubsubTopic: Self.pubsubTopics[0], contentTopic: Self.contentTopics[0],
                    keys: [SyncKey(timestamp: timestamp, hash: hash), SyncKey(timestamp: timestamp, hash: rng.hash())])
            ])
        }
        #expect(throws: StoreError.self) { try loader.finish() }
        // The load did not finish: its scratch directory says so until it is given up.
        #expect(KeyIndexLoader.isInterrupted(scratchDirectory: directory.sub("scratch")))
        try loader.abandon()
        #expect(KeyIndexLoader.isInterrupted(scratchDirectory: directory.sub("scratch")) == false)
        #expect(try store.statistics().messages == 0)
        try store._checkInvariants()
    }

    @Test func anInterruptedLoadIsRemovedAndLoadedAgain() throws {
        var rng = SplitMix64(seed: 9)
        let directory = try TemporaryDirectory()
        let scratch = directory.sub("s/bulk-load")
        let windows = Self.windows(count: 3_000, rng: &rng)
        do {
            let store = try Self.store(directory, "s")
            let loader = try KeyIndexLoader(store: store, scratchDirectory: scratch, runLength: 500)
            for window in windows.prefix(windows.count / 2) { try loader.add(Self.groups(window)) }
            // Not empty: a second load is refused.
            #expect(throws: StoreError.self) {
                _ = try KeyIndexLoader(store: store, scratchDirectory: directory.sub("other"))
            }
        }
        // The process stops here; at the next start the partial index is removed before opening.
        #expect(KeyIndexLoader.isInterrupted(scratchDirectory: scratch))
        try KeyIndexLoader.removeInterruptedIndex(directory: directory.sub("s"), scratchDirectory: scratch)
        #expect(KeyIndexLoader.isInterrupted(scratchDirectory: scratch) == false)
        let store = try Self.store(directory, "s")
        #expect(try store.statistics().messages == 0)
        let loader = try KeyIndexLoader(store: store, scratchDirectory: scratch)
        for window in windows { try loader.add(Self.groups(window)) }
        #expect(try loader.finish() == windows.joined().count)
        try store._checkInvariants()
        #expect(try store.statistics().messages == windows.joined().count)
    }
}
