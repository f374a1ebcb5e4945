import StoreSyncCore

/// Removing every key below a bound from an archive's index, at the cost of one pass over its
/// records rather than a page written per key.
///
/// Removed key by key, each key's record (keyed by hash, so anywhere in the `messages`
/// database) costs a page rewritten: millions of keys, gigabytes written. Here the trees lose the
/// keys in time order (their pages hold neighbouring keys), and the records go in one walk of the
/// `messages` database in hash order, each page rewritten once. A marker in `meta` names the
/// bound from the first change to the last, so that a removal cut off between the two steps is
/// completed (`resumeKeyRemoval`) before the store is used again: a record left without its key
/// would make the index refuse that key as a duplicate.
extension MessageStore {
    static let keyRemovalMarker = Array("removing_keys_below".utf8)
    /// Records looked at per write transaction of the walk.
    static let recordWalkChunk = 1_000_000

    /// Removes every key with a timestamp below `bound` from every tree and the records. For the
    /// index of another archive: every record below the bound goes, whether a tree held its key
    /// or not. Returns how many keys the trees held.
    @discardableResult
    public func removeKeys(below bound: UInt64) throws -> Int {
        try removeKeys(below: bound, walkChunk: Self.recordWalkChunk)
    }

    /// As `removeKeys(below:)`, looking at `walkChunk` records per transaction of the walk.
    func removeKeys(below bound: UInt64, walkChunk: Int) throws -> Int {
        try resumeKeyRemoval(walkChunk: walkChunk)
        guard bound > 0 else { return 0 }
        try environment.write { txn in
            var value: [UInt8] = []
            value.appendBigEndian(bound)
            _ = try txn.put(databases.meta, Self.keyRemovalMarker, value)
        }
        return try completeKeyRemoval(below: bound, walkChunk: walkChunk)
    }

    /// Completes a removal that was cut off. Does nothing if none was.
    public func resumeKeyRemoval() throws {
        try resumeKeyRemoval(walkChunk: Self.recordWalkChunk)
    }

    func resumeKeyRemoval(walkChunk: Int) throws {
        let marker = try environment.read { txn in try txn.get(databases.meta, Self.keyRemovalMarker) }
        guard let marker else { return }
        guard marker.count == 8 else {
            throw StoreError.corruptRecord(what: "key removal marker", detail: "\(marker.count) bytes, not 8")
        }
        try completeKeyRemoval(below: marker.withUnsafeBytes { $0.loadBigEndianUInt64(at: 0) }, walkChunk: walkChunk)
    }

    /// The two steps of a removal whose marker is written: the keys leave the trees, their
    /// records stay; then the walk over the records, whose last transaction deletes the marker.
    /// Returns how many keys the trees held.
    @discardableResult
    private func completeKeyRemoval(below bound: UInt64, walkChunk: Int) throws -> Int {
        var removed = 0
        for topic in try pubsubTopics() {
            removed += try deleteMessages(
                in: SyncKey(timestamp: 0)..<SyncKey(timestamp: bound), pubsubTopic: topic, keepingRecords: true)
        }
        let walkChunk = max(1, walkChunk)
        var next: [UInt8]? = []
        while let start = next {
            next = try environment.write { txn -> [UInt8]? in
                var looked = 0
                var resume: [UInt8]?
                try txn.prune(databases.messages, from: start) { key, value in
                    guard looked < walkChunk else {
                        resume = Array(key)
                        return .stop
                    }
                    looked += 1
                    return try StoredRecord.timestamp(of: value) < bound ? .delete : .next
                }
                if resume == nil { try txn.delete(databases.meta, Self.keyRemovalMarker) }
                return resume
            }
        }
        return removed
    }
}
