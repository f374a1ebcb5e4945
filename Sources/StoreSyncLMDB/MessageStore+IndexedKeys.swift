import StoreSyncCore

/// A store as the key index of another archive: it holds each message's key and topics (format-2
/// records) in the same trees as a whole archive, so reconciliation,
/// counts and key queries read it as they read one.
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
        return try write(entries.map { ($0, StoredRecord.encoded($0)) }).reduce(0) { $0 + ($1 == true ? 1 : 0) }
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

    /// The key and topics stored under each hash (nil where none is): of whole messages and of
    /// indexed ones alike.
    public func indexedKeys(for hashes: [MessageHash]) throws -> [IndexedKey?] {
        try environment.read { txn in
            try hashes.map { hash in
                try hash.bytes.withUnsafeBytes { key in
                    try txn.get(databases.messages, key).map { raw in
                        let record = try StoredRecord(raw)
                        return IndexedKey(
                            key: SyncKey(timestamp: record.timestamp, hash: hash), pubsubTopic: record.pubsubTopic,
                            contentTopic: record.contentTopic)
                    }
                }
            }
        }
    }
}
