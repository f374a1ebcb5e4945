import CLMDB
import StoreSyncCore
import Synchronization

/// A node's message archive and sync key indexes in one LMDB environment.
///
/// Each pubsub topic is a sync scope with its own key index (a counted B+tree answering count and
/// fingerprint of any key range in O(log n)), and each (content topic, pubsub topic) pair too. A
/// message and its key in both trees go in together, in one write transaction. Reads take a
/// snapshot; ingest from other threads or other processes on the same directory goes on
/// meanwhile. Thread-safe.
///
/// Every call of the synchronous API blocks its thread on LMDB (and on the disk, for durable
/// commits). Async code uses the async API instead (`ingest`, `read`, `write`,
/// `applyRetention`): it runs the same work on the store's own threads, one writer that commits
/// what has queued up as one group, and a small pool of readers.
public final class MessageStore: Sendable {
    /// What became of one message handed to `ingest`.
    public enum Outcome: Equatable, Sendable {
        /// Newly stored.
        case stored
        /// Already in the archive; nothing changed.
        case duplicate
        /// Ephemeral messages are never stored.
        case ephemeral
        /// Not storable, with the reason.
        case rejected(String)
        /// Stored, then deleted by the count cap in the same call: it was older than everything
        /// the store keeps.
        case evicted
        /// Not stored: the store is at its size cap and could not make room within its policy
        /// (pages held by open readers); worth trying again later.
        case unavailable
    }

    /// The outcomes of one `ingest` call, in the order of its messages.
    public struct IngestResult: Equatable, Sendable {
        /// One per message.
        public var outcomes: [Outcome] = []
        /// How many were newly stored.
        public var stored: Int { outcomes.filter { $0 == .stored }.count }
        /// How many were already there.
        public var duplicates: Int { outcomes.filter { $0 == .duplicate }.count }
        /// The key of each message written, nil for the others: what the count cap checks.
        var keys: [SyncKey?] = []

        public init(outcomes: [Outcome] = []) {
            self.outcomes = outcomes
        }
    }

    let environment: LMDBEnvironment
    /// Deletions by retention since the store was opened.
    let retentionTotals = Mutex(RetentionReport())
    /// The thread that owns this process's writes of the async API.
    let writer = WorkQueue<WriteJob>(name: "storesync-writer")
    /// The threads that serve reads of the async API.
    let readers = WorkQueue<ReadJob>(name: "storesync-reader")
    /// Groups the writer thread has committed (each one transaction for one or more callers),
    /// and the callers they served.
    let groupCommits = Atomic(0)
    let groupedIngests = Atomic(0)
    var databases: LMDBEnvironment.Databases { environment.databases }

    private static let nextContentTopicKey = Array("next_content_topic".utf8)
    /// The longest pubsub or content topic stored, in UTF-8 bytes: topics are LMDB keys, which
    /// LMDB bounds at 511 bytes.
    public static let maximumTopicLength = 480

    /// Opens (creating if needed) the store in `configuration.directory`.
    ///
    /// Throws `StoreError.notAStore` for a directory holding something else, `.truncatedDataFile`
    /// for a data file cut short, `.unsupportedFormat` for another version of the layout.
    public init(_ configuration: StoreConfiguration) throws {
        environment = try LMDBEnvironment(configuration: configuration)
        // Jobs keep the store alive until they are done, so the handlers need only a weak one.
        writer.start(threads: 1, batched: true) { [weak self] jobs in self?.perform(jobs) }
        readers.start(threads: configuration.readerThreads, batched: false) { jobs in
            for job in jobs { job() }
        }
    }

    deinit {
        writer.stop()
        readers.stop()
    }

    /// The current size of the memory map, which bounds the data file.
    public var mapSize: Int { environment.currentMapSize }

    // MARK: Ingest

    /// The rules every archive applies before writing: ephemeral messages are not stored, topics
    /// must be index keys, the key must be computable. Per message, its outcome if written
    /// (`stored`, or why it is not) and its key when it is to be written.
    public static func prepare(_ messages: [WakuMessage]) -> (
        outcomes: [Outcome], prepared: [(message: WakuMessage, key: SyncKey)?]
    ) {
        let hasher = SHA256Hasher()
        var outcomes: [Outcome] = []
        var prepared: [(message: WakuMessage, key: SyncKey)?] = []
        outcomes.reserveCapacity(messages.count)
        prepared.reserveCapacity(messages.count)
        for message in messages {
            if message.ephemeral {
                prepared.append(nil)
                outcomes.append(.ephemeral)
                continue
            }
            if let problem = topicProblem(message) {
                prepared.append(nil)
                outcomes.append(.rejected(problem))
                continue
            }
            do {
                prepared.append((message, try message.syncKey(using: hasher)))
                outcomes.append(.stored)
            } catch {
                prepared.append(nil)
                outcomes.append(.rejected(error.description))
            }
        }
        return (outcomes, prepared)
    }

    /// Stores messages in one write transaction: each message with its key in the trees of its
    /// pubsub topic and of its topic pair. Already present messages are reported, not rewritten.
    func ingestBatch(_ messages: [WakuMessage]) throws -> IngestResult {
        let (outcomes, prepared) = Self.prepare(messages)
        var result = IngestResult(outcomes: outcomes)
        result.keys = prepared.map { $0?.key }
        let written = try write(
            prepared.map { entry in
                entry.map {
                    (
                        IndexedKey(
                            key: $0.key, pubsubTopic: $0.message.pubsubTopic, contentTopic: $0.message.contentTopic),
                        $0.message.storeEncoded()
                    )
                }
            })
        for (index, isNew) in written.enumerated() where isNew == false { result.outcomes[index] = .duplicate }
        return result
    }

    /// Writes records in one write transaction, each under its key's hash with its entries in the
    /// key trees of its pubsub topic and of its (content topic, pubsub topic) pair: the encoded
    /// message, or, where `message` is nil (a message kept in another archive), an index record
    /// naming the topics by id. Returns, per entry, whether it was new (nil where there was
    /// none); a hash already present is left as it is.
    func write(_ entries: [(entry: IndexedKey, message: [UInt8]?)?]) throws -> [Bool?] {
        // Records go in in hash order (the archive's key order: each page of it is touched once
        // per transaction, not once per record), the first of equal hashes first; tree entries
        // then in the batch's order.
        let byHash = entries.indices.filter { entries[$0] != nil }.sorted { a, b in
            let (left, right) = (entries[a]!.entry.key.hash, entries[b]!.entry.key.hash)
            return left < right || (left == right && a < b)
        }
        return try environment.write { txn -> [Bool?] in
            var written = [Bool?](repeating: nil, count: entries.count)
            let writers = TreeWriters(txn: txn, databases: databases)
            var contentIds: [String: UInt32] = [:]
            for index in byHash {
                guard let (entry, message) = entries[index] else { continue }
                let value =
                    try message
                    ?? StoredRecord.encoded(
                        timestamp: entry.key.timestamp,
                        pubsubScope: writers.writer(ScopeKey.messages(entry.pubsubTopic)).record.scopeId,
                        contentTopicId: contentTopicId(&contentIds, txn: txn, topic: entry.contentTopic))
                written[index] = try entry.key.hash.bytes.withUnsafeBytes { hashKey in
                    try value.withUnsafeBytes { value in
                        try txn.put(databases.messages, hashKey, value, noOverwrite: true)
                    }
                }
            }
            for (index, record) in entries.enumerated() where written[index] == true {
                guard let (entry, _) = record else { continue }
                let key = entry.key
                let writer = try writers.writer(ScopeKey.messages(entry.pubsubTopic))
                _ = try writer.insert(key)
                let contentId = try contentTopicId(&contentIds, txn: txn, topic: entry.contentTopic)
                _ = try writers.writer(ScopeKey.contentTopic(contentId, pubsubTopic: entry.pubsubTopic)).insert(key)
            }
            try writers.finish()
            return written
        }
    }

    /// Inserts keys into a key-only index (no messages): for indexes kept beside another archive,
    /// conformance tests and benchmarks. Returns how many were new.
    @discardableResult
    public func insertKeys(_ keys: [SyncKey], index name: String) throws -> Int {
        try environment.write { txn in
            let writers = TreeWriters(txn: txn, databases: databases)
            let writer = try writers.writer(ScopeKey.keyIndex(name))
            var inserted = 0
            for key in keys where try writer.insert(key) { inserted += 1 }
            try writers.finish()
            return inserted
        }
    }

    /// Removes keys from a key-only index. Returns how many were there.
    @discardableResult
    public func removeKeys(_ keys: [SyncKey], index name: String) throws -> Int {
        try environment.write { txn in
            guard try TreeWriters.record(txn, databases, ScopeKey.keyIndex(name)) != nil else { return 0 }
            let writers = TreeWriters(txn: txn, databases: databases)
            let writer = try writers.writer(ScopeKey.keyIndex(name))
            var removed = 0
            for key in keys where try writer.remove(key) { removed += 1 }
            try writers.finish()
            return removed
        }
    }

    // MARK: Delete and prune

    /// Deletes the messages of a pubsub topic whose keys fall in `range`, with their index
    /// entries. Returns how many were deleted.
    @discardableResult
    public func deleteMessages(in range: Range<SyncKey>, pubsubTopic: String) throws -> Int {
        try deleteMessages(in: range, pubsubTopic: pubsubTopic, keepingRecords: false)
    }

    /// As `deleteMessages(in:pubsubTopic:)`; with `keepingRecords`, the records stay, for one
    /// walk over them to remove (`removeKeys(below:)`).
    func deleteMessages(in range: Range<SyncKey>, pubsubTopic: String, keepingRecords: Bool) throws -> Int {
        var total = 0
        while true {
            let deleted = try environment.write { txn -> Int in
                try deleteChunk(
                    txn, pubsubTopic: pubsubTopic, range: range, limit: Self.deleteChunk, keepingRecords: keepingRecords
                )
            }
            total += deleted
            if deleted < Self.deleteChunk { return total }
        }
    }

    /// Deletes every message older than `timestamp` (ns) in every pubsub topic. Returns how many.
    @discardableResult
    public func prune(olderThan timestamp: UInt64) throws -> Int {
        var total = 0
        for topic in try pubsubTopics() {
            total += try deleteMessages(
                in: SyncKey(timestamp: 0)..<SyncKey(timestamp: timestamp), pubsubTopic: topic)
        }
        return total
    }

    /// Keys deleted per write transaction, so that a large prune does not hold one huge one.
    static let deleteChunk = 10_000

    private func deleteChunk(
        _ txn: LMDBTransaction, pubsubTopic: String, range: Range<SyncKey>, limit: Int, keepingRecords: Bool
    ) throws -> Int {
        guard let record = try scopeRecord(txn, pubsubTopic: pubsubTopic) else { return 0 }
        var keys = [SyncKey]()
        let snapshot = KeyIndexSnapshot(txn: txn, nodes: databases.nodes, record: record)
        let count = try snapshot.count()
        let lower = try snapshot.lowerBound(of: range.lowerBound, in: 0..<count)
        let upper = try snapshot.lowerBound(of: range.upperBound, in: lower..<count)
        try snapshot.forEachKey(in: lower..<min(upper, lower + limit)) { key in
            keys.append(key)
            return true
        }
        try deleteKeys(txn, pubsubTopic: pubsubTopic, keys: keys, keepingRecords: keepingRecords)
        return keys.count
    }

    /// Deletes indexed messages of one pubsub topic, with their index entries, in `txn`; their
    /// records too unless `keepingRecords`.
    func deleteKeys(
        _ txn: LMDBTransaction, pubsubTopic: String, keys: [SyncKey], keepingRecords: Bool = false
    ) throws {
        guard !keys.isEmpty else { return }
        // Read first (pointers into the map are invalidated by writes), then change.
        var contents: [(key: SyncKey, contentTopicId: UInt32)] = []
        var contentIds: [String: UInt32] = [:]
        for key in keys {
            guard let raw = try key.hash.bytes.withUnsafeBytes({ try txn.get(databases.messages, $0) }) else {
                throw StoreError.corruptRecord(what: "archive", detail: "indexed key \(key) has no message")
            }
            let contentId: UInt32
            switch try StoredRecord(raw).topics {
            case .named(_, let topic): contentId = try contentTopicId(&contentIds, txn: txn, topic: topic)
            case .byId(_, let id): contentId = id
            }
            contents.append((key, contentId))
        }
        let writers = TreeWriters(txn: txn, databases: databases)
        let writer = try writers.writer(ScopeKey.messages(pubsubTopic))
        for (key, contentId) in contents {
            _ = try writer.remove(key)
            if !keepingRecords { try txn.delete(databases.messages, key.hash.bytes) }
            _ = try writers.writer(ScopeKey.contentTopic(contentId, pubsubTopic: pubsubTopic)).remove(key)
        }
        try writers.finish()
    }

    // MARK: Reads

    /// Runs `body` with a snapshot of a pubsub topic's key index (empty if the topic has none).
    /// The snapshot sees one consistent state, whatever is ingested meanwhile.
    public func withSnapshot<T>(pubsubTopic: String, _ body: (KeyIndexSnapshot) throws -> T) throws -> T {
        try environment.read { txn in
            let record = try scopeRecord(txn, pubsubTopic: pubsubTopic)
            return try body(KeyIndexSnapshot(txn: txn, nodes: databases.nodes, record: record))
        }
    }

    /// Runs `body` with a snapshot of a key-only index.
    public func withKeyIndexSnapshot<T>(index name: String, _ body: (KeyIndexSnapshot) throws -> T) throws -> T {
        try environment.read { txn in
            let record = try TreeWriters.record(txn, databases, ScopeKey.keyIndex(name))
            return try body(KeyIndexSnapshot(txn: txn, nodes: databases.nodes, record: record))
        }
    }

    /// The message stored under a hash; nil also when this store only indexes it (its message
    /// lives in another archive).
    public func message(for hash: MessageHash) throws -> WakuMessage? {
        try environment.read { txn in
            try hash.bytes.withUnsafeBytes { key in
                guard let raw = try txn.get(databases.messages, key), case .message(let message) = try StoredRecord(raw)
                else { return nil }
                return message
            }
        }
    }

    /// The pubsub topics that have a key index.
    public func pubsubTopics() throws -> [String] {
        try environment.read { try pubsubTopics($0) }
    }

    func pubsubTopics(_ txn: LMDBTransaction) throws -> [String] {
        var topics = [String]()
        try txn.scan(databases.scopes, from: [ScopeKey.messagesKind]) { key, _ in
            guard key.first == ScopeKey.messagesKind else { return false }
            topics.append(String(decoding: key.dropFirst(), as: UTF8.self))
            return true
        }
        return topics
    }

    /// The number of messages in the archive.
    public func messageCount() throws -> Int {
        try environment.read { txn in
            var stat = MDB_stat()
            try StoreError.check(mdb_stat(txn.pointer, databases.messages, &stat), "stat messages")
            return Int(stat.ms_entries)
        }
    }

    // MARK: Helpers

    /// Why a message's topics cannot be index keys, nil when they can.
    static func topicProblem(_ message: WakuMessage) -> String? {
        topicProblem(pubsubTopic: message.pubsubTopic, contentTopic: message.contentTopic)
    }

    /// Why these topics cannot be index keys, nil when they can.
    static func topicProblem(pubsubTopic: String, contentTopic: String) -> String? {
        if contentTopic.isEmpty { return "empty content topic" }
        if contentTopic.utf8.count > maximumTopicLength {
            return "content topic longer than \(maximumTopicLength) bytes"
        }
        if pubsubTopic.utf8.count > maximumTopicLength {
            return "pubsub topic longer than \(maximumTopicLength) bytes"
        }
        return nil
    }

    /// The record of a pubsub topic's key index, nil if the topic has none.
    func scopeRecord(_ txn: LMDBTransaction, pubsubTopic: String) throws -> ScopeRecord? {
        guard pubsubTopic.utf8.count <= Self.maximumTopicLength else { return nil }
        return try TreeWriters.record(txn, databases, ScopeKey.messages(pubsubTopic))
    }

    /// The record of the tree of a (content topic, pubsub topic) pair, nil if the pair has none.
    func contentTopicRecord(_ txn: LMDBTransaction, contentTopic: String, pubsubTopic: String) throws
        -> ScopeRecord?
    {
        guard let id = try storedContentTopicId(txn, topic: contentTopic) else { return nil }
        return try TreeWriters.record(txn, databases, ScopeKey.contentTopic(id, pubsubTopic: pubsubTopic))
    }

    func contentTopicId(_ cache: inout [String: UInt32], txn: LMDBTransaction, topic: String) throws -> UInt32 {
        if let id = cache[topic] { return id }
        let id: UInt32
        if let stored = try storedContentTopicId(txn, topic: topic) {
            id = stored
        } else {
            id = try txn.nextCounter(databases.meta, Self.nextContentTopicKey)
            var value = [UInt8]()
            value.appendBigEndian(id)
            try txn.put(databases.contentTopics, Array(topic.utf8), value)
        }
        cache[topic] = id
        return id
    }

    /// The id a content topic was given, nil if it never was.
    func storedContentTopicId(_ txn: LMDBTransaction, topic: String) throws -> UInt32? {
        // Empty and over-long topics are never stored: they cannot be LMDB keys.
        guard !topic.isEmpty, topic.utf8.count <= Self.maximumTopicLength else { return nil }
        return try txn.get(databases.contentTopics, Array(topic.utf8)).flatMap(Self.bigEndianUInt32)
    }

    /// A 4-byte big-endian record value, nil for any other length.
    static func bigEndianUInt32(_ raw: [UInt8]) -> UInt32? {
        raw.count == 4 ? raw.withUnsafeBytes { $0.loadBigEndianUInt32(at: 0) } : nil
    }
}
