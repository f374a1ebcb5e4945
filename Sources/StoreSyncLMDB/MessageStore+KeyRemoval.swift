import CLMDB
import StoreSyncCore

/// Removing every key below a bound from an archive's index, at the cost of one pass over its
/// records rather than a page written per key.
///
/// Removed key by key, each key's record (keyed by hash, so anywhere in the `messages`
/// database) costs a page rewritten: millions of keys, gigabytes written. Here the trees and the
/// content-topic index lose the keys in time order (their pages hold neighbouring keys), and the
/// records go in one walk of the `messages` database in hash order, each page rewritten once.
/// A marker in `meta` names the bound from the first change to the last, so that a removal cut
/// off between the two steps is completed (`resumeKeyRemoval`) before the store is used again:
/// a record left without its key would make the index refuse that key as a duplicate.
extension MessageStore {
    static let keyRemovalMarker = Array("removing_keys_below".utf8)
    /// Records looked at per write transaction of the walk.
    static let recordWalkChunk = 1_000_000

    /// Removes every key with a timestamp below `bound` from every tree, the content-topic
    /// index and the records. For the index of another archive: every record below the bound
    /// goes, whether a tree held its key or not. Returns how many keys the trees held.
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
        let range = SyncKey(timestamp: 0)..<SyncKey(timestamp: bound)
        var removed = 0
        for topic in try pubsubTopics() {
            removed += try deleteMessages(in: range, pubsubTopic: topic, keepingRecords: true)
        }
        try removeRecords(below: bound, walkChunk: walkChunk)
        return removed
    }

    /// Completes a removal that was cut off: removes the records below its bound. Does
    /// nothing if none was.
    public func resumeKeyRemoval() throws {
        try resumeKeyRemoval(walkChunk: Self.recordWalkChunk)
    }

    func resumeKeyRemoval(walkChunk: Int) throws {
        let marker = try environment.read { txn in try txn.get(databases.meta, Self.keyRemovalMarker) }
        guard let marker else { return }
        guard marker.count == 8 else {
            throw StoreError.corruptRecord(what: "key removal marker", detail: "\(marker.count) bytes, not 8")
        }
        let bound = marker.reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        for topic in try pubsubTopics() {
            _ = try deleteMessages(
                in: SyncKey(timestamp: 0)..<SyncKey(timestamp: bound), pubsubTopic: topic, keepingRecords: true)
        }
        try removeRecords(below: bound, walkChunk: walkChunk)
    }

    /// Walks the records in hash order and deletes those below `bound`, `walkChunk` records a
    /// transaction; the last one clears the marker.
    private func removeRecords(below bound: UInt64, walkChunk: Int) throws {
        let walkChunk = max(1, walkChunk)
        var next: [UInt8]? = nil
        var done = false
        while !done {
            let start = next
            (next, done) = try environment.write { txn -> ([UInt8]?, Bool) in
                var cursor: OpaquePointer?
                try StoreError.check(mdb_cursor_open(txn.pointer, databases.messages, &cursor), "open cursor")
                guard let cursor else {
                    throw StoreError.lmdb(code: -1, operation: "open cursor", message: "no cursor")
                }
                defer { mdb_cursor_close(cursor) }
                var key = MDB_val()
                var value = MDB_val()
                var code: Int32
                if var start {
                    code = start.withUnsafeMutableBytes { bytes in
                        key = MDB_val(mv_size: bytes.count, mv_data: bytes.baseAddress)
                        return mdb_cursor_get(cursor, &key, &value, MDB_SET_RANGE)
                    }
                } else {
                    code = mdb_cursor_get(cursor, &key, &value, MDB_FIRST)
                }
                var looked = 0
                while code == 0, looked < walkChunk {
                    let raw = UnsafeRawBufferPointer(start: value.mv_data, count: value.mv_size)
                    if try Self.recordTimestamp(raw) < bound {
                        try StoreError.check(mdb_cursor_del(cursor, 0), "delete record")
                    }
                    looked += 1
                    code = mdb_cursor_get(cursor, &key, &value, MDB_NEXT)
                }
                if code == MDB_NOTFOUND {
                    _ = try txn.delete(databases.meta, Self.keyRemovalMarker)
                    return (nil, true)
                }
                try StoreError.check(code, "walk records")
                return (Array(UnsafeRawBufferPointer(start: key.mv_data, count: key.mv_size)), false)
            }
        }
    }

    /// The timestamp of a stored record, read without decoding the rest of an index record.
    static func recordTimestamp(_ raw: UnsafeRawBufferPointer) throws -> UInt64 {
        guard raw.first == StoredRecord.indexedFormat else { return try StoredRecord(raw).timestamp }
        guard raw.count >= 9 else {
            throw StoreError.corruptRecord(what: "index record", detail: "\(raw.count) bytes, no timestamp")
        }
        return raw[1..<9].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    }
}
