import CLMDB
import Foundation
import StoreSyncCore

/// Loads another archive's keys, with their topics, into an empty key index at bulk speed: what
/// rebuilding a missing index from the archive needs. The result is the index `index(_:)` would
/// have written for the same keys, with fuller pages.
///
/// Keys come in windows of time, each window above every key of the windows before it in each
/// pubsub topic. Trees are built bottom up as the windows come (`TreeBuilder`), their nodes
/// kept aside (`SpilledNodes`) and appended in key order at the end; index records wait in hash
/// order (`HashSortedRuns`, memory bounded by `runLength`) and are appended to the `messages`
/// database at the end.
///
/// The load's commits are not flushed one by one: the disk writes them behind the work, and
/// `finish` flushes once. Until then the scratch directory, made before the first write and
/// removed after the flush, marks the index as partial (`isInterrupted`): after a crash, even of
/// the machine, its files are to be removed before the store is opened again
/// (`removeInterruptedIndex`). Load only an index that nothing else writes meanwhile.
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
    private let nodes: SpilledNodes
    /// Each topic pair's id in `PendingRecord.topics` is its position here.
    private var pairs: [TopicPair] = []
    private var pairIds: [TopicPair: UInt32] = [:]

    /// Records written per transaction at the end of a load.
    static let appendChunk = 500_000

    /// Bytes of tree nodes a load holds in memory by default: an eighth of the machine's memory,
    /// between 256 MiB and 2 GiB (the nodes of some 25M keys; a node is about 2 KB a 24 keys).
    public static let defaultNodeMemory: Int = {
        let physical = Int(sysconf(Int32(_SC_PHYS_PAGES))) * Int(sysconf(Int32(_SC_PAGESIZE)))
        return min(max(physical / 8, 256 << 20), 2 << 30)
    }()

    /// Starts a load into `store`, which must hold no keys and no content topics (a load under
    /// way has named its topics, and only those). `scratchDirectory` (made now, and removed by
    /// `finish`) marks the load as unfinished and holds the tree nodes beyond `nodeMemory`
    /// bytes in memory (about 2 KB a node, a node per 24 keys) and the sorted runs of records
    /// beyond `runLength` in memory (48 bytes each).
    public init(
        store: MessageStore, scratchDirectory: String, runLength: Int = 2_000_000,
        nodeMemory: Int = defaultNodeMemory
    ) throws {
        self.store = store
        self.scratchDirectory = scratchDirectory
        records = HashSortedRuns(directory: scratchDirectory, runLength: runLength)
        try store.environment.read { txn in
            let databases = store.databases
            guard try txn.entries(databases.scopes) == 0, try txn.entries(databases.messages) == 0,
                try txn.entries(databases.nodes) == 0, try txn.entries(databases.contentTopics) == 0
            else {
                throw StoreError.invalidRequest("a bulk load needs an index without keys")
            }
        }
        try? FileManager.default.removeItem(atPath: scratchDirectory)
        do {
            try FileManager.default.createDirectory(atPath: scratchDirectory, withIntermediateDirectories: true)
        } catch {
            throw StoreError.scratchFile(path: scratchDirectory, operation: "create directory", errno: EIO)
        }
        try Self.flushDirectory(containing: scratchDirectory)
        nodes = try SpilledNodes(path: scratchDirectory + "/nodes", memoryBudget: nodeMemory)
        try store.environment.deferFlushes(true)
    }

    /// Whether a load that made `scratchDirectory` did not finish: its index is partial, and
    /// after a machine crash perhaps not even readable.
    public static func isInterrupted(scratchDirectory: String) -> Bool {
        FileManager.default.fileExists(atPath: scratchDirectory)
    }

    /// Removes the files of an index whose load did not finish, before the store is opened
    /// again, and the load's scratch directory. Does nothing if the load was not interrupted.
    public static func removeInterruptedIndex(directory: String, scratchDirectory: String) throws {
        guard isInterrupted(scratchDirectory: scratchDirectory) else { return }
        for file in ["data.mdb", "lock.mdb"] {
            let path = directory + "/" + file
            guard unlink(path) == 0 || errno == ENOENT else {
                throw StoreError.scratchFile(path: path, operation: "remove", errno: errno)
            }
        }
        try removeScratch(scratchDirectory)
    }

    /// Gives the load up: empties the index and removes the scratch directory, flushed.
    public func abandon() throws {
        try store.environment.deferFlushes(false)
        try store.removeAllKeys()
        try store.environment.flush()
        try Self.removeScratch(scratchDirectory)
    }

    private static func removeScratch(_ path: String) throws {
        do {
            try FileManager.default.removeItem(atPath: path)
        } catch {
            throw StoreError.scratchFile(path: path, operation: "remove", errno: EIO)
        }
        try flushDirectory(containing: path)
    }

    /// Makes the creation or removal of `path` durable.
    private static func flushDirectory(containing path: String) throws {
        let parent = (path as NSString).deletingLastPathComponent
        let descriptor = open(parent.isEmpty ? "." : parent, O_RDONLY | O_DIRECTORY)
        guard descriptor >= 0 else { throw StoreError.scratchFile(path: parent, operation: "open", errno: errno) }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else {
            throw StoreError.scratchFile(path: parent, operation: "fsync", errno: errno)
        }
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
            // Each builder is taken out of its dictionary while keys go in, so that it is
            // changed in place, not copied.
            for (topic, keys) in pubsubKeys {
                var builder =
                    try trees.pubsub.removeValue(forKey: topic)
                    ?? TreeBuilder(scopeId: try txn.nextCounter(databases.meta, TreeWriters.nextScopeKey))
                for key in keys { try builder.append(key, into: nodes) }
                trees.pubsub[topic] = builder
            }
            for group in sorted {
                let contentId = try store.contentTopicId(&trees.contentIds, txn: txn, topic: group.contentTopic)
                let scope = ContentScope(contentId: contentId, pubsubTopic: group.pubsubTopic)
                var builder =
                    try trees.content.removeValue(forKey: scope)
                    ?? TreeBuilder(scopeId: try txn.nextCounter(databases.meta, TreeWriters.nextScopeKey))
                for key in group.keys { try builder.append(key, into: nodes) }
                trees.content[scope] = builder
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
    /// records; flushes it all to the disk and removes the scratch directory. Returns how many
    /// keys were loaded. A hash that came with two timestamps fails
    /// the load (`invalidRequest`): the index keeps one key per hash.
    @discardableResult
    public func finish() throws -> Int {
        let store = self.store
        let databases = store.databases
        let built = trees
        let scopes = try store.environment.write { txn -> [(key: [UInt8], record: ScopeRecord)] in
            var trees = built
            var scopes: [(key: [UInt8], record: ScopeRecord)] = []
            for topic in trees.pubsub.keys {
                let record = try trees.pubsub[topic]!.finish(into: nodes)
                scopes.append((ScopeKey.messages(topic), record))
            }
            for scope in trees.content.keys {
                let record = try trees.content[scope]!.finish(into: nodes)
                scopes.append((ScopeKey.contentTopic(scope.contentId, pubsubTopic: scope.pubsubTopic), record))
            }
            for (key, record) in scopes { try txn.put(databases.scopes, key, record.encoded()) }
            return scopes
        }
        try nodes.append(scopes.map(\.record), to: store.environment, nodes: databases.nodes)
        let loaded = records.count
        try appendRecords()
        try store.environment.deferFlushes(false)
        try store.environment.flush()
        try Self.removeScratch(scratchDirectory)
        return loaded
    }

    /// Appends the index records in hash order.
    private func appendRecords() throws {
        let ids = try pairs.map { pair -> (pubsubScope: UInt32, contentTopicId: UInt32) in
            guard let pubsub = trees.pubsub[pair.pubsubTopic], let content = trees.contentIds[pair.contentTopic] else {
                throw StoreError.invalidRequest("bulk load: no tree for \(pair.pubsubTopic) \(pair.contentTopic)")
            }
            return (pubsub.scopeId, content)
        }
        let store = self.store
        let messages = store.databases.messages
        var batch: [PendingRecord] = []
        batch.reserveCapacity(Self.appendChunk)
        func write() throws {
            let pending = batch
            try store.environment.write { txn in
                try LMDBAppender.with(txn, messages) { appender in
                    var value = [UInt8](repeating: 0, count: StoredRecord.indexedByIdsSize)
                    for record in pending {
                        let (pubsubScope, contentTopicId) = ids[Int(record.topics)]
                        value.withUnsafeMutableBytes {
                            StoredRecord.encode(
                                timestamp: record.timestamp, pubsubScope: pubsubScope, contentTopicId: contentTopicId,
                                into: $0)
                        }
                        let hash = record.hash
                        let key = (
                            hash.word0.bigEndian, hash.word1.bigEndian, hash.word2.bigEndian, hash.word3.bigEndian
                        )
                        try withUnsafeBytes(of: key) { key in
                            try value.withUnsafeBytes { value in try appender.append(key, value) }
                        }
                    }
                }
            }
            store.environment.startWriteback()
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
}
