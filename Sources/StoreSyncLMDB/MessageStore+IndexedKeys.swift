import StoreSyncCore

/// A store as the key index of another archive: it holds each message's key and topics (index
/// records) in the same trees as a whole archive, so reconciliation, counts and key queries read
/// it as they read one.
extension MessageStore {
    /// Adds keys with their topics in one write transaction. Keys already present are left as
    /// they are. Returns how many were new.
    @discardableResult
    public func index(_ entries: [IndexedKey]) throws -> Int {
        for entry in entries {
            if let problem = Self.topicProblem(pubsubTopic: entry.pubsubTopic, contentTopic: entry.contentTopic) {
                throw StoreError.invalidMessage("\(entry.key): \(problem)")
            }
        }
        return try write(entries.map { ($0, nil) }).reduce(0) { $0 + ($1 == true ? 1 : 0) }
    }

    /// Removes every key in `range` of every pubsub topic, with its records. Returns how many.
    @discardableResult
    public func removeKeys(in range: Range<SyncKey>) throws -> Int {
        try pubsubTopics().reduce(0) { $0 + (try deleteMessages(in: range, pubsubTopic: $1)) }
    }

    /// Empties every key index, with its records and the content topic ids; markers stay. For an
    /// index that is to be built anew.
    public func removeAllKeys() throws {
        try environment.write { txn in
            for database in [databases.scopes, databases.nodes, databases.messages, databases.contentTopics] {
                try txn.empty(database)
            }
        }
    }

    /// The key stored under each hash (nil where none is), read without the record's topics:
    /// what a lookup by hash in the other archive needs.
    public func keys(for hashes: [MessageHash]) throws -> [SyncKey?] {
        try environment.read { txn in
            try hashes.map { hash in
                try hash.bytes.withUnsafeBytes { key in
                    try txn.get(databases.messages, key).map {
                        SyncKey(timestamp: try StoredRecord.timestamp(of: $0), hash: hash)
                    }
                }
            }
        }
    }

    /// The key and topics stored under each hash (nil where none is): of whole messages and of
    /// indexed ones alike. Topics named by id are looked up in a table of every topic's name,
    /// read once per call: for checks and tools, not for a hot path.
    public func indexedKeys(for hashes: [MessageHash]) throws -> [IndexedKey?] {
        try environment.read { txn in
            var names: (pubsub: [UInt32: String], content: [UInt32: String])?
            return try hashes.map { hash in
                try hash.bytes.withUnsafeBytes { key -> IndexedKey? in
                    guard let raw = try txn.get(databases.messages, key) else { return nil }
                    let record = try StoredRecord(raw)
                    let topics: (pubsub: String, content: String)
                    switch record.topics {
                    case .named(let pubsub, let content): topics = (pubsub, content)
                    case .byId(let pubsubScope, let contentTopicId):
                        let table = try names ?? topicNames(txn)
                        names = table
                        guard let pubsub = table.pubsub[pubsubScope], let content = table.content[contentTopicId]
                        else {
                            throw StoreError.corruptRecord(
                                what: "index record of \(hash)",
                                detail:
                                    "names scope \(pubsubScope) and content topic \(contentTopicId), not both stored")
                        }
                        topics = (pubsub, content)
                    }
                    return IndexedKey(
                        key: SyncKey(timestamp: record.timestamp, hash: hash), pubsubTopic: topics.pubsub,
                        contentTopic: topics.content)
                }
            }
        }
    }

    /// The name of every pubsub topic's tree by scope id, and of every content topic by id.
    func topicNames(_ txn: LMDBTransaction) throws -> (pubsub: [UInt32: String], content: [UInt32: String]) {
        var pubsub: [UInt32: String] = [:]
        for topic in try pubsubTopics(txn) {
            if let record = try scopeRecord(txn, pubsubTopic: topic) { pubsub[record.scopeId] = topic }
        }
        var content: [UInt32: String] = [:]
        try txn.scan(databases.contentTopics, from: []) { key, value in
            if let id = Self.bigEndianUInt32(Array(value)) { content[id] = String(decoding: key, as: UTF8.self) }
            return true
        }
        return (pubsub, content)
    }
}
