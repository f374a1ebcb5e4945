import CLMDB
import Foundation
import StoreSyncCore

/// Loads another archive's keys, with their topics, into an empty key index at bulk speed: what
/// rebuilding a missing index from the archive needs. The result is the index `index(_:)` would
/// have written for the same keys, with fuller pages.
///
/// Keys come in windows of time, each window above every key of the windows before it in each
/// pubsub topic. Trees are built bottom up as the windows come (`TreeBuilder`); index records
/// wait in hash order (`HashSortedRuns`, memory bounded by `runLength`) and are appended to the
/// `messages` database at the end; the content-topic index is appended from the finished
/// content-topic trees. A load that does not finish leaves a marker (`isInterrupted`): the index
/// is partial, and is emptied (`removeAllKeys`) before it is loaded again.
///
/// Every call runs LMDB write transactions: call it from a thread that may block, one call at
/// a time.
public final class KeyIndexLoader {
    /// The keys of one (pubsub topic, content topic) pair within one window of time.
    public struct Group: Sendable {
        public var pubsubTopic: String
        public var contentTopic: String
        public var keys: [SyncKey]

        public init(pubsubTopic: String, contentTopic: String, keys: [SyncKey]) {
            self.pubsubTopic = pubsubTopic
            self.contentTopic = contentTopic
            self.keys = keys
        }
    }

    /// The trees being built: what a write transaction that is run again starts from.
    private struct Trees {
        var pubsub: [String: TreeBuilder] = [:]
        var content: [ContentScope: TreeBuilder] = [:]
        var contentIds: [String: UInt32] = [:]
    }

    private struct ContentScope: Hashable {
        var contentId: UInt32
        var pubsubTopic: String
    }

    private struct TopicPair: Hashable {
        var pubsubTopic: String
        var contentTopic: String
    }

    private let store: MessageStore
    private let scratchDirectory: String
    private var trees = Trees()
    private let records: HashSortedRuns
    /// Each topic pair's id in `PendingRecord.topics` is its position here.
    private var pairs: [TopicPair] = []
    private var pairIds: [TopicPair: UInt32] = [:]

    /// Records and content-index entries written per transaction at the end of a load.
    static let appendChunk = 500_000
    static let markerKey = Array("bulk-load".utf8)

    /// Starts a load into `store`, which must hold no keys; `scratchDirectory` (created, and
    /// removed by `finish`) holds the sorted runs of records beyond `runLength` in memory
    /// (48 bytes each).
    public init(store: MessageStore, scratchDirectory: String, runLength: Int = 2_000_000) throws {
        self.store = store
        self.scratchDirectory = scratchDirectory
        records = HashSortedRuns(directory: scratchDirectory, runLength: runLength)
        try store.environment.write { txn in
            let databases = store.databases
            guard try txn.entries(databases.scopes) == 0, try txn.entries(databases.messages) == 0,
                try txn.entries(databases.nodes) == 0
            else {
                throw StoreError.invalidRequest("a bulk load needs an index without keys")
            }
            try txn.put(databases.meta, Self.markerKey, [1])
        }
        try? FileManager.default.removeItem(atPath: scratchDirectory)
        do {
            try FileManager.default.createDirectory(atPath: scratchDirectory, withIntermediateDirectories: true)
        } catch {
            throw StoreError.scratchFile(path: scratchDirectory, operation: "create directory", errno: EIO)
        }
    }

    /// Whether a load into `store` began and did not finish: its index is partial.
    public static func isInterrupted(_ store: MessageStore) throws -> Bool {
        try store.environment.read { txn in try txn.get(store.databases.meta, markerKey) != nil }
    }

    /// Adds one window's keys. Every key must be above every key added before in its pubsub
    /// topic; within the window, in any order.
    public func add(_ groups: [Group]) throws {
        var byPubsub: [String: [SyncKey]] = [:]
        var sorted: [Group] = []
        for group in groups where !group.keys.isEmpty {
            if let problem = MessageStore.topicProblem(pubsubTopic: group.pubsubTopic, contentTopic: group.contentTopic)
            {
                throw StoreError.invalidMessage("\(group.pubsubTopic) \(group.contentTopic): \(problem)")
            }
            var group = group
            group.keys.sort()
            byPubsub[group.pubsubTopic, default: []].append(contentsOf: group.keys)
            sorted.append(group)
        }
        let pubsubKeys = byPubsub.mapValues { $0.sorted() }
        let before = trees
        let store = self.store
        trees = try store.environment.write { txn -> Trees in
            var trees = before
            let databases = store.databases
            for (topic, keys) in pubsubKeys {
                if trees.pubsub[topic] == nil {
                    trees.pubsub[topic] = TreeBuilder(
                        scopeId: try txn.nextCounter(databases.meta, TreeWriters.nextScopeKey))
                }
                for key in keys { try trees.pubsub[topic]!.append(key, txn, nodes: databases.nodes) }
            }
            for group in sorted {
                let contentId = try store.contentTopicId(&trees.contentIds, txn: txn, topic: group.contentTopic)
                let scope = ContentScope(contentId: contentId, pubsubTopic: group.pubsubTopic)
                if trees.content[scope] == nil {
                    trees.content[scope] = TreeBuilder(
                        scopeId: try txn.nextCounter(databases.meta, TreeWriters.nextScopeKey))
                }
                for key in group.keys { try trees.content[scope]!.append(key, txn, nodes: databases.nodes) }
            }
            return trees
        }
        for group in sorted {
            let pair = TopicPair(pubsubTopic: group.pubsubTopic, contentTopic: group.contentTopic)
            let id: UInt32
            if let known = pairIds[pair] {
                id = known
            } else {
                id = UInt32(pairs.count)
                pairs.append(pair)
                pairIds[pair] = id
            }
            for key in group.keys {
                try records.append(PendingRecord(hash: key.hash, timestamp: key.timestamp, topics: id))
            }
        }
    }

    /// Writes what is still in memory: the trees' open nodes and scope records, the index
    /// records, the content-topic index; then clears the marker. Returns how many keys were
    /// loaded. A hash that came with two timestamps fails the load (`invalidRequest`): the
    /// index keeps one key per hash.
    @discardableResult
    public func finish() throws -> Int {
        defer { try? FileManager.default.removeItem(atPath: scratchDirectory) }
        let store = self.store
        let databases = store.databases
        let built = trees
        let scopes = try store.environment.write { txn -> [(key: [UInt8], record: ScopeRecord)] in
            var trees = built
            var scopes: [(key: [UInt8], record: ScopeRecord)] = []
            for topic in trees.pubsub.keys {
                let record = try trees.pubsub[topic]!.finish(txn, nodes: databases.nodes)
                scopes.append((ScopeKey.messages(topic), record))
            }
            for scope in trees.content.keys {
                let record = try trees.content[scope]!.finish(txn, nodes: databases.nodes)
                scopes.append((ScopeKey.contentTopic(scope.contentId, pubsubTopic: scope.pubsubTopic), record))
            }
            for (key, record) in scopes { try txn.put(databases.scopes, key, record.encoded()) }
            return scopes
        }
        let loaded = records.count
        try appendRecords()
        try appendContentIndex(scopes: scopes)
        try store.environment.write { txn in _ = try txn.delete(databases.meta, Self.markerKey) }
        return loaded
    }

    /// Appends the index records in hash order.
    private func appendRecords() throws {
        let suffixes = pairs.map { pair -> [UInt8] in
            var out: [UInt8] = []
            for topic in [pair.pubsubTopic, pair.contentTopic] {
                VarInt.encode(UInt64(topic.utf8.count), into: &out)
                out.append(contentsOf: topic.utf8)
            }
            return out
        }
        let store = self.store
        let messages = store.databases.messages
        var batch: [PendingRecord] = []
        batch.reserveCapacity(Self.appendChunk)
        func write() throws {
            let pending = batch
            try store.environment.write { txn in
                var value: [UInt8] = []
                for record in pending {
                    value.removeAll(keepingCapacity: true)
                    value.append(StoredRecord.indexedFormat)
                    value.appendBigEndian(record.timestamp)
                    value.append(contentsOf: suffixes[Int(record.topics)])
                    let hash = record.hash
                    let key = (hash.word0.bigEndian, hash.word1.bigEndian, hash.word2.bigEndian, hash.word3.bigEndian)
                    try withUnsafeBytes(of: key) { key in
                        try value.withUnsafeBytes { value in try txn.append(messages, key, value) }
                    }
                }
            }
            batch.removeAll(keepingCapacity: true)
        }
        var previous: PendingRecord?
        try records.drain { record in
            if let previous, previous.hash == record.hash {
                throw StoreError.invalidRequest(
                    "hash \(record.hash) has two keys, at \(previous.timestamp) and \(record.timestamp)")
            }
            previous = record
            batch.append(record)
            if batch.count == Self.appendChunk { try write() }
        }
        if !batch.isEmpty { try write() }
    }

    /// Appends every content-topic tree's keys to the content-topic index, in its key order
    /// (pubsub scope, content topic, key).
    private func appendContentIndex(scopes: [(key: [UInt8], record: ScopeRecord)]) throws {
        var pubsubScopeIds: [String: UInt32] = [:]
        var contentTrees: [(pubsubScope: UInt32, contentId: UInt32, record: ScopeRecord)] = []
        for (key, record) in scopes {
            guard let (kind, _, name) = ScopeKey.parse(key), kind == ScopeKey.messagesKind else { continue }
            pubsubScopeIds[name] = record.scopeId
        }
        for (key, record) in scopes {
            guard let (kind, contentId, name) = ScopeKey.parse(key), kind == ScopeKey.contentTopicKind,
                let contentId, let pubsubScope = pubsubScopeIds[name]
            else { continue }
            contentTrees.append((pubsubScope, contentId, record))
        }
        contentTrees.sort { ($0.pubsubScope, $0.contentId) < ($1.pubsubScope, $1.contentId) }
        let store = self.store
        let databases = store.databases
        for tree in contentTrees {
            let total = try store.environment.read { txn in
                try KeyIndexSnapshot(txn: txn, nodes: databases.nodes, record: tree.record).count()
            }
            for start in stride(from: 0, to: total, by: Self.appendChunk) {
                try store.environment.write { txn in
                    let snapshot = KeyIndexSnapshot(txn: txn, nodes: databases.nodes, record: tree.record)
                    var entry = [UInt8](repeating: 0, count: 48)
                    try snapshot.forEachKey(in: start..<min(total, start + Self.appendChunk)) { key in
                        entry.withUnsafeMutableBytes { out in
                            out.storeBytes(of: tree.pubsubScope.bigEndian, toByteOffset: 0, as: UInt32.self)
                            out.storeBytes(of: tree.contentId.bigEndian, toByteOffset: 4, as: UInt32.self)
                            MutableNode.store(key, into: out, at: 8)
                        }
                        try entry.withUnsafeBytes { entry in
                            try [UInt8]().withUnsafeBytes { empty in try txn.append(databases.byContent, entry, empty) }
                        }
                        return true
                    }
                }
            }
        }
    }
}
